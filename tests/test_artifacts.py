"""Artifact loading and linking: three formats, two placeholder styles, clear errors."""

import json
import os

import pytest

from contracts_step.artifacts import ArtifactStore, link_bytecode, load_artifact, placeholder_for_name
from contracts_step.errors import ArtifactError, UnlinkedLibrary

ADDR = "0x" + "ab" * 20


@pytest.mark.parametrize("fmt", ["truffle", "hardhat", "foundry"])
def test_each_format_finds_the_library_of_vault(fixture_artifacts, fmt):
    store = ArtifactStore(os.path.join(fixture_artifacts, fmt))
    vault = store.get("Vault")
    assert vault.format == fmt
    assert len(vault.placeholders) == 1
    names = store.library_names(vault)
    assert list(names.values()) == ["MathLib"]
    linked = link_bytecode(vault, {"MathLib": ADDR}, names)
    assert "_" not in linked and "$" not in linked
    assert ("ab" * 20) in linked
    assert vault.constructor_inputs()[0]["type"] == "address"


def test_truffle_placeholder_is_the_hash_of_the_qualified_name(fixture_artifacts):
    vault = ArtifactStore(os.path.join(fixture_artifacts, "truffle")).get("Vault")
    assert vault.placeholders == [placeholder_for_name("contracts/Fixtures.sol:MathLib")]


def test_truffle4_name_placeholder_is_linked_by_name(fixture_artifacts, tmp_path):
    src = json.load(open(os.path.join(fixture_artifacts, "truffle", "Vault.json")))
    old_style = "__MathLib" + "_" * (40 - len("__MathLib"))
    src["bytecode"] = src["bytecode"].replace(placeholder_for_name("contracts/Fixtures.sol:MathLib"), old_style)
    del src["sourcePath"]
    for name in ("MathLib",):
        (tmp_path / f"{name}.json").write_text(open(os.path.join(fixture_artifacts, "truffle", f"{name}.json")).read())
    (tmp_path / "Vault.json").write_text(json.dumps(src))
    store = ArtifactStore(str(tmp_path))
    vault = store.get("Vault")
    assert vault.placeholders == [old_style]
    assert store.library_names(vault) == {old_style: "MathLib"}


def test_keep_artifacts_resolve_links_from_networks(keep_artifacts):
    store = ArtifactStore(keep_artifacts)
    staking = set(store.library_names(store.get("TokenStaking")).values())
    assert {"GrantStaking", "Locks", "TopUps"} <= staking
    assert set(store.library_names(store.get("Groups")).values()) == {"BLS"}
    operator = set(store.library_names(store.get("KeepRandomBeaconOperator")).values())
    assert operator == {"BLS", "Groups", "GroupSelection", "DKGResultVerification", "DelayFactor", "Reimbursements"}


def test_unresolvable_placeholder_is_named(fixture_artifacts, tmp_path):
    src = json.load(open(os.path.join(fixture_artifacts, "truffle", "Vault.json")))
    del src["sourcePath"]  # no hash to match, no links recorded
    (tmp_path / "Vault.json").write_text(json.dumps(src))
    store = ArtifactStore(str(tmp_path))
    vault = store.get("Vault")
    ph = vault.placeholders[0]
    with pytest.raises(UnlinkedLibrary) as e:
        link_bytecode(vault, {}, store.library_names(vault))
    assert ph in str(e.value).splitlines()[0]
    assert "Vault" in str(e.value).splitlines()[0]


def test_missing_artifact_names_file_and_directory(fixture_artifacts):
    store = ArtifactStore(os.path.join(fixture_artifacts, "truffle"))
    with pytest.raises(ArtifactError, match=r"artifact KeepTokn: no KeepTokn.json under .*truffle"):
        store.get("KeepTokn")


def test_missing_artifact_directory():
    with pytest.raises(ArtifactError, match="artifacts directory /nonexistent: not found"):
        ArtifactStore("/nonexistent")


@pytest.mark.parametrize(
    "content,expected",
    [
        ("{not json", "not readable JSON"),
        (json.dumps({"contractName": "X"}), "no 'abi' key"),
        (json.dumps({"abi": [], "bytecode": "0xzz11"}), "bytecode is not hex"),
        (json.dumps({"abi": [], "bytecode": "0x"}), "empty bytecode"),
    ],
)
def test_invalid_artifact(tmp_path, content, expected):
    p = tmp_path / "X.json"
    p.write_text(content)
    with pytest.raises(ArtifactError) as e:
        load_artifact(str(p))
    first = str(e.value).splitlines()[0]
    assert str(p) in first and expected in first


def test_same_name_in_two_folders_is_ambiguous(fixture_artifacts, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "Token.json").write_text(open(os.path.join(fixture_artifacts, "truffle", "Token.json")).read())
    store = ArtifactStore(str(tmp_path))
    with pytest.raises(ArtifactError) as e:
        store.get("Token")
    # The same source in both: only the paths tell them apart.
    assert str(e.value).startswith(f"artifact Token: 2 artifacts of Token under {tmp_path} (expected one: name it by ")
    assert str(e.value).endswith(": a/Token.json; b/Token.json)")
    assert store.get("b/Token.json").path == str(tmp_path / "b" / "Token.json")


