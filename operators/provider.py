"""The Pulumi dynamic provider for a fleet's stakes, and its resource.

One resource per fleet, not one per operator: the owner's transactions for all operators must go
out together, nonce after nonce, to share blocks (100 operators in one or two blocks instead of
three sequential blocks each).  Its inputs list every operator (name -> address), so a preview shows
which ones join or leave; ``diff`` also reads the chain, so an operator that lost its stake or
authorization (a chain reset, a redeployed TokenStaking) shows as an update with no input changed.

The owner's key comes from ``configure`` (stack config ``keep-cd:deployerPrivateKey``, a secret) or
the environment (``KEEP_CD_DEPLOYER_KEY``), as for the contracts step, never from inputs.  Inputs
and outputs hold addresses, amounts and chain state only: nothing secret, so nothing to redact.
This module imports no chain client at module level (Pulumi pickles the provider by reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, DiffResult, ReadResult, Resource

from chain.errors import ConfigError
from chain.provider import DeployerStepProvider, is_known
from keep_contracts.names import STAKING_CONTRACT_NAMES
from keep_contracts.provisioning import positive_amount

# Who stakes an operator: keep-cd's `pulumi up` ("deploy") or its InitContainer in the cluster ("cluster").
PROVISIONING_MODES = ("deploy", "cluster")
ON_REMOVE = ("leave", "undelegate")
OUTPUT_KEYS = ("owner", "status", "staking_contract", "last_run")
REPLACE_KEYS = ("chain_id",)


def _computed_known(props: dict) -> bool:
    """Whether the inputs other resources compute (address book, operator addresses, faucet) are
    known: in preview they may not be, and then nothing is read from the chain."""
    keys = ["address_book", "operators"] + (["faucet"] if props.get("provisioning") == "cluster" else [])
    # None: another resource's output not computed yet, as the offline runner passes it in preview.
    return all(props.get(k) is not None and is_known(props.get(k)) for k in keys)


def _wei(value: Any, key: str) -> int | None:
    """A positive integer from an int or a decimal string (amounts travel as strings: Pulumi's
    numbers are float64, which cannot hold 10**22 exactly): the provisioning policy's rule."""
    return positive_amount(value)


def policy_failures(policy: dict) -> list:
    failures = []
    for key in ("eth_threshold", "eth_target"):
        if _wei(policy.get(key), key) is None:
            failures.append(CheckFailure(f"policy.{key}", f"{policy.get(key)!r} is not a positive integer (wei)"))
    stake = policy.get("stake_amount")
    if stake != "minimum" and _wei(stake, "stake_amount") is None:
        failures.append(CheckFailure("policy.stake_amount", f'{stake!r} is not a positive integer (KEEP base units) or "minimum"'))
    return failures


def _required_wei(policy: dict, key: str) -> int:
    """An amount check() has accepted; refused again here so no caller can skip check()."""
    value = _wei(policy.get(key), key)
    if value is None:
        raise ConfigError(f"policy.{key}: {policy.get(key)!r} is not a positive integer (wei)")
    return value


def fleet_policy(policy: dict):
    from .policy import FleetPolicy

    stake = policy.get("stake_amount")
    return FleetPolicy(
        eth_threshold=_required_wei(policy, "eth_threshold"),
        eth_target=_required_wei(policy, "eth_target"),
        stake_amount=None if stake == "minimum" else _wei(stake, "stake_amount"),
        beneficiary=policy.get("beneficiary") or "operator",
    ).validate()


def _session(props: dict):
    """(the node, guarded; the staking contracts, each checked to have code)."""
    from chain.node import open_node

    from .staking import StakingContracts, check_contracts

    node = open_node(props["rpc_url"], int(props["chain_id"]))
    names = props.get("contract_names") or STAKING_CONTRACT_NAMES
    contracts = StakingContracts.from_address_book(props["address_book"], names)
    check_contracts(node, contracts, names)
    return node, contracts


