"""The fleet applied for real: the real Pulumi engine (`make engine`) runs `pulumi up` against a real
Kubernetes API server (bench/cluster/: kube-apiserver, controller-manager and scheduler built from
k8s.io/kubernetes, etcd, kwok for nodes and pods), as CI's deployer, whose only permissions are the
RBAC rules generated from components/push_deploy_access.py, and `pulumi preview` as CI's previewer.
What is asserted is read from the API server: objects, ReplicaSets, the order of a watch, the audit
log's refusals.

The module drives one stack through a script, in order (each test its own step): the first up,
previews, one client's change, a contract moving, the init containers run as the real pod says, a
client removed.  The bad-input tests use stacks of their own in other namespaces of the same cluster.
"""

from __future__ import annotations

import base64
import json
import os
import time
import tomllib

import pytest
from eth_account import Account

from bench.chains.anvil import rpc, start_anvil
from bench.cluster.cluster import DevCluster, locate_binaries
from bench.cluster.observe import DeploymentTimeline, deployments, replica_sets, rolled
from bench.cluster.stack import cluster_stack, fleet_of, set_fleet, use_kubeconfig
from bench.engine.local_stack import first_error
from components.push_deploy_access import (
    DECLARED_KINDS,
    DEPLOYER_ACCESS,
    PREVIEWER_ACCESS,
    deployer_access,
    kubernetes_rules,
)
from engine_stack import engine_or_fail, preview_steps, set_config, short, up_steps

pytestmark = [pytest.mark.engine, pytest.mark.cluster]

NAMESPACE = "keep-cluster"
BOOTSTRAP = ["keep-bootstrap-0", "keep-bootstrap-1"]
STANDARD = ["keep-standard-0", "keep-standard-1"]
DEPLOYER = "ci-deployer"
PREVIEWER = "ci-previewer"


def fleet_for(chain_url: str, namespace: str, clients: list, **over) -> dict:
    """A fleet whose pods would reach the test chain (the init containers are run against it)."""
    fleet = {
        "namespace": namespace,
        "createNamespace": True,
        "image": {"repository": "keepnetwork/keep-client", "tag": "v1.8.0"},
        "initImage": {"repository": "keepnetwork/keep-client-init", "tag": "v1.8.0"},
        "ethereum": {"url": chain_url.replace("http://", "ws://"), "urlRpc": chain_url},
        "clients": [{"name": n, "role": n.split("-")[1]} for n in clients],
        "storage": {"size": "512Mi"},
    }
    fleet.update(over)
    return fleet


class FleetCluster:
    """The cluster, the chain, CI's two users and the module's stack."""

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.cluster = DevCluster(os.path.join(workdir, "cluster"), locate_binaries(build_missing=False)).start()
        self.chain = start_anvil()
        self.deployer = self.cluster.add_user(DEPLOYER, kubernetes_rules(DEPLOYER_ACCESS))
        self.previewer = self.cluster.add_user(PREVIEWER, kubernetes_rules(PREVIEWER_ACCESS))
        self.engine = engine_or_fail()
        self.ws = self.new_stack("main", NAMESPACE, BOOTSTRAP + STANDARD)

    def new_stack(self, name: str, namespace: str, clients: list, **fleet_over):
        ws = cluster_stack(
            self.engine,
            os.path.join(self.workdir, name),
            self.chain.url,
            self.deployer,
            fleet_for(self.chain.url, namespace, clients, **fleet_over),
        )
        ws.prepare(start_chain=False)
        return ws

    @property
    def admin(self):
        return self.cluster.admin

    def nonce(self, ws) -> int:
        deployer = Account.from_key(ws.secret("deployer.key", lambda: "")).address
        return int(rpc(self.chain.url, "eth_getTransactionCount", [deployer, "latest"]), 16)

    def stop(self):
        self.chain.stop()
        self.cluster.stop()


