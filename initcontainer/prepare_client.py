#!/usr/bin/env python3
"""keep-client's InitContainer: put a checked config and keyfile on the client's volume, and only
once the chain is ready for it.

  1. reads keep-client-config.toml (from the ConfigMap) and the V3 keyfile (from the Secret) and
     checks what keep-client would choke on (integer port, no empty peer, address = keyfile's);
  2. asks the chain (the config's URLRPC, plain JSON-RPC) for its chain id and for code at every
     configured contract address;
  3. writes both files into the volume (config 0644, keyfile 0600, atomically) and makes DataDir.

Nothing is sent to the chain.  On failure it prints one line, ``prepare-client: <reason>``, and
exits non-zero: 2 for bad input (a new rollout must fix it), 3 for a chain that is not ready or not
reachable (the pod retries by itself).  Standard library only: the image needs nothing but Python.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import tomllib
import urllib.error
import urllib.request

BAD_INPUT = 2
CHAIN_NOT_READY = 3
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class PrepareError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def bad(message: str) -> PrepareError:
    return PrepareError(BAD_INPUT, message)


def read_config(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            cfg = tomllib.load(f)
    except OSError as e:
        raise bad(f"config {path}: cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise bad(f"config {path}: not valid TOML ({e})") from None

    def get(*keys):
        node = cfg
        for k in keys:
            if not isinstance(node, dict) or k not in node:
                raise bad(f"config {path}: {'.'.join(keys)} is missing")
            node = node[k]
        return node

    for key in (("ethereum", "URL"), ("ethereum", "URLRPC"), ("ethereum", "account", "KeyFile"), ("Storage", "DataDir")):
        value = get(*key)
        if not isinstance(value, str) or not value:
            raise bad(f"config {path}: {'.'.join(key)} is {value!r} (expected a non-empty string)")
    address = get("ethereum", "account", "Address")
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise bad(f"config {path}: ethereum.account.Address {address!r} is not a 20-byte hex address")
    contracts = get("ethereum", "ContractAddresses")
    if not isinstance(contracts, dict) or not contracts:
        raise bad(f"config {path}: ethereum.ContractAddresses is empty")
    for name, value in contracts.items():
        if not isinstance(value, str) or not _ADDRESS.match(value):
            raise bad(f"config {path}: ethereum.ContractAddresses.{name} {value!r} is not a 20-byte hex address")
    port = get("LibP2P", "Port")
    if type(port) is not int or not 0 < port < 65536:  # 3919.0 once crashed the client
        raise bad(f"config {path}: LibP2P.Port {port!r} is not an integer port")
    for peer_key in ("Peers", "AnnouncedAddresses"):
        values = cfg["LibP2P"].get(peer_key, [])
        if not isinstance(values, list) or any(not isinstance(v, str) or not v.strip() for v in values):
            raise bad(f"config {path}: LibP2P.{peer_key} has an empty or non-string entry")
    return cfg


def read_keyfile(path: str, address: str) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        keyfile = json.loads(raw)
    except OSError as e:
        raise bad(f"keyfile {path}: cannot read ({e.strerror})") from None
    except ValueError:
        raise bad(f"keyfile {path}: not JSON (expected a V3 keystore)") from None
    if not isinstance(keyfile, dict) or keyfile.get("version") != 3 or not isinstance(keyfile.get("crypto"), dict):
        raise bad(f"keyfile {path}: not a V3 keystore (expected version 3 with a crypto section)")
    if str(keyfile.get("address", "")).lower().removeprefix("0x") != address.lower().removeprefix("0x"):
        raise bad(f"keyfile {path}: holds account 0x{keyfile.get('address')}, config says {address}")
    return raw


def rpc(url: str, method: str, params: list, timeout: float):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            answer = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e.__class__.__name__
        raise PrepareError(CHAIN_NOT_READY, f"chain {url}: unreachable ({reason}); will retry") from None
    if "error" in answer:
        raise PrepareError(CHAIN_NOT_READY, f"chain {url}: {method} failed ({answer['error']}); will retry")
    return answer["result"]


def check_chain(cfg: dict, chain_id: int | None, timeout: float) -> None:
    url = cfg["ethereum"]["URLRPC"]
    if chain_id is not None:
        actual = int(rpc(url, "eth_chainId", [], timeout), 16)
        if actual != chain_id:
            raise bad(f"chain {url}: chain id {actual}, expected {chain_id} (the stack's chainId)")
    for name, address in cfg["ethereum"]["ContractAddresses"].items():
        code = rpc(url, "eth_getCode", [address, "latest"], timeout)
        if code in ("0x", "0x0", "", None):
            raise PrepareError(CHAIN_NOT_READY, f"chain {url}: no code at {name} {address} yet (contracts not migrated?); will retry")


def write_atomically(path: str, data: bytes, mode: int) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def prepare(config_source: str, keyfile_source: str, config_dir: str, chain_id: int | None = None, timeout: float = 5.0) -> dict:
    cfg = read_config(config_source)
    key_file = cfg["ethereum"]["account"]["KeyFile"]
    config_dir = os.path.normpath(config_dir)
    if os.path.dirname(os.path.normpath(key_file)) != config_dir:
        raise bad(f"config {config_source}: ethereum.account.KeyFile {key_file} is not in {config_dir} (the volume)")
    keyfile = read_keyfile(keyfile_source, cfg["ethereum"]["account"]["Address"])
    check_chain(cfg, chain_id, timeout)
    with open(config_source, "rb") as f:
        write_atomically(os.path.join(config_dir, os.path.basename(config_source)), f.read(), 0o644)
    write_atomically(key_file, keyfile, 0o600)
    os.makedirs(cfg["Storage"]["DataDir"], mode=0o700, exist_ok=True)
    return cfg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config-source", required=True, help="keep-client-config.toml from the ConfigMap")
    ap.add_argument("--keyfile-source", required=True, help="V3 keyfile from the Secret")
    ap.add_argument("--config-dir", required=True, help="directory on the client's volume to write both to")
    ap.add_argument("--chain-id", type=int, help="refuse a chain with another id")
    ap.add_argument("--rpc-timeout", type=float, default=5.0)
    args = ap.parse_args(argv)
    try:
        cfg = prepare(args.config_source, args.keyfile_source, args.config_dir, args.chain_id, args.rpc_timeout)
    except PrepareError as e:
        print(f"prepare-client: {e}", file=sys.stderr)
        return e.code
    print(f"prepare-client: ready: {cfg['ethereum']['account']['Address']} configured in {args.config_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
