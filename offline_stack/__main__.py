"""`python -m offline_stack <stack>`: run the program without the Pulumi CLI (what `make local` does).

For the `local` stack it makes sure an anvil is listening at the stack's rpcUrl (starting one in
the background if not), makes and funds a deployer key and makes the operators' mnemonic (every
client's key derives from it), both kept in build/local-secrets/ (never in the repository), then
runs the program and prints the stack outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from urllib.parse import urlparse

from .anvil import is_up, rpc
from .runner import load_stack_config, run_stack

LOCAL_SECRETS = os.path.join("build", "local-secrets")


def ensure_local_chain(rpc_url: str, chain_id: int) -> None:
    if is_up(rpc_url):
        return
    from .anvil import start_anvil

    port = urlparse(rpc_url).port or 8545
    os.makedirs("build", exist_ok=True)
    chain = start_anvil(port, chain_id=chain_id, log_path=os.path.join("build", "anvil.log"), detach=True)
    with open(os.path.join("build", "anvil.pid"), "w") as f:
        f.write(str(chain.process.pid))
    print(f"started anvil at {rpc_url} (pid {chain.process.pid}; `make stop-anvil` stops it)", file=sys.stderr)


def local_deployer_key(rpc_url: str, fund: bool = True) -> str:
    """A deployer key for the local chain: made once, stored 0600 under build/, funded on anvil
    (not for a preview or a report: they change nothing, the chain included)."""
    from eth_account import Account

    os.makedirs(LOCAL_SECRETS, mode=0o700, exist_ok=True)
    path = os.path.join(LOCAL_SECRETS, "deployer.key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Account.create().key.hex())
    with open(path) as f:
        key = f.read().strip()
    address = Account.from_key(key).address
    if fund and int(rpc(rpc_url, "eth_getBalance", [address, "latest"]), 16) < 10**21:
        rpc(rpc_url, "anvil_setBalance", [address, hex(10**22)])
    return key


def local_operator_mnemonic() -> str:
    """The local stack's operator mnemonic: made once, stored 0600 under build/ (never in the repo)."""
    from eth_account import Account

    os.makedirs(LOCAL_SECRETS, mode=0o700, exist_ok=True)
    path = os.path.join(LOCAL_SECRETS, "operators.mnemonic")
    if not os.path.exists(path):
        Account.enable_unaudited_hdwallet_features()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Account.create_with_mnemonic()[1])
    with open(path) as f:
        return f.read().strip()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m offline_stack", description=__doc__.splitlines()[0])
    ap.add_argument("stack", help="stack name: Pulumi.<stack>.yaml")
    ap.add_argument("--preview", action="store_true", help="check and diff only; sends nothing")
    ap.add_argument("--report", action="store_true", help="print the change report (a preview; sends nothing)")
    ap.add_argument("--pulumi-export", metavar="FILE", help="with --report: the last deployed state from `pulumi stack export`")
    ap.add_argument("--state", help="state file (default build/state/<stack>.json)")
    ap.add_argument(
        "--manifests",
        metavar="DIR",
        help="write every Kubernetes object as YAML into DIR (default for the local stack: build/manifests; not in --preview)",
    )
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="override a stack config value")
    args = ap.parse_args(argv)
    overrides = dict(kv.split("=", 1) for kv in args.config)
    state = args.state or os.path.join("build", "state", f"{args.stack}.json")
    config, _ = load_stack_config(".", args.stack)
    config.update({(k if ":" in k else f"keep-cd:{k}"): v for k, v in overrides.items()})
    if args.stack == "local":
        rpc_url = config.get("keep-cd:rpcUrl", "http://127.0.0.1:8545")
        read_only = args.preview or args.report
        if not read_only:
            ensure_local_chain(rpc_url, int(config.get("keep-cd:chainId", "31337")))
        if not os.environ.get("KEEP_CD_DEPLOYER_KEY") and (not read_only or os.path.exists(os.path.join(LOCAL_SECRETS, "deployer.key"))):
            os.environ["KEEP_CD_DEPLOYER_KEY"] = local_deployer_key(rpc_url, fund=not read_only)
        args.manifests = args.manifests or os.path.join("build", "manifests")
        os.environ.setdefault("KEEP_CD_OPERATOR_MNEMONIC", local_operator_mnemonic())
    if args.report:
        from .change_report import change_report

        try:
            lines = change_report(args.stack, state_path=state, config_overrides=overrides, pulumi_export=args.pulumi_export)
            print("\n".join(lines))
        except Exception as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    try:
        result = run_stack(args.stack, state_path=state, preview=args.preview, config_overrides=overrides)
    except Exception as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for name, op in sorted(result.dynamic_ops.items()):
        print(f"{'preview' if args.preview else 'applied'}: {name}: {op}", file=sys.stderr)
    if args.manifests and not args.preview:
        from .manifests import write_manifests

        paths = write_manifests(result.resources, args.manifests)
        print(f"manifests: {len(paths)} Kubernetes objects written to {args.manifests}/", file=sys.stderr)
    print(json.dumps(result.outputs, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
