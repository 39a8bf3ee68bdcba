"""Running the whole program on the `local` stack with a fleet, against a test anvil."""

from __future__ import annotations

import json
import os
from typing import Optional

from offline_stack.runner import RunResult, run_stack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL_FLEET = {
    "namespace": "keep-test-fleet",
    "createNamespace": True,
    "image": {"repository": "keepnetwork/keep-client", "tag": "v1.8.0"},
    "initImage": {"repository": "keepnetwork/keep-client-init", "tag": "v1.8.0"},
    "ethereum": {"url": "ws://eth.keep.svc.cluster.local:8546", "urlRpc": "http://eth.keep.svc.cluster.local:8545"},
    "kdfIterations": 16,
}


def fleet_config(**over) -> dict:
    cfg = json.loads(json.dumps(LOCAL_FLEET))
    cfg.update(over)
    return cfg


def run_fleet(
    rpc_url: str,
    deployer_key: str,
    state_path: str,
    fleet: dict,
    seed: str = "fleet-test-seed",
    extra: Optional[dict] = None,
    preview: bool = False,
) -> RunResult:
    # "operators": None: these tests are about the fleet with its seeded stand-in keys; the fleet run
    # by operator accounts is tests/test_operators_stack.py's.
    overrides = {"rpcUrl": rpc_url, "deployerPrivateKey": deployer_key, "clientKeySeed": seed, "fleet": fleet, "operators": None}
    overrides.update(extra or {})
    return run_stack("local", project_dir=ROOT, state_path=state_path, config_overrides=overrides, preview=preview)


def by_kind(result: RunResult, kind: str) -> dict:
    """name -> inputs of the captured Kubernetes objects of one kind."""
    return {r.name: r.inputs for r in result.resources if r.type.startswith("kubernetes:") and r.inputs.get("kind") == kind}


def checksums(result: RunResult) -> dict:
    return {n: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for n, d in by_kind(result, "Deployment").items()}
