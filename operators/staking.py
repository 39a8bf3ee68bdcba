"""Staking a fleet of operators on keep-core 1.8.0 contracts, reconciled against the chain.

For each operator, three actions, each read on chain first and sent only when missing (what is
missing is decided by the one provisioning policy, keep_contracts/provisioning.py, which both init
containers use too):

    fund       the operator's ETH balance is below ``eth_threshold``: top it up to ``eth_target``
    stake      TokenStaking has no delegation for it: ``KeepToken.approveAndCall(TokenStaking,
               amount, beneficiary ‖ operator ‖ authorizer)`` (20 bytes each), from the owner
    authorize  it is not authorized for KeepRandomBeaconOperator:
               ``TokenStaking.authorizeOperatorContract(operator, KeepRandomBeaconOperator)``,
               sent by the authorizer

The owner (the deployer key, which holds the KEEP supply) is also the authorizer, so every
transaction of the fleet goes out from one account in nonce order: all of them are estimated, signed
and sent as JSON-RPC batches (``PipelinedSender.send_batched``), a block's gas at a time, and an
``authorize`` rides in the same block as the ``stake`` it needs.  Because everything is decided from
chain state and not from a record of what was sent, a run killed mid-batch and run again completes
exactly the missing actions: it waits for its own pending transactions to land first, then reads.

``provisioning: cluster`` (RFC 13's way) leaves fund/stake/authorize to each pod's InitContainer
and its faucet key; then this module only keeps the faucet supplied with the ETH and KEEP that the
operators not yet staked will need.

Stakes live in a TokenStaking contract: when the contracts step redeploys it, the fleet reads as not
staked against the new address and is staked again.  The old stakes stay on the old contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import is_address, to_checksum_address

from chain.fees import DEFAULT_TIP, POD_GAS_MARGIN, POD_GAS_PAD, max_fee, price_floor
from chain.node import Node, RPCError
from chain.tx_request import TxRequest, account_lock
from keep_contracts.provisioning import FOREIGN_AUTHORIZER, UNDELEGATED, OperatorOnChain, PolicyError, decide, initialized
from keep_contracts.staking import (
    APPROVE_AND_CALL,
    AUTHORIZE,
    AUTHORIZER_OF,
    BALANCE_OF,
    CANCEL_STAKE,
    DELEGATION_INFO,
    HAS_MINIMUM_STAKE,
    INITIALIZATION_PERIOD,
    IS_APPROVED_OPERATOR_CONTRACT,
    IS_AUTHORIZED,
    MINIMUM_STAKE,
    OWNER_OF,
    TRANSFER,
    UNDELEGATE,
    Fn,
    delegation_data,
)

from .errors import ConfigError, InsufficientFunds, KeepCdError, StakingConflict
from .policy import CONFIG_NAMES, FleetPolicy, config_error

# Estimates are exact for the state they run in (the batch estimates each transaction after the
# ones it depends on), so a small margin suffices; a tight gas limit lets more of them share a block.
GAS_MARGIN, GAS_PAD = 1.05, 2_000
# What the faucet reserves in gas per operator in cluster mode (fund + approveAndCall) at least;
# ``faucet_gas_per_operator`` raises it to what this chain charges for a stake (geth --dev: ~1M).
FAUCET_GAS_PER_OPERATOR = 400_000


@dataclass(frozen=True)
class StakingContracts:
    token: str  # KeepToken
    staking: str  # TokenStaking
    operator_contract: str  # KeepRandomBeaconOperator

    @staticmethod
    def from_address_book(book: dict, names: dict) -> StakingContracts:
        found = {}
        for role, name in names.items():
            address = (book or {}).get(name)
            if not isinstance(address, str) or not is_address(address):
                raise ConfigError(f"address book: {name} missing (expected the contracts step to deploy it; has {sorted(book or {})})")
            found[role] = to_checksum_address(address)
        return StakingContracts(**found)


# The policy's fields as stack config names them (keep-cd:operators.<name>).
@dataclass
class OperatorState:
    address: str
    balance: int
    amount: int
    created_at: int
    undelegated_at: int
    owner: str
    authorizer: str
    authorized: bool
    eligible: bool  # hasMinimumStake: staked, initialized, authorized and at least the minimum

    @property
    def on_chain(self) -> OperatorOnChain:
        """What the provisioning policy decides from."""
        return OperatorOnChain(self.balance, self.created_at, self.undelegated_at, self.authorizer, self.authorized)

    @property
    def staked(self) -> bool:
        return self.on_chain.staked


@dataclass
class FleetView:
    """One batched read of everything the decisions need."""

    operators: dict  # address -> OperatorState
    minimum_stake: int
    initialization_period: int
    owner_eth: int
    owner_keep: int
    operator_contract_approved: bool
    timestamp: int
    extra_eth: dict = field(default_factory=dict)  # address -> ETH of other accounts asked for
    extra_keep: dict = field(default_factory=dict)


@dataclass
class Action:
    name: str
    operator: str
    kind: str  # fund | stake | authorize | undelegate | cancel-stake | supply-eth | supply-keep
    reason: str
    value: int = 0  # wei for fund/supply-eth, KEEP for stake/supply-keep

    def line(self) -> str:
        return f"{self.kind} {self.name} {self.operator}: {self.reason}"


def _rpc_batch(node: Node, calls: list, what: str) -> list:
    try:
        responses = node.batch(calls)
    except RPCError as e:
        raise ConfigError(f"chain RPC: reading {what} failed: {e.reason}") from None
    out = []
    for r in responses:
        if r.get("error"):
            raise ConfigError(f"chain RPC: reading {what} failed: {RPCError(r['error']).reason}")
        out.append(r["result"])
    return out


def _call(to: str, fn: Fn, *args) -> tuple:
    return ("eth_call", [{"to": to, "data": "0x" + fn.calldata(*args).hex()}, "latest"])


def check_contracts(node: Node, contracts: StakingContracts, names: dict) -> None:
    """Every contract has code: an address book from another chain fails here, before anything is sent."""
    codes = _rpc_batch(node, [("eth_getCode", [getattr(contracts, role), "latest"]) for role in names], "contract code")
    for (role, name), code in zip(names.items(), codes, strict=True):
        if code in (None, "0x", "0x0"):
            raise ConfigError(
                f"address book: {name} at {getattr(contracts, role)} has no code on this chain "
                "(expected the contracts step to have deployed it here)"
            )


def read_fleet(node: Node, contracts: StakingContracts, addresses: list, owner: str, extra: tuple = ()) -> FleetView:
    """The fleet's chain state in a few JSON-RPC batches (hundreds of operators in well under a second)."""
    st, oc = contracts.staking, contracts.operator_contract
    head = [
        _call(st, MINIMUM_STAKE),
        _call(st, INITIALIZATION_PERIOD),
        ("eth_getBalance", [owner, "latest"]),
        _call(contracts.token, BALANCE_OF, owner),
        _call(st, IS_APPROVED_OPERATOR_CONTRACT, oc),
        ("eth_getBlockByNumber", ["latest", False]),
    ]
    for a in extra:
        head += [("eth_getBalance", [a, "latest"]), _call(contracts.token, BALANCE_OF, a)]
    per_op: list[tuple[Any, Any]] = [  # (Fn, its contract), or ("eth_getBalance", None)
        ("eth_getBalance", None),
        (DELEGATION_INFO, st),
        (OWNER_OF, st),
        (AUTHORIZER_OF, st),
        (IS_AUTHORIZED, st),
        (HAS_MINIMUM_STAKE, st),
    ]
    calls = list(head)
    for a in addresses:
        for fn, to in per_op:
            if fn == "eth_getBalance":
                calls.append(("eth_getBalance", [a, "latest"]))
            elif fn in (IS_AUTHORIZED, HAS_MINIMUM_STAKE):
                calls.append(_call(to, fn, a, oc))
            else:
                calls.append(_call(to, fn, a))
    raw = _rpc_batch(node, calls, "operator state")
    n_head = len(head)
    view = FleetView(
        operators={},
        minimum_stake=MINIMUM_STAKE.decode(raw[0]),
        initialization_period=INITIALIZATION_PERIOD.decode(raw[1]),
        owner_eth=int(raw[2], 16),
        owner_keep=BALANCE_OF.decode(raw[3]),
        operator_contract_approved=IS_APPROVED_OPERATOR_CONTRACT.decode(raw[4]),
        timestamp=int(raw[5]["timestamp"], 16),
    )
    for k, a in enumerate(extra):
        view.extra_eth[a] = int(raw[6 + 2 * k], 16)
        view.extra_keep[a] = BALANCE_OF.decode(raw[7 + 2 * k])
    for i, a in enumerate(addresses):
        r = raw[n_head + i * len(per_op) : n_head + (i + 1) * len(per_op)]
        amount, created, undelegated = DELEGATION_INFO.decode(r[1])
        view.operators[a] = OperatorState(
            address=a,
            balance=int(r[0], 16),
            amount=amount,
            created_at=created,
            undelegated_at=undelegated,
            owner=to_checksum_address(OWNER_OF.decode(r[2])),
            authorizer=to_checksum_address(AUTHORIZER_OF.decode(r[3])),
            authorized=IS_AUTHORIZED.decode(r[4]),
            eligible=HAS_MINIMUM_STAKE.decode(r[5]),
        )
    return view


