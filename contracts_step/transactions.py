"""Sending many transactions from one account: pipelined nonces, chunks that fit a block.

Why not send-and-wait: a dependent transaction does not need its dependency *mined*, only ordered
before it.  Nonces give that order, and the node's ``pending`` state (mined blocks plus what sits in
its pool) lets ``eth_estimateGas`` run a dependent transaction against a dependency that is not mined
yet.  So every transaction goes out as soon as it is estimated; we only wait when the next one would
no longer fit in the block being filled (anvil was seen to drop transactions silently when flooded
beyond a block's gas), and at the end.

One lock per (chain, account) in this process keeps two resources from taking the same nonces.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound

from .chain import revert_reason
from .errors import InsufficientFunds, TransactionDropped, TransactionReverted

_LOCKS: dict = {}
_LOCKS_GUARD = threading.Lock()


def account_lock(chain_id: int, address: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((int(chain_id), address.lower()), threading.Lock())


@dataclass
class TxRequest:
    label: str  # what it is, for messages: "deploy TokenStaking", "call TokenGrant.authorizeStakingContract"
    to: Optional[str]  # None: contract creation
    data: bytes
    value: int = 0
    nonce: Optional[int] = None
    gas: Optional[int] = None
    tx_hash: Optional[str] = None
    raw: Optional[bytes] = None
    receipt: Optional[dict] = field(default=None, repr=False)


@dataclass
class SendStats:
    txs: int = 0
    gas_used: int = 0
    blocks: tuple = ()
    resends: int = 0
    seconds: float = 0.0


class PipelinedSender:
    def __init__(
        self,
        w3: Web3,
        account,
        *,
        confirm_timeout: float = 120.0,
        gas_margin: float = 1.1,
        poll_interval: float = 0.05,
        log: Callable[[str], None] = lambda _m: None,
    ):
        self.w3 = w3
        self.account = account
        self.address = to_checksum_address(account.address)
        self.chain_id = int(w3.eth.chain_id)
        self.confirm_timeout = confirm_timeout
        self.gas_margin = gas_margin
        self.poll_interval = poll_interval
        self.log = log
        self.stats = SendStats()

    # -- nonces ---------------------------------------------------------------------------------
    def settled_nonce(self, timeout: float = 60.0) -> int:
        """The next nonce once nothing of ours is pending: pending transactions of an earlier,
        interrupted run must land (or be seen to be stuck) before we can tell what they did."""
        deadline = time.monotonic() + timeout
        while True:
            latest = self.w3.eth.get_transaction_count(self.address, "latest")
            pending = self.w3.eth.get_transaction_count(self.address, "pending")
            if pending <= latest:
                return latest
            if time.monotonic() > deadline:
                raise TransactionDropped(
                    f"account {self.address}: {pending - latest} transactions still pending after {timeout:.0f}s "
                    "(expected the node to mine them; is it mining?)"
                )
            time.sleep(self.poll_interval)

    # -- fees -------------------------------------------------------------------------------------
    def _fees(self) -> dict:
        block = self.w3.eth.get_block("latest")
        base = block.get("baseFeePerGas")
        if base is None:
            return {"gasPrice": self.w3.eth.gas_price}
        try:
            tip = self.w3.eth.max_priority_fee
        except Exception:
            tip = Web3.to_wei(1, "gwei")
        return {"maxFeePerGas": 2 * int(base) + int(tip), "maxPriorityFeePerGas": int(tip)}

    def block_gas_limit(self) -> int:
        return int(self.w3.eth.get_block("latest")["gasLimit"])

    # -- sending ----------------------------------------------------------------------------------
    def _call_of(self, req: TxRequest) -> dict:
        call = {"from": self.address, "data": req.data, "value": req.value}
        if req.to:
            call["to"] = to_checksum_address(req.to)
        return call

    def estimate_now(self, req: TxRequest, state_override: Optional[dict] = None) -> Optional[int]:
        """Gas for ``req`` against the latest block (with ``state_override`` if given); a revert
        raises with its reason.  None where the node does not take state overrides."""
        try:
            if state_override:
                return int(self.w3.eth.estimate_gas(self._call_of(req), "latest", state_override))
            return int(self.w3.eth.estimate_gas(self._call_of(req), "latest"))
        except ContractLogicError as e:
            raise TransactionReverted(f"transaction {req.label}: would revert: {revert_reason(e)}; nothing was sent") from None
        except ValueError as e:
            if state_override and "revert" not in str(e).lower():
                return None

            raise TransactionReverted(f"transaction {req.label}: would revert: {revert_reason(e)}; nothing was sent") from None

    def _estimate(self, req: TxRequest, in_flight: list) -> int:
        call = self._call_of(req)
        try:
            return int(self.w3.eth.estimate_gas(call, "pending"))
        except (ContractLogicError, ValueError) as first:
            if not in_flight:
                raise TransactionReverted(f"transaction {req.label}: would revert: {revert_reason(first)}") from None
        # The node may not apply its pool to "pending": let what we sent land, then ask again.
        self.wait(in_flight)
        in_flight.clear()
        try:
            return int(self.w3.eth.estimate_gas(call, "latest"))
        except (ContractLogicError, ValueError) as e:
            raise TransactionReverted(f"transaction {req.label}: would revert: {revert_reason(e)}") from None

    def send(self, requests: list, first_nonce: int) -> list:
        """Send ``requests`` with consecutive nonces from ``first_nonce`` and wait for all of them.

        The caller holds ``account_lock`` and got ``first_nonce`` from ``settled_nonce`` (it needs
        the nonces in advance to know the addresses of contracts it creates).
        """
        started = time.monotonic()
        limit = self.block_gas_limit()
        fees = self._fees()
        price = fees.get("maxFeePerGas", fees.get("gasPrice"))
        budget = int(self.w3.eth.get_balance(self.address))
        spent = 0
        in_flight: list = []
        in_flight_gas = 0
        blocks = set()
        for i, req in enumerate(requests):
            req.nonce = first_nonce + i
            estimate = self._estimate(req, in_flight)
            req.gas = min(int(estimate * self.gas_margin) + 10_000, limit)
            cost = req.gas * price + req.value
            if spent + cost > budget:
                raise InsufficientFunds(
                    f"account {self.address}: balance {Web3.from_wei(budget, 'ether')} ETH runs out at {req.label} "
                    f"(needs {Web3.from_wei(spent + cost - budget, 'ether')} ETH more at {price} wei/gas)"
                )
            if in_flight and in_flight_gas + req.gas > limit:
                blocks |= self.wait(in_flight)
                in_flight, in_flight_gas = [], 0
            tx = {
                "chainId": self.chain_id,
                "nonce": req.nonce,
                "gas": req.gas,
                "value": req.value,
                "data": req.data,
                **fees,
            }
            if req.to:
                tx["to"] = to_checksum_address(req.to)
            signed = self.account.sign_transaction(tx)
            req.raw = bytes(signed.raw_transaction)
            req.tx_hash = "0x" + bytes(signed.hash).hex()
            self.w3.eth.send_raw_transaction(req.raw)
            spent += cost
            in_flight.append(req)
            in_flight_gas += req.gas
            self.log(f"sent {req.label} nonce={req.nonce} gas={req.gas}")
        blocks |= self.wait(in_flight)
        self.stats.txs += len(requests)
        self.stats.gas_used += sum(int(r.receipt["gasUsed"]) for r in requests)
        self.stats.blocks = tuple(sorted(set(self.stats.blocks) | blocks))
        self.stats.seconds += time.monotonic() - started
        return requests

    def wait(self, reqs: list) -> set:
        """Wait for every request's receipt; resend any the node has forgotten; fail on revert."""
        if not reqs:
            return set()
        deadline = time.monotonic() + self.confirm_timeout
        last_nonce = max(r.nonce for r in reqs)
        next_resend = time.monotonic() + max(5.0, self.confirm_timeout / 6)
        while self.w3.eth.get_transaction_count(self.address, "latest") <= last_nonce:
            now = time.monotonic()
            if now > deadline:
                raise TransactionDropped(
                    f"transaction {reqs[-1].label}: not mined after {self.confirm_timeout:.0f}s "
                    f"(nonce {last_nonce}; expected the node to mine it)"
                )
            if now > next_resend:
                self._resend_missing(reqs)
                next_resend = now + max(5.0, self.confirm_timeout / 6)
            time.sleep(self.poll_interval)
        blocks = set()
        for r in reqs:
            try:
                receipt = self.w3.eth.get_transaction_receipt(r.tx_hash)
            except TransactionNotFound:
                raise TransactionDropped(
                    f"transaction {r.label}: nonce {r.nonce} was used by another transaction "
                    "(expected keep-cd to be the only sender of this account while it runs)"
                ) from None
            r.receipt = dict(receipt)
            blocks.add(int(receipt["blockNumber"]))
            if int(receipt["status"]) != 1:
                raise TransactionReverted(f"transaction {r.label}: reverted: {self._replay_reason(r)} (tx {r.tx_hash})")
        return blocks

    def _resend_missing(self, reqs: list) -> None:
        for r in reqs:
            try:
                self.w3.eth.get_transaction(r.tx_hash)
            except TransactionNotFound:
                self.stats.resends += 1
                self.log(f"resending {r.label} nonce={r.nonce}: the node has dropped it")
                try:
                    self.w3.eth.send_raw_transaction(r.raw)
                except Exception as e:  # already known / nonce too low: it landed meanwhile
                    self.log(f"resend of {r.label}: {e}")

    def _replay_reason(self, r: TxRequest) -> str:
        call = {**self._call_of(r), "gas": r.gas}
        try:
            self.w3.eth.call(call, int(r.receipt["blockNumber"]) - 1)
        except Exception as e:
            return revert_reason(e)
        return "out of gas or reverted without reason"
