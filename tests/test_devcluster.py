"""The test cluster itself (bench/cluster/): users from generated certificates, loopback only, a clean
stop; the detached cluster of `make local CLUSTER=kwok` started once, reused, stopped by its pids;
the local stack pointed at it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.cluster.api import ApiError, KubeApi
from bench.cluster.cluster import DevCluster, locate_binaries

pytestmark = [pytest.mark.engine, pytest.mark.cluster]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_a_user_is_its_certificate_and_has_only_its_rules_and_stop_ends_every_process(tmp_path):
    cluster = DevCluster(str(tmp_path / "c"), locate_binaries(build_missing=False), volumes=1).start()
    pids = [p.process.pid for p in cluster.processes]
    try:
        assert cluster.server.startswith("https://127.0.0.1:")
        kubeconfig = cluster.add_user("reader", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}])
        reader = KubeApi.from_kubeconfig(kubeconfig)
        review = reader.create(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews", {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
        assert review["status"]["userInfo"]["username"] == "reader"
        assert reader.items("/api/v1/namespaces/default/configmaps") is not None
        with pytest.raises(ApiError) as refused:
            reader.items("/api/v1/namespaces/default/secrets")
        assert refused.value.status == 403 and 'User "reader" cannot list resource "secrets"' in refused.value.message
        assert cluster.forbidden("reader") == [("list", "secrets", "default", None)]
        # kwok's node is Ready and the pool's volume waits for a claim.
        assert cluster.admin.get("/api/v1/persistentvolumes/pool-000")["status"]["phase"] == "Available"
    finally:
        cluster.stop()
    assert not any(_running(pid) for pid in pids)


def _devcluster(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.cluster", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def test_the_detached_cluster_starts_once_and_stops_by_its_pids(tmp_path):
    d = str(tmp_path / "detached")
    first = _devcluster("start", "--dir", d)
    assert first.returncode == 0, first.stderr
    try:
        assert _devcluster("start", "--dir", d).stdout == first.stdout  # the running one, not a second
        status = _devcluster("status", "--dir", d)
        assert status.returncode == 0 and status.stdout.split() == [first.stdout.strip(), "v1.36.3"]
    finally:
        import json

        with open(os.path.join(d, "cluster.json")) as f:
            pids = json.load(f)["pids"]
        stopped = _devcluster("stop", "--dir", d)
    assert "stopped kwok, kube-scheduler, kube-controller-manager, kube-apiserver, etcd" in stopped.stderr
    assert not any(_running(pid) for pid in pids.values())
    assert _devcluster("status", "--dir", d).returncode == 1


def test_an_unknown_cluster_kind_is_refused_in_one_line():
    proc = _devcluster("up-local", "--cluster", "minikube")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: CLUSTER='minikube' is not a cluster kind (expected kwok, or leave it unset to render YAML)"


def test_the_local_stack_on_a_cluster_applies_instead_of_rendering():
    from bench.engine.engine import Engine
    from bench.engine.local_stack import local_workspace

    engine = Engine("pulumi", "v0", "PATH", (), "/nonexistent")
    rendered, applied = local_workspace(engine), local_workspace(engine, kubeconfig="/k/kubeconfig")
    assert rendered.renders_yaml() and not applied.renders_yaml()
    assert applied.stack == "local-cluster" and applied.extra_env == {"KUBECONFIG": "/k/kubeconfig"}
    assert applied.secrets_dir != rendered.secrets_dir and applied.state_dir == rendered.state_dir
    assert {k: v for k, v in rendered.config.items() if k != "keep-cd:renderYamlToDirectory"} == applied.config


def test_the_local_stack_on_geth_and_a_cluster_keeps_geths_directories():
    from bench.engine.engine import Engine
    from bench.engine.local_stack import local_workspace

    engine = Engine("pulumi", "v0", "PATH", (), "/nonexistent")
    geth, applied = local_workspace(engine, "geth"), local_workspace(engine, "geth", "/k/kubeconfig")
    assert applied.chain_kind == "geth" and applied.config["keep-cd:rpcUrl"] == geth.config["keep-cd:rpcUrl"]
    assert os.path.dirname(applied.secrets_dir) == os.path.dirname(geth.secrets_dir) and not applied.renders_yaml()


def test_an_unknown_chain_is_refused_before_a_cluster_starts(tmp_path):
    proc = _devcluster("up-local", "--chain", "ganache", "--dir", str(tmp_path / "c"))
    assert proc.returncode == 2 and proc.stderr.strip() == "error: CHAIN=ganache: not a local chain (expected one of anvil, geth)"
    assert not os.path.exists(tmp_path / "c")


def _exited(tmp_path, name: str, output: str):
    from bench.cluster.cluster import Process

    log = tmp_path / "logs" / f"{name}.log"
    log.parent.mkdir(exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(["sh", "-c", f"echo '{output}'; exit 2"], stdout=out, stderr=subprocess.STDOUT)
    proc.wait()
    return Process(name, proc, str(log))


def test_kwok_dying_of_its_start_race_is_started_again_a_bounded_number_of_times(tmp_path):
    from bench.cluster.cluster import KWOK_START_RETRIES, Binaries, ClusterError

    cluster = DevCluster(str(tmp_path), Binaries("", "", "", "", "", (), {}))
    cluster.processes = [_exited(tmp_path, "kwok", "fatal error: concurrent map writes")]
    for attempt in range(KWOK_START_RETRIES):
        cluster._check_alive()  # restarted, not refused
        cluster.processes[0].process.wait()
        assert cluster.kwok_restarts == attempt + 1
    with pytest.raises(ClusterError, match="kwok exited with 2 while the cluster started"):
        cluster._check_alive()


def test_any_other_exit_while_the_cluster_starts_is_refused(tmp_path):
    from bench.cluster.cluster import Binaries, ClusterError

    cluster = DevCluster(str(tmp_path), Binaries("", "", "", "", "", (), {}))
    cluster.processes = [_exited(tmp_path, "kwok", "some other failure")]
    with pytest.raises(ClusterError, match="kwok exited with 2"):
        cluster._check_alive()
    assert cluster.kwok_restarts == 0
