"""The engine benchmark's floor: a plain Pulumi Python program of keep-cd's shape.

What the Pulumi engine, the SDK and the Kubernetes provider cost for keep-cd's fleet with nothing
of keep-cd around it. The same kinds and counts of Kubernetes objects as keep-cd's fleet at N
clients: one Namespace, one NetworkPolicy, and per client a ComponentResource with a ConfigMap,
a Secret (its values secret Outputs), a PersistentVolumeClaim, a Service and a Deployment; the same
dependencies (every object after the Namespace, each Deployment after its four siblings, standard
clients' Deployments after every bootstrap Deployment); objects of about the same size (the
Deployment with two init containers, probes and security contexts; a config file and a keystore
of keep-cd's size); rendered to YAML by an explicit Kubernetes provider with renderYamlToDirectory,
as keep-cd's local stack is. `python -m bench engine` runs it with the same CLI, language host,
provider, backend kind and parallelism (the CLI's default) as keep-cd, in the same run.

What it leaves out, and is keep-cd's own cost: the contracts migration, the contract-address
resource and the operators' accounts and stakes (keep-cd's 5 other resources, dynamic providers
served by a Python process of their own, reading and writing the chain); deriving operator keys
and keystores from a mnemonic; loading and validating keep-cd's settings; the Outputs that carry
addresses and peers into each client's config (here every value is known in a preview, where in
keep-cd's new-stack preview the contract addresses are unknown). 100 clients: 604 resources here,
609 in keep-cd.

Config (`keep-cd-floor:`): clients (default 100), bootstrap (default clients // 10),
renderYamlToDirectory (required).
"""

from __future__ import annotations

import hashlib
import json

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
CLIENTS = config.get_int("clients") or 100
BOOTSTRAP = config.get_int("bootstrap") or max(1, CLIENTS // 10)
RENDER_TO = config.require("renderYamlToDirectory")
NAMESPACE = "keep-local"
PART_OF = "keep-network"
IMAGE = "keepnetwork/keep-client:v1.3.1"
INIT_IMAGE = "keepnetwork/keep-client-init:v1.8.0"
RUN_AS = 10001


def fake_keystore(i: int) -> str:
    """A V3 keystore's shape and size (no key in it: the floor never signs)."""
    h = hashlib.sha256(str(i).encode()).hexdigest()
    return json.dumps(
        {
            "address": h[:40],
            "crypto": {
                "cipher": "aes-128-ctr",
                "cipherparams": {"iv": h[:32]},
                "ciphertext": h,
                "kdf": "scrypt",
                "kdfparams": {"dklen": 32, "n": 4096, "p": 1, "r": 8, "salt": h},
                "mac": h,
            },
            "id": f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}",
            "version": 3,
        }
    )


def config_toml(name: str, i: int, peers: list[str]) -> str:
    """A keep-client config file of keep-cd's size."""
    addresses = "\n".join(
        f'{k} = "0x{hashlib.sha256((k + str(i)).encode()).hexdigest()[:40]}"'
        for k in ("KeepRandomBeaconService", "KeepRandomBeaconOperator", "TokenStaking")
    )
    peer_lines = ", ".join(f'"{p}"' for p in peers)
    return (
        '[ethereum]\nURL = "ws://host.minikube.internal:8545"\nURLRPC = "http://host.minikube.internal:8545"\n\n'
        f'[ethereum.account]\nAddress = "0x{hashlib.sha256(name.encode()).hexdigest()[:40]}"\n'
        'KeyFile = "/mnt/keep-client/config/eth_account_keyfile"\n\n'
        f"[ethereum.ContractAddresses]\n{addresses}\n\n"
        f"[LibP2P]\nPeers = [{peer_lines}]\nPort = {3919 + i}\n"
        f'AnnouncedAddresses = ["/dns4/{name}.{NAMESPACE}.svc.cluster.local/tcp/{3919 + i}"]\n\n'
        '[Storage]\nDataDir = "/mnt/keep-client/data"\n\n'
        f"[Metrics]\nPort = {9601 + i}\nNetworkMetricsTick = 60\nEthereumMetricsTick = 600\n\n[Diagnostics]\nPort = {9701 + i}\n"
    )


