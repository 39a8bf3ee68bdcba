"""The migration against real chains (anvil, and geth where a test takes ``fresh_chain``): selective
redeploys, rollback, reset, errors, nonces."""

from __future__ import annotations

import os
import re
import threading
import time

import pytest
from web3 import Web3
from web3.types import RPCEndpoint

from bench.chains.anvil import free_port
from chain.errors import ChainIdMismatch, ChainUnreachable, InsufficientFunds, TransactionReverted
from contracts_step.migrate import open_migration
from contracts_step.plan import Call, Deploy, ref
from contracts_step.plans import load_plan

FIXTURE_PLAN = os.path.join(os.path.dirname(__file__), "fixtures", "fixture_plan.json")


def migrate(chain, artifacts_dir, account, olds=None, params=None, plan=None):
    base_plan, base_params = load_plan(FIXTURE_PLAN)
    m = open_migration(
        plan or base_plan, {**base_params, **(params or {})}, artifacts_dir, chain.url, chain.chain_id, olds, account.address
    )
    return m.migrate(account)


def nonce(chain, account):
    return Web3(Web3.HTTPProvider(chain.url)).eth.get_transaction_count(account.address)


def actions(outs):
    """name -> action, from the run's decision lines ("contract Vault: deploy (bytecode changed)")."""
    out = {}
    for line in outs["last_run"]["decisions"]:
        kind_name, rest = line.split(": ", 1)
        out[kind_name.split(" ", 1)[1]] = rest
    return out


def test_first_deploy_wires_contracts_and_rerun_sends_nothing(fresh_chain, fixture_artifacts):
    acct = fresh_chain.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    outs = migrate(fresh_chain, arts, acct)
    assert outs["last_run"]["txs"] == 6  # 5 deploys + 1 call
    book = outs["address_book"]
    w3 = Web3(Web3.HTTPProvider(fresh_chain.url))
    consumer = w3.eth.contract(
        address=book["Consumer"],
        abi=[{"name": "vault", "type": "function", "inputs": [], "outputs": [{"type": "address"}], "stateMutability": "view"}],
    )
    assert consumer.functions.vault().call() == book["Vault"]
    vault = w3.eth.contract(
        address=book["Vault"],
        abi=[{"name": "limit", "type": "function", "inputs": [], "outputs": [{"type": "uint256"}], "stateMutability": "view"}],
    )
    assert vault.functions.limit().call() == 42  # MathLib.twice(21): the library is linked and called
    before = nonce(fresh_chain, acct)
    again = migrate(fresh_chain, arts, acct, olds=outs)
    assert again["last_run"]["txs"] == 0
    assert nonce(fresh_chain, acct) == before
    assert again["address_book"] == book
    assert set(actions(again).values()) <= {"reuse at " + a + " (unchanged)" for a in book.values()} | {
        "skip (done before with these arguments)"
    }


def test_source_edit_redeploys_only_it_and_its_dependents(fresh_chain, editable_sources):
    src, build = editable_sources
    acct = fresh_chain.new_account()
    first = migrate(fresh_chain, build(), acct)
    source = src / "Fixtures.sol"
    source.write_text(source.read_text().replace("contract Vault {", "contract Vault {\n    uint256 public version = 2;"))
    second = migrate(fresh_chain, build(), acct, olds=first)
    acts = actions(second)
    assert acts["Vault"].startswith("deploy") and acts["Vault"].endswith("(bytecode changed)")
    assert acts["Consumer"].startswith("deploy") and "dependency Vault redeployed" in acts["Consumer"]
    for name in ("MathLib", "Token", "Registry"):
        assert acts[name].startswith("reuse"), acts[name]
        assert second["address_book"][name] == first["address_book"][name]
    assert acts["Registry.approve"].startswith("send")
    assert second["last_run"]["txs"] == 3


def test_constructor_arg_change_and_rollback_repoints_with_no_tx(fresh_chain, fixture_artifacts):
    acct = fresh_chain.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    v1 = migrate(fresh_chain, arts, acct)
    v2 = migrate(fresh_chain, arts, acct, olds=v1, params={"limit": 22})
    acts = actions(v2)
    assert "(constructor args changed)" in acts["Vault"]
    assert "dependency Vault redeployed" in acts["Consumer"]
    assert acts["Token"].startswith("reuse")
    before = nonce(fresh_chain, acct)
    back = migrate(fresh_chain, arts, acct, olds=v2, params={"limit": 21})
    assert back["last_run"]["txs"] == 0 and nonce(fresh_chain, acct) == before
    assert back["address_book"] == v1["address_book"]
    assert actions(back)["Vault"].startswith("repoint") and "rollback" in actions(back)["Vault"]


