"""`pulumi import` (with the file contracts_step/import_source.py writes) adopts a contract set
another tool deployed (Truffle's artifacts' networks section, hardhat-deploy's deployments folder)
with no transaction, after which `pulumi up` changes nothing; a set that is not the plan's is
refused in one line, nothing imported.  Real CLI, real anvil."""

from __future__ import annotations

import json
import os

import pytest
from eth_account import Account
from eth_typing import ChecksumAddress, HexStr
from web3 import Web3
from web3.types import TxParams, TxReceipt

from bench.chains.anvil import start_anvil
from bench.engine.local_stack import LocalStackError
from engine_stack import engine_or_fail, new_stack, preview_steps, short, up_steps

pytestmark = pytest.mark.engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEP_ARTIFACTS = os.path.join(ROOT, "build", "keep-core", "artifacts")


def deploy_like_truffle(url: str, key: str) -> dict:
    """What `truffle migrate` does with the same key: one transaction at a time, each waited for;
    returns {contract: (address, tx hash)} and, in order, the calls' tx hashes."""
    from contracts_step.artifacts import ArtifactStore
    from contracts_step.keep_plan import DEFAULT_PARAMS, keep_plan
    from contracts_step.migrate import call_data, init_code
    from contracts_step.plan import ArgEncoder, resolve_plan

    w3 = Web3(Web3.HTTPProvider(url))
    account = Account.from_key(key)
    plan = keep_plan()
    store = ArtifactStore(KEEP_ARTIFACTS)
    resolved = resolve_plan(plan, store, DEFAULT_PARAMS)
    encoder = ArgEncoder(store, plan, resolved.params)

    def send(to: ChecksumAddress | None, data: bytes) -> TxReceipt:
        tx: TxParams = {
            "data": HexStr("0x" + data.hex()),
            "nonce": w3.eth.get_transaction_count(account.address),
            "chainId": 31337,
            "gasPrice": w3.eth.gas_price,
            "from": account.address,
        }
        if to is not None:  # none: a contract creation
            tx["to"] = to
        tx["gas"] = int(w3.eth.estimate_gas(tx) * 1.2)
        tx.pop("from")
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction))
        assert receipt["status"] == 1
        return receipt

    deployed: dict = {}
    addresses: dict = {}
    for entry in resolved.deploys.values():
        receipt = send(None, init_code(entry, encoder, addresses, account.address))
        addresses[entry.name] = receipt["contractAddress"]
        deployed[entry.name] = (receipt["contractAddress"], "0x" + receipt["transactionHash"].hex().removeprefix("0x"))
    for entry in resolved.calls.values():
        send(addresses[entry.target], call_data(entry, encoder, addresses, account.address))
    return deployed


@pytest.fixture
def deployed(tmp_path):
    chain = start_anvil()
    key = Account.create().key.hex()
    chain.fund(Account.from_key(key).address, 10**24)
    yield chain, key, deploy_like_truffle(chain.url, key)
    chain.stop()


def _stack(tmp_path, chain, key, config: dict):
    ws = new_stack(engine_or_fail(), str(tmp_path / "stack"), chain.url, config=config)
    for k in ("keep-cd:fleet", "keep-cd:operators"):
        ws.config.pop(k)  # the contracts alone: what the import is about
    os.makedirs(ws.secrets_dir, mode=0o700, exist_ok=True)
    ws.secret("deployer.key", lambda: key)  # the key that deployed the set
    ws.prepare(start_chain=False, fund=False)
    return ws


def _nonce(chain, key) -> int:
    return Web3(Web3.HTTPProvider(chain.url)).eth.get_transaction_count(Account.from_key(key).address)


def test_a_truffle_deployment_is_imported_with_no_transaction_and_then_nothing_changes(tmp_path, deployed):
    chain, key, contracts = deployed
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    for name in os.listdir(KEEP_ARTIFACTS):
        with open(os.path.join(KEEP_ARTIFACTS, name)) as f:
            data = json.load(f)
        if data.get("contractName") in contracts:  # what truffle writes after a migration
            address, tx_hash = contracts[data["contractName"]]
            data.setdefault("networks", {})["31337"] = {"address": address, "transactionHash": tx_hash, "events": {}, "links": {}}
        (artifacts / name).write_text(json.dumps(data))
    ws = _stack(tmp_path, chain, key, {"artifactsDir": str(artifacts)})
    sent_before = _nonce(chain, key)
    imported = ws.import_contracts(["--truffle"])
    assert "1 imported" in imported
    assert _nonce(chain, key) == sent_before
    _then_nothing_changes(ws, chain, key, contracts, sent_before)


