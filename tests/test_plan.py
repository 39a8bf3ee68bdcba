"""Plan resolution: references, cycles, parameters, and content keys that follow dependencies."""

import json
import os

import pytest

from chain.errors import ConfigError, PlanError, UnlinkedLibrary
from contracts_step.artifacts import ArtifactStore
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
    for deploy in resolved.deploys.values():
        for dep in deploy.deps:
            assert order.index(dep) < order.index(deploy.name), (dep, deploy.name)
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
    [
        ("0x1234", "is not an Ethereum address"),
        ("0x000000000000000000000000000000000000DEAD".replace("DEAD", "dEAd"), "wrong EIP-55 checksum"),
    ],
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
        name="call",
        deploys=[Deploy("Token", args=[1])],
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
    """Pulumi carries numbers as doubles; a token amount in base units must arrive exact.  The plan
    goes to a resource under the SDK's public mocks: what the mocks receive has crossed the wire
    (serialized to the engine's protobuf Struct and read back), as a dynamic resource's inputs do."""
    import pulumi

    from contracts_step.plan import ArgEncoder
    from pulumi_mocks import Recorder, run_program

    plan = MigrationPlan(name="big", deploys=[Deploy("Token", args=[10**24 + 1])])

    def program():
        return pulumi.CustomResource("test:index:Plan", "plan", {"plan": plan.to_dict(), "params": {}}).urn

    (wire,) = run_program(Recorder(), program).resources
    assert float(10**24 + 1) != 10**24 + 1  # a double would lose it
    back = MigrationPlan.from_dict(wire.inputs["plan"])
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
    for deploy in resolved.deploys.values():
        for dep in deploy.deps:
            assert order.index(dep) < order.index(deploy.name), (dep, deploy.name, order)
    assert order.index("MathLib") < order.index("Vault")


# --- arguments as the chain gets them ----------------------------------------------------------------

from eth_abi import encode as abi_encode  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402

from contracts_step.plan import ArgEncoder, abi_type, calldata, config, validate_address  # noqa: E402

DEPLOYER_LOWER = "0x" + "d0" * 19 + "0e"
BOOK_LOWER = {"Token": "0x" + "a1" * 20, "Registry": "0x" + "b2" * 20, "Vault": "0x" + "c3" * 20, "Consumer": "0x" + "e4" * 20}


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def test_references_become_checksummed_addresses_and_parameters_their_values(fixture_store):
    plan, params = fixture_plan()
    enc = ArgEncoder(fixture_store, plan, params)
    assert enc.value({"contract": "Vault"}, BOOK_LOWER, DEPLOYER_LOWER) == to_checksum_address(BOOK_LOWER["Vault"])
    assert enc.value({"deployer": True}, BOOK_LOWER, DEPLOYER_LOWER) == to_checksum_address(DEPLOYER_LOWER)
    assert enc.value({"config": "limit"}, BOOK_LOWER, DEPLOYER_LOWER) == 21
    assert enc.value([7, {"contract": "Token"}, [{"config": "limit"}]], BOOK_LOWER, DEPLOYER_LOWER) == [
        7,
        to_checksum_address(BOOK_LOWER["Token"]),
        [21],
    ]
    assert enc.value("0x1234", BOOK_LOWER, DEPLOYER_LOWER) == "0x1234"


def test_constructor_arguments_encode_as_the_abi_says(fixture_store):
    plan, params = fixture_plan()
    resolved = resolve_plan(plan, fixture_store, params)
    vault = resolved.deploys["Vault"]
    enc = ArgEncoder(fixture_store, plan, resolved.params)
    got = enc.encode_values(vault.arg_types, vault.args, BOOK_LOWER, DEPLOYER_LOWER, "contract Vault")
    assert got == abi_encode(["address", "address", "uint256"], [BOOK_LOWER["Token"], BOOK_LOWER["Registry"], 21])