def write_artifact(path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture
def package(fixture_artifacts, tmp_path):
    """A package root as Hardhat leaves it, with a mock of the same name as the real contract:
    artifacts/contracts/Token.sol/Token.json and artifacts/contracts/mocks/Token.sol/Token.json
    (Guarded's code under Token's name), plus a deployments/ folder of hardhat-deploy."""
    hardhat = os.path.join(fixture_artifacts, "hardhat")
    token = json.load(open(os.path.join(hardhat, "Token.json")))
    mock = json.load(open(os.path.join(hardhat, "Guarded.json")))
    write_artifact(tmp_path / "artifacts/contracts/Token.sol/Token.json", {**token, "sourceName": "contracts/Token.sol"})
    write_artifact(tmp_path / "artifacts/contracts/mocks/Token.sol/Token.json", {**mock, "contractName": "Token", "sourceName": "contracts/mocks/Token.sol"})
    write_artifact(tmp_path / "artifacts/build-info/abc.json", {"input": {}})
    return tmp_path, token, mock


def test_same_name_lists_every_spelling_that_exists(package):
    root, _, _ = package
    with pytest.raises(ArtifactError) as e:
        ArtifactStore(str(root)).get("Token")
    first = str(e.value).splitlines()[0]
    assert first.startswith(f"artifact Token: 2 artifacts of Token under {root}")
    assert first.endswith(
        'as a deploy\'s "artifact": contracts/Token.sol:Token or artifacts/contracts/Token.sol/Token.json; '
        "contracts/mocks/Token.sol:Token or artifacts/contracts/mocks/Token.sol/Token.json)"
    )


def test_fully_qualified_name_or_path_picks_one(package):
    root, token, mock = package
    store = ArtifactStore(str(root))
    for spec, want in (
        ("contracts/Token.sol:Token", token),
        ("contracts/mocks/Token.sol:Token", mock),
        ("artifacts/contracts/mocks/Token.sol/Token.json", mock),
        ("artifacts/contracts/Token.sol/Token.json", token),
    ):
        art = store.get(spec)
        assert (art.name, "0x" + art.bytecode) == ("Token", want["bytecode"]), spec


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("contracts/Other.sol:Token", "artifact contracts/Other.sol:Token: no artifact of Token compiled from contracts/Other.sol under "),
        ("contracts/Token.sol:Nope", "(no Nope.json there at all)"),
        ("artifacts/Token.json", "artifact artifacts/Token.json: no such file under "),
        ("../Token.json", "expected a path relative to"),
    ],
)
def test_a_spelling_that_does_not_exist_is_named(package, spec, expected):
    root, _, _ = package
    with pytest.raises(ArtifactError) as e:
        ArtifactStore(str(root)).get(spec)
    assert expected in str(e.value).splitlines()[0]
    if ":Token" in spec:
        assert "contracts/Token.sol:Token or artifacts/contracts/Token.sol/Token.json" in str(e.value)


def test_truffle_absolute_source_path_and_foundry_target_match_by_qualified_name(fixture_artifacts, tmp_path):
    truffle = json.load(open(os.path.join(fixture_artifacts, "truffle", "Token.json")))
    write_artifact(tmp_path / "build/contracts/Token.json", {**truffle, "sourcePath": "/home/ci/project/contracts/Token.sol"})
    foundry = json.load(open(os.path.join(fixture_artifacts, "foundry", "Fixtures.sol", "Token.json")))
    foundry["metadata"]["settings"]["compilationTarget"] = {"src/mocks/Token.sol": "Token"}
    write_artifact(tmp_path / "out/Token.sol/Token.json", foundry)
    store = ArtifactStore(str(tmp_path))
    assert store.get("contracts/Token.sol:Token").format == "truffle"
    assert store.get("src/mocks/Token.sol:Token").format == "foundry"


def test_a_plan_deploys_the_artifacts_it_names_exactly(package, fresh_anvil):
    from web3 import Web3

    from contracts_step.migrate import open_migration
    from contracts_step.plan import Deploy, MigrationPlan

    root, token, mock = package
    plan = MigrationPlan(
        name="exact",
        deploys=[
            Deploy("Token", artifact="contracts/Token.sol:Token", args=[5]),
            Deploy("TokenMock", artifact="artifacts/contracts/mocks/Token.sol/Token.json", args=[1]),
        ],
    )
    acct = fresh_anvil.new_account()
    outs = open_migration(plan, {}, str(root), fresh_anvil.url, fresh_anvil.chain_id, None, acct.address).migrate(acct)
    w3 = Web3(Web3.HTTPProvider(fresh_anvil.url))
    for name, want in (("Token", token), ("TokenMock", mock)):
        assert "0x" + bytes(w3.eth.get_code(outs["address_book"][name])).hex() == want["deployedBytecode"], name


def test_truffle4_links_by_name_pick_the_named_library(fixture_artifacts, tmp_path):
    src = json.load(open(os.path.join(fixture_artifacts, "truffle", "Vault.json")))
    old_style = "__Math" + "_" * (40 - len("__Math"))  # truncated: only the links say which library
    src["bytecode"] = src["bytecode"].replace(placeholder_for_name("contracts/Fixtures.sol:MathLib"), old_style)
    del src["sourcePath"]
    src["networks"] = {"1": {"links": {"Other": "0x" + "11" * 20, "Math": "0x" + "22" * 20}}}
    (tmp_path / "Vault.json").write_text(json.dumps(src))
    store = ArtifactStore(str(tmp_path))
    assert store.library_names(store.get("Vault")) == {old_style: "Math"}