def test_reset_chain_redeploys_everything(dev_chain_factory, fixture_artifacts):
    """anvil restarted, or geth on a new data directory: same URL, empty state."""
    port = free_port()
    chain = dev_chain_factory(port=port)
    acct = chain.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    first = migrate(chain, arts, acct)
    chain.stop()
    chain = dev_chain_factory(port=port)  # same URL, new genesis (or the same one: see docs/geth.md), empty state
    chain.fund(acct.address)
    again = migrate(chain, arts, acct, olds=first)
    acts = actions(again)
    assert all(a.startswith("deploy") and "chain reset" in a for n, a in acts.items() if n in first["address_book"])
    assert again["last_run"]["txs"] == 6


def test_no_code_at_recorded_address_redeploys(fresh_anvil, fixture_artifacts):
    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    first = migrate(fresh_anvil, arts, acct)
    Web3(Web3.HTTPProvider(fresh_anvil.url)).provider.make_request("anvil_setCode", [first["address_book"]["Registry"], "0x"])
    again = migrate(fresh_anvil, arts, acct, olds=first)
    acts = actions(again)
    assert "no code at" in acts["Registry"]
    assert acts["Token"].startswith("reuse")


def test_wrong_chain_id_is_refused_before_anything(fresh_chain, fixture_artifacts):
    acct = fresh_chain.new_account()
    before = nonce(fresh_chain, acct)
    plan, params = load_plan(FIXTURE_PLAN)
    with pytest.raises(ChainIdMismatch) as e:
        open_migration(plan, params, os.path.join(fixture_artifacts, "truffle"), fresh_chain.url, 5, None, acct.address)
    assert f"chain id is {fresh_chain.chain_id}, stack config chainId is 5" in str(e.value).splitlines()[0]
    assert nonce(fresh_chain, acct) == before == 0


def test_unreachable_rpc(fixture_artifacts):
    plan, params = load_plan(FIXTURE_PLAN)
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChainUnreachable, match=rf"chain RPC {url}: unreachable"):
        open_migration(plan, params, os.path.join(fixture_artifacts, "truffle"), url, 31337, None, "0x" + "00" * 20)


def test_insufficient_balance_sends_nothing(fresh_chain, fixture_artifacts):
    poor = fresh_chain.new_account(wei=10**12)
    with pytest.raises(InsufficientFunds) as e:
        migrate(fresh_chain, os.path.join(fixture_artifacts, "truffle"), poor)
    assert str(e.value).startswith(f"deployer {poor.address}: balance")
    assert "nothing was sent" in str(e.value)
    assert nonce(fresh_chain, poor) == 0


def test_constructor_revert_reason_and_nothing_sent(fresh_chain, fixture_artifacts):
    acct = fresh_chain.new_account()
    plan, _ = load_plan(FIXTURE_PLAN)
    plan.deploys.append(Deploy("Guarded", args=[0]))
    with pytest.raises(TransactionReverted) as e:
        migrate(fresh_chain, os.path.join(fixture_artifacts, "truffle"), acct, plan=plan)
    first = str(e.value).splitlines()[0]
    assert "deploy Guarded" in first and "Guarded: value must be positive" in first
    assert nonce(fresh_chain, acct) == 0


def test_call_that_would_revert_on_existing_contract_stops_before_sending(fresh_anvil, fixture_artifacts):
    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    plan, _ = load_plan(FIXTURE_PLAN)
    plan.calls.insert(
        0,
        Call(
            "Token.transferOwnership",
            "Token",
            "transferOwnership",
            [ref("Vault")],
            done_when={"function": "owner", "args": [], "equals": ref("Vault")},
        ),
    )
    first = migrate(fresh_anvil, arts, acct, plan=plan)
    before = nonce(fresh_anvil, acct)
    # A new Vault needs the ownership moved again, but the old Vault owns the token now.
    with pytest.raises(TransactionReverted) as e:
        migrate(fresh_anvil, arts, acct, olds=first, plan=plan, params={"limit": 5})
    message = str(e.value)
    assert "call Token.transferOwnership" in message and "caller is not the owner" in message and "nothing was sent" in message
    assert (
        'hint: Token is kept while Vault is new; if Token was handed to the old Vault, it must be new too: add renew_with: ["Vault"]'
        in message
    )
    assert nonce(fresh_anvil, acct) == before


