"""The one operator-provisioning policy: from what the chain says about an operator, what it still
needs.  Used by the deploy step (operators/staking.py), the provisioning init container
(initcontainer/provision_operator.py) and the check init container (initcontainer/operator_check.py),
so the three cannot disagree on when an operator is funded, staked or authorized.

    fund       its ETH balance is below ``eth_threshold``: top it up to exactly ``eth_target``
    stake      TokenStaking has no delegation for it: stake ``stake_amount`` (None: the contract's
               ``minimumStake()``; never less than that)
    authorize  it is not authorized for the operator contract (one staked in the same run is not yet)

and nothing once it holds all three.  Two states no action can fix are conflicts, not needs: a stake
that was undelegated (an undelegated operator cannot be staked again), and a missing authorization
that only another account (its authorizer) could give.

Pure: no chain client, no Pulumi, no I/O.  Callers read the chain (``OperatorOnChain``) and send
what ``decide`` returns, each its own way; the image copies this package (initcontainer/Dockerfile),
so it imports only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FUND, STAKE, AUTHORIZE = "fund", "stake", "authorize"
# Why nothing (more) can be done for an operator by the account that would authorize it.
UNDELEGATED, FOREIGN_AUTHORIZER = "undelegated", "foreign-authorizer"
# The policy's fields, as ``PolicyError.field`` names them; callers map them to their own keys
# (stack config, provider inputs, command-line flags).
POLICY_FIELDS = ("eth_threshold", "eth_target", "stake_amount")


class PolicyError(ValueError):
    """A policy value no operator can be provisioned with: ``field`` (one of ``POLICY_FIELDS``) and,
    in ``reason``, what is wrong and what was expected.  The message is ``<name>: <reason>``, with
    the caller's name for the field."""

    def __init__(self, field: str, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.field = field
        self.name = name
        self.reason = reason


def positive_amount(value: Any) -> int | None:
    """A positive whole amount (wei, KEEP base units) from an int, a float that is whole, or a
    decimal string (amounts travel as strings: JSON's and Pulumi's numbers are float64, which
    cannot hold 10**22 exactly); None for anything else, zero and negatives included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and positive_amount(value) == value


@dataclass(frozen=True)
class OperatorPolicy:
    eth_threshold: int  # wei: fund an operator whose balance is below this...
    eth_target: int  # wei: ...up to exactly this
    stake_amount: int | None = None  # KEEP base units; None: TokenStaking.minimumStake() at run time

    def validate(self, names: dict | None = None) -> OperatorPolicy:
        """Itself, or PolicyError for the first bad field; ``names`` maps a field to the caller's
        name for it (default: the field's own)."""
        name = {f: f for f in POLICY_FIELDS} | (names or {})
        for key in ("eth_threshold", "eth_target"):
            value = getattr(self, key)
            if not _is_positive_int(value):
                raise PolicyError(key, name[key], f"{value!r} is not a positive integer (wei)")
        if self.eth_target < self.eth_threshold:
            raise PolicyError(
                "eth_target",
                name["eth_target"],
                f"{self.eth_target} is below {name['eth_threshold']} {self.eth_threshold} "
                "(expected target >= threshold, or every run would fund again)",
            )
        if self.stake_amount is not None and not _is_positive_int(self.stake_amount):
            raise PolicyError(
                "stake_amount", name["stake_amount"], f'{self.stake_amount!r} is not a positive integer (KEEP base units) or "minimum"'
            )
        return self

    def stake_for(self, minimum_stake: int, names: dict | None = None) -> int:
        """What one operator is staked with where TokenStaking's minimum is ``minimum_stake``."""
        if self.stake_amount is None:
            return minimum_stake
        if self.stake_amount < minimum_stake:
            name = (names or {}).get("stake_amount", "stake_amount")
            raise PolicyError(
                "stake_amount",
                name,
                f'{self.stake_amount} is below TokenStaking.minimumStake() {minimum_stake} (expected at least the minimum, or "minimum")',
            )
        return self.stake_amount

    def needs_funding(self, balance: int) -> bool:
        return balance < self.eth_threshold

    def top_up(self, balance: int) -> int:
        """The wei that brings ``balance`` to exactly the target (what a fund sends)."""
        return self.eth_target - balance


@dataclass(frozen=True)
class OperatorOnChain:
    """What the chain says about one operator (on one TokenStaking, for one operator contract)."""

    balance: int  # wei
    created_at: int  # getDelegationInfo: 0 when TokenStaking has no delegation for it
    undelegated_at: int  # getDelegationInfo: 0 while the delegation is live
    authorizer: str  # authorizerOf (the zero address when not staked)
    authorized: bool  # isAuthorizedForOperator(operator, operator contract)
    amount: int = 0  # getDelegationInfo: what is staked (for messages; nothing is decided from it)

    @property
    def staked(self) -> bool:
        return self.created_at != 0


@dataclass(frozen=True)
class Need:
    kind: str  # FUND | STAKE | AUTHORIZE
    reason: str
    value: int = 0  # wei for FUND, KEEP base units for STAKE


@dataclass(frozen=True)
class Decision:
    needs: tuple = ()  # Need, in the order they must be sent: fund, stake, authorize
    conflict: str | None = None  # UNDELEGATED | FOREIGN_AUTHORIZER: what no action here can fix

    @property
    def kinds(self) -> tuple:
        return tuple(n.kind for n in self.needs)

    def need(self, kind: str) -> Need | None:
        return next((n for n in self.needs if n.kind == kind), None)


def decide(state: OperatorOnChain, policy: OperatorPolicy | None = None, *, stake: int = 0, authorizer: str | None = None) -> Decision:
    """What ``state`` still needs under ``policy``: ``stake`` is the amount a stake sends
    (``policy.stake_for``); ``authorizer`` the account that will authorize it (the deploy step's
    owner, or the operator itself in cluster mode).  A check that sends nothing passes neither a
    policy (funding is not its business) nor an authorizer (nobody here authorizes).

    A conflict does not hide the funding: a caller that funds before it looks at the stake (each
    pod) still may; one that refuses the whole run (the deploy step) refuses it."""
    needs = []
    if policy is not None and policy.needs_funding(state.balance):
        needs.append(Need(FUND, f"balance {state.balance} wei < threshold {policy.eth_threshold}", policy.top_up(state.balance)))
    if not state.staked:
        needs.append(Need(STAKE, "no delegation on this TokenStaking", stake))
        needs.append(Need(AUTHORIZE, "staked in this run"))
        return Decision(tuple(needs))
    if state.undelegated_at:
        return Decision(tuple(needs), UNDELEGATED)
    if not state.authorized:
        if authorizer is not None and state.authorizer.lower() != authorizer.lower():
            return Decision(tuple(needs), FOREIGN_AUTHORIZER)
        needs.append(Need(AUTHORIZE, "staked but not authorized"))
    return Decision(tuple(needs))


def initialized(created_at: int, initialization_period: int, now: int) -> bool:
    """Whether a stake created at ``created_at`` has passed TokenStaking's initialization period at
    chain time ``now`` (before, ``hasMinimumStake`` is false and ``undelegate()`` refuses it)."""
    return now > created_at + initialization_period
