"""PipelinedSender.send_batched (the additive batch path the fleet's staking uses)."""

from __future__ import annotations

import pytest
from eth_account import Account

from chain.transactions import PipelinedSender, RPCError, TxRequest, stopped_run_note
from operators.staking import FleetPolicy, _requests, plan_fleet, read_fleet


def staking_requests(chain, n: int):
    ops = {f"s{i}": Account.create().address for i in range(n)}
    policy = FleetPolicy(10**17, 10**18)
    view = read_fleet(chain.node, chain.staking_contracts(), list(ops.values()), chain.owner.address)
    return ops, _requests(plan_fleet(view, ops, chain.owner.address, policy), chain.staking_contracts(), chain.owner.address, policy)


def test_after_must_point_backwards(keep_chain):
    a = TxRequest("a", keep_chain.owner.address, b"")
    b = TxRequest("b", keep_chain.owner.address, b"", after=(a,))
    sender = PipelinedSender(keep_chain.w3, keep_chain.owner)
    with pytest.raises(ValueError, match="does not come before"):
        sender.send_batched([b, a], keep_chain.nonce())


def test_without_eth_simulate_it_falls_back_to_pending_estimates(keep_chain, monkeypatch):
    ops, reqs = staking_requests(keep_chain, 2)
    sender = PipelinedSender(keep_chain.w3, keep_chain.owner)
    real = sender._batch
    asked = []

    def no_simulate(calls):
        asked.extend(m for m, _ in calls)
        if calls and calls[0][0] == "eth_simulateV1":
            return [RPCError({"code": -32601, "message": "the method eth_simulateV1 does not exist"})]
        return real(calls)

    monkeypatch.setattr(sender, "_batch", no_simulate)
    sender.send_batched(reqs, keep_chain.nonce())
    assert all(int(r.receipt["status"]) == 1 for r in reqs)
    assert "eth_simulateV1" in asked and asked.count("eth_estimateGas") >= len(reqs)


def test_a_request_that_would_revert_is_named_before_it_is_sent(keep_chain):
    # authorizeOperatorContract for an operator nobody staked: the owner is not its authorizer.
    from keep_contracts.staking import AUTHORIZE

    op = Account.create().address
    c = keep_chain.staking_contracts()
    req = TxRequest("authorize stray", c.staking, AUTHORIZE.calldata(op, c.operator_contract))
    before = keep_chain.nonce()
    from chain.errors import TransactionReverted

    with pytest.raises(TransactionReverted, match="authorize stray: would revert: Not operator authorizer"):
        PipelinedSender(keep_chain.w3, keep_chain.owner).send_batched([req], before)
    assert keep_chain.nonce() == before


@pytest.mark.parametrize("method", ["send", "send_batched"])
def test_the_transfer_the_balance_cannot_pay_is_named(keep_chain, method):
    """Both paths charge each transaction against the balance the run started with."""
    from chain.errors import InsufficientFunds

    payer = keep_chain.anvil.new_account(10**18)
    to = Account.create().address
    reqs = [TxRequest(f"pay {i}", to, b"", value=4 * 10**17) for i in range(3)]  # the third cannot be paid
    with pytest.raises(InsufficientFunds) as e:
        getattr(PipelinedSender(keep_chain.w3, payer), method)(reqs, keep_chain.nonce(payer.address))
    message = str(e.value)
    assert message.startswith(f"account {payer.address}: balance 1 ETH runs out at pay 2 (needs ") and "ETH more at" in message
    assert keep_chain.w3.eth.get_balance(to) <= 2 * 4 * 10**17
    # What went out before: `send` sends each as it is signed; `send_batched` signs a batch, then sends it.
    failed, note = stopped_run_note(keep_chain.w3, reqs, "next")
    assert failed is reqs[2]
    went_out = keep_chain.w3.eth.get_balance(to) // (4 * 10**17)
    assert went_out == {"send": 2, "send_batched": 0}[method]
    assert note == (
        "; 2 other transaction(s) of this run went out before it (2 mined and succeeded so far): next" if went_out else "; nothing was sent"
    )


def test_a_revert_mid_fleet_run_says_what_went_out_and_that_the_next_run_reads_it(keep_chain):
    """A fund goes out, then an authorization of an operator nobody staked reverts."""
    from chain.errors import TransactionReverted
    from operators.staking import Action, _send

    op, stray = Account.create().address, Account.create().address
    contracts = keep_chain.staking_contracts()
    policy = FleetPolicy(10**17, 10**18)
    view = read_fleet(keep_chain.node, contracts, [op, stray], keep_chain.owner.address)
    actions = [Action("a", op, "fund", "below threshold", 10**18), Action("b", stray, "authorize", "never staked")]
    before = keep_chain.nonce()
    with pytest.raises(TransactionReverted) as e:
        _send(keep_chain.node, keep_chain.owner, actions, contracts, policy, view, lambda _m: None)
    message = str(e.value)
    assert message.startswith("transaction authorize b: would revert: Not operator authorizer")
    assert message.endswith(
        "; 1 other transaction(s) of this run went out before it (1 mined and succeeded so far): "
        "the next run reads them on chain and sends only what is still missing"
    )
    assert keep_chain.nonce() == before + 1 and keep_chain.w3.eth.get_balance(op) == 10**18
