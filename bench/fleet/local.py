"""The fleet of the ``local`` stack (`make local FLEET=run`, `make stop-fleet`): its manifests are
where the stack renders them, its runs go beside the stack's other state under build/."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from bench.engine.local_stack import LOCAL_CHAINS, ROOT, StackWorkspace, local_workspace
from keep_contracts.names import CLIENT_RELEASE

from .observe import FleetView, observe
from .pods import FleetInputError, read_fleet
from .runner import FleetRun, start_fleet, stop_pids

DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment"
CONNECT_TIMEOUT = 90.0


@dataclass(frozen=True)
class LocalFleet:
    manifests: str  # renderYamlToDirectory of the stack
    directory: str  # where runs keep volumes, logs and pids


def local_fleet(ws: StackWorkspace, state_root: str) -> LocalFleet:
    rendered = ws.config.get("keep-cd:renderYamlToDirectory")
    if not rendered:
        raise FleetInputError(
            f"stack {ws.stack}: keep-cd:renderYamlToDirectory is unset (expected the directory its manifests are rendered to)"
        )
    return LocalFleet(manifests=os.path.join(ROOT, rendered), directory=os.path.join(state_root, "fleet"))


def deployed_annotations(ws: StackWorkspace) -> dict[str, dict]:
    """Each keep-client Deployment of the stack's last update: its pod template's annotations."""
    state = json.loads(ws.run(["stack", "export"], capture=True).stdout or "{}")
    found = {}
    for resource in (state.get("deployment") or {}).get("resources") or []:
        if resource.get("type") != DEPLOYMENT_TYPE:
            continue
        outputs = resource.get("outputs") or {}
        name = (outputs.get("metadata") or {}).get("name")
        template = ((outputs.get("spec") or {}).get("template") or {}).get("metadata") or {}
        if name:
            found[name] = dict(template.get("annotations") or {})
    return found


def staked_operators(ws: StackWorkspace) -> set:
    """The stack's operators that its last update found staked and authorized (output
    ``operatorStakes``: client name -> what the chain said of its operator)."""
    stakes = ws.outputs().get("operatorStakes") or {}
    return {str(s["address"]).lower() for s in stakes.values() if s.get("staked") and s.get("authorized")}


def run_fleet(
    ws: StackWorkspace, where: LocalFleet, *, say: Callable[[str], None] = print, timeout: float = CONNECT_TIMEOUT
) -> tuple[FleetRun, FleetView, float | None]:
    """Start the stack's rendered fleet and wait until every client is connected."""
    run = start_fleet(where.manifests, where.directory, deployed=deployed_annotations(ws), release=CLIENT_RELEASE, say=say)
    pods = [c.pod for c in run.clients]
    view, seconds = observe(pods, timeout, since=run.last_started)
    return run, view, seconds


def main_run(chain: str) -> int:
    from bench.engine.engine import locate_engine

    spec = LOCAL_CHAINS[chain]
    ws = local_workspace(locate_engine(), chain)
    where = local_fleet(ws, spec["dir"])
    _run, view, seconds = run_fleet(ws, where, say=lambda m: print(m, file=sys.stderr))
    staked = staked_operators(ws)
    summary = {
        "clients": view.to_json(),
        "connected": len(view.connected()),
        "seconds_to_connected": None if seconds is None else round(seconds, 2),
        "operators_matched": view.operators_matched(staked),
        "peer_ids_as_rendered": view.peer_ids_as_rendered(),
    }
    print(json.dumps(summary, indent=1))
    ok = view.all_connected() and summary["operators_matched"]
    print(
        f"fleet: {len(view.connected())}/{len(view.clients)} clients connected"
        + (f" in {seconds:.1f} s" if seconds is not None else "")
        + f"; logs under {where.directory}; `make stop-fleet` stops them",
        file=sys.stderr,
    )
    return 0 if ok else 1


def main_stop(chain: str | None) -> int:
    for name in [chain] if chain else list(LOCAL_CHAINS):
        directory = os.path.join(LOCAL_CHAINS[name]["dir"], "fleet")
        stopped = stop_pids(directory)
        if stopped:
            print(f"fleet: stopped {', '.join(sorted(stopped))} ({directory})", file=sys.stderr)
    return 0


def main_status(chain: str) -> int:
    from bench.engine.engine import locate_engine

    ws = local_workspace(locate_engine(), chain)
    where = local_fleet(ws, LOCAL_CHAINS[chain]["dir"])
    pods = list(read_fleet(where.manifests).pods)
    view, _ = observe(pods, timeout=0, want_gauges=False)
    print(json.dumps({"clients": view.to_json(), "connected": len(view.connected())}, indent=1))
    return 0
