"""Bad input that a geth can present: still syncing, no unlocked account to fund from, another
chain id.  Each is one line, before anything is sent."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from eth_account import Account
from web3 import Web3

from bench.chains.anvil import free_port
from bench.chains.geth import DevChainError, fund, start_geth
from chain.errors import ChainIdMismatch, ChainSyncing
from contracts_step.migrate import open_migration
from contracts_step.plans import load_plan

pytestmark = pytest.mark.geth

FIXTURE_PLAN = os.path.join(os.path.dirname(__file__), "fixtures", "fixture_plan.json")
# What geth 1.17 answers to eth_syncing while it catches up (ethapi.SyncProgress, trimmed to the
# block fields and a few of the snap-sync counters it adds).
GETH_SYNCING = {
    "startingBlock": "0x0",
    "currentBlock": "0x2a",
    "highestBlock": "0x1f40",
    "syncedAccounts": "0x0",
    "syncedAccountBytes": "0x0",
    "healedTrienodes": "0x0",
    "txIndexRemainingBlocks": "0x0",
}


class SyncingFront:
    """A loopback JSON-RPC front for a real geth that answers eth_syncing as a syncing geth does
    and passes every other call through.  A single `geth --dev` cannot be made to sync (it has no
    peers by construction), so the syncing answer is the one thing not from the node."""

    def __init__(self, target: str, syncing: object):
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                calls = body if isinstance(body, list) else [body]
                front.methods.extend(c["method"] for c in calls)
                answers = []
                for c in calls:
                    if c["method"] == "eth_syncing":
                        # A list: its answers in turn, the last one from then on.
                        answer = front.syncing.pop(0) if isinstance(front.syncing, list) and len(front.syncing) > 1 else front.syncing
                        answers.append({"jsonrpc": "2.0", "id": c["id"], "result": answer[0] if isinstance(answer, list) else answer})
                    else:
                        answers.append(requests.post(target, json=c, timeout=30).json())
                out = json.dumps(answers if isinstance(body, list) else answers[0]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *_args):
                pass

        self.syncing = syncing
        self.methods: list = []
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def geth():
    chain = start_geth(period=1)
    yield chain
    chain.stop()


def migrate_through(url, chain_id, fixture_artifacts, account):
    plan, params = load_plan(FIXTURE_PLAN)
    return open_migration(plan, params, os.path.join(fixture_artifacts, "truffle"), url, chain_id, None, account.address).migrate(account)


def test_a_syncing_geth_is_refused_before_anything_is_sent(geth, fixture_artifacts):
    acct = geth.new_account()
    front = SyncingFront(geth.url, GETH_SYNCING)
    try:
        with pytest.raises(ChainSyncing) as e:
            migrate_through(front.url, geth.chain_id, fixture_artifacts, acct)
        message = str(e.value)
        assert "\n" not in message and message.startswith(f"chain RPC {front.url}: the node is still syncing (at block 42 of 8000)")
        assert "nothing was sent" in message
        assert "eth_sendRawTransaction" not in front.methods
        assert Web3(Web3.HTTPProvider(geth.url)).eth.get_transaction_count(acct.address) == 0
        # The same front saying "synced" lets the same migration through: the refusal was the answer's.
        front.syncing = False
        assert migrate_through(front.url, geth.chain_id, fixture_artifacts, acct)["last_run"]["txs"] == 6
    finally:
        front.close()


def test_a_syncing_geth_is_refused_by_the_operators_step_too(keep_geth_chain):
    from operators.provider import _session

    front = SyncingFront(keep_geth_chain.url, GETH_SYNCING)
    try:
        props = {"rpc_url": front.url, "chain_id": keep_geth_chain.anvil.chain_id, "address_book": keep_geth_chain.address_book}
        with pytest.raises(ChainSyncing, match="still syncing"):
            _session(props)  # what OperatorStakes' check, diff and create open the chain with
        front.syncing = False
        assert _session(props)[1].staking == keep_geth_chain.address_book["TokenStaking"]
        assert "eth_sendRawTransaction" not in front.methods
    finally:
        front.close()


# What a geth --dev answered once in the test suite right after mining its first block: every
# block there is, the transaction index not yet caught up (geth's SyncProgress.Done() is false).
GETH_INDEXING = {"startingBlock": "0x0", "currentBlock": "0x1", "highestBlock": "0x0", "txIndexRemainingBlocks": "0x1"}


def test_a_geth_that_only_indexes_its_last_blocks_is_waited_for(geth, fixture_artifacts):
    acct = geth.new_account()
    front = SyncingFront(geth.url, [GETH_INDEXING, GETH_INDEXING, False])
    try:
        assert migrate_through(front.url, geth.chain_id, fixture_artifacts, acct)["last_run"]["txs"] == 6
        assert front.methods.count("eth_syncing") >= 3
    finally:
        front.close()


def test_a_geth_that_never_finishes_indexing_is_refused_in_one_line(geth, fixture_artifacts, monkeypatch):
    import chain.node

    monkeypatch.setattr(chain.node, "INDEXING_SETTLE_SECONDS", 0.5)
    acct = geth.new_account()
    front = SyncingFront(geth.url, GETH_INDEXING)
    try:
        with pytest.raises(ChainSyncing) as e:
            migrate_through(front.url, geth.chain_id, fixture_artifacts, acct)
        assert str(e.value).startswith(
            f"chain RPC {front.url}: the node is still syncing (at block 1 of 0, still indexing after 0.5 s: txIndexRemainingBlocks 1)"
        )
        assert "\n" not in str(e.value) and "eth_sendRawTransaction" not in front.methods
    finally:
        front.close()


def test_a_geth_on_another_chain_id_is_refused(geth, fixture_artifacts):
    acct = geth.new_account()
    with pytest.raises(ChainIdMismatch) as e:
        migrate_through(geth.url, 31337, fixture_artifacts, acct)  # the local stack's anvil id; geth --dev is 1337
    assert str(e.value).startswith(f"chain RPC {geth.url}: chain id is 1337, stack config chainId is 31337;")
    assert Web3(Web3.HTTPProvider(geth.url)).eth.get_transaction_count(acct.address) == 0


def test_a_geth_with_no_unlocked_account_cannot_fund_and_says_so(geth_factory):
    # --dev with a fee recipient that is not in its keystore: the dev chain's funds belong to an
    # account the node holds no key for, so eth_accounts is empty.
    stranger = Account.create().address
    chain = geth_factory(extra_args=("--miner.pending.feeRecipient", stranger))
    assert requests.post(chain.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "params": []}).json()["result"] == []
    deployer = Account.create().address
    with pytest.raises(DevChainError) as e:
        fund(chain.url, {deployer: 10**21})
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"chain RPC {chain.url}: no unlocked account to fund from")
    w3 = Web3(Web3.HTTPProvider(chain.url))
    assert w3.eth.get_balance(deployer) == 0 and w3.eth.get_transaction_count(stranger) == 0