def test_a_call_and_a_calldata_argument_are_selector_plus_arguments(fixture_store):
    plan, params = fixture_plan()
    resolved = resolve_plan(plan, fixture_store, params)
    enc = ArgEncoder(fixture_store, plan, resolved.params)
    approve = resolved.calls["Registry.approve"]
    expected = selector("approve(address)") + abi_encode(["address"], [BOOK_LOWER["Consumer"]])
    assert enc.encode_call(approve.fn_abi, approve.args, BOOK_LOWER, DEPLOYER_LOWER) == expected
    # The same, as an argument: {"calldata": …} encodes the call of a plan contract's function.
    arg = calldata("Registry", "approve", {"contract": "Consumer"})
    assert enc.value(arg, BOOK_LOWER, DEPLOYER_LOWER) == expected
    assert enc.value(calldata("Token", "transferOwnership", {"deployer": True}), BOOK_LOWER, DEPLOYER_LOWER) == (
        selector("transferOwnership(address)") + abi_encode(["address"], [DEPLOYER_LOWER])
    )


def test_the_keep_service_proxy_gets_its_initialize_calldata(keep_artifacts):
    """KeepRandomBeaconService(implementation, initialize(dkgContributionMargin, registry) calldata)."""
    store = ArtifactStore(keep_artifacts)
    resolved = resolve_plan(keep_plan(), store, {**DEFAULT_PARAMS, "dkgContributionMargin": 7})
    service = resolved.deploys["KeepRandomBeaconService"]
    book = {n: "0x" + f"{i + 1:040x}" for i, n in enumerate(resolved.deploys)}
    enc = ArgEncoder(store, keep_plan(), resolved.params)
    init = selector("initialize(uint256,address)") + abi_encode(["uint256", "address"], [7, book["KeepRegistry"]])
    assert service.arg_types == ["address", "bytes"]
    got = enc.encode_values(service.arg_types, service.args, book, DEPLOYER_LOWER, "contract KeepRandomBeaconService")
    assert got == abi_encode(["address", "bytes"], [book["KeepRandomBeaconServiceImplV1"], init])


@pytest.mark.parametrize(
    "abi_t,value,expected",
    [
        ("uint256", "1000000000000000000000001", 10**24 + 1),  # decimal strings: amounts beyond a double
        ("int128", "-5", -5),
        ("uint256", 12, 12),
        ("bytes", "0xabcd", b"\xab\xcd"),
        ("bytes32", "ab" * 32, bytes.fromhex("ab" * 32)),
        ("address", "0x" + "ab" * 20, "0x" + "ab" * 20),
    ],
)
def test_string_arguments_are_read_as_their_abi_type(fixture_store, abi_t, value, expected):
    enc = ArgEncoder(fixture_store, MigrationPlan("t", []), {})
    assert enc.encode_values([abi_t], [value], {}, DEPLOYER_LOWER, "t") == abi_encode([abi_t], [expected])


def test_arguments_that_do_not_encode_are_named(fixture_store):
    enc = ArgEncoder(fixture_store, MigrationPlan("t", []), {})
    with pytest.raises(PlanError) as e:
        enc.encode_values(["uint8"], [300], {}, DEPLOYER_LOWER, "contract Guarded")
    first = str(e.value).splitlines()[0]
    assert first.startswith("contract Guarded: arguments [300] do not encode as ['uint8']")


@pytest.mark.parametrize(
    "inp,expected",
    [
        ({"type": "uint256"}, "uint256"),
        ({"type": "tuple", "components": [{"type": "address"}, {"type": "uint8"}]}, "(address,uint8)"),
        ({"type": "tuple[]", "components": [{"type": "bytes32"}]}, "(bytes32)[]"),
        (
            {"type": "tuple[2]", "components": [{"type": "tuple", "components": [{"type": "bool"}]}, {"type": "string"}]},
            "((bool),string)[2]",
        ),
    ],
)
def test_abi_types_spell_tuples_as_their_components(inp, expected):
    assert abi_type(inp) == expected


def test_addresses_in_config_are_checked_and_checksummed():
    lower = "0x" + "ab" * 20
    assert validate_address(lower, "planParams.x") == to_checksum_address(lower)
    assert validate_address(lower.upper().replace("0X", "0x"), "planParams.x") == to_checksum_address(lower)
    assert validate_address(to_checksum_address(lower), "planParams.x") == to_checksum_address(lower)
    for bad, why in ((12, "is not an Ethereum address"), ("0x" + "ab" * 19, "is not an Ethereum address")):
        with pytest.raises(ConfigError, match=rf"^config planParams.x: .* {why} \(expected 0x \+ 40 hex digits\)$"):
            validate_address(bad, "planParams.x")


