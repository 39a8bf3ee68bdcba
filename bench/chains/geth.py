"""geth in developer mode: the second real chain for the tests, the benchmarks and `make local`.

The binary is built from the Go module github.com/ethereum/go-ethereum (``python3 -m bench.gobuild
geth``, pinned in bench/gobuild/targets.py).  ``start_geth`` runs ``geth --dev --dev.period N`` on
127.0.0.1 with a data directory of its own, HTTP JSON-RPC only (eth, net, web3, txpool, debug),
no peers and no IPC, and waits until it answers.

Accounts are funded by ordinary transfers from the node's developer account (``eth_accounts[0]``,
unlocked by ``--dev``), never by cheat codes: geth has none.  A node with no unlocked account
cannot fund anything and says so in one line (``DevChainError``) before a transaction is sent.

geth's developer chain has chain id 1337 (``params.AllDevChainProtocolChanges``; ``--dev`` does
not take another) and the same genesis block in every fresh data directory (docs/geth.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import requests
from eth_account import Account

from bench.chains.anvil import free_port, is_up, rpc

GETH_DEV_CHAIN_ID = 1337
# anvil's default block gas limit, so both chains pack the same plan into the same blocks.
# (geth's own --dev default is 11.5M, moving towards --miner.gaslimit by 1/1024 per block.)
DEFAULT_GAS_LIMIT = 30_000_000
HTTP_APIS = "eth,net,web3,txpool,debug"
# What keep-client reads over websocket: calls, transactions and event subscriptions.
WS_APIS = "eth,net,web3"
# The names pods of a local cluster (minikube, Docker Desktop, k3d) reach this machine under; the
# local stack's fleet names its chain by the first.  geth answers only the Host names it is told
# (--http.vhosts, against DNS rebinding), so these are told; the fleet runner maps them to 127.0.0.1.
HOST_ALIASES = ("host.minikube.internal", "host.docker.internal", "host.k3d.internal")


class DevChainError(Exception):
    """A dev chain that cannot be started or cannot do what is asked; one line, naming it."""


def geth_binary() -> str:
    """The pinned geth, built into keep-cd's cache first if it is not there (minutes, once)."""
    from bench.gobuild.build import BuildError, build
    from bench.gobuild.targets import TARGETS

    try:
        return os.path.join(build(TARGETS["geth"]), "geth")
    except BuildError as e:
        raise DevChainError(f"geth: not built ({e}); run `python3 -m bench.gobuild geth`") from None


def dev_account(url: str) -> str:
    """The node's unlocked account that pays for funding; a one-line error where there is none."""
    accounts = rpc(url, "eth_accounts", [])
    if not accounts:
        raise DevChainError(
            f"chain RPC {url}: no unlocked account to fund from (expected `geth --dev`, whose developer "
            "account is unlocked; on another node fund the deployer yourself and pass its key)"
        )
    return accounts[0]


def fund(url: str, balances: dict, *, timeout: float = 60.0) -> list:
    """Top every address up to at least its balance in wei (address -> wei) by transfers from the
    node's developer account; returns the transaction hashes once all are mined.

    One JSON-RPC batch of ``eth_sendTransaction`` (geth gives them consecutive nonces), then their
    receipts.  Nothing is sent when the node has no unlocked account.
    """
    source = dev_account(url)
    calls = []
    for address, wei in balances.items():
        have = int(rpc(url, "eth_getBalance", [address, "latest"]), 16)
        if have < wei:
            calls.append({"from": source, "to": address, "value": hex(wei - have)})
    if not calls:
        return []
    body = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction", "params": [c]} for i, c in enumerate(calls)]
    answers = sorted(requests.post(url, json=body, timeout=30).json(), key=lambda a: a["id"])
    failed = [a["error"]["message"] for a in answers if "error" in a]
    if failed:
        raise DevChainError(f"chain RPC {url}: funding from {source} refused: {failed[0]} (expected an unlocked developer account)")
    hashes = [a["result"] for a in answers]
    deadline = time.monotonic() + timeout
    for h in hashes:
        while True:
            receipt = rpc(url, "eth_getTransactionReceipt", [h])
            if receipt:
                if int(receipt["status"], 16) != 1:
                    raise DevChainError(f"chain RPC {url}: funding transaction {h} failed")
                break
            if time.monotonic() > deadline:
                raise DevChainError(f"chain RPC {url}: funding transaction {h} not mined after {timeout:.0f}s (is geth mining?)")
            time.sleep(0.05)
    return hashes


