"""Fleet staking against the real Keep contracts on anvil (and on geth where a test takes
``keep_dev_chain``): idempotent, complete, and refusing bad input before anything is sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from bench.chains.anvil import rpc
from keep_contracts.staking import APPROVE_AND_CALL, DELEGATION_INFO, HAS_MINIMUM_STAKE, MINIMUM_STAKE, TRANSFER, Fn, delegation_data
from operators.errors import ConfigError, InsufficientFunds, StakingConflict
from operators.staking import FleetPolicy, read_fleet, reconcile_fleet, supply_faucet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICY = FleetPolicy(eth_threshold=10**17, eth_target=10**18)


def fleet(n: int) -> dict:
    return {f"op-{i}": Account.create().address for i in range(n)}


def call(chain, to: str, fn, *args, book=None):
    raw = chain.w3.eth.call({"to": (book or chain.address_book)[to], "data": fn.calldata(*args)})
    return fn.decode("0x" + bytes(raw).hex())


def send(chain, account, to: str, data: bytes, value: int = 0) -> None:
    # Estimated, not a fixed figure: geth --dev's rules (EIP-8037 state gas) charge a stake more than anvil's.
    gas = chain.w3.eth.estimate_gas({"from": account.address, "to": to, "data": data, "value": value})
    tx = {
        "from": account.address,
        "to": to,
        "data": data,
        "value": value,
        "chainId": chain.w3.eth.chain_id,
        "nonce": chain.nonce(account.address),
        "gas": gas * 2,
        "gasPrice": chain.w3.eth.gas_price * 2,
    }
    h = chain.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    assert chain.w3.eth.wait_for_transaction_receipt(h)["status"] == 1


def assert_provisioned(chain, operators: dict, book=None) -> None:
    book = book or chain.address_book
    minimum = call(chain, "TokenStaking", MINIMUM_STAKE, book=book)
    for name, address in operators.items():
        amount, created, undelegated = call(chain, "TokenStaking", DELEGATION_INFO, address, book=book)
        assert (amount, undelegated) == (minimum, 0) and created > 0, name
        assert chain.w3.eth.get_balance(address) == POLICY.eth_target, name


def test_fresh_fleet_is_staked_and_authorized_then_rerun_sends_nothing(keep_dev_chain):
    keep_chain = keep_dev_chain
    operators = fleet(4)
    keep_before, nonce_before = keep_chain.keep_balance(keep_chain.owner.address), keep_chain.nonce()
    status, report = reconcile_fleet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), operators, POLICY)
    assert report.txs == 12 and keep_chain.nonce() - nonce_before == 12
    assert all(s["staked"] and s["authorized"] for s in status.values())
    assert_provisioned(keep_chain, operators)
    minimum = call(keep_chain, "TokenStaking", MINIMUM_STAKE)
    assert keep_before - keep_chain.keep_balance(keep_chain.owner.address) == 4 * minimum
    # After the initialization period the operator contract counts them.
    keep_chain.pass_initialization()
    oc = keep_chain.address_book["KeepRandomBeaconOperator"]
    assert all(call(keep_chain, "TokenStaking", HAS_MINIMUM_STAKE, a, oc) for a in operators.values())

    status, again = reconcile_fleet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), operators, POLICY)
    assert again.txs == 0 and again.actions == [] and keep_chain.nonce() - nonce_before == 12
    assert all(s["eligible"] for s in status.values())


def test_partial_state_is_completed_with_exactly_the_missing_transactions(keep_dev_chain):
    keep_chain = keep_dev_chain
    ops = fleet(3)
    names = list(ops)
    owner, book = keep_chain.owner, keep_chain.address_book
    minimum = call(keep_chain, "TokenStaking", MINIMUM_STAKE)
    # op-0: funded only.  op-1: funded and staked (authorizer = owner) but not authorized.  op-2: nothing.
    send(keep_chain, owner, ops[names[0]], b"", POLICY.eth_target)
    send(keep_chain, owner, ops[names[1]], b"", POLICY.eth_target)
    extra = delegation_data(ops[names[1]], ops[names[1]], owner.address)
    send(keep_chain, owner, book["KeepToken"], APPROVE_AND_CALL.calldata(book["TokenStaking"], minimum, extra))
    before = keep_chain.nonce()
    _, report = reconcile_fleet(keep_chain.node, owner, keep_chain.staking_contracts(), ops, POLICY)
    done = sorted((a.name, a.kind) for a in report.actions)
    assert done == sorted(
        [
            (names[0], "stake"),
            (names[0], "authorize"),
            (names[1], "authorize"),
            (names[2], "fund"),
            (names[2], "stake"),
            (names[2], "authorize"),
        ]
    )
    assert keep_chain.nonce() - before == 6 == report.txs
    assert_provisioned(keep_chain, ops)


def test_owner_short_of_keep_is_refused_before_any_transaction(keep_dev_chain):
    keep_chain = keep_dev_chain
    poor = keep_chain.anvil.new_account(10**21)  # plenty of ETH
    minimum = call(keep_chain, "TokenStaking", MINIMUM_STAKE)
    send(keep_chain, keep_chain.owner, keep_chain.address_book["KeepToken"], TRANSFER.calldata(poor.address, minimum))  # one stake's worth
    ops = fleet(3)
    with pytest.raises(InsufficientFunds) as e:
        reconcile_fleet(keep_chain.node, poor, keep_chain.staking_contracts(), ops, POLICY)
    message = str(e.value)
    assert "KEEP" in message and "staking 3 operators" in message and "short by 20000 KEEP" in message and "nothing was sent" in message
    assert keep_chain.nonce(poor.address) == 0
    assert all(keep_chain.w3.eth.get_balance(a) == 0 for a in ops.values())


def test_owner_short_of_eth_is_refused_before_any_transaction(keep_dev_chain):
    keep_chain = keep_dev_chain
    poor = keep_chain.anvil.new_account(10**18)  # 1 ETH: not enough to fund 3 operators with 1 ETH each
    send(keep_chain, keep_chain.owner, keep_chain.address_book["KeepToken"], TRANSFER.calldata(poor.address, 10**26))
    ops = fleet(3)
    with pytest.raises(InsufficientFunds) as e:
        reconcile_fleet(keep_chain.node, poor, keep_chain.staking_contracts(), ops, POLICY)
    assert "ETH" in str(e.value) and "short by 2." in str(e.value) and "nothing was sent" in str(e.value)
    assert keep_chain.nonce(poor.address) == 0


def test_stake_amount_below_the_contract_minimum_is_refused(keep_chain):
    minimum = call(keep_chain, "TokenStaking", MINIMUM_STAKE)
    policy = FleetPolicy(10**17, 10**18, stake_amount=minimum - 1)
    before = keep_chain.nonce()
    with pytest.raises(ConfigError) as e:
        reconcile_fleet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), fleet(1), policy)
    assert "operators.stakeAmount" in str(e.value) and "minimumStake()" in str(e.value)
    assert keep_chain.nonce() == before


@pytest.mark.parametrize(
    "policy,needle",
    [
        (FleetPolicy(0, 10**18), "ethThreshold"),
        (FleetPolicy(10**17, -5), "ethTarget"),
        (FleetPolicy(10**18, 10**17), "below ethThreshold"),
        (FleetPolicy(10**17, 10**18, stake_amount=0), "stakeAmount"),
        (FleetPolicy(10**17, 10**18, stake_amount=1.5), "stakeAmount"),  # type: ignore[arg-type]  # a float where an int belongs: its refusal is the test
        (FleetPolicy(10**17, 10**18, beneficiary="me"), "beneficiary"),
    ],
)
def test_bad_amounts_are_named(policy, needle):
    with pytest.raises(ConfigError) as e:
        policy.validate()
    assert needle in str(e.value) and "keep-cd:operators." in str(e.value)


def test_an_operator_delegated_elsewhere_is_a_conflict_not_a_second_stake(keep_dev_chain):
    keep_chain = keep_dev_chain
    stranger = keep_chain.anvil.new_account(10**21)
    book = keep_chain.address_book
    minimum = call(keep_chain, "TokenStaking", MINIMUM_STAKE)
    send(keep_chain, keep_chain.owner, book["KeepToken"], TRANSFER.calldata(stranger.address, minimum))
    ops = fleet(1)
    op = next(iter(ops.values()))
    send(
        keep_chain,
        stranger,
        book["KeepToken"],
        APPROVE_AND_CALL.calldata(book["TokenStaking"], minimum, delegation_data(op, op, stranger.address)),
    )
    before = keep_chain.nonce()
    with pytest.raises(StakingConflict) as e:
        reconcile_fleet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), ops, POLICY)
    assert stranger.address in str(e.value) and "not authorized" in str(e.value)
    assert keep_chain.nonce() == before


def test_redeployed_contracts_get_the_fleet_staked_again(keep_chain):
    ops = fleet(3)
    reconcile_fleet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), ops, POLICY)
    new_book, new_owner = keep_chain.redeploy()
    assert new_book["TokenStaking"] != keep_chain.address_book["TokenStaking"]
    new_contracts = keep_chain.staking_contracts(new_book)
    view = read_fleet(keep_chain.node, new_contracts, list(ops.values()), new_owner.address)
    assert not any(s.staked for s in view.operators.values())
    status, report = reconcile_fleet(keep_chain.node, new_owner, new_contracts, ops, POLICY)
    # Funded already: only stake + authorize, against the new TokenStaking.
    assert sorted({a.kind for a in report.actions}) == ["authorize", "stake"] and report.txs == 6
    assert all(s["staked"] and s["authorized"] for s in status.values())
    assert_provisioned(keep_chain, ops, book=new_book)
    assert_provisioned(keep_chain, ops)  # the old stakes stay where they were


def test_removed_operators_are_undelegated_when_asked(keep_chain):
    ops = fleet(3)
    reconcile_fleet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), ops, POLICY)
    keep_chain.pass_initialization()
    keep, gone = dict(list(ops.items())[:2]), dict(list(ops.items())[2:])
    _, left = reconcile_fleet(
        keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), keep, POLICY, removed=gone, on_remove="leave"
    )
    assert left.txs == 0
    _, report = reconcile_fleet(
        keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), keep, POLICY, removed=gone, on_remove="undelegate"
    )
    assert [(a.name, a.kind) for a in report.actions] == [(n, "undelegate") for n in gone]
    _, _, undelegated = call(keep_chain, "TokenStaking", DELEGATION_INFO, next(iter(gone.values())))
    assert undelegated > 0
    _, again = reconcile_fleet(
        keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), keep, POLICY, removed=gone, on_remove="undelegate"
    )
    assert again.txs == 0


def test_cluster_mode_supplies_the_faucet_once(keep_chain):
    ops = fleet(3)
    faucet = Account.create()
    minimum = call(keep_chain, "TokenStaking", MINIMUM_STAKE)
    _, report = supply_faucet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), ops, faucet.address, POLICY)
    assert sorted(a.kind for a in report.actions) == ["supply-eth", "supply-keep"]
    assert keep_chain.keep_balance(faucet.address) == 3 * minimum
    assert keep_chain.w3.eth.get_balance(faucet.address) >= 3 * POLICY.eth_target
    assert all(keep_chain.w3.eth.get_balance(a) == 0 for a in ops.values())  # the pods fund them, not the deploy
    _, again = supply_faucet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), ops, faucet.address, POLICY)
    assert again.txs == 0


KILLABLE_RUN = textwrap.dedent(
    """
    import json, os
    from eth_account import Account
    from chain.node import open_node
    from operators.staking import FleetPolicy, StakingContracts, reconcile_fleet
    node = open_node(os.environ["RPC_URL"], 31337)
    owner = Account.from_key(os.environ["OWNER_KEY"])
    contracts = StakingContracts(**json.loads(os.environ["CONTRACTS"]))
    reconcile_fleet(node, owner, contracts, json.loads(os.environ["OPERATORS"]), FleetPolicy(10**17, 10**18))
    """
)


def test_kill_mid_batch_then_rerun_leaves_every_operator_correct(keep_chain_factory):
    chain = keep_chain_factory(block_time=1)
    # Small blocks: the fleet's transactions need several of them, so a kill lands mid-batch.
    rpc(chain.url, "evm_setBlockGasLimit", [hex(500_000)])
    start_block = chain.w3.eth.block_number
    while chain.w3.eth.get_block("latest")["gasLimit"] != 500_000 or chain.w3.eth.block_number == start_block:
        time.sleep(0.1)
    ops = fleet(4)
    contracts = chain.staking_contracts()
    keep_before, nonce_before = chain.keep_balance(chain.owner.address), chain.nonce()
    env = {
        **os.environ,
        "ROOT": ROOT,
        "RPC_URL": chain.url,
        "OWNER_KEY": chain.owner.key.hex(),
        "CONTRACTS": json.dumps(contracts.__dict__),
        "OPERATORS": json.dumps(ops),
    }
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE_RUN], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while chain.nonce() == nonce_before and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    mined = chain.nonce() - nonce_before
    pending = chain.w3.eth.get_transaction_count(chain.owner.address, "pending") - nonce_before
    assert 0 < mined < 12, f"the kill should land mid-batch (mined {mined} of 12)"

    status, report = reconcile_fleet(chain.node, chain.owner, contracts, ops, POLICY)
    assert all(s["staked"] and s["authorized"] for s in status.values())
    assert_provisioned(chain, ops)
    minimum = call(chain, "TokenStaking", MINIMUM_STAKE)
    # No transfer lost or duplicated: exactly one stake and one funding per operator, 12 txs in all.
    assert keep_before - chain.keep_balance(chain.owner.address) == 4 * minimum
    assert chain.nonce() - nonce_before == 12
    assert report.txs == 12 - pending


BENEFICIARY_OF = Fn("beneficiaryOf(address)", ("address",))
AUTHORIZER_OF = Fn("authorizerOf(address)", ("address",))
OWNER_OF = Fn("ownerOf(address)", ("address",))


def test_beneficiary_operator_and_authorizer_on_chain_are_the_configured_ones(keep_chain):
    """Three different addresses (beneficiary: a configured one; operator: the client's; authorizer:
    the owner), so that any two of the stake's 20-byte fields swapped shows on chain."""
    beneficiary = Account.create().address
    policy = FleetPolicy(10**17, 10**18, beneficiary=beneficiary)
    ops = fleet(2)
    owner = keep_chain.owner.address
    status, _ = reconcile_fleet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), ops, policy)
    minimum = call(keep_chain, "TokenStaking", MINIMUM_STAKE)
    for op in ops.values():
        assert len({beneficiary, op, owner}) == 3
        assert to_checksum_address(call(keep_chain, "TokenStaking", BENEFICIARY_OF, op)) == beneficiary
        assert to_checksum_address(call(keep_chain, "TokenStaking", AUTHORIZER_OF, op)) == owner
        assert to_checksum_address(call(keep_chain, "TokenStaking", OWNER_OF, op)) == owner
        amount, created, _ = call(keep_chain, "TokenStaking", DELEGATION_INFO, op)  # the stake is the operator's
        assert amount == minimum and created > 0
    for other in (beneficiary, owner):
        assert call(keep_chain, "TokenStaking", DELEGATION_INFO, other)[1] == 0  # no delegation in their name
    assert all(s["staked"] and s["authorized"] for s in status.values())


