"""What geth does differently from anvil, each shown on a real `geth --dev` (docs/geth.md):
its pending block is a snapshot, its pool's answers to resends and replacements, a stuck
transaction, its batch limit."""

from __future__ import annotations

import json
import os

import pytest
import requests
from eth_account import Account
from web3 import Web3

from bench.chains.anvil import rpc
from bench.chains.geth import fund
from chain.errors import TransactionDropped
from chain.node import connect, create_address
from chain.transactions import PipelinedSender, TxRequest, is_collision
from keep_contracts.staking import Fn

pytestmark = pytest.mark.geth

APPROVE = Fn("approve(address)")
APPROVED = Fn("approved(address)", ("bool",))


def registry_code(fixture_artifacts) -> bytes:
    with open(os.path.join(fixture_artifacts, "truffle", "Registry.json")) as f:
        return bytes.fromhex(json.load(f)["bytecode"].removeprefix("0x"))


def raw(chain, account, nonce: int, *, to=None, data=b"", value=0, gas=21_000, fee=10**10, tip=10**9) -> str:
    tx = {
        "chainId": chain.chain_id,
        "nonce": nonce,
        "gas": gas,
        "maxFeePerGas": fee,
        "maxPriorityFeePerGas": tip,
        "data": data,
        "value": value,
    }
    if to:
        tx["to"] = to
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


def send_raw(chain, signed: str) -> dict:
    return requests.post(
        chain.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [signed]}, timeout=10
    ).json()


@pytest.fixture
def slow_geth(geth_factory):
    """5-second blocks: what happens between two blocks can be watched."""
    return geth_factory(period=5)


def test_geth_pending_block_is_a_snapshot_and_dependent_gas_does_not_rely_on_it(slow_geth, fixture_artifacts):
    chain = slow_geth
    acct, deployer = Account.create(), Account.create()
    fund(chain.url, {acct.address: 10**22, deployer.address: 10**22})
    w3 = connect(chain.url, chain.chain_id)
    for _attempt in range(3):  # a block landing mid-way would show nothing: then again
        head = w3.eth.block_number
        # geth builds its pending block on demand and serves it for up to 2 s (miner/pending.go).
        rpc(chain.url, "eth_getBlockByNumber", ["pending", False])
        nonce = w3.eth.get_transaction_count(acct.address, "pending")
        registry = create_address(acct.address, nonce)
        assert "result" in send_raw(chain, raw(chain, acct, nonce, data=registry_code(fixture_artifacts), gas=500_000))
        code = rpc(chain.url, "eth_getCode", [registry, "pending"])
        call = {"from": acct.address, "to": registry, "data": "0x" + APPROVE.calldata(acct.address).hex()}
        stale = int(rpc(chain.url, "eth_estimateGas", [call, "pending"]), 16)
        if w3.eth.block_number == head:
            break
    assert code == "0x"  # sent, in the pool, not in "pending"
    assert stale < 23_000  # a plain transfer to an empty account: sent with that, approve runs out of gas

    # keep-cd's sender: the same dependency, its gas simulated after what is in flight.
    nonce = w3.eth.get_transaction_count(deployer.address)
    registry = create_address(deployer.address, nonce)
    deploy = TxRequest("deploy Registry", None, registry_code(fixture_artifacts))
    approve = TxRequest("call Registry.approve", registry, APPROVE.calldata(deployer.address))
    PipelinedSender(w3, deployer, confirm_timeout=60).send([deploy, approve], nonce)
    assert approve.receipt["status"] == 1 and approve.gas > 40_000
    assert deploy.receipt["blockNumber"] == approve.receipt["blockNumber"]  # one block: nothing waited for
    assert APPROVED.decode("0x" + bytes(w3.eth.call({"to": registry, "data": APPROVED.calldata(deployer.address)})).hex())

    # A sender started while another transaction of its account is still unmined (the first
    # deploy above) cannot pin a simulation to a block (its deploy would run at that other nonce
    # and create elsewhere): it estimates on "pending" only once that block holds what it sent,
    # else it waits for it.
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    other = create_address(acct.address, nonce)
    deploy = TxRequest("deploy Registry", None, registry_code(fixture_artifacts))
    approve = TxRequest("call Registry.approve", other, APPROVE.calldata(acct.address))
    PipelinedSender(w3, acct, confirm_timeout=60).send([deploy, approve], nonce)
    assert approve.receipt["status"] == 1 and approve.gas > 40_000