@dataclass
class Geth:
    url: str
    port: int
    chain_id: int
    datadir: str
    process: subprocess.Popen | None = None
    owns_datadir: bool = False  # made by start_geth: removed by stop()
    log_path: str | None = None
    period: int = 1
    kind: str = field(default="geth", init=False)

    def stop(self) -> None:
        """SIGTERM (geth flushes its database and exits), SIGKILL after 20 s; then the data directory
        goes if start_geth made it."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.owns_datadir:
            shutil.rmtree(self.datadir, ignore_errors=True)

    def fund(self, address: str, wei: int = 10**22) -> None:
        """Top ``address`` up to at least ``wei`` (anvil's ``fund`` sets it; geth only transfers)."""
        fund(self.url, {address: wei})

    def new_account(self, wei: int = 10**22):
        acct = Account.create()
        self.fund(acct.address, wei)
        return acct

    def wait_blocks(self, n: int = 1, timeout: float = 30.0) -> None:
        """Let ``n`` blocks pass (geth has no anvil_mine: time is what moves its chain)."""
        target = int(rpc(self.url, "eth_blockNumber", []), 16) + n
        deadline = time.monotonic() + timeout
        while int(rpc(self.url, "eth_blockNumber", []), 16) < target:
            if time.monotonic() > deadline:
                raise DevChainError(f"geth at {self.url}: no new block in {timeout:.0f}s (period {self.period})")
            time.sleep(0.1)


def geth_args(binary: str, port: int, datadir: str, *, period: int, gas_limit: int, extra_args: tuple = ()) -> list[str]:
    """The command line of ``geth --dev`` serving HTTP JSON-RPC on 127.0.0.1:``port``."""
    return [
        binary,
        "--dev",
        "--dev.period",
        str(period),
        "--dev.gaslimit",
        str(gas_limit),
        "--miner.gaslimit",
        str(gas_limit),
        "--datadir",
        datadir,
        "--http",
        "--http.addr",
        "127.0.0.1",
        "--http.port",
        str(port),
        "--http.api",
        HTTP_APIS,
        # keep-client subscribes to events over websocket: served on the HTTP port (geth shares one
        # listener when the two are configured alike), on loopback only.
        "--ws",
        "--ws.addr",
        "127.0.0.1",
        "--ws.port",
        str(port),
        "--ws.api",
        WS_APIS,
        "--http.vhosts",
        ",".join(("localhost", "127.0.0.1", *HOST_ALIASES)),
        # keep-client 1.x signs legacy transactions without a chain id (pre-EIP-155), which geth
        # refuses over RPC unless told otherwise; a dev chain on loopback may take them.
        "--rpc.allow-unprotected-txs",
        # geth --dev still opens an authenticated engine API (default 8551): a port of its own, so
        # several can run; no IPC socket, no peers.
        "--authrpc.addr",
        "127.0.0.1",
        "--authrpc.port",
        str(free_port()),
        "--ipcdisable",
        "--nodiscover",
        "--maxpeers",
        "0",
        "--verbosity",
        "2",
        *extra_args,
    ]


def _wait_answering(proc: subprocess.Popen, port: int, *, timeout: float, owned_datadir: str | None, log_path: str | None) -> None:
    """Wait until geth answers on ``port``; if it exits or the time runs out, kill it and remove
    ``owned_datadir`` (nothing half-done is left behind), then a one-line error."""
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while not is_up(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            if owned_datadir is not None:
                shutil.rmtree(owned_datadir, ignore_errors=True)
            where = f"; see {log_path}" if log_path else ""
            raise DevChainError(f"geth on 127.0.0.1:{port} did not start (exit {proc.poll()}{where})")
        time.sleep(0.1)


def start_geth(
    port: int | None = None,
    *,
    datadir: str | None = None,
    period: int = 1,
    gas_limit: int = DEFAULT_GAS_LIMIT,
    log_path: str | None = None,
    detach: bool = False,
    extra_args: tuple = (),
    timeout: float = 60.0,
) -> Geth:
    """Start ``geth --dev`` on 127.0.0.1:``port`` (a free one by default) and wait until it answers.

    ``datadir``: where the chain lives; None makes a fresh temporary one that ``stop()`` removes.
    A given directory is kept, so a restart on it continues the same chain (``make local``).
    ``period``: seconds per block (0: a block whenever a transaction arrives).
    ``detach``: its own session, so it outlives the caller (``make local``; stop it by its pid).
    """
    binary = geth_binary()
    port = port or free_port()
    if is_up(f"http://127.0.0.1:{port}"):
        raise DevChainError(f"geth: 127.0.0.1:{port} already answers JSON-RPC (expected a free port)")
    owns = datadir is None
    datadir = datadir or tempfile.mkdtemp(prefix="keep-cd-geth-")
    os.makedirs(datadir, exist_ok=True)
    args = geth_args(binary, port, datadir, period=period, gas_limit=gas_limit, extra_args=extra_args)
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=detach)
    _wait_answering(proc, port, timeout=timeout, owned_datadir=datadir if owns else None, log_path=log_path)
    url = f"http://127.0.0.1:{port}"
    chain_id = int(rpc(url, "eth_chainId", []), 16)
    return Geth(url=url, port=port, chain_id=chain_id, datadir=datadir, process=proc, owns_datadir=owns, log_path=log_path, period=period)
