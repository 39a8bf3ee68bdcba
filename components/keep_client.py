"""One keep-client on Kubernetes: ``keep:cluster:KeepClient``.

Children (all in the client's namespace, named after the client):
  ConfigMap ``<name>-config``        keep-client-config.toml, rendered from typed values
  Secret    ``<name>-eth-account``   the V3 keystore and its password (never in the ConfigMap)
  PVC       ``<name>-data``          config + data; one per client, never shared (Keep's own
                                     deployment gave clients identical identities by sharing one)
  Service   ``<name>``               libp2p port; its DNS name is what peers dial
  Deployment ``<name>``              1 replica, Recreate (the volume is ReadWriteOnce), two
                                     InitContainers: ``prepare-client`` (initcontainer/prepare_client.py)
                                     copies and checks config + keyfile and waits for contract code;
                                     then ``operator-check`` (provisioning: deploy) or
                                     ``provision-operator`` (provisioning: cluster) for its operator

The pod template carries ``checksum/config`` (config, keystore, contract addresses), so a client
rolls when, and only when, its own inputs change.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from .client_config import ClientConfig, render

ROLES = ("bootstrap", "standard")
DEFAULT_PORT = 3919

# Where things live inside the pod.
VOLUME_ROOT = "/mnt/keep-client"
CONFIG_DIR = f"{VOLUME_ROOT}/config"
CONFIG_FILE = "keep-client-config.toml"
CONFIG_PATH = f"{CONFIG_DIR}/{CONFIG_FILE}"
KEY_FILE = "eth_account_keyfile"
KEY_FILE_PATH = f"{CONFIG_DIR}/{KEY_FILE}"
DATA_DIR = f"{VOLUME_ROOT}/data"
CONFIGMAP_MOUNT = "/etc/keep-client/configmap"
SECRET_MOUNT = "/etc/keep-client/secret"
PASSWORD_KEY = "eth_account_password"
PASSWORD_ENV = "KEEP_ETHEREUM_PASSWORD"  # where keep-client reads the keyfile password from
INIT_PROGRAM = "/app/prepare_client.py"
# The operator steps run as modules of the InitContainer image's /app (initcontainer/Dockerfile).
INIT_WORKDIR = "/app"
OPERATOR_CHECK_MODULE = "initcontainer.operator_check"
PROVISION_OPERATOR_MODULE = "initcontainer.provision_operator"
FAUCET_MOUNT = "/etc/keep-client/faucet"
FAUCET_KEY = "faucet_key"  # the key of the namespace's faucet Secret
PROVISIONING_MODES = ("deploy", "cluster")
# A fixed unprivileged uid/gid for both containers; fsGroup makes the volume writable for it.
RUN_AS = 10001

# What the API server accepts as a label value (at most 63 characters besides).
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True)
class ImageRef:
    """A container image pinned by tag or by digest (a digest wins when both are given)."""

    repository: str
    tag: Optional[str] = None
    digest: Optional[str] = None

    @property
    def ref(self) -> str:
        return f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"

    @property
    def version_label(self) -> str:
        """``app.kubernetes.io/version``: the tag, or the digest's first 12 hex digits."""
        if self.digest:
            return self.digest.replace(":", "-")[:19]
        tag = (self.tag or "")[:63]
        return tag if LABEL_VALUE.match(tag) else "unknown"


@dataclass(frozen=True)
class ChainEndpoints:
    """How clients inside the cluster reach the chain (not the deployer's rpcUrl)."""

    url: str  # ws(s)://
    url_rpc: str  # http(s)://
    chain_id: int


@dataclass(frozen=True)
class ComputeResources:
    requests: Mapping[str, str]
    limits: Mapping[str, str]


@dataclass(frozen=True)
class StorageSpec:
    size: str = "1Gi"
    storage_class: Optional[str] = None


@dataclass(frozen=True)
class KeelSpec:
    """Keel annotations (RFC 13's image roll-out); optional per stack."""

    policy: str = "all"
    trigger: str = "poll"
    poll_schedule: Optional[str] = None


@dataclass(frozen=True)
class ClientIdentity:
    """What a client's Ethereum identity is made of; the operators step plugs its keys in here."""

    address: pulumi.Input[str]  # checksummed 0x address
    public_key: pulumi.Input[str]  # compressed secp256k1, hex: gives the libp2p peer id
    keyfile_json: pulumi.Input[str]  # V3 keystore (secret)
    keyfile_password: pulumi.Input[str]  # its password (secret)


