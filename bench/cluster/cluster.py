"""One Kubernetes cluster on this machine: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, built by bench.gobuild (targets ``kubernetes``, ``etcd``, ``kwok``), on free
loopback ports, with a fresh data directory and fresh certificates.

What it is made to look like is what keep-cd meets in GKE, as far as the fleet can tell:

* RBAC is on (``--authorization-mode=Node,RBAC``); ``add_user`` makes a user (a client
  certificate) whose ClusterRole is given as RBAC rules, e.g. CI's deployer's
  (``components.push_deploy_access.kubernetes_rules``).  A ClusterRole, because GKE grants IAM
  permissions project-wide: the deployer's reach is every namespace of the cluster.
* a default StorageClass that binds a volume when its pod is scheduled (``WaitForFirstConsumer``,
  as GKE's ``standard-rwo``), served by a pool of pre-made PersistentVolumes (nothing provisions
  disks here; ``Retain``, so a released volume stays visible);
* kwok's nodes: a scheduled pod runs and becomes Ready at once (no container runtime, no image
  pulls), so Deployments become Available and the controllers do the rest for real.

Every request is in the API server's audit log (``audit.log``, metadata level): the tests and the
benchmark count what RBAC refused there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml

from bench.chains.anvil import free_port

from .api import Credentials, KubeApi, kubeconfig_text
from .pki import CertFiles, ClusterPki

STORAGE_CLASS = "keep-cd-local"
NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
SERVICE_CIDR = "10.96.0.0/16"  # allocation only: nothing is routed
ADMIN = "keep-cd-admin"
START_TIMEOUT = 120.0

AUDIT_POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"], "rules": [{"level": "Metadata"}]}


class ClusterError(Exception):
    """The cluster cannot be built or started; one line naming the program and what to do."""


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: str
    kube_controller_manager: str
    kube_scheduler: str
    etcd: str
    kwok: str
    kwok_stages: tuple  # Stage YAML files
    versions: dict  # target -> version


def locate_binaries(build_missing: bool = True) -> Binaries:
    """The pinned programs from bench.gobuild's cache (built first where missing and ``build_missing``)."""
    from bench.gobuild.build import BuildError, build, built_dir
    from bench.gobuild.targets import TARGETS

    dirs, versions = {}, {}
    for name in ("kubernetes", "etcd", "kwok"):
        target = TARGETS[name]
        try:
            d = build(target) if build_missing else built_dir(target)
        except BuildError as e:
            raise ClusterError(f"{name} {target.version}: cannot be built here ({e}); see docs/cluster.md") from None
        if d is None:
            raise ClusterError(f"{name} {target.version}: not built (run `make cluster` or `python3 -m bench.gobuild {name}`)")
        dirs[name], versions[name] = d, target.version
    stages = tuple(sorted(os.path.join(dirs["kwok"], n) for n in os.listdir(dirs["kwok"]) if n.startswith("stage-")))
    return Binaries(
        kube_apiserver=os.path.join(dirs["kubernetes"], "kube-apiserver"),
        kube_controller_manager=os.path.join(dirs["kubernetes"], "kube-controller-manager"),
        kube_scheduler=os.path.join(dirs["kubernetes"], "kube-scheduler"),
        etcd=os.path.join(dirs["etcd"], "etcd"),
        kwok=os.path.join(dirs["kwok"], "kwok"),
        kwok_stages=stages,
        versions=versions,
    )


# kwok 0.8.0's start race ("fatal error: concurrent map writes" in easycel's registry), and how
# often a start may meet it before the cluster is called broken.
KWOK_START_RACE = "concurrent map writes"
KWOK_START_RETRIES = 2


@dataclass
class Process:
    name: str
    process: subprocess.Popen
    log: str