def _golden_store(directory) -> ArtifactStore:
    """Three hand-written Truffle artifacts: a library, a contract with arguments and functions, and
    one that links the library and takes calldata."""

    def art(name, code, inputs=(), fns=()):
        abi = [{"type": "constructor", "inputs": [{"name": f"a{i}", "type": t} for i, t in enumerate(inputs)]}] if inputs else []
        abi += [
            {"type": "function", "name": n, "inputs": [{"name": f"a{i}", "type": t} for i, t in enumerate(ts)], "outputs": outs}
            for n, ts, outs in fns
        ]
        (directory / f"{name}.json").write_text(
            json.dumps(
                {
                    "contractName": name,
                    "abi": abi,
                    "bytecode": "0x" + code,
                    "deployedBytecode": "0x" + code,
                    "sourcePath": f"contracts/{name}.sol",
                    "networks": {},
                }
            )
        )

    from contracts_step.artifacts import placeholder_for_name

    art("Lib", "6001")
    art("Base", "6002", ("uint256", "address"), [("set", ("uint256",), []), ("value", (), [{"type": "uint256"}])])
    art("User", "60" + placeholder_for_name("contracts/Lib.sol:Lib") + "00", ("address", "bytes"))
    return ArtifactStore(str(directory))


def test_content_keys_are_stable_across_keep_cd_versions(tmp_path):
    """Every stack's state records these keys (and argument and renewal hashes): computing them any
    other way would redeploy every contract of every stack on upgrade, and orphan its rollback
    history.  Recorded from keep-cd; change them only together with a migration of recorded state."""
    from contracts_step.plan import DEPLOYER, Call

    plan = MigrationPlan(
        "golden",
        [
            Deploy("Lib"),
            Deploy("Base", args=[config("n"), DEPLOYER]),
            Deploy("User", args=[ref("Base"), calldata("Base", "set", config("n"))]),
            Deploy("Escrow", artifact="Base", args=[5, ref("Lib")], renew_with=["User"]),
        ],
        [Call("Base.set", "Base", "set", [config("n")], done_when={"function": "value", "args": [], "equals": config("n")})],
    )
    resolved = resolve_plan(plan, _golden_store(tmp_path), {"n": 3})
    assert {n: (s.content_key, s.args_hash, s.renew_hash) for n, s in resolved.deploys.items()} == {
        "Lib": (
            "64e8d1f6753a30a7d6e1787135cb6d8ac292b0917a55087104ad84160f526d2b",
            "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
            "",
        ),
        "Base": (
            "9766c141b22fa4f56e02b090a930aa5ba9ecbb00c1d1c409a9615bdaac37f0ed",
            "1c73779ccd3dd716e3bb6a0caa42e60d1bfd6d80a117978bccb22aff94062980",
            "",
        ),
        "User": (
            "39e089f55f6a90d1bb268cdc24edde2ad55ee268946b7c5b5faacfd11e4bb48c",
            "20bc5d61dc9f1a4013f12cea810291649b925460786a974eeb2332238eb1b01b",
            "",
        ),
        "Escrow": (
            "22bc624156ab59372c7c41dcc00962eb8e841f72c209d4d91c7680d15725b962",
            "e07003d0f16ded4e4960fb71de3053f93c62615a02fce6d7cb706680d8f738ac",
            "17f1d0bba5a8fa6e104205bc5713b66761a8fe61359596e003bf68ee7fed840f",
        ),
    }
    assert resolved.calls["Base.set"].content_key == "5fea026bdbc4b19f2c92de7bd1855513f74beb0d19c75fd141fa79a40073be05"
    assert list(resolved.deploys) == ["Lib", "Base", "User", "Escrow"] and resolved.depth == 3  # User after Lib, then a call
    assert resolved.deploys["User"].deps == ["Lib", "Base"]


# --- resolution, case by case ------------------------------------------------------------------------


def refused_plan(store, plan, params=None, error=PlanError) -> str:
    with pytest.raises(error) as e:
        resolve_plan(plan, store, params or {})
    return str(e.value)


