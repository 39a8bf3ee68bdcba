"""The ``local`` stack under the real Pulumi CLI: what ``make local`` runs.

Everything it keeps lives under ``build/`` of the project, never in the repository:

* ``build/pulumi-state/``: the file backend (``PULUMI_BACKEND_URL=file://…``);
* ``build/local-secrets/``: 0600 files made once: the passphrase of the stack's passphrase secrets
  provider, a deployer key (funded on the local chain) and the operators' mnemonic;
* ``build/local-stack/Pulumi.local.yaml``: the stack's config as the CLI uses it: the committed
  ``Pulumi.local.yaml`` (the embedded default, kept pristine) plus the encryption salt and the
  ``secure:`` values that ``pulumi config set --secret`` wrote.  Every command gets it through
  ``--config-file``; ``local_pulumi`` (``scripts/pulumi-local``) adds it for you.

The chain: if something answers JSON-RPC at the stack's ``rpcUrl`` it must be on the stack's chain
id; if nothing listens there, anvil is started on exactly that port; anything else is an error.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional, Sequence
from urllib.parse import urlparse

import yaml

from .engine import Engine, EngineError, locate_engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = "local"
PROJECT = "keep-cd"
BUILD = os.path.join(ROOT, "build")
STATE_DIR = os.path.join(BUILD, "pulumi-state")
SECRETS_DIR = os.path.join(BUILD, "local-secrets")
STACK_DIR = os.path.join(BUILD, "local-stack")
CONFIG_FILE = os.path.join(STACK_DIR, f"Pulumi.{STACK}.yaml")
COMMITTED_CONFIG = os.path.join(ROOT, f"Pulumi.{STACK}.yaml")
PASSPHRASE_FILE = os.path.join(SECRETS_DIR, "passphrase")
# Secret config the program needs, and the local file each comes from.
SECRET_CONFIG = {"deployerPrivateKey": "deployer.key", "operatorMnemonic": "operators.mnemonic"}
# Commands that take --stack and --config-file (the others take neither or only --stack).
_CONFIG_FILE_COMMANDS = {"up", "preview", "refresh", "destroy", "import", "config", "watch"}
_STACK_COMMANDS = _CONFIG_FILE_COMMANDS | {"stack", "state", "cancel"}


class LocalStackError(Exception):
    """What stops the local stack before anything is sent; one line saying what to do."""


def _secret_file(name: str, make) -> str:
    """The content of build/local-secrets/<name>, made once by ``make()`` with mode 0600."""
    os.makedirs(SECRETS_DIR, mode=0o700, exist_ok=True)
    path = os.path.join(SECRETS_DIR, name)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    with open(path) as f:
        return f.read().strip()


def passphrase() -> str:
    return _secret_file("passphrase", lambda: secrets.token_hex(32))


def deployer_key() -> str:
    from eth_account import Account

    return _secret_file(SECRET_CONFIG["deployerPrivateKey"], lambda: Account.create().key.hex())


def operator_mnemonic() -> str:
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return _secret_file(SECRET_CONFIG["operatorMnemonic"], lambda: Account.create_with_mnemonic()[1])


def committed_config() -> dict:
    with open(COMMITTED_CONFIG) as f:
        return (yaml.safe_load(f) or {}).get("config") or {}


def _config_value(config: dict, key: str) -> Optional[str]:
    for k in (f"{PROJECT}:{key}", key):
        if k in config:
            return config[k]
    return None


@dataclass(frozen=True)
class LocalChain:
    rpc_url: str
    chain_id: int
    port: int


def local_chain_settings(config: Optional[dict] = None) -> LocalChain:
    """The local stack's rpcUrl and chainId, validated before anything starts: an http URL on a
    loopback address with an explicit port (that is where anvil would be started)."""
    config = committed_config() if config is None else config
    rpc_url = _config_value(config, "rpcUrl")
    chain_id = _config_value(config, "chainId")
    if not isinstance(rpc_url, str):
        raise LocalStackError(f"{COMMITTED_CONFIG}: keep-cd:rpcUrl is {rpc_url!r}, expected e.g. http://127.0.0.1:8545")
    url = urlparse(rpc_url)
    if url.scheme != "http" or url.hostname not in ("127.0.0.1", "localhost", "::1") or url.port is None:
        raise LocalStackError(
            f"{COMMITTED_CONFIG}: keep-cd:rpcUrl {rpc_url!r} is not a local chain URL (expected http://127.0.0.1:<port>)"
        )
    try:
        chain_id_int = int(str(chain_id))
    except ValueError:
        raise LocalStackError(f"{COMMITTED_CONFIG}: keep-cd:chainId is {chain_id!r}, expected an integer such as 31337") from None
    return LocalChain(rpc_url, chain_id_int, url.port)


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def ensure_local_chain(chain: LocalChain) -> Optional[int]:
    """Make sure the stack's chain answers at its rpcUrl; returns the pid of an anvil started here.

    Never starts a chain on another port, and never claims to have started one that was there."""
    from offline_stack.anvil import rpc, start_anvil

    try:
        found = int(rpc(chain.rpc_url, "eth_chainId", [], timeout=2.0), 16)
    except Exception:
        found = None
    if found is not None:
        if found != chain.chain_id:
            raise LocalStackError(
                f"{chain.rpc_url} answers with chain id {found}, but the local stack's keep-cd:chainId is {chain.chain_id}: "
                f"stop that node or change {os.path.basename(COMMITTED_CONFIG)}"
            )
        return None
    if _port_in_use(chain.port):
        raise LocalStackError(f"{chain.rpc_url}: port {chain.port} is held by a process that does not answer JSON-RPC; free it or change keep-cd:rpcUrl")
    os.makedirs(BUILD, exist_ok=True)
    started = start_anvil(chain.port, chain_id=chain.chain_id, log_path=os.path.join(BUILD, "anvil.log"), detach=True)
    with open(os.path.join(BUILD, "anvil.pid"), "w") as f:
        f.write(str(started.process.pid))
    print(f"started anvil at {chain.rpc_url} (pid {started.process.pid}; `make stop-anvil` stops it)", file=sys.stderr)
    return started.process.pid


def fund_deployer(chain: LocalChain, key: str) -> None:
    """Top the local deployer up on anvil (its cheat code: a local chain has no faucet)."""
    from eth_account import Account

    from offline_stack.anvil import rpc

    address = Account.from_key(key).address
    if int(rpc(chain.rpc_url, "eth_getBalance", [address, "latest"]), 16) < 10**21:
        rpc(chain.rpc_url, "anvil_setBalance", [address, hex(10**22)])


def local_env(engine: Engine) -> dict:
    """The environment of every pulumi command on the local stack (no passphrase in it: a file)."""
    os.makedirs(STATE_DIR, exist_ok=True)
    passphrase()  # made once
    env = engine.env(PULUMI_BACKEND_URL="file://" + STATE_DIR, PULUMI_CONFIG_PASSPHRASE_FILE=PASSPHRASE_FILE)
    env.pop("PULUMI_CONFIG_PASSPHRASE", None)
    env.pop("PULUMI_ACCESS_TOKEN", None)
    return env


def local_args(args: Sequence[str]) -> list:
    """``args`` with ``--stack local`` and ``--config-file`` added where the command takes them."""
    args = list(args)
    if not args:
        return args
    command = args[0]
    extra = []
    if command in _STACK_COMMANDS and "--stack" not in args and "-s" not in args and not (command == "stack" and args[1:2] in (["init"], ["ls"])):
        extra += ["--stack", STACK]
    if command in _CONFIG_FILE_COMMANDS and "--config-file" not in args:
        extra += ["--config-file", CONFIG_FILE]
    return args + extra


def run_local(engine: Engine, args: Sequence[str], *, capture: bool = False, input_text: Optional[str] = None, check: bool = True, timeout: Optional[float] = None):
    """Run ``pulumi <args>`` for the local stack from the project root."""
    cmd = [engine.pulumi, *local_args(args)]
    proc = subprocess.run(
        cmd, cwd=ROOT, env=local_env(engine), text=True, input=input_text, capture_output=capture, timeout=timeout
    )
    if check and proc.returncode != 0:
        detail = (proc.stderr or "").strip().splitlines()[-1:] if capture else []
        raise LocalStackError(f"pulumi {' '.join(args[:2])}: exit {proc.returncode}" + (f": {detail[0]}" if detail else ""))
    return proc


def stack_exists(engine: Engine) -> bool:
    proc = run_local(engine, ["stack", "ls", "--json"], capture=True)
    return any(s.get("name", "").split("/")[-1] == STACK for s in json.loads(proc.stdout or "[]"))


def write_config_file() -> dict:
    """build/local-stack/Pulumi.local.yaml: the committed config, plus what the CLI keeps there
    (encryption salt, secure values).  Returns the file's content."""
    current: dict = {}
    if os.path.exists(CONFIG_FILE):
        with open(CONFIG_FILE) as f:
            current = yaml.safe_load(f) or {}
    merged: dict = {"config": dict(committed_config())}
    for key, value in (current.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            merged["config"][key] = value
    if current.get("encryptionsalt"):
        merged["encryptionsalt"] = current["encryptionsalt"]
    os.makedirs(STACK_DIR, exist_ok=True)
    tmp = CONFIG_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write("# Generated by keep-cd (pulumi_cli/local_stack.py) from Pulumi.local.yaml; secure values set by `pulumi config set --secret`.\n")
        yaml.safe_dump(merged, f, sort_keys=True)
    os.replace(tmp, CONFIG_FILE)
    return merged


def init_stack(engine: Engine) -> None:
    """Create the local stack with the passphrase secrets provider, keeping the committed
    Pulumi.local.yaml untouched: `stack init` writes the encryption salt into the stack's config
    file, so it runs from build/local-stack/ (a copy of Pulumi.yaml) and the salt lands there."""
    os.makedirs(STACK_DIR, exist_ok=True)
    with open(os.path.join(ROOT, "Pulumi.yaml")) as src, open(os.path.join(STACK_DIR, "Pulumi.yaml"), "w") as dst:
        dst.write(src.read())
    salted = os.path.exists(CONFIG_FILE) and "encryptionsalt" in (yaml.safe_load(open(CONFIG_FILE)) or {})
    if not salted and os.path.exists(CONFIG_FILE):
        os.remove(CONFIG_FILE)  # secure values without their salt cannot be read back
    run_local(engine, ["stack", "init", STACK, "--secrets-provider", "passphrase", "--cwd", STACK_DIR], capture=True)


def set_secrets(engine: Engine, values: dict) -> list:
    """``pulumi config set --secret`` each value that the config file does not hold already (the
    value goes through stdin, never a command line); returns the keys set."""
    shown = json.loads(run_local(engine, ["config", "--show-secrets", "--json"], capture=True).stdout or "{}")
    changed = []
    for key, value in values.items():
        if (shown.get(f"{PROJECT}:{key}") or {}).get("value") == value:
            continue
        run_local(engine, ["config", "set", "--secret", key], capture=True, input_text=value)
        changed.append(key)
    return changed


def prepare(engine: Engine, *, fund: bool = True) -> LocalChain:
    """Everything `pulumi up` on the local stack needs: chain, secrets, backend, stack, config."""
    chain = local_chain_settings()
    if fund:
        ensure_local_chain(chain)
    key = deployer_key()
    if fund:
        fund_deployer(chain, key)
    if not stack_exists(engine):
        init_stack(engine)
    write_config_file()
    set_secrets(engine, {"deployerPrivateKey": key, "operatorMnemonic": operator_mnemonic()})
    return chain


def up(extra_args: Sequence[str] = ()) -> int:
    """`make local`: a real `pulumi up` on the local stack, then its outputs."""
    try:
        engine = locate_engine()
        print(f"pulumi {engine.version} ({engine.source}: {engine.pulumi})", file=sys.stderr)
        prepare(engine)
        run_local(engine, ["up", "--yes", "--skip-preview", *extra_args])
        run_local(engine, ["stack", "output", "--json"])
    except (EngineError, LocalStackError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
