"""Plan resolution: references, cycles, parameters, and content keys that follow dependencies."""

import json
import os

import pytest

from contracts_step.artifacts import ArtifactStore
from contracts_step.errors import ConfigError, PlanError, UnlinkedLibrary
from contracts_step.keep_plan import DEFAULT_PARAMS, keep_plan
from contracts_step.plan import Call, Deploy, MigrationPlan, ref, resolve_plan
from contracts_step.plans import load_plan

FIXTURE_PLAN = os.path.join(os.path.dirname(__file__), "fixtures", "fixture_plan.json")


@pytest.fixture
def fixture_store(fixture_artifacts):
    return ArtifactStore(os.path.join(fixture_artifacts, "truffle"))


def fixture_plan():
    return load_plan(FIXTURE_PLAN)


def test_keep_plan_shape(keep_artifacts):
    resolved = resolve_plan(keep_plan(), ArtifactStore(keep_artifacts), DEFAULT_PARAMS)
    assert len(resolved.deploys) == 26
    assert len(resolved.calls) == 6
    order = list(resolved.deploys)
    for step in resolved.deploys.values():
        for dep in step.deps:
            assert order.index(dep) < order.index(step.name), (dep, step.name)
    assert set(resolved.deploys["KeepRandomBeaconService"].deps) == {"KeepRandomBeaconServiceImplV1", "KeepRegistry"}
    # ModUtils -> AltBn128 -> BLS -> Groups -> KeepRandomBeaconOperator -> … the longest chain,
    # plus one level for the post-deploy calls.
    assert resolved.depth == 7


def test_content_key_changes_with_dependencies_only(fixture_store):
    plan, params = fixture_plan()
    base = resolve_plan(plan, fixture_store, params)
    changed = resolve_plan(plan, fixture_store, {**params, "limit": 22})
    same = {n for n in base.deploys if base.deploys[n].content_key == changed.deploys[n].content_key}
    assert same == {"MathLib", "Token", "Registry"}
    assert base.deploys["Vault"].args_hash != changed.deploys["Vault"].args_hash
    # Consumer's own arguments did not change by name; only its dependency did.
    assert base.deploys["Consumer"].args_hash == changed.deploys["Consumer"].args_hash
    assert base.calls["Registry.approve"].content_key != changed.calls["Registry.approve"].content_key


def test_unknown_reference_is_named(fixture_store):
    plan, params = fixture_plan()
    plan.deploys[4].args = [ref("Vaullt")]
    with pytest.raises(PlanError, match=r"plan fixture: contract Consumer: argument references unknown contract 'Vaullt'"):
        resolve_plan(plan, fixture_store, params)


def test_cycle_is_named(fixture_store):
    plan = MigrationPlan(
        name="loop",
        deploys=[Deploy("Consumer", args=[ref("Vault")]), Deploy("Vault", artifact="Consumer", args=[ref("Consumer")])],
    )
    with pytest.raises(PlanError, match=r"plan loop: dependency cycle Consumer -> Vault -> Consumer"):
        resolve_plan(plan, fixture_store, {})


def test_missing_library_deploy(fixture_store):
    plan, params = fixture_plan()
    plan.deploys = [d for d in plan.deploys if d.name != "MathLib"]
    with pytest.raises(UnlinkedLibrary, match=r"contract Vault: library MathLib .* is not deployed by plan fixture"):
        resolve_plan(plan, fixture_store, params)


def test_missing_parameter(fixture_store):
    plan, params = fixture_plan()
    del params["limit"]
    with pytest.raises(ConfigError, match=r"contract Vault: needs plan parameter 'limit'"):
        resolve_plan(plan, fixture_store, params)


def test_wrong_argument_count(fixture_store):
    plan, params = fixture_plan()
    plan.deploys[1].args = []
    with pytest.raises(PlanError, match=r"contract Token: 0 constructor arguments given, artifact Token expects 1"):
        resolve_plan(plan, fixture_store, params)


@pytest.mark.parametrize(
    "value,expected",
    [("0x1234", "is not an Ethereum address"), ("0x000000000000000000000000000000000000DEAD".replace("DEAD", "dEAd"), "wrong EIP-55 checksum")],
)
def test_malformed_address_parameter(fixture_store, value, expected):
    plan = MigrationPlan(name="addr", deploys=[Deploy("Consumer", args=[{"config": "vault"}])])
    with pytest.raises(ConfigError) as e:
        resolve_plan(plan, fixture_store, {"vault": value})
    first = str(e.value).splitlines()[0]
    assert first.startswith("config keep-cd:planParams.vault:") and expected in first