class OperatorStakesProvider(DeployerStepProvider):
    # The deployer owns the stakes (and the KEEP): _account() is the owner; _deployer_address() is
    # the zero address in a preview without the key.
    replace_keys = REPLACE_KEYS
    output_keys = OUTPUT_KEYS

    def check(self, _olds: dict, news: dict) -> CheckResult:
        """Validate early (bad amounts, duplicate operators, mode); reads the chain only when every
        input is known (in preview the address book may not be)."""
        from eth_utils import is_address

        failures = []
        for key in ("rpc_url", "chain_id", "operators", "policy", "provisioning"):
            if news.get(key) is None:
                failures.append(CheckFailure(key, f"{key} is required"))
        if failures:
            return CheckResult(news, failures)
        if news["provisioning"] not in PROVISIONING_MODES:
            failures.append(CheckFailure("provisioning", f"{news['provisioning']!r} is not one of {', '.join(PROVISIONING_MODES)}"))
        if news.get("on_remove", "leave") not in ON_REMOVE:
            failures.append(CheckFailure("on_remove", f"{news.get('on_remove')!r} is not one of {', '.join(ON_REMOVE)}"))
        if news["provisioning"] == "cluster" and not news.get("faucet"):
            failures.append(CheckFailure("faucet", "provisioning: cluster needs the faucet's address"))
        failures += policy_failures(news["policy"])
        operators = news["operators"]
        if is_known(operators):
            seen: dict = {}
            for name, address in operators.items():
                if not isinstance(address, str) or not is_address(address):
                    failures.append(CheckFailure(f"operators.{name}", f"{address!r} is not an address"))
                elif address.lower() in seen:
                    failures.append(
                        CheckFailure(
                            f"operators.{name}",
                            f"operator {address} is also client {seen[address.lower()]}'s (expected one key per client)",
                        )
                    )
                else:
                    seen[address.lower()] = name
        if failures or not _computed_known(news):
            return CheckResult(news, failures)
        node, contracts = _session(news)  # the one-line error of an unreachable chain, wrong chain id or a missing contract
        return CheckResult(news, self._conflicts(node, contracts, news))

    def _conflicts(self, node, contracts, news: dict) -> list:
        """A delegation keep-cd cannot complete (undelegated, another owner's), as a check failure:
        a preview or an up stops on it with one line per operator before anything is sent."""
        from .errors import StakingConflict
        from .staking import assess

        owner = self._deployer_address()
        if not int(owner, 16):
            return []  # a keyless preview cannot tell whose a stake is; its diff shows the change
        try:
            assess(
                node,
                contracts,
                news["operators"],
                owner,
                fleet_policy(news["policy"]),
                provisioning=news["provisioning"],
                faucet=news.get("faucet"),
            )
        except StakingConflict as e:
            # On the operator's own key, never on ``operators``: the engine would print that whole map.
            return [CheckFailure(f"operators.{e.operator}" if e.operator else "provisioning", str(e))]
        return []

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        """Changes when an input changed or the chain lacks a step (read only; nothing is sent)."""
        from .errors import StakingConflict
        from .staking import assess

        replaces, changed = self.changed_inputs(olds, news)
        pending: list = []
        if not replaces and not changed and _computed_known(news):
            node, contracts = _session(news)
            try:
                pending = assess(
                    node,
                    contracts,
                    news["operators"],
                    self._deployer_address(olds.get("owner")),
                    fleet_policy(news["policy"]),
                    provisioning=news["provisioning"],
                    faucet=news.get("faucet"),
                )
            except StakingConflict as e:
                # Drift keep-cd cannot repair is a change, not a failure of the diff: `pulumi
                # refresh` records it; check() stops the next preview or up on it, in one line.
                pending = [str(e)]
        return self.diff_result(replaces, changed, pending)

    def _run(self, olds: dict | None, news: dict) -> dict:
        from .staking import reconcile_fleet, supply_faucet

        account = self._account()
        node, contracts = _session(news)
        policy = fleet_policy(news["policy"])
        operators = dict(news["operators"])
        if news["provisioning"] == "cluster":
            status, report = supply_faucet(node, account, contracts, operators, news["faucet"], policy, log=pulumi.log.info)
        else:
            removed = {n: a for n, a in ((olds or {}).get("operators") or {}).items() if n not in operators}
            status, report = reconcile_fleet(
                node,
                account,
                contracts,
                operators,
                policy,
                removed=removed,
                on_remove=news.get("on_remove", "leave"),
                log=pulumi.log.info,
            )
        result = dict(news)
        result.update(owner=account.address, status=status, staking_contract=contracts.staking, last_run=report.as_dict())
        return result

    def _resource_id(self, props: dict) -> str:
        return f"operators@{int(props['chain_id'])}"

    def read(self, id_: str, props: dict) -> ReadResult:
        """``pulumi refresh``: each operator's stake, authorization and balance read again, so an
        operator unstaked, deauthorized or drained out of band shows as drift in ``status``."""
        from .staking import operator_status, read_fleet

        operators = dict(props.get("operators") or {})
        if props.get("status") is None or not operators or not _computed_known(props):
            return ReadResult(id_, props)
        node, contracts = _session(props)
        view = read_fleet(node, contracts, list(operators.values()), props.get("owner") or self._deployer_address())
        return ReadResult(id_, {**props, "status": operator_status(view, operators)})

    def delete(self, _id: str, props: dict) -> None:
        """The fleet is gone: with ``on_remove: undelegate`` its stakes are undelegated (the owner
        can recover the KEEP with ``TokenStaking.recoverStake`` after the undelegation period);
        with ``leave`` they stay staked and nothing is sent."""
        from .staking import reconcile_fleet

        if props.get("on_remove") != "undelegate" or props.get("provisioning") == "cluster":
            return None
        try:
            node, contracts = _session(props)
        except Exception as e:  # the chain or the contracts are gone: nothing left to undelegate
            pulumi.log.warn(f"operator stakes: not undelegated ({e})")
            return None
        reconcile_fleet(
            node,
            self._account(),
            contracts,
            {},
            fleet_policy(props["policy"]),
            removed=dict(props.get("operators") or {}),
            on_remove="undelegate",
            log=pulumi.log.info,
        )
        return None


