"""PushDeployAccess under pulumi mocks: the exact IAM it grants, the OIDC trust it sets up (its CEL
evaluated against CircleCI-shaped tokens), the bastion's firewall, and where key material goes."""

from __future__ import annotations

import base64
import json
import secrets
import types

import celpy
import pulumi
import pytest

from bench.offline.runner import CapturedResource
from components.push_deploy_access import BastionArgs, PushDeployAccess, PushDeployAccessArgs
from pulumi_mocks import Recorder, resolve, run_program

PROJECT = "keep-dev-1234"
PROJECT_NUMBER = "123456789012"
ORG = "0c9f3b1e-6a44-4f7d-9d7e-2f1c3a5b7d90"
CI_PROJECT = "4e1d2c3b-5a69-4b8c-8d7e-6f5a4b3c2d1e"
RANGES = ("198.51.100.0/24", "203.0.113.7/32")
POOL = f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/kcd-t-circleci"
DEPLOYER = f"serviceAccount:kcd-t-deploy@{PROJECT}.iam.gserviceaccount.com"
# Google's primitive roles, each far wider than CI needs (the component's own list is not the judge).
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
PREVIEWER = f"serviceAccount:kcd-t-preview@{PROJECT}.iam.gserviceaccount.com"


class GcpMocks(Recorder):
    """Echo inputs and add the outputs GCP computes (emails, resource names, addresses, keys)."""

    def __init__(self):
        super().__init__()
        self.key_material: list = []

    def computed(self, t: str, inputs: dict) -> dict:
        outputs: dict = {}
        if t == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{inputs['project']}.iam.gserviceaccount.com"
            outputs.update(email=email, name=f"projects/{inputs['project']}/serviceAccounts/{email}")
        elif t == "gcp:projects/iAMCustomRole:IAMCustomRole":
            outputs["name"] = f"projects/{inputs['project']}/roles/{inputs['roleId']}"
        elif t == "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
            outputs["name"] = f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/{inputs['workloadIdentityPoolId']}"
        elif t == "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
            outputs["name"] = f"{POOL}/providers/{inputs['workloadIdentityPoolProviderId']}"
        elif t == "gcp:serviceaccount/key:Key":
            # Made at run time, as GCP would: base64 of a key file whose private part is random.
            material = secrets.token_hex(32)
            self.key_material.append(material)
            outputs["privateKey"] = base64.b64encode(json.dumps({"type": "service_account", "private_key": material}).encode()).decode()
        elif t == "gcp:compute/instance:Instance":
            nics = []
            for i, nic in enumerate(inputs.get("networkInterfaces") or []):
                nic = dict(nic, networkIp=f"10.0.0.{i + 2}")
                nic["accessConfigs"] = [dict(ac, natIp="192.0.2.10") for ac in nic.get("accessConfigs") or []]
                nics.append(nic)
            outputs["networkInterfaces"] = nics
        return outputs


def build(args: PushDeployAccessArgs, parents: dict | None = None):
    """Build the component under the mocks; returns (mocks, its outputs: the summary and the keys,
    the set of those outputs that are secret).  ``parents``, if given, gets (type, name) -> parent
    of every resource registered under the component, and "urn" -> the component's URN."""

    def record_parent(a: pulumi.ResourceTransformationArgs):
        if parents is not None:
            parents[(a.type_, a.name)] = a.opts.parent
        return None

    def program():
        opts = pulumi.ResourceOptions(transformations=[record_parent])
        access = PushDeployAccess("access", args, opts)
        if parents is not None:
            parents["component"] = access
        exports = {"ciAccess": pulumi.Output.from_input(access.summary()), "urn": access.urn}
        if access.deployer_key is not None:
            exports.update(ciDeployerKey=access.deployer_key, ciPreviewerKey=access.previewer_key)
        done, outputs.values, outputs.secret = resolve(exports)
        return done

    outputs = types.SimpleNamespace()
    mocks = run_program(GcpMocks(), program)
    return mocks, outputs.values, outputs.secret


def keyless_args(**kw) -> PushDeployAccessArgs:
    return PushDeployAccessArgs(
        project=PROJECT,
        name_prefix="kcd-t",
        registry_location="us-central1",
        registry_repository="keep",
        circleci_org_id=ORG,
        circleci_project_id=CI_PROJECT,
        **kw,
    )


def bastion_args() -> PushDeployAccessArgs:
    return PushDeployAccessArgs(
        project=PROJECT,
        name_prefix="kcd-t",
        registry_location="us-central1",
        registry_repository="keep",
        mode="bastion",
        bastion=BastionArgs(source_ranges=RANGES, network="vpc", public_subnet="pub", cluster_subnet="gke", zone="us-central1-a"),
    )


