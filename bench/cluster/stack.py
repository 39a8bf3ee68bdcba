"""A throwaway stack of this project that applies its fleet to a cluster (the tests' and the
benchmark's): bench.engine.scratch_stack's stack (the local stack's committed config, the chain of
the caller's, file backend, passphrase and config file under ``workdir``) applied to the cluster of
``kubeconfig`` instead of rendering YAML (bench.engine.local_stack.applied_to_cluster).
"""

from __future__ import annotations

import json

from bench.engine.engine import Engine
from bench.engine.local_stack import StackWorkspace, applied_to_cluster
from bench.engine.scratch_stack import new_stack


def cluster_stack(
    engine: Engine, workdir: str, rpc_url: str, kubeconfig: str, fleet: dict, config: dict | None = None, chain_id: int = 31337
) -> StackWorkspace:
    """``config`` overrides keys (``keep-cd:`` implied); ``use_kubeconfig`` switches users later."""
    ws = new_stack(engine, workdir, rpc_url, chain_id, config={"fleet": json.dumps(fleet), **(config or {})}, stack="cluster")
    return applied_to_cluster(ws, kubeconfig, config_source=f"cluster stack in {workdir}")


def use_kubeconfig(ws: StackWorkspace, kubeconfig: str) -> None:
    """Every later pulumi command of ``ws`` runs as the user of ``kubeconfig``."""
    ws.extra_env["KUBECONFIG"] = kubeconfig


def fleet_of(ws: StackWorkspace) -> dict:
    return json.loads(ws.config["keep-cd:fleet"])


def set_fleet(ws: StackWorkspace, fleet: dict) -> None:
    ws.config["keep-cd:fleet"] = json.dumps(fleet)
    ws.write_config_file()
