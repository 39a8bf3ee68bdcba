"""A throwaway stack of this project that applies its fleet to a cluster (the tests' and the
benchmark's): the local stack's committed config applied to the cluster of ``kubeconfig``
(pulumi_cli.local_stack.applied_to_cluster), the chain of the caller's; file backend, passphrase and
config file under ``workdir``.
"""

from __future__ import annotations

import json
import os

from pulumi_cli.engine import Engine
from pulumi_cli.local_stack import ROOT, StackWorkspace, applied_to_cluster, committed_config


def cluster_stack(engine: Engine, workdir: str, rpc_url: str, kubeconfig: str, fleet: dict, config: dict = None, chain_id: int = 31337) -> StackWorkspace:
    """``config`` overrides keys (``keep-cd:`` implied); ``use_kubeconfig`` switches users later."""
    base = dict(committed_config("local"))
    base.update(
        {
            "keep-cd:rpcUrl": rpc_url,
            "keep-cd:chainId": str(chain_id),
            "keep-cd:artifactsDir": os.path.join(ROOT, "build", "keep-core", "artifacts"),
            "keep-cd:fleet": json.dumps(fleet),
        }
    )
    for key, value in (config or {}).items():
        base[key if ":" in key else f"keep-cd:{key}"] = value
    ws = StackWorkspace(
        engine=engine,
        stack="cluster",
        state_dir=os.path.join(workdir, "state"),
        secrets_dir=os.path.join(workdir, "secrets"),
        stack_dir=os.path.join(workdir, "stack"),
        config=base,
        config_source=f"cluster stack in {workdir}",
    )
    return applied_to_cluster(ws, kubeconfig)


def use_kubeconfig(ws: StackWorkspace, kubeconfig: str) -> None:
    """Every later pulumi command of ``ws`` runs as the user of ``kubeconfig``."""
    ws.extra_env["KUBECONFIG"] = kubeconfig


def fleet_of(ws: StackWorkspace) -> dict:
    return json.loads(ws.config["keep-cd:fleet"])


def set_fleet(ws: StackWorkspace, fleet: dict) -> None:
    ws.config["keep-cd:fleet"] = json.dumps(fleet)
    ws.write_config_file()
