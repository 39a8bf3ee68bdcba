"""chain.node.Node: reading a node without web3.

What the dynamic providers decide from (a migration's assess, the operators' stakes) reads the
chain through Node, so a preview or a no-change up never imports web3 (about half a second in the
providers' process, while the engine's step generation waits: docs/engine.md).  The first test
holds that on a chain with the Keep contracts and a staked operator; the others hold Node's
transport to what a node may do: answer a batch out of order, refuse a batch whole, close a
kept-alive connection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from chain.node import Node, RPCError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DECIDE_WITHOUT_WEB3 = """
import json, os, sys
from chain.node import open_node
from contracts_step.keep_plan import DEFAULT_PARAMS, keep_plan
from contracts_step.migrate import open_migration
from keep_contracts.names import STAKING_CONTRACT_NAMES
from operators.policy import FleetPolicy
from operators.staking import StakingContracts, assess, check_contracts

given = json.loads(os.environ["GIVEN"])
url, chain_id = given["url"], given["chain_id"]
migration = open_migration(keep_plan(), dict(DEFAULT_PARAMS), given["artifacts"], url, chain_id, given["olds"], given["owner"])
actions = sorted({d.action for d in migration.assess()})
node = open_node(url, chain_id)
contracts = StakingContracts.from_address_book(given["olds"]["address_book"], STAKING_CONTRACT_NAMES)
check_contracts(node, contracts, STAKING_CONTRACT_NAMES)
pending = assess(node, contracts, given["operators"], given["owner"], FleetPolicy(10**17, 10**18))
faucet = assess(node, contracts, given["operators"], given["owner"], FleetPolicy(10**17, 10**18), provisioning="cluster", faucet=given["faucet"])
print(json.dumps({"actions": actions, "pending": [a.line() for a in pending], "faucet": [a.kind for a in faucet],
                  "loaded": sorted(m for m in ("web3", "eth_account") if m in sys.modules)}))
"""


def test_deciding_reads_the_chain_without_web3(keep_chain):
    """A migration's assess and the stakes' assess (deploy and cluster provisioning) on a chain
    where nothing is missing: every contract reused, every call skipped, no stake action, nothing
    for the faucet (every operator is staked), and neither web3 nor eth_account loaded."""
    from eth_account import Account

    from operators.policy import FleetPolicy
    from operators.staking import reconcile_fleet

    op = Account.create().address
    reconcile_fleet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), {"c": op}, FleetPolicy(10**17, 10**18))
    given = {
        "url": keep_chain.url,
        "chain_id": keep_chain.node.chain_id(),
        "artifacts": os.path.join(ROOT, "build", "keep-core", "artifacts"),
        "olds": keep_chain.migration,
        "owner": keep_chain.owner.address,
        "operators": {"c": op},
        "faucet": Account.create().address,
    }
    run = subprocess.run(
        [sys.executable, "-c", DECIDE_WITHOUT_WEB3],
        cwd=ROOT,
        env={**os.environ, "GIVEN": json.dumps(given)},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["actions"] == ["reuse", "skip"], seen
    assert seen["pending"] == [] and seen["faucet"] == [], seen
    assert seen["loaded"] == [], f"deciding imported {seen['loaded']} (expected a read of the chain through chain.node.Node alone)"


class _Node(BaseHTTPRequestHandler):
    """A JSON-RPC node that answers eth_chainId with the call's id as the chain id (so an answer
    matched to the wrong call shows), and misbehaves as the server says."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = self.server
        server.requests += 1  # type: ignore[attr-defined]
        if isinstance(body, list) and server.refuse_batches:  # type: ignore[attr-defined]
            answer: object = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch too large"}}
        elif isinstance(body, list):
            answer = [self.answer(call) for call in reversed(body)]  # out of order, as a node may
        else:
            answer = self.answer(body)
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if server.close_after_answer:  # type: ignore[attr-defined]
            self.close_connection = True  # closes a kept-alive connection without saying so

    def answer(self, call: dict) -> dict:
        if call["method"] == "eth_chainId":
            return {"jsonrpc": "2.0", "id": call["id"], "result": hex(call["id"])}
        return {"jsonrpc": "2.0", "id": call["id"], "error": {"code": -32601, "message": f"the method {call['method']} does not exist"}}

    def log_message(self, *args):
        pass


@pytest.fixture
def node_server():
    server = HTTPServer(("127.0.0.1", 0), _Node)
    server.requests = 0  # type: ignore[attr-defined]
    server.refuse_batches = False  # type: ignore[attr-defined]
    server.close_after_answer = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_batch_answered_out_of_order_is_matched_by_id(node_server):
    node = Node(f"http://127.0.0.1:{node_server.server_port}")
    node.chain_id()  # id 1
    answers = node.batch([("eth_chainId", []), ("eth_nope", []), ("eth_chainId", [])])
    assert [a.get("result") for a in answers] == ["0x2", None, "0x4"]
    assert "does not exist" in answers[1]["error"]["message"]


def test_an_error_answer_and_a_refused_batch_are_rpc_errors(node_server):
    node = Node(f"http://127.0.0.1:{node_server.server_port}")
    with pytest.raises(RPCError, match="eth_nope does not exist"):
        node.request("eth_nope", [])
    node_server.refuse_batches = True
    with pytest.raises(RPCError, match="batch too large"):
        node.batch([("eth_chainId", [])])


def test_a_connection_the_node_closed_is_opened_again(node_server):
    node_server.close_after_answer = True
    node = Node(f"http://127.0.0.1:{node_server.server_port}")
    assert [node.chain_id() for _ in range(3)] == [1, 2, 3]
    assert node_server.requests == 3
