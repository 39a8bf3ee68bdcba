"""PushDeployAccess: what CI needs to run `pulumi up` against one environment, and nothing more.

RFC 13 Part 1 gave CircleCI a way into the private GKE cluster with the `gcp_push_deploy` Terraform
module (a jump host in the public subnet, a utility box in the cluster subnet, a service-account
key).  This component is that access point as Pulumi code, in two modes:

* ``keyless`` (default): a Workload Identity pool and OIDC provider that trust CircleCI's job
  tokens of one organization and project only; CI exchanges ``$CIRCLE_OIDC_TOKEN`` for a short-lived
  token of a service account.  The cluster is reached on its DNS-based control-plane endpoint, which
  Google authorizes with IAM (``container.clusters.connect``), so there is no host to run and no
  long-lived key to leak.
* ``bastion`` (RFC-faithful): the jump host + utility box pair, OS Login only, SSH open only from the
  configured ranges, the utility box without a public address, and one key per service account
  that leaves this component only as a Pulumi secret.

Two service accounts, because pull requests run code from any branch: the *deployer* (Kubernetes
objects of the fleet, Artifact Registry writer on one repository) may only be impersonated by
pipelines of the deploy refs (master); the *previewer* (read-only, no Secrets) by any pipeline of
the project, for `pulumi preview` and the change report.

GKE has no per-cluster IAM policy, so the Kubernetes permissions are granted on the project, as
custom roles listing exactly the object kinds keep-cd manages (docs/access.md gives each and why).
Nothing here is primitive (owner/editor/viewer); the tests fail if one appears.

This component creates IAM: the identity that applies it needs IAM admin rights CI does not have.
An administrator applies it once (and after each change to the `access` section); CI's own runs see
it unchanged and need no rights over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

ACCESS_MODES = ("keyless", "bastion")
PRIMITIVE_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
CIRCLECI_ISSUER = "https://oidc.circleci.com/org/{org_id}"
ARTIFACT_WRITER = "roles/artifactregistry.writer"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
OS_LOGIN = "roles/compute.osLogin"

# Reaching the cluster at all: read its endpoint and CA (get-credentials) and pass the DNS endpoint's
# IAM check.
_CLUSTER_ACCESS = ("container.clusters.get", "container.clusters.connect")

# --- What CI may do in the cluster: one table, in Kubernetes' own terms (kind, API group, RBAC
# verbs), from which GKE's IAM permissions are derived here and RBAC Roles can be for a real API
# server (kubernetes_rules).  tests/test_cluster_permissions.py runs the program and fails on a kind
# it declares that this table does not cover.


@dataclass(frozen=True)
class KubeKind:
    api_group: str  # "" for the core group
    iam: str  # GKE IAM's resource (container.<iam>.<verb>); RBAC's resource is its lowercase


KINDS = {
    "Namespace": KubeKind("", "namespaces"),
    "ConfigMap": KubeKind("", "configMaps"),
    "Secret": KubeKind("", "secrets"),
    "PersistentVolumeClaim": KubeKind("", "persistentVolumeClaims"),
    "Service": KubeKind("", "services"),
    "Deployment": KubeKind("apps", "deployments"),
    "NetworkPolicy": KubeKind("networking.k8s.io", "networkPolicies"),
    "ReplicaSet": KubeKind("apps", "replicaSets"),
    "Pod": KubeKind("", "pods"),
    "Event": KubeKind("", "events"),
    "Endpoints": KubeKind("", "endpoints"),
    "StorageClass": KubeKind("storage.k8s.io", "storageClasses"),
}
# The kinds the program declares (components/keep_network.py, keep_client.py).
DECLARED_KINDS = ("Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service", "Deployment", "NetworkPolicy")
# `pulumi up`: server-side apply creates or PATCHes the object, a removed one is deleted, and the
# provider watches it while it awaits its creation or deletion (informers: list + watch).
APPLY_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
# What Pulumi's Kubernetes provider (v4, pkg/await) reads besides the object itself during `up`:
# a Deployment's ReplicaSets, Pods and PVCs, a Service's Endpoints, and every object's Events.
AWAIT_READS = {"Deployment": ("ReplicaSet", "Pod", "PersistentVolumeClaim"), "Service": ("Endpoints",)}
AWAIT_VERBS = ("get", "list", "watch")
# A claim is awaited until Bound, unless its StorageClass binds on first consumer (GKE's default
# standard-rwo): then Pending is ready.  The provider GETs the class to know; refused, it waits for
# Bound, the claim waits for its pod, the pod's Deployment waits for the claim, and the up fails
# after 5 minutes (seen on a real API server: tests/test_cluster.py).
CLASS_READS = {"PersistentVolumeClaim": ("StorageClass", ("get",))}
EVENT_VERBS = ("list", "watch")
# `pulumi preview` and refresh read the live object (a server-side dry run that is forbidden falls
# back to a client-side diff, so the previewer needs no write).
PREVIEW_VERBS = ("get", "list")
NEVER_DELETED = ("Namespace",)  # deleting it would delete everything in it
NEVER_PREVIEWED = ("Secret",)  # a pull request's pipeline never reads a Secret
# CI reaches the chain's RPC by `kubectl port-forward svc/<chain>`: it reads the Service and its
# Pods, then opens pods/portforward.
PORT_FORWARD = {"Service": ("get",), "Pod": ("get", "list"), "Pod/portforward": ("create",)}
# GKE names a subresource's permission on its own: (kind/subresource, RBAC verb) -> IAM permission.
IAM_SUBRESOURCES = {("Pod/portforward", "create"): "container.pods.portForward"}
# GKE's IAM has no patch: a PATCH is authorized as update.
IAM_VERBS = {"patch": "update"}


def _grant(access: dict, key: str, verbs) -> None:
    access[key] = tuple(sorted({*access.get(key, ()), *verbs}))


def deployer_access(kinds=DECLARED_KINDS) -> dict:
    """kind (or kind/subresource) -> RBAC verbs that `pulumi up` of ``kinds`` needs."""
    access: dict = {}
    for kind in kinds:
        _grant(access, kind, [v for v in APPLY_VERBS if not (v == "delete" and kind in NEVER_DELETED)])
        for read in AWAIT_READS.get(kind, ()):
            _grant(access, read, AWAIT_VERBS)
        if kind in CLASS_READS:
            _grant(access, *CLASS_READS[kind])
        _grant(access, "Event", EVENT_VERBS)
    for key, verbs in PORT_FORWARD.items():
        _grant(access, key, verbs)
    return access


def previewer_access(kinds=DECLARED_KINDS) -> dict:
    """kind (or kind/subresource) -> RBAC verbs that `pulumi preview` of ``kinds`` needs."""
    access: dict = {}
    for kind in kinds:
        if kind not in NEVER_PREVIEWED:
            _grant(access, kind, PREVIEW_VERBS)
    for key, verbs in PORT_FORWARD.items():
        _grant(access, key, verbs)
    return access


def iam_permissions(access: dict) -> tuple:
    """GKE IAM permissions for ``access`` (plus reaching the cluster)."""
    out = set(_CLUSTER_ACCESS)
    for key, verbs in access.items():
        for verb in verbs:
            if "/" in key:
                out.add(IAM_SUBRESOURCES[(key, verb)])
            else:
                out.add(f"container.{KINDS[key].iam}.{IAM_VERBS.get(verb, verb)}")
    return tuple(sorted(out))


def kubernetes_rules(access: dict) -> list:
    """The same ``access`` as RBAC PolicyRules (apiGroups, resources, verbs), for a Role."""
    rules = []
    for key, verbs in sorted(access.items()):
        kind, _, sub = key.partition("/")
        resource = KINDS[kind].iam.lower() + (f"/{sub}" if sub else "")
        rules.append({"apiGroups": [KINDS[kind].api_group], "resources": [resource], "verbs": list(verbs)})
    return rules


# No exec/attach, no RBAC, no cluster-scoped kinds but the namespace (never deleted).
DEPLOYER_ACCESS = deployer_access()
PREVIEWER_ACCESS = previewer_access()
DEPLOYER_PERMISSIONS = iam_permissions(DEPLOYER_ACCESS)
PREVIEWER_PERMISSIONS = iam_permissions(PREVIEWER_ACCESS)


@dataclass
class BastionArgs:
    source_ranges: Sequence[str]  # CIDRs allowed to SSH to the jump host
    network: str
    public_subnet: str
    cluster_subnet: str
    zone: str
    machine_type: str = "e2-micro"
    image: str = "debian-cloud/debian-12"


@dataclass
class PushDeployAccessArgs:
    project: str
    name_prefix: str  # 3-22 chars; service accounts, pool, roles and hosts are named after it
    registry_location: str
    registry_repository: str
    mode: str = "keyless"
    circleci_org_id: str | None = None
    circleci_project_id: str | None = None
    deploy_refs: Sequence[str] = ("refs/heads/master",)
    bastion: BastionArgs | None = None
    labels: dict = field(default_factory=lambda: {"managed-by": "keep-cd"})

    @classmethod
    def from_settings(cls, access) -> PushDeployAccessArgs:
        """From settings.AccessSettings, which has validated every value with its config key named."""
        b, ci = access.bastion, access.circleci
        bastion = None
        if b is not None:
            bastion = BastionArgs(
                source_ranges=tuple(b.source_ranges),
                network=b.network,
                public_subnet=b.public_subnet,
                cluster_subnet=b.cluster_subnet,
                zone=b.zone,
                machine_type=b.machine_type,
                image=b.image,
            )
        return cls(
            project=access.project,
            name_prefix=access.name_prefix,
            registry_location=access.registry_location,
            registry_repository=access.registry_repository,
            mode=access.mode,
            circleci_org_id=ci.org_id if ci else None,
            circleci_project_id=ci.project_id if ci else None,
            deploy_refs=tuple(ci.deploy_refs) if ci else (),
            bastion=bastion,
        )

    def check(self) -> None:
        """Program errors (config errors are caught earlier, in settings/, with the key named)."""
        if self.mode not in ACCESS_MODES:
            raise ValueError(f"PushDeployAccess: unknown mode {self.mode!r} (expected one of {', '.join(ACCESS_MODES)})")
        if self.mode == "keyless":
            self.circleci_ids()
        if self.mode == "bastion":
            self.bastion_args()

    def circleci_ids(self) -> tuple[str, str]:
        """(organization id, project id) that keyless mode trusts; ValueError if it lacks one."""
        if not (self.circleci_org_id and self.circleci_project_id and self.deploy_refs):
            raise ValueError("PushDeployAccess: keyless mode needs circleci_org_id, circleci_project_id and deploy_refs")
        return self.circleci_org_id, self.circleci_project_id

    def bastion_args(self) -> BastionArgs:
        """The hosts of bastion mode; ValueError if there are none or nobody may reach them."""
        if self.bastion is None or not self.bastion.source_ranges:
            raise ValueError("PushDeployAccess: bastion mode needs bastion args with non-empty source_ranges")
        return self.bastion


def attribute_condition(org_id: str, project_id: str) -> str:
    """CEL that admits only this organization's tokens (audience and subject) of this project."""
    return (
        f"assertion.aud == '{org_id}' "
        f"&& assertion.sub.startsWith('org/{org_id}/project/{project_id}/') "
        f"&& assertion['oidc.circleci.com/project-id'] == '{project_id}'"
    )


