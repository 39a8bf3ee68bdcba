"""Sending many transactions from one account: pipelined nonces, chunks that fit a block.

Why not send-and-wait: a dependent transaction does not need its dependency *mined*, only ordered
before it.  Nonces give that order.  Its gas is found by simulating it after our transactions in
flight: ``eth_simulateV1`` on the latest block, with the in-flight transactions that block does not
hold yet run first, in nonce order (``_simulated_gas``).  The node's own ``pending`` state is not
used for that: geth serves a pending block built up to 2 s earlier (miner/pending.go, pendingTTL),
so a transaction sent since is missing from it, and a call to a contract created in that gap
estimates as a plain transfer and runs out of gas when mined (docs/geth.md).  So every
transaction goes out as soon as it is estimated; we only wait when the next one would no longer fit
in the block being filled (anvil was seen to drop transactions silently when flooded beyond a
block's gas), and at the end.

One lock per (chain, account) in this process (``chain.tx_request.account_lock``) keeps two resources from taking the same nonces.

An account that other processes send from too (the faucet every provisioning pod of a namespace
shares, initcontainer/provision_operator.py) cannot hold its nonces that way: ``send_shared`` sends
one transaction from it at a time, and retries a lost nonce race with fresh state.  The image copies
this module (initcontainer/Dockerfile): it imports no package that image does not pin.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from eth_typing import HexStr
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound

from .errors import InsufficientFunds, NonceContention, TransactionDropped, TransactionReverted
from .fees import fee_cap, fee_fields
from .node import BATCH_LIMIT, RPCError, revert_reason
from .tx_request import SendStats, TxRequest

# What a node answers when another sender of the same account took the nonce first (geth, anvil).
COLLISION_MARKERS = ("nonce", "underpriced", "already known", "already imported")


# How long the account's nonce may stand still, with ours in flight, before the node's pool is
# asked why (``PipelinedSender._unstrand``).  Longer than a dev chain's block (anvil automines,
# `geth --dev` here mines every second); only anvil is repaired, so a slower chain costs one
# web3_clientVersion.
STRANDED_CHECK_SECONDS = 2.0
# How long a receipt may lag behind its account's nonce on the node (``PipelinedSender._receipts``).
RECEIPT_LAG_SECONDS = 5.0


def is_collision(message: str) -> bool:
    """Whether a node's refusal of a transaction means another sender of the account got there first."""
    text = message.lower()
    return any(m in text for m in COLLISION_MARKERS)


def _access_list(req: TxRequest) -> dict:
    """``accessList`` of ``req`` as transaction and call fields; none where it has no entries."""
    if not req.access_list:
        return {}
    return {"accessList": [{"address": to_checksum_address(a), "storageKeys": []} for a in req.access_list]}


@dataclass
class _InFlight:
    """``send_batched``'s transactions sent and not yet waited for, their gas, and the blocks that
    mined the ones waited for."""

    requests: list = field(default_factory=list)
    gas: int = 0
    blocks: set = field(default_factory=set)


def _numbered(requests: list, first_nonce: int) -> dict:
    """Gives ``requests`` consecutive nonces from ``first_nonce``; returns id(request) -> position."""
    position = {id(r): i for i, r in enumerate(requests)}
    for i, r in enumerate(requests):
        r.nonce = first_nonce + i
        if any(position.get(id(d), i) >= i for d in r.after):
            raise ValueError(f"transaction {r.label}: `after` names a request that does not come before it")
    return position


def _ready_run(requests: list, start: int, position: dict) -> list:
    """A run of requests from ``start`` (at most 256, one estimate batch) whose `after` are all sent."""
    run = []
    for r in requests[start : start + 256]:
        if any(position[id(d)] >= start for d in r.after):
            break
        run.append(r)
    return run


