"""The node keep-cd talks to: the connection with its chain-id and syncing guard, and what is read
from it (code, genesis, revert reasons); CREATE addresses and keys, derived without it."""

from __future__ import annotations

import re

import rlp  # type: ignore[import-untyped]  # rlp ships no type information
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.types import BlockIdentifier, RPCEndpoint

from .errors import ChainIdMismatch, ChainSyncing, ChainUnreachable, ConfigError

_URL = re.compile(r"^(https?)://[^\s/]+(:\d+)?(/.*)?$")


def connect(rpc_url: str, expected_chain_id: int | None = None, *, timeout: float = 10.0, key: str = "rpcUrl") -> Web3:
    """A Web3 client for ``rpc_url`` after checking that it answers and is the expected chain.

    Retries are off: an unreachable node must fail fast with one line, not after minutes of backoff.
    """
    if not isinstance(rpc_url, str) or not _URL.match(rpc_url):
        raise ConfigError(f"config {key}: {rpc_url!r} is not an http(s) JSON-RPC URL (expected e.g. http://127.0.0.1:8545)")
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None))
    try:
        chain_id = w3.eth.chain_id
    except Exception as e:  # connection refused, DNS, timeout, garbage answer
        raise ChainUnreachable(
            f"chain RPC {rpc_url}: unreachable ({e.__class__.__name__}) (expected a JSON-RPC node answering eth_chainId)"
        ) from None
    if expected_chain_id is not None and int(chain_id) != int(expected_chain_id):
        raise ChainIdMismatch(
            f"chain RPC {rpc_url}: chain id is {chain_id}, stack config chainId is {expected_chain_id}; "
            "refusing to send anything to a chain the stack does not name"
        )
    check_synced(w3, rpc_url)
    return w3


def check_synced(w3: Web3, rpc_url: str) -> None:
    """Refuse a node that is still syncing (eth_syncing answers other than false): a geth catching
    up has an old head and old state, where every contract deployed since reads as missing and a
    migration would deploy it again."""
    try:
        syncing = w3.provider.make_request(RPCEndpoint("eth_syncing"), [])
    except Exception as e:
        raise ChainUnreachable(
            f"chain RPC {rpc_url}: eth_syncing failed ({e.__class__.__name__}) (expected false on a synced node)"
        ) from None
    state = syncing.get("result")
    if "error" in syncing or state is False:
        return  # a node without eth_syncing is taken as synced
    if isinstance(state, dict) and "currentBlock" in state and "highestBlock" in state:
        where = f"at block {int(state['currentBlock'], 16)} of {int(state['highestBlock'], 16)}"
    else:
        where = f"eth_syncing: {state!r}"
    raise ChainSyncing(
        f"chain RPC {rpc_url}: the node is still syncing ({where}); expected a synced node "
        "(its state is behind the chain's: deployed contracts would read as missing); nothing was sent"
    )


def create_address(sender: str, nonce: int) -> str:
    """The address a CREATE from ``sender`` at ``nonce`` lands on: known before it is sent."""
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


def code_hash(w3: Web3, address: str, block: BlockIdentifier = "latest") -> str | None:
    """keccak of the runtime code at ``address``; None where there is none."""
    code = w3.eth.get_code(to_checksum_address(address), block)
    return keccak(bytes(code)).hex() if len(code) else None


def genesis_hash(w3: Web3) -> str:
    return w3.eth.get_block(0)["hash"].hex()


def account_from_key(private_key: str, key: str = "keep-cd:deployerPrivateKey"):
    try:
        return Account.from_key(private_key)
    except Exception:  # never echo the value: a malformed key is mostly a real one with a typo
        raise ConfigError(f"config {key}: not a valid secp256k1 private key (expected 0x + 64 hex digits)") from None


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
