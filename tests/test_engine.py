"""The program under the real Pulumi engine (bench.engine: the CLI, the language host and the
Kubernetes provider built by `make engine`), on a fresh stack with a file backend and a real anvil.

The module drives one stack through a script of changes, in order: every change is previewed and
then applied, and the preview must list exactly the resources the update then changes (item 4 of
the engine issue).  Each change has its own test, so a failure names the change.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from eth_account import Account
from web3 import Web3

from bench.chains.anvil import rpc, start_anvil
from bench.engine.fidelity import CHANGES, ScriptedStack
from engine_stack import engine_or_fail, preview_steps, set_config, short, up_steps

pytestmark = pytest.mark.engine

CLIENTS = ["keep-bootstrap-0", "keep-standard-0", "keep-standard-1"]
CHANGE = dict(CHANGES)


class Scripted(ScriptedStack):
    def __init__(self, workdir: str):
        self.chain = start_anvil()
        super().__init__(engine_or_fail(), workdir, self.chain.url, clients=3)

    def apply(self, change: str) -> tuple:
        CHANGE[change](self)
        return self.preview_then_up()

    def stop(self):
        self.chain.stop()


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    s = Scripted(str(tmp_path_factory.mktemp("engine-stack")))
    yield s
    s.stop()


def _exact(preview: dict, up: dict) -> None:
    assert short(preview) == short(up), f"preview {short(preview)}\n  up {short(up)}"


def _kinds(steps: dict) -> dict:
    out: dict = {}
    for name, op in short(steps).items():
        out.setdefault(op, set()).add(name.split("::")[0])
    return out


def test_preview_of_a_new_stack_reads_unknowns_and_sends_nothing(scripted):
    steps = preview_steps(scripted.ws)
    assert set(steps.values()) == {"create"}
    assert len(steps) == 27  # stack objects of the local fleet, the three chain resources, the providers
    assert scripted.nonce() == 0


def test_first_up_creates_what_the_preview_listed(scripted):
    preview, up, sent = scripted.preview_then_up()
    _exact(preview, up)
    assert sent == 26 + 6 + 3 * 3  # deploys, calls; fund + stake + authorize per operator
    outputs = scripted.ws.outputs()
    assert len(outputs["addressBook"]) == 26 and all(s["staked"] and s["authorized"] for s in outputs["operatorStakes"].values())
    manifests = os.listdir(os.path.join(scripted.workdir, "manifests", "1-manifest"))
    assert len([m for m in manifests if "-deployment-" in m]) == 3
    # Nothing the engine wrote can be left half-written by a kill: the state file is renamed into
    # place, and no metadata sidecar (written in place, empty after an ill-timed kill, after which
    # no command can load the stack) is written beside it.
    written = [f for _, _, files in os.walk(scripted.ws.state_dir) for f in files]
    assert any(f.endswith(".json") for f in written) and not [f for f in written if f.endswith(".attrs")]


def test_nothing_changed_previews_and_applies_nothing(scripted):
    preview, up, sent = scripted.apply("nothing at all")
    assert (preview, up, sent) == ({}, {}, 0)


def test_a_post_deploy_call_alone_changes_only_the_migration(scripted):
    preview, up, sent = scripted.apply("a post-deploy call only")
    _exact(preview, up)
    assert short(up) == {"ContractsMigration::contracts": "update"}
    assert sent == 1


def test_the_reason_is_visible_in_the_diff(scripted):
    set_config(scripted.ws, planParams={"initializationPeriod": 1, "dkgContributionMargin": 2})
    out = scripted.ws.run(["preview", "--diff"], capture=True).stdout
    set_config(scripted.ws, planParams={"initializationPeriod": 1, "dkgContributionMargin": 1})
    # The migration's inputs carry each plan entry's content and arguments hash: the one that moved shows.
    assert "KeepRandomBeaconService" in out and "args_hash" in out


def test_editing_a_contract_no_client_uses_rolls_no_client(scripted):
    preview, up, sent = scripted.apply("a contract's source, no client uses it")
    _exact(preview, up)
    assert short(up) == {"ContractsMigration::contracts": "update"}
    assert sent == 1


def test_editing_a_contract_the_clients_use_rolls_every_client(scripted):
    preview, up, sent = scripted.apply("a contract's source, the clients use it")
    _exact(preview, up)
    kinds = _kinds(up)
    assert {"ContractsMigration", "ContractAddresses", "OperatorStakes"} <= kinds["update"]
    assert {n for n in short(up) if n.startswith("Deployment::")} == {f"Deployment::{name}" for name in CLIENTS}
    assert sent > 0


def test_a_constructor_argument_redeploys_and_rolls_every_client(scripted):
    preview, up, sent = scripted.apply("a constructor argument")
    _exact(preview, up)
    assert len({n for n in short(up) if n.startswith("Deployment::")}) == 3 and sent > 0


def test_one_clients_config_value_changes_only_that_client(scripted):
    preview, up, sent = scripted.apply("a client's config value")
    _exact(preview, up)
    names = {n.split("::")[1] for n in short(up)}
    assert names <= {"keep-standard-1", "keep-standard-1-config", "keep-network-libp2p"} and "keep-standard-1" in names
    assert sent == 0


def test_a_new_image_tag_rolls_every_deployment(scripted):
    preview, up, sent = scripted.apply("the image tag")
    _exact(preview, up)
    # Every object carries the version label (app.kubernetes.io/version), so every one changes.
    assert {n for n in short(up) if n.startswith("Deployment::")} == {f"Deployment::{name}" for name in CLIENTS}
    assert not any(n.split("::")[0] in ("ContractsMigration", "ContractAddresses", "OperatorStakes") for n in short(up))
    assert sent == 0


def test_a_client_added_creates_its_objects_and_stakes_it(scripted):
    preview, up, sent = scripted.apply("a client added")
    _exact(preview, up)
    assert {n for n, op in short(up).items() if op == "create"} >= {
        "Deployment::keep-standard-added",
        "Secret::keep-standard-added-eth-account",
    }
    assert short(up)["OperatorStakes::operator-stakes"] == "update" and sent == 3


def test_a_client_removed_deletes_its_objects(scripted):
    preview, up, sent = scripted.apply("a client removed")
    _exact(preview, up)
    deleted = {n for n, op in short(up).items() if op == "delete"}
    assert "Deployment::keep-standard-added" in deleted and "ConfigMap::keep-standard-added-config" in deleted
    assert sent == 0  # onRemove: leave


def test_nothing_changed_at_the_end_either(scripted):
    preview, up, sent = scripted.apply("nothing at all")
    assert (preview, up, sent) == ({}, {}, 0)


def test_the_benchmarks_timeline_of_a_no_change_up(scripted):
    """What `python -m bench engine --timeline` reports: when each kind of resource completed.
    The engine orders them by their dependencies: the contract addresses after the migration, the
    stakes after the addresses, each client's ConfigMap after the addresses, every Deployment after
    the stakes; the summary comes last."""
    timeline: dict = {}
    assert up_steps(scripted.ws, timeline) == {}
    migration, addresses, stakes = (
        timeline[f"pulumi-python:dynamic/keep:{k}"] for k in ("ContractsMigration", "ContractAddresses", "OperatorStakes")
    )
    assert migration[1] <= addresses[0] and addresses[1] <= stakes[0], timeline
    assert addresses[1] <= timeline["kubernetes:core/v1:ConfigMap"][0], timeline
    assert stakes[1] <= timeline["kubernetes:apps/v1:Deployment"][0], timeline
    assert all(first <= last <= timeline["summary"][0] for key, (first, last) in timeline.items() if key != "summary"), timeline


def test_refresh_reports_a_contract_whose_code_is_gone_and_up_redeploys_it(scripted):
    book = scripted.ws.outputs()["addressBook"]
    rpc(scripted.chain.url, "anvil_setCode", [book["BeaconRewards"], "0x"])
    refreshed = scripted.ws.run(["refresh", "--yes", "--diff"], capture=True).stdout
    assert "code_hash" in refreshed and "BeaconRewards" in refreshed
    preview, up, sent = scripted.preview_then_up()
    _exact(preview, up)
    assert short(up) == {"ContractsMigration::contracts": "update"} and sent == 1
    assert scripted.ws.outputs()["addressBook"]["BeaconRewards"] != book["BeaconRewards"]


def test_refresh_reports_an_operator_unstaked_out_of_band(scripted):
    from keep_contracts.staking import UNDELEGATE

    outputs = scripted.ws.outputs()
    operator = outputs["operators"]["keep-standard-0"]
    key = scripted.ws.secret("deployer.key", lambda: "")
    w3 = Web3(Web3.HTTPProvider(scripted.chain.url))
    owner = Account.from_key(key)
    scripted.chain.mine(5)  # past the stake's initialization period: undelegate() refuses a stake still initializing
    tx = {"to": outputs["addressBook"]["TokenStaking"], "data": "0x" + UNDELEGATE.calldata(operator).hex(), "from": owner.address}
    tx.update(gas=200_000, nonce=w3.eth.get_transaction_count(owner.address), chainId=31337, gasPrice=w3.eth.gas_price)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(owner.sign_transaction(tx).raw_transaction))
    assert receipt.status == 1
    refreshed = scripted.ws.run(["refresh", "--yes", "--diff"], capture=True).stdout
    assert "operator-stakes" in refreshed and "staked" in refreshed
    # A refresh records resources' state (stack outputs are the program's, set by an up).
    export = json.loads(scripted.ws.run(["stack", "export"], capture=True).stdout)
    stakes = next(r for r in export["deployment"]["resources"] if r["urn"].endswith("::operator-stakes"))
    assert stakes["outputs"]["status"]["keep-standard-0"]["staked"] is False
    # The next preview stops on it in one line, naming the operator, before anything is sent.
    proc = scripted.ws.run(["preview"], capture=True, check=False)
    assert proc.returncode != 0 and "operator keep-standard-0" in proc.stdout + proc.stderr


def test_destroy_removes_every_resource_and_leaves_the_contracts_on_chain(scripted):
    book = scripted.ws.outputs()["addressBook"]
    scripted.ws.run(["destroy", "--yes"], capture=True)
    export = json.loads(scripted.ws.run(["stack", "export"], capture=True).stdout)
    assert [r for r in export["deployment"].get("resources") or [] if r["type"] != "pulumi:pulumi:Stack"] == []
    assert all(len(rpc(scripted.chain.url, "eth_getCode", [a, "latest"])) > 2 for a in book.values())
    shutil.rmtree(os.path.join(scripted.workdir, "manifests"), ignore_errors=True)