@pytest.fixture(scope="module")
def fc(tmp_path_factory):
    f = FleetCluster(str(tmp_path_factory.mktemp("cluster")))
    yield f
    f.stop()


def up_as_deployer(fc, ws=None) -> dict:
    ws = ws or fc.ws
    use_kubeconfig(ws, fc.deployer)
    return up_steps(ws)


def test_first_up_as_the_deployer_is_refused_nothing_and_bootstrap_peers_are_available_first(fc):
    with DeploymentTimeline(fc.admin, NAMESPACE) as timeline:
        up = up_as_deployer(fc)
        assert _wait(lambda: len([e for e in timeline.events if e[0] == "available"]) == 4), timeline.events
    assert set(short(up).values()) == {"create"}
    assert fc.cluster.forbidden(DEPLOYER) == []
    assert deployments(fc.admin, NAMESPACE) == {n: True for n in BOOTSTRAP + STANDARD}
    # The server's own order: each bootstrap Deployment Available, then the first standard one stored.
    assert timeline.bootstrap_first(BOOTSTRAP, STANDARD), timeline.events
    # Every pod of the fleet scheduled on kwok's node, with its volume bound by the scheduler.
    pvcs = fc.admin.items(f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims")
    assert sorted(p["metadata"]["name"] for p in pvcs if p["status"]["phase"] == "Bound") == sorted(
        f"{n}-data" for n in BOOTSTRAP + STANDARD
    )


def test_the_previewer_previews_with_nothing_refused_but_dry_runs(fc):
    """The previewer reads and never writes: the provider's server-side dry runs of a changed object
    (a PATCH with dryRun=All, which RBAC authorizes as a write) are refused and it diffs on the client
    instead, showing the same change; nothing else is refused."""
    use_kubeconfig(fc.ws, fc.previewer)
    assert preview_steps(fc.ws) == {}
    fleet = fleet_of(fc.ws)
    fleet["clients"][-1]["port"] = 3920  # keep-standard-1
    set_fleet(fc.ws, fleet)
    changed = short(preview_steps(fc.ws))
    assert changed.get("Deployment::keep-standard-1") == "update", changed
    assert {n.split("::")[1] for n in changed} <= {"keep-standard-1", "keep-standard-1-config", "keep-network-libp2p"}
    assert fc.cluster.forbidden(PREVIEWER, dry_run=False) == []
    assert {(verb, name) for verb, _, _, name in fc.cluster.forbidden(PREVIEWER)} == {("patch", n.split("::")[1]) for n in changed}


def test_one_clients_config_change_gives_only_its_deployment_a_new_replica_set(fc):
    before = replica_sets(fc.admin, NAMESPACE)
    sent = fc.nonce(fc.ws)
    up = up_as_deployer(fc)  # the port change the previewer saw
    assert "Deployment::keep-standard-1" in short(up)
    assert rolled(before, replica_sets(fc.admin, NAMESPACE)) == {"keep-standard-1"}
    assert fc.nonce(fc.ws) == sent
    assert fc.cluster.forbidden(DEPLOYER) == []


def test_moving_a_contract_rolls_every_client(fc):
    before = replica_sets(fc.admin, NAMESPACE)
    # A constructor argument of the random beacon's contracts: they are redeployed at new addresses.
    set_config(fc.ws, planParams={"initializationPeriod": 1, "dkgContributionMargin": 2})
    up_as_deployer(fc)
    assert rolled(before, replica_sets(fc.admin, NAMESPACE)) == set(BOOTSTRAP + STANDARD)
    assert deployments(fc.admin, NAMESPACE) == {n: True for n in BOOTSTRAP + STANDARD}
    assert fc.cluster.forbidden(DEPLOYER) == []


def _server_pod_spec(fc, client: str) -> dict:
    """The spec of ``client``'s running pod, as the ReplicaSet controller made it on the server."""
    pods = fc.admin.items(f"/api/v1/namespaces/{NAMESPACE}/pods", labelSelector=f"app.kubernetes.io/instance={client}")
    running = [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
    assert len(running) == 1, [p["metadata"]["name"] for p in pods]
    return running[0]["spec"]


def test_the_init_containers_contract_matches_what_the_pod_mounts(fc, tmp_path):
    """prepare-client and operator-check run as the server's pod spec says (command, env, mounts),
    with the ConfigMap and Secret data read from the server; then keep-client's own -config path,
    the keyfile that config names and the password env of the main container fit together."""
    from test_fleet_init_containers import Clock, run_init_containers

    client = "keep-standard-0"
    spec = _server_pod_spec(fc, client)
    configmaps = {
        cm["metadata"]["name"]: cm["data"]
        for cm in fc.admin.items(f"/api/v1/namespaces/{NAMESPACE}/configmaps", labelSelector=f"app.kubernetes.io/instance={client}")
    }
    secrets = {
        s["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in s["data"].items()}
        for s in fc.admin.items(f"/api/v1/namespaces/{NAMESPACE}/secrets", labelSelector=f"app.kubernetes.io/instance={client}")
    }
    with Clock(fc.chain.url):
        done, host = run_init_containers(spec, configmaps, secrets, tmp_path)
    assert [(name, status) for name, status, _ in done] == [("prepare-client", 0), ("operator-check", 0)], done
    # keep-client's side of the contract, in pod paths: the -config its container is given is the
    # file prepare-client wrote onto the volume; the KeyFile and DataDir that config names are there
    # too; the password its env takes from the Secret opens that keyfile as the configured address.
    (main,) = spec["containers"]
    config_path = main["args"][main["args"].index("-config") + 1]
    assert os.path.isfile(host(config_path)), config_path
    ((config_text,),) = [list(data.values()) for data in configmaps.values()]
    config = tomllib.loads(config_text)
    keyfile = config["ethereum"]["account"]["KeyFile"]
    password_ref = next(e["valueFrom"]["secretKeyRef"] for e in main["env"] if e["name"] == "KEEP_ETHEREUM_PASSWORD")
    with open(host(keyfile)) as f:
        key = Account.decrypt(json.load(f), secrets[password_ref["name"]][password_ref["key"]])
    assert Account.from_key(key).address == config["ethereum"]["account"]["Address"]
    assert os.path.isdir(host(config["Storage"]["DataDir"]))


def test_removing_a_client_deletes_its_objects_and_releases_its_volume(fc):
    pvc = fc.admin.get(f"/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims/keep-standard-1-data")
    volume = pvc["spec"]["volumeName"]
    fleet = fleet_of(fc.ws)
    fleet["clients"] = [c for c in fleet["clients"] if c["name"] != "keep-standard-1"]
    set_fleet(fc.ws, fleet)
    up = short(up_as_deployer(fc))
    assert {n for n, op in up.items() if op == "delete"} >= {
        "Deployment::keep-standard-1",
        "Service::keep-standard-1",
        "ConfigMap::keep-standard-1-config",
        "Secret::keep-standard-1-eth-account",
        "PersistentVolumeClaim::keep-standard-1-data",
    }
    ns = f"/api/v1/namespaces/{NAMESPACE}"
    for path in (
        f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/keep-standard-1",
        f"{ns}/services/keep-standard-1",
        f"{ns}/configmaps/keep-standard-1-config",
        f"{ns}/secrets/keep-standard-1-eth-account",
        f"{ns}/persistentvolumeclaims/keep-standard-1-data",
    ):
        assert fc.admin.get(path) is None, path
    # The garbage collector removes what the Deployment owned.
    selector = "app.kubernetes.io/instance=keep-standard-1"
    assert _wait(lambda: not fc.admin.items(f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets", labelSelector=selector))
    assert _wait(lambda: not fc.admin.items(f"{ns}/pods", labelSelector=selector))
    # Its volume outlives the claim: Released (this cluster's class retains; docs/cluster.md).
    assert _wait(lambda: fc.admin.get(f"/api/v1/persistentvolumes/{volume}")["status"]["phase"] == "Released")
    assert deployments(fc.admin, NAMESPACE) == {n: True for n in BOOTSTRAP + ["keep-standard-0"]}
    assert fc.cluster.forbidden(DEPLOYER) == []


def test_a_kind_the_deployer_may_not_create_fails_the_up_naming_it_and_leaves_the_chain_whole(fc):
    """The deployer's rules as they were before NetworkPolicy was in the table: the server refuses
    the fleet's NetworkPolicy, the up fails with the server's message naming it, and nothing on the
    chain is half done: with the permission granted the next up completes, having sent in all
    exactly what one clean up sends."""
    user = "ci-deployer-without-networkpolicy"
    partial = kubernetes_rules(deployer_access(tuple(k for k in DECLARED_KINDS if k != "NetworkPolicy")))
    kubeconfig = fc.cluster.add_user(user, partial)
    ws = fc.new_stack("rbac", "keep-rbac", ["keep-bootstrap-0", "keep-standard-0"])
    use_kubeconfig(ws, kubeconfig)
    proc = ws.run(["up", "--yes", "--skip-preview"], capture=True, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    # Server-side apply creates with a PATCH: that is the verb refused.
    refusal = f'networkpolicies.networking.k8s.io "keep-network-libp2p" is forbidden: User "{user}" cannot patch resource "networkpolicies"'
    assert refusal in out, out[-3000:]
    assert "keep-network-libp2p" in first_error(out), first_error(out)  # what `make local` would print
    assert {(verb, resource) for verb, resource, _, _ in fc.cluster.forbidden(user)} == {("patch", "networkpolicies")}
    assert fc.admin.get("/apis/networking.k8s.io/v1/namespaces/keep-rbac/networkpolicies/keep-network-libp2p") is None
    fc.cluster.grant(user, kubernetes_rules(DEPLOYER_ACCESS))
    up_steps(ws)
    # 26 deploys + 6 calls, then fund + stake + authorize per operator: nothing twice.
    assert fc.nonce(ws) == 26 + 6 + 3 * 2
    assert deployments(fc.admin, "keep-rbac") == {"keep-bootstrap-0": True, "keep-standard-0": True}


def _wait(check, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


def test_an_object_the_server_refuses_fails_the_up_naming_it_and_leaves_the_chain_whole(fc):
    """A namespace whose ResourceQuota (an administrator's, as keep-dev's may have) leaves room for
    two volumes of the fleet: the server refuses the third claim, the up fails with the server's
    message naming it, and once the quota allows it the next up completes without sending a
    transaction twice."""
    namespace = "keep-quota"
    fc.admin.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "storage", "namespace": namespace},
        "spec": {"hard": {"requests.storage": "1Gi"}},
    }
    fc.admin.create(f"/api/v1/namespaces/{namespace}/resourcequotas", quota)
    clients = ["keep-bootstrap-0", "keep-standard-0", "keep-standard-1"]
    ws = fc.new_stack("quota", namespace, clients, createNamespace=False)
    proc = ws.run(["up", "--yes", "--skip-preview"], capture=True, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    refused = [c for c in clients if f'persistentvolumeclaims "{c}-data" is forbidden: exceeded quota: storage' in out]
    assert len(refused) == 1, out[-3000:]
    assert f"{refused[0]}-data" in first_error(out), first_error(out)
    assert fc.admin.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{refused[0]}-data") is None
    quota["spec"]["hard"]["requests.storage"] = "2Gi"
    fc.admin.apply(f"/api/v1/namespaces/{namespace}/resourcequotas/storage", quota)
    up_steps(ws)
    assert fc.nonce(ws) == 26 + 6 + 3 * len(clients)
    assert deployments(fc.admin, namespace) == {c: True for c in clients}