def of_type(mocks, suffix: str) -> list:
    return [r for r in mocks.resources if r.type.endswith(suffix)]


def bindings(mocks) -> set:
    """Every IAM grant as (scope, role, member)."""
    out = set()
    for r in mocks.resources:
        i = r.inputs
        if r.type == "gcp:projects/iAMMember:IAMMember":
            out.add((f"project:{i['project']}", i["role"], i["member"]))
        elif r.type == "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember":
            out.add((f"repository:{i['project']}/{i['location']}/{i['repository']}", i["role"], i["member"]))
        elif r.type == "gcp:serviceaccount/iAMMember:IAMMember":
            out.add((f"serviceAccount:{i['serviceAccountId'].rsplit('/', 1)[-1]}", i["role"], i["member"]))
        elif r.type == "gcp:compute/instanceIAMMember:InstanceIAMMember":
            out.add((f"instance:{i['zone']}/{i['instanceName']}", i["role"], i["member"]))
        elif "iam" in r.type.lower() and "role" in i and r.type != "gcp:projects/iAMCustomRole:IAMCustomRole":
            raise AssertionError(f"unaccounted IAM resource {r.type}")
    return out


def primitive_roles(resources) -> list:
    """Every primitive role granted anywhere, however it is spelled into a resource's inputs."""
    found = []

    def walk(v, where):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{where}.{k}")
        elif isinstance(v, list):
            for x in v:
                walk(x, where)
        elif isinstance(v, str) and v in PRIMITIVE_ROLES:
            found.append(f"{where}={v}")

    for r in resources:
        walk(r.inputs, r.name)
    return found


def custom_role_permissions(mocks) -> dict:
    return {r.inputs["roleId"]: set(r.inputs["permissions"]) for r in of_type(mocks, "iAMCustomRole:IAMCustomRole")}


# --- keyless -------------------------------------------------------------------------------------


def test_keyless_grants_exactly_these_roles_to_exactly_these_members():
    mocks, outputs, _ = build(keyless_args())
    assert bindings(mocks) == {
        (f"project:{PROJECT}", f"projects/{PROJECT}/roles/kcd_t_deployer", DEPLOYER),
        (f"project:{PROJECT}", f"projects/{PROJECT}/roles/kcd_t_previewer", PREVIEWER),
        (f"repository:{PROJECT}/us-central1/keep", "roles/artifactregistry.writer", DEPLOYER),
        (
            f"serviceAccount:{DEPLOYER.split(':')[1]}",
            "roles/iam.workloadIdentityUser",
            f"principalSet://iam.googleapis.com/{POOL}/attribute.vcs_ref/refs/heads/master",
        ),
        (
            f"serviceAccount:{PREVIEWER.split(':')[1]}",
            "roles/iam.workloadIdentityUser",
            f"principalSet://iam.googleapis.com/{POOL}/attribute.project_id/{CI_PROJECT}",
        ),
    }
    assert primitive_roles(mocks.resources) == []
    assert outputs["ciAccess"]["workloadIdentityProvider"] == f"{POOL}/providers/circleci"
    assert outputs["ciAccess"]["deployerServiceAccount"] == DEPLOYER.split(":")[1]


def test_every_deploy_ref_gets_its_own_binding():
    mocks, *_ = build(keyless_args(deploy_refs=("refs/heads/master", "refs/tags/v1.0.0")))
    members = {r.inputs["member"] for r in of_type(mocks, "serviceaccount/iAMMember:IAMMember")}
    assert {m.rsplit("/attribute.", 1)[1] for m in members} == {
        "vcs_ref/refs/heads/master",
        "vcs_ref/refs/tags/v1.0.0",
        f"project_id/{CI_PROJECT}",
    }


def test_keyless_makes_no_key_and_no_host():
    mocks, outputs, _ = build(keyless_args())
    assert of_type(mocks, "serviceaccount/key:Key") == []
    assert of_type(mocks, "compute/instance:Instance") == [] and of_type(mocks, "compute/firewall:Firewall") == []
    assert "ciDeployerKey" not in outputs


def test_primitive_role_check_can_fail():
    fake = CapturedResource("gcp:projects/iAMMember:IAMMember", "x", {"role": "roles/editor", "member": DEPLOYER}, set(), {})
    assert primitive_roles([fake]) == ["x.role=roles/editor"]