def test_a_call_resolves_to_its_target_function_and_dependencies(fixture_store):
    plan, params = fixture_plan()
    plan.calls.append(
        Call(
            "Token.transferOwnership",
            "Token",
            "transferOwnership",
            [{"contract": "Vault"}],
            done_when={"function": "owner", "args": [], "equals": {"contract": "Consumer"}},
        )
    )
    resolved = resolve_plan(plan, fixture_store, params)
    call = resolved.calls["Token.transferOwnership"]
    token = fixture_store.get("Token")
    assert (call.name, call.target, call.abi_artifact, call.args) == ("Token.transferOwnership", "Token", token, [{"contract": "Vault"}])
    assert call.fn_abi == token.function_abi("transferOwnership", 1) and call.arg_types == ["address"]
    # Its target first, then what its arguments and its done_when view name.
    assert call.deps == ["Token", "Vault", "Consumer"]
    assert call.done_when == {"function": "owner", "args": [], "equals": {"contract": "Consumer"}}
    assert list(resolved.calls) == ["Registry.approve", "Token.transferOwnership"]
    assert resolved.order() == list(resolved.deploys.values()) + list(resolved.calls.values())
    assert resolved.name == "fixture" and resolved.depth == 4  # MathLib/Token/Registry, Vault, Consumer, then the calls
    approve = resolved.calls["Registry.approve"]
    assert approve.deps == ["Registry", "Consumer"]


def test_a_call_through_another_artifacts_abi(fixture_store):
    plan, params = fixture_plan()
    plan.calls = [Call("Vault.approve", "Vault", "approve", [{"contract": "Consumer"}], abi="Registry")]
    call = resolve_plan(plan, fixture_store, params).calls["Vault.approve"]
    assert call.abi_artifact.name == "Registry" and call.target == "Vault" and call.deps == ["Vault", "Consumer"]


def test_depth_without_calls_and_of_an_empty_plan(fixture_store):
    plan, params = fixture_plan()
    plan.calls = []
    assert resolve_plan(plan, fixture_store, params).depth == 3
    assert resolve_plan(MigrationPlan("empty", []), fixture_store, {}).depth == 0


def test_an_address_parameter_is_checksummed_for_constructors_and_calls(fixture_store):
    lower = "0x" + "ab" * 20
    plan = MigrationPlan(
        "addr",
        [Deploy("Registry"), Deploy("Consumer", args=[{"config": "vault"}])],
        [Call("Registry.approve", "Registry", "approve", [{"config": "who"}])],
    )
    resolved = resolve_plan(plan, fixture_store, {"vault": lower, "who": lower.upper().replace("0X", "0x"), "n": 1})
    assert resolved.params == {"vault": to_checksum_address(lower), "who": to_checksum_address(lower), "n": 1}
    message = refused_plan(fixture_store, plan, {"vault": lower, "who": "0x12"}, ConfigError)
    assert message == "config keep-cd:planParams.who: '0x12' is not an Ethereum address (expected 0x + 40 hex digits)"


def test_a_library_provided_by_another_deploy(fixture_store):
    """libraries={name: deploy} links a library deployed under another name (two MathLibs, say)."""
    plan, params = fixture_plan()
    plan.deploys[0] = Deploy("MathLibV2", artifact="MathLib")
    plan.deploys[3].libraries = {"MathLib": "MathLibV2"}
    resolved = resolve_plan(plan, fixture_store, params)
    vault = resolved.deploys["Vault"]
    assert list(vault.libraries.values()) == ["MathLibV2"] and vault.deps[0] == "MathLibV2"


def test_duplicates_are_named(fixture_store):
    plan = MigrationPlan("dup", [Deploy("Token", args=[1]), Deploy("Registry"), Deploy("Registry"), Deploy("Token", args=[2])])
    assert refused_plan(fixture_store, plan) == "plan dup: contract Registry is deployed twice (expected unique names)"
    plan = MigrationPlan(
        "dup",
        [Deploy("Registry"), Deploy("Token", args=[1])],
        [Call("b", "Registry", "approve", [{"contract": "Token"}])] * 2 + [Call("a", "Registry", "approve", [{"contract": "Token"}])] * 2,
    )
    assert refused_plan(fixture_store, plan) == "plan dup: call a appears twice (expected unique names)"


