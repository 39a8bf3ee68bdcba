"""The change report reviewers read on a pull request: what `pulumi up` would do, and why.

It runs the program in preview (nothing is sent) against the stack's recorded state and the live
chain, then prints, for the current commit against the last deployed state:
  * each contract to deploy, re-point or reuse, and each post-deploy call, with its reason
    (bytecode changed, constructor args changed, dependency redeployed, chain reset, rollback);
  * each Deployment (keep-client) to create, roll or delete, with what changed in its pod template
    (config/key/contract-address checksum annotations, image);
  * each other dynamic resource (operators' staking) that would be created or updated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from bench.offline.manifests import kubernetes_object
from bench.offline.runner import RunResult, _load_state, run_stack

CONTRACTS_TYPE = "pulumi-python:dynamic/keep:ContractsMigration"
DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment"


def _contract_lines(preview: RunResult, state: dict) -> list:
    from contracts_step.migrate import open_migration
    from contracts_step.plan import MigrationPlan

    lines = []
    for res in preview.of_type(CONTRACTS_TYPE):
        news = res.inputs
        old = state["resources"].get(f"{CONTRACTS_TYPE}::{res.name}")
        olds = old["outputs"] if old else None
        deployer = (olds or {}).get("deployer") or "0x" + "00" * 20
        migration = open_migration(
            MigrationPlan.from_dict(news["plan"]),
            news.get("params") or {},
            news["artifacts_dir"],
            news["rpc_url"],
            int(news["chain_id"]),
            olds,
            deployer,
        )
        lines.append(f"contracts {res.name} (plan {news['plan_name']} on chain {int(news['chain_id'])}):")
        for d in migration.assess():
            where = f" {d.address}" if d.address and d.action in ("reuse", "repoint") else ""
            lines.append(f"  {d.action:<8} {d.kind:<8} {d.name}{where}: {d.reason}")
    return lines


# What the fleet's pod-template annotations stand for (components/keep_client.py).
ANNOTATION_REASONS = {
    "checksum/config": "config, key or contract addresses changed (checksum/config)",
    "keep-cd/contracts-hash": "contract addresses changed",
}
ANNOTATIONS_SHOWN_AS_IMAGE = {"keep-cd/image"}


def _pod_template(deployment_inputs: dict) -> dict:
    # Integral numbers are floats on the engine's wire and ints in an export's JSON: the same.
    return kubernetes_object(((deployment_inputs.get("spec") or {}).get("template")) or {})


def _images(template: dict) -> dict:
    spec = template.get("spec") or {}
    return {c.get("name"): c.get("image") for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])}


def deployment_reasons(old: dict, new: dict) -> list:
    """Why a Deployment's pods roll: what changed in its pod template."""
    reasons = []
    old_t, new_t = _pod_template(old), _pod_template(new)
    old_a = (old_t.get("metadata") or {}).get("annotations") or {}
    new_a = (new_t.get("metadata") or {}).get("annotations") or {}
    for key in sorted(set(old_a) | set(new_a)):
        if old_a.get(key) != new_a.get(key) and key not in ANNOTATIONS_SHOWN_AS_IMAGE:
            reasons.append(ANNOTATION_REASONS.get(key, f"{key} changed"))
    old_i, new_i = _images(old_t), _images(new_t)
    for name in sorted(set(old_i) | set(new_i)):
        if old_i.get(name) != new_i.get(name):
            reasons.append(f"image of {name}: {old_i.get(name)} -> {new_i.get(name)}")
    if not reasons and json.dumps(old_t, sort_keys=True) != json.dumps(new_t, sort_keys=True):
        reasons.append("pod template changed")
    return reasons


def _deployment_lines(preview: RunResult, state: dict) -> list:
    declared = state.get("declared") or {}
    lines = []
    seen = set()
    for res in preview.of_type(DEPLOYMENT_TYPE):
        key = f"{res.type}::{res.name}"
        seen.add(key)
        old = declared.get(key)
        if old is None:
            lines.append(f"  create   {res.name}: new")
            continue
        reasons = deployment_reasons(old, res.inputs)
        if reasons:
            lines.append(f"  roll     {res.name}: {'; '.join(reasons)}")
    for key in sorted(k for k in declared if k.startswith(DEPLOYMENT_TYPE) and k not in seen):
        lines.append(f"  delete   {key.split('::', 1)[1]}: removed from the stack")
    return (["deployments:"] + lines) if lines else []


def _dynamic_lines(preview: RunResult) -> list:
    lines = []
    for res in preview.resources:
        if res.type.startswith("pulumi-python:dynamic") and res.type != CONTRACTS_TYPE:
            op = preview.dynamic_ops.get(res.name, "same")
            if op != "same":
                lines.append(f"  {op:<8} {res.name} ({res.type.split(':')[-1]})")
    return (["chain resources:"] + lines) if lines else []


def change_report(
    stack: str,
    *,
    project_dir: str = ".",
    state_path: str | None = None,
    config_overrides: dict | None = None,
    pulumi_export: str | None = None,
) -> list:
    """The report's lines.  The last deployed state is the offline runner's state file, or, in CI,
    a `pulumi stack export` of the real stack (``pulumi_export``)."""
    if pulumi_export:
        from bench.offline.pulumi_export import state_from_export

        # Held in memory only: a state file written for the report would be left behind in the
        # temp directory, with the stack's state in it.
        state = state_from_export(pulumi_export)
        state_path = None
    else:
        state = _load_state(state_path)
    preview = run_stack(stack, project_dir=project_dir, state_path=state_path, state=state, config_overrides=config_overrides, preview=True)
    contracts = _contract_lines(preview, state)
    rest = _deployment_lines(preview, state) + _dynamic_lines(preview)
    changed = [line for line in contracts if line.startswith("  ") and not line.strip().startswith(("reuse", "skip"))] + [
        line for line in rest if line.startswith("  ")
    ]
    head = [f"change report: stack {stack}, against {pulumi_export or state_path or 'no recorded state'}"]
    if not changed:
        return head + ["nothing changed: no contract to deploy, no call to send, no client to roll"] + contracts
    return head + contracts + rest + [f"{len(changed)} change(s)"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ci.change_report", description=__doc__.splitlines()[0])
    ap.add_argument("stack", help="stack name: Pulumi.<stack>.yaml")
    ap.add_argument("--pulumi-export", metavar="FILE", help="the last deployed state from `pulumi stack export`")
    ap.add_argument("--state", help="the offline runner's state file (default build/state/<stack>.json)")
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="override a stack config value")
    args = ap.parse_args(argv)
    overrides = dict(kv.split("=", 1) for kv in args.config)
    state = args.state or os.path.join("build", "state", f"{args.stack}.json")
    try:
        lines = change_report(args.stack, state_path=state, config_overrides=overrides, pulumi_export=args.pulumi_export)
    except Exception as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
