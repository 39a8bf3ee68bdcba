"""Two stacks whose deployer is one key on one chain (a shared test chain): the second gets a clear
refusal, in preview and in up, before anything is sent, naming the contract, its address and the
config that allows adopting; with ``keep-cd:foreignContracts: deploy`` it gets its own contracts.
Real CLI, real anvil."""

from __future__ import annotations

import os
import re

import pytest
from eth_account import Account
from web3 import Web3

from bench.chains.anvil import start_anvil
from bench.engine.local_stack import first_error
from engine_stack import engine_or_fail, new_stack, set_config

pytestmark = pytest.mark.engine


def _contracts_stack(tmp_path, name: str, chain, key: str):
    ws = new_stack(engine_or_fail(), str(tmp_path / name), chain.url, stack=name)
    for k in ("keep-cd:fleet", "keep-cd:operators"):
        ws.config.pop(k)  # the contracts alone: what is shared
    os.makedirs(ws.secrets_dir, mode=0o700, exist_ok=True)
    ws.secret("deployer.key", lambda: key)
    ws.prepare(start_chain=False, fund=False)
    return ws


def test_a_second_stack_of_the_same_key_refuses_then_deploys_its_own(tmp_path):
    chain = start_anvil()
    try:
        account = Account.create()
        chain.fund(account.address, 10**24)
        w3 = Web3(Web3.HTTPProvider(chain.url))
        a = _contracts_stack(tmp_path, "a", chain, account.key.hex())
        a.run(["up", "--yes", "--skip-preview"], capture=True)
        book_a = a.outputs()["addressBook"]
        b = _contracts_stack(tmp_path, "b", chain, account.key.hex())
        sent = w3.eth.get_transaction_count(account.address)
        for command in (["preview"], ["up", "--yes", "--skip-preview"]):
            refused = b.run(command, capture=True, check=False)
            output = refused.stdout + refused.stderr
            assert refused.returncode != 0, output[-3000:]
            line = next((ln for ln in output.splitlines() if "was created by the deployer" in ln), "")
            named = re.search(r"contract (\w+): (0x[0-9a-fA-F]{40}) \(transaction 0x[0-9a-f]{64}\) was created by the deployer", line)
            assert named and book_a[named[1]] == named[2], output[-3000:]  # one of a's, named with its address
            assert "but not by this stack (" in line and "/b); nothing was sent: set keep-cd:foreignContracts to adopt" in line
            assert first_error(output), output[-3000:]
            assert w3.eth.get_transaction_count(account.address) == sent
        set_config(b, foreignContracts="deploy")
        b.run(["up", "--yes", "--skip-preview"], capture=True)
        book_b = b.outputs()["addressBook"]
        assert set(book_b) == set(book_a) and set(book_b.values()).isdisjoint(book_a.values())
        assert w3.eth.get_transaction_count(account.address) > sent
        # a is untouched by b's contracts: nothing changes.
        again = a.run(["up", "--yes", "--skip-preview"], capture=True)
        assert "unchanged" in again.stdout and a.outputs()["addressBook"] == book_a
    finally:
        chain.stop()
