"""Pytest plugin: chains with the Keep contracts (keep-core 1.8.0) deployed by the contracts step.

``keep_chain`` (session, anvil automine) is shared: tests on it use fresh operator keys so they never
see each other's operators.  ``keep_geth_chain`` (session) is the same on ``geth --dev`` with 1 s
blocks, and ``keep_dev_chain`` is parametrized over both.  ``keep_chain_factory(**anvil_kwargs)``
makes a private anvil one (e.g. with ``block_time=1``) that stops at the end of the test.  The owner
is a fresh key (never a node's well-known ones) that deployed KeepToken and so holds the whole KEEP
supply; on geth it is funded by a transfer from the developer account.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from eth_account import Account
from web3 import Web3

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from eth_typing import ChecksumAddress

    from bench.chains.anvil import Anvil
    from bench.chains.geth import Geth
    from chain.node import Node

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEP_ARTIFACTS = os.path.join(ROOT, "build", "keep-core", "artifacts")


@dataclass
class KeepChain:
    anvil: Anvil | Geth  # the node (a Geth for keep_geth_chain)
    node: Node  # what keep-cd reads it with (and sends through: node.web3())
    owner: LocalAccount  # deployer of the contracts, holder of the KEEP supply
    address_book: dict
    migration: dict  # the migration's full outputs (for a redeploy with olds)

    @property
    def url(self) -> str:
        return self.anvil.url

    @property
    def w3(self) -> Web3:
        return self.node.web3()

    def staking_contracts(self, book: dict | None = None):
        from keep_contracts.names import STAKING_CONTRACT_NAMES
        from operators.staking import StakingContracts

        return StakingContracts.from_address_book(book or self.address_book, STAKING_CONTRACT_NAMES)

    def redeploy(self, **params) -> tuple:
        """Deploy the Keep contracts again, every one at a new address; returns (book, owner).

        A new deployer makes them new: the same deployer's migration would adopt its earlier
        deployments of identical code (that is its crash recovery).  The new deployer holds the new
        KeepToken's supply, so it is the owner that stakes against them."""
        owner = Account.create()
        self.anvil.fund(owner.address, 10**24)
        outs = deploy_keep(self.node, owner, params)
        return outs["address_book"], owner

    @property
    def kind(self) -> str:
        return getattr(self.anvil, "kind", "anvil")

    def pass_initialization(self) -> None:
        """Past TokenStaking's initializationPeriod (1 on dev chains): anvil mines two blocks 5 s
        apart; geth has no cheat code, so two of its blocks are waited for."""
        from bench.chains.anvil import rpc
        from bench.chains.geth import Geth

        if isinstance(self.anvil, Geth):
            self.anvil.wait_blocks(2)
        else:
            rpc(self.url, "anvil_mine", [hex(2), hex(5)])

    def keep_balance(self, address: str) -> int:
        from keep_contracts.staking import BALANCE_OF

        raw = self.w3.eth.call({"to": self.address_book["KeepToken"], "data": BALANCE_OF.calldata(address)})
        return int.from_bytes(raw, "big")

    def nonce(self, address: ChecksumAddress | None = None) -> int:
        return self.w3.eth.get_transaction_count(address or self.owner.address)


def deploy_keep(node: Node, owner, params: dict | None = None) -> dict:
    from contracts_step.artifacts import ArtifactStore
    from contracts_step.keep_plan import DEFAULT_PARAMS, keep_plan
    from contracts_step.migrate import Migration
    from contracts_step.plan import resolve_plan

    if not os.path.isdir(KEEP_ARTIFACTS):
        pytest.fail(f"{KEEP_ARTIFACTS} missing: run `make setup` (scripts/fetch_keep_artifacts.sh)")
    store = ArtifactStore(KEEP_ARTIFACTS)
    plan = keep_plan()
    resolved = resolve_plan(plan, store, {**DEFAULT_PARAMS, **(params or {})})
    return Migration(plan, resolved, store, node, None, owner.address).migrate(owner)


def make_keep_chain(kind: str = "anvil", **node_kwargs) -> KeepChain:
    from bench.chains.anvil import start_anvil
    from bench.chains.geth import start_geth
    from chain.node import open_node

    chain = start_geth(**node_kwargs) if kind == "geth" else start_anvil(**node_kwargs)
    try:
        node = open_node(chain.url, chain.chain_id)
        owner = Account.create()
        chain.fund(owner.address, 10**24)
        outs = deploy_keep(node, owner)
    except BaseException:
        chain.stop()
        raise
    return KeepChain(chain, node, owner, outs["address_book"], outs)


@pytest.fixture(scope="session")
def keep_chain():
    chain = make_keep_chain()
    yield chain
    chain.anvil.stop()


@pytest.fixture(scope="session")
def keep_geth_chain():
    chain = make_keep_chain("geth")
    yield chain
    chain.anvil.stop()


@pytest.fixture(params=("anvil", "geth"))
def keep_dev_chain(request):
    """The shared Keep chain of this test's kind (anvil or geth)."""
    return request.getfixturevalue("keep_chain" if request.param == "anvil" else "keep_geth_chain")


@pytest.fixture
def keep_chain_factory():
    made = []

    def make(**anvil_kwargs) -> KeepChain:
        chain = make_keep_chain(**anvil_kwargs)
        made.append(chain)
        return chain

    yield make
    for chain in made:
        chain.anvil.stop()
