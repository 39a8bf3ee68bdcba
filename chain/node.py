"""The node keep-cd talks to: a JSON-RPC reader with its chain-id and syncing guard, what is read
from it (code, genesis, revert reasons), web3 for what is sent; CREATE addresses and keys, derived
without either.

Reading needs no web3: ``Node`` speaks JSON-RPC over one kept-alive HTTP connection (batches
included).  Importing web3 takes about half a second (it imports eth_account, eth_keyfile and
py_ecc's BLS pairing), and the dynamic providers' ``check`` and ``diff`` run while the engine's
step generator, which handles one registration at a time, waits for them: in a preview or a
no-change up nothing is sent, so nothing there should pay for the sender (docs/engine.md).
``Node.web3()`` makes the web3 client of the same node where something is to be sent.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import rlp  # type: ignore[import-untyped]  # rlp ships no type information
from eth_utils import keccak, to_checksum_address

from .errors import ChainIdMismatch, ChainSyncing, ChainUnreachable, ConfigError

if TYPE_CHECKING:
    from web3 import Web3

_URL = re.compile(r"^(https?)://[^\s/]+(:\d+)?(/.*)?$")

# Calls per JSON-RPC batch: geth refuses a batch of more than 1000 (--rpc.batch-request-limit) as
# a whole; a block of plain transfers (30M gas / 21,000) is 1,428 receipts.
BATCH_LIMIT = 500


class RPCError(Exception):
    """A node's error answer to one JSON-RPC call (alone or in a batch)."""

    def __init__(self, error: Any):
        self.error = error if isinstance(error, dict) else {"message": str(error)}
        message = str(self.error.get("message", self.error))
        self.reason = message[len("execution reverted: ") :] if message.startswith("execution reverted: ") else message
        super().__init__(message)

    def __repr__(self) -> str:
        return f"RPCError({self.reason!r})"


class Node:
    """One JSON-RPC node, read without web3: ``request`` (one call), ``batch`` (many in one round
    trip) and the reads keep-cd decides from.  Values come as the node sends them, hex decoded."""

    def __init__(self, rpc_url: str, timeout: float = 10.0):
        self.url = rpc_url
        self.timeout = timeout
        parts = urllib.parse.urlsplit(rpc_url)
        self._https = parts.scheme == "https"
        self._host = parts.netloc
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)  # one id per call, across threads
        self._web3: Web3 | None = None

    def _post(self, payload: Any) -> Any:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        with self._lock:
            for attempt in (1, 2):  # a kept-alive connection the node closed meanwhile: once more on a new one
                if self._conn is None:
                    kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
                    self._conn = kind(self._host, timeout=self.timeout)
                try:
                    self._conn.request("POST", self._path, body, headers)
                    response = self._conn.getresponse()
                    data = response.read()
                except Exception as e:  # the connection is in no state to reuse: a new one next time
                    self._conn.close()
                    self._conn = None
                    if attempt == 2 or not isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                        raise
                    continue
                if response.status != 200:
                    raise ChainUnreachable(f"chain RPC {self.url}: HTTP {response.status} (expected a JSON-RPC answer)")
                return json.loads(data)
        raise AssertionError("unreachable")

    def request(self, method: str, params: list) -> Any:
        """The result of one call; RPCError where the node answers with an error."""
        answer = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        if "error" in answer:
            raise RPCError(answer["error"])
        return answer.get("result")

    def batch(self, calls: list) -> list:
        """Each (method, params) of ``calls`` answered, in order, as the node's response objects
        (``result`` or ``error``), BATCH_LIMIT calls per round trip."""
        out: list = []
        for start in range(0, len(calls), BATCH_LIMIT):
            chunk = [{"jsonrpc": "2.0", "id": next(self._ids), "method": m, "params": p} for m, p in calls[start : start + BATCH_LIMIT]]
            answer = self._post(chunk)
            if not isinstance(answer, list):  # the batch refused as a whole
                raise RPCError(answer.get("error") if isinstance(answer, dict) else answer)
            by_id = {r.get("id"): r for r in answer}
            out += [by_id.get(c["id"], {"error": {"message": "no answer in the batch"}}) for c in chunk]
        return out

    # -- what keep-cd reads -------------------------------------------------------------------------
    def chain_id(self) -> int:
        return int(self.request("eth_chainId", []), 16)

    def block_number(self) -> int:
        return int(self.request("eth_blockNumber", []), 16)

    def nonce(self, address: str, block: str = "latest") -> int:
        return int(self.request("eth_getTransactionCount", [address, block]), 16)

    def balance(self, address: str, block: str = "latest") -> int:
        return int(self.request("eth_getBalance", [address, block]), 16)

    def code(self, address: str, block: str = "latest") -> bytes:
        return bytes.fromhex((self.request("eth_getCode", [address, block]) or "0x")[2:])

    def block(self, number: int | str, full: bool = False) -> dict:
        tag = hex(number) if isinstance(number, int) else number
        return self.request("eth_getBlockByNumber", [tag, full]) or {}

    def transaction(self, tx_hash: str) -> dict | None:
        return self.request("eth_getTransactionByHash", [tx_hash])

    def receipt(self, tx_hash: str) -> dict | None:
        return self.request("eth_getTransactionReceipt", [tx_hash])

    def call(self, to: str, data: bytes, block: str = "latest") -> bytes:
        return bytes.fromhex((self.request("eth_call", [{"to": to, "data": "0x" + data.hex()}, block]) or "0x")[2:])

    def web3(self) -> Web3:
        """The web3 client of this node, for sending (made once)."""
        if self._web3 is None:
            from web3 import Web3

            # Retries are off: an unreachable node must fail fast with one line, not after minutes of backoff.
            self._web3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": self.timeout}, exception_retry_configuration=None))
        return self._web3