def test_custom_roles_are_narrow():
    """Whatever else they hold (tests/test_access_wiring.py matches them to what the program
    declares), neither role reaches beyond GKE's namespaced objects."""
    mocks, *_ = build(keyless_args())
    roles = custom_role_permissions(mocks)
    assert set(roles) == {"kcd_t_deployer", "kcd_t_previewer"}
    for perms in roles.values():
        assert all(p.startswith("container.") for p in perms), perms  # GKE only: no IAM, no compute
        assert {"container.clusters.get", "container.clusters.connect", "container.pods.portForward"} <= perms
        forbidden = {p for p in perms if p.split(".")[1] in {"roles", "roleBindings", "clusterRoles", "clusterRoleBindings", "nodes"}}
        forbidden |= {p for p in perms if p.endswith((".exec", ".attach", ".proxy", ".impersonate", ".getCredentials"))}
        forbidden |= {p for p in perms if p.startswith(("container.clusters.", "container.namespaces.")) and p.endswith(".delete")}
        assert forbidden == set()
    previewer = roles["kcd_t_previewer"]
    assert not any(p.startswith("container.secrets.") for p in previewer)
    assert {p.rsplit(".", 1)[1] for p in previewer} <= {"get", "list", "connect", "portForward"}
    assert "container.secrets.update" in roles["kcd_t_deployer"] and "container.deployments.create" in roles["kcd_t_deployer"]


