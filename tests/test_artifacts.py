"""Artifact loading and linking: three formats, two placeholder styles, clear errors."""

import json
import os

import pytest

from chain.errors import ArtifactError, UnlinkedLibrary
from contracts_step.artifacts import ArtifactStore, link_bytecode, load_artifact, placeholder_for_name

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
    write_artifact(
        tmp_path / "artifacts/contracts/mocks/Token.sol/Token.json",
        {**mock, "contractName": "Token", "sourceName": "contracts/mocks/Token.sol"},
    )
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
    from chain.errors import UnlinkedLibrary
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


# --- each format, field by field -----------------------------------------------------------------------

from contracts_step.artifacts import parse_artifact  # noqa: E402

ABI = [
    {"type": "constructor", "inputs": [{"name": "x", "type": "uint256"}]},
    {"type": "function", "name": "f", "inputs": [], "outputs": []},
    {"type": "function", "name": "f", "inputs": [{"name": "a", "type": "address"}], "outputs": []},
    {"type": "event", "name": "f", "inputs": []},
]
LINKED = "6080" + "__$" + "ab" * 17 + "$__" + "00"  # one solc >= 0.5 placeholder at byte 2
LINK_REFS = {"contracts/L.sol": {"L": [{"start": 2, "length": 20}]}}


def test_a_foundry_artifact(tmp_path):
    data = {
        "abi": ABI,
        "bytecode": {"object": "0x" + LINKED, "linkReferences": LINK_REFS},
        "deployedBytecode": {"object": "0x6001"},
        "metadata": {"settings": {"compilationTarget": {"src/C.sol": "Real"}}},
    }
    art = parse_artifact("out/C.sol/Alias.json", data)
    assert (art.name, art.path, art.format) == ("Real", "out/C.sol/Alias.json", "foundry")
    assert (art.bytecode, art.deployed_bytecode, art.abi) == (LINKED, "6001", ABI)
    assert art.link_names == {"__$" + "ab" * 17 + "$__": "L"}
    # The compilation target names the source: a plan can name the artifact src/C.sol:Real.
    assert (art.source_path, art.networks) == ("src/C.sol", {})
    bare = parse_artifact("out/C.sol/Alias.json", {"abi": [], "bytecode": {"object": "6002"}})
    assert (bare.name, bare.bytecode, bare.deployed_bytecode, bare.link_names) == ("Alias", "6002", "", {})


def test_a_hardhat_artifact(tmp_path):
    data = {
        "_format": "hh-sol-artifact-1",
        "contractName": "C",
        "sourceName": "contracts/C.sol",
        "abi": ABI,
        "bytecode": "0x" + LINKED,
        "deployedBytecode": "0x6001",
        "linkReferences": LINK_REFS,
    }
    art = parse_artifact("artifacts/contracts/C.sol/C.json", data)
    assert (art.name, art.format, art.source_path) == ("C", "hardhat", "contracts/C.sol")
    assert (art.bytecode, art.deployed_bytecode) == (LINKED, "6001")
    assert art.link_names == {"__$" + "ab" * 17 + "$__": "L"}
    # Recognised by its format tag alone, named by its file without a contractName.
    tagged = parse_artifact("a/D.json", {"_format": "hh-sol-artifact-1", "abi": [], "bytecode": "6002"})
    assert (tagged.format, tagged.name, tagged.deployed_bytecode, tagged.link_names) == ("hardhat", "D", "", {})
    assert parse_artifact("a/E.json", {"abi": [], "bytecode": "6002", "linkReferences": {}}).format == "hardhat"


def test_a_truffle_artifact(tmp_path):
    networks = {"1": {"address": "0x" + "11" * 20, "links": {}}}
    data = {
        "contractName": "C",
        "abi": ABI,
        "bytecode": "0x6003",
        "deployedBytecode": "0x6004",
        "sourcePath": "/build/contracts/C.sol",
        "networks": networks,
        "ast": {"absolutePath": "other.sol"},
    }
    art = parse_artifact("build/contracts/C.json", data)
    assert (art.name, art.format, art.source_path, art.networks) == ("C", "truffle", "/build/contracts/C.sol", networks)
    assert (art.bytecode, art.deployed_bytecode, art.link_names) == ("6003", "6004", {})
    older = parse_artifact("build/contracts/D.json", {"abi": [], "bytecode": "6005", "ast": {"absolutePath": "contracts/D.sol"}})
    assert (older.name, older.source_path, older.networks, older.deployed_bytecode) == ("D", "contracts/D.sol", {}, "")


