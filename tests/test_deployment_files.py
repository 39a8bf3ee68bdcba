"""hardhat-deploy deployment files (deployments/<network>/<Name>.json) as artifacts: their creation
code is linked to the libraries of the network they were made for; keep-cd links this chain's
library in its place, and a plan that lacks the library is refused with the baked-in address named."""

from __future__ import annotations

import json
import os

import pytest
from web3 import Web3

from chain.errors import UnlinkedLibrary
from conftest import ROOT, compile_fixtures
from contracts_step.artifacts import ArtifactStore, placeholder_for_name
from contracts_step.migrate import open_migration
from contracts_step.plan import Deploy, MigrationPlan

LINKED_SOURCES = os.path.join(ROOT, "tests", "fixtures", "linked")
MAINNET_DOUBLING = "0x" + "5a" * 20  # where the library lives on the network the file was made for
DEPLOYMENT = "deployments/mainnet/Doubler.json"
DOUBLER_ABI = [
    {"name": "base", "type": "function", "inputs": [], "outputs": [{"type": "uint256"}], "stateMutability": "view"},
    {
        "name": "doubled",
        "type": "function",
        "inputs": [{"name": "x", "type": "uint256"}],
        "outputs": [{"type": "uint256"}],
        "stateMutability": "pure",
    },
]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> str:
    return compile_fixtures(str(tmp_path_factory.mktemp("linked")), LINKED_SOURCES)


def link_at(code: str, refs: dict, address: str) -> str:
    """What Hardhat's linker does: the address at every position linkReferences gives."""
    code = code[2:]
    for libs in refs.values():
        for positions in libs.values():
            for p in positions:
                code = code[: 2 * p["start"]] + address[2:] + code[2 * (p["start"] + p["length"]) :]
    return "0x" + code


def package(root, compiled: str, runtime_linked: bool, metadata: bool = True) -> str:
    """A package as hardhat-deploy leaves it: the compiled artifacts, and the deployment of
    Doubler on mainnet, its creation code linked to mainnet's Doubling, its runtime code linked
    too or still holding the placeholder."""
    hardhat = os.path.join(compiled, "hardhat")
    doubler = json.load(open(os.path.join(hardhat, "Doubler.json")))
    os.makedirs(root / "artifacts/contracts/Linked.sol", exist_ok=True)
    for name in ("Doubling", "Doubler"):
        (root / f"artifacts/contracts/Linked.sol/{name}.json").write_text(open(os.path.join(hardhat, f"{name}.json")).read())
    deployment = {
        "address": "0x" + "c0" * 20,
        "abi": doubler["abi"],
        "transactionHash": "0x" + "ab" * 32,
        "receipt": {"status": 1},
        "args": [21],
        "numDeployments": 1,
        "libraries": {"Doubling": MAINNET_DOUBLING},
        "bytecode": link_at(doubler["bytecode"], doubler["linkReferences"], MAINNET_DOUBLING),
        "deployedBytecode": link_at(doubler["deployedBytecode"], doubler["deployedLinkReferences"], MAINNET_DOUBLING)
        if runtime_linked
        else doubler["deployedBytecode"],
    }
    if metadata:
        deployment["metadata"] = json.dumps(
            {
                "settings": {"compilationTarget": {"contracts/Linked.sol": "Doubler"}},
                "sources": {"contracts/Linked.sol": {"keccak256": "0x00"}},
            }
        )
    os.makedirs(root / "deployments/mainnet", exist_ok=True)
    (root / DEPLOYMENT).write_text(json.dumps(deployment))
    (root / "deployments/mainnet/.chainId").write_text("1")
    return str(root)


def plan(with_library: bool = True) -> MigrationPlan:
    deploys = [Deploy("Doubler", artifact=DEPLOYMENT, args=[21])]
    if with_library:
        deploys.insert(0, Deploy("Doubling", artifact="contracts/Linked.sol:Doubling"))
    return MigrationPlan(name="linked", deploys=deploys)


def test_baked_in_library_address_becomes_a_placeholder_again(compiled, tmp_path):
    store = ArtifactStore(package(tmp_path, compiled, runtime_linked=True))
    art = store.get(DEPLOYMENT)
    ph = placeholder_for_name("contracts/Linked.sol:Doubling")  # solc's own: the metadata names the source
    assert (art.format, art.name, art.source_path) == ("hardhat-deploy", "Doubler", "contracts/Linked.sol")
    assert art.placeholders == [ph] and art.bytecode.count(ph) == 2 and art.deployed_bytecode.count(ph) == 1
    assert MAINNET_DOUBLING[2:] not in art.bytecode + art.deployed_bytecode
    assert store.library_names(art) == {ph: "Doubling"} and art.baked_libraries == {"Doubling": MAINNET_DOUBLING}
    compiled_doubler = store.get("artifacts/contracts/Linked.sol/Doubler.json")
    assert art.bytecode == compiled_doubler.bytecode  # exactly the compiler's template again


@pytest.mark.parametrize("runtime_linked", [True, False], ids=["runtime-linked", "runtime-placeholders"])
@pytest.mark.parametrize("metadata", [True, False], ids=["metadata", "no-metadata"])
def test_deployment_file_is_deployed_with_this_chains_library(compiled, tmp_path, fresh_anvil, runtime_linked, metadata):
    root = package(tmp_path, compiled, runtime_linked, metadata)
    acct = fresh_anvil.new_account()
    outs = open_migration(plan(), {}, root, fresh_anvil.url, fresh_anvil.chain_id, None, acct.address).migrate(acct)
    w3 = Web3(Web3.HTTPProvider(fresh_anvil.url))
    doubler = w3.eth.contract(address=outs["address_book"]["Doubler"], abi=DOUBLER_ABI)
    assert doubler.functions.base().call() == 42  # the constructor called this chain's Doubling
    assert doubler.functions.doubled(5).call() == 10  # and so does the runtime code
    code = bytes(w3.eth.get_code(doubler.address)).hex()
    assert outs["address_book"]["Doubling"][2:].lower() in code and MAINNET_DOUBLING[2:] not in code
    again = open_migration(plan(), {}, root, fresh_anvil.url, fresh_anvil.chain_id, outs, acct.address).migrate(acct)
    assert again["last_run"]["txs"] == 0


def test_plan_without_the_library_names_it_and_the_baked_in_address(compiled, tmp_path, fresh_anvil):
    root = package(tmp_path, compiled, runtime_linked=False)
    acct = fresh_anvil.new_account()
    with pytest.raises(UnlinkedLibrary) as e:
        open_migration(plan(with_library=False), {}, root, fresh_anvil.url, fresh_anvil.chain_id, None, acct.address)
    first = str(e.value).splitlines()[0]
    assert first.startswith("contract Doubler: library Doubling (placeholder __$") and "is not deployed by plan linked" in first
    assert first.endswith(
        f"{os.path.join(root, DEPLOYMENT)} has it linked at {MAINNET_DOUBLING}, an address of the network that file was made for"
    )
    assert Web3(Web3.HTTPProvider(fresh_anvil.url)).eth.get_transaction_count(acct.address) == 0
