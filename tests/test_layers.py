"""Every keep-cd package imports downward only.  The program: chain/ and keep_contracts/ at the
bottom, then contracts_step/ and operators/, then components/, settings/ and the program's
__main__.py; initcontainer/ (the image) beside them on chain/ and keep_contracts/ alone.  The
workbench (bench/) sits above the whole program, and nothing in the program imports it; inside it,
gobuild/ at the bottom and benchmarks/ at the top.  Read from the sources' import statements
(module level and inside functions alike), so a lazy import counts too."""

from __future__ import annotations

import ast
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = ("chain", "keep_contracts", "contracts_step", "operators", "components", "initcontainer", "settings")
WORKBENCH = tuple(
    f"bench/{name}"
    for name in sorted(os.listdir(os.path.join(ROOT, "bench")))
    if os.path.isfile(os.path.join(ROOT, "bench", name, "__init__.py"))
)
# package -> the keep-cd packages it may import (itself always; "bench" is the workbench's root module).
MAY_IMPORT = {
    "chain": set(),
    "keep_contracts": set(),
    "contracts_step": {"chain"},
    "operators": {"chain", "keep_contracts"},
    "components": {"chain", "keep_contracts", "operators"},
    "initcontainer": {"chain", "keep_contracts"},
    "settings": {"chain", "keep_contracts", "contracts_step", "operators", "components"},
    "__main__.py": {"chain", "keep_contracts", "contracts_step", "operators", "components", "settings"},
    "bench/gobuild": {"keep_contracts"},
    "bench/chains": {"bench", "bench/gobuild"},
    "bench/offline": {"bench", *PROGRAM},
    "bench/ci": {"bench", "bench/gobuild", "bench/offline", *PROGRAM},
    "bench/engine": {"bench", "bench/gobuild", "bench/chains", "bench/offline", *PROGRAM},
    "bench/cluster": {"bench", "bench/gobuild", "bench/chains", "bench/engine", *PROGRAM},
    "bench/fleet": {"bench", "bench/gobuild", "bench/chains", "bench/engine", *PROGRAM},
    "bench/soak": {"bench", "bench/chains", *PROGRAM},
    "bench/benchmarks": {"bench", *WORKBENCH, *PROGRAM},
}
# keep_contracts/ goes into the InitContainer image: the standard library, eth_abi and eth_utils only.
KEEP_CONTRACTS_MAY_IMPORT = {"eth_abi", "eth_utils", "keep_contracts"} | set(sys.stdlib_module_names) | {"__future__"}


def _package_of(module: str) -> str | None:
    """The keep-cd package an absolute import names (``bench.fleet.runner`` -> ``bench/fleet``)."""
    parts = module.split(".")
    if parts[0] == "bench":
        sub = f"bench/{parts[1]}" if len(parts) > 1 else "bench"
        return sub if sub in WORKBENCH else "bench"
    return parts[0] if parts[0] in PROGRAM else None


def imports_of(package: str, *, keep_cd_only: bool = True) -> dict:
    """module file -> what its absolute imports reach: keep-cd packages, or every top-level name."""
    path = os.path.join(ROOT, package)
    paths = [path] if path.endswith(".py") else [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.endswith(".py")]
    out = {}
    for file in paths:
        modules = []
        for node in ast.walk(ast.parse(open(file).read())):
            if isinstance(node, ast.Import):
                modules += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.append(node.module)
        if keep_cd_only:
            out[os.path.relpath(file, ROOT)] = {p for p in map(_package_of, modules) if p is not None}
        else:
            out[os.path.relpath(file, ROOT)] = {m.split(".")[0] for m in modules}
    return out


def test_every_package_has_a_layer():
    on_disk = {n for n in os.listdir(ROOT) if os.path.isfile(os.path.join(ROOT, n, "__init__.py")) and n != "bench"}
    assert on_disk | set(WORKBENCH) | {"__main__.py"} == set(MAY_IMPORT)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_nothing_above_it(package):
    allowed = MAY_IMPORT[package] | {package}
    wrong = {f: sorted(tops - allowed) for f, tops in imports_of(package).items() if tops - allowed}
    assert wrong == {}


def test_keep_contracts_imports_only_what_the_image_has():
    wrong = {
        f: sorted(tops - KEEP_CONTRACTS_MAY_IMPORT)
        for f, tops in imports_of("keep_contracts", keep_cd_only=False).items()
        if tops - KEEP_CONTRACTS_MAY_IMPORT
    }
    assert wrong == {}


def test_the_layers_are_read_from_real_imports():
    """The reading sees what a layer does import (else the tests above could not fail)."""
    assert "chain" in imports_of("operators")["operators/staking.py"]
    assert {"chain", "keep_contracts"} <= imports_of("initcontainer")["initcontainer/provision_operator.py"]
    assert "eth_abi" in imports_of("keep_contracts", keep_cd_only=False)["keep_contracts/staking.py"]
    assert {"bench/engine", "bench/gobuild"} <= imports_of("bench/fleet")["bench/fleet/runner.py"]
    assert "bench/gobuild" in imports_of("bench/ci")["bench/ci/versions.py"]