@pytest.mark.parametrize(
    "deploys,calls,message",
    [
        (
            [Deploy("Registry", args=[1])],
            [],
            "plan p: contract Registry: 1 constructor arguments given, artifact Registry expects 0 (none)",
        ),
        (
            [Deploy("Vault", args=[1])],
            [],
            "plan p: contract Vault: 1 constructor arguments given, artifact Vault expects 3 (address token_, address registry_, uint256 limit_)",
        ),
        (
            [Deploy("Registry"), Deploy("Escrow", artifact="Registry", renew_with=["Nope"])],
            [],
            "plan p: contract Escrow: renew_with names unknown contract 'Nope' (expected one of the plan's deploys)",
        ),
        (
            [Deploy("Registry")],
            [Call("x", "Nope", "approve", [])],
            "plan p: call x: target references unknown contract 'Nope' (expected one of the plan's deploys)",
        ),
        (
            [Deploy("Registry")],
            [Call("x", "Registry", "approve", [{"contract": "Nope"}])],
            "plan p: call x: argument references unknown contract 'Nope' (expected one of the plan's deploys)",
        ),
        (
            [Deploy("Registry")],
            [
                Call(
                    "x",
                    "Registry",
                    "approve",
                    [{"deployer": True}],
                    done_when={"function": "approved", "args": [{"contract": "Nope"}], "equals": True},
                )
            ],
            "plan p: call x: argument references unknown contract 'Nope' (expected one of the plan's deploys)",
        ),
        (
            [Deploy("Registry")],
            [
                Call(
                    "x",
                    "Registry",
                    "approve",
                    [{"deployer": True}],
                    done_when={"function": "approved", "args": [{"deployer": True}], "equals": {"contract": "Gone"}},
                )
            ],
            "plan p: call x: argument references unknown contract 'Gone' (expected one of the plan's deploys)",
        ),
        (
            [Deploy("Registry")],
            [Call("x", "Registry", "approve", [{"weird": 1}])],
            "plan p: call x: argument {'weird': 1} is not a literal or a reference (contract/config/deployer/calldata)",
        ),
        (
            [Deploy("Consumer", args=[{"contract": "Vault", "extra": 1}])],
            [],
            "plan p: contract Consumer: argument {'contract': 'Vault', 'extra': 1} is not a literal or a reference (contract/config/deployer/calldata)",
        ),
    ],
)
def test_plan_errors_are_named_in_their_whole_line(fixture_store, deploys, calls, message):
    assert refused_plan(fixture_store, MigrationPlan("p", deploys, calls)) == message


@pytest.mark.parametrize(
    "deploys,calls,message",
    [
        (
            [
                Deploy("Registry"),
                Deploy("Consumer", args=[{"calldata": {"contract": "Registry", "function": "approve", "args": [{"config": "who"}]}}]),
            ],
            [],
            "plan p: contract Consumer: needs plan parameter 'who', which is not set (expected keep-cd:planParams.who in stack config, or a default in the plan)",
        ),
        (
            [Deploy("Registry")],
            [Call("x", "Registry", "approve", [{"config": "who"}])],
            "plan p: call x: needs plan parameter 'who', which is not set (expected keep-cd:planParams.who in stack config, or a default in the plan)",
        ),
        (
            [Deploy("Registry"), Deploy("Consumer", args=[[{"config": "who"}]])],
            [],
            "plan p: contract Consumer: needs plan parameter 'who', which is not set (expected keep-cd:planParams.who in stack config, or a default in the plan)",
        ),
    ],
)
def test_missing_parameters_are_found_wherever_they_are_used(fixture_store, deploys, calls, message):
    assert refused_plan(fixture_store, MigrationPlan("p", deploys, calls), {}, ConfigError) == message


def test_a_library_not_deployed_is_named_in_its_whole_line(fixture_store):
    plan, params = fixture_plan()
    plan.deploys = [d for d in plan.deploys if d.name != "MathLib"]
    (ph,) = fixture_store.get("Vault").placeholders
    assert refused_plan(fixture_store, plan, params, UnlinkedLibrary) == (
        f"contract Vault: library MathLib (placeholder {ph}) is not deployed by plan fixture "
        "(expected a deploy of it, or libraries={...} naming the one that provides it)"
    )


