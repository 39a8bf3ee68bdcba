"""`python -m bench cluster --clients 20 --json`: the fleet applied to a real Kubernetes API server.

A fresh cluster (bench/cluster/: kube-apiserver, controller-manager, scheduler, etcd, kwok), a fresh
anvil, and a stack of ``--clients`` keep-clients (one bootstrap client per ten, at least one) under
the real Pulumi engine, applied as CI's deployer (RBAC rules from
components/push_deploy_access.py).  Everything reported is read from the API server:

  server            the API server's version
  up_seconds        the first `pulumi up` (contracts, stakes and the fleet; until every Deployment
                    is Available, as the Kubernetes provider awaits them)
  available         Available Deployments after it (target: clients)
  bootstrap_first   every bootstrap Deployment Available before any standard Deployment existed,
                    in the order of one watch of the server (target: true)
  forbidden         requests of the deployer refused by RBAC during the ups, from the audit log (0)
  nochange_seconds  a second `pulumi up` with nothing changed; nochange_rolled: Deployments that got
                    a new ReplicaSet in it (0)
  rolled_one        Deployments with a new ReplicaSet after one client's port changed (target: 1)

Baseline, in the same run: the same objects (read back from the server) applied at once into
another namespace, as `kubectl apply --server-side -f` of rendered manifests would:
``baseline_seconds`` until all are Available and ``baseline_bootstrap_first``.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from bench import PROJECT_ROOT

ROOT = PROJECT_ROOT

NAMESPACE = "keep-bench"
BASELINE_NAMESPACE = "keep-bench-baseline"
DEPLOYER = "ci-deployer"
# What the baseline copies: every object a client is made of (resource -> API path, apiVersion, kind).
_COPIED = {
    "configmaps": ("/api/v1", "v1", "ConfigMap"),
    "secrets": ("/api/v1", "v1", "Secret"),
    "persistentvolumeclaims": ("/api/v1", "v1", "PersistentVolumeClaim"),
    "services": ("/api/v1", "v1", "Service"),
    "deployments": ("/apis/apps/v1", "apps/v1", "Deployment"),
}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def client_names(clients: int) -> tuple:
    bootstrap = max(1, clients // 10)
    return [f"keep-bootstrap-{i}" for i in range(bootstrap)], [f"keep-standard-{i}" for i in range(clients - bootstrap)]


def _fleet(chain_url: str, bootstrap: list, standard: list) -> dict:
    return {
        "namespace": NAMESPACE,
        "createNamespace": True,
        "image": {"repository": "keepnetwork/keep-client", "tag": "v1.8.0"},
        "initImage": {"repository": "keepnetwork/keep-client-init", "tag": "v1.8.0"},
        "ethereum": {"url": chain_url.replace("http://", "ws://"), "urlRpc": chain_url},
        "clients": [{"name": n, "role": "bootstrap"} for n in bootstrap] + [{"name": n, "role": "standard"} for n in standard],
        "storage": {"size": "512Mi"},
    }


def _up(ws) -> float:
    started = time.monotonic()
    ws.run(["up", "--yes", "--skip-preview"], capture=True)
    return round(time.monotonic() - started, 2)


def _copy_for_baseline(obj: dict) -> dict:
    """An object of the fleet as its manifest would be: no status, no server-set fields."""
    meta = obj["metadata"]
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not k.startswith(("deployment.kubernetes.io/", "pv.kubernetes.io/", "volume."))
    }
    out = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": {"name": meta["name"], "namespace": BASELINE_NAMESPACE, "labels": meta.get("labels", {}), "annotations": annotations},
    }
    for key in ("data", "type", "spec"):
        if key in obj:
            out[key] = json.loads(json.dumps(obj[key]))
    spec = out.get("spec", {})
    if obj["kind"] == "PersistentVolumeClaim":
        spec.pop("volumeName", None)
    if obj["kind"] == "Service":
        for key in ("clusterIP", "clusterIPs"):
            spec.pop(key, None)
    return out


def baseline(cluster, bootstrap: list, standard: list, timeout: float = 600.0) -> dict:
    from bench.cluster.observe import DeploymentTimeline, deployments

    api = cluster.admin
    objects = []
    for resource, (prefix, api_version, kind) in _COPIED.items():
        items = api.items(f"{prefix}/namespaces/{NAMESPACE}/{resource}", labelSelector="app.kubernetes.io/managed-by=keep-cd")
        for obj in items:
            obj.update(apiVersion=api_version, kind=kind)  # a list's items carry neither
            objects.append((f"{prefix}/namespaces/{BASELINE_NAMESPACE}/{resource}/{obj['metadata']['name']}", _copy_for_baseline(obj)))
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": BASELINE_NAMESPACE}})
    names = bootstrap + standard
    with DeploymentTimeline(api, BASELINE_NAMESPACE) as timeline:
        started = time.monotonic()
        for path, obj in objects:
            api.apply(path, obj, manager="bench-baseline")
        while time.monotonic() - started < timeout:
            if sum(deployments(api, BASELINE_NAMESPACE).values()) == len(names):
                break
            time.sleep(0.2)
        seconds = round(time.monotonic() - started, 2)
        time.sleep(1.0)  # let the watch catch up with the last events
    return {
        "baseline_seconds": seconds,
        "baseline_available": sum(deployments(api, BASELINE_NAMESPACE).values()),
        "baseline_bootstrap_first": timeline.bootstrap_first(bootstrap, standard),
        "baseline_objects": len(objects),
    }


def first_up(api, ws, clients: int) -> tuple:
    """The first `pulumi up`, watched: its seconds and the timeline of the Deployments it made."""
    from bench.cluster.observe import DeploymentTimeline

    with DeploymentTimeline(api, NAMESPACE) as timeline:
        up_seconds = _up(ws)
        deadline = time.monotonic() + 30
        while len([e for e in timeline.events if e[0] == "available"]) < clients and time.monotonic() < deadline:
            time.sleep(0.2)
    return up_seconds, timeline


def later_ups(api, ws) -> dict:
    """A `pulumi up` with nothing changed, then one after the last client's port changed: seconds
    and the Deployments each rolled (a new ReplicaSet)."""
    from bench.cluster.observe import replica_sets, rolled
    from bench.cluster.stack import fleet_of, set_fleet

    before = replica_sets(api, NAMESPACE)
    nochange_seconds = _up(ws)
    nochange_rolled = len(rolled(before, replica_sets(api, NAMESPACE)))
    fleet = fleet_of(ws)
    fleet["clients"][-1]["port"] = 3920
    set_fleet(ws, fleet)
    before = replica_sets(api, NAMESPACE)
    one_seconds = _up(ws)
    rolled_one = sorted(rolled(before, replica_sets(api, NAMESPACE)))
    return {
        "nochange_seconds": nochange_seconds,
        "nochange_rolled": nochange_rolled,
        "one_client_seconds": one_seconds,
        "rolled_one": len(rolled_one),
        "rolled_one_names": rolled_one,
    }


def fleet_figures(cluster, ws, clients: int, bootstrap: list, standard: list) -> dict:
    """The three ups of the fleet as CI's deployer, and what the API server says of them."""
    from bench.cluster.observe import deployments

    api = cluster.admin
    up_seconds, timeline = first_up(api, ws, clients)
    available = sum(deployments(api, NAMESPACE).values())
    _log(f"up: {up_seconds} s, {available} Available")
    later = later_ups(api, ws)
    return {
        "server": cluster.server_version(),
        "clients": clients,
        "bootstrap_clients": len(bootstrap),
        "up_seconds": up_seconds,
        "available": available,
        "bootstrap_first": timeline.bootstrap_first(bootstrap, standard),
        "forbidden": len(cluster.forbidden(DEPLOYER)),
        **later,
    }


