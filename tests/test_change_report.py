"""The change report on scripted changes: it names what would change and why, and sends nothing."""

from __future__ import annotations

import json
import os

import pytest
from web3 import Web3

from bench.ci.change_report import change_report
from bench.offline.runner import run_stack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_PLAN = os.path.join(ROOT, "tests", "fixtures", "fixture_plan.json")


@pytest.fixture
def deployed(fresh_anvil, editable_sources, tmp_path, monkeypatch):
    src, build = editable_sources
    acct = fresh_anvil.new_account()
    monkeypatch.setenv("KEEP_CD_DEPLOYER_KEY", acct.key.hex())
    state = str(tmp_path / "state.json")
    config = {"rpcUrl": fresh_anvil.url, "chainId": "31337", "contractsPlan": FIXTURE_PLAN, "artifactsDir": build()}
    config["fleet"] = None  # the fixture plan deploys no Keep contracts, so the local stack's keep-clients are off
    run_stack("local", project_dir=ROOT, state_path=state, config_overrides=config)
    w3 = Web3(Web3.HTTPProvider(fresh_anvil.url))

    def report(**overrides):
        sent = w3.eth.get_transaction_count(acct.address)
        lines = change_report("local", project_dir=ROOT, state_path=state, config_overrides={**config, **overrides})
        assert w3.eth.get_transaction_count(acct.address) == sent, "the report must send nothing"
        return lines

    report.source, report.build = src / "Fixtures.sol", build
    report.state, report.config = state, config
    return report


def test_nothing_changed(deployed):
    lines = deployed()
    assert lines[1].startswith("nothing changed")


def test_source_edit(deployed):
    deployed.source.write_text(
        deployed.source.read_text().replace("contract Consumer {", "contract Consumer {\n    uint256 public edited = 1;")
    )
    deployed.build()
    text = "\n".join(deployed())
    assert "deploy   contract Consumer: bytecode changed" in text
    assert "send     call     Registry.approve: Consumer is (re)deployed" in text
    assert "reuse    contract Vault" in text


def test_constructor_arg(deployed):
    text = "\n".join(deployed(planParams=json.dumps({"limit": 7})))
    assert "deploy   contract Vault: constructor args changed" in text
    assert "deploy   contract Consumer: dependency Vault redeployed" in text


def test_report_against_a_pulumi_export(deployed, tmp_path, monkeypatch):
    """CI has no offline state file: the report reads `pulumi stack export` of the real stack,
    and leaves no copy of that state in the temp directory."""
    import tempfile

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with open(deployed.state) as f:
        state = json.load(f)
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:abc"}
    resources = [{"urn": "urn:pulumi:local::keep-cd::pulumi:pulumi:Stack::keep-cd-local", "type": "pulumi:pulumi:Stack", "custom": False}]
    for r in state["resources"].values():
        resources.append(
            {
                "urn": f"urn:pulumi:local::keep-cd::{r['type']}::{r['name']}",
                "type": r["type"],
                "custom": True,
                "id": r["id"],
                "inputs": {**r["inputs"], "__provider": secret},
                "outputs": {**r["outputs"], "__provider": secret},
            }
        )
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"version": 3, "deployment": {"resources": resources}}))
    lines = change_report("local", project_dir=ROOT, config_overrides=deployed.config, pulumi_export=str(export))
    assert lines[1].startswith("nothing changed"), lines
    lines = change_report(
        "local", project_dir=ROOT, config_overrides={**deployed.config, "planParams": json.dumps({"limit": 3})}, pulumi_export=str(export)
    )
    assert any("deploy   contract Vault: constructor args changed" in line for line in lines)
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("content", ["{not json", '{"version": 3}', '{"deployment": []}'])
def test_unreadable_pulumi_export_is_named(tmp_path, content):
    from bench.offline.runner import StateFileError

    export = tmp_path / "export.json"
    export.write_text(content)
    with pytest.raises(StateFileError) as e:
        change_report("local", project_dir=ROOT, pulumi_export=str(export))
    first = str(e.value).splitlines()[0]
    assert first.startswith(f"pulumi export {export}: not a `pulumi stack export` file") and "nothing on the chain was touched" in first


@pytest.fixture
def fleet_deployed(fresh_anvil, tmp_path):
    """The Keep contracts and a 1 bootstrap + 1 standard fleet, deployed on a fresh anvil."""
    from fleet_support import fleet_config

    acct = fresh_anvil.new_account()
    state = str(tmp_path / "state.json")
    config = {
        "rpcUrl": fresh_anvil.url,
        "deployerPrivateKey": acct.key.hex(),
        "fleet": fleet_config(counts={"bootstrap": 1, "standard": 1}),
    }
    run_stack("local", project_dir=ROOT, state_path=state, config_overrides=config)

    def report(plan_params=None, without_key=False, **fleet_overrides):
        cfg = {**config, "fleet": fleet_config(**{"counts": {"bootstrap": 1, "standard": 1}, **fleet_overrides})}
        if without_key:
            del cfg["deployerPrivateKey"]
        if plan_params:
            cfg["planParams"] = json.dumps(plan_params)
        return "\n".join(change_report("local", project_dir=ROOT, state_path=state, config_overrides=cfg))

    return report


def test_clients_nothing_changed(fleet_deployed):
    assert "nothing changed" in fleet_deployed()


def test_nothing_changed_also_without_the_deployer_key(fleet_deployed, monkeypatch):
    """CI's pull-request report runs without the deployer key; calls naming the deployer
    (KeepRegistry.setOperatorContractUpgrader) and the stakes' owner read as the recorded ones."""
    monkeypatch.delenv("KEEP_CD_DEPLOYER_KEY", raising=False)
    assert "nothing changed" in fleet_deployed(without_key=True)


def test_added_client_and_image_change(fleet_deployed):
    text = fleet_deployed(counts={"bootstrap": 1, "standard": 2})
    assert "create   keep-standard-1: new" in text
    assert "keep-standard-0" not in text.split("deployments:")[1]  # an added peer rolls nobody
    text = fleet_deployed(image={"repository": "keepnetwork/keep-client", "tag": "v1.8.1"})
    for name in ("keep-bootstrap-0", "keep-standard-0"):
        assert f"roll     {name}: image of keep-client: keepnetwork/keep-client:v1.8.0 -> keepnetwork/keep-client:v1.8.1" in text


def test_redeployed_contract_rolls_every_client(fleet_deployed):
    text = fleet_deployed(plan_params={"initializationPeriod": 1, "dkgContributionMargin": 2})
    assert "deploy   contract KeepRandomBeaconService: constructor args changed" in text
    for name in ("keep-bootstrap-0", "keep-standard-0"):
        line = next(candidate for candidate in text.splitlines() if candidate.startswith(f"  roll     {name}:"))
        assert "contract addresses changed" in line