def open_node(rpc_url: str, expected_chain_id: int | None = None, *, timeout: float = 10.0, key: str = "rpcUrl") -> Node:
    """The node at ``rpc_url`` after checking that it answers, is the expected chain and is synced."""
    if not isinstance(rpc_url, str) or not _URL.match(rpc_url):
        raise ConfigError(f"config {key}: {rpc_url!r} is not an http(s) JSON-RPC URL (expected e.g. http://127.0.0.1:8545)")
    node = Node(rpc_url, timeout)
    try:
        chain_id = node.chain_id()
    except Exception as e:  # connection refused, DNS, timeout, garbage answer
        raise ChainUnreachable(
            f"chain RPC {rpc_url}: unreachable ({e.__class__.__name__}) (expected a JSON-RPC node answering eth_chainId)"
        ) from None
    if expected_chain_id is not None and int(chain_id) != int(expected_chain_id):
        raise ChainIdMismatch(
            f"chain RPC {rpc_url}: chain id is {chain_id}, stack config chainId is {expected_chain_id}; "
            "refusing to send anything to a chain the stack does not name"
        )
    check_synced(node)
    return node


def connect(rpc_url: str, expected_chain_id: int | None = None, *, timeout: float = 10.0, key: str = "rpcUrl") -> Web3:
    """A web3 client for ``rpc_url``, guarded as ``open_node`` guards (for what sends)."""
    return open_node(rpc_url, expected_chain_id, timeout=timeout, key=key).web3()


# How long a node that has every block but is still indexing them (geth's eth_syncing answers
# currentBlock >= highestBlock with txIndexRemainingBlocks left, e.g. a geth --dev that has just
# mined its first block) is given to finish before it is refused.
INDEXING_SETTLE_SECONDS = 5.0


def _sync_state(node: Node):
    try:
        return node.request("eth_syncing", [])
    except RPCError:
        return False  # a node without eth_syncing is taken as synced
    except Exception as e:
        raise ChainUnreachable(
            f"chain RPC {node.url}: eth_syncing failed ({e.__class__.__name__}) (expected false on a synced node)"
        ) from None