def test_a_diamond_is_ordered_once(fixture_store):
    """Vault and Consumer both reach Token: each contract is placed once, after all it needs."""
    plan = MigrationPlan(
        "d",
        [
            Deploy("Consumer", args=[{"contract": "Vault"}]),
            Deploy("Vault", args=[{"contract": "Token"}, {"contract": "Registry"}, 1]),
            Deploy("Registry"),
            Deploy("Token", args=[1]),
            Deploy("MathLib"),
        ],
    )
    assert list(resolve_plan(plan, fixture_store, {}).deploys) == ["MathLib", "Token", "Registry", "Vault", "Consumer"]


def test_numbers_as_pulumi_carries_them():
    from contracts_step.plan import integral_numbers, wire_numbers

    assert wire_numbers([2**53 - 1, 2**53, -(2**53), True, {"a": 2**60}]) == [2**53 - 1, str(2**53), str(-(2**53)), True, {"a": str(2**60)}]
    back = integral_numbers({"a": [1.0, 2.5, "3"]})
    assert back == {"a": [1, 2.5, "3"]} and type(back["a"][0]) is int


def test_a_plan_as_data_with_only_what_is_required():
    plan = MigrationPlan.from_dict({"name": "bare"})
    assert (plan.name, plan.description, plan.deploys, plan.calls) == ("bare", "", [], [])


def test_references_inside_calldata_and_lists(fixture_store):
    from contracts_step.plan import _refs

    assert _refs({"calldata": {"contract": "C", "function": "f", "args": [{"contract": "A"}, [{"contract": "B"}]]}}, "w") == ["C", "A", "B"]
    assert _refs({"calldata": {"function": "f", "args": [{"contract": "A"}, {"contract": "B"}]}}, "w") == ["A", "B"]
    assert _refs([{"calldata": {"contract": "C", "function": "f"}}, 5, {"config": "x"}, {"deployer": True}], "w") == ["C"]
    with pytest.raises(PlanError) as e:
        _refs([[{"what": 1}]], "plan p: contract X")
    assert str(e.value) == "plan p: contract X: argument {'what': 1} is not a literal or a reference (contract/config/deployer/calldata)"


def test_calldata_of_a_deploy_uses_its_artifacts_abi(fixture_store):
    """calldata naming a plan contract deployed from another artifact (Escrow is a Registry)."""
    plan = MigrationPlan("c", [Deploy("Escrow", artifact="Registry")])
    enc = ArgEncoder(fixture_store, plan, {})
    expected = selector("approve(address)") + abi_encode(["address"], [BOOK_LOWER["Vault"]])
    assert enc.value(calldata("Escrow", "approve", {"contract": "Vault"}), BOOK_LOWER, DEPLOYER_LOWER) == expected


def test_a_bytes_argument_is_part_of_the_key(tmp_path):
    store = _golden_store(tmp_path)
    keys = [
        resolve_plan(
            MigrationPlan("b", [Deploy("Lib"), Deploy("Base", args=[1, DEPLOYER_LOWER]), Deploy("User", args=[ref("Base"), data])]),
            store,
            {},
        )
        .deploys["User"]
        .content_key
        for data in (b"\x01\x02", b"\x01\x03")
    ]
    assert keys[0] != keys[1]


def test_an_empty_tuple_type():
    assert abi_type({"type": "tuple"}) == "()"


def _overloads_store(directory) -> ArtifactStore:
    """One artifact with an overloaded function and one whose ABI entries omit optional keys."""
    (directory / "Over.json").write_text(
        json.dumps(
            {
                "contractName": "Over",
                "bytecode": "0x6000",
                "abi": [
                    {"type": "function", "name": "f", "inputs": [], "outputs": []},
                    {"type": "function", "name": "f", "inputs": [{"name": "a", "type": "address"}], "outputs": []},
                    {"type": "function", "name": "ping"},  # no "inputs" at all
                ],
            }
        )
    )
    (directory / "Anon.json").write_text(
        json.dumps(
            {
                "contractName": "Anon",
                "bytecode": "0x6000",
                "abi": [
                    {"type": "constructor", "inputs": [{"type": "uint256"}]},  # an unnamed input
                ],
            }
        )
    )
    return ArtifactStore(str(directory))