def test_revert_after_other_transactions_says_how_many_went_out_and_the_next_run_adopts_them(fresh_anvil, fixture_artifacts):
    """The ownership call comes after another call of the same run, so only the pipeline can tell
    it reverts: by then Vault, Consumer and Registry.approve are out.  The error says so and hints
    at renew_with; a run without the call sends nothing more; renew_with as hinted makes it pass."""
    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    plan, _ = load_plan(FIXTURE_PLAN)
    plan.calls.append(Call("Token.transferOwnership", "Token", "transferOwnership", [ref("Vault")]))
    first = migrate(fresh_anvil, arts, acct, plan=plan)
    before = nonce(fresh_anvil, acct)
    with pytest.raises(TransactionReverted) as e:
        migrate(fresh_anvil, arts, acct, olds=first, plan=plan, params={"limit": 5})
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith("transaction call Token.transferOwnership: would revert: Token: caller is not the owner")
    assert 'add renew_with: ["Vault"] to the deploy of Token' in message
    assert message.endswith(
        "; 3 other transaction(s) of this run went out before it (3 mined and succeeded so far): "
        "the next run adopts them and sends only what is still missing"
    )
    assert nonce(fresh_anvil, acct) == before + 3
    without, _ = load_plan(FIXTURE_PLAN)
    adopted = migrate(fresh_anvil, arts, acct, olds=first, plan=without, params={"limit": 5})
    assert adopted["last_run"]["txs"] == 0 and nonce(fresh_anvil, acct) == before + 3
    assert {a.split(" ")[0] for n, a in actions(adopted).items() if n in ("Vault", "Consumer", "Registry.approve")} == {"adopt"}
    next(d for d in plan.deploys if d.name == "Token").renew_with = ["Vault"]
    fixed = migrate(fresh_anvil, arts, acct, olds=adopted, plan=plan, params={"limit": 6})
    assert actions(fixed)["Token"].startswith("deploy") and actions(fixed)["Token.transferOwnership"].startswith("send")


def test_parallel_migrations_from_one_deployer_never_collide(fresh_anvil, fixture_artifacts):
    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    results, errors = [], []

    def run(limit):
        try:
            plan, _ = load_plan(FIXTURE_PLAN)
            plan.name = f"fixture-{limit}"
            results.append(migrate(fresh_anvil, arts, acct, plan=plan, params={"limit": limit}))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # Every nonce went to exactly one transaction of one run (identical contracts such as Token
    # were adopted by the later runs: one deployer key is one stack's, see README).
    sent = sum(r["last_run"]["txs"] for r in results)
    assert nonce(fresh_anvil, acct) == sent >= 12
    vaults = {r["address_book"]["Vault"] for r in results}
    assert len(vaults) == 3
    w3 = Web3(Web3.HTTPProvider(fresh_anvil.url))
    assert all(len(w3.eth.get_code(a)) for r in results for a in r["address_book"].values())


def _send_raw(chain, account, to, data, gas, access_list=()):
    w3 = Web3(Web3.HTTPProvider(chain.url))
    tx = {
        "accessList": [{"address": a, "storageKeys": []} for a in access_list],
        "chainId": chain.chain_id,
        "nonce": w3.eth.get_transaction_count(account.address),
        "gas": gas,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
        "data": data,
        "value": 0,
    }
    if to:
        tx["to"] = to
    h = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return w3.eth.wait_for_transaction_receipt(h)


