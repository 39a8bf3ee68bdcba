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
