"""Running the whole program on the `local` stack with a fleet, against a test anvil."""

from __future__ import annotations

import json
import os

from bench.offline.runner import RunResult, run_stack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL_FLEET = {
    "namespace": "keep-test-fleet",
    "createNamespace": True,
    "image": {"repository": "keepnetwork/keep-client", "tag": "v1.8.0"},
    "initImage": {"repository": "keepnetwork/keep-client-init", "tag": "v1.8.0"},
    "ethereum": {"url": "ws://eth.keep.svc.cluster.local:8546", "urlRpc": "http://eth.keep.svc.cluster.local:8545"},
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
    mnemonic: str | None = None,
    extra: dict | None = None,
    preview: bool = False,
) -> RunResult:
    """The local stack with ``fleet``: its clients run as the local stack's operators, whose keys
    derive from ``mnemonic`` (default: the session's, env KEEP_CD_OPERATOR_MNEMONIC, made at test time)."""
    overrides = {"rpcUrl": rpc_url, "deployerPrivateKey": deployer_key, "fleet": fleet}
    if mnemonic is not None:
        overrides["operatorMnemonic"] = mnemonic
    overrides.update(extra or {})
    return run_stack("local", project_dir=ROOT, state_path=state_path, config_overrides=overrides, preview=preview)


def operator_key(mnemonic: str, client: str) -> bytes:
    """The private key of ``client``'s operator: one per fleet client, HD index from its name."""
    from eth_account import Account

    from hd_paths import operator_hd_path, operator_index

    Account.enable_unaudited_hdwallet_features()
    return bytes(Account.from_mnemonic(mnemonic, account_path=operator_hd_path(operator_index(client))).key)


def by_kind(result: RunResult, kind: str) -> dict:
    """name -> inputs of the captured Kubernetes objects of one kind."""
    return {r.name: r.inputs for r in result.resources if r.type.startswith("kubernetes:") and r.inputs.get("kind") == kind}


def checksums(result: RunResult) -> dict:
    return {n: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for n, d in by_kind(result, "Deployment").items()}
