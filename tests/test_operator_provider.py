"""The OperatorStakes dynamic provider, called as the engine calls it: check, diff (reads only),
create, update, delete."""

from __future__ import annotations

import os

import dill
import pytest
from eth_account import Account
from pulumi.runtime.rpc import UNKNOWN

from bench.chains.anvil import free_port, rpc
from chain.errors import ChainUnreachable, ConfigError
from keep_contracts.staking import DELEGATION_INFO
from operators.provider import OperatorStakesProvider


def props(chain, operators: dict, **over) -> dict:
    book = chain.address_book
    base = {
        "rpc_url": chain.url,
        "chain_id": 31337,
        "contract_names": {"token": "KeepToken", "staking": "TokenStaking", "operator_contract": "KeepRandomBeaconOperator"},
        "address_book": {n: book.get(n) for n in ("KeepToken", "TokenStaking", "KeepRandomBeaconOperator")},
        "operators": operators,
        "policy": {"eth_threshold": str(10**17), "eth_target": str(10**18), "stake_amount": "minimum", "beneficiary": "operator"},
        "provisioning": "deploy",
        "faucet": None,
        "on_remove": "leave",
        "owner": None,
        "status": None,
        "staking_contract": None,
        "last_run": None,
    }
    base.update(over)
    return base


@pytest.fixture
def provider(keep_chain, monkeypatch):
    monkeypatch.setenv("KEEP_CD_DEPLOYER_KEY", keep_chain.owner.key.hex())
    return OperatorStakesProvider()


def fleet(n: int) -> dict:
    return {f"op-{a.address[2:8].lower()}": a.address for a in (Account.create() for _ in range(n))}


def failures(provider, news) -> dict:
    return {f.property: f.reason for f in provider.check({}, news).failures}


def test_provider_pickles_by_reference():
    text = dill.dumps(OperatorStakesProvider())
    assert isinstance(dill.loads(text), OperatorStakesProvider)


@pytest.mark.parametrize(
    "override,prop",
    [
        ({"policy": {"eth_threshold": "0", "eth_target": "1", "stake_amount": "minimum"}}, "policy.eth_threshold"),
        ({"policy": {"eth_threshold": "1", "eth_target": "x", "stake_amount": "minimum"}}, "policy.eth_target"),
        ({"policy": {"eth_threshold": "1", "eth_target": "2", "stake_amount": "-3"}}, "policy.stake_amount"),
        ({"provisioning": "pods"}, "provisioning"),
        ({"provisioning": "cluster"}, "faucet"),
        ({"on_remove": "burn"}, "on_remove"),
        ({"operators": {"a": "0x1234"}}, "operators.a"),
    ],
)
def test_check_names_bad_input(keep_chain, provider, override, prop):
    assert prop in failures(provider, props(keep_chain, **{"operators": fleet(1), **override}))


def test_check_refuses_two_clients_with_one_operator(keep_chain, provider):
    a = Account.create().address
    found = failures(provider, props(keep_chain, {"a": a, "b": a}))
    assert "also client a's" in found["operators.b"]


def test_check_with_unknowns_reads_no_chain(provider):
    class Unreachable:
        url = f"http://127.0.0.1:{free_port()}"
        address_book = {}

    news = props(Unreachable, {"a": UNKNOWN}, address_book=UNKNOWN)
    assert provider.check({}, news).failures == []
    news = props(Unreachable, fleet(1), address_book={"KeepToken": Account.create().address})
    with pytest.raises(ChainUnreachable):
        provider.check({}, news)


def test_check_refuses_an_address_book_without_code(keep_chain, provider):
    book = {
        "KeepToken": keep_chain.address_book["KeepToken"],
        "TokenStaking": Account.create().address,
        "KeepRandomBeaconOperator": keep_chain.address_book["KeepRandomBeaconOperator"],
    }
    with pytest.raises(ConfigError) as e:
        provider.check({}, props(keep_chain, fleet(1), address_book=book))
    assert "TokenStaking" in str(e.value) and "no code" in str(e.value)


