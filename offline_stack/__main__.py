"""`python -m offline_stack <stack>`: the program under mocks, its own dynamic resources executed
for real against a JSON state file: the change report (``--report``, from the engine's state with
``--pulumi-export``), a quick ``--preview``, and runs for the tests and benchmarks.  `make local` is
the real engine (pulumi_cli/); this never starts a chain or makes a key: the deployer key and the
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
    ap = argparse.ArgumentParser(prog="python -m offline_stack", description=__doc__.splitlines()[0])
    ap.add_argument("stack", help="stack name: Pulumi.<stack>.yaml")
    ap.add_argument("--preview", action="store_true", help="check and diff only; sends nothing")
    ap.add_argument("--report", action="store_true", help="print the change report (a preview; sends nothing)")
    ap.add_argument("--pulumi-export", metavar="FILE", help="with --report: the last deployed state from `pulumi stack export`")
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
