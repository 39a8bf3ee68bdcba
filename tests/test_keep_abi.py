"""The ABI fragments keep-cd calls (keep_contracts/abi.py: the program's staking and the
InitContainer) are the keep-core 1.8.0 artifacts' own entries."""

from __future__ import annotations

import json
import os

import pytest

import initcontainer.operator_check
import initcontainer.provision_operator
import keep_contracts.staking
from keep_contracts.abi import ABIS


def artifact_functions(keep_artifacts, contract: str) -> list:
    with open(os.path.join(keep_artifacts, f"{contract}.json")) as f:
        return [e for e in json.load(f)["abi"] if e.get("type") == "function"]


def signature(entry: dict) -> str:
    return f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"


@pytest.mark.parametrize("contract", sorted(ABIS))
def test_each_fragment_is_the_artifacts_entry(keep_artifacts, contract):
    declared = artifact_functions(keep_artifacts, contract)
    for entry in ABIS[contract]:
        assert entry in declared, f"{contract}.{entry['name']} differs from the artifact's entry"


def test_every_function_the_staking_step_calls_is_declared_as_it_calls_it(keep_artifacts):
    declared = {signature(e): tuple(o["type"] for o in e["outputs"]) for c in ABIS for e in artifact_functions(keep_artifacts, c)}
    fns = [v for v in vars(keep_contracts.staking).values() if isinstance(v, keep_contracts.staking.Fn)]
    assert len(fns) == 14
    for fn in fns:
        assert declared.get(fn.signature) == fn.returns, fn


def test_every_abi_the_initcontainer_builds_contracts_with_is_the_artifacts(keep_artifacts):
    declared = [e for c in ABIS for e in artifact_functions(keep_artifacts, c)]
    used = [
        value
        for module in (initcontainer.operator_check, initcontainer.provision_operator)
        for value in vars(module).values()
        if isinstance(value, list) and value and all(isinstance(e, dict) and e.get("type") == "function" for e in value)
    ]
    assert used, "the InitContainer builds its contracts from ABI lists"
    for abi in used:
        for entry in abi:
            assert entry in declared, entry["name"]
