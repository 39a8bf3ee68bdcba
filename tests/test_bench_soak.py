"""The anvil soak (bench/soak) runs and reports every sender."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_soak_reports_each_senders_rounds_and_no_error():
    run = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--senders", "2", "--seconds", "3", "--load", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(report["senders"]) == 2 and report["errors"] == 0
    assert all(s["rounds"] > 0 and s["txs"] == 14 * s["rounds"] for s in report["senders"])
