"""What stops the real engine before anything is sent, each in one line saying what to do: the
engine missing or failing to build, a plugin of the wrong version, a missing passphrase, a stack
that does not exist, a bad setting, a provider error, and the local chain's port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from eth_account import Account

from bench.chains.anvil import free_port, rpc, start_anvil
from bench.engine.engine import Engine, EngineError, check_plugins
from bench.engine.local_stack import LocalChain, LocalStackError, ensure_local_chain
from engine_stack import engine_or_fail, new_stack, set_config

pytestmark = pytest.mark.engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pulumi_cli(args: list, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.engine", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _path_without(*programs: str) -> str:
    keep = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not any(os.path.exists(os.path.join(d, p)) for p in programs):
            keep.append(d)
    return os.pathsep.join(keep)


def test_an_engine_not_built_says_to_run_make_engine(tmp_path):
    env = {**os.environ, "KEEP_CD_CACHE": str(tmp_path / "empty-cache"), "PATH": _path_without("pulumi")}
    proc = _pulumi_cli(["local", "preview"], env)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "not built" in proc.stderr and "make engine" in proc.stderr


def test_an_engine_that_cannot_build_names_what_is_missing(tmp_path):
    env = {**os.environ, "KEEP_CD_CACHE": str(tmp_path / "empty-cache"), "PATH": _path_without("go", "pulumi")}
    proc = _pulumi_cli(["engine"], env)
    assert proc.returncode == 1
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: building the engine: go: not found on PATH")


def test_a_pulumi_package_whose_provider_version_the_engine_lacks_is_refused(tmp_path):
    site = tmp_path / "project" / ".venv" / "lib" / "python3.11" / "site-packages" / "pulumi_kubernetes"
    site.mkdir(parents=True)
    (site / "pulumi-plugin.json").write_text(json.dumps({"resource": True, "name": "kubernetes", "version": "4.26.0"}))
    engine = engine_or_fail()
    with pytest.raises(EngineError) as e:
        check_plugins(engine, str(tmp_path / "project"))
    assert "pulumi-kubernetes 4.26.0 needs the Kubernetes provider v4.26.0, but the engine has v4.25.0" in str(e.value)
    # The project's own packages match what the engine has.
    check_plugins(engine, ROOT)


def test_without_the_plugin_the_real_engine_stops_and_sends_nothing(tmp_path):
    """Even past keep-cd's own check (a Pulumi home without the provider), the engine refuses to
    load a missing plugin rather than download it, and the preview sends nothing."""
    chain = start_anvil()
    try:
        real = engine_or_fail()
        bare = Engine(real.pulumi, real.version, real.source, real.path_dirs, str(tmp_path / "bare-home"))
        ws = new_stack(bare, str(tmp_path / "stack"), chain.url)
        ws.init()
        ws.write_config_file()
        ws.set_secrets(
            {
                "deployerPrivateKey": Account.create().key.hex(),
                "operatorMnemonic": "test test test test test test test test test test test junk",
            }
        )
        proc = ws.run(["preview"], capture=True, check=False)
        assert proc.returncode != 0
        assert "pulumi-resource-kubernetes" in proc.stdout + proc.stderr and "v4.25.0" in proc.stdout + proc.stderr
    finally:
        chain.stop()


@pytest.fixture
def stack(tmp_path):
    chain = start_anvil()
    ws = new_stack(engine_or_fail(), str(tmp_path), chain.url)
    yield chain, ws
    chain.stop()


def test_a_stack_that_does_not_exist_is_named(stack):
    _chain, ws = stack
    with pytest.raises(LocalStackError) as e:
        ws.prepare(start_chain=False, create=False)
    assert str(e.value) == f"stack local does not exist in {ws.state_dir} yet (run `make local` to create it)"


def test_a_missing_passphrase_file_is_named_before_anything_runs(stack):
    _chain, ws = stack
    ws.prepare(start_chain=False)
    os.remove(ws.passphrase_file)
    with pytest.raises(LocalStackError) as e:
        ws.prepare(start_chain=False)
    assert str(e.value).startswith(f"{ws.passphrase_file}: missing, and stack local's secrets are encrypted with it")


def test_a_wrong_passphrase_is_the_engines_one_line_refusal(stack):
    _chain, ws = stack
    ws.prepare(start_chain=False)
    with open(ws.passphrase_file, "w") as f:
        f.write("not-the-passphrase")
    proc = ws.run(["preview"], capture=True, check=False)
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error:")]
    assert proc.returncode != 0 and errors and "passphrase" in errors[0]


def test_a_bad_setting_is_one_line_naming_its_key(stack):
    _chain, ws = stack
    ws.prepare(start_chain=False)
    set_config(ws, chainId="abc")
    proc = ws.run(["preview"], capture=True, check=False)
    errors = [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("error:")]
    assert (
        proc.returncode != 0 and errors[0] == "error: config keep-cd:chainId: 'abc' is not a positive integer (the chain's id, e.g. 31337)"
    )
    assert "Traceback" not in proc.stdout


def test_a_provider_error_is_one_line_and_nothing_is_sent(stack):
    chain, ws = stack
    ws.prepare(start_chain=False, fund=False)  # the deployer has no ETH
    proc = ws.run(["up", "--yes", "--skip-preview"], capture=True, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stdout
    deployer = Account.from_key(ws.secret("deployer.key", lambda: "")).address
    line = next(line.strip() for line in proc.stdout.splitlines() if f"error: deployer {deployer}" in line)
    assert line.endswith("nothing was sent")
    assert int(rpc(chain.url, "eth_getTransactionCount", [deployer, "latest"]), 16) == 0


def test_a_port_held_by_something_else_is_refused_and_nothing_is_started(tmp_path):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(LocalStackError) as e:
            ensure_local_chain(LocalChain(f"http://127.0.0.1:{port}", 31337, port), log_dir=str(tmp_path))
    assert "held by a process that does not answer JSON-RPC" in str(e.value)
    assert not (tmp_path / "anvil.pid").exists()


def test_a_chain_of_another_id_at_the_url_is_refused(tmp_path):
    other = start_anvil(chain_id=1337)
    try:
        with pytest.raises(LocalStackError) as e:
            ensure_local_chain(LocalChain(other.url, 31337, other.port), log_dir=str(tmp_path))
        assert f"{other.url} answers with chain id 1337, but the stack's keep-cd:chainId is 31337" in str(e.value)
        assert not (tmp_path / "anvil.pid").exists()
    finally:
        other.stop()


def test_a_chain_already_there_is_used_and_not_claimed(tmp_path, capsys):
    there = start_anvil()
    try:
        assert ensure_local_chain(LocalChain(there.url, 31337, there.port), log_dir=str(tmp_path)) is None
        assert "started anvil" not in capsys.readouterr().err
    finally:
        there.stop()


def test_nothing_there_starts_anvil_on_exactly_that_port(tmp_path):
    port = free_port()
    pid = ensure_local_chain(LocalChain(f"http://127.0.0.1:{port}", 31337, port), log_dir=str(tmp_path))
    try:
        assert pid and int(rpc(f"http://127.0.0.1:{port}", "eth_chainId", []), 16) == 31337
        assert (tmp_path / "anvil.pid").read_text() == str(pid)
    finally:
        os.kill(pid, 15)
