"""The contracts provider's check: each refusal names the input its bad value came from.

The engine prints a check failure as "property <input> value <the input's value> has a problem:
<reason>", so the input named is what the user reads first, and its value is printed in full: a
refusal must name the small input that holds the bad value (rpc_url, chain_id, artifacts_dir,
params, plan_name), never ``plan``, the whole migration plan.  Read-only: nothing here sends.
"""

from __future__ import annotations

import pytest

from bench.chains.anvil import free_port, start_anvil
from contracts_step.plans import load_plan
from contracts_step.provider import ContractsMigrationProvider

# Longer than any of the small inputs with a value of its own, far shorter than the plan (thousands).
SMALL = 300


@pytest.fixture(scope="module")
def anvil():
    chain = start_anvil()
    yield chain
    chain.stop()


@pytest.fixture
def news(anvil, keep_artifacts, monkeypatch):
    """The contracts resource's inputs for the keep plan on anvil, as the program passes them."""
    monkeypatch.delenv("KEEP_CD_DEPLOYER_KEY", raising=False)  # keyless: check reads, never sends
    plan, params = load_plan("keep")
    return {
        "plan_name": plan.name,
        "plan": plan.to_dict(),
        "params": dict(params),
        "artifacts_dir": keep_artifacts,
        "rpc_url": anvil.url,
        "chain_id": anvil.chain_id,
    }


def failure(news: dict) -> tuple:
    """(input, reason) of check's one failure, after checking the input is one of the resource's and small."""
    failures = ContractsMigrationProvider().check({}, news).failures
    assert len(failures) == 1, failures
    prop, reason = failures[0].property, failures[0].reason
    assert prop in news and len(repr(news[prop])) < SMALL, f"{prop}: {str(news.get(prop))[:200]}"
    assert "\n" not in reason
    return prop, reason


def test_good_inputs_pass(news):
    assert ContractsMigrationProvider().check({}, news).failures == []


def test_an_rpc_url_that_is_no_url_is_the_rpc_urls(news):
    news["rpc_url"] = "not-a-url"
    prop, reason = failure(news)
    assert prop == "rpc_url" and "rpcUrl" in reason and "'not-a-url'" in reason


def test_an_rpc_url_where_nothing_answers_is_the_rpc_urls(news):
    news["rpc_url"] = f"http://127.0.0.1:{free_port()}"
    prop, reason = failure(news)
    assert prop == "rpc_url" and reason.startswith(f"chain RPC {news['rpc_url']}: unreachable")


def test_another_chain_id_is_the_chain_ids(news):
    news["chain_id"] = 1
    prop, reason = failure(news)
    assert prop == "chain_id" and "chain id is 31337, stack config chainId is 1" in reason


def test_a_missing_artifacts_directory_is_the_artifacts_dirs(news, tmp_path):
    news["artifacts_dir"] = str(tmp_path / "missing")
    prop, reason = failure(news)
    assert prop == "artifacts_dir" and reason.startswith(f"artifacts directory {tmp_path / 'missing'}: not found")


def test_a_plan_parameter_of_the_wrong_type_is_the_params(news):
    news["params"]["initializationPeriod"] = "soon"
    prop, reason = failure(news)
    assert prop == "params" and reason.startswith("config keep-cd:planParams.initializationPeriod: 'soon' is not")


def test_a_plan_parameter_not_set_is_the_params(news):
    del news["params"]["initializationPeriod"]
    prop, reason = failure(news)
    assert prop == "params" and "needs plan parameter 'initializationPeriod', which is not set" in reason


def test_a_plan_that_does_not_resolve_is_named_by_its_name(news):
    news["plan"]["deploys"].append(news["plan"]["deploys"][0])
    prop, reason = failure(news)
    assert prop == "plan_name" and "is deployed twice" in reason