def test_funding_tops_each_operator_up_to_exactly_the_target(keep_chain):
    """From any balance below the threshold, exactly to the target; at or above it, nothing."""
    threshold, target = POLICY.eth_threshold, POLICY.eth_target
    start = {"empty": 0, "one-wei": 1, "just-below": threshold - 1, "at-threshold": threshold, "above-target": target + 7}
    ops = {name: Account.create().address for name in start}
    for name, wei in start.items():
        rpc(keep_chain.url, "anvil_setBalance", [ops[name], hex(wei)])
    _, report = reconcile_fleet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), ops, POLICY)
    assert sorted(a.name for a in report.actions if a.kind == "fund") == ["empty", "just-below", "one-wei"]
    balances = {name: keep_chain.w3.eth.get_balance(a) for name, a in ops.items()}
    assert balances == {"empty": target, "one-wei": target, "just-below": target, "at-threshold": threshold, "above-target": target + 7}


def test_undelegating_removed_clients_touches_only_the_owners_stakes(keep_chain):
    """Of two removed operators, one was staked by someone else: only the owner's own is undelegated."""
    ours = fleet(1)
    reconcile_fleet(keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), ours, POLICY)
    stranger = keep_chain.anvil.new_account(10**21)
    book = keep_chain.address_book
    minimum = call(keep_chain, "TokenStaking", MINIMUM_STAKE)
    send(keep_chain, keep_chain.owner, book["KeepToken"], TRANSFER.calldata(stranger.address, minimum))
    op = Account.create().address
    theirs = {"theirs": op}
    send(
        keep_chain,
        stranger,
        book["KeepToken"],
        APPROVE_AND_CALL.calldata(book["TokenStaking"], minimum, delegation_data(op, op, stranger.address)),
    )
    keep_chain.pass_initialization()
    before = {a: call(keep_chain, "TokenStaking", DELEGATION_INFO, a) for a in (*ours.values(), op)}
    _, report = reconcile_fleet(
        keep_chain.node, keep_chain.owner, keep_chain.staking_contracts(), {}, POLICY, removed={**ours, **theirs}, on_remove="undelegate"
    )
    assert [(a.name, a.kind) for a in report.actions] == [(n, "undelegate") for n in ours]
    assert call(keep_chain, "TokenStaking", DELEGATION_INFO, op) == before[op]  # untouched
    assert call(keep_chain, "TokenStaking", DELEGATION_INFO, next(iter(ours.values())))[2] > 0
