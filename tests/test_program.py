"""The Pulumi program under mocks, with the contracts provider running for real against anvil."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time

import dill
import pytest
from web3 import Web3

from bench.offline.runner import InputsRefused, StateFileError, run_stack
from chain.errors import ConfigError
from contracts_step.provider import ContractsMigrationProvider

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_PLAN = os.path.join(ROOT, "tests", "fixtures", "fixture_plan.json")


@pytest.fixture
def program(fresh_anvil, fixture_artifacts, tmp_path, monkeypatch):
    """Run the program on the `local` stack pointed at a fresh anvil and the fixture plan."""
    acct = fresh_anvil.new_account()
    monkeypatch.setenv("KEEP_CD_DEPLOYER_KEY", acct.key.hex())
    state = str(tmp_path / "state.json")
    base = {
        "rpcUrl": fresh_anvil.url,
        "chainId": str(fresh_anvil.chain_id),
        "contractsPlan": FIXTURE_PLAN,
        "artifactsDir": os.path.join(fixture_artifacts, "truffle"),
        "fleet": None,  # the fixture plan deploys no Keep contracts, so the local stack's keep-clients are off
    }

    def run(preview=False, **overrides):
        return run_stack("local", project_dir=ROOT, state_path=state, preview=preview, config_overrides={**base, **overrides})

    run.chain, run.account, run.state = fresh_anvil, acct, state
    return run


def nonce(run):
    return Web3(Web3.HTTPProvider(run.chain.url)).eth.get_transaction_count(run.account.address)


def test_up_exports_address_book_then_nothing_changes(program):
    first = program()
    assert first.dynamic_ops == {"contracts": "create"}
    book = first.outputs["addressBook"]
    assert set(book) == {"MathLib", "Token", "Registry", "Vault", "Consumer"}
    assert first.outputs["deployer"] == program.account.address
    sent = nonce(program)
    second = program()
    assert second.dynamic_ops == {"contracts": "same"}
    assert second.outputs["addressBook"] == book
    assert nonce(program) == sent


def test_preview_never_sends(program):
    preview = program(preview=True)
    assert preview.dynamic_ops == {"contracts": "create"}
    assert nonce(program) == 0
    program()
    sent = nonce(program)
    changed = program(preview=True, planParams=json.dumps({"limit": 99}))
    assert changed.dynamic_ops == {"contracts": "update"}
    assert nonce(program) == sent


def test_lost_code_shows_as_update_in_preview(program):
    program()
    Web3(Web3.HTTPProvider(program.chain.url)).provider.make_request("anvil_setCode", [program().outputs["addressBook"]["Token"], "0x"])
    assert program(preview=True).dynamic_ops == {"contracts": "update"}


def test_wrong_chain_id_fails_in_check(program):
    with pytest.raises(InputsRefused) as e:
        program(chainId="1")
    assert str(e.value).startswith("contracts: chain_id: chain RPC ")
    assert "stack config chainId is 1;" in str(e.value) and "\n" not in str(e.value)
    assert nonce(program) == 0


def test_preview_without_the_deployer_key_reads_as_the_recorded_deployer(program, monkeypatch):
    """A pull request's preview has no key: nothing changed must still read as nothing changed."""
    program()
    monkeypatch.delenv("KEEP_CD_DEPLOYER_KEY")
    assert program(preview=True).dynamic_ops == {"contracts": "same"}


@pytest.mark.parametrize("key", ["0x1234", "0x" + "zz" * 32])
def test_malformed_deployer_key_is_an_error_never_no_key(program, monkeypatch, key):
    """Without a key a preview reads as the recorded deployer; a key that is given but malformed
    must stop it with the key named (not pass as "no key"), and never echo it."""
    program()
    monkeypatch.setenv("KEEP_CD_DEPLOYER_KEY", key)
    for preview in (True, False):
        with pytest.raises(InputsRefused) as e:
            program(preview=preview)
        message = str(e.value)
        assert message.startswith(
            "contracts: deployerPrivateKey: config keep-cd:deployerPrivateKey (from env KEEP_CD_DEPLOYER_KEY): "
            "not a valid secp256k1 private key"
        ), message
        assert key not in message and "\n" not in message


