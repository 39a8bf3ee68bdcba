"""`python -m bench preview` runs end to end and reports what docs/fleet.md quotes."""

import subprocess
import sys

from bench_run import ROOT, last_json


def test_bench_preview_prints_one_json_object_last():
    result = last_json("bench", "preview", "--clients", "20", "--repeat", "1", "--json", timeout=300)
    # contracts + KeepNetwork + NetworkPolicy + the local stack's YAML-rendering provider + the
    # clients' OperatorAccounts and operator-stakes, then per client: component, ConfigMap, Secret,
    # PVC, Service, Deployment
    assert (result["clients"], result["resources"], result["resources_10"]) == (20, 7 + 6 * 20, 7 + 6 * 10)
    assert result["baseline_resources"] == 1
    assert 0 < result["baseline_seconds"] < result["seconds_10"] < result["seconds"]


def test_bench_dispatcher_names_the_benchmarks_on_bad_input():
    proc = subprocess.run([sys.executable, "-m", "bench", "nope"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "preview" in proc.stderr
