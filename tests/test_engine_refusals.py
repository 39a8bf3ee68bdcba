"""Bad stack settings on a deployed stack, under the real `pulumi up`, as a new user would write
them: each is refused in one short `error:` line naming the key or file at fault, with no Python
traceback and nothing sent, and the good config afterwards changes nothing.  A bug of ours (an
exception that is not a keep-cd refusal) keeps its traceback."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from eth_account import Account

from bench.chains.anvil import rpc, start_anvil
from engine_stack import engine_or_fail, new_stack, set_config, up_steps

pytestmark = pytest.mark.engine

# The engine's own lines around a failure: they say that it failed, not why.
GENERIC = (
    "error: update failed",
    "error: resource monitor has terminated, shutting down",
)
# A line that names the key and says what was expected, and no value of the size of the plan.
SHORT = 300


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """The local stack's config on its own anvil, brought up once: contracts, operators, fleet."""
    chain = start_anvil()
    try:
        ws = new_stack(engine_or_fail(), str(tmp_path_factory.mktemp("refusals")), chain.url)
        ws.prepare(start_chain=False)
        assert up_steps(ws)  # created everything
        yield chain, ws
    finally:
        chain.stop()


def _block(chain) -> int:
    return int(rpc(chain.url, "eth_blockNumber", []), 16)


def _errors(output: str) -> list:
    """The `error:` lines of the update's diagnostics that say more than that it failed."""
    lines = [line.strip() for line in output.splitlines() if line.strip().startswith("error:")]
    return [line for line in lines if line.lower() not in GENERIC]


def refused_up(chain, ws) -> tuple:
    """`pulumi up` with the stack's current config: (its one specific error line, all its output),
    after checking that it failed, printed no traceback and sent nothing (anvil mines a block for
    every transaction and no other)."""
    before = _block(chain)
    proc = ws.run(["up", "--yes", "--skip-preview"], capture=True, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    errors = _errors(output)
    assert len(errors) == 1, errors
    assert _block(chain) == before
    return errors[0], output


@contextmanager
def changed(ws, **config) -> Iterator[None]:
    """The stack with these plain keep-cd keys changed; the good config back afterwards."""
    good = {key: ws.config.get(f"keep-cd:{key}") for key in config}
    set_config(ws, **config)
    try:
        yield
    finally:
        set_config(ws, **good)


def assert_good_config_changes_nothing(ws) -> None:
    assert up_steps(ws) == {}


def test_an_rpc_url_that_is_no_url_names_rpc_url_not_the_plan(deployed):
    chain, ws = deployed
    with changed(ws, rpcUrl="not-a-url"):
        line, _ = refused_up(chain, ws)
    assert "property rpc_url value {not-a-url} has a problem: config rpcUrl: 'not-a-url' is not an http(s) JSON-RPC URL" in line
    assert len(line) < SHORT, line
    assert_good_config_changes_nothing(ws)


def test_a_refusal_while_a_large_program_still_registers_prints_no_traceback(tmp_path):
    """A new stack of 100 clients with a bad rpcUrl: the migration's check fails while the program
    is still registering the fleet, the engine interrupts the program, and what the SDK had in
    flight ends in a KeyboardInterrupt.  Its page of frames was printed under the stack's
    diagnostics every time (seen three times in three before __main__.quiet_when_interrupted)."""
    from bench.engine.fidelity import ScriptedStack

    chain = start_anvil()
    try:
        stack = ScriptedStack(engine_or_fail(), str(tmp_path / "large"), chain.url, clients=100, bootstrap=10)
        set_config(stack.ws, rpcUrl="not-a-url")
        line, output = refused_up(chain, stack.ws)
    finally:
        chain.stop()
    assert "property rpc_url value {not-a-url} has a problem: config rpcUrl: 'not-a-url' is not an http(s) JSON-RPC URL" in line
    assert "KeyboardInterrupt" not in output


def test_a_missing_artifacts_directory_is_the_programs_one_line(deployed, tmp_path):
    chain, ws = deployed
    missing = str(tmp_path / "no-artifacts")
    with changed(ws, artifactsDir=missing):
        line, _ = refused_up(chain, ws)
    assert line == f"error: artifacts directory {missing}: not found (run `make setup` to fetch the artifacts)"
    assert_good_config_changes_nothing(ws)


def test_a_plan_parameter_of_the_wrong_type_is_the_programs_one_line(deployed):
    chain, ws = deployed
    params = {**ws.config["keep-cd:planParams"], "initializationPeriod": "soon"}
    with changed(ws, planParams=params):
        line, _ = refused_up(chain, ws)
    assert line.startswith("error: config keep-cd:planParams.initializationPeriod: 'soon' is not a uint256 (expected an integer")
    assert len(line) < SHORT, line
    assert_good_config_changes_nothing(ws)


def test_a_key_with_a_typo_is_refused_naming_the_key_meant(deployed):
    chain, ws = deployed
    with changed(ws, chainID="1"):
        line, _ = refused_up(chain, ws)
    assert line.startswith("error: config keep-cd:chainID: unknown key (did you mean keep-cd:chainId? expected one of ")
    assert len(line) < SHORT, line
    assert_good_config_changes_nothing(ws)


def test_an_unknown_secret_key_is_refused_and_its_value_never_shown(deployed):
    chain, ws = deployed
    secret = Account.create().key.hex()
    ws.run(["config", "set", "--secret", "deployerPrivatekey"], capture=True, input_text=secret)
    try:
        line, output = refused_up(chain, ws)
    finally:
        ws.run(["config", "rm", "deployerPrivatekey"], capture=True)
    assert line.startswith(
        "error: config keep-cd:deployerPrivatekey: unknown key (did you mean keep-cd:deployerPrivateKey? expected one of "
    )
    assert secret.removeprefix("0x") not in output
    assert_good_config_changes_nothing(ws)


def test_a_bug_of_ours_keeps_its_traceback(deployed, tmp_path):
    """Only keep-cd's refusals lose their traceback: an exception of any other kind while the
    program is built (here a RuntimeError from the plan loader, put there by a sitecustomize
    on the program's PYTHONPATH) is shown with the frames that raised it."""
    chain, ws = deployed
    (tmp_path / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import contracts_step.plans

            def load_plan(*_args, **_kwargs):
                raise RuntimeError("a bug of keep-cd's, planted by the test")

            contracts_step.plans.load_plan = load_plan
            """
        )
    )
    before = _block(chain)
    ws.extra_env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    try:
        proc = ws.run(["up", "--yes", "--skip-preview"], capture=True, check=False)
    finally:
        ws.extra_env = {}
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" in output and "RuntimeError: a bug of keep-cd's, planted by the test" in output
    assert _block(chain) == before
    assert_good_config_changes_nothing(ws)