def stake_amount(view: FleetView, policy: FleetPolicy) -> int:
    try:
        return policy.stake_for(view.minimum_stake, CONFIG_NAMES)
    except PolicyError as e:
        raise config_error(e) from None


def plan_fleet(view: FleetView, operators: dict, owner: str, policy: FleetPolicy) -> list:
    """The missing actions for every operator (name -> address), in a deploy-time-authorizer fleet."""
    amount = stake_amount(view, policy)
    actions: list = []
    for name, address in operators.items():
        s = view.operators[address]
        decision = decide(s.on_chain, policy, stake=amount, authorizer=owner)
        if decision.conflict == UNDELEGATED:
            raise StakingConflict(
                f"operator {name} ({address}): its stake on this TokenStaking was undelegated at {s.undelegated_at} "
                "(expected a live delegation; an undelegated operator cannot be staked again: give the client a new key index)",
                operator=name,
            )
        if decision.conflict == FOREIGN_AUTHORIZER:
            raise StakingConflict(
                f"operator {name} ({address}): staked with authorizer {s.authorizer}, not the deployer {owner}, and not "
                "authorized for the operator contract (expected keep-cd's own delegation; authorize it from that account)",
                operator=name,
            )
        actions += [Action(name, address, n.kind, n.reason, n.value) for n in decision.needs]
    return actions


