"""What `make local` and `make test` install, read from make's dry run (-n: nothing runs; -B: as on
a fresh machine, every prerequisite out of date)."""

from __future__ import annotations

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dry_run(target: str) -> str:
    proc = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_local_installs_only_what_the_main_job_needs():
    commands = dry_run("local")
    assert "-r requirements.txt" in commands and "npm ci" in commands and "fetch_keep_artifacts.sh" in commands
    assert "checkov" not in commands  # the security scanner's venv belongs to the tests


def test_make_test_installs_the_scanner_as_well():
    commands = dry_run("test")
    assert "-r requirements.txt" in commands and "-r requirements-checkov.txt" in commands


def test_make_test_builds_the_cluster_and_make_local_only_when_asked():
    assert "bench.gobuild kubernetes etcd kwok" in dry_run("test")
    assert "bench.gobuild kubernetes" not in dry_run("local") and "bench.engine up-local" in dry_run("local")
    proc = subprocess.run(["make", "-n", "-B", "local", "CLUSTER=kwok"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "bench.gobuild kubernetes etcd kwok" in proc.stdout and "bench.cluster up-local --cluster kwok" in proc.stdout
