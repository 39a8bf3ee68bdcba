"""The CircleCI pipeline's structure (a CircleCI 2.1 config whose references all resolve, with a
read-only pull-request workflow and a master workflow that deploys), its helper scripts, and
checkov's circleci_pipelines checks with 0 failures."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, ".circleci", "config.yml")
CHECKOV = os.path.join(ROOT, ".venv-checkov", "bin", "checkov")
STACKS = ("keep-dev", "keep-test")
BUILTIN_STEPS = {
    "checkout",
    "run",
    "restore_cache",
    "save_cache",
    "persist_to_workspace",
    "attach_workspace",
    "store_artifacts",
    "store_test_results",
    "setup_remote_docker",
    "add_ssh_keys",
    "when",
    "unless",
}


@pytest.fixture(scope="module")
def config() -> dict:
    with open(CONFIG) as f:
        return yaml.safe_load(f)


def workflow_jobs(config: dict, workflow: str) -> dict:
    """{job name in the workflow: (job type, its settings)}."""
    out: dict[str, tuple[str, dict]] = {}
    for entry in config["workflows"][workflow]["jobs"]:
        if isinstance(entry, str):
            out[entry] = (entry, {})
        else:
            ((job, settings),) = entry.items()
            out[(settings or {}).get("name", job)] = (job, settings or {})
    return out


def requires_closure(jobs: dict, name: str) -> set:
    seen, todo = set(), [name]
    while todo:
        for r in jobs[todo.pop()][1].get("requires", []):
            if r not in seen:
                seen.add(r)
                todo.append(r)
    return seen


def steps_of(config: dict, job: str) -> list:
    """A job's steps with reusable commands expanded (one level deep is all this config uses)."""
    out = []
    for step in config["jobs"][job]["steps"]:
        name = step if isinstance(step, str) else next(iter(step))
        if name in config.get("commands", {}):
            out.extend(config["commands"][name]["steps"])
        else:
            out.append(step)
    return out


def run_commands(config: dict, job: str) -> list:
    out = []
    for step in steps_of(config, job):
        if isinstance(step, dict) and "run" in step:
            run = step["run"]
            out.append(run if isinstance(run, str) else run["command"])
    return out


def test_valid_circleci_2_1(config):
    assert config["version"] == 2.1
    assert set(config) <= {"version", "parameters", "executors", "commands", "jobs", "workflows", "orbs"}
    assert config["workflows"] and config["jobs"]


def test_every_reference_resolves(config):
    for workflow in config["workflows"]:
        jobs = workflow_jobs(config, workflow)
        for name, (job, settings) in jobs.items():
            assert job in config["jobs"] or settings.get("type") == "approval", f"{workflow}: job {job} does not exist"
            for required in settings.get("requires", []):
                assert required in jobs, f"{workflow}: {name} requires unknown {required}"
            if job in config["jobs"]:
                declared = set(config["jobs"][job].get("parameters", {}))
                given = set(settings) - {"name", "requires", "filters", "context", "type"}
                assert given == declared, f"{workflow}: {name} passes {given}, job declares {declared}"
    for job, body in config["jobs"].items():
        assert body.get("executor") in config["executors"], f"job {job}: unknown executor"
        for step in body["steps"]:
            name = step if isinstance(step, str) else next(iter(step))
            assert name in BUILTIN_STEPS or name in config["commands"], f"job {job}: unknown step {name}"
    for command, body in config["commands"].items():
        for step in body["steps"]:
            name = step if isinstance(step, str) else next(iter(step))
            assert name in BUILTIN_STEPS or name in config["commands"], f"command {command}: unknown step {name}"
    # Every << parameters.x >> / << pipeline.parameters.x >> is declared where it is used.
    text = open(CONFIG).read()
    for p in re.findall(r"<<\s*pipeline\.parameters\.(\w+)\s*>>", text):
        assert p in config["parameters"], p
    for kind in ("jobs", "commands"):
        for name, body in config[kind].items():
            used = set(re.findall(r"<<\s*parameters\.(\w+)\s*>>", yaml.safe_dump(body)))
            assert used <= set(body.get("parameters", {})), f"{kind} {name} uses undeclared {used}"


