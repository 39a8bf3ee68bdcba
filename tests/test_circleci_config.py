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


def test_preview_job_reports_from_the_real_preview(config):
    """The change report reads the JSON the real `pulumi preview` wrote; both are stored."""
    commands = run_commands(config, "preview")
    preview = next(c for c in commands if "pulumi preview" in c)
    joined = re.sub(r"\\\n\s*", " ", preview)
    assert '--stack "<< parameters.stack >>"' in joined and "--json" in joined
    written = re.search(r'--non-interactive\s*> "(build/reports/[^"]+\.json)"', joined)
    assert written, joined
    assert f'--preview-json "{written.group(1)}"' in joined and "-m bench.ci.change_report" in joined
    assert written.group(1).startswith("build/reports/") and '| tee "build/reports/' in joined
    artifacts = [s["store_artifacts"] for s in steps_of(config, "preview") if isinstance(s, dict) and "store_artifacts" in s]
    assert artifacts and artifacts[0]["path"] == "build/reports"
    # The preview and the report both read the chain: the port-forward comes first.
    forward = next(i for i, c in enumerate(commands) if "chain-port-forward.sh" in c)
    assert forward < commands.index(preview)


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
    # Tools are installed at the versions of their one home: the Pulumi CLI at the Python SDK's pin,
    # its Kubernetes plugin at the Kubernetes SDK's, Go at the toolchain bench/gobuild builds with.
    assert not {"pulumi_version", "gcloud_version", "go_version"} & set(config["parameters"])
    out = subprocess.run([sys.executable, "-m", "bench.ci.versions"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    versions = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    requirements = open(os.path.join(ROOT, "requirements.txt")).read()
    assert f"\npulumi=={versions['PULUMI_VERSION']}\n" in f"\n{requirements}"
    assert f"\npulumi-kubernetes=={versions['PULUMI_KUBERNETES_VERSION']}\n" in f"\n{requirements}"
    go_mods = [open(os.path.join(ROOT, "bench", "gobuild", "modules", m, "go.mod")).read() for m in ("geth", "keep-client", "pulumi")]
    for mod in go_mods:  # the installed Go is new enough for every wrapper module's go directive
        need = tuple(int(x) for x in re.search(r"^go (\d+\.\d+(?:\.\d+)?)$", mod, re.M).group(1).split("."))
        assert tuple(int(x) for x in versions["GO_VERSION"].split(".")) >= need
    script = open(os.path.join(ROOT, "scripts", "ci", "install-tools.sh")).read()
    assert 'eval "$(python3 -m bench.ci.versions)"' in script
    assert 'get.pulumi.com | sh -s -- --version "$PULUMI_VERSION"' in script
    assert 'pulumi plugin install resource kubernetes "v$PULUMI_KUBERNETES_VERSION"' in script
    assert "go${GO_VERSION}.linux-amd64.tar.gz" in script
    assert re.match(r"^[0-9a-f]{40}$", config["parameters"]["keep_core_commit"]["default"])


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
    out = subprocess.run(
        [sys.executable, "-m", "bench.ci.stack_env", "keep-dev"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
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
    result = subprocess.run([sys.executable, "-m", "bench.ci.stack_env", "local"], cwd=ROOT, capture_output=True, text=True)
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


# -- every command's tool is provided --------------------------------------------------------------
# What each executor's image provides (CircleCI's published contents of these images), and what
# each `install-tools` tool installs (scripts/ci/install-tools.sh).  `install` (make setup) makes
# the project's .venv.
IMAGE_PROVIDES = {
    "cimg/python:3.11.7-node": {"bash", "python3", "node", "npm", "git", "make", "curl", "tar", "sudo", "apt-get", "gcc", "ssh"},
    "ubuntu-2204:2024.05.1": {
        "bash",
        "python3",
        "pyenv",
        "node",
        "npm",
        "git",
        "make",
        "curl",
        "tar",
        "sudo",
        "apt-get",
        "gcc",
        "ssh",
        "docker",
    },
}
INSTALLED_BY = {"python": {"python3.11"}, "go": {"go"}, "pulumi": {"pulumi"}, "gcloud": {"gcloud", "kubectl"}, "bwrap": {"bwrap"}}
# The tools this check knows; any other word in command position is a shell builtin or coreutils.
TOOLS = {"python3", "python3.11", "node", "npm", "make", "curl", "git", "gcc", "ssh", "docker", "pyenv", "sudo", "apt-get"}
TOOLS |= {"go", "pulumi", "gcloud", "kubectl", "bwrap", "venv"}
# What a Python module run as `-m MODULE` needs beyond Python: Go builds (cgo for the keep-client),
# the engine (an installed Pulumi CLI, or Go to build it), the test suite (the fleet's sandbox).
MODULE_NEEDS = {"bench.gobuild": {"go", "gcc"}, "bench.engine": {"pulumi|go"}, "pytest": {"bwrap", "pulumi|go"}}
WRAPPERS = {"sudo", "$sudo", "exec", "env", "time", "command"}


def _segments(text: str) -> list:
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        out += [seg.strip() for seg in re.split(r"&&|\|\||;|\||\$\(|\(|\)|\bthen\b|\bdo\b|\belse\b", line) if seg.strip()]
    return out


def _makefile_targets() -> dict:
    """target -> (prerequisites, recipe text) of the Makefile."""
    targets: dict = {}
    current = None
    for line in open(os.path.join(ROOT, "Makefile")):
        m = re.match(r"^([\w./$()-]+):(?!=)\s*(.*)$", line)
        if m:
            current = m.group(1)
            targets[current] = (m.group(2).split(), [])
        elif line.startswith("\t") and current:
            targets[current][1].append(line.strip())
    return targets


def needs_of(text: str, seen: set | None = None) -> set:
    """The tools a shell text runs: commands in command position, scripts and make targets followed."""
    seen = set() if seen is None else seen
    needs: set = set()
    for seg in _segments(text):
        words = [w for w in seg.split() if not re.match(r"^\w+=", w)]
        while words and words[0] in WRAPPERS:
            words = words[1:] if words[0] != "command" else []
        if not words:
            continue
        cmd = words[0].strip("\"'")
        if cmd == ".venv/bin/python":
            needs |= {"python3", "venv"}
        elif cmd in ("python3", "python"):
            needs.add("python3")
        elif cmd.startswith(".venv/bin/"):
            needs.add("venv")
        elif cmd == "make":
            for target in [w for w in words[1:] if not w.startswith("-") and "=" not in w] or ["local"]:
                needs |= _make_needs(target, seen)
            needs.add("make")
        elif cmd.startswith(("scripts/", ".ci/")) and cmd not in seen:
            seen.add(cmd)
            needs |= needs_of(open(os.path.join(ROOT, cmd)).read(), seen)
        elif cmd in TOOLS:
            needs.add(cmd)
        if "-m" in words:
            module = words[words.index("-m") + 1] if words.index("-m") + 1 < len(words) else ""
            for prefix, extra in MODULE_NEEDS.items():
                if module == prefix or module.startswith(prefix + "."):
                    needs |= extra
    return needs


def _make_needs(target: str, seen: set) -> set:
    if f"make:{target}" in seen:
        return set()
    seen.add(f"make:{target}")
    targets = _makefile_targets()
    if target not in targets:
        return set()
    prereqs, recipe = targets[target]
    text = "\n".join(line.lstrip("-@") for line in recipe)
    for var, value in (("$(PY)", ".venv/bin/python"), ("$(PYTHON)", "python3"), ("$(VENV)/bin/", ".venv/bin/")):
        text = text.replace(var, value)
    needs = needs_of(text, seen)
    for p in prereqs:
        needs |= _make_needs(p, seen)
    return needs


def _provided(have: set, need: str) -> bool:
    return any(n in have for n in need.split("|"))


def tool_gaps(config: dict, job: str) -> list:
    executor = config["executors"][config["jobs"][job]["executor"]]
    image = (executor.get("docker") or [{}])[0].get("image") or executor.get("machine", {}).get("image")
    have = set(IMAGE_PROVIDES[image])
    gaps = []
    for step in config["jobs"][job]["steps"]:
        name = step if isinstance(step, str) else next(iter(step))
        args = {} if isinstance(step, str) else (step[name] or {})
        if name == "install-tools":
            for tool in args["tools"].split():
                have |= INSTALLED_BY[tool]
            if "python3.11" in have:
                have.add("python3")
            continue
        if name == "install":  # make setup makes the venv it then installs into
            have.add("venv")
        body = config["commands"][name]["steps"] if name in config.get("commands", {}) else [step]
        for sub in body:
            if isinstance(sub, dict) and "run" in sub:
                run = sub["run"] if isinstance(sub["run"], str) else sub["run"]["command"]
                gaps += [f"{job}: `{run.splitlines()[0]}` needs {need}" for need in sorted(needs_of(run)) if not _provided(have, need)]
    return gaps


def test_every_job_has_the_tools_its_commands_run(config):
    assert {job: tool_gaps(config, job) for job in config["jobs"] if tool_gaps(config, job)} == {}


def test_the_tool_check_sees_a_missing_tool(config):
    """Without Go, the test job's `make test` (geth, the cluster, the keep-client) is a gap; so is
    a preview without the Pulumi CLI.  (Else the check above could not fail.)"""
    import copy

    broken = copy.deepcopy(config)
    step = next(s for s in broken["jobs"]["test"]["steps"] if isinstance(s, dict) and "install-tools" in s)
    step["install-tools"]["tools"] = step["install-tools"]["tools"].replace("go", "").replace("pulumi", "")
    assert any("needs go" in gap for gap in tool_gaps(broken, "test"))
    step = next(s for s in broken["jobs"]["preview"]["steps"] if isinstance(s, dict) and "install-tools" in s)
    step["install-tools"]["tools"] = "gcloud"
    assert any("`mkdir -p build/reports` needs pulumi" in gap for gap in tool_gaps(broken, "preview"))
    assert {"go", "gcc", "bwrap", "python3", "npm"} <= needs_of(".ci/run")
