"""The one operator-provisioning policy (keep_contracts/provisioning.py), on its own: from chain
state to what an operator still needs, with no chain.  The deploy step and both init containers
act on its answers (tests/test_operator_staking.py, tests/test_initcontainer_operator.py)."""

from __future__ import annotations

import pytest

from keep_contracts.provisioning import (
    AUTHORIZE,
    FOREIGN_AUTHORIZER,
    FUND,
    STAKE,
    UNDELEGATED,
    OperatorOnChain,
    OperatorPolicy,
    PolicyError,
    decide,
    initialized,
    positive_amount,
)

OWNER = "0x" + "aa" * 20
OTHER = "0x" + "bb" * 20
ZERO = "0x" + "00" * 20
POLICY = OperatorPolicy(eth_threshold=100, eth_target=1_000)
STAKE_AMOUNT = 7_000


def on_chain(balance=5_000, created_at=1, undelegated_at=0, authorizer=OWNER, authorized=True) -> OperatorOnChain:
    return OperatorOnChain(balance, created_at, undelegated_at, authorizer, authorized)


def needs(state: OperatorOnChain, authorizer: str | None = OWNER) -> list:
    d = decide(state, POLICY, stake=STAKE_AMOUNT, authorizer=authorizer)
    return [(n.kind, n.value) for n in d.needs] + ([("conflict", d.conflict)] if d.conflict else [])


@pytest.mark.parametrize(
    "state,expected",
    [
        # Provisioned: nothing, whatever the balance above the threshold.
        (on_chain(), []),
        (on_chain(balance=100), []),  # at the threshold is not below it
        # Each action alone.
        (on_chain(balance=99), [(FUND, 901)]),  # just below: exactly to the target
        (on_chain(balance=0), [(FUND, 1_000)]),
        (on_chain(authorized=False), [(AUTHORIZE, 0)]),
        # Not staked: stake, then authorize (the same run's stake is not authorized yet).
        (on_chain(created_at=0, authorizer=ZERO, authorized=False), [(STAKE, STAKE_AMOUNT), (AUTHORIZE, 0)]),
        # A fresh operator: all three, in the order they must be sent.
        (on_chain(balance=0, created_at=0, authorizer=ZERO, authorized=False), [(FUND, 1_000), (STAKE, STAKE_AMOUNT), (AUTHORIZE, 0)]),
        # Conflicts: no stake sent again, no authorization the authorizer here cannot give.
        (on_chain(undelegated_at=50), [("conflict", UNDELEGATED)]),
        (on_chain(undelegated_at=50, authorized=False), [("conflict", UNDELEGATED)]),
        (on_chain(authorizer=OTHER, authorized=False), [("conflict", FOREIGN_AUTHORIZER)]),
        # ...and funding still shows beside one (a pod funds before it looks at the stake).
        (on_chain(balance=0, undelegated_at=50), [(FUND, 1_000), ("conflict", UNDELEGATED)]),
        # Someone else's authorizer is no conflict once the operator is authorized.
        (on_chain(authorizer=OTHER, authorized=True), []),
    ],
)
def test_decide_names_exactly_what_is_missing(state, expected):
    assert needs(state) == expected


def test_authorizer_compares_addresses_not_their_spelling():
    assert needs(on_chain(authorizer=OWNER.upper().replace("0X", "0x"), authorized=False)) == [(AUTHORIZE, 0)]


def test_a_check_with_no_authorizer_sees_a_missing_authorization_as_a_need():
    """operator_check authorizes nothing: an operator staked by anyone and not authorized needs authorizing."""
    assert needs(on_chain(authorizer=OTHER, authorized=False), authorizer=None) == [(AUTHORIZE, 0)]


def test_a_check_without_a_policy_is_not_told_to_fund():
    """operator_check reads no thresholds: a poor, provisioned operator is ready as far as it can tell."""
    assert decide(on_chain(balance=0)).needs == ()
    assert decide(on_chain(balance=0, created_at=0, authorizer=ZERO, authorized=False)).kinds == (STAKE, AUTHORIZE)


def test_decision_lookup_by_kind():
    d = decide(on_chain(balance=10, created_at=0, authorized=False), POLICY, stake=STAKE_AMOUNT, authorizer=OWNER)
    assert d.kinds == (FUND, STAKE, AUTHORIZE)
    fund = d.need(FUND)
    assert fund is not None and fund.value == 990 and "10 wei < threshold 100" in fund.reason
    assert decide(on_chain(), POLICY, stake=STAKE_AMOUNT, authorizer=OWNER).need(FUND) is None


def test_stake_amount_is_the_minimum_or_at_least_it():
    assert OperatorPolicy(1, 2).stake_for(500) == 500
    assert OperatorPolicy(1, 2, stake_amount=600).stake_for(500) == 600
    assert OperatorPolicy(1, 2, stake_amount=500).stake_for(500) == 500
    with pytest.raises(PolicyError) as e:
        OperatorPolicy(1, 2, stake_amount=499).stake_for(500, {"stake_amount": "--stake-amount"})
    assert e.value.field == "stake_amount" and str(e.value).startswith("--stake-amount: 499 is below TokenStaking.minimumStake() 500")


@pytest.mark.parametrize(
    "policy,field,needle",
    [
        (OperatorPolicy(0, 10), "eth_threshold", "0 is not a positive integer (wei)"),
        (OperatorPolicy(-1, 10), "eth_threshold", "-1 is not a positive integer"),
        (OperatorPolicy(True, 10), "eth_threshold", "True is not a positive integer"),
        (OperatorPolicy(1.0, 10), "eth_threshold", "1.0 is not a positive integer"),  # type: ignore[arg-type]  # a float where an int belongs: its refusal is the test
        (OperatorPolicy(1, 0), "eth_target", "0 is not a positive integer"),
        (OperatorPolicy(10, 9), "eth_target", "9 is below eth_threshold 10"),
        (OperatorPolicy(1, 2, stake_amount=0), "stake_amount", 'is not a positive integer (KEEP base units) or "minimum"'),
        (OperatorPolicy(1, 2, stake_amount=-5), "stake_amount", "-5 is not"),
    ],
)
def test_a_bad_policy_names_its_field(policy, field, needle):
    with pytest.raises(PolicyError) as e:
        policy.validate()
    assert e.value.field == field and needle in str(e.value)


def test_a_good_policy_validates_and_names_fields_the_callers_way():
    assert OperatorPolicy(10, 10).validate() == OperatorPolicy(10, 10)  # target may equal threshold
    assert OperatorPolicy(1, 2, stake_amount=3).validate().stake_amount == 3
    with pytest.raises(PolicyError) as e:
        OperatorPolicy(10, 9).validate({"eth_threshold": "ethThreshold", "eth_target": "ethTarget"})
    assert str(e.value).startswith("ethTarget: 9 is below ethThreshold 10")


@pytest.mark.parametrize(
    "value,expected",
    [
        (1, 1),
        (10**22, 10**22),
        ("10000000000000000000000", 10**22),
        (5.0, 5),
        (0, None),
        (-3, None),
        ("0", None),
        ("-1", None),
        ("1.5", None),
        ("", None),
        ("x", None),
        ("²", None),  # a digit to str.isdigit, not to int()
        (1.5, None),
        (0.0, None),
        (True, None),
        (None, None),
    ],
)
def test_positive_amount(value, expected):
    assert positive_amount(value) == expected


def test_a_stake_is_initialized_only_after_its_period():
    assert not initialized(created_at=100, initialization_period=10, now=100)
    assert not initialized(created_at=100, initialization_period=10, now=110)
    assert initialized(created_at=100, initialization_period=10, now=111)