def _requests(actions: list, contracts: StakingContracts, owner: str, policy: FleetPolicy) -> list:
    """Transactions in the order that packs best: funds, stakes, then authorizations (each after its stake)."""
    order = {"fund": 0, "stake": 1, "authorize": 2, "undelegate": 3, "cancel-stake": 3, "supply-eth": 0, "supply-keep": 1}
    stakes: dict = {}
    out = []
    for a in sorted(actions, key=lambda a: order[a.kind]):
        if a.kind in ("fund", "supply-eth"):
            req = TxRequest(f"{a.kind} {a.name}", a.operator, b"", value=a.value)
        elif a.kind == "stake":
            data = APPROVE_AND_CALL.calldata(
                contracts.staking, a.value, delegation_data(policy.beneficiary_for(a.operator, owner), a.operator, owner)
            )
            req = TxRequest(f"stake {a.name}", contracts.token, data)
            stakes[a.operator] = req
        elif a.kind == "authorize":
            data = AUTHORIZE.calldata(a.operator, contracts.operator_contract)
            dep = stakes.get(a.operator)
            req = TxRequest(f"authorize {a.name}", contracts.staking, data, after=(dep,) if dep else ())
        elif a.kind == "supply-keep":
            req = TxRequest(f"supply-keep {a.name}", contracts.token, TRANSFER.calldata(a.operator, a.value))
        elif a.kind == "undelegate":
            req = TxRequest(f"undelegate {a.name}", contracts.staking, UNDELEGATE.calldata(a.operator))
        else:
            req = TxRequest(f"cancel-stake {a.name}", contracts.staking, CANCEL_STAKE.calldata(a.operator))
        out.append(req)
    return out


