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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from operators.provider import PROVISIONING_MODES

from .client_config import ClientConfig, render

ROLES = ("bootstrap", "standard")
DEFAULT_PORT = 3919
# keep-client's own HTTP endpoints ([Metrics] and [Diagnostics] in its config), on ports of their own.
DEFAULT_METRICS_PORT = 9601
DEFAULT_DIAGNOSTICS_PORT = 9701

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
# The operator init containers run as modules of the InitContainer image's /app (initcontainer/Dockerfile).
INIT_WORKDIR = "/app"
OPERATOR_CHECK_MODULE = "initcontainer.operator_check"
PROVISION_OPERATOR_MODULE = "initcontainer.provision_operator"
FAUCET_MOUNT = "/etc/keep-client/faucet"
FAUCET_KEY = "faucet_key"  # the key of the namespace's faucet Secret
# A fixed unprivileged uid/gid for both containers; fsGroup makes the volume writable for it.
RUN_AS = 10001

# What the API server accepts as a label value (at most 63 characters besides).
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True)
class ImageRef:
    """A container image pinned by tag or by digest (a digest wins when both are given)."""

    repository: str
    tag: str | None = None
    digest: str | None = None

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
    storage_class: str | None = None


@dataclass(frozen=True)
class ClientPorts:
    """Where one client listens: libp2p for peers, /metrics and /diagnostics for observers.  In a
    cluster every pod has its own address; clients sharing one host need ports of their own."""

    libp2p: int = DEFAULT_PORT
    metrics: int = DEFAULT_METRICS_PORT
    diagnostics: int = DEFAULT_DIAGNOSTICS_PORT


@dataclass(frozen=True)
class MetricsTicks:
    """Seconds between the client's observations of its network and its chain connection (the
    client's defaults: 60 and 600)."""

    network: int = 60
    ethereum: int = 600


@dataclass(frozen=True)
class KeelSpec:
    """Keel annotations (RFC 13's image roll-out); optional per stack."""

    policy: str = "all"
    trigger: str = "poll"
    poll_schedule: str | None = None


@dataclass(frozen=True)
class ClientIdentity:
    """What a client's Ethereum identity is made of; the operators step plugs its keys in here."""

    address: pulumi.Input[str]  # checksummed 0x address
    public_key: pulumi.Input[str]  # compressed secp256k1, hex: gives the libp2p peer id
    keyfile_json: pulumi.Input[str]  # V3 keystore (secret)
    keyfile_password: pulumi.Input[str]  # its password (secret)


@dataclass(frozen=True)
class OperatorInit:
    """The init container after ``prepare-client``: what the pod does about its operator.

    ``deploy`` (default): ``operator-check`` only reads the chain (staked, authorized, initialized;
    exit 3 = not yet, the pod retries), since the deploy step stakes.  ``cluster``:
    ``provision-operator`` funds and stakes the operator from the namespace's faucet key (a Secret
    mounted into that container only), authorizes from the operator's own key, then checks the same.
    """

    provisioning: str = "deploy"
    # cluster only:
    faucet_secret: str | None = None  # name of the namespace's faucet Secret (key FAUCET_KEY)
    token_address: pulumi.Input[str | None] = None  # KeepToken: the client config does not carry it
    eth_threshold: int | None = None  # wei: fund an operator below this...
    eth_target: int | None = None  # ...up to this
    stake_amount: int | None = None  # KEEP base units; None: TokenStaking.minimumStake()
    beneficiary: pulumi.Input[str | None] = None  # None: the operator itself


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
    ports: ClientPorts = field(default_factory=ClientPorts)
    metrics_ticks: MetricsTicks = field(default_factory=MetricsTicks)
    storage: StorageSpec = field(default_factory=StorageSpec)
    keel: KeelSpec | None = None
    part_of: str = "keep-network"
    operator_init: OperatorInit = field(default_factory=OperatorInit)
    # Resources this client's Deployment waits for (standard peers: the bootstrap Deployments,
    # which the Kubernetes provider reports only once ready).
    start_after: Sequence[pulumi.Resource] = ()
    # Resources every child waits for (the Namespace, when the stack creates it).
    depends_on: Sequence[pulumi.Resource] = ()


def sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def config_checksum(config_toml: str, keyfile_json: str, contract_addresses: Mapping[str, str]) -> str:
    """What ``checksum/config`` holds: a client rolls when its config, key or contracts change.
    (The password is covered by the keystore, which is re-encrypted whenever it changes.)"""
    return sha256_json({"config": config_toml, "keyfile": keyfile_json, "contracts": dict(contract_addresses)})


def service_host(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.cluster.local"


def validate_client_args(name: str, args: KeepClientArgs) -> None:
    """A ValueError naming the client and the value at fault, before any object is registered."""
    if args.role not in ROLES:
        raise ValueError(f"keep-client {name}: role {args.role!r} is not one of {', '.join(ROLES)}")
    init = args.operator_init
    if init.provisioning not in PROVISIONING_MODES:
        raise ValueError(f"keep-client {name}: provisioning {init.provisioning!r} is not one of {', '.join(PROVISIONING_MODES)}")
    if init.provisioning == "cluster" and not (init.faucet_secret and init.eth_threshold and init.eth_target):
        raise ValueError(f"keep-client {name}: provisioning cluster needs the faucet Secret and the ETH threshold and target")


def client_labels(name: str, role: str, part_of: str, image: ImageRef) -> dict[str, str]:
    """The labels every object of one client carries."""
    return {
        "app.kubernetes.io/name": "keep-client",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/part-of": part_of,
        "app.kubernetes.io/version": image.version_label,
        "app.kubernetes.io/managed-by": "keep-cd",
    }


def selector_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The selector is immutable: only what never changes for this client."""
    return {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}


def object_metadata(name: str, namespace: str, labels: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels, **extra}


def client_config(
    args: KeepClientArgs, host: str, address: str, contract_addresses: Mapping[str, str], peers: Sequence[str] | None
) -> ClientConfig:
    """The typed values of one client's keep-client-config.toml, once its address, contracts and
    peers are known."""
    return ClientConfig(
        url=args.chain.url,
        url_rpc=args.chain.url_rpc,
        address=address,
        key_file=KEY_FILE_PATH,
        contract_addresses=contract_addresses,
        port=args.ports.libp2p,
        metrics_port=args.ports.metrics,
        diagnostics_port=args.ports.diagnostics,
        network_metrics_tick=args.metrics_ticks.network,
        ethereum_metrics_tick=args.metrics_ticks.ethereum,
        data_dir=DATA_DIR,
        peers=tuple(peers or ()),
        announced_addresses=(f"/dns4/{host}/tcp/{args.ports.libp2p}",),
    )


def config_map_manifest(name: str, namespace: str, labels: Mapping[str, str], config_toml: pulumi.Input[str]) -> dict[str, Any]:
    """``<name>-config``: keep-client-config.toml (public values only)."""
    return {"metadata": object_metadata(f"{name}-config", namespace, labels), "data": {CONFIG_FILE: config_toml}}


def secret_manifest(
    name: str, namespace: str, labels: Mapping[str, str], keyfile_json: pulumi.Input[str], keyfile_password: pulumi.Input[str]
) -> dict[str, Any]:
    """``<name>-eth-account``: the V3 keystore and its password."""
    return {
        "metadata": object_metadata(f"{name}-eth-account", namespace, labels),
        "type": "Opaque",
        "string_data": {KEY_FILE: keyfile_json, PASSWORD_KEY: keyfile_password},
    }


def volume_claim_manifest(name: str, namespace: str, labels: Mapping[str, str], storage: StorageSpec) -> dict[str, Any]:
    """``<name>-data``: the client's own volume (config + data), ReadWriteOnce."""
    spec: dict[str, Any] = {
        "access_modes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class:
        spec["storage_class_name"] = storage.storage_class
    return {"metadata": object_metadata(f"{name}-data", namespace, labels), "spec": spec}


def service_manifest(name: str, namespace: str, labels: Mapping[str, str], port: int) -> dict[str, Any]:
    """``<name>``: the libp2p port under the DNS name peers dial."""
    return {
        "metadata": object_metadata(name, namespace, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(labels),
            "ports": [{"name": "libp2p", "port": port, "target_port": "libp2p", "protocol": "TCP"}],
        },
    }


def container_security_context() -> dict[str, Any]:
    """Every container of the pod: non-root, read-only root filesystem, no privilege escalation."""
    return {
        "allow_privilege_escalation": False,
        "privileged": False,
        "read_only_root_filesystem": True,
        "run_as_non_root": True,
        "run_as_user": RUN_AS,
        "run_as_group": RUN_AS,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def resource_requirements(resources: ComputeResources) -> dict[str, dict[str, str]]:
    return {"requests": dict(resources.requests), "limits": dict(resources.limits)}


def prepare_client_container(image: str, chain_id: int, resources: ComputeResources) -> dict[str, Any]:
    """``prepare-client``: copies and checks config + keyfile onto the volume, waits for contract code."""
    return {
        "name": "prepare-client",
        "image": image,
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
            str(chain_id),
        ],
        "security_context": container_security_context(),
        "resources": resource_requirements(resources),
        "volume_mounts": [
            {"name": "config-source", "mount_path": CONFIGMAP_MOUNT, "read_only": True},
            {"name": "secret-source", "mount_path": SECRET_MOUNT, "read_only": True},
            {"name": "data", "mount_path": VOLUME_ROOT},
            {"name": "tmp", "mount_path": "/tmp"},
        ],
    }


def provision_operator_env(init: OperatorInit, client: str) -> list[dict[str, Any]]:
    """What ``provision-operator`` needs besides the config: the operator's keyfile and its
    password (env, as keep-client reads it), the faucet key file, and the provisioning amounts."""
    env: list[dict[str, Any]] = [
        {"name": "KEEP_CLIENT_KEYFILE", "value": KEY_FILE_PATH},
        {"name": PASSWORD_ENV, "value_from": {"secret_key_ref": {"name": f"{client}-eth-account", "key": PASSWORD_KEY}}},
        {"name": "KEEP_CD_FAUCET_KEY_FILE", "value": f"{FAUCET_MOUNT}/{FAUCET_KEY}"},
        {"name": "KEEP_CD_TOKEN_ADDRESS", "value": init.token_address},
        {"name": "KEEP_CD_ETH_THRESHOLD", "value": str(init.eth_threshold)},
        {"name": "KEEP_CD_ETH_TARGET", "value": str(init.eth_target)},
        {"name": "KEEP_CD_STAKE_AMOUNT", "value": "minimum" if init.stake_amount is None else str(init.stake_amount)},
    ]
    if init.beneficiary is not None:
        env.append({"name": "KEEP_CD_BENEFICIARY", "value": init.beneficiary})
    return env


def operator_init_container(init: OperatorInit, client: str, image: str, resources: ComputeResources) -> dict[str, Any]:
    """The init container that runs after prepare-client: ``operator-check`` (deploy) or
    ``provision-operator`` (cluster).

    It reads the config and keyfile prepare-client wrote to the volume (mounted read-only), which are
    the files keep-client itself will use.  Only in cluster mode does it see a key: the operator's
    keyfile password and the faucet key (a file from the namespace's faucet Secret, mounted into
    this container alone)."""
    env: list[dict[str, Any]] = [{"name": "KEEP_CLIENT_CONFIG", "value": CONFIG_PATH}]
    mounts: list[dict[str, Any]] = [
        {"name": "data", "mount_path": VOLUME_ROOT, "read_only": True},
        {"name": "tmp", "mount_path": "/tmp"},
    ]
    if init.provisioning == "deploy":
        container_name, module = "operator-check", OPERATOR_CHECK_MODULE
    else:
        container_name, module = "provision-operator", PROVISION_OPERATOR_MODULE
        env += provision_operator_env(init, client)
        mounts.append({"name": "faucet", "mount_path": FAUCET_MOUNT, "read_only": True})
    return {
        "name": container_name,
        "image": image,
        "image_pull_policy": "Always",
        "command": ["python3", "-m", module],
        "working_dir": INIT_WORKDIR,
        "env": env,
        "security_context": container_security_context(),
        "resources": resource_requirements(resources),
        "volume_mounts": mounts,
    }


def operator_init_volumes(init: OperatorInit) -> list[dict[str, Any]]:
    """The pod volumes the operator init container needs besides the client's: the faucet key (cluster)."""
    if init.provisioning == "deploy":
        return []
    return [
        {
            "name": "faucet",
            "secret": {
                "secret_name": init.faucet_secret,
                "items": [{"key": FAUCET_KEY, "path": FAUCET_KEY}],
                "default_mode": 0o440,  # group-readable: the pod runs with fsGroup, not as the file owner
            },
        }
    ]


def init_containers(args: KeepClientArgs, client: str) -> list[dict[str, Any]]:
    """In order: the second runs once the first has put config and keyfile on the volume."""
    return [
        prepare_client_container(args.init_image.ref, args.chain.chain_id, args.init_resources),
        operator_init_container(args.operator_init, client, args.init_image.ref, args.init_resources),
    ]


def client_container(client: str, image: ImageRef, ports: ClientPorts, resources: ComputeResources) -> dict[str, Any]:
    """``keep-client`` itself: config from the volume, keyfile password from the Secret by env."""
    # The libp2p listener accepting TCP says the client got past its start checks (contracts,
    # stake, bootstrap) and serves peers, so both probes use it.  /metrics and /diagnostics are
    # for observers (Prometheus, the fleet runner): their HTTP server answers from before those
    # checks and its status code never reflects the values, so a probe on them would say less.
    tcp_probe = {"tcp_socket": {"port": "libp2p"}}
    return {
        "name": "keep-client",
        "image": image.ref,
        "image_pull_policy": "Always",
        "command": ["keep-client"],
        "args": ["-config", CONFIG_PATH, "start"],
        "ports": [
            {"name": "libp2p", "container_port": ports.libp2p, "protocol": "TCP"},
            {"name": "metrics", "container_port": ports.metrics, "protocol": "TCP"},
            {"name": "diagnostics", "container_port": ports.diagnostics, "protocol": "TCP"},
        ],
        "env": [
            {
                "name": PASSWORD_ENV,
                "value_from": {"secret_key_ref": {"name": f"{client}-eth-account", "key": PASSWORD_KEY}},
            }
        ],
        "security_context": container_security_context(),
        "resources": resource_requirements(resources),
        "readiness_probe": {**tcp_probe, "initial_delay_seconds": 10, "period_seconds": 10},
        "liveness_probe": {**tcp_probe, "initial_delay_seconds": 60, "period_seconds": 30, "failure_threshold": 5},
        "volume_mounts": [{"name": "data", "mount_path": VOLUME_ROOT}, {"name": "tmp", "mount_path": "/tmp"}],
    }


def pod_volumes(client: str, init: OperatorInit) -> list[dict[str, Any]]:
    return [
        {"name": "data", "persistent_volume_claim": {"claim_name": f"{client}-data"}},
        {"name": "config-source", "config_map": {"name": f"{client}-config"}},
        {
            "name": "secret-source",
            # Only the keystore: the password reaches keep-client by env only.
            "secret": {
                "secret_name": f"{client}-eth-account",
                "items": [{"key": KEY_FILE, "path": KEY_FILE}],
                "default_mode": 0o440,  # group-readable: the pod runs with fsGroup, not as the file owner
            },
        },
        {"name": "tmp", "empty_dir": {"size_limit": "16Mi"}},
        *operator_init_volumes(init),
    ]


def pod_spec(args: KeepClientArgs, client: str) -> dict[str, Any]:
    return {
        "automount_service_account_token": False,
        "enable_service_links": False,
        "security_context": {
            "run_as_non_root": True,
            "run_as_user": RUN_AS,
            "run_as_group": RUN_AS,
            "fs_group": RUN_AS,
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
        "init_containers": init_containers(args, client),
        "containers": [client_container(client, args.image, args.ports, args.resources)],
        "volumes": pod_volumes(client, args.operator_init),
    }


def scrape_annotations(ports: ClientPorts) -> dict[str, str]:
    """Where Prometheus finds the client's metrics (the annotations its Kubernetes discovery reads)."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(ports.metrics), "prometheus.io/path": "/metrics"}


def deployment_annotations(keel: KeelSpec | None) -> dict[str, str]:
    annotations = {
        # checkov reads this: keep-client 1.x takes the keyfile password only from this env var.
        # (provision-operator, in cluster mode, reads it the same way, from the same Secret key.)
        "checkov.io/skip1": f"CKV_K8S_35=keep-client reads its keyfile password only from env {PASSWORD_ENV}",
    }
    if keel:
        annotations.update({"keel.sh/policy": keel.policy, "keel.sh/trigger": keel.trigger})
        if keel.poll_schedule:
            annotations["keel.sh/pollSchedule"] = keel.poll_schedule
    return annotations


def deployment_manifest(
    name: str,
    args: KeepClientArgs,
    labels: Mapping[str, str],
    checksum: pulumi.Input[str],
    contracts_hash: pulumi.Input[str],
) -> dict[str, Any]:
    """``<name>``: one replica, Recreate (the volume is ReadWriteOnce); the pod template's
    annotations roll it when its config, key, image or contracts change."""
    return {
        "metadata": object_metadata(name, args.namespace, labels, annotations=deployment_annotations(args.keel)),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "revision_history_limit": 3,
            "selector": {"match_labels": selector_labels(labels)},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "checksum/config": checksum,
                        "keep-cd/image": args.image.ref,
                        "keep-cd/contracts-hash": contracts_hash,
                        **scrape_annotations(args.ports),
                    },
                },
                "spec": pod_spec(args, name),
            },
        },
    }


class KeepClient(pulumi.ComponentResource):
    """One keep-client: config, key, volume, Service and Deployment."""

    config_toml: pulumi.Output[str]
    checksum: pulumi.Output[str]

    def __init__(self, name: str, args: KeepClientArgs, opts: pulumi.ResourceOptions | None = None):
        validate_client_args(name, args)
        super().__init__("keep:cluster:KeepClient", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        ns = args.namespace
        self.host = host = service_host(name, ns)
        self.port = args.ports.libp2p
        labels = client_labels(name, args.role, args.part_of, args.image)

        contracts = pulumi.Output.from_input(args.contract_addresses)
        self.config_toml = pulumi.Output.all(
            pulumi.Output.from_input(args.identity.address), contracts, pulumi.Output.from_input(args.peers)
        ).apply(lambda v: render(client_config(args, host, v[0], v[1], v[2])))
        keyfile = pulumi.Output.secret(args.identity.keyfile_json)
        # A hash of the (encrypted) keystore and of public values: safe to show, so not secret.
        self.checksum = pulumi.Output.unsecret(pulumi.Output.all(self.config_toml, keyfile, contracts).apply(lambda v: config_checksum(*v)))
        contracts_hash = contracts.apply(lambda c: sha256_json(dict(c)))

        config_map = k8s.core.v1.ConfigMap(f"{name}-config", **config_map_manifest(name, ns, labels, self.config_toml), opts=child)
        password = pulumi.Output.secret(args.identity.keyfile_password)
        secret = k8s.core.v1.Secret(f"{name}-eth-account", **secret_manifest(name, ns, labels, keyfile, password), opts=child)
        volume = k8s.core.v1.PersistentVolumeClaim(f"{name}-data", **volume_claim_manifest(name, ns, labels, args.storage), opts=child)
        service = k8s.core.v1.Service(name, **service_manifest(name, ns, labels, args.ports.libp2p), opts=child)
        self.deployment = k8s.apps.v1.Deployment(
            name,
            **deployment_manifest(name, args, labels, self.checksum, contracts_hash),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, config_map, secret, volume, service, *args.start_after]),
        )
        self.register_outputs(
            {"host": self.host, "address": args.identity.address, "checksum": self.checksum, "configToml": self.config_toml}
        )