def test_missing_deployer_key_is_a_config_error(program, monkeypatch):
    monkeypatch.delenv("KEEP_CD_DEPLOYER_KEY")
    with pytest.raises(ConfigError, match=r"config keep-cd:deployerPrivateKey: not set"):
        program()


@pytest.mark.parametrize("content", ['{"resources": {"pulumi-python:dynamic', "[]", '{"resources": []}', ""])
def test_corrupt_state_file_is_named_and_the_chain_is_untouched(program, content):
    """A half-written or foreign state file would read as "nothing deployed" and redeploy
    everything: it stops the run before the program starts, naming the file."""
    program()
    w3 = Web3(Web3.HTTPProvider(program.chain.url))
    sent, head = nonce(program), w3.eth.block_number
    with open(program.state, "w") as f:
        f.write(content)
    for preview in (False, True):
        with pytest.raises(StateFileError) as e:
            program(preview=preview)
        first = str(e.value).splitlines()[0]
        assert first.startswith(f"state file {program.state}: not ") and "nothing on the chain was touched" in first
    assert (nonce(program), w3.eth.block_number) == (sent, head)


def test_plan_parameter_of_the_wrong_type_stops_the_program_before_anything_is_sent(program):
    with pytest.raises(ConfigError) as e:
        program(planParams=json.dumps({"limit": "twenty"}))
    assert str(e.value).startswith("config keep-cd:planParams.limit: 'twenty' is not a uint256")
    assert nonce(program) == 0


def test_the_offline_runners_state_holds_no_deployer_key(program):
    """The offline runner's state file (the real engine's export: tests/test_engine_secrets.py)."""
    program()
    assert program.account.key.hex()[2:] not in open(program.state).read()


def test_provider_unpickles_in_a_fresh_process_from_the_project_root(program):
    program()
    with open(program.state) as f:
        provider_str = next(iter(json.load(f)["resources"].values()))["provider"]
    # What the engine does: a new interpreter, cwd = project root, dill.loads of __provider.
    code = "import base64, sys, dill; p = dill.loads(base64.b64decode(sys.stdin.read())); print(type(p).__module__, type(p).__name__)"
    out = subprocess.run([sys.executable, "-c", code], input=provider_str, cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["contracts_step.provider", "ContractsMigrationProvider"]
    assert isinstance(dill.loads(base64.b64decode(provider_str)), ContractsMigrationProvider)


@pytest.mark.parametrize("kind", ["anvil", "geth"])
def test_killed_keep_migration_is_adopted_not_duplicated(kind, anvil_factory, geth_factory, keep_artifacts, tmp_path):
    """1-second blocks on both; on geth, adoption finds the killed run's transactions by scanning
    blocks (it has no eth_getTransactionBySenderAndNonce)."""
    chain = anvil_factory(block_time=1) if kind == "anvil" else geth_factory(period=1)
    acct = chain.new_account()
    w3 = Web3(Web3.HTTPProvider(chain.url))
    state = str(tmp_path / "state.json")
    cmd = [
        sys.executable,
        "-m",
        "bench.offline",
        "local",
        "--state",
        state,
        "--config",
        f"rpcUrl={chain.url}",
        "--config",
        f"chainId={chain.chain_id}",
        "--manifests",
        str(tmp_path / "manifests"),
    ]
    env = {**os.environ, "KEEP_CD_DEPLOYER_KEY": acct.key.hex()}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while w3.eth.get_transaction_count(acct.address, "pending") < 12:  # mid-way through the 32
        assert proc.poll() is None and time.monotonic() < deadline, "migration ended before it could be killed"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not os.path.exists(state), "the killed run must not have recorded anything"
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    book = json.loads(done.stdout)["addressBook"]
    assert len(book) == 26
    assert all(len(w3.eth.get_code(a)) for a in book.values())
    # 26 deploys + 6 calls, then fund + stake + authorize for the local fleet's 3 operators
    # (docs/operators.md): each sent exactly once over both runs.
    assert w3.eth.get_transaction_count(acct.address) == 32 + 3 * 3
    recorded = json.load(open(state))
    migration = next(r for r in recorded["resources"].values() if r["name"] == "contracts")
    decisions = migration["outputs"]["last_run"]["decisions"]
    assert any("adopt" in d for d in decisions)