def check_owner_funds(node: Node, view: FleetView, owner: str, actions: list, requests: list) -> None:
    """Refuse before sending anything when the owner cannot pay for the whole fleet, naming the shortfall.

    KEEP is exact.  ETH counts the transferred values plus the gas of every transaction that can be
    estimated now (those that need an earlier one of this run count their intrinsic gas only);
    the sender checks again, exactly, before each transaction.
    """
    keep_needed = sum(a.value for a in actions if a.kind in ("stake", "supply-keep"))
    if keep_needed > view.owner_keep:
        n = sum(1 for a in actions if a.kind == "stake")
        what = f"staking {n} operators" if n else "supplying the faucet"
        raise InsufficientFunds(
            f"owner {owner}: KEEP balance {_keep(view.owner_keep)} is below the {_keep(keep_needed)} that {what} needs "
            f"(short by {_keep(keep_needed - view.owner_keep)} KEEP); nothing was sent"
        )
    independent = [r for r in requests if not r.after]
    calls = [
        ("eth_estimateGas", [{"from": owner, "to": r.to, "data": "0x" + r.data.hex(), "value": hex(r.value)}, "latest"])
        for r in independent
    ]
    try:
        estimates = node.batch(calls)
    except RPCError:
        estimates = []
    gas = 0
    for e in estimates[: len(independent)]:
        if e.get("error"):
            # It would revert now: the sender names it before sending; count what it cannot avoid.
            gas += 21_000
        else:
            gas += int(e["result"], 16)
    gas += sum(21_000 + sum(16 if b else 4 for b in r.data) for r in requests if r.after)
    price = price_floor(node)
    eth_needed = sum(r.value for r in requests) + gas * price
    if eth_needed > view.owner_eth:
        from web3 import Web3  # sending: web3 is loaded already

        raise InsufficientFunds(
            f"owner {owner}: balance {Web3.from_wei(view.owner_eth, 'ether')} ETH is below the "
            f"{Web3.from_wei(eth_needed, 'ether')} ETH that {len(requests)} transactions need "
            f"(short by {Web3.from_wei(eth_needed - view.owner_eth, 'ether')} ETH; {gas} gas at {price} wei); nothing was sent"
        )


def _keep(units: int) -> str:
    whole, frac = divmod(units, 10**18)
    return f"{whole}" + (f".{frac:018d}".rstrip("0") if frac else "")


@dataclass
class RunReport:
    txs: int = 0
    gas_used: int = 0
    blocks: list = field(default_factory=list)
    resends: int = 0
    seconds: float = 0.0
    actions: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "txs": self.txs,
            "gas_used": self.gas_used,
            "blocks": len(self.blocks),
            "first_block": self.blocks[0] if self.blocks else None,
            "last_block": self.blocks[-1] if self.blocks else None,
            "resends": self.resends,
            "seconds": round(self.seconds, 3),
            "actions": [a.line() for a in self.actions],
        }


def _send(node: Node, account, actions: list, contracts: StakingContracts, policy: FleetPolicy, view: FleetView, log) -> RunReport:
    """Caller holds the account lock and has settled the nonce."""
    from chain.transactions import PipelinedSender, stopped_run_note

    owner = to_checksum_address(account.address)
    requests = _requests(actions, contracts, owner, policy)
    check_owner_funds(node, view, owner, actions, requests)
    report = RunReport(actions=actions)
    if requests:
        sender = PipelinedSender(node.web3(), account, log=log)
        try:
            sender.send_batched(requests, node.nonce(owner), gas_margin=GAS_MARGIN, gas_pad=GAS_PAD)
        except KeepCdError as e:
            _, note = stopped_run_note(node.web3(), requests, "the next run reads them on chain and sends only what is still missing")
            raise type(e)(str(e) + note) from None
        report.txs = sender.stats.txs
        report.gas_used = sender.stats.gas_used
        report.blocks = list(sender.stats.blocks)
        report.resends = sender.stats.resends
    return report