def test_geth_pool_answers_to_a_resend_and_to_a_replacement(slow_geth):
    chain = slow_geth
    acct = chain.new_account()
    w3 = Web3(Web3.HTTPProvider(chain.url))
    for _attempt in range(3):  # all at one nonce between two blocks; a block landing mid-way: again
        head = w3.eth.block_number
        nonce = w3.eth.get_transaction_count(acct.address, "pending")
        first = raw(chain, acct, nonce, to=acct.address, value=1)
        answers = {"first": send_raw(chain, first)}
        # The same transaction again (keep-cd's resend of one the node may have dropped): harmless.
        answers["again"] = send_raw(chain, first)
        # Another transaction at the same nonce and fees (two pods racing one faucet nonce): refused.
        answers["rival"] = send_raw(chain, raw(chain, acct, nonce, to=acct.address, value=2))
        # 9 % more on both fee cap and tip is still refused; geth wants 10 % (--txpool.pricebump).
        answers["short"] = send_raw(
            chain, raw(chain, acct, nonce, to=acct.address, value=2, fee=10**10 * 109 // 100, tip=10**9 * 109 // 100)
        )
        answers["bumped"] = send_raw(
            chain, raw(chain, acct, nonce, to=acct.address, value=2, fee=10**10 * 110 // 100, tip=10**9 * 110 // 100)
        )
        if w3.eth.block_number == head:
            break
    assert "result" in answers["first"]
    assert answers["again"]["error"]["message"] == "already known"
    rival = answers["rival"]["error"]["message"]
    assert rival == "replacement transaction underpriced" and is_collision(rival)
    assert answers["short"]["error"]["message"] == "replacement transaction underpriced"
    assert "result" in answers["bumped"]


def test_a_stuck_transaction_is_waited_for_then_named(geth_factory):
    """A fee cap below the base fee: geth keeps it in its pool, pending, never mined; keep-cd's
    next run waits for it, then stops in one line before sending anything (it does not re-price
    it: docs/geth.md)."""
    chain = geth_factory(period=1)
    acct = chain.new_account()
    w3 = connect(chain.url, chain.chain_id)
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    nonce = w3.eth.get_transaction_count(acct.address)
    stuck = send_raw(chain, raw(chain, acct, nonce, to=acct.address, value=1, fee=base // 2, tip=1))
    assert "result" in stuck
    chain.wait_blocks(2)
    assert w3.eth.get_transaction(stuck["result"])["blockNumber"] is None  # known, pending, not mined
    with pytest.raises(TransactionDropped) as e:
        PipelinedSender(w3, acct).settled_nonce(timeout=3)
    assert str(e.value) == f"account {acct.address}: 1 transactions still pending after 3s (expected the node to mine them; is it mining?)"
    assert w3.eth.get_transaction_count(acct.address, "pending") == nonce + 1


def test_batches_beyond_geths_limit_are_split(geth_factory):
    chain = geth_factory(period=1)
    calls = [("eth_getBalance", [Account.create().address, "latest"]) for _ in range(1200)]
    whole = requests.post(
        chain.url, json=[{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)], timeout=30
    ).json()
    assert not isinstance(whole, list) or "error" in whole[0]  # geth refuses a batch over 1000 (--rpc.batch-request-limit)
    sender = PipelinedSender(connect(chain.url, chain.chain_id), Account.create())
    assert sender._batch(calls) == ["0x0"] * 1200