def test_a_reverted_call_of_an_earlier_run_is_sent_again(fresh_anvil, fixture_artifacts):
    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    first = migrate(fresh_anvil, arts, acct)
    plan, _ = load_plan(FIXTURE_PLAN)
    plan.calls.append(Call("Token.transferOwnership", "Token", "transferOwnership", [ref("Vault")]))
    # What a killed run could leave: the exact call, mined but out of gas (status 0).
    token = Web3(Web3.HTTPProvider(fresh_anvil.url)).eth.contract(
        address=first["address_book"]["Token"],
        abi=[
            {
                "name": "transferOwnership",
                "type": "function",
                "inputs": [{"name": "to", "type": "address"}],
                "outputs": [],
                "stateMutability": "nonpayable",
            },
            {"name": "owner", "type": "function", "inputs": [], "outputs": [{"type": "address"}], "stateMutability": "view"},
        ],
    )
    data = token.encode_abi("transferOwnership", [first["address_book"]["Vault"]])
    assert (
        _send_raw(fresh_anvil, acct, token.address, data, gas=24_000)["status"] == 0
    )  # above the intrinsic and calldata-floor gas, below what it needs
    second = migrate(fresh_anvil, arts, acct, olds=first, plan=plan)
    assert actions(second)["Token.transferOwnership"].startswith("send")
    assert token.functions.owner().call() == first["address_book"]["Vault"]


def test_adoption_without_get_transaction_by_sender_and_nonce(fresh_chain, fixture_artifacts, monkeypatch):
    """geth lacks the method: adoption scans blocks back from the head.  On geth the node's own
    answer is used; on anvil (which has it) the method is switched off."""
    from contracts_step.migrate import init_code

    acct = fresh_chain.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    first = migrate(fresh_chain, arts, acct)
    plan, params = load_plan(FIXTURE_PLAN)
    m = open_migration(plan, {**params, "limit": 8}, arts, fresh_chain.url, fresh_chain.chain_id, first, acct.address)
    vault = m.resolved.deploys["Vault"]
    code = init_code(vault, m.encoder, first["address_book"], acct.address)
    # A killed run's deploy of Vault: with the stack's claim in its access list, as the migration sends it.
    sent = _send_raw(fresh_chain, acct, None, code, gas=3_000_000, access_list=[m.claim_tag])
    from chain.node import Node, RPCError

    try:
        asked = m.node.request("eth_getTransactionBySenderAndNonce", [acct.address, "0x0"])
    except RPCError as e:
        asked = {"error": e.error}
    if fresh_chain.kind == "geth":
        assert "does not exist" in asked["error"]["message"]
    else:
        assert asked
        real = Node.batch

        def no_such_method(self, calls):
            missing = {"error": {"code": -32601, "message": "the method does not exist"}}
            return [missing if m == "eth_getTransactionBySenderAndNonce" else a for (m, _), a in zip(calls, real(self, calls), strict=True)]

        monkeypatch.setattr(Node, "batch", no_such_method)
    outs = m.migrate(acct)
    assert actions(outs)["Vault"].startswith("adopt")
    assert outs["address_book"]["Vault"] == sent["contractAddress"]
    assert outs["last_run"]["txs"] == 2  # Consumer and the approve call; Vault was not sent again


def test_renew_with_follows_a_redeploy_caused_by_a_dependency(fresh_anvil, fixture_artifacts):
    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    plan, _ = load_plan(FIXTURE_PLAN)
    plan.deploys.append(Deploy("Escrow", artifact="Registry", renew_with=["Consumer"]))
    first = migrate(fresh_anvil, arts, acct, plan=plan)
    # Consumer is redeployed only because Vault is (its own code and arguments are unchanged).
    second = migrate(fresh_anvil, arts, acct, olds=first, plan=plan, params={"limit": 4})
    acts = actions(second)
    assert "dependency Vault redeployed" in acts["Consumer"]
    assert acts["Escrow"].startswith("deploy") and "renewed with Consumer (redeployed)" in acts["Escrow"]
    assert second["address_book"]["Escrow"] != first["address_book"]["Escrow"]