def test_create_diff_update_delete(keep_chain, provider):
    ops = fleet(2)
    news = props(keep_chain, ops, on_remove="undelegate")
    nonce = keep_chain.nonce()
    assert provider.diff("id", {**news, "operators": {}}, news).changes  # inputs changed
    assert keep_chain.nonce() == nonce  # diff never sends
    outs = provider.create(news).outs
    assert outs["owner"] == keep_chain.owner.address and outs["last_run"]["txs"] == 6
    assert all(s["staked"] and s["authorized"] for s in outs["status"].values())
    assert outs["staking_contract"] == keep_chain.address_book["TokenStaking"]
    assert not provider.diff("id", outs, news).changes  # same inputs, chain complete

    # A third operator joins; one stays; diff sees it, update stakes only it.
    joined = {**ops, **fleet(1)}
    news2 = props(keep_chain, joined, on_remove="undelegate")
    assert provider.diff("id", outs, news2).changes
    outs2 = provider.update("id", outs, news2).outs
    assert outs2["last_run"]["txs"] == 3 and set(outs2["status"]) == set(joined)

    # Identical inputs, but the chain lacks something (an operator spent its ETH): diff reads the
    # chain, shows a change, and the update sends exactly the missing funding.
    fresh = fleet(1)
    news3 = props(keep_chain, {**joined, **fresh}, on_remove="undelegate")
    outs3 = provider.update("id", outs2, news3).outs
    assert provider.diff("id", outs3, news3).changes is False
    keep_chain.anvil.fund(next(iter(fresh.values())), 0)
    assert provider.diff("id", outs3, news3).changes is True
    outs3 = provider.update("id", outs3, news3).outs
    assert [line.split()[0] for line in outs3["last_run"]["actions"]] == ["fund"]

    # Leaving the fleet with on_remove=undelegate: the removed operator's stake is undelegated
    # (or cancelled while it initializes) by the owner.
    rpc(keep_chain.url, "anvil_mine", [hex(2), hex(5)])
    removed = next(iter(fresh))
    news4 = props(keep_chain, joined, on_remove="undelegate")
    outs4 = provider.update("id", outs3, news4).outs
    assert [line.split()[0] for line in outs4["last_run"]["actions"]] == ["undelegate"]
    amount, _, undelegated = DELEGATION_INFO.decode(
        "0x"
        + bytes(
            keep_chain.w3.eth.call({"to": keep_chain.address_book["TokenStaking"], "data": DELEGATION_INFO.calldata(fresh[removed])})
        ).hex()
    )
    assert undelegated > 0

    provider.delete("id", outs4)
    for address in joined.values():
        raw = keep_chain.w3.eth.call({"to": keep_chain.address_book["TokenStaking"], "data": DELEGATION_INFO.calldata(address)})
        assert DELEGATION_INFO.decode("0x" + bytes(raw).hex())[2] > 0


def test_diff_sees_a_redeployed_staking_contract(keep_chain, provider, monkeypatch):
    ops = fleet(2)
    outs = provider.create(props(keep_chain, ops)).outs
    book, owner = keep_chain.redeploy()
    monkeypatch.setenv("KEEP_CD_DEPLOYER_KEY", owner.key.hex())
    news = props(keep_chain, ops, address_book={n: book[n] for n in ("KeepToken", "TokenStaking", "KeepRandomBeaconOperator")})
    assert provider.diff("id", outs, news).changes
    outs2 = provider.update("id", outs, news).outs
    assert outs2["staking_contract"] == book["TokenStaking"] and outs2["last_run"]["txs"] == 4  # stake + authorize each
    assert all(s["staked"] and s["authorized"] for s in outs2["status"].values())


def test_create_without_the_owner_key_is_one_line(keep_chain, monkeypatch):
    monkeypatch.delenv("KEEP_CD_DEPLOYER_KEY", raising=False)
    with pytest.raises(ConfigError) as e:
        OperatorStakesProvider().create(props(keep_chain, fleet(1)))
    assert "deployerPrivateKey" in str(e.value) and "\n" not in str(e.value)
    assert os.environ.get("KEEP_CD_DEPLOYER_KEY") is None


def test_check_puts_a_staking_conflict_on_the_operators_own_key(keep_chain, provider):
    """The engine prints the value of the property a failure names: on ``operators`` it would print
    every client's address, so a conflict names ``operators.<client>``, which holds no map."""
    from keep_contracts.staking import APPROVE_AND_CALL, MINIMUM_STAKE, TRANSFER, delegation_data
    from test_operator_staking import call, send

    stranger = keep_chain.anvil.new_account(10**21)
    book = keep_chain.address_book
    minimum = call(keep_chain, "TokenStaking", MINIMUM_STAKE)
    send(keep_chain, keep_chain.owner, book["KeepToken"], TRANSFER.calldata(stranger.address, minimum))
    ops = {**fleet(2), "taken": Account.create().address}
    taken = ops["taken"]
    send(
        keep_chain,
        stranger,
        book["KeepToken"],
        APPROVE_AND_CALL.calldata(book["TokenStaking"], minimum, delegation_data(taken, taken, stranger.address)),
    )
    found = failures(provider, props(keep_chain, ops))
    assert list(found) == ["operators.taken"] and stranger.address in found["operators.taken"]