@dataclass(frozen=True)
class OperatorStep:
    """The InitContainer step after ``prepare-client``: what the pod does about its operator.

    ``deploy`` (default): ``operator-check`` only reads the chain (staked, authorized, initialized;
    exit 3 = not yet, the pod retries), since the deploy step stakes.  ``cluster``:
    ``provision-operator`` funds and stakes the operator from the namespace's faucet key (a Secret
    mounted into that container only), authorizes from the operator's own key, then checks the same.
    """

    provisioning: str = "deploy"
    # cluster only:
    faucet_secret: Optional[str] = None  # name of the namespace's faucet Secret (key FAUCET_KEY)
    token_address: pulumi.Input[Optional[str]] = None  # KeepToken: the client config does not carry it
    eth_threshold: Optional[int] = None  # wei: fund an operator below this...
    eth_target: Optional[int] = None  # ...up to this
    stake_amount: Optional[int] = None  # KEEP base units; None: TokenStaking.minimumStake()
    beneficiary: pulumi.Input[Optional[str]] = None  # None: the operator itself


@dataclass
class KeepClientArgs:
    namespace: str
    role: str  # bootstrap | standard
    image: ImageRef
    init_image: ImageRef
    chain: ChainEndpoints
    identity: ClientIdentity
    contract_addresses: pulumi.Input[Mapping[str, str]]  # keep-client config key -> address
    resources: ComputeResources
    init_resources: ComputeResources
    peers: pulumi.Input[Sequence[str]] = ()  # bootstrap multiaddrs (standard clients)
    port: int = DEFAULT_PORT
    storage: StorageSpec = field(default_factory=StorageSpec)
    keel: Optional[KeelSpec] = None
    part_of: str = "keep-network"
    operator_step: OperatorStep = field(default_factory=OperatorStep)
    # Resources this client's Deployment waits for (standard peers: the bootstrap Deployments,
    # which the Kubernetes provider reports only once ready).
    start_after: Sequence[pulumi.Resource] = ()
    # Resources every child waits for (the Namespace, when the stack creates it).
    depends_on: Sequence[pulumi.Resource] = ()


def sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def config_checksum(config_toml: str, keyfile_json: str, contract_addresses: Mapping[str, str]) -> str:
    """What ``checksum/config`` holds: a client rolls when its config, key or contracts change.
    (The password is covered by the keystore, which is re-encrypted whenever it changes.)"""
    return sha256_json({"config": config_toml, "keyfile": keyfile_json, "contracts": dict(contract_addresses)})


def operator_step_container(step: OperatorStep, client: str, image: str, security: dict, resources: dict) -> tuple:
    """(the InitContainer that runs ``step`` after prepare-client, the extra pod volumes it needs).

    It reads the config and keyfile prepare-client wrote to the volume (mounted read-only), which are
    the files keep-client itself will use.  Only in cluster mode does it see a key: the operator's
    keyfile password (env, as keep-client reads it) and the faucet key (a file from the namespace's
    faucet Secret, mounted into this container alone)."""
    env = [{"name": "KEEP_CLIENT_CONFIG", "value": CONFIG_PATH}]
    mounts = [{"name": "data", "mount_path": VOLUME_ROOT, "read_only": True}, {"name": "tmp", "mount_path": "/tmp"}]
    volumes = []
    if step.provisioning == "deploy":
        container_name, module = "operator-check", OPERATOR_CHECK_MODULE
    else:
        container_name, module = "provision-operator", PROVISION_OPERATOR_MODULE
        env += [
            {"name": "KEEP_CLIENT_KEYFILE", "value": KEY_FILE_PATH},
            {"name": PASSWORD_ENV, "value_from": {"secret_key_ref": {"name": f"{client}-eth-account", "key": PASSWORD_KEY}}},
            {"name": "KEEP_CD_FAUCET_KEY_FILE", "value": f"{FAUCET_MOUNT}/{FAUCET_KEY}"},
            {"name": "KEEP_CD_TOKEN_ADDRESS", "value": step.token_address},
            {"name": "KEEP_CD_ETH_THRESHOLD", "value": str(step.eth_threshold)},
            {"name": "KEEP_CD_ETH_TARGET", "value": str(step.eth_target)},
            {"name": "KEEP_CD_STAKE_AMOUNT", "value": "minimum" if step.stake_amount is None else str(step.stake_amount)},
        ]
        if step.beneficiary is not None:
            env.append({"name": "KEEP_CD_BENEFICIARY", "value": step.beneficiary})
        mounts.append({"name": "faucet", "mount_path": FAUCET_MOUNT, "read_only": True})
        volumes.append(
            {
                "name": "faucet",
                "secret": {
                    "secret_name": step.faucet_secret,
                    "items": [{"key": FAUCET_KEY, "path": FAUCET_KEY}],
                    "default_mode": 0o440,  # group-readable: the pod runs with fsGroup, not as the file owner
                },
            }
        )
    container = {
        "name": container_name,
        "image": image,
        "image_pull_policy": "Always",
        "command": ["python3", "-m", module],
        "working_dir": INIT_WORKDIR,
        "env": env,
        "security_context": security,
        "resources": resources,
        "volume_mounts": mounts,
    }
    return container, volumes