ATTRIBUTE_MAPPING = {
    "google.subject": "assertion.sub",
    "attribute.org_id": "assertion.aud",
    "attribute.project_id": "assertion['oidc.circleci.com/project-id']",
    "attribute.vcs_ref": "assertion['oidc.circleci.com/vcs-ref']",
}


def _sa_member(account) -> pulumi.Output:
    return account.email.apply(lambda email: f"serviceAccount:{email}")


class PushDeployAccess(pulumi.ComponentResource):
    deployer_email: pulumi.Output[str]
    previewer_email: pulumi.Output[str]
    workload_identity_provider: pulumi.Output[str] | None
    jump_host_address: pulumi.Output[str] | None
    utility_host_address: pulumi.Output[str] | None
    deployer_key: pulumi.Output[str] | None
    previewer_key: pulumi.Output[str] | None

    def __init__(self, name: str, args: PushDeployAccessArgs, opts: pulumi.ResourceOptions | None = None):
        args.check()  # before registering anything
        super().__init__("keep:gcp:PushDeployAccess", name, None, opts)
        # Imported here: the local stack never builds this component and need not load pulumi_gcp.
        import pulumi_gcp as gcp

        self._gcp = gcp
        self._args = args
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)

        self.deployer = self._service_account(
            "deployer", "deploy", "pulumi up from CI on the deploy refs: the fleet's Kubernetes objects, image pushes"
        )
        self.previewer = self._service_account(
            "previewer", "preview", "pulumi preview and the change report from any CI pipeline: read-only, no Secrets"
        )
        deployer_member = _sa_member(self.deployer)
        previewer_member = _sa_member(self.previewer)
        self._cluster_role("deployer", deployer_member, DEPLOYER_PERMISSIONS)
        self._cluster_role("previewer", previewer_member, PREVIEWER_PERMISSIONS)
        self._registry_writer(deployer_member)

        self.workload_identity_provider = None
        self.jump_host_address = self.utility_host_address = None
        self.deployer_key = self.previewer_key = None
        if args.mode == "keyless":
            self._keyless()
        else:
            self._bastion(deployer_member, previewer_member)

        self.deployer_email = self.deployer.email
        self.previewer_email = self.previewer.email
        self.register_outputs(
            {
                "deployer_email": self.deployer_email,
                "previewer_email": self.previewer_email,
                "workload_identity_provider": self.workload_identity_provider,
                "jump_host_address": self.jump_host_address,
                "utility_host_address": self.utility_host_address,
                "deployer_key": self.deployer_key,
                "previewer_key": self.previewer_key,
            }
        )

    def summary(self) -> dict:
        """What an administrator copies into the CircleCI contexts (docs/ci.md); nothing secret."""
        out = {
            "mode": self._args.mode,
            "project": self._args.project,
            "deployerServiceAccount": self.deployer_email,
            "previewerServiceAccount": self.previewer_email,
        }
        if self.workload_identity_provider is not None:
            out["workloadIdentityProvider"] = self.workload_identity_provider
        if self.jump_host_address is not None:
            out["jumpHost"] = self.jump_host_address
            out["utilityHost"] = self.utility_host_address
        return out

    def _service_account(self, who: str, account_suffix: str, description: str):
        return self._gcp.serviceaccount.Account(
            f"{self._name}-{who}",
            project=self._args.project,
            account_id=f"{self._args.name_prefix}-{account_suffix}",
            display_name=f"keep-cd CI {who}",
            description=description,
            opts=self._child,
        )

    def _cluster_role(self, who: str, member: pulumi.Output, permissions: tuple) -> None:
        """A custom role of exactly ``permissions``, granted to ``member`` on the project (GKE has
        no per-cluster IAM policy)."""
        gcp, args, name = self._gcp, self._args, self._name
        role = gcp.projects.IAMCustomRole(
            f"{name}-{who}-role",
            project=args.project,
            role_id=f"{args.name_prefix.replace('-', '_')}_{who}",
            title=f"keep-cd CI {who}",
            description=f"Kubernetes objects keep-cd's CI {who} needs (docs/access.md)",
            permissions=list(permissions),
            stage="GA",
            opts=self._child,
        )
        gcp.projects.IAMMember(f"{name}-{who}-cluster", project=args.project, role=role.name, member=member, opts=self._child)

    def _registry_writer(self, member: pulumi.Output) -> None:
        args = self._args
        self._gcp.artifactregistry.RepositoryIamMember(
            f"{self._name}-deployer-registry",
            project=args.project,
            location=args.registry_location,
            repository=args.registry_repository,
            role=ARTIFACT_WRITER,
            member=member,
            opts=self._child,
        )

    def _keyless(self) -> None:
        gcp, args, name, child = self._gcp, self._args, self._name, self._child
        org_id, project_id = args.circleci_ids()
        pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-pool",
            project=args.project,
            workload_identity_pool_id=f"{args.name_prefix}-circleci",
            display_name="CircleCI (keep-cd)",
            description=f"CircleCI jobs of organization {org_id}, project {project_id}",
            opts=child,
        )
        provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-oidc",
            project=args.project,
            workload_identity_pool_id=pool.workload_identity_pool_id,
            workload_identity_pool_provider_id="circleci",
            display_name="CircleCI OIDC",
            attribute_mapping=dict(ATTRIBUTE_MAPPING),
            attribute_condition=attribute_condition(org_id, project_id),
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(
                issuer_uri=CIRCLECI_ISSUER.format(org_id=org_id),
                # CircleCI's token audience is the organization id, not Google's default audience.
                allowed_audiences=[org_id],
            ),
            opts=child,
        )

        def principal_set(attribute: str, value: str) -> pulumi.Output:
            return pool.name.apply(lambda pool_name: f"principalSet://iam.googleapis.com/{pool_name}/attribute.{attribute}/{value}")

        # The deployer only for pipelines of the deploy refs: a pull request's pipeline cannot deploy,
        # even if it edits .circleci/config.yml.
        for i, ref in enumerate(args.deploy_refs):
            gcp.serviceaccount.IAMMember(
                f"{name}-deployer-wif-{i}",
                service_account_id=self.deployer.name,
                role=WORKLOAD_IDENTITY_USER,
                member=principal_set("vcs_ref", ref),
                opts=child,
            )
        gcp.serviceaccount.IAMMember(
            f"{name}-previewer-wif",
            service_account_id=self.previewer.name,
            role=WORKLOAD_IDENTITY_USER,
            member=principal_set("project_id", project_id),
            opts=child,
        )
        self.workload_identity_provider = provider.name

    def _bastion(self, deployer_member: pulumi.Output, previewer_member: pulumi.Output) -> None:
        b = self._args.bastion_args()
        prefix = self._args.name_prefix
        jump_tag, utility_tag = f"{prefix}-jump", f"{prefix}-utility"
        jump = self._bastion_host("jump", jump_tag, b.public_subnet, public=True)
        utility = self._bastion_host("utility", utility_tag, b.cluster_subnet, public=False)
        self._ssh_firewall("jump", jump_tag, source_ranges=list(b.source_ranges))
        self._ssh_firewall("utility", utility_tag, source_tags=[jump_tag])  # only from the jump host, never from an address range
        for who, member in (("deployer", deployer_member), ("previewer", previewer_member)):
            for role_name, instance in (("jump", jump), ("utility", utility)):
                self._os_login(who, member, role_name, instance)
        self.deployer_key, self.previewer_key = self._service_account_keys()
        self.jump_host_address = jump.network_interfaces[0].access_configs[0].nat_ip
        self.utility_host_address = utility.network_interfaces[0].network_ip

    def _bastion_host(self, role: str, tag: str, subnet: str, public: bool):
        """The jump host (``public``: it has an external address) or the utility box."""
        gcp, args = self._gcp, self._args
        b = args.bastion_args()
        # No service_account block: the hosts run with no Google identity at all; CI brings its
        # own credentials through the tunnel.  OS Login replaces metadata SSH keys.
        return gcp.compute.Instance(
            f"{self._name}-{role}",
            project=args.project,
            zone=b.zone,
            name=f"{args.name_prefix}-{role}",
            machine_type=b.machine_type,
            tags=[tag],
            labels=dict(args.labels),
            boot_disk=gcp.compute.InstanceBootDiskArgs(initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(image=b.image)),
            network_interfaces=[
                gcp.compute.InstanceNetworkInterfaceArgs(
                    subnetwork=subnet,
                    access_configs=[gcp.compute.InstanceNetworkInterfaceAccessConfigArgs()] if public else [],
                )
            ],
            metadata={"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE", "serial-port-enable": "FALSE"},
            shielded_instance_config=gcp.compute.InstanceShieldedInstanceConfigArgs(
                enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
            ),
            opts=self._child,
        )

    def _ssh_firewall(self, role: str, target_tag: str, **source) -> None:
        """SSH in to the hosts tagged ``target_tag``, from ``source`` only (source_ranges or source_tags), logged."""
        gcp, args = self._gcp, self._args
        gcp.compute.Firewall(
            f"{self._name}-ssh-{role}",
            project=args.project,
            name=f"{args.name_prefix}-ssh-{role}",
            network=args.bastion_args().network,
            direction="INGRESS",
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["22"])],
            target_tags=[target_tag],
            log_config=gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA"),
            opts=self._child,
            **source,
        )

    def _os_login(self, who: str, member: pulumi.Output, role_name: str, instance) -> None:
        self._gcp.compute.InstanceIAMMember(
            f"{self._name}-{who}-oslogin-{role_name}",
            project=self._args.project,
            zone=self._args.bastion_args().zone,
            instance_name=instance.name,
            role=OS_LOGIN,
            member=member,
            opts=self._child,
        )

    def _service_account_keys(self) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """(deployer key, previewer key): they leave this component only as Pulumi secrets."""
        gcp, name = self._gcp, self._name
        secret_key = pulumi.ResourceOptions(parent=self, additional_secret_outputs=["private_key"])
        deployer_key = gcp.serviceaccount.Key(f"{name}-deployer-key", service_account_id=self.deployer.name, opts=secret_key)
        previewer_key = gcp.serviceaccount.Key(f"{name}-previewer-key", service_account_id=self.previewer.name, opts=secret_key)
        return pulumi.Output.secret(deployer_key.private_key), pulumi.Output.secret(previewer_key.private_key)
