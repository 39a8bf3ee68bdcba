"""The change report on scripted changes: it names what would change and why, and sends nothing."""

from __future__ import annotations

import json
import os

import pytest
from web3 import Web3

from offline_stack.change_report import change_report
from offline_stack.runner import run_stack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_PLAN = os.path.join(ROOT, "tests", "fixtures", "fixture_plan.json")


@pytest.fixture
def deployed(fresh_anvil, editable_sources, tmp_path, monkeypatch):
    src, build = editable_sources
    acct = fresh_anvil.new_account()
    monkeypatch.setenv("KEEP_CD_DEPLOYER_KEY", acct.key.hex())
    state = str(tmp_path / "state.json")
    config = {"rpcUrl": fresh_anvil.url, "chainId": "31337", "contractsPlan": FIXTURE_PLAN, "artifactsDir": build()}
    run_stack("local", project_dir=ROOT, state_path=state, config_overrides=config)
    w3 = Web3(Web3.HTTPProvider(fresh_anvil.url))

    def report(**overrides):
        sent = w3.eth.get_transaction_count(acct.address)
        lines = change_report("local", project_dir=ROOT, state_path=state, config_overrides={**config, **overrides})
        assert w3.eth.get_transaction_count(acct.address) == sent, "the report must send nothing"
        return lines

    report.source, report.build = src / "Fixtures.sol", build
    return report


def test_nothing_changed(deployed):
    lines = deployed()
    assert lines[1].startswith("nothing changed")


def test_source_edit(deployed):
    deployed.source.write_text(deployed.source.read_text().replace("contract Consumer {", "contract Consumer {\n    uint256 public edited = 1;"))
    deployed.build()
    text = "\n".join(deployed())
    assert "deploy   contract Consumer: bytecode changed" in text
    assert "send     call     Registry.approve: Consumer is (re)deployed" in text
    assert "reuse    contract Vault" in text


def test_constructor_arg(deployed):
    text = "\n".join(deployed(planParams=json.dumps({"limit": 7})))
    assert "deploy   contract Vault: constructor args changed" in text
    assert "deploy   contract Consumer: dependency Vault redeployed" in text