def test_overloads_are_chosen_by_arity_and_missing_abi_keys_mean_none(tmp_path):
    store = _overloads_store(tmp_path)
    plan = MigrationPlan(
        "o",
        [Deploy("Over")],
        [
            Call("f1", "Over", "f", [{"deployer": True}], done_when={"function": "f", "equals": True}),  # done_when without args
            Call("ping", "Over", "ping", []),
        ],
    )
    resolved = resolve_plan(plan, store, {})
    assert resolved.calls["f1"].arg_types == ["address"] and resolved.calls["ping"].arg_types == []
    enc = ArgEncoder(store, plan, {})
    assert enc.value(calldata("Over", "f", {"deployer": True}), {}, DEPLOYER_LOWER) == selector("f(address)") + abi_encode(
        ["address"], [DEPLOYER_LOWER]
    )
    assert enc.encode_call(resolved.calls["ping"].fn_abi, [], {}, DEPLOYER_LOWER) == selector("ping()")
    with pytest.raises(PlanError) as e:
        enc.encode_call(resolved.calls["f1"].fn_abi, [5], {}, DEPLOYER_LOWER)
    assert str(e.value).startswith("call f: arguments [5] do not encode as ['address']")
    msg = refused_plan(store, MigrationPlan("o", [Deploy("Anon")]))
    assert msg == "plan o: contract Anon: 0 constructor arguments given, artifact Anon expects 1 (uint256 )"


def test_calldata_of_an_artifact_the_plan_does_not_deploy(fixture_store):
    enc = ArgEncoder(fixture_store, MigrationPlan("n", [Deploy("Registry")]), {})
    assert enc.value(calldata("Token", "transferOwnership", {"contract": "Registry"}), BOOK_LOWER, DEPLOYER_LOWER) == (
        selector("transferOwnership(address)") + abi_encode(["address"], [BOOK_LOWER["Registry"]])
    )
    assert enc.value([[{"deployer": True}]], {}, DEPLOYER_LOWER) == [[to_checksum_address(DEPLOYER_LOWER)]]


def test_bad_arguments_inside_calldata_and_done_when_are_named(fixture_store):
    from contracts_step.plan import _refs

    with pytest.raises(PlanError) as e:
        _refs({"calldata": {"contract": "C", "function": "f", "args": [{"what": 1}]}}, "plan p: contract X")
    assert str(e.value) == "plan p: contract X: argument {'what': 1} is not a literal or a reference (contract/config/deployer/calldata)"
    plan = MigrationPlan(
        "p",
        [Deploy("Registry")],
        [Call("x", "Registry", "approve", [{"deployer": True}], done_when={"function": "approved", "args": [{"odd": 1}], "equals": True})],
    )
    assert (
        refused_plan(fixture_store, plan)
        == "plan p: call x: argument {'odd': 1} is not a literal or a reference (contract/config/deployer/calldata)"
    )
    plan.calls[0].done_when = {"function": "approved", "args": [{"deployer": True}], "equals": {"odd": 2}}
    assert (
        refused_plan(fixture_store, plan)
        == "plan p: call x: argument {'odd': 2} is not a literal or a reference (contract/config/deployer/calldata)"
    )


def test_a_hex_string_is_not_read_as_a_decimal_amount(fixture_store):
    enc = ArgEncoder(fixture_store, MigrationPlan("t", []), {})
    with pytest.raises(PlanError) as e:
        enc.encode_values(["uint256"], ["0x10"], {}, DEPLOYER_LOWER, "t")
    assert str(e.value).startswith("t: arguments ['0x10'] do not encode as ['uint256']")


def test_an_address_with_one_capital_is_checked_as_checksummed():
    """Mixed case means EIP-55: one capital letter among lowercase ones is a (wrong) checksum."""
    with pytest.raises(ConfigError) as e:
        validate_address("0xAbcdef1234abcdef1234abcdef1234abcdef1234", "planParams.x")
    assert str(e.value) == (
        "config planParams.x: 0xAbcdef1234abcdef1234abcdef1234abcdef1234 has a wrong EIP-55 checksum "
        "(expected 0xAbcDEF1234ABCDEf1234ABcdef1234ABCDef1234)"
    )
