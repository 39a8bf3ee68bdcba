"""Shared fixtures: real anvil and geth chains on 127.0.0.1 with free ports, funded fresh accounts,
and our fixture contracts compiled with solc-js.

``dev_chain_factory`` / ``fresh_chain`` are parametrized over both chains: a test that takes them
runs once on anvil (automine, as before) and once on ``geth --dev`` with 1-second blocks
(bench/chains/geth.py; accounts funded by transfers from its developer account)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager

import pytest

from bench.chains.anvil import start_anvil
from bench.chains.geth import start_geth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHAIN_KINDS = ("anvil", "geth")

KEEP_ARTIFACTS = os.path.join(ROOT, "build", "keep-core", "artifacts")
FIXTURE_SOURCES = os.path.join(ROOT, "tests", "fixtures", "contracts")


@pytest.fixture(scope="session")
def anvil():
    """One automining anvil for tests that do not care about timing or a fresh chain."""
    chain = start_anvil()
    yield chain
    chain.stop()


@contextmanager
def stopped_at_exit(start):
    """``make(**kwargs)``: chains started by ``start`` (anvil's or geth's), all stopped at exit."""
    chains = []

    def make(**kwargs):
        chain = start(**kwargs)
        chains.append(chain)
        return chain

    try:
        yield make
    finally:
        for chain in chains:
            chain.stop()


@pytest.fixture
def anvil_factory():
    """Start fresh anvils (e.g. with --block-time) that stop at the end of the test."""
    with stopped_at_exit(start_anvil) as make:
        yield make


@pytest.fixture
def fresh_anvil(anvil_factory):
    return anvil_factory()


@pytest.fixture
def geth_factory():
    """Start fresh `geth --dev` chains (1-second blocks, a fresh data directory each) that stop at
    the end of the test."""
    with stopped_at_exit(start_geth) as make:
        yield make


@pytest.fixture(params=CHAIN_KINDS)
def dev_chain_factory(request, anvil_factory, geth_factory):
    """``make(port=None)``: a fresh chain of this test's kind (anvil automining, or geth with 1 s
    blocks); ``make.kind`` says which."""

    def make(port=None):
        if request.param == "geth":
            return geth_factory(port=port)
        chain = anvil_factory(port=port)
        chain.kind = "anvil"
        return chain

    make.kind = request.param
    return make


@pytest.fixture
def fresh_chain(dev_chain_factory):
    return dev_chain_factory()


def compile_fixtures(out_dir: str, source_dir: str = FIXTURE_SOURCES) -> str:
    subprocess.run(["node", os.path.join(ROOT, "tests", "fixtures", "compile.js"), out_dir, source_dir], check=True)
    return out_dir


def _fixture_build_key(source_dir: str = FIXTURE_SOURCES) -> str:
    """What the compiled fixtures depend on: the compiler script, the sources and the locked solc."""
    h = hashlib.sha256()
    inputs = [os.path.join(ROOT, "tests", "fixtures", "compile.js"), os.path.join(ROOT, "package-lock.json")]
    inputs += [os.path.join(source_dir, f) for f in sorted(os.listdir(source_dir))]
    for path in inputs:
        h.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read() + b"\0")
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def fixture_artifacts():
    """Directory with truffle/, hardhat/ and foundry/ artifacts of tests/fixtures/contracts.

    Compiled once per content of its inputs into ~/.cache/keep-cd/ (tests treat it as read-only):
    mutation testing (`make mutation`) starts a test session per mutant, and solc-js takes seconds."""
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "keep-cd", "fixture-artifacts")
    out = os.path.join(cache, _fixture_build_key())
    if not os.path.isdir(out):
        os.makedirs(cache, exist_ok=True)
        staging = tempfile.mkdtemp(dir=cache, prefix=".compiling-")
        compile_fixtures(staging)
        try:
            os.rename(staging, out)  # atomic: a concurrent session sees all of it or nothing
        except OSError:  # another session got there first with the same content
            shutil.rmtree(staging, ignore_errors=True)
    return out


@pytest.fixture
def editable_sources(tmp_path):
    """A copy of the fixture sources that a test may edit, plus a function to recompile them."""
    src = tmp_path / "src"
    shutil.copytree(FIXTURE_SOURCES, src)
    out = tmp_path / "artifacts"

    def build():
        compile_fixtures(str(out), str(src))
        return str(out / "truffle")

    return src, build


@pytest.fixture(scope="session")
def keep_artifacts():
    if not os.path.isdir(KEEP_ARTIFACTS):
        pytest.fail(f"{KEEP_ARTIFACTS} missing: run `make setup` (scripts/fetch_keep_artifacts.sh)")
    return KEEP_ARTIFACTS


@pytest.fixture(scope="session", autouse=True)
def operator_mnemonic():
    """A fresh keep-cd:operatorMnemonic for every test that runs a stack with operators (as `make
    local` makes one in build/local-secrets/); a test's config override wins over it."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    saved = os.environ.get("KEEP_CD_OPERATOR_MNEMONIC")
    os.environ["KEEP_CD_OPERATOR_MNEMONIC"] = saved or Account.create_with_mnemonic()[1]
    yield os.environ["KEEP_CD_OPERATOR_MNEMONIC"]
    if saved is None:
        os.environ.pop("KEEP_CD_OPERATOR_MNEMONIC", None)


def pytest_unconfigure(config):
    """Remove the session's base temp directories once empty (pytest.ini removes what passing
    tests put there): a passing run leaves nothing in the system temp directory."""
    base = getattr(getattr(config, "_tmp_path_factory", None), "_basetemp", None)
    if base is not None:
        for directory in (base, base.parent):  # pytest-<n>, then pytest-of-<user>
            try:
                os.rmdir(directory)
            except OSError:
                pass  # not empty: a failed test's files, or another session's


# Keep contracts on anvil for the operator tests (tests/keep_chain.py).
pytest_plugins = ["keep_chain"]


# Fixtures that start geth (bench/chains/geth.py), and the parameter value by which a test taking
# both chains (dev_chain_factory, fresh_chain, keep_dev_chain, or its own `kind`/`chain` parameter)
# names its geth variant.
GETH_FIXTURES = {"keep_geth_chain"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "geth" in params.values() or GETH_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.geth)