@dataclass
class DevCluster:
    """A cluster under ``directory`` (made fresh by ``start``); ``stop`` ends what it started."""

    directory: str
    binaries: Binaries
    volumes: int = 64  # PersistentVolumes in the pool (one per keep-client)
    volume_size: str = "10Gi"
    processes: list = field(default_factory=list)
    server: str = ""
    admin_kubeconfig: str = ""
    _pki: ClusterPki | None = None
    kwok_restarts: int = 0

    # --- paths
    def path(self, *parts: str) -> str:
        return os.path.join(self.directory, *parts)

    @property
    def audit_log(self) -> str:
        return self.path("audit.log")

    @property
    def admin(self) -> KubeApi:
        return KubeApi.from_kubeconfig(self.admin_kubeconfig)

    @property
    def pki(self) -> ClusterPki:
        """The cluster's certificate authority, made by ``start``."""
        if self._pki is None:
            raise ClusterError(f"cluster in {self.directory} has no PKI yet: call start() before adding users")
        return self._pki

    # --- lifecycle
    def start(self) -> DevCluster:
        if os.path.exists(self.directory):
            shutil.rmtree(self.directory)
        os.makedirs(self.path("logs"), mode=0o700)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        started = time.monotonic()
        pki = self._pki = ClusterPki(self.path("pki"))
        serving = pki.serving("kube-apiserver")
        admin = pki.client(ADMIN, ["system:masters"])
        etcd_port, etcd_peer, api_port, kwok_port = free_port(), free_port(), free_port(), free_port()
        self.server = f"https://127.0.0.1:{api_port}"
        self.admin_kubeconfig = self.write_kubeconfig(ADMIN, Credentials(self.server, pki.ca_cert, admin.cert, admin.key))
        with open(self.path("audit-policy.yaml"), "w") as f:
            yaml.safe_dump(AUDIT_POLICY, f)

        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn("etcd", self._etcd_args(etcd_url, etcd_peer))
        self._spawn("kube-apiserver", self._apiserver_args(etcd_url, api_port, serving))
        self._wait_ready(started)
        common = [f"--kubeconfig={self.admin_kubeconfig}", "--leader-elect=false", "--kube-api-qps=200", "--kube-api-burst=400"]
        self._spawn("kube-controller-manager", self._controller_manager_args(common))
        self._spawn("kube-scheduler", [self.binaries.kube_scheduler, *common, "--secure-port=0"])
        self._spawn("kwok", self._kwok_args(kwok_port, serving))
        self._bootstrap_objects()
        self._wait_node_ready(started)
        self.write_state()

    def _etcd_args(self, etcd_url: str, peer_port: int) -> list[str]:
        return [
            self.binaries.etcd,
            "--name=node0",
            f"--data-dir={self.path('etcd')}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=node0=http://127.0.0.1:{peer_port}",
            "--listen-metrics-urls=",
            # A throwaway store: no fsync (the tests' disk is shared with three other agents).
            "--unsafe-no-fsync",
            "--auto-compaction-retention=1",
            "--log-level=warn",
        ]

    def _apiserver_args(self, etcd_url: str, api_port: int, serving: CertFiles) -> list[str]:
        pki = self.pki
        return [
            self.binaries.kube_apiserver,
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--cert-dir={self.path('apiserver')}",
            f"--tls-cert-file={serving.cert}",
            f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=Node,RBAC",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # The `kubernetes` Service would point at 127.0.0.1, which Endpoints refuse.
            "--endpoint-reconciler-type=none",
            f"--audit-policy-file={self.path('audit-policy.yaml')}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-mode=blocking",
        ]

    def _controller_manager_args(self, common: list[str]) -> list[str]:
        pki = self.pki
        return [
            self.binaries.kube_controller_manager,
            *common,
            "--secure-port=0",
            f"--root-ca-file={pki.ca_cert}",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--concurrent-deployment-syncs=10",
            "--concurrent-replicaset-syncs=10",
            # kwok's heartbeats come every 20-45 s; a loaded machine must not look like a dead node.
            "--node-monitor-grace-period=5m",
        ]

    def _kwok_args(self, kwok_port: int, serving: CertFiles) -> list[str]:
        return [
            self.binaries.kwok,
            f"--kubeconfig={self.admin_kubeconfig}",
            f"--config={self._kwok_config()}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION[0]}={NODE_ANNOTATION[1]}",
            "--node-ip=10.0.0.1",
            "--node-name=kwok-controller",
            f"--node-port={kwok_port}",
            f"--server-address=127.0.0.1:{kwok_port}",
            f"--tls-cert-file={serving.cert}",
            f"--tls-private-key-file={serving.key}",
            "--node-lease-duration-seconds=0",
        ]

    def _kwok_config(self) -> str:
        docs = [
            {
                "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
                "kind": "KwokConfiguration",
                "options": {
                    # kwok's own defaults (kustomize/kwok/kwok.yaml), which the program does not apply by itself.
                    "cidr": "10.0.0.0/16",
                    "enablePodsOnNodeSyncStreamWatch": True,
                    "nodeLeaseParallelism": 4,
                    "podPlayStageParallelism": 4,
                    "nodePlayStageParallelism": 4,
                },
            }
        ]
        for path in self.binaries.kwok_stages:
            with open(path) as f:
                docs.append(yaml.safe_load(f))
        out = self.path("kwok.yaml")
        with open(out, "w") as f:
            yaml.safe_dump_all(docs, f)
        return out

    def _spawn(self, name: str, args: Sequence[str]) -> None:
        self.processes.append(self._launch(name, args, "wb"))

    def _launch(self, name: str, args: Sequence[str], mode: str) -> Process:
        log = self.path("logs", f"{name}.log")
        with open(log, mode) as out:
            proc = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        return Process(name, proc, log)

    def _check_alive(self) -> None:
        for i, p in enumerate(self.processes):
            if p.process.poll() is None:
                continue
            if p.name == "kwok" and self.kwok_restarts < KWOK_START_RETRIES and _log_has(p.log, KWOK_START_RACE):
                # kwok 0.8.0 sometimes dies at start on a data race in its CEL registry (seen once in
                # the full suite on 2 loaded cores); it holds no state yet, so it is started again.
                self.kwok_restarts += 1
                self.processes[i] = self._launch(p.name, p.process.args, "ab")
                continue
            raise ClusterError(f"{p.name} exited with {p.process.returncode} while the cluster started: {_tail(p.log)}")

    def _wait_ready(self, started: float) -> None:
        api = self.admin
        while True:
            self._check_alive()
            if api.ready():
                return
            if time.monotonic() - started > START_TIMEOUT:
                raise ClusterError(
                    f"kube-apiserver at {self.server}: not ready after {START_TIMEOUT:.0f} s: {_tail(self.processes[-1].log)}"
                )
            time.sleep(0.3)

    def _bootstrap_objects(self) -> None:
        api = self.admin
        # The API server's own defaults (RBAC bootstrap roles, the default namespace) come first.
        deadline = time.monotonic() + START_TIMEOUT
        while api.get("/api/v1/namespaces/default") is None or api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/admin") is None:
            self._check_alive()
            if time.monotonic() > deadline:
                raise ClusterError("kube-apiserver: the default namespace and bootstrap roles did not appear")
            time.sleep(0.3)
        api.create("/api/v1/nodes", kwok_node())
        api.create("/apis/storage.k8s.io/v1/storageclasses", storage_class())
        for i in range(self.volumes):
            api.create("/api/v1/persistentvolumes", pool_volume(i, self.volume_size))

    def _wait_node_ready(self, started: float) -> None:
        api = self.admin
        while True:
            self._check_alive()
            node = api.get("/api/v1/nodes/kwok-node-0") or {}
            ready = [c for c in node.get("status", {}).get("conditions", []) if c["type"] == "Ready" and c["status"] == "True"]
            sa = api.get("/api/v1/namespaces/default/serviceaccounts/default")
            if ready and sa is not None:
                return
            if time.monotonic() - started > START_TIMEOUT:
                raise ClusterError(
                    f"kwok-node-0 not Ready (or no default ServiceAccount) after {START_TIMEOUT:.0f} s: {_tail(self.path('logs', 'kwok.log'))}"
                )
            time.sleep(0.3)

    def stop(self) -> None:
        """Stop every process this cluster started, one by one, the last started first (etcd goes
        last: an API server without its store takes long to stop); SIGKILL after 10 s each."""
        for p in reversed(self.processes):
            if p.process.poll() is None:
                p.process.terminate()
                try:
                    p.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.process.kill()
                    p.process.wait()
        self.processes = []

    # --- users
    def write_kubeconfig(self, user: str, creds: Credentials) -> str:
        path = self.path(f"kubeconfig-{user}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(kubeconfig_text(creds, user))
        return path

    def add_user(self, user: str, rules: list) -> str:
        """A user whose only permissions are ``rules`` (RBAC PolicyRules, cluster-wide); its kubeconfig."""
        pki = self.pki
        cert = pki.client(user)
        self.grant(user, rules)
        return self.write_kubeconfig(user, Credentials(self.server, pki.ca_cert, cert.cert, cert.key))

    def grant(self, user: str, rules: list) -> None:
        """``user``'s ClusterRole (named after it) is ``rules``, bound to it cluster-wide."""
        api = self.admin
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": user}, "rules": rules}
        api.apply(f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{user}", role)
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": user},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
        api.apply(f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{user}", binding)

    # --- what the server says
    def server_version(self) -> str:
        return self.admin.version()["gitVersion"]

    def audit_events(self, user: str | None = None) -> list:
        """Every request the API server has logged (of ``user``)."""
        events = []
        with open(self.audit_log) as f:
            for line in f:
                event = json.loads(line)
                if user is None or event.get("user", {}).get("username") == user:
                    events.append(event)
        return events

    def forbidden(self, user: str, dry_run: bool | None = None) -> list:
        """The requests of ``user`` that authorization refused, as (verb, resource, namespace,
        name); only server-side dry runs (``dryRun=All``) or only the others, if ``dry_run`` says."""
        out = []
        for e in self.audit_events(user):
            if (e.get("responseStatus") or {}).get("code") != 403:
                continue
            if dry_run is not None and ("dryRun=All" in e.get("requestURI", "")) != dry_run:
                continue
            ref = e.get("objectRef") or {}
            out.append((e["verb"], ref.get("resource") or e.get("requestURI"), ref.get("namespace"), ref.get("name")))
        return out

    # --- detached clusters (make local CLUSTER=kwok)
    def write_state(self) -> None:
        state = {
            "server": self.server,
            "kubeconfig": self.admin_kubeconfig,
            "pids": {p.name: p.process.pid for p in self.processes},
            "programs": {p.name: p.process.args[0] for p in self.processes},
        }
        with open(self.path("cluster.json"), "w") as f:
            json.dump(state, f, indent=1)


def kwok_node() -> dict:
    """The one Node, run by kwok (its annotation is what kwok manages)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "kwok-node-0",
            "annotations": {NODE_ANNOTATION[0]: NODE_ANNOTATION[1]},
            "labels": {"kubernetes.io/hostname": "kwok-node-0", "kubernetes.io/os": "linux", "type": "kwok"},
        },
        "status": {
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
            "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"},
        },
    }


def storage_class() -> dict:
    """The default StorageClass: binds when the pod is scheduled, as GKE's ``standard-rwo``."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Retain",
    }


def pool_volume(i: int, size: str) -> dict:
    """The ``i``-th PersistentVolume of the pool the StorageClass binds from."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pool-{i:03d}", "labels": {"keep-cd/pool": "devcluster"}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            # Never mounted: kwok runs no container.
            "hostPath": {"path": f"/nonexistent/keep-cd-bench/cluster/pool-{i:03d}"},
        },
    }


def _log_has(path: str, text: str) -> bool:
    try:
        with open(path, errors="replace") as f:
            return text in f.read()
    except OSError:
        return False


def _tail(path: str, lines: int = 3) -> str:
    try:
        with open(path, errors="replace") as f:
            return " | ".join(line.strip() for line in f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def _our_process(pid: int, program: str) -> bool:
    """Whether ``pid`` still runs ``program`` (a recorded pid may since belong to another process)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0].decode() == program
    except OSError:
        return False


def _state(directory: str) -> dict | None:
    try:
        with open(os.path.join(directory, "cluster.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def running_state(directory: str) -> dict | None:
    """The state of a detached cluster under ``directory`` whose processes all still run, else None."""
    state = _state(directory)
    if state is None or not all(_our_process(pid, state["programs"][name]) for name, pid in state["pids"].items()):
        return None
    return state


def stop_detached(directory: str) -> list:
    """Stop the processes a detached cluster under ``directory`` recorded, by their pids (each
    checked to still run the recorded program), the last started first; the names stopped."""
    state = _state(directory)
    if state is None:
        return []
    ours = [(name, pid) for name, pid in reversed(list(state["pids"].items())) if _our_process(pid, state["programs"][name])]
    for name, pid in ours:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _our_process(pid, state["programs"][name]) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _our_process(pid, state["programs"][name]):
            os.kill(pid, signal.SIGKILL)
    os.remove(os.path.join(directory, "cluster.json"))
    return [name for name, _pid in ours]