def test_a_dropped_transaction_is_resent(anvil_factory):
    """A node that forgets a transaction (restart, pool eviction) gets it again, same nonce and hash."""
    from chain.node import connect
    from chain.transactions import PipelinedSender, TxRequest

    chain = anvil_factory(extra_args=("--no-mining",))
    acct = chain.new_account()
    w3 = connect(chain.url, chain.chain_id)
    sender = PipelinedSender(w3, acct, confirm_timeout=30)
    req = TxRequest("transfer to self", acct.address, b"", value=1)
    done = []
    worker = threading.Thread(target=lambda: done.append(sender.send([req], 0)))
    worker.start()
    deadline = time.monotonic() + 10
    while req.tx_hash is None or not w3.provider.make_request("txpool_content", [])["result"]["pending"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    w3.provider.make_request("anvil_dropTransaction", [req.tx_hash])
    assert not w3.provider.make_request("txpool_content", [])["result"]["pending"]
    while sender.stats.resends == 0:  # the sender notices (after max(5 s, timeout / 6)) and resends
        assert time.monotonic() < deadline + 10
        time.sleep(0.1)
    w3.provider.make_request("anvil_mine", ["0x1"])
    worker.join(timeout=30)
    assert done and req.receipt["status"] == 1
    assert sender.stats.resends == 1


# --- what reuse and rollback rest on ----------------------------------------------------------------

VAULT_LIMIT_ABI = [{"name": "limit", "type": "function", "inputs": [], "outputs": [{"type": "uint256"}], "stateMutability": "view"}]


def _set_code(chain, address: str, code: str) -> None:
    Web3(Web3.HTTPProvider(chain.url)).provider.make_request(RPCEndpoint("anvil_setCode"), [address, code])


def test_other_code_at_the_recorded_address_is_not_reused(fresh_anvil, fixture_artifacts):
    """Same content key, same dependencies, but the address now holds other code: redeployed."""
    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    first = migrate(fresh_anvil, arts, acct)
    book = first["address_book"]
    w3 = Web3(Web3.HTTPProvider(fresh_anvil.url))
    _set_code(fresh_anvil, book["Registry"], "0x" + bytes(w3.eth.get_code(book["Token"])).hex())
    again = migrate(fresh_anvil, arts, acct, olds=first)
    acts = actions(again)
    assert acts["Registry"].startswith("deploy"), acts["Registry"]
    assert again["address_book"]["Registry"] != book["Registry"]
    assert bytes(w3.eth.get_code(again["address_book"]["Registry"])) != bytes(w3.eth.get_code(book["Token"]))
    assert acts["Token"].startswith("reuse") and acts["MathLib"].startswith("reuse")


def test_a_redeployed_dependency_is_never_reused_around(fresh_anvil, fixture_artifacts):
    """MathLib lost its code and is redeployed with the same content key: Vault, which links it,
    keeps its own content key but not its dependency's address, so it is deployed again (and
    Consumer after it), linked to the new library."""
    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    first = migrate(fresh_anvil, arts, acct)
    _set_code(fresh_anvil, first["address_book"]["MathLib"], "0x")
    again = migrate(fresh_anvil, arts, acct, olds=first)
    acts = actions(again)
    assert again["contracts"]["Vault"]["content_key"] == first["contracts"]["Vault"]["content_key"]
    assert acts["MathLib"].startswith("deploy")
    assert acts["Vault"].startswith("deploy") and "dependency MathLib redeployed" in acts["Vault"]
    assert acts["Consumer"].startswith("deploy") and "dependency Vault redeployed" in acts["Consumer"]
    book = again["address_book"]
    assert again["contracts"]["Vault"]["deps"]["MathLib"] == book["MathLib"] != first["address_book"]["MathLib"]
    assert book["Vault"] != first["address_book"]["Vault"]
    assert acts["Token"].startswith("reuse") and acts["Registry"].startswith("reuse")


def test_a_rollback_whose_dependencies_moved_deploys_instead_of_repointing(fresh_anvil, fixture_artifacts):
    """v1 (limit 21) -> v2 (limit 22) -> back to 21 after MathLib was redeployed: v1's Vault is still
    on chain with v1's content key, but it is wired to the old MathLib, so it is not re-pointed."""
    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    v1 = migrate(fresh_anvil, arts, acct)
    v2 = migrate(fresh_anvil, arts, acct, olds=v1, params={"limit": 22})
    _set_code(fresh_anvil, v1["address_book"]["MathLib"], "0x")
    back = migrate(fresh_anvil, arts, acct, olds=v2, params={"limit": 21})
    acts = actions(back)
    assert back["contracts"]["Vault"]["content_key"] == v1["contracts"]["Vault"]["content_key"]
    assert re.fullmatch(r"deploy at 0x[0-9a-fA-F]{40} \(.+\)", acts["Vault"]), acts["Vault"]  # with its reason
    assert back["address_book"]["Vault"] not in (v1["address_book"]["Vault"], v2["address_book"]["Vault"])
    vault = Web3(Web3.HTTPProvider(fresh_anvil.url)).eth.contract(address=back["address_book"]["Vault"], abi=VAULT_LIMIT_ABI)
    assert vault.functions.limit().call() == 42
    # Token and Registry did not move: a rollback of what depends only on them still re-points.
    assert acts["Token"].startswith("reuse") and acts["Registry"].startswith("reuse")


def _stack_migration(chain, arts, acct, claim, olds=None, foreign="refuse"):
    plan, params = load_plan(FIXTURE_PLAN)
    return open_migration(plan, params, arts, chain.url, chain.chain_id, olds, acct.address, claim=claim, foreign=foreign)


def test_two_stacks_sharing_one_key_get_their_own_contracts_or_a_clear_refusal(fresh_anvil, fixture_artifacts):
    """Stack b's deployer already created the plan's contracts for stack a: b adopts none of them
    silently.  Preview (``refuse_foreign``) and up refuse in one line before anything is sent;
    with keep-cd:foreignContracts deploy b gets its own, with adopt it shares a's, said so."""
    from contracts_step.migrate import ForeignContracts, claim_address

    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    a = _stack_migration(fresh_anvil, arts, acct, "org/keep-cd/a").migrate(acct)
    w3 = Web3(Web3.HTTPProvider(fresh_anvil.url))
    for rec in a["contracts"].values():  # each creation carries a's claim, on chain
        listed = {e["address"] for e in w3.eth.get_transaction(rec["tx_hash"])["accessList"]}
        assert listed == {claim_address("org/keep-cd/a")}
    before = nonce(fresh_anvil, acct)
    first = next(iter(a["address_book"]))  # the plan's first contract in dependency order
    for refused in (lambda m: m.refuse_foreign(), lambda m: m.migrate(acct)):
        with pytest.raises(ForeignContracts) as e:
            refused(_stack_migration(fresh_anvil, arts, acct, "org/keep-cd/b"))
        message = str(e.value)
        assert "\n" not in message and message.startswith(f"contract {first}: {a['address_book'][first]} (transaction 0x")
        assert "not by this stack (org/keep-cd/b); nothing was sent: set keep-cd:foreignContracts to adopt" in message
        assert nonce(fresh_anvil, acct) == before
    own = _stack_migration(fresh_anvil, arts, acct, "org/keep-cd/b", foreign="deploy").migrate(acct)
    assert set(own["address_book"].values()).isdisjoint(a["address_book"].values())
    assert all(actions(own)[n].startswith("deploy") for n in own["address_book"])
    shared = _stack_migration(fresh_anvil, arts, acct, "org/keep-cd/c", foreign="adopt").migrate(acct)
    assert shared["address_book"] == own["address_book"]  # the latest matching creation of each
    assert all("for another stack or tool" in actions(shared)[n] for n in shared["address_book"])
    # a is not disturbed by b's contracts: it reuses its own, sending nothing.
    again = _stack_migration(fresh_anvil, arts, acct, "org/keep-cd/a", olds=a).migrate(acct)
    assert again["address_book"] == a["address_book"] and again["last_run"]["txs"] == 0


def test_a_killed_run_s_creation_is_adopted_only_by_its_own_stack(fresh_anvil, fixture_artifacts):
    """What a killed first run leaves (its first creation mined, nothing recorded): the same stack
    adopts it on its next run; a stack of the same key with another name refuses it."""
    from contracts_step.migrate import ForeignContracts, init_code

    acct = fresh_anvil.new_account()
    arts = os.path.join(fixture_artifacts, "truffle")
    m = _stack_migration(fresh_anvil, arts, acct, "org/keep-cd/a")
    entry = next(iter(m.resolved.deploys.values()))
    assert not entry.deps
    killed = _send_raw(fresh_anvil, acct, None, init_code(entry, m.encoder, {}, acct.address), 3_000_000, [m.claim_tag])
    with pytest.raises(ForeignContracts, match=f"^contract {entry.name}: {killed['contractAddress']} "):
        _stack_migration(fresh_anvil, arts, acct, "org/keep-cd/b").migrate(acct)
    m.refuse_foreign()  # its own: nothing to refuse
    outs = m.migrate(acct)
    assert actions(outs)[entry.name].startswith("adopt") and "sent by an interrupted run" in actions(outs)[entry.name]
    assert outs["address_book"][entry.name] == killed["contractAddress"]
