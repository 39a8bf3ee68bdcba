"""Plan resolution: references, cycles, parameters, and content keys that follow dependencies."""

import json
import os

import pytest

from contracts_step.artifacts import ArtifactStore
from contracts_step.errors import ConfigError, PlanError, UnlinkedLibrary
from contracts_step.keep_plan import DEFAULT_PARAMS, keep_plan
from contracts_step.plan import Deploy, MigrationPlan, ref, resolve_plan
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
    assert first.startswith("config planParams.vault:") and expected in first


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


def _store_with_edited(fixture_artifacts, tmp_path, name: str):
    """The truffle fixtures with ``name``'s creation code edited (as a source edit would)."""
    out = tmp_path / "edited"
    out.mkdir()
    for fn in os.listdir(os.path.join(fixture_artifacts, "truffle")):
        data = json.load(open(os.path.join(fixture_artifacts, "truffle", fn)))
        if fn == f"{name}.json":
            data["bytecode"] += "00"
        (out / fn).write_text(json.dumps(data))
    return ArtifactStore(str(out))


def test_a_library_edit_changes_the_key_of_every_contract_that_links_it(fixture_store, fixture_artifacts, tmp_path):
    """Vault links MathLib and Consumer references Vault: editing only the library's code gives
    all three new keys (their bytecode and arguments did not change), and nothing else."""
    plan, params = fixture_plan()
    base = resolve_plan(plan, fixture_store, params)
    edited = resolve_plan(plan, _store_with_edited(fixture_artifacts, tmp_path, "MathLib"), params)
    assert edited.deploys["Vault"].artifact.bytecode_hash == base.deploys["Vault"].artifact.bytecode_hash
    changed = {n for n in base.deploys if base.deploys[n].content_key != edited.deploys[n].content_key}
    assert changed == {"MathLib", "Vault", "Consumer"}
    assert base.calls["Registry.approve"].content_key != edited.calls["Registry.approve"].content_key


def test_constructor_arguments_are_in_the_content_key(fixture_store):
    plan, params = fixture_plan()
    token = next(d for d in plan.deploys if d.name == "Token")
    base = resolve_plan(plan, fixture_store, params)
    token.args = [999]
    assert resolve_plan(plan, fixture_store, params).deploys["Token"].content_key != base.deploys["Token"].content_key


def test_renew_with_puts_the_renewed_contracts_arguments_in_the_key(fixture_store):
    """Escrow renews with Vault without referencing it: Vault's constructor argument (limit) changes
    Escrow's key too, and its own bytecode and arguments do not."""
    plan, params = fixture_plan()
    plan.deploys.append(Deploy("Escrow", artifact="Registry", renew_with=["Vault"]))
    base = resolve_plan(plan, fixture_store, params)
    changed = resolve_plan(plan, fixture_store, {**params, "limit": 22})
    assert base.deploys["Escrow"].deps == []
    assert base.deploys["Escrow"].content_key != changed.deploys["Escrow"].content_key
    assert base.deploys["Escrow"].content_key != base.deploys["Registry"].content_key  # same artifact, renewed


def test_libraries_are_deployed_first_whatever_the_plan_order(fixture_store):
    plan, params = fixture_plan()
    plan.deploys.reverse()  # Consumer, Vault, Registry, Token, MathLib
    resolved = resolve_plan(plan, fixture_store, params)
    order = list(resolved.deploys)
    assert "MathLib" in resolved.deploys["Vault"].deps
    for step in resolved.deploys.values():
        for dep in step.deps:
            assert order.index(dep) < order.index(step.name), (dep, step.name, order)
    assert order.index("MathLib") < order.index("Vault")
