"""keep-cd's build of the Python language host (bench/gobuild/modules/pulumi/pulumi-language-python)
under the real engine, where it must do what Pulumi's own host does (docs/engine.md lists where the
two differ): a stack with no config at all runs with an empty config; config and secret keys reach
the program; the engine's run arguments do; a program's errors are reported as Pulumi's host reports them
(exit 32: bail, any other code named); a debugger is refused, not ignored."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from engine_stack import engine_or_fail

pytestmark = pytest.mark.engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROGRAM = """
import json, os, sys
import pulumi
import pulumi.runtime

mode = os.environ.get("HOST_TEST_MODE", "")
if mode == "run-error":
    raise pulumi.RunError("the program's own one-line error")
if mode == "exception":
    raise ValueError("an unhandled exception")
if mode == "crash":
    sys.exit(7)
settings = pulumi.runtime.settings.SETTINGS
pulumi.export("config", json.dumps(dict(pulumi.runtime.config.CONFIG.get()), sort_keys=True))
pulumi.export("secret_keys", sorted(pulumi.runtime.config._SECRET_KEYS.get() or ()))
pulumi.export("project", pulumi.get_project())
pulumi.export("stack", pulumi.get_stack())
pulumi.export("organization", pulumi.get_organization())
pulumi.export("root", settings.root_directory)
pulumi.export("dry_run", settings.dry_run)
pulumi.export("parallel", settings.parallel)
pulumi.export("cwd", os.getcwd())
"""


class Project:
    """A one-file Python project on keep-cd's virtualenv, a file backend and a passphrase."""

    def __init__(self, tmp_path, with_config_file: bool = False):
        self.engine = engine_or_fail()
        self.dir = tmp_path / "project"
        self.dir.mkdir()
        (self.dir / "Pulumi.yaml").write_text(
            f"name: hosttest\nruntime:\n  name: python\n  options:\n    virtualenv: {os.path.join(ROOT, '.venv')}\n"
        )
        (self.dir / "__main__.py").write_text(PROGRAM)
        state = tmp_path / "state"
        state.mkdir()
        self.env = self.engine.env(
            PULUMI_BACKEND_URL=f"file://{state}?metadata=skip", PULUMI_CONFIG_PASSPHRASE="host-test", PULUMI_CONFIG="{}"
        )
        self.env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
        self.run("stack", "init", "dev", "--secrets-provider", "passphrase")

    def run(self, *args: str, mode: str = "") -> subprocess.CompletedProcess:
        env = {**self.env, "HOST_TEST_MODE": mode}
        return subprocess.run([self.engine.pulumi, *args], cwd=self.dir, env=env, capture_output=True, text=True, timeout=300)

    def up(self, mode: str = "") -> subprocess.CompletedProcess:
        return self.run("up", "--yes", "--skip-preview", "--stack", "dev", mode=mode)

    def outputs(self) -> dict:
        return json.loads(self.run("stack", "output", "--json", "--show-secrets", "--stack", "dev").stdout)


def test_a_stack_with_no_config_runs_with_an_empty_config(tmp_path):
    project = Project(tmp_path)
    # The stack's file holds only the salt: the engine sends no config at all (a nil map).
    assert "config" not in (project.dir / "Pulumi.dev.yaml").read_text()
    # The engine's own environment holds PULUMI_CONFIG={} here; the host must not depend on it.
    project.env.pop("PULUMI_CONFIG")
    preview = project.run("preview", "--stack", "dev")
    assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-2000:]
    assert "NoneType" not in preview.stdout
    up = project.up()
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-2000:]
    out = project.outputs()
    assert out["config"] == "{}" and out["secret_keys"] == []


def test_an_ambient_pulumi_config_does_not_reach_a_stack_without_config(tmp_path):
    project = Project(tmp_path)
    project.env["PULUMI_CONFIG"] = json.dumps({"hosttest:leaked": "from the environment"})
    up = project.up()
    assert up.returncode == 0, up.stdout[-3000:]
    assert project.outputs()["config"] == "{}"


def test_config_secret_keys_and_run_arguments_reach_the_program(tmp_path):
    project = Project(tmp_path)
    assert project.run("config", "set", "greeting", "hello", "--stack", "dev").returncode == 0
    assert project.run("config", "set", "--secret", "token", "s3cret", "--stack", "dev").returncode == 0
    up = project.run("up", "--yes", "--skip-preview", "--stack", "dev", "--parallel", "3")
    assert up.returncode == 0, up.stdout[-3000:]
    out = project.outputs()
    assert json.loads(out["config"]) == {"hosttest:greeting": "hello", "hosttest:token": "s3cret"}
    assert out["secret_keys"] == ["hosttest:token"]
    assert (out["project"], out["stack"], out["organization"]) == ("hosttest", "dev", "organization")
    assert out["root"] == str(project.dir) and out["cwd"] == str(project.dir)
    assert out["dry_run"] is False and out["parallel"] == 3


def test_a_programs_errors_are_reported_as_pulumis_host_reports_them(tmp_path):
    project = Project(tmp_path)
    # An unhandled exception: the exec script shows the traceback and exits 32; the host bails, so
    # the engine adds no "non-zero exit code" line of its own.
    failed = project.up(mode="exception")
    assert failed.returncode != 0
    assert "Program failed with an unhandled exception" in failed.stdout and "an unhandled exception" in failed.stdout
    assert "non-zero exit code" not in failed.stdout
    # pulumi.RunError: its message, then exit 1, which the host reports with its code.
    run_error = project.up(mode="run-error")
    assert "error: the program's own one-line error" in run_error.stdout
    assert "program exited with non-zero exit code: 1" in run_error.stdout
    crashed = project.up(mode="crash")
    assert crashed.returncode != 0
    assert "program exited with non-zero exit code: 7" in crashed.stdout


def test_a_debugger_is_refused_not_ignored(tmp_path):
    project = Project(tmp_path)
    proc = project.run("preview", "--stack", "dev", "--attach-debugger")
    assert proc.returncode != 0
    assert "does not attach debuggers" in proc.stdout + proc.stderr