def _then_nothing_changes(ws, chain, key, contracts, sent_before):
    """After the import: the first up records the stack's outputs and changes no resource."""
    first = up_steps(ws)
    assert [n for n in short(first) if not n.startswith("Stack::")] == [] and _nonce(chain, key) == sent_before
    assert ws.outputs()["addressBook"] == {name: address for name, (address, _tx) in contracts.items()}
    assert (preview_steps(ws), up_steps(ws)) == ({}, {}) and _nonce(chain, key) == sent_before


def test_a_hardhat_deploy_folder_is_imported_with_no_transaction(tmp_path, deployed):
    chain, key, contracts = deployed
    folder = tmp_path / "deployments" / "localhost"
    folder.mkdir(parents=True)
    for name, (address, tx_hash) in contracts.items():
        (folder / f"{name}.json").write_text(json.dumps({"address": address, "transactionHash": tx_hash, "abi": []}))
    ws = _stack(tmp_path, chain, key, {})
    sent_before = _nonce(chain, key)
    assert "1 imported" in ws.import_contracts(["--hardhat-deploy", str(folder)])
    _then_nothing_changes(ws, chain, key, contracts, sent_before)


def test_a_hardhat_deploy_folder_that_is_not_the_plans_is_refused_in_one_line(tmp_path, deployed):
    chain, key, contracts = deployed
    folder = tmp_path / "deployments" / "localhost"
    folder.mkdir(parents=True)
    for name, (address, tx_hash) in contracts.items():
        # KeepToken's file names TokenGrant's creation: not the plan's KeepToken.
        record = contracts["TokenGrant"] if name == "KeepToken" else (address, tx_hash)
        (folder / f"{name}.json").write_text(json.dumps({"address": record[0], "transactionHash": record[1], "abi": []}))
    ws = _stack(tmp_path, chain, key, {})
    with pytest.raises(LocalStackError) as e:
        ws.import_contracts(["--hardhat-deploy", str(folder)])
    assert str(e.value) == (
        f"contract KeepToken at {contracts['TokenGrant'][0]} (deployments in {folder}, transaction {contracts['TokenGrant'][1]}): "
        "created with other code or constructor arguments than the plan's (nothing imported)"
    )
    export = json.loads(ws.run(["stack", "export"], capture=True).stdout)
    assert not [r for r in export["deployment"].get("resources") or [] if r["type"].endswith("ContractsMigration")]


def test_a_set_another_key_created_is_refused_in_one_line(tmp_path, deployed):
    """The stack's deployer is not the key that created the set: nothing is imported, even though
    every record is the plan's and on chain (what the plan's calls set up belongs to that key)."""
    chain, key, contracts = deployed
    folder = tmp_path / "deployments" / "localhost"
    folder.mkdir(parents=True)
    for name, (address, tx_hash) in contracts.items():
        (folder / f"{name}.json").write_text(json.dumps({"address": address, "transactionHash": tx_hash, "abi": []}))
    other = Account.create()
    ws = _stack(tmp_path, chain, other.key.hex(), {})
    with pytest.raises(LocalStackError) as e:
        ws.import_contracts(["--hardhat-deploy", str(folder)])
    first = next(iter(contracts))  # the plan's first contract is the first one checked
    creator = Account.from_key(key).address
    assert str(e.value) == (
        f"contract {first} at {contracts[first][0]} (deployments in {folder}, transaction {contracts[first][1]}): "
        f"deployed by {creator}, not by the stack's deployer {other.address} "
        "(import with the key that deployed the set: it owns what the plan's calls set up)"
    )
    export = json.loads(ws.run(["stack", "export"], capture=True).stdout)
    assert not [r for r in export["deployment"].get("resources") or [] if r["type"].endswith("ContractsMigration")]