def security_context() -> dict:
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


RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}


def deployment_spec(name: str, labels: dict, selector: dict, i: int, checksum: pulumi.Input[str]) -> dict:
    probe = {"tcp_socket": {"port": "libp2p"}}
    mounts = [{"name": "data", "mount_path": "/mnt/keep-client"}, {"name": "tmp", "mount_path": "/tmp"}]
    password = {
        "name": "KEEP_ETHEREUM_PASSWORD",
        "value_from": {"secret_key_ref": {"name": f"{name}-eth-account", "key": "eth_account_password"}},
    }
    return {
        "replicas": 1,
        "strategy": {"type": "Recreate"},
        "revision_history_limit": 3,
        "selector": {"match_labels": selector},
        "template": {
            "metadata": {
                "labels": labels,
                "annotations": {
                    "checksum/config": checksum,
                    "keep-cd/image": IMAGE,
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(9601 + i),
                    "prometheus.io/path": "/metrics",
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
                "init_containers": [
                    {
                        "name": "prepare-client",
                        "image": INIT_IMAGE,
                        "image_pull_policy": "Always",
                        "command": ["python3", "/app/prepare_client.py", "--config-dir", "/mnt/keep-client/config", "--chain-id", "31337"],
                        "security_context": security_context(),
                        "resources": RESOURCES,
                        "volume_mounts": [
                            {"name": "config-source", "mount_path": "/etc/keep-client/configmap", "read_only": True},
                            {"name": "secret-source", "mount_path": "/etc/keep-client/secret", "read_only": True},
                            *mounts,
                        ],
                    },
                    {
                        "name": "operator-check",
                        "image": INIT_IMAGE,
                        "image_pull_policy": "Always",
                        "command": ["python3", "-m", "initcontainer.operator_check"],
                        "working_dir": "/app",
                        "env": [{"name": "KEEP_CLIENT_CONFIG", "value": "/mnt/keep-client/config/keep-client-config.toml"}],
                        "security_context": security_context(),
                        "resources": RESOURCES,
                        "volume_mounts": mounts,
                    },
                ],
                "containers": [
                    {
                        "name": "keep-client",
                        "image": IMAGE,
                        "image_pull_policy": "Always",
                        "command": ["keep-client"],
                        "args": ["-config", "/mnt/keep-client/config/keep-client-config.toml", "start"],
                        "ports": [
                            {"name": "libp2p", "container_port": 3919 + i, "protocol": "TCP"},
                            {"name": "metrics", "container_port": 9601 + i, "protocol": "TCP"},
                            {"name": "diagnostics", "container_port": 9701 + i, "protocol": "TCP"},
                        ],
                        "env": [password],
                        "security_context": security_context(),
                        "resources": RESOURCES,
                        "readiness_probe": {**probe, "initial_delay_seconds": 10, "period_seconds": 10},
                        "liveness_probe": {**probe, "initial_delay_seconds": 60, "period_seconds": 30, "failure_threshold": 5},
                        "volume_mounts": mounts,
                    }
                ],
                "volumes": [
                    {"name": "data", "persistent_volume_claim": {"claim_name": f"{name}-data"}},
                    {"name": "config-source", "config_map": {"name": f"{name}-config"}},
                    {
                        "name": "secret-source",
                        "secret": {
                            "secret_name": f"{name}-eth-account",
                            "items": [{"key": "eth_account_keyfile", "path": "eth_account_keyfile"}],
                            "default_mode": 0o440,
                        },
                    },
                    {"name": "tmp", "empty_dir": {"size_limit": "16Mi"}},
                ],
            },
        },
    }


class Client(pulumi.ComponentResource):
    """One client: ConfigMap, Secret, PVC, Service, Deployment."""

    def __init__(
        self, name: str, i: int, role: str, peers: list[str], namespace: k8s.core.v1.Namespace, after: list, opts: pulumi.ResourceOptions
    ):
        super().__init__("floor:index:Client", name, None, opts)
        labels = {
            "app.kubernetes.io/name": "keep-client",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": role,
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/version": "v1.3.1",
            "app.kubernetes.io/managed-by": "keep-cd",
        }
        selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
        child = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        def meta(object_name: str) -> dict:
            return {"name": object_name, "namespace": NAMESPACE, "labels": labels}

        toml = config_toml(name, i, peers)
        keystore = pulumi.Output.secret(fake_keystore(i))
        checksum = keystore.apply(lambda k: hashlib.sha256((toml + k).encode()).hexdigest())
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=meta(f"{name}-config"), data={"keep-client-config.toml": toml}, opts=child
        )
        secret = k8s.core.v1.Secret(
            f"{name}-eth-account",
            metadata=meta(f"{name}-eth-account"),
            type="Opaque",
            string_data={
                "eth_account_keyfile": keystore,
                "eth_account_password": pulumi.Output.secret(hashlib.sha256(name.encode()).hexdigest()),
            },
            opts=child,
        )
        volume = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=meta(f"{name}-data"),
            spec={"access_modes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "512Mi"}}},
            opts=child,
        )
        service = k8s.core.v1.Service(
            name,
            metadata=meta(name),
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "libp2p", "port": 3919 + i, "target_port": "libp2p", "protocol": "TCP"}],
            },
            opts=child,
        )
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata={**meta(name), "annotations": {"checkov.io/skip1": "CKV_K8S_35=keep-client reads its keyfile password only from env"}},
            spec=deployment_spec(name, labels, selector, i, pulumi.Output.unsecret(checksum)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, config_map, secret, volume, service, *after]),
        )
        self.register_outputs({"host": f"{name}.{NAMESPACE}.svc.cluster.local", "checksum": pulumi.Output.unsecret(checksum)})


