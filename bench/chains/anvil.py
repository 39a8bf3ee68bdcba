"""A local anvil chain for `make local`, the tests and the benchmarks.

The binary comes from npm (@foundry-rs/anvil-linux-amd64, pinned in package.json).  Accounts are
never anvil's well-known dev keys: callers make a fresh key and fund it with anvil_setBalance, so
no private key lives in the repository.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass

import requests
from eth_account import Account

from bench import PROJECT_ROOT

HERE = PROJECT_ROOT
ANVIL_BIN = os.path.join(HERE, "node_modules", ".bin", "anvil")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(url: str, method: str, params: list, timeout: float = 5.0):
    r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=timeout)
    body = r.json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body["result"]


def is_up(url: str) -> bool:
    try:
        rpc(url, "eth_chainId", [], timeout=1.0)
        return True
    except Exception:
        return False


@dataclass
class Anvil:
    url: str
    port: int
    chain_id: int
    process: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def fund(self, address: str, wei: int = 10**22) -> None:
        rpc(self.url, "anvil_setBalance", [address, hex(wei)])

    def new_account(self, wei: int = 10**22):
        acct = Account.create()
        self.fund(acct.address, wei)
        return acct

    def mine(self, blocks: int = 1) -> None:
        rpc(self.url, "anvil_mine", [hex(blocks)])


def start_anvil(
    port: int | None = None,
    *,
    block_time: float | None = None,
    chain_id: int = 31337,
    gas_limit: int | None = None,
    log_path: str | None = None,
    detach: bool = False,
    extra_args: tuple = (),
) -> Anvil:
    """Start anvil on 127.0.0.1 and wait until it answers."""
    if not os.path.exists(ANVIL_BIN):
        raise FileNotFoundError(f"{ANVIL_BIN}: not found (run `npm ci` or `make setup`)")
    port = port or free_port()
    args = [ANVIL_BIN, "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id), "--accounts", "1"]
    if block_time:
        args += ["--block-time", str(block_time)]
    if gas_limit:
        args += ["--gas-limit", str(gas_limit)]
    args += list(extra_args)
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=detach)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not is_up(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"anvil on port {port} did not start (exit {proc.poll()})")
        time.sleep(0.05)
    return Anvil(url=url, port=port, chain_id=chain_id, process=proc)
