"""The offline runner (mocks; what the fast tests and the benchmarks use) agrees
with the real engine on the local stack: the same deployer key and operators' mnemonic on two fresh
chains give byte-identical manifests (the runner's writer against the Kubernetes provider's own
renderYamlToDirectory) and equal stack outputs."""

from __future__ import annotations

import os

import pytest
from eth_account import Account

from bench.chains.anvil import start_anvil
from bench.offline.manifests import MANIFEST_DIR, write_manifests
from bench.offline.runner import run_stack
from engine_stack import engine_or_fail, new_stack, up_steps

pytestmark = pytest.mark.engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Block timestamps differ between two chains, and with them when a stake becomes eligible.
TIME_DEPENDENT = ("eligible", "eligible_from")


def _files(directory: str) -> dict:
    out = {}
    for name in sorted(os.listdir(os.path.join(directory, MANIFEST_DIR))):
        with open(os.path.join(directory, MANIFEST_DIR, name), "rb") as f:
            out[name] = f.read()
    return out


def _without_time(outputs: dict) -> dict:
    stakes = {n: {k: v for k, v in s.items() if k not in TIME_DEPENDENT} for n, s in outputs.get("operatorStakes", {}).items()}
    return {**outputs, "operatorStakes": stakes}


def test_offline_runner_and_engine_render_the_same_bytes_and_outputs(tmp_path, monkeypatch):
    key = Account.create().key.hex()
    Account.enable_unaudited_hdwallet_features()
    mnemonic = Account.create_with_mnemonic()[1]
    engine_chain, offline_chain = start_anvil(), start_anvil()
    try:
        for chain in (engine_chain, offline_chain):
            chain.fund(Account.from_key(key).address, 10**22)
        ws = new_stack(engine_or_fail(), str(tmp_path / "engine"), engine_chain.url)
        ws.secret("deployer.key", lambda: key)
        ws.secret("operators.mnemonic", lambda: mnemonic)
        ws.prepare(start_chain=False, fund=False)
        up_steps(ws)
        engine_outputs = ws.outputs(show_secrets=True)

        monkeypatch.setenv("KEEP_CD_DEPLOYER_KEY", key)
        monkeypatch.setenv("KEEP_CD_OPERATOR_MNEMONIC", mnemonic)
        result = run_stack(
            "local", project_dir=ROOT, state_path=str(tmp_path / "offline-state.json"), config_overrides={"rpcUrl": offline_chain.url}
        )
        write_manifests(result.resources, str(tmp_path / "offline"))
    finally:
        engine_chain.stop()
        offline_chain.stop()
    engine_files, offline_files = _files(str(tmp_path / "engine" / "manifests")), _files(str(tmp_path / "offline"))
    assert sorted(engine_files) == sorted(offline_files)
    assert len(engine_files) == 17
    for name in engine_files:
        assert offline_files[name] == engine_files[name], name
    assert _without_time(result.outputs) == _without_time(engine_outputs)
