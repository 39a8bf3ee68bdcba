"""`python -m bench.offline <stack>`: the program under mocks, its own dynamic resources executed
for real against a JSON state file: a quick ``--preview``, and runs for the tests and benchmarks.  `make local` is
the real engine (bench/engine/); this never starts a chain or makes a key: the deployer key and the
operators' mnemonic come from the environment (KEEP_CD_DEPLOYER_KEY, KEEP_CD_OPERATOR_MNEMONIC) or
the stack's config.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .runner import run_stack


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.offline", description=__doc__.splitlines()[0])
    ap.add_argument("stack", help="stack name: Pulumi.<stack>.yaml")
    ap.add_argument("--preview", action="store_true", help="check and diff only; sends nothing")
    ap.add_argument("--state", help="state file (default build/state/<stack>.json)")
    ap.add_argument(
        "--manifests",
        metavar="DIR",
        help="write every Kubernetes object as YAML into DIR, as the Kubernetes provider's renderYamlToDirectory does (not in --preview)",
    )
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="override a stack config value")
    args = ap.parse_args(argv)
    overrides = dict(kv.split("=", 1) for kv in args.config)
    state = args.state or os.path.join("build", "state", f"{args.stack}.json")
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
