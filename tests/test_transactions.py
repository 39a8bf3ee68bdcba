"""PipelinedSender's limits, observed on a chain that mines only when the test says so: what is in
flight never exceeds the block gas limit, waiting for a batch waits for its last nonce, and the
settled nonce is read only once nothing of the account's is pending."""

from __future__ import annotations

import threading
import time
from typing import cast

import pytest
import rlp
from web3 import HTTPProvider

from chain.node import connect
from chain.transactions import PipelinedSender, TxRequest

# A transfer gets 21,000 * 1.1 + 10,000 = 33,100 gas: three fit in 100,000, a fourth does not.
BLOCK_GAS = 100_000


class Observed:
    """Spies on one Web3 client: every transaction it sends (nonce, gas), and every poll of the
    account's nonce; ``mine_on_poll`` mines a block whenever the sender polls the mined nonce,
    i.e. only while it waits, so that what is in flight when it sends is exactly what it chose."""

    def __init__(self, monkeypatch, chain, address: str, mine_on_poll: bool):
        self.chain, self.address = chain, address
        self.sent: list = []  # (nonce, gas)
        self.in_flight_at_send: list = []  # [(nonce, gas)] outstanding right after each send
        self.polls = {"latest": 0, "pending": 0}
        self.mine_on_poll = mine_on_poll
        real_one, real_batch = HTTPProvider.make_request, HTTPProvider.make_batch_request

        def one(provider, method, params):
            if provider.endpoint_uri == chain.url:
                self._before(method, params)
            return real_one(provider, method, params)

        def batch(provider, calls):
            if provider.endpoint_uri == chain.url:
                for method, params in calls:
                    self._before(method, params)
            return real_batch(provider, calls)

        # web3 binds a provider's methods when the client is made: spy before any client of this chain exists
        monkeypatch.setattr(HTTPProvider, "make_request", one)
        monkeypatch.setattr(HTTPProvider, "make_batch_request", batch)

    def mined_nonce(self) -> int:
        from bench.chains.anvil import rpc

        return int(rpc(self.chain.url, "eth_getTransactionCount", [self.address, "latest"]), 16)

    def _before(self, method, params):
        if method == "eth_sendRawTransaction":
            raw = bytes.fromhex(params[0][2:])
            fields = rlp.decode(raw[1:])  # EIP-1559: chainId, nonce, tip, fee cap, gas, ...
            self.sent.append((int.from_bytes(fields[1], "big"), int.from_bytes(fields[4], "big")))
            mined = self.mined_nonce()
            self.in_flight_at_send.append([s for s in self.sent if s[0] >= mined])
        elif method == "eth_getTransactionCount" and params[0].lower() == self.address.lower():
            self.polls[params[1]] = self.polls.get(params[1], 0) + 1
            if self.mine_on_poll and params[1] == "latest":
                self.chain.mine(1)


def on_demand_chain(anvil_factory):
    chain = anvil_factory(extra_args=("--no-mining",), gas_limit=BLOCK_GAS)
    return chain, chain.new_account()


@pytest.mark.parametrize("method", ["send", "send_batched"])
def test_gas_in_flight_never_exceeds_the_block_gas_limit(anvil_factory, monkeypatch, method):
    chain, acct = on_demand_chain(anvil_factory)
    seen = Observed(monkeypatch, chain, acct.address, mine_on_poll=True)
    w3 = connect(chain.url, chain.chain_id)
    reqs = [TxRequest(f"transfer {i}", acct.address, b"", value=1) for i in range(7)]
    getattr(PipelinedSender(w3, acct), method)(reqs, 0)
    assert [n for n, _ in seen.sent] == list(range(7)) and all(int(r.receipt["status"]) == 1 for r in reqs)
    gas_in_flight = [sum(g for _, g in flying) for flying in seen.in_flight_at_send]
    assert max(gas_in_flight) <= BLOCK_GAS, gas_in_flight
    # And it does pipeline: blocks are filled, not one transaction per wait.
    assert max(len(flying) for flying in seen.in_flight_at_send) == 3


def _sent_unmined(chain, acct, n: int):
    """``n`` signed transfers sent to a chain that does not mine, with the sender that made them."""
    w3 = connect(chain.url, chain.chain_id)
    sender = PipelinedSender(w3, acct, confirm_timeout=60)
    _, fees, _ = sender._start_run()
    reqs = []
    for i in range(n):
        r = TxRequest(f"transfer {i}", acct.address, b"", value=1, nonce=i, gas=33_100)
        sender._sign(r, fees)
        assert r.raw is not None  # _sign sets it
        w3.eth.send_raw_transaction(r.raw)
        reqs.append(r)
    return w3, sender, reqs