def service_host(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.cluster.local"


class KeepClient(pulumi.ComponentResource):
    """One keep-client: config, key, volume, Service and Deployment."""

    config_toml: pulumi.Output[str]
    checksum: pulumi.Output[str]

    def __init__(self, name: str, args: KeepClientArgs, opts: Optional[pulumi.ResourceOptions] = None):
        if args.role not in ROLES:
            raise ValueError(f"keep-client {name}: role {args.role!r} is not one of {', '.join(ROLES)}")
        step = args.operator_step
        if step.provisioning not in PROVISIONING_MODES:
            raise ValueError(f"keep-client {name}: provisioning {step.provisioning!r} is not one of {', '.join(PROVISIONING_MODES)}")
        if step.provisioning == "cluster" and not (step.faucet_secret and step.eth_threshold and step.eth_target):
            raise ValueError(f"keep-client {name}: provisioning cluster needs the faucet Secret and the ETH threshold and target")
        super().__init__("keep:cluster:KeepClient", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        ns = args.namespace
        self.host = service_host(name, ns)
        self.port = args.port
        labels = {
            "app.kubernetes.io/name": "keep-client",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": args.role,
            "app.kubernetes.io/part-of": args.part_of,
            "app.kubernetes.io/version": args.image.version_label,
            "app.kubernetes.io/managed-by": "keep-cd",
        }
        # The selector is immutable: only what never changes for this client.
        selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}

        def meta(obj_name: str, **extra) -> dict:
            return {"name": obj_name, "namespace": ns, "labels": labels, **extra}

        contracts = pulumi.Output.from_input(args.contract_addresses)
        self.config_toml = pulumi.Output.all(
            pulumi.Output.from_input(args.identity.address), contracts, pulumi.Output.from_input(args.peers)
        ).apply(
            lambda v: render(
                ClientConfig(
                    url=args.chain.url,
                    url_rpc=args.chain.url_rpc,
                    address=v[0],
                    key_file=KEY_FILE_PATH,
                    contract_addresses=v[1],
                    port=args.port,
                    data_dir=DATA_DIR,
                    peers=tuple(v[2] or ()),
                    announced_addresses=(f"/dns4/{self.host}/tcp/{args.port}",),
                )
            )
        )
        keyfile = pulumi.Output.secret(args.identity.keyfile_json)
        # A hash of the (encrypted) keystore and of public values: safe to show, so not secret.
        self.checksum = pulumi.Output.unsecret(
            pulumi.Output.all(self.config_toml, keyfile, contracts).apply(lambda v: config_checksum(*v))
        )
        contracts_hash = contracts.apply(lambda c: sha256_json(dict(c)))

        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=meta(f"{name}-config"),
            data={CONFIG_FILE: self.config_toml},
            opts=child,
        )
        secret = k8s.core.v1.Secret(
            f"{name}-eth-account",
            metadata=meta(f"{name}-eth-account"),
            type="Opaque",
            string_data={
                KEY_FILE: keyfile,
                PASSWORD_KEY: pulumi.Output.secret(args.identity.keyfile_password),
            },
            opts=child,
        )
        pvc_spec = {
            "access_modes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": args.storage.size}},
        }
        if args.storage.storage_class:
            pvc_spec["storage_class_name"] = args.storage.storage_class
        volume = k8s.core.v1.PersistentVolumeClaim(f"{name}-data", metadata=meta(f"{name}-data"), spec=pvc_spec, opts=child)
        service = k8s.core.v1.Service(
            name,
            metadata=meta(name),
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "libp2p", "port": args.port, "target_port": "libp2p", "protocol": "TCP"}],
            },
            opts=child,
        )

        container_security = {
            "allow_privilege_escalation": False,
            "privileged": False,
            "read_only_root_filesystem": True,
            "run_as_non_root": True,
            "run_as_user": RUN_AS,
            "run_as_group": RUN_AS,
            "capabilities": {"drop": ["ALL"]},
            "seccomp_profile": {"type": "RuntimeDefault"},
        }
        init = {
            "name": "prepare-client",
            "image": args.init_image.ref,
            "image_pull_policy": "Always",
            "command": [
                "python3",
                INIT_PROGRAM,
                "--config-source",
                f"{CONFIGMAP_MOUNT}/{CONFIG_FILE}",
                "--keyfile-source",
                f"{SECRET_MOUNT}/{KEY_FILE}",
                "--config-dir",
                CONFIG_DIR,
                "--chain-id",
                str(args.chain.chain_id),
            ],
            "security_context": container_security,
            "resources": {"requests": dict(args.init_resources.requests), "limits": dict(args.init_resources.limits)},
            "volume_mounts": [
                {"name": "config-source", "mount_path": CONFIGMAP_MOUNT, "read_only": True},
                {"name": "secret-source", "mount_path": SECRET_MOUNT, "read_only": True},
                {"name": "data", "mount_path": VOLUME_ROOT},
                {"name": "tmp", "mount_path": "/tmp"},
            ],
        }
        operator_container, operator_volumes = operator_step_container(
            args.operator_step, name, args.init_image.ref, container_security, init["resources"]
        )
        # keep-client exposes no HTTP health endpoint in 1.x; its libp2p listener accepting TCP is
        # the one thing that tells it started and is serving peers, so both probes use it.
        tcp_probe = {"tcp_socket": {"port": "libp2p"}}
        client = {
            "name": "keep-client",
            "image": args.image.ref,
            "image_pull_policy": "Always",
            "command": ["keep-client"],
            "args": ["-config", CONFIG_PATH, "start"],
            "ports": [{"name": "libp2p", "container_port": args.port, "protocol": "TCP"}],
            "env": [
                {
                    "name": PASSWORD_ENV,
                    "value_from": {"secret_key_ref": {"name": f"{name}-eth-account", "key": PASSWORD_KEY}},
                }
            ],
            "security_context": container_security,
            "resources": {"requests": dict(args.resources.requests), "limits": dict(args.resources.limits)},
            "readiness_probe": {**tcp_probe, "initial_delay_seconds": 10, "period_seconds": 10},
            "liveness_probe": {**tcp_probe, "initial_delay_seconds": 60, "period_seconds": 30, "failure_threshold": 5},
            "volume_mounts": [{"name": "data", "mount_path": VOLUME_ROOT}, {"name": "tmp", "mount_path": "/tmp"}],
        }
        deploy_annotations = {
            # checkov reads this: keep-client 1.x takes the keyfile password only from this env var.
            # (provision-operator, in cluster mode, reads it the same way, from the same Secret key.)
            "checkov.io/skip1": f"CKV_K8S_35=keep-client reads its keyfile password only from env {PASSWORD_ENV}",
        }
        if args.keel:
            deploy_annotations.update({"keel.sh/policy": args.keel.policy, "keel.sh/trigger": args.keel.trigger})
            if args.keel.poll_schedule:
                deploy_annotations["keel.sh/pollSchedule"] = args.keel.poll_schedule
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=meta(name, annotations=deploy_annotations),
            spec={
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "revision_history_limit": 3,
                "selector": {"match_labels": selector},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {
                            "checksum/config": self.checksum,
                            "keep-cd/image": args.image.ref,
                            "keep-cd/contracts-hash": contracts_hash,
                        },
                    },
                    "spec": {
                        "automount_service_account_token": False,
                        "enable_service_links": False,
                        "security_context": {
                            "run_as_non_root": True,
                            "run_as_user": RUN_AS,
                            "run_as_group": RUN_AS,
                            "fs_group": RUN_AS,
                            "seccomp_profile": {"type": "RuntimeDefault"},
                        },
                        # In order: the second runs once the first has put config and keyfile on the volume.
                        "init_containers": [init, operator_container],
                        "containers": [client],
                        "volumes": [
                            {"name": "data", "persistent_volume_claim": {"claim_name": f"{name}-data"}},
                            {"name": "config-source", "config_map": {"name": f"{name}-config"}},
                            {
                                "name": "secret-source",
                                # Only the keystore: the password reaches keep-client by env only.
                                "secret": {
                                    "secret_name": f"{name}-eth-account",
                                    "items": [{"key": KEY_FILE, "path": KEY_FILE}],
                                    "default_mode": 0o440,  # group-readable: the pod runs with fsGroup, not as the file owner
                                },
                            },
                            {"name": "tmp", "empty_dir": {"size_limit": "16Mi"}},
                            *operator_volumes,
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, config_map, secret, volume, service, *args.start_after]),
        )
        self.register_outputs(
            {"host": self.host, "address": args.identity.address, "checksum": self.checksum, "configToml": self.config_toml}
        )
