"""`pulumi up` killed (the engine, its plugins and their Python, as a killed CI machine would), then
run again: no contract is deployed twice, no operator staked twice, the engine's pending
operations included.  Real CLI, real anvil with one-second blocks so the kill lands mid-run."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from eth_account import Account

from bench.chains.anvil import rpc, start_anvil
from engine_stack import engine_or_fail, kill_tree, new_stack

pytestmark = pytest.mark.engine

MIGRATION_TXS = 26 + 6
STAKING_TXS = 3 * 3  # fund, stake, authorize for each of the local stack's three operators


def _nonce(url: str, address: str, tag: str = "latest") -> int:
    return int(rpc(url, "eth_getTransactionCount", [address, tag]), 16)


def _up_killed_at(ws, chain_url: str, deployer: str, pending_nonce: int) -> int:
    """Start `pulumi up`, kill its whole process tree once the deployer's pending nonce reaches
    ``pending_nonce``; returns the nonce the chain then settles at."""
    proc = subprocess.Popen(
        [ws.engine.pulumi, *ws.args(["up", "--yes", "--skip-preview"])],
        cwd=ws.project_dir,
        env=ws.command_env(["up"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    try:
        while _nonce(chain_url, deployer, "pending") < pending_nonce:
            assert proc.poll() is None, "pulumi up ended before the kill"
            assert time.monotonic() < deadline, "pulumi up never reached the kill point"
            time.sleep(0.02)
    finally:
        kill_tree(proc.pid)
        proc.wait()
    time.sleep(2.5)  # what was in the pool is mined
    return _nonce(chain_url, deployer)


@pytest.mark.parametrize("kill_at,what", [(8, "mid-migration"), (MIGRATION_TXS + 2, "mid-staking")])
def test_killed_up_then_up_again_sends_each_transaction_once(tmp_path, kill_at, what):
    chain = start_anvil(block_time=1)
    try:
        ws = new_stack(engine_or_fail(), str(tmp_path), chain.url)
        ws.prepare(start_chain=False)
        deployer = Account.from_key(ws.secret("deployer.key", lambda: "")).address
        settled = _up_killed_at(ws, chain.url, deployer, kill_at)
        # The staking batch goes out in one request, so a kill after its first transaction may
        # find all of them sent: what matters is that the engine had not recorded the step.
        assert kill_at <= settled <= MIGRATION_TXS + STAKING_TXS, f"the kill ({what}) landed at nonce {settled}"
        recorded = json.loads(ws.run(["stack", "export"], capture=True).stdout)["deployment"].get("resources") or []
        step = "::contracts" if what == "mid-migration" else "::operator-stakes"
        assert not any(r["urn"].endswith(step) for r in recorded), f"the kill ({what}) came after the engine recorded {step}"
        # The killed engine left its lock: the next run says what to run, in one line.
        locked = ws.run(["up", "--yes", "--skip-preview"], capture=True, check=False)
        assert locked.returncode != 0 and "pulumi cancel" in locked.stdout + locked.stderr
        ws.run(["cancel", "--yes"], capture=True)
        done = ws.run(["up", "--yes", "--skip-preview"], capture=True, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert _nonce(chain.url, deployer) == MIGRATION_TXS + STAKING_TXS
        outputs = ws.outputs()
        assert all(len(rpc(chain.url, "eth_getCode", [a, "latest"])) > 2 for a in outputs["addressBook"].values())
        assert all(s["staked"] and s["authorized"] for s in outputs["operatorStakes"].values())
        again = ws.run(["up", "--yes", "--skip-preview"], capture=True)
        assert "unchanged" in again.stdout and _nonce(chain.url, deployer) == MIGRATION_TXS + STAKING_TXS
    finally:
        chain.stop()