def _settle(node: Node, account, log) -> None:
    """Wait until the owner's transactions of an earlier, interrupted run have landed: only then
    does the chain tell what they did (and nothing is sent twice)."""
    from chain.transactions import PipelinedSender

    PipelinedSender(node.web3(), account, log=log).settled_nonce()


def operator_status(view: FleetView, operators: dict) -> dict:
    status = {}
    for name, address in operators.items():
        s = view.operators[address]
        status[name] = {
            "address": address,
            "balance_wei": str(s.balance),
            "staked": s.staked and not s.undelegated_at,
            "amount": str(s.amount),
            "owner": s.owner if s.staked else None,
            "authorized": s.authorized,
            # hasMinimumStake turns true once the initialization period has passed (the
            # InitContainer waits for it; nothing is sent for it).
            "eligible": s.eligible,
            "eligible_from": s.created_at + view.initialization_period if s.staked else None,
        }
    return status


def reconcile_fleet(
    node: Node,
    account,
    contracts: StakingContracts,
    operators: dict,
    policy: FleetPolicy,
    *,
    removed: dict | None = None,
    on_remove: str = "leave",
    log: Callable[[str], None] = lambda _m: None,
) -> tuple:
    """Fund, stake and authorize every operator (name -> address) that lacks it; returns (status, report).

    ``removed`` (name -> address) are operators no longer in the fleet: with ``on_remove:
    undelegate`` their stakes are undelegated (or cancelled while still initializing); with
    ``leave`` nothing is sent for them.
    """
    started = time.monotonic()
    policy.validate()
    owner = to_checksum_address(account.address)
    with account_lock(node.chain_id(), owner):
        _settle(node, account, log)
        addresses = list(operators.values()) + [a for a in (removed or {}).values() if a not in operators.values()]
        view = read_fleet(node, contracts, addresses, owner)
        if not view.operator_contract_approved:
            raise ConfigError(
                f"address book: operator contract {contracts.operator_contract} is not approved in the registry "
                "(expected the contracts step's KeepRegistry.approveOperatorContract)"
            )
        actions = plan_fleet(view, operators, owner, policy)
        if on_remove == "undelegate":
            actions += removal_actions(view, removed or {}, owner)
        for a in actions:
            log(a.line())
        report = _send(node, account, actions, contracts, policy, view, log)
        if report.txs:
            view = read_fleet(node, contracts, list(operators.values()), owner)
            missing = [n for n, a in operators.items() if not (view.operators[a].staked and view.operators[a].authorized)]
            if missing:
                raise StakingConflict(
                    f"operator {missing[0]}: still not staked and authorized after the run (expected every step to have landed)"
                )
    report.seconds = time.monotonic() - started
    return operator_status(view, operators), report


def removal_actions(view: FleetView, removed: dict, owner: str) -> list:
    actions = []
    for name, address in removed.items():
        s = view.operators.get(address)
        if s is None or not s.staked or s.undelegated_at or s.amount == 0 or s.owner.lower() != owner.lower():
            continue
        if initialized(s.created_at, view.initialization_period, view.timestamp):
            actions.append(Action(name, address, "undelegate", "removed from the fleet"))
        else:
            # undelegate() refuses a stake still initializing; cancelStake() returns it at once.
            actions.append(Action(name, address, "cancel-stake", "removed from the fleet while its stake initializes"))
    return actions


def faucet_gas_per_operator(node: Node, contracts: StakingContracts, owner: str, operator: str, amount: int) -> int:
    """Gas the faucet must hold per operator: its fund transfer and the gas *limit* its pod gives
    the stake.  geth's pool admits a sender's transactions only while its balance covers the sum
    of their gas limits at their fee caps (plus values), so what the pods reserve counts, not what
    they will use; and a stake costs ~3x more gas under geth --dev's rules than under anvil's.
    The stake is estimated from the owner, who holds the KEEP (the faucet may not yet)."""
    call = {
        "from": owner,
        "to": contracts.token,
        "data": "0x" + APPROVE_AND_CALL.calldata(contracts.staking, amount, delegation_data(operator, operator, operator)).hex(),
    }
    try:
        stake = int(node.request("eth_estimateGas", [call, "latest"]), 16)
    except Exception:  # the owner short of KEEP: supply_faucet names that before sending
        return FAUCET_GAS_PER_OPERATOR
    return max(FAUCET_GAS_PER_OPERATOR, 21_000 + int(stake * POD_GAS_MARGIN) + POD_GAS_PAD)