def test_pull_request_workflow_is_read_only(config):
    jobs = workflow_jobs(config, "pull-request")
    kinds = {job for job, _ in jobs.values()}
    assert kinds == {"test", "preview"}, kinds  # no build, publish or deploy job
    for name, (_, settings) in jobs.items():
        assert settings["filters"]["branches"] == {"ignore": "master"}, name
        assert settings.get("context", "-preview").endswith("-preview"), f"{name} runs with a write context"
    previews = {settings["stack"]: settings for job, settings in jobs.values() if job == "preview"}
    assert set(previews) == set(STACKS)
    assert {s["context"] for s in previews.values()} == {f"{stack}-preview" for stack in STACKS}
    assert all("test" in s["requires"] for s in previews.values())
    commands = "\n".join(run_commands(config, "preview"))
    assert "pulumi up" not in commands and "pin-images" not in commands and "publish-images" not in commands


def test_preview_job_stores_diff_and_change_report(config):
    commands = run_commands(config, "preview")
    preview = next(c for c in commands if "pulumi preview" in c)
    report = next(c for c in commands if "bench.ci.change_report" in c)
    assert '--stack "<< parameters.stack >>"' in preview and "--diff" in preview
    assert "build/reports/" in preview and "tee" in preview
    assert re.search(r"-m bench.ci.change_report \"<< parameters\.stack >>\"", report)
    assert "build/reports/" in report
    artifacts = [s["store_artifacts"] for s in steps_of(config, "preview") if isinstance(s, dict) and "store_artifacts" in s]
    assert artifacts and artifacts[0]["path"] == "build/reports"
    # The diff and the report both read the chain: the port-forward comes first.
    forward = next(i for i, c in enumerate(commands) if "chain-port-forward.sh" in c)
    assert forward < commands.index(preview) and forward < commands.index(report)


def test_master_workflow_deploys_dev_then_test_after_approval(config):
    jobs = workflow_jobs(config, "master")
    for name, (_, settings) in jobs.items():
        assert settings["filters"]["branches"] == {"only": "master"}, name
    assert jobs["approve-keep-test"][1]["type"] == "approval"
    deploys = {settings["stack"]: name for name, (job, settings) in jobs.items() if job == "deploy"}
    assert set(deploys) == set(STACKS)
    for stack, name in deploys.items():
        settings = jobs[name][1]
        assert settings["context"] == stack  # the deployer identity of that environment only
        before = requires_closure(jobs, name)
        assert {"test", "build-images", f"publish-images-{stack}"} <= before
        assert jobs[f"publish-images-{stack}"][1]["context"] == stack
    assert "approve-keep-test" in requires_closure(jobs, deploys["keep-test"])
    assert "approve-keep-test" not in requires_closure(jobs, deploys["keep-dev"])
    assert "build-images" not in {job for job, s in jobs.values() if s.get("context")}  # builds hold no credentials


def test_deploy_pins_digests_before_pulumi_up(config):
    commands = run_commands(config, "deploy")
    pin = next(i for i, c in enumerate(commands) if "scripts/ci/pin-images.sh" in c)
    up = next(i for i, c in enumerate(commands) if "pulumi up" in c)
    forward = next(i for i, c in enumerate(commands) if "chain-port-forward.sh" in c)
    assert forward < pin < up
    assert "--yes" in commands[up] and '--stack "<< parameters.stack >>"' in commands[up]
    assert any("store_artifacts" in s for s in steps_of(config, "deploy") if isinstance(s, dict))
    publish = "\n".join(run_commands(config, "publish-images"))
    assert '"$CIRCLE_SHA1"' in publish  # tagged with the commit
    assert '"$CIRCLE_SHA1"' in "\n".join(run_commands(config, "build-images"))


def test_caches_are_keyed_on_lock_files(config):
    keys = [s["save_cache"]["key"] for s in config["commands"]["install"]["steps"] if isinstance(s, dict) and "save_cache" in s]
    assert any('checksum "requirements.txt"' in k for k in keys)
    assert any('checksum "package-lock.json"' in k for k in keys)
    assert "~/.cache/pip" in yaml.safe_dump(config["commands"]["install"]) and "~/.npm" in yaml.safe_dump(config["commands"]["install"])
    assert ".ci/run" in run_commands(config, "test")