@pytest.mark.parametrize(
    "value,expected",
    [
        ("abc", "'abc' is not a uint256 (expected an integer from 0 to "),
        (-1, "-1 is not a uint256"),
        (1.5, "1.5 is not a uint256"),
        (True, "True is not a uint256"),
        (2**256, "is not a uint256"),
        ([21], "[21] is not a uint256"),
    ],
)
def test_plan_parameter_of_the_wrong_type_names_its_key(fixture_store, value, expected):
    plan, params = fixture_plan()
    with pytest.raises(ConfigError) as e:
        resolve_plan(plan, fixture_store, {**params, "limit": value})
    first = str(e.value).splitlines()[0]
    assert first.startswith("config keep-cd:planParams.limit: ") and expected in first


@pytest.mark.parametrize("value", [21, "21", 21.0, str(2**256 - 1)])
def test_plan_parameter_of_the_right_type_passes_unchanged(fixture_store, value):
    plan, params = fixture_plan()
    assert resolve_plan(plan, fixture_store, {**params, "limit": value}).params["limit"] in (value, int(value))


@pytest.mark.parametrize(
    "abi_t,value,expected",
    [
        ("bool", "true", "is not a bool (expected true or false)"),
        ("bytes32", "0x1234", "is not a bytes32 (expected 0x + 64 hex digits)"),
        ("bytes", "0x123", "is not a bytes (expected 0x + an even number of hex digits)"),
        ("string", 5, "is not a string"),
        ("int8", 128, "is not a int8 (expected an integer from -128 to 127"),
        ("address[]", "0x" + "11" * 20, "is not a address[] (expected a list of any number of address values)"),
        ("uint256[2]", [1], "is not a uint256[2]"),
        ("address[]", ["0x1234"], "config k[0]: '0x1234' is not an Ethereum address"),
    ],
)
def test_parameter_types(abi_t, value, expected):
    from contracts_step.plan import param_value

    with pytest.raises(ConfigError) as e:
        param_value(abi_t, value, "k")
    assert expected in str(e.value).splitlines()[0]


def test_parameter_inside_calldata_is_checked_against_the_called_function(keep_artifacts):
    """dkgContributionMargin travels inside the calldata of KeepRandomBeaconServiceImplV1.initialize
    (the proxy's constructor takes it as bytes): it is checked as that function's uint256."""
    with pytest.raises(ConfigError) as e:
        resolve_plan(keep_plan(), ArtifactStore(keep_artifacts), {**DEFAULT_PARAMS, "dkgContributionMargin": "one"})
    assert str(e.value).startswith("config keep-cd:planParams.dkgContributionMargin: 'one' is not a uint256")


def test_call_parameter_is_checked(fixture_store):
    plan = MigrationPlan(
        name="call", deploys=[Deploy("Token", args=[1])],
        calls=[Call("Token.transferOwnership", "Token", "transferOwnership", [{"config": "owner"}])],
    )
    with pytest.raises(ConfigError, match=r"^config keep-cd:planParams.owner: 7 is not an Ethereum address"):
        resolve_plan(plan, fixture_store, {"owner": 7})


def test_plan_file_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"config contractsPlan: plan file .*nope.json not found"):
        load_plan(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"deploys": []}))
    with pytest.raises(PlanError, match=r"plan file .*bad.json: not a migration plan"):
        load_plan(str(bad))
    with pytest.raises(ConfigError, match=r"neither a built-in plan"):
        load_plan("kep")


def test_plan_round_trips_as_data():
    plan = keep_plan()
    assert MigrationPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_big_integers_survive_pulumi_serialization(fixture_store):
    """Pulumi carries numbers as doubles; a token amount in base units must arrive exact."""
    from pulumi.runtime import rpc
    from pulumi.runtime.sync_await import _sync_await

    from contracts_step.plan import ArgEncoder

    plan = MigrationPlan(name="big", deploys=[Deploy("Token", args=[10**24 + 1])])
    wire = _sync_await(rpc.serialize_properties({"plan": plan.to_dict(), "params": {}}, {}))
    back = MigrationPlan.from_dict(rpc.deserialize_properties(wire)["plan"])
    resolved = resolve_plan(back, fixture_store, {})
    token = resolved.deploys["Token"]
    encoded = ArgEncoder(fixture_store, back, {}).encode_values(token.arg_types, token.args, {}, "0x" + "00" * 20, "t")
    assert int.from_bytes(encoded, "big") == 10**24 + 1
    assert token.content_key == resolve_plan(plan, fixture_store, {}).deploys["Token"].content_key