def _has_every_block(state: Any) -> bool:
    """An eth_syncing answer of a node that is not behind on blocks (it may still be indexing them)."""
    return (
        isinstance(state, dict)
        and "currentBlock" in state
        and "highestBlock" in state
        and int(state["currentBlock"], 16) >= int(state["highestBlock"], 16)
    )


def check_synced(node: Node) -> None:
    """Refuse a node that is still syncing (eth_syncing answers other than false): a geth catching
    up has an old head and old state, where every contract deployed since reads as missing and a
    migration would deploy it again.  One that has every block and only indexes them (transactions
    by hash, which adoption and import read) is given INDEXING_SETTLE_SECONDS to finish first."""
    deadline = time.monotonic() + INDEXING_SETTLE_SECONDS
    state = _sync_state(node)
    while state is not False and _has_every_block(state) and time.monotonic() < deadline:
        time.sleep(0.1)
        state = _sync_state(node)
    if state is False:
        return
    why = "its state is behind the chain's: deployed contracts would read as missing"
    if isinstance(state, dict) and "currentBlock" in state and "highestBlock" in state:
        where = f"at block {int(state['currentBlock'], 16)} of {int(state['highestBlock'], 16)}"
        if _has_every_block(state):
            left = [f"{k} {int(v, 16)}" for k, v in sorted(state.items()) if "Remaining" in k and isinstance(v, str) and int(v, 16)]
            where += f", still indexing after {INDEXING_SETTLE_SECONDS:g} s" + (f": {', '.join(left)}" if left else "")
            why = "transactions it has not indexed yet read as missing: an interrupted run's would be sent again"
    else:
        where = f"eth_syncing: {state!r}"
    raise ChainSyncing(f"chain RPC {node.url}: the node is still syncing ({where}); expected a synced node ({why}); nothing was sent")


def create_address(sender: str, nonce: int) -> str:
    """The address a CREATE from ``sender`` at ``nonce`` lands on: known before it is sent."""
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


def code_hash(node: Node, address: str, block: str = "latest") -> str | None:
    """keccak of the runtime code at ``address``; None where there is none."""
    code = node.code(to_checksum_address(address), block)
    return keccak(code).hex() if code else None


def genesis_hash(node: Node) -> str:
    return str(node.block(0)["hash"]).removeprefix("0x")


def address_from_key(private_key: str, key: str = "keep-cd:deployerPrivateKey") -> str:
    """The account address of ``private_key`` (eth_keys: what reads needs no eth_account)."""
    from eth_keys import keys

    try:
        raw = bytes.fromhex(private_key.removeprefix("0x"))
        return keys.PrivateKey(raw).public_key.to_checksum_address()
    except Exception:  # never echo the value: a malformed key is mostly a real one with a typo
        raise ConfigError(f"config {key}: not a valid secp256k1 private key (expected 0x + 64 hex digits)") from None


def account_from_key(private_key: str, key: str = "keep-cd:deployerPrivateKey"):
    """The account that signs with ``private_key`` (eth_account: for what sends)."""
    address_from_key(private_key, key)  # the same refusal as a read's, for the same value
    from eth_account import Account

    return Account.from_key(private_key)


def revert_reason(exc: Exception) -> str:
    """The revert reason out of a web3 error, as plain text."""
    msg = getattr(exc, "message", None)
    if not msg and exc.args and isinstance(exc.args[0], dict):  # a raw JSON-RPC error object
        msg = str(exc.args[0].get("message", exc.args[0]))
    msg = (msg or str(exc)).split("\n")[0]
    for prefix in ("execution reverted: ", "execution reverted"):
        if msg.startswith(prefix):
            return msg[len(prefix) :] or "(no reason given)"
    return msg