def test_versions_are_pinned(config):
    for name, executor in config["executors"].items():
        for image in [d["image"] for d in executor.get("docker", [])]:
            assert re.match(r"^[\w./-]+:\d+\.\d+\.\d+(-[\w.]+)?(@sha256:[0-9a-f]{64})?$", image), f"{name}: {image} is not pinned"
        if "machine" in executor:
            assert re.match(r"^[\w-]+:\d{4}\.\d{2}\.\d+$", executor["machine"]["image"]), executor["machine"]
    for job, body in config["jobs"].items():
        assert "docker" not in body and "machine" not in body, f"{job}: images belong in executors (pinned there)"
    for orb, ref in (config.get("orbs") or {}).items():
        assert re.match(r"^[\w-]+/[\w-]+@\d+\.\d+\.\d+$", ref), f"orb {orb}: {ref} is not an exact version"
    params = config["parameters"]
    # The Pulumi CLI is not downloaded: CI builds the pinned engine (bench.gobuild) like every machine.
    assert "pulumi_version" not in params
    steps = config["commands"]["install-tools"]["steps"]
    engine = next(s["run"]["command"] for s in steps if "run" in s and "make engine" in s["run"]["command"])
    assert 'python3 -m bench.engine env >> "$BASH_ENV"' in engine
    assert re.match(r"^\d+\.\d+\.\d+$", params["gcloud_version"]["default"])
    assert re.match(r"^[0-9a-f]{40}$", params["keep_core_commit"]["default"])


def test_keyless_auth_uses_the_jobs_oidc_token():
    script = open(os.path.join(ROOT, "scripts", "ci", "gcp-auth.sh")).read()
    assert "gcloud iam workload-identity-pools create-cred-config" in script
    assert "$CIRCLE_OIDC_TOKEN" in script and "--credential-source-file" in script


def test_scripts_exist_are_executable_and_parse(config):
    text = open(CONFIG).read()
    scripts = set(re.findall(r"scripts/ci/[\w-]+\.(?:sh|py)", text))
    assert scripts
    for rel in scripts:
        path = os.path.join(ROOT, rel)
        assert os.path.isfile(path), rel
        if rel.endswith(".sh"):
            assert os.access(path, os.X_OK), f"{rel} is not executable"
            subprocess.run(["bash", "-n", path], check=True)


def test_stack_env_for_ci():
    out = subprocess.run([sys.executable, "bench/ci/stack_env.py", "keep-dev"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    env = {k: shlex.split(v)[0] for k, v in env.items()}
    assert env["ACCESS_MODE"] == "keyless" and env["GKE_CLUSTER"] == "keep-dev"
    assert env["IMAGE_REGISTRY"] == f"{env['REGISTRY_HOST']}/{env['GCP_PROJECT']}/keep"
    assert (env["CHAIN_NAMESPACE"], env["CHAIN_SERVICE"], env["CHAIN_PORT"]) == ("default", "eth-tx-node", "8545")
    assert env["DEPLOYER_RPC_URL"] == "http://127.0.0.1:8545" and env["DEPLOYER_RPC_PORT"] == "8545"
    # Sourced by bash as CI does.
    shown = subprocess.run(["bash", "-c", f'{out}\necho "$GCP_PROJECT/$GKE_LOCATION"'], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == f"{env['GCP_PROJECT']}/{env['GKE_LOCATION']}"


def test_stack_env_refuses_a_stack_without_access():
    result = subprocess.run([sys.executable, "bench/ci/stack_env.py", "local"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: stack local: config keep-cd:access is not enabled, so CI has no GCP environment for it"


def test_checkov_circleci_pipelines_has_no_failed_check():
    if not os.path.exists(CHECKOV):
        message = f"{CHECKOV} missing: run `make setup` (installs requirements-checkov.txt into .venv-checkov)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [
            CHECKOV,
            "-d",
            os.path.join(ROOT, ".circleci"),
            "--framework",
            "circleci_pipelines",
            "-o",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],  # no call to checkov's vendor API: this machine reaches package registries only
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = next(r["summary"] for r in reports if r.get("check_type") == "circleci_pipelines")
    failed = [c["check_id"] for r in reports for c in r["results"].get("failed_checks", [])]
    assert failed == [] and summary["failed"] == 0, failed
    assert summary["passed"] > 0 and summary["parsing_errors"] == 0