def _provider(mocks) -> dict:
    (provider,) = of_type(mocks, "workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    return provider.inputs


def _token(org=ORG, project=CI_PROJECT, ref="refs/heads/master", aud=None) -> dict:
    user = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    return {
        "iss": f"https://oidc.circleci.com/org/{org}",
        "aud": aud or org,
        "sub": f"org/{org}/project/{project}/user/{user}",
        "oidc.circleci.com/project-id": project,
        "oidc.circleci.com/vcs-ref": ref,
        "oidc.circleci.com/context-ids": [],
    }


def _cel(expression: str, claims: dict):
    env = celpy.Environment()
    return env.program(env.compile(expression)).evaluate({"assertion": celpy.json_to_cel(claims)})


def test_oidc_provider_trusts_this_organization_only():
    mocks, *_ = build(keyless_args())
    p = _provider(mocks)
    assert p["oidc"]["issuerUri"] == f"https://oidc.circleci.com/org/{ORG}"
    assert p["oidc"]["allowedAudiences"] == [ORG]
    condition = p["attributeCondition"]
    other_org = "11111111-2222-4333-8444-555555555555"
    assert bool(_cel(condition, _token())) is True
    assert bool(_cel(condition, _token(ref="refs/pull/7/head"))) is True  # previews from branches
    assert bool(_cel(condition, _token(org=other_org))) is False
    assert bool(_cel(condition, _token(aud=other_org))) is False
    assert bool(_cel(condition, _token(project="11111111-2222-4333-8444-666666666666"))) is False
    # A token of another org whose sub merely names ours further on does not pass either.
    forged = _token(org=other_org)
    forged["sub"] = f"org/{other_org}/project/{CI_PROJECT}/user/org/{ORG}/project/{CI_PROJECT}/"
    assert bool(_cel(condition, forged)) is False


def test_only_deploy_ref_pipelines_map_to_the_deployer_principal_set():
    mocks, *_ = build(keyless_args())
    mapping = _provider(mocks)["attributeMapping"]  # what the provider is given, evaluated as Google would
    deployer_members = {
        r.inputs["member"] for r in of_type(mocks, "serviceaccount/iAMMember:IAMMember") if "kcd-t-deploy@" in r.inputs["serviceAccountId"]
    }

    def principal(claims: dict, attribute: str) -> str:
        value = str(_cel(mapping[f"attribute.{attribute}"], claims))
        return f"principalSet://iam.googleapis.com/{POOL}/attribute.{attribute}/{value}"

    assert principal(_token(), "vcs_ref") in deployer_members
    assert principal(_token(ref="refs/heads/feature"), "vcs_ref") not in deployer_members
    assert principal(_token(ref="refs/pull/7/head"), "vcs_ref") not in deployer_members
    assert str(_cel(mapping["google.subject"], _token())).startswith(f"org/{ORG}/project/{CI_PROJECT}/")
    # Google limits google.subject to 127 bytes; CircleCI's v1 subject is exactly that long at most.
    assert len(str(_cel(mapping["google.subject"], _token()))) <= 127


@pytest.mark.parametrize("make_args", [keyless_args, bastion_args])
def test_component_type_and_every_resource_parented_to_it(make_args):
    parents: dict = {}
    mocks, outputs, _ = build(make_args(), parents)
    assert outputs["urn"].split("::")[2].split("$")[-1] == "keep:gcp:PushDeployAccess"
    component = parents.pop("component")
    assert parents.pop(("keep:gcp:PushDeployAccess", "access")) is None  # the transformations see the component too
    # Every GCP resource the mocks saw was registered under the component (a resource parented
    # elsewhere never reaches its transformations), and directly: its parent is the component.
    assert set(parents) == {(r.type, r.name) for r in mocks.resources if r.type.startswith("gcp:")}
    assert len(parents) > 0 and all(parent is component for parent in parents.values())


# --- bastion -------------------------------------------------------------------------------------


def test_bastion_firewall_sources_are_exactly_the_configured_ranges():
    mocks, *_ = build(bastion_args())
    rules = {r.inputs["name"]: r.inputs for r in of_type(mocks, "compute/firewall:Firewall")}
    assert set(rules) == {"kcd-t-ssh-jump", "kcd-t-ssh-utility"}
    jump, utility = rules["kcd-t-ssh-jump"], rules["kcd-t-ssh-utility"]
    assert jump["sourceRanges"] == list(RANGES)
    assert jump["targetTags"] == ["kcd-t-jump"] and jump["direction"] == "INGRESS"
    assert jump["allows"] == [{"protocol": "tcp", "ports": ["22"]}]
    # The utility box is reachable only from the jump host, by tag, never from an address range.
    assert "sourceRanges" not in utility or not utility["sourceRanges"]
    assert utility["sourceTags"] == ["kcd-t-jump"] and utility["targetTags"] == ["kcd-t-utility"]
    assert utility["allows"] == [{"protocol": "tcp", "ports": ["22"]}]


def test_bastion_hosts_use_os_login_and_only_the_jump_host_is_public():
    mocks, outputs, _ = build(bastion_args())
    hosts = {r.inputs["name"]: r.inputs for r in of_type(mocks, "compute/instance:Instance")}
    assert set(hosts) == {"kcd-t-jump", "kcd-t-utility"}
    for h in hosts.values():
        assert h["metadata"]["enable-oslogin"] == "TRUE" and h["metadata"]["block-project-ssh-keys"] == "TRUE"
        assert "serviceAccount" not in h  # no Google identity on the hosts
    assert hosts["kcd-t-jump"]["networkInterfaces"][0]["subnetwork"] == "pub"
    assert len(hosts["kcd-t-jump"]["networkInterfaces"][0]["accessConfigs"]) == 1
    assert hosts["kcd-t-utility"]["networkInterfaces"][0]["subnetwork"] == "gke"
    assert not hosts["kcd-t-utility"]["networkInterfaces"][0].get("accessConfigs")
    assert outputs["ciAccess"]["jumpHost"] == "192.0.2.10"
    assert outputs["ciAccess"]["utilityHost"] == "10.0.0.2"


def test_bastion_grants_exactly_these_roles():
    mocks, *_ = build(bastion_args())
    oslogin = {
        (f"instance:us-central1-a/kcd-t-{host}", "roles/compute.osLogin", member)
        for host in ("jump", "utility")
        for member in (DEPLOYER, PREVIEWER)
    }
    assert bindings(mocks) == oslogin | {
        (f"project:{PROJECT}", f"projects/{PROJECT}/roles/kcd_t_deployer", DEPLOYER),
        (f"project:{PROJECT}", f"projects/{PROJECT}/roles/kcd_t_previewer", PREVIEWER),
        (f"repository:{PROJECT}/us-central1/keep", "roles/artifactregistry.writer", DEPLOYER),
    }
    assert primitive_roles(mocks.resources) == []
    assert of_type(mocks, "workloadIdentityPool:WorkloadIdentityPool") == []


def test_bastion_keys_leave_only_as_secrets():
    mocks, outputs, secret = build(bastion_args())
    assert len(mocks.key_material) == 2
    assert {"ciDeployerKey", "ciPreviewerKey"} <= secret and "ciAccess" not in secret
    # What Pulumi would store in plain state or print without --show-secrets: no key material.
    plain = json.dumps({k: v for k, v in outputs.items() if k not in secret})
    for material in mocks.key_material:
        assert material not in plain
        assert material not in json.dumps(outputs["ciAccess"])
    # And the secret exports really are the keys (so the check above is not vacuous).
    decoded = json.loads(base64.b64decode(outputs["ciDeployerKey"]))
    assert decoded["private_key"] in mocks.key_material


# --- arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,message",
    [
        (lambda: keyless_args(mode="vpn"), "unknown mode 'vpn'"),
        (
            lambda: PushDeployAccessArgs(project=PROJECT, name_prefix="kcd-t", registry_location="r", registry_repository="k"),
            "keyless mode needs",
        ),
        (
            lambda: PushDeployAccessArgs(
                project=PROJECT, name_prefix="kcd-t", registry_location="r", registry_repository="k", mode="bastion"
            ),
            "bastion mode needs",
        ),
    ],
)
def test_program_errors(args, message):
    with pytest.raises(ValueError, match=message):
        args().check()