renderer = k8s.Provider("render-yaml", render_yaml_to_directory=RENDER_TO)
providers = pulumi.ResourceOptions(providers={"kubernetes": renderer})
namespace = k8s.core.v1.Namespace(
    "keep-network-namespace", metadata={"name": NAMESPACE, "labels": {"app.kubernetes.io/part-of": PART_OF}}, opts=providers
)
names = [(f"keep-bootstrap-{i}", "bootstrap") for i in range(BOOTSTRAP)] + [
    (f"keep-standard-{i}", "standard") for i in range(CLIENTS - BOOTSTRAP)
]
bootstrap_peers = [
    f"/dns4/{n}.{NAMESPACE}.svc.cluster.local/tcp/{3919 + i}/ipfs/16Uiu2HAm{hashlib.sha256(n.encode()).hexdigest()[:44]}"
    for i, (n, _) in enumerate(names[:BOOTSTRAP])
]
bootstrap_deployments: list = []
for i, (name, role) in enumerate(names):
    peers = [] if role == "bootstrap" else bootstrap_peers
    after = [] if role == "bootstrap" else bootstrap_deployments
    client = Client(name, i, role, peers, namespace, after, providers)
    if role == "bootstrap":
        bootstrap_deployments.append(client.deployment)
ports = sorted({p for i in range(CLIENTS) for p in (3919 + i, 9601 + i)})
k8s.networking.v1.NetworkPolicy(
    "keep-network-libp2p",
    metadata={
        "name": "keep-network-libp2p",
        "namespace": NAMESPACE,
        "labels": {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "keep-cd"},
    },
    spec={
        "pod_selector": {"match_labels": {"app.kubernetes.io/name": "keep-client", "app.kubernetes.io/part-of": PART_OF}},
        "policy_types": ["Ingress"],
        "ingress": [{"ports": [{"port": p, "protocol": "TCP"} for p in ports]}],
    },
    opts=pulumi.ResourceOptions(providers={"kubernetes": renderer}, depends_on=[namespace]),
)
pulumi.export("clients", CLIENTS)
