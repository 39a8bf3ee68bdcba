"""`python -m bench cluster` runs end to end (3 clients, to keep the suite fast), prints its JSON
last and leaves nothing in the system temp directory (the cluster's and the stack's directories
included)."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.cluster]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_cluster_small_run(tmp_path):
    from test_nothing_left_behind import left_in, run_with_tmpdir

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = run_with_tmpdir(tmp, "-m", "bench", "cluster", "--clients", "3", "--json", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["server"] == "v1.36.3" and result["clients"] == 3 and result["bootstrap_clients"] == 1
    assert result["available"] == 3 and result["bootstrap_first"] is True and result["forbidden"] == 0
    assert result["rolled_one"] == 1 and result["rolled_one_names"] == ["keep-standard-1"] and result["nochange_rolled"] == 0
    assert result["up_seconds"] > 0 and result["nochange_seconds"] > 0
    # The same 3 clients' objects (ConfigMap, Secret, claim, Service, Deployment each) applied at once.
    assert result["baseline_objects"] == 15 and result["baseline_available"] == 3
    assert left_in(tmp) == []


def test_bench_cluster_rejects_a_bad_count():
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "cluster", "--clients", "1"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "--clients" in proc.stderr
