"""`python -m bench fleet` runs end to end (small, to keep the suite fast) and prints its JSON last."""

import subprocess
import sys

import pytest

from bench_run import ROOT, last_json

# Gas per operator (fund + stake + authorize): geth --dev's rules charge ~3x anvil's (docs/geth.md).
GAS_PER_OPERATOR = {"anvil": (200_000, 300_000), "geth": (600_000, 800_000)}


@pytest.mark.parametrize("chain", ["anvil", "geth"])
def test_bench_fleet_small_run(chain):
    result = last_json("bench", "fleet", "--chain", chain, "--operators", "4", "--json", timeout=300)
    for key in (
        "operators",
        "txs",
        "blocks",
        "seconds",
        "gas",
        "block_gas_limit",
        "rfc_blocks",
        "rfc_seconds",
        "rfc_failures",
        "rerun_txs",
    ):
        assert key in result, key
    assert result["chain"] == chain
    assert result["operators"] == 4 and result["txs"] == 12 and result["rfc_txs"] == 12
    assert result["rerun_txs"] == 0 and result["rfc_unprovisioned"] == 0
    assert result["blocks"] <= result["target_blocks"]
    low, high = GAS_PER_OPERATOR[chain]
    assert 4 * low < result["gas"] < 4 * high


def test_bench_fleet_rejects_a_bad_count():
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "fleet", "--operators", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "--operators" in proc.stderr