@dataclass
class _Spending:
    """What one send run may spend: the account's balance when it starts, at the run's gas price.
    Each transaction is charged before it is signed, so a run that cannot pay fails before sending
    what it cannot finish."""

    address: str
    budget: int  # wei
    price: int  # wei per gas
    spent: int = 0

    def charge(self, req: TxRequest) -> None:
        if req.gas is None:
            raise ValueError(f"{req.label}: charged before its gas limit was set")  # a bug of the sender, not of the input
        cost = req.gas * self.price + req.value
        if self.spent + cost > self.budget:
            raise InsufficientFunds(
                f"account {self.address}: balance {Web3.from_wei(self.budget, 'ether')} ETH runs out at {req.label} "
                f"(needs {Web3.from_wei(self.spent + cost - self.budget, 'ether')} ETH more at {self.price} wei/gas)"
            )
        self.spent += cost


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
        self._simulation_refused = False
        self._anvil: bool | None = None

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

    def block_gas_limit(self) -> int:
        return int(self.w3.eth.get_block("latest")["gasLimit"])

    # -- sending ----------------------------------------------------------------------------------
    def _call_of(self, req: TxRequest) -> Any:
        """``req`` as web3's call parameters (a ``TxParams``; typed Any: web3 wants its own NewTypes)."""
        call: dict = {"from": self.address, "data": req.data, "value": req.value, **_access_list(req)}
        if req.to:
            call["to"] = to_checksum_address(req.to)
        return call

    def estimate_now(self, req: TxRequest, state_override: dict | None = None) -> int | None:
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

    def _estimate(self, req: TxRequest, in_flight: list, blocks: set) -> int:
        """Gas for ``req`` once everything in ``in_flight`` has run (their blocks join ``blocks``
        where we have to wait for them)."""
        call = self._call_of(req)
        if not in_flight:
            try:
                return int(self.w3.eth.estimate_gas(call, "latest"))
            except (ContractLogicError, ValueError) as e:
                raise TransactionReverted(f"transaction {req.label}: would revert: {revert_reason(e)}") from None
        simulated = self._simulated_gas([req], lambda g: int(g * self.gas_margin) + 10_000, in_flight)[0]
        if simulated is not None:
            return simulated
        if self._pending_holds(in_flight):
            try:
                return int(self.w3.eth.estimate_gas(call, "pending"))
            except (ContractLogicError, ValueError):
                pass
        # Neither tells: let what we sent land, then ask again on the chain as it is.
        blocks |= self.wait(in_flight)
        in_flight.clear()
        try:
            return int(self.w3.eth.estimate_gas(call, "latest"))
        except (ContractLogicError, ValueError) as e:
            raise TransactionReverted(f"transaction {req.label}: would revert: {revert_reason(e)}") from None

    def _pending_holds(self, in_flight: list) -> bool:
        """Whether the node's "pending" block holds every transaction of ours in flight that is not
        mined yet: only then does an estimate on "pending" see their effects.  anvil's always does;
        geth's is a snapshot of its pool up to 2 s old, which may not (docs/geth.md)."""
        block = self.w3.eth.get_block("pending")
        hashes: list[Any] = list(block["transactions"])  # hashes: get_block without full transactions
        held = {bytes(h).hex().removeprefix("0x") if not isinstance(h, str) else h.removeprefix("0x") for h in hashes}
        mined = int(self.w3.eth.get_transaction_count(self.address, "latest"))
        return all((r.tx_hash or "").removeprefix("0x") in held for r in in_flight if r.nonce >= mined)

    def _start_run(self) -> tuple:
        """(block gas limit, fee fields, spending budget) for one ``send``/``send_batched`` run."""
        fees = fee_fields(self.w3)
        return self.block_gas_limit(), fees, _Spending(self.address, int(self.w3.eth.get_balance(self.address)), fee_cap(fees))

    def _finish_run(self, requests: list, blocks: set, started: float) -> list:
        self.stats.txs += len(requests)
        self.stats.gas_used += sum(int(r.receipt["gasUsed"]) for r in requests)
        self.stats.blocks = tuple(sorted(set(self.stats.blocks) | blocks))
        self.stats.seconds += time.monotonic() - started
        return requests

    def send(self, requests: list, first_nonce: int) -> list:
        """Send ``requests`` with consecutive nonces from ``first_nonce`` and wait for all of them.

        The caller holds ``account_lock`` and got ``first_nonce`` from ``settled_nonce`` (it needs
        the nonces in advance to know the addresses of contracts it creates).
        """
        started = time.monotonic()
        limit, fees, spending = self._start_run()
        in_flight: list = []
        in_flight_gas = 0
        blocks: set = set()
        for i, req in enumerate(requests):
            req.nonce = first_nonce + i
            estimate = self._estimate(req, in_flight, blocks)
            req.gas = min(int(estimate * self.gas_margin) + 10_000, limit)
            spending.charge(req)
            if in_flight and in_flight_gas + req.gas > limit:
                blocks |= self.wait(in_flight)
                in_flight, in_flight_gas = [], 0
            self._sign(req, fees)
            self.w3.eth.send_raw_transaction(req.raw)
            in_flight.append(req)
            in_flight_gas += req.gas
            self.log(f"sent {req.label} nonce={req.nonce} gas={req.gas}")
        blocks |= self.wait(in_flight)
        return self._finish_run(requests, blocks, started)

    def wait(self, reqs: list, batched: bool = False) -> set:
        """Wait for every request's receipt; resend any the node has forgotten; fail on revert.

        ``batched`` fetches the receipts in one JSON-RPC batch (hundreds of them after a block)."""
        if not reqs:
            return set()
        deadline = time.monotonic() + self.confirm_timeout
        last_nonce = max(r.nonce for r in reqs)
        next_resend = time.monotonic() + max(5.0, self.confirm_timeout / 6)
        mined = self.w3.eth.get_transaction_count(self.address, "latest")
        moved = time.monotonic()
        while mined <= last_nonce:
            now = time.monotonic()
            if now > deadline:
                raise TransactionDropped(
                    f"transaction {reqs[-1].label}: not mined after {self.confirm_timeout:.0f}s "
                    f"(nonce {last_nonce}; expected the node to mine it{self._pool_note(mined)})"
                )
            if now > next_resend:
                self._resend_missing(reqs)
                next_resend = now + max(5.0, self.confirm_timeout / 6)
            if now - moved > STRANDED_CHECK_SECONDS:
                self._unstrand(mined, reqs)
                moved = now
            time.sleep(self.poll_interval)
            latest = self.w3.eth.get_transaction_count(self.address, "latest")
            if latest != mined:
                mined, moved = latest, time.monotonic()
        blocks: set = set()
        receipts = self._receipts(reqs, batched)
        for r, receipt in zip(reqs, receipts, strict=True):
            if receipt is None:
                raise TransactionDropped(
                    f"transaction {r.label}: nonce {r.nonce} was used by another transaction "
                    "(expected keep-cd to be the only sender of this account while it runs)"
                )
            r.receipt = receipt
            blocks.add(int(receipt["blockNumber"]))
            if int(receipt["status"]) != 1:
                raise TransactionReverted(f"transaction {r.label}: reverted: {self._replay_reason(r)} (tx {r.tx_hash})")
        return blocks

    def _receipts(self, reqs: list, batched: bool) -> list:
        """Each request's receipt (``batched``: blockNumber, status, gasUsed, transactionHash; else
        web3's whole receipt), None where the node has none, once the account's nonce is past all
        of them.

        anvil (1.7.1, ``Backend::do_mine_block``) moves the account's nonce before it stores the
        block's receipts, so a receipt asked for right after may be missing for a moment: a
        missing one is asked for again for up to ``RECEIPT_LAG_SECONDS`` before it counts as
        another transaction's nonce."""
        out: list = [None] * len(reqs)
        deadline = time.monotonic() + RECEIPT_LAG_SECONDS
        while True:
            missing = [i for i, got in enumerate(out) if got is None]
            if batched:
                answers = self._batch([("eth_getTransactionReceipt", [reqs[i].tx_hash]) for i in missing])
            else:
                answers = [self._receipt_or_none(reqs[i].tx_hash) for i in missing]
            for i, answer in zip(missing, answers, strict=True):
                if isinstance(answer, dict) and batched:  # raw JSON-RPC: hex quantities
                    out[i] = {
                        "blockNumber": int(answer["blockNumber"], 16),
                        "status": int(answer["status"], 16),
                        "gasUsed": int(answer["gasUsed"], 16),
                        "transactionHash": answer["transactionHash"],
                    }
                elif isinstance(answer, dict):  # web3's whole receipt
                    out[i] = answer
            if all(got is not None for got in out) or time.monotonic() > deadline:
                return out
            time.sleep(self.poll_interval)

    def _receipt_or_none(self, tx_hash: str) -> dict | None:
        try:
            return dict(self.w3.eth.get_transaction_receipt(cast(Any, tx_hash)))
        except TransactionNotFound:
            return None

    # -- batched sending (many small transactions between two blocks) ----------------------------
    def _batch(self, calls: list) -> list:
        """JSON-RPC batches of (method, params), at most ``BATCH_LIMIT`` calls each; per call its raw
        result, or an ``RPCError``."""
        out: list = []
        for start in range(0, len(calls), BATCH_LIMIT):
            chunk = calls[start : start + BATCH_LIMIT]
            responses = cast(Any, self.w3.provider).make_batch_request(chunk)
            if not isinstance(responses, list):  # the node refused the batch as a whole
                raise TransactionDropped(f"chain RPC: batch of {len(chunk)} requests refused: {responses.get('error')}")
            out += [RPCError(r["error"]) if r.get("error") else r.get("result") for r in responses]
        return out

    def _call_params(self, req: TxRequest) -> dict:
        call = {"from": self.address, "data": "0x" + bytes(req.data).hex(), "value": hex(req.value), **_access_list(req)}
        if req.to:
            call["to"] = to_checksum_address(req.to)
        return call

    def send_batched(self, requests: list, first_nonce: int, *, gas_margin: float | None = None, gas_pad: int = 10_000) -> list:
        """``send`` for many transactions: estimates, signs and sends them as JSON-RPC batches.

        Same contract as ``send`` (consecutive nonces from ``first_nonce``, the caller holds the
        account lock, chunks never exceed the block gas limit, balance checked before each
        transaction, dropped ones resent, reverts fail), but one by one a few hundred transactions
        take longer than a block, and then they spread over more blocks than their gas needs.

        A request is estimated against "latest" unless one of the requests it names in ``after``
        is still in flight; then it is simulated after everything in flight (``_simulated_gas``).
        A request with no ``after`` must not need the effect of the others.
        """
        started = time.monotonic()
        margin = self.gas_margin if gas_margin is None else gas_margin
        position = _numbered(requests, first_nonce)
        limit, fees, spending = self._start_run()
        flight = _InFlight()
        i = 0
        while i < len(requests):
            run = _ready_run(requests, i, position)
            estimates = self._estimable_prefix(run, flight, lambda g: int(g * margin) + gas_pad)
            outgoing: list = []
            for r, estimate in zip(run[: len(estimates)], estimates, strict=True):
                r.gas = min(int(estimate * margin) + gas_pad, limit)
                spending.charge(r)
                if flight.gas + r.gas > limit and (flight.requests or outgoing):
                    flight.requests += self._send_raw_batch(outgoing)
                    outgoing = []
                    self._wait_in_flight(flight)
                self._sign(r, fees)
                outgoing.append(r)
                flight.gas += r.gas
            flight.requests += self._send_raw_batch(outgoing)
            i += len(estimates)
        self._wait_in_flight(flight)
        return self._finish_run(requests, flight.blocks, started)

    def _estimable_prefix(self, run: list, flight: _InFlight, gas_limit: Callable[[int], int]) -> list:
        """Gas of the longest prefix of ``run`` that is estimable now (at least its first request)."""
        flying = {id(r) for r in flight.requests}
        tags = ["pending" if any(id(d) in flying for d in r.after) else "latest" for r in run]
        estimates = self._estimates(run, tags, gas_limit, flight.requests)
        good = 0
        while good < len(run) and not isinstance(estimates[good], RPCError):
            good += 1
        if good:
            return estimates[:good]
        # Not estimable even after everything before it: wait for what is in flight to be
        # mined (a node may ignore its pool for "pending"), then it must work on "latest".
        if not flight.requests:
            raise TransactionReverted(f"transaction {run[0].label}: would revert: {estimates[0].reason}")
        self._wait_in_flight(flight)
        again = self._batch([("eth_estimateGas", [self._call_params(run[0]), "latest"])])[0]
        if isinstance(again, RPCError):
            raise TransactionReverted(f"transaction {run[0].label}: would revert: {again.reason}")
        return [int(again, 16)]

    def _wait_in_flight(self, flight: _InFlight) -> None:
        flight.blocks |= self.wait(flight.requests, batched=True)
        flight.requests, flight.gas = [], 0

    def _estimates(self, run: list, tags: list, gas_limit: Callable[[int], int], in_flight: list) -> list:
        """Gas per request (int), or an ``RPCError`` where it would revert.  "latest" ones by
        eth_estimateGas in one batch; "pending" ones (they need something in flight) by
        ``_simulated_gas`` after ``in_flight``."""
        out: list = [None] * len(run)
        latest = [k for k, t in enumerate(tags) if t == "latest"]
        pending = [k for k, t in enumerate(tags) if t == "pending"]
        for k, res in zip(latest, self._batch([("eth_estimateGas", [self._call_params(run[k]), "latest"]) for k in latest]), strict=True):
            out[k] = res if isinstance(res, RPCError) else int(res, 16)
        if pending:
            reqs = [run[k] for k in pending]
            gas = self._simulated_gas(reqs, gas_limit, in_flight)
            missing = [j for j, g in enumerate(gas) if g is None]
            if missing and self._pending_holds(in_flight):
                fallback = self._batch([("eth_estimateGas", [self._call_params(reqs[j]), "pending"]) for j in missing])
            else:  # the caller waits for what is in flight, then estimates on "latest"
                fallback = [RPCError({"message": "not estimable before the transactions in flight are mined"})] * len(missing)
            for j, res in zip(missing, fallback, strict=True):
                gas[j] = res if isinstance(res, RPCError) else int(res, 16)
            for k, g in zip(pending, gas, strict=True):
                out[k] = g
        return out

    def _simulated_gas(self, reqs: list, gas_limit: Callable[[int], int], in_flight: list) -> list:
        """Gas for requests that need our transactions in flight, from ``eth_simulateV1``.

        The simulation is pinned to one block: the latest one, with the in-flight transactions it
        does not hold yet (our nonces from the account's nonce in that block on) run first, each
        with the gas it was sent with, then ``reqs`` in order.  That is exactly the state they will
        run in, whatever the node keeps in its pool or its "pending" block (geth's is a snapshot up
        to 2 s old; anvil's is current), and one simulation serves the whole run (eth_estimateGas
        against "pending" makes anvil build its pending block once per request: ~4 ms with a few
        hundred transactions in the pool, so 100 of them outlast a 1 s block).

        A simulation reports gas *used*, which can be less than gas *needed* (refunds, the 63/64
        rule), so each figure is simulated again with exactly the gas limit it will be sent with;
        any that fails, and all of them on a node without eth_simulateV1, come back as None (the
        caller then waits for what is in flight and estimates on the chain as it is).
        """
        if self._simulation_refused:
            return [None] * len(reqs)
        head = self.w3.eth.get_block("latest")
        number = hex(int(head["number"]))
        mined = int(self.w3.eth.get_transaction_count(self.address, HexStr(number)))
        ahead = sorted((r for r in in_flight if r.nonce >= mined), key=lambda r: r.nonce)
        if [r.nonce for r in ahead + list(reqs)] != list(range(mined, mined + len(ahead) + len(reqs))):
            # A transaction of this account we do not hold sits between that block and ours: the
            # simulation would run ours at other nonces (other CREATE addresses).  Not pinnable.
            return [None] * len(reqs)
        prefix = [{**self._call_params(r), "gas": hex(r.gas)} for r in ahead]
        # Room for the prefix and every request at any gas (the simulated block is not mined; the
        # node's own per-simulation budget, geth's --rpc.gascap, still applies).
        room = hex(int(head["gasLimit"]) * (2 + len(reqs)))

        def simulate(calls: list) -> list | None:
            params = {"blockStateCalls": [{"blockOverrides": {"gasLimit": room}, "calls": prefix + calls}]}
            res = self._batch([("eth_simulateV1", [params, number])])[0]
            if isinstance(res, RPCError) and not self._simulation_refused:
                # No eth_simulateV1, or not for this (anvil's refuses contract creations): not
                # asked again by this sender.
                self._simulation_refused = True
                self.log(f'eth_simulateV1 refused ({res.reason}); estimating on "pending" where it holds our transactions')
            if isinstance(res, RPCError) or not res:
                return None
            results = res[0].get("calls") or []
            return results[len(prefix) :] if len(results) == len(prefix) + len(calls) else None

        first = simulate([self._call_params(r) for r in reqs])
        if first is None:
            return [None] * len(reqs)
        used = [int(c["gasUsed"], 16) if int(c.get("status", "0x0"), 16) == 1 else None for c in first]
        checked = simulate(
            [{**self._call_params(r), **({"gas": hex(gas_limit(u))} if u is not None else {})} for r, u in zip(reqs, used, strict=True)]
        )
        if checked is None:
            return [None] * len(reqs)
        return [u if u is not None and int(c.get("status", "0x0"), 16) == 1 else None for u, c in zip(used, checked, strict=True)]

    def _sign(self, req: TxRequest, fees: dict) -> None:
        tx = {"chainId": self.chain_id, "nonce": req.nonce, "gas": req.gas, "value": req.value, "data": req.data, **fees}
        tx.update(_access_list(req))
        if req.to:
            tx["to"] = to_checksum_address(req.to)
        signed = self.account.sign_transaction(tx)
        req.raw = bytes(signed.raw_transaction)
        req.tx_hash = "0x" + bytes(signed.hash).hex()

    def _send_raw_batch(self, reqs: list) -> list:
        results = self._batch([("eth_sendRawTransaction", ["0x" + r.raw.hex()]) for r in reqs])
        for r, result in zip(reqs, results, strict=True):
            # "already known" is a resend of ours.  Any other refusal leaves a gap in the nonces
            # that nothing after it can cross: fail now, in one line, not after the confirm timeout.
            if isinstance(result, RPCError) and "known" not in result.reason:
                raise TransactionDropped(f"transaction {r.label}: the node refused it (nonce {r.nonce}): {result.reason}")
            self.log(f"sent {r.label} nonce={r.nonce} gas={r.gas}")
        return list(reqs)

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

    # -- anvil's stranded nonces ------------------------------------------------------------------
    def _is_anvil(self) -> bool:
        if self._anvil is None:
            self._anvil = str(self.w3.provider.make_request(cast(Any, "web3_clientVersion"), []).get("result", "")).startswith("anvil/")
        return self._anvil

    def _pool_nonces(self) -> dict | None:
        """{"pending": nonces, "queued": nonces} of this account in the node's pool ("pending": ready
        to mine; "queued": waiting for an earlier nonce), or None where the node keeps its pool to
        itself (geth without the txpool API)."""
        answer = self.w3.provider.make_request(cast(Any, "txpool_inspect"), [])
        if not isinstance(answer, dict) or not isinstance(answer.get("result"), dict):
            return None
        mine = self.address.lower()
        out: dict = {}
        for kind in ("pending", "queued"):
            by_sender = answer["result"].get(kind) or {}
            out[kind] = {int(n) for a, txs in by_sender.items() if a.lower() == mine for n in txs}
        return out

    def _pool_note(self, next_nonce: int) -> str:
        """For a timeout: where the node's pool holds the account's next nonce, where it tells."""
        try:
            pool = self._pool_nonces()
        except Exception:  # a diagnosis only; the timeout is the error
            return ""
        if pool is None:
            return ""
        if next_nonce in pool["queued"]:
            return f"; the node holds nonce {next_nonce} as queued, waiting for an earlier nonce, though it is the account's next"
        if next_nonce in pool["pending"]:
            return f"; the node holds nonce {next_nonce} as ready and has not mined it: is the chain mining?"
        return f"; the node's pool has no transaction of this account at nonce {next_nonce}"

    def _unstrand(self, next_nonce: int, ours: list) -> bool:
        """Free our transactions anvil has stranded; True where it had.

        anvil (v1.7.1, crates/anvil/src/eth/api.rs ``send_raw_transaction``) reads the account's
        nonce, then inserts the transaction into its pool as requiring the nonce before it unless
        that read said it is the next one.  When the block holding that earlier nonce is mined and
        pruned from the pool in between, the requirement is never met again: the transaction sits
        in the queue for good although its nonce is the account's next, and every later one of
        ours behind it.  Sending it again is refused ("already imported").  So, seen that way,
        this account's transactions are removed from anvil's pool (``anvil_removePoolTransactions``)
        and ours from ``next_nonce`` on are sent again: the pool then places them afresh.
        Only anvil: another node is left to its own pool (geth re-sorts its queue on every block)."""
        if not self._is_anvil():
            return False
        pool = self._pool_nonces()
        if pool is None or next_nonce not in pool["queued"]:
            return False
        again = sorted((r for r in ours if r.raw is not None and r.nonce >= next_nonce), key=lambda r: r.nonce)
        self.log(f"anvil stranded nonce {next_nonce} in its queue: removing this account's pool transactions, sending {len(again)} again")
        self.w3.provider.make_request(cast(Any, "anvil_removePoolTransactions"), [self.address])
        for r, result in zip(again, self._batch([("eth_sendRawTransaction", ["0x" + r.raw.hex()]) for r in again]), strict=True):
            if isinstance(result, RPCError):  # mined meanwhile: nonce too low
                self.log(f"sending {r.label} again: {result.reason}")
        self.stats.unstranded += 1
        self.stats.resends += len(again)
        return True

    # -- one transaction from an account other processes send from too ---------------------------
    def send_shared(
        self, build: Callable[[], TxRequest | None], *, tip: int | None = None, gas_pad: int = 10_000, attempts: int = 30
    ) -> TxRequest | None:
        """Send the request ``build()`` returns and wait for it to be mined; None when ``build()``
        returns None (it reads the chain on "pending", which holds the pool, and finds the
        transaction not needed, or no longer).

        For an account other processes send from too: no nonce can be held, so each attempt takes
        the account's "pending" nonce, the fee fields for ``tip`` (``fee_fields``), a gas limit
        estimated on "pending" times ``gas_margin`` plus ``gas_pad`` (a request's preset ``gas`` is
        kept), signs and sends.  A lost race (the node refuses the nonce, or another transaction
        takes it in the pool) counts in ``stats.collisions`` and starts again from ``build()``,
        after a short random pause, at most ``attempts`` times; then NonceContention.  A request
        that would revert raises TransactionReverted before anything is sent; one the node refuses
        otherwise TransactionDropped; one mined and reverted TransactionReverted."""
        for attempt in range(attempts):
            req = build()
            if req is None:
                return None
            fees = fee_fields(self.w3, tip=tip)
            req.nonce = int(self.w3.eth.get_transaction_count(self.address, "pending"))
            if req.gas is None:
                try:
                    req.gas = int(self.w3.eth.estimate_gas(self._call_of(req), "pending") * self.gas_margin) + gas_pad
                except Exception as e:  # e.g. a faucet not supplied yet
                    raise TransactionReverted(f"transaction {req.label}: would revert ({revert_reason(e)})") from None
            self._sign(req, fees)
            try:
                self.w3.eth.send_raw_transaction(cast(bytes, req.raw))
            except Exception as e:
                message = str(e).splitlines()[0] if str(e) else e.__class__.__name__
                if not is_collision(message):
                    raise TransactionDropped(f"transaction {req.label}: the node refused it (nonce {req.nonce}): {message}") from None
                self.stats.collisions += 1
                time.sleep(random.uniform(0, 0.05 * (attempt + 1)))  # spread the herd a little
                continue
            receipt = self._receipt_unless_replaced(req)
            if receipt is None:
                self.stats.collisions += 1  # another sender's transaction took the nonce in the pool
                continue
            req.receipt = dict(receipt)
            if int(receipt["status"]) != 1:
                raise TransactionReverted(f"transaction {req.label}: reverted: {self._replay_reason(req)} (tx {req.tx_hash})")
            self.stats.txs += 1
            self.stats.gas_used += int(receipt["gasUsed"])
            self.stats.blocks = tuple(sorted({*self.stats.blocks, int(receipt["blockNumber"])}))
            return req
        raise NonceContention(f"account {self.address}: lost the nonce race {attempts} times (other senders of it took every nonce tried)")

    def _receipt_unless_replaced(self, req: TxRequest):
        """``req``'s receipt; None once its nonce is mined in another transaction (replaced in the pool)."""
        deadline = time.monotonic() + self.confirm_timeout
        mined, moved = -1, time.monotonic()
        while time.monotonic() < deadline:
            receipt = self._receipt_or_none(cast(str, req.tx_hash))
            if receipt is not None:
                return receipt
            latest = self.w3.eth.get_transaction_count(self.address, "latest")
            if latest > cast(int, req.nonce):
                return self._receipts([req], batched=False)[0]
            if latest != mined:
                mined, moved = latest, time.monotonic()
            elif time.monotonic() - moved > STRANDED_CHECK_SECONDS:
                # Another sender of the account may have freed its own stranded transaction, and
                # taken ours out of anvil's pool with it: each sender sends its own again.
                self._resend_missing([req])
                self._unstrand(latest, [req])
                moved = time.monotonic()
            time.sleep(self.poll_interval)
        where = self._pool_note(self.w3.eth.get_transaction_count(self.address, "latest")) or "; is the chain mining?"
        raise TransactionDropped(
            f"transaction {req.label}: not mined after {self.confirm_timeout:.0f}s (tx {req.tx_hash}, nonce {req.nonce}{where})"
        )

    def _replay_reason(self, r: TxRequest) -> str:
        """Why a mined transaction reverted: it is run again on the state before its block."""
        call: Any = {**self._call_of(r), "gas": r.gas}
        try:
            self.w3.eth.call(call, int((r.receipt or {})["blockNumber"]) - 1)
        except Exception as e:
            return revert_reason(e)
        return "out of gas or reverted without reason"


def stopped_run_note(w3: Web3, requests: list, next_run: str) -> tuple:
    """After a send of ``requests`` stopped with an error: (the request that failed or None, what
    to add to the error: how many others went out and were mined, and ``next_run``, what the next
    run does with them).  A request failed where it was never signed (its estimate or its charge
    failed) or its receipt says reverted; a signed one went out if the node knows it (a batch is
    signed before it is sent)."""
    failed = next((r for r in requests if r.tx_hash is None or (r.receipt is not None and int(r.receipt["status"]) != 1)), None)
    out = mined = 0
    for r in requests:
        if r is failed or not r.tx_hash:
            continue
        try:
            mined += int(w3.eth.get_transaction_receipt(r.tx_hash)["status"]) == 1
            out += 1
        except TransactionNotFound:
            try:
                w3.eth.get_transaction(r.tx_hash)
                out += 1  # pending: the next run waits for it before deciding
            except TransactionNotFound:
                pass  # signed, never sent
    if not out:
        return failed, "; nothing was sent" if failed is None or failed.tx_hash is None else "; nothing else of this run was sent"
    return failed, f"; {out} other transaction(s) of this run went out before it ({mined} mined and succeeded so far): {next_run}"