def run(clients: int, with_baseline: bool = True) -> dict:
    from bench.chains.anvil import start_anvil
    from bench.cluster.cluster import DevCluster, locate_binaries
    from bench.cluster.stack import cluster_stack
    from bench.engine.engine import locate_engine
    from components.push_deploy_access import DEPLOYER_ACCESS, kubernetes_rules

    engine = locate_engine()
    binaries = locate_binaries(build_missing=True)
    bootstrap, standard = client_names(clients)
    with tempfile.TemporaryDirectory(prefix="keep-cd-bench-cluster-") as workdir:
        cluster = DevCluster(os.path.join(workdir, "cluster"), binaries, volumes=2 * clients + 8)
        chain = None
        try:
            started = time.monotonic()
            cluster.start()
            start_seconds = round(time.monotonic() - started, 2)
            _log(f"cluster {cluster.server_version()} up in {start_seconds} s")
            chain = start_anvil()
            deployer = cluster.add_user(DEPLOYER, kubernetes_rules(DEPLOYER_ACCESS))
            ws = cluster_stack(engine, os.path.join(workdir, "stack"), chain.url, deployer, _fleet(chain.url, bootstrap, standard))
            ws.prepare(start_chain=False)
            result = {**fleet_figures(cluster, ws, clients, bootstrap, standard), "cluster_start_seconds": start_seconds}
            if with_baseline:
                result.update(baseline(cluster, bootstrap, standard))
            return result
        finally:
            if chain is not None:
                chain.stop()
            cluster.stop()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench cluster", description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="(the last line is JSON either way)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the all-at-once baseline")
    args = ap.parse_args(argv)
    if args.clients < 2:
        print("error: --clients must be at least 2 (a bootstrap and a standard client)", file=sys.stderr)
        return 2
    result = run(args.clients, with_baseline=not args.no_baseline)
    print(json.dumps(result, sort_keys=True))
    ok = result["available"] == args.clients and result["bootstrap_first"] and result["forbidden"] == 0 and result["rolled_one"] == 1
    return 0 if ok else 1
