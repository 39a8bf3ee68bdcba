"""Nothing left behind in the system temp directory: the benchmarks, and the test suite itself
(the change report's own check is in test_change_report.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def left_in(directory) -> list:
    return sorted(os.path.relpath(os.path.join(d, n), directory) for d, dirs, files in os.walk(directory) for n in dirs + files)


def run_with_tmpdir(tmp, *args, timeout=600) -> subprocess.CompletedProcess:
    env = {**os.environ, "TMPDIR": str(tmp)}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_bench_migrate_leaves_no_state_in_the_temp_directory(tmp_path):
    """Automining (block time 0) keeps it short; the figures are not what is checked here."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = run_with_tmpdir(tmp, "-m", "bench", "migrate", "--block-time", "0", "--json")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["txs"] == result["baseline_txs"] == 32, proc.stderr[-2000:]
    assert left_in(tmp) == []


def test_a_passing_test_session_leaves_nothing_in_the_temp_directory(tmp_path):
    """pytest keeps the tmp_path of failed tests only (pytest.ini), and the session removes its
    own empty base directories (tests/conftest.py)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = run_with_tmpdir(tmp, "-m", "pytest", "-q", "tests/test_artifacts.py", "-k", "invalid_artifact", timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "4 passed" in proc.stdout
    assert left_in(tmp) == []