@dataclass
class OperatorStakesArgs:
    rpc_url: str
    chain_id: int
    address_book: Any  # Input[dict]: the contracts step's address book
    operators: Any  # Input[dict]: client name -> operator address
    eth_threshold: int
    eth_target: int
    stake_amount: int | None = None  # None: TokenStaking.minimumStake() at run time
    beneficiary: str = "operator"
    provisioning: str = "deploy"
    faucet: Any = None  # Input[str]: the faucet's address, provisioning: cluster
    on_remove: str = "leave"
    contract_names: dict = field(default_factory=lambda: dict(STAKING_CONTRACT_NAMES))


class OperatorStakes(Resource, module="keep", name="OperatorStakes"):
    """Every operator of a fleet funded, staked and authorized (or, in cluster mode, the faucet supplied)."""

    status: pulumi.Output[dict]
    owner: pulumi.Output[str]
    staking_contract: pulumi.Output[str]
    last_run: pulumi.Output[dict]

    def __init__(self, name: str, args: OperatorStakesArgs, opts: pulumi.ResourceOptions | None = None):
        names = dict(args.contract_names)
        props = {
            "rpc_url": args.rpc_url,
            "chain_id": int(args.chain_id),
            "contract_names": names,
            # Only the contracts staking uses: a redeploy of anything else changes nothing here.
            "address_book": pulumi.Output.from_input(args.address_book).apply(
                lambda book: None if book is None else {n: book.get(n) for n in names.values()}
            ),
            "operators": args.operators,
            "policy": {
                "eth_threshold": str(args.eth_threshold),
                "eth_target": str(args.eth_target),
                "stake_amount": "minimum" if args.stake_amount is None else str(args.stake_amount),
                "beneficiary": args.beneficiary,
            },
            "provisioning": args.provisioning,
            "faucet": args.faucet,
            "on_remove": args.on_remove,
            **{k: None for k in OUTPUT_KEYS},
        }
        super().__init__(OperatorStakesProvider(), name, props, opts)
