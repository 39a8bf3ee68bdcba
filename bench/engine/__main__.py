"""``python -m bench.engine <command>``: the real Pulumi engine for keep-cd.

engine            build what is missing (``make engine``) and print which engine runs
env               shell exports that put the engine on PATH with its settings (CI: >> $BASH_ENV)
up-local [--chain anvil|geth]
                  ``make local``: a real ``pulumi up`` on the local stack, outputs printed
import-contracts (--truffle [NETWORK] | --hardhat-deploy DIR)
                  `pulumi import` into the local stack of a contract set another tool deployed
                  with its deployer key (contracts_step/import_source.py); sends nothing
local ARGS...     any pulumi command on the local stack (``scripts/pulumi-local ARGS``): the
                  stack, the config file, the file backend and the passphrase file are added
"""

from __future__ import annotations

import os
import sys


def show_engine(rest: list) -> int:
    from .engine import EngineError, locate_engine

    try:
        engine = locate_engine(build_missing=True)
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"pulumi {engine.version} ({engine.source}): {engine.pulumi}")
    return 0


def print_env(rest: list) -> int:
    import shlex

    from .engine import EngineError, locate_engine

    try:
        engine = locate_engine()
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    env = engine.env(base={"PATH": "$PATH"})
    for name in (
        "PATH",
        "PULUMI_HOME",
        "PULUMI_SKIP_UPDATE_CHECK",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
        "PULUMI_SKIP_CONFIRMATIONS",
    ):
        value = env[name] if name != "PATH" else env[name].replace("$PATH", "") + "$PATH"
        print(f"export {name}={shlex.quote(value) if name != 'PATH' else chr(34) + value + chr(34)}")
    return 0


def up_local(rest: list) -> int:
    from . import local_stack

    chain = "anvil"
    if rest[:1] == ["--chain"] and len(rest) > 1:
        chain, rest = rest[1], rest[2:]
    if rest:
        print(f"up-local: unexpected {' '.join(rest)} (expected at most --chain anvil|geth)", file=sys.stderr)
        return 2
    return local_stack.up(chain=chain)


def import_contracts(rest: list) -> int:
    from . import local_stack
    from .engine import EngineError, locate_engine

    try:
        ws = local_stack.local_workspace(locate_engine(), os.environ.get("CHAIN", "anvil"))
        ws.prepare(start_chain=False, fund=False)
        print(ws.import_contracts(rest))
    except (EngineError, local_stack.LocalStackError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def run_on_local_stack(rest: list) -> int:
    from . import local_stack
    from .engine import EngineError, locate_engine

    try:
        ws = local_stack.local_workspace(locate_engine(), os.environ.get("CHAIN", "anvil"))
        # Commands that may send need the chain up and the deployer funded; previews only read.
        sends = rest[:1] in (["up"], ["refresh"], ["import"], ["destroy"])
        ws.prepare(start_chain=sends, fund=sends, create=rest[:1] == ["up"])
        return ws.run(rest, check=False).returncode
    except (EngineError, local_stack.LocalStackError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


COMMANDS = {
    "engine": show_engine,
    "env": print_env,
    "up-local": up_local,
    "import-contracts": import_contracts,
    "local": run_on_local_stack,
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    return COMMANDS[command](rest)


if __name__ == "__main__":
    sys.exit(main())