def test_artifact_properties(tmp_path):
    import hashlib

    art = parse_artifact("x/C.json", {"contractName": "C", "abi": ABI, "bytecode": "0x6003"})
    assert art.bytecode_hash == hashlib.sha256(b"6003").hexdigest()
    assert art.abi_hash == hashlib.sha256(json.dumps(ABI, sort_keys=True).encode()).hexdigest()
    assert art.constructor_inputs() == [{"name": "x", "type": "uint256"}]
    assert parse_artifact("x/D.json", {"abi": [], "bytecode": "00"}).constructor_inputs() == []
    assert art.function_abi("f") == ABI[1] and art.function_abi("f", 1) == ABI[2] and art.function_abi("f", 0) == ABI[1]
    with pytest.raises(ArtifactError) as e:
        art.function_abi("f", 2)
    assert str(e.value) == "artifact C: no function f with 2 arguments in its ABI (x/C.json)"
    with pytest.raises(ArtifactError) as e:
        art.function_abi("g")
    assert str(e.value) == "artifact C: no function g in its ABI (x/C.json)"


@pytest.mark.parametrize(
    "data,message",
    [
        ([], "artifact p/X.json: no 'abi' key (expected a Truffle, Hardhat or Foundry artifact)"),
        ({"bytecode": "00"}, "artifact p/X.json: no 'abi' key (expected a Truffle, Hardhat or Foundry artifact)"),
        ({"abi": []}, "artifact p/X.json: 'bytecode' missing (expected a hex string or a Foundry bytecode object)"),
        ({"abi": [], "bytecode": 5}, "artifact p/X.json: 'bytecode' missing (expected a hex string or a Foundry bytecode object)"),
    ],
)
def test_what_is_not_an_artifact(data, message):
    with pytest.raises(ArtifactError) as e:
        parse_artifact("p/X.json", data)
    assert str(e.value) == message


def test_a_truncated_placeholder_is_refused(tmp_path):
    p = tmp_path / "X.json"
    p.write_text(json.dumps({"abi": [], "bytecode": "0x6000__$abcd"}))
    with pytest.raises(ArtifactError) as e:
        load_artifact(str(p))
    assert str(e.value) == f"artifact {p}: truncated library placeholder '__$abcd' in bytecode"


def test_the_store_skips_build_info_caches_and_debug_files(fixture_artifacts, tmp_path):
    src = os.path.join(fixture_artifacts, "hardhat", "Token.json")
    for sub in ("build-info", "cache", "contracts"):
        (tmp_path / sub).mkdir()
    (tmp_path / "build-info" / "Junk.json").write_text("{not json")
    (tmp_path / "cache" / "Stale.json").write_text(open(src).read())
    (tmp_path / "contracts" / "Token.json").write_text(open(src).read())
    (tmp_path / "contracts" / "Token.dbg.json").write_text("{}")
    (tmp_path / "contracts" / "notes.txt").write_text("")
    store = ArtifactStore(str(tmp_path))
    assert store.names() == ["Token"]
    assert store.get("Token") is store.get("Token")  # read once


def test_placeholders_by_hash_and_by_recorded_links(fixture_artifacts, tmp_path):
    """solc >= 0.5 placeholders: by keccak(sourcePath:Name) of the library artifacts present, or,
    without a source path, by the library address the artifact's networks.<id>.links record."""
    ph = placeholder_for_name("contracts/Fixtures.sol:MathLib")
    lib = json.load(open(os.path.join(fixture_artifacts, "truffle", "MathLib.json")))
    vault = json.load(open(os.path.join(fixture_artifacts, "truffle", "Vault.json")))
    lib_address = "0x" + "5a" * 20
    (tmp_path / "Broken.json").write_text("{not json")  # unreadable artifacts are passed over
    (tmp_path / "MathLib.json").write_text(json.dumps({**lib, "sourcePath": None, "networks": {"5": {"address": lib_address}}}))
    # As Truffle records it: the placeholder without its leading and trailing "__" (and '$' escaped).
    key = ph[2:-2].replace("$", "\\$")
    (tmp_path / "Vault.json").write_text(
        json.dumps({**vault, "networks": {"5": {"links": {key: lib_address.upper().replace("0X", "0x")}}}})
    )
    store = ArtifactStore(str(tmp_path))
    assert store.library_names(store.get("Vault")) == {ph: "MathLib"}
    (tmp_path / "Vault.json").write_text(json.dumps({**vault, "networks": {"5": {"links": {key: "0x" + "99" * 20}}}}))
    assert ArtifactStore(str(tmp_path)).library_names(ArtifactStore(str(tmp_path)).get("Vault")) == {ph: None}


def test_linking_errors_name_the_contract_and_what_is_missing(fixture_artifacts):
    store = ArtifactStore(os.path.join(fixture_artifacts, "truffle"))
    vault = store.get("Vault")
    (ph,) = vault.placeholders
    with pytest.raises(UnlinkedLibrary) as e:
        link_bytecode(vault, {}, {ph: "MathLib"})
    assert str(e.value) == (
        f"contract Vault: library MathLib (placeholder {ph}) has no address (expected it as a library of this contract in the plan)"
    )
    assert link_bytecode(vault, {"MathLib": "0x" + "AB" * 20}, {ph: "MathLib"}) == vault.bytecode.replace(ph, "ab" * 20)