def _until(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


@pytest.mark.parametrize("batched", [False, True])
def test_waiting_for_a_batch_waits_for_its_last_nonce(anvil_factory, monkeypatch, batched):
    """Three transactions that land in three blocks: the wait returns after the third, not the first."""
    chain, acct = on_demand_chain(anvil_factory)
    seen = Observed(monkeypatch, chain, acct.address, mine_on_poll=False)
    w3, sender, reqs = _sent_unmined(chain, acct, 3)
    w3.provider.make_request("evm_setBlockGasLimit", [hex(50_000)])  # one transfer per block from now on
    result, errors = [], []

    def wait():
        try:
            result.append(sender.wait(reqs, batched=batched))
        except Exception as e:  # reported below
            errors.append(e)

    waiter = threading.Thread(target=wait)
    waiter.start()
    try:
        for landed in (1, 2):  # one more lands: the waiter sees it and goes on waiting
            chain.mine(1)
            assert seen.mined_nonce() == landed
            polls = seen.polls["latest"]
            _until(
                lambda polls=polls: seen.polls["latest"] >= polls + 3 or not waiter.is_alive(), f"the waiter polled after block {landed}"
            )
            assert waiter.is_alive() and not errors, errors
        chain.mine(1)
    finally:
        waiter.join(timeout=30)
    assert not errors, errors
    assert len(result[0]) == 3 and all(r.receipt and int(r.receipt["status"]) == 1 for r in reqs)


def test_the_settled_nonce_waits_while_transactions_are_pending(anvil_factory, monkeypatch):
    chain, acct = on_demand_chain(anvil_factory)
    seen = Observed(monkeypatch, chain, acct.address, mine_on_poll=False)
    _, sender, _ = _sent_unmined(chain, acct, 2)
    result, errors = [], []

    def settle():
        try:
            result.append(sender.settled_nonce(timeout=60))
        except Exception as e:  # reported below
            errors.append(e)

    settler = threading.Thread(target=settle)
    settler.start()
    try:
        _until(lambda: seen.polls["pending"] >= 3 or not settler.is_alive(), "the settler polled three times")
        assert settler.is_alive() and not result and not errors, (result, errors)
        chain.mine(1)
    finally:
        settler.join(timeout=30)
    assert not errors, errors
    assert result == [2]


# --- anvil's stranded nonce --------------------------------------------------------------------
# anvil reads the sender's nonce, then puts the transaction in its pool as requiring the nonce
# before it; when the block with that nonce is mined and pruned in between, the transaction waits in
# the queue for good though its nonce is the account's next (seen in CI: "not mined after 120s").
# The state is made here on a real anvil: nonce n+1 is sent first (queued behind n), then the
# account's nonce is set past n, as the block that used n would have left it.


def _stranded(chain, sender: PipelinedSender, first: int) -> TxRequest:
    """A transfer at nonce ``first`` + 1 that anvil holds as queued though ``first`` + 1 is the account's next nonce."""
    from bench.chains.anvil import rpc
    from chain.fees import fee_fields

    req = TxRequest("stranded transfer", sender.address, b"", value=1, nonce=first + 1, gas=21_000)
    sender._sign(req, fee_fields(sender.w3))
    rpc(chain.url, "eth_sendRawTransaction", ["0x" + cast(bytes, req.raw).hex()])
    rpc(chain.url, "anvil_setNonce", [sender.address, hex(first + 1)])
    rpc(chain.url, "evm_mine", [])
    queued = rpc(chain.url, "txpool_inspect", [])["queued"]
    assert str(first + 1) in queued.get(sender.address.lower(), {})  # stranded: it stays there
    return req


def test_a_transaction_anvil_strands_in_its_queue_is_sent_again_and_mined(fresh_anvil):
    acct = fresh_anvil.new_account()
    sender = PipelinedSender(connect(fresh_anvil.url, fresh_anvil.chain_id), acct, confirm_timeout=20)
    req = _stranded(fresh_anvil, sender, 0)
    started = time.monotonic()
    sender.wait([req])
    assert req.receipt["status"] == 1 and sender.stats.unstranded == 1 and sender.stats.resends == 1
    assert time.monotonic() - started < 10  # freed after a few seconds, not at the timeout


def test_a_stranded_transaction_left_alone_times_out_naming_where_the_node_holds_it(fresh_anvil, monkeypatch):
    """Without the repair (as on a node other than anvil) the wait fails, and says what the pool holds."""
    acct = fresh_anvil.new_account()
    sender = PipelinedSender(connect(fresh_anvil.url, fresh_anvil.chain_id), acct, confirm_timeout=4)
    monkeypatch.setattr(sender, "_is_anvil", lambda: False)
    req = _stranded(fresh_anvil, sender, 0)
    with pytest.raises(Exception, match=r"not mined after 4s \(nonce 1; .*holds nonce 1 as queued, waiting for an earlier nonce"):
        sender.wait([req])
    assert sender.stats.unstranded == 0


def test_a_shared_senders_stranded_transaction_is_freed_too(fresh_anvil):
    """send_shared's wait for its one transaction frees it the same way (the account's other
    senders send theirs again when they find them gone)."""
    acct = fresh_anvil.new_account()
    sender = PipelinedSender(connect(fresh_anvil.url, fresh_anvil.chain_id), acct, confirm_timeout=20)
    req = _stranded(fresh_anvil, sender, 0)
    receipt = sender._receipt_unless_replaced(req)
    assert receipt is not None and receipt["status"] == 1 and sender.stats.unstranded == 1


# --- receipts that lag behind the nonce ------------------------------------------------------------


@pytest.mark.parametrize("batched", [False, True])
def test_a_receipt_missing_for_a_moment_after_the_nonce_moved_is_asked_for_again(fresh_anvil, monkeypatch, batched):
    """anvil 1.7.1 moves the account's nonce before it stores the block's receipts
    (``Backend::do_mine_block``): seen in a stress run as "nonce N was used by another transaction"
    for our own mined transaction.  The window is too short to hit on demand, so the node's first
    two answers for the receipt are replaced by the null it gives inside it; the chain is real."""
    acct = fresh_anvil.new_account()
    nulls = {"left": 2}
    real_one, real_batch = HTTPProvider.make_request, HTTPProvider.make_batch_request

    def one(provider, method, params):
        if method == "eth_getTransactionReceipt" and nulls["left"]:
            nulls["left"] -= 1
            return {"jsonrpc": "2.0", "id": 1, "result": None}
        return real_one(provider, method, params)

    def batch(provider, calls):
        answers = real_batch(provider, calls)
        if calls and calls[0][0] == "eth_getTransactionReceipt" and nulls["left"]:
            nulls["left"] -= 1
            return [{**a, "result": None} for a in answers]
        return answers

    monkeypatch.setattr(HTTPProvider, "make_request", one)
    monkeypatch.setattr(HTTPProvider, "make_batch_request", batch)
    sender = PipelinedSender(connect(fresh_anvil.url, fresh_anvil.chain_id), acct, confirm_timeout=20)
    reqs = [TxRequest(f"transfer {i}", acct.address, b"", value=1) for i in range(3)]
    if batched:
        sender.send_batched(reqs, 0)
    else:
        sender.send(reqs, 0)
    assert nulls["left"] == 0 and all(r.receipt["status"] == 1 for r in reqs)


def test_a_nonce_another_transaction_took_is_named_once_its_receipt_stays_missing(anvil_factory):
    """Our transaction replaced in the pool by another of the same account at the same nonce: once
    mined, ours has no receipt, ever; after the lag allowance the wait says so in one line."""
    from bench.chains.anvil import rpc
    from chain.fees import fee_fields

    chain = anvil_factory(extra_args=("--no-mining",))
    acct = chain.new_account()
    sender = PipelinedSender(connect(chain.url, chain.chain_id), acct, confirm_timeout=20)
    ours = TxRequest("our transfer", acct.address, b"", value=1, nonce=0, gas=21_000)
    fees = fee_fields(sender.w3)
    sender._sign(ours, fees)
    rpc(chain.url, "eth_sendRawTransaction", ["0x" + cast(bytes, ours.raw).hex()])
    theirs = TxRequest("their transfer", acct.address, b"", value=2, nonce=0, gas=21_000)
    sender._sign(theirs, {k: v * 2 for k, v in fees.items()})  # +100 % on both: replaces ours
    rpc(chain.url, "eth_sendRawTransaction", ["0x" + cast(bytes, theirs.raw).hex()])
    rpc(chain.url, "evm_mine", [])
    with pytest.raises(Exception, match=r"^transaction our transfer: nonce 0 was used by another transaction"):
        sender.wait([ours])
