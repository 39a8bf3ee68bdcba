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
    with pytest.raises(ArtifactError, match=r"artifact Token: more than one Token.json under .*a/Token.json, .*b/Token.json"):
        store.get("Token")


def test_truffle4_links_by_name_pick_the_named_library(fixture_artifacts, tmp_path):
    src = json.load(open(os.path.join(fixture_artifacts, "truffle", "Vault.json")))
    old_style = "__Math" + "_" * (40 - len("__Math"))  # truncated: only the links say which library
    src["bytecode"] = src["bytecode"].replace(placeholder_for_name("contracts/Fixtures.sol:MathLib"), old_style)
    del src["sourcePath"]
    src["networks"] = {"1": {"links": {"Other": "0x" + "11" * 20, "Math": "0x" + "22" * 20}}}
    (tmp_path / "Vault.json").write_text(json.dumps(src))
    store = ArtifactStore(str(tmp_path))
    assert store.library_names(store.get("Vault")) == {old_style: "Math"}


def _artifact_file(directory, name: str, bytecode: str, **extra) -> None:
    data = {"contractName": name, "abi": [], "bytecode": bytecode, "deployedBytecode": bytecode, "networks": {}, **extra}
    (directory / f"{name}.json").write_text(json.dumps(data))


def test_linking_replaces_every_occurrence_of_a_placeholder(fixture_artifacts, tmp_path):
    """A contract that calls its library from two places carries the placeholder twice."""
    ph = placeholder_for_name("contracts/Fixtures.sol:MathLib")
    code = "6001" + ph + "6002" + ph + "00"
    _artifact_file(tmp_path, "Twice", "0x" + code)
    (tmp_path / "MathLib.json").write_text(open(os.path.join(fixture_artifacts, "truffle", "MathLib.json")).read())
    store = ArtifactStore(str(tmp_path))
    twice = store.get("Twice")
    assert twice.placeholders == [ph]
    names = store.library_names(twice)
    assert names == {ph: "MathLib"}
    for runtime in (False, True):
        linked = link_bytecode(twice, {"MathLib": ADDR}, names, runtime=runtime)
        assert linked == "6001" + "ab" * 20 + "6002" + "ab" * 20 + "00"


def test_an_ambiguous_truncated_library_name_is_an_error_not_the_first_match(tmp_path):
    """solc < 0.5 truncates a library's name to 36 characters in its placeholder: two libraries
    that share those 36 characters cannot be told apart, and neither is picked."""
    from contracts_step.errors import UnlinkedLibrary
    from contracts_step.plan import Deploy, MigrationPlan, resolve_plan

    stem = "GroupSelectionWithAVeryLongLibraryNa"  # 36 characters
    assert len(stem) == 36
    for suffix in ("meA", "meB"):
        _artifact_file(tmp_path, stem + suffix, "0x6000")
    ph = "__" + stem + "__"
    _artifact_file(tmp_path, "Operator", "0x60" + ph + "00")
    store = ArtifactStore(str(tmp_path))
    assert store.library_names(store.get("Operator")) == {ph: None}
    plan = MigrationPlan("amb", [Deploy(stem + "meA"), Deploy(stem + "meB"), Deploy("Operator")])
    with pytest.raises(UnlinkedLibrary) as e:
        resolve_plan(plan, store, {})
    first = str(e.value).splitlines()[0]
    assert "Operator" in first and ph in first  # names the contract and the placeholder
    # With one of them gone the prefix is unique, and it is that one.
    (tmp_path / f"{stem}meB.json").unlink()
    store = ArtifactStore(str(tmp_path))
    assert store.library_names(store.get("Operator")) == {ph: stem + "meA"}