def plan_faucet(
    view: FleetView, operators: dict, faucet: str, policy: FleetPolicy, gas_price: int, gas_per_operator: int = FAUCET_GAS_PER_OPERATOR
) -> list:
    """Cluster mode: what the faucet needs so that every operator not yet staked can be provisioned
    by its own InitContainer (its ETH top-up, its stake, and the faucet's gas for both)."""
    amount = stake_amount(view, policy)
    pending = [n for n, a in operators.items() if not view.operators[a].staked]
    underfunded = [n for n, a in operators.items() if policy.needs_funding(view.operators[a].balance)]
    eth_need = len(underfunded) * policy.eth_target + len(pending) * gas_per_operator * gas_price
    keep_need = len(pending) * amount
    actions = []
    if view.extra_eth[faucet] < eth_need:
        actions.append(Action("faucet", faucet, "supply-eth", f"{len(underfunded)} operators to fund", eth_need - view.extra_eth[faucet]))
    if view.extra_keep[faucet] < keep_need:
        actions.append(Action("faucet", faucet, "supply-keep", f"{len(pending)} operators to stake", keep_need - view.extra_keep[faucet]))
    return actions


def supply_faucet(
    node: Node,
    account,
    contracts: StakingContracts,
    operators: dict,
    faucet: str,
    policy: FleetPolicy,
    *,
    log: Callable[[str], None] = lambda _m: None,
) -> tuple:
    """Cluster mode's deploy-time part: top the faucet up; returns (status, report)."""
    started = time.monotonic()
    policy.validate()
    owner = to_checksum_address(account.address)
    faucet = to_checksum_address(faucet)
    with account_lock(node.chain_id(), owner):
        _settle(node, account, log)
        view = read_fleet(node, contracts, list(operators.values()), owner, extra=(faucet,))
        actions = _faucet_actions(node, contracts, view, operators, owner, faucet, policy)
        for a in actions:
            log(a.line())
        report = _send(node, account, actions, contracts, policy, view, log)
    report.seconds = time.monotonic() - started
    return operator_status(view, operators), report


def assess(
    node: Node,
    contracts: StakingContracts,
    operators: dict,
    owner: str,
    policy: FleetPolicy,
    *,
    provisioning: str = "deploy",
    faucet: str | None = None,
) -> list:
    """What a run would send, reading the chain only (``diff`` and preview)."""
    owner = to_checksum_address(owner)
    extra: tuple[str, ...] = (to_checksum_address(faucet),) if faucet else ()
    view = read_fleet(node, contracts, list(operators.values()), owner, extra=extra)
    if provisioning == "cluster":
        return _faucet_actions(node, contracts, view, operators, owner, extra[0], policy)
    return plan_fleet(view, operators, owner, policy)


def _faucet_actions(
    node: Node, contracts: StakingContracts, view: FleetView, operators: dict, owner: str, faucet: str, policy: FleetPolicy
) -> list:
    """``plan_faucet`` at the fee cap the pods will use and this chain's gas for a stake."""
    # The pods' fee cap (chain.fees.fee_fields with DEFAULT_TIP), taken on the base fee or, on a
    # chain without one, on the gas price: twice it, room for the price to rise before they stake.
    price = max_fee(price_floor(node), DEFAULT_TIP)
    pending = [a for a in operators.values() if not view.operators[a].staked]
    gas = faucet_gas_per_operator(node, contracts, owner, pending[0], stake_amount(view, policy)) if pending else FAUCET_GAS_PER_OPERATOR
    return plan_faucet(view, operators, faucet, policy, price, gas)
