"""keep-cd's packages import downward only (README, issue 13): chain/ and keep_contracts/ at the
bottom, then contracts_step/ and operators/, then components/.  Read from the sources' import
statements (module level and inside functions alike), so a lazy import counts too."""

from __future__ import annotations

import ast
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("chain", "keep_contracts", "contracts_step", "operators", "components", "initcontainer")
# package -> the top-level modules it must not import (keep-cd's own packages, or any package at all).
REFUSED = {
    "chain": {"keep_contracts", "contracts_step", "operators", "components", "initcontainer", "settings"},
    "operators": {"contracts_step", "components", "initcontainer", "settings"},
    "contracts_step": {"operators", "components", "initcontainer", "settings"},
    "components": {"contracts_step", "initcontainer", "settings"},
}
# keep_contracts/ goes into the InitContainer image: the standard library, eth_abi and eth_utils only.
KEEP_CONTRACTS_MAY_IMPORT = {"eth_abi", "eth_utils", "keep_contracts"} | set(sys.stdlib_module_names) | {"__future__"}


def imports_of(package: str) -> dict:
    """module file -> the top-level names its absolute imports reach (relative ones stay inside)."""
    out = {}
    for dirpath, _, files in os.walk(os.path.join(ROOT, package)):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            tops = set()
            for node in ast.walk(ast.parse(open(path).read())):
                if isinstance(node, ast.Import):
                    tops |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    tops.add(node.module.split(".")[0])
            out[os.path.relpath(path, ROOT)] = tops
    return out


@pytest.mark.parametrize("package", sorted(REFUSED))
def test_a_package_imports_nothing_above_it(package):
    wrong = {f: sorted(tops & REFUSED[package]) for f, tops in imports_of(package).items() if tops & REFUSED[package]}
    assert wrong == {}


def test_keep_contracts_imports_only_what_the_image_has():
    wrong = {
        f: sorted(tops - KEEP_CONTRACTS_MAY_IMPORT) for f, tops in imports_of("keep_contracts").items() if tops - KEEP_CONTRACTS_MAY_IMPORT
    }
    assert wrong == {}


def test_the_layers_are_read_from_real_imports():
    """The reading sees what a layer does import (else the tests above could not fail)."""
    assert "chain" in imports_of("operators")["operators/staking.py"]
    assert {"chain", "keep_contracts"} <= imports_of("initcontainer")["initcontainer/provision_operator.py"]
    assert "eth_abi" in imports_of("keep_contracts")["keep_contracts/staking.py"]