def test_names_paths_and_defaults_of_each_format():
    hh = parse_artifact(
        "artifacts/X.json", {"_format": "hh-sol-artifact-1", "contractName": "C", "abi": [{"type": "constructor"}], "bytecode": "00"}
    )
    assert (hh.name, hh.path) == ("C", "artifacts/X.json") and hh.constructor_inputs() == []
    tr = parse_artifact("build/X.json", {"contractName": "D", "abi": [], "bytecode": "00"})
    assert (tr.name, tr.path) == ("D", "build/X.json")
    assert parse_artifact("out/Y.sol/Y.json", {"abi": [], "bytecode": {}}).bytecode == ""


def test_a_missing_file_and_a_missing_artifact_are_named_in_their_whole_line(fixture_artifacts, tmp_path):
    with pytest.raises(ArtifactError) as e:
        load_artifact(str(tmp_path / "None.json"))
    assert str(e.value) == f"artifact {tmp_path / 'None.json'}: file not found"
    store = ArtifactStore(os.path.join(fixture_artifacts, "truffle"))
    with pytest.raises(ArtifactError) as e:
        store.get("Nope")
    assert str(e.value) == f"artifact Nope: no Nope.json under {store.directory} (expected a Truffle, Hardhat or Foundry artifact)"


def test_a_placeholder_found_by_hash_past_an_unreadable_artifact(fixture_artifacts, tmp_path):
    for name in ("MathLib", "Vault"):
        (tmp_path / f"{name}.json").write_text(open(os.path.join(fixture_artifacts, "truffle", f"{name}.json")).read())
    (tmp_path / "AAA.json").write_text("{not json")  # indexed first
    store = ArtifactStore(str(tmp_path))
    assert list(store.library_names(store.get("Vault")).values()) == ["MathLib"]


def test_truffle4_names_exact_before_prefix_and_path_qualified(fixture_artifacts, tmp_path):
    lib = json.load(open(os.path.join(fixture_artifacts, "truffle", "MathLib.json")))
    for name in ("MathLib", "MathLibV2", "XLib"):
        (tmp_path / f"{name}.json").write_text(json.dumps({**lib, "contractName": name, "sourcePath": None}))

    def placeholder(text):
        return "__" + text + "_" * (38 - len(text))

    for text, expected in (("MathLib", "MathLib"), ("contracts/M.sol:MathLibV2", "MathLibV2"), ("XLib", "XLib")):
        ph = placeholder(text)
        _artifact_file(tmp_path, "User", "0x60" + ph + "00")
        store = ArtifactStore(str(tmp_path))
        assert store.library_names(store.get("User")) == {ph: expected}


def test_links_recorded_with_the_whole_placeholder(fixture_artifacts, tmp_path):
    """Some Truffle versions record the link key with its underscores, some without."""
    ph = placeholder_for_name("contracts/Fixtures.sol:MathLib")
    lib = json.load(open(os.path.join(fixture_artifacts, "truffle", "MathLib.json")))
    vault = json.load(open(os.path.join(fixture_artifacts, "truffle", "Vault.json")))
    address = "0x" + "5a" * 20
    (tmp_path / "MathLib.json").write_text(json.dumps({**lib, "sourcePath": None, "networks": {"5": {"address": address}}}))
    (tmp_path / "Vault.json").write_text(json.dumps({**vault, "networks": {"5": {"links": {ph: address}}}}))
    store = ArtifactStore(str(tmp_path))
    assert store.library_names(store.get("Vault")) == {ph: "MathLib"}


def test_runtime_linking_links_the_deployed_code(fixture_artifacts, tmp_path):
    ph = placeholder_for_name("contracts/Fixtures.sol:MathLib")
    _artifact_file(tmp_path, "Two", "0x60" + ph, deployedBytecode="0x61" + ph)
    art = ArtifactStore(str(tmp_path)).get("Two")
    assert link_bytecode(art, {"MathLib": ADDR}, {ph: "MathLib"}, runtime=True) == "61" + "ab" * 20
    assert link_bytecode(art, {"MathLib": ADDR}, {ph: "MathLib"}) == "60" + "ab" * 20


def test_truffle4_links_by_a_name_that_starts_with_x(fixture_artifacts, tmp_path):
    """A name recorded in the links, whatever letters it starts with (no artifact of that name here)."""
    src = json.load(open(os.path.join(fixture_artifacts, "truffle", "Vault.json")))
    old_style = "__XMath" + "_" * (40 - len("__XMath"))
    src["bytecode"] = src["bytecode"].replace(placeholder_for_name("contracts/Fixtures.sol:MathLib"), old_style)
    del src["sourcePath"]
    src["networks"] = {"1": {"links": {"XMath": "0x" + "22" * 20}}}
    (tmp_path / "Vault.json").write_text(json.dumps(src))
    store = ArtifactStore(str(tmp_path))
    assert store.library_names(store.get("Vault")) == {old_style: "XMath"}
