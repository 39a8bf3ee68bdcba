"""The change report reviewers read on a pull request: what `pulumi up` would do, and why.

It reads what the real engine said: the JSON document of ``pulumi preview --json`` (each step with
its operation, the recorded state and the new inputs), and prints:
  * each contract to deploy, re-point or reuse, and each post-deploy call, with its reason
    (bytecode changed, constructor args changed, dependency redeployed, chain reset, rollback),
    assessed from the step's new plan against its recorded outputs and the live chain (read only);
  * each Deployment (keep-client) to create, roll or delete, with what changed in its pod template
    (config/key/contract-address checksum annotations, image);
  * each other dynamic resource (operators' staking) that would be created or updated.

``python -m bench.ci.change_report --preview-json FILE [--stack NAME]``; nothing is sent, no key is
needed (the preview already ran with the stack's secrets, which stay ciphertext in its output).
"""

from __future__ import annotations

import argparse
import json
import sys

CONTRACTS_TYPE = "pulumi-python:dynamic/keep:ContractsMigration"
DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment"
DYNAMIC_PREFIX = "pulumi-python:dynamic"
NO_CHANGE = ("same", "read", "refresh")
# A replacement is one change whatever steps it takes (create the new, delete the old).
REPLACE_OPS = ("replace", "create-replacement", "delete-replaced")


class PreviewFileError(ValueError):
    """The file is not the JSON document of `pulumi preview --json`."""


def read_preview(path: str) -> dict:
    """The preview document, or a one-line error naming the file."""
    try:
        with open(path) as f:
            doc = json.load(f)
        steps = doc["steps"]
        if not isinstance(steps, list):
            raise TypeError("steps is not a list")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PreviewFileError(
            f"preview {path}: not the output of `pulumi preview --json` ({e.__class__.__name__}: {e}); nothing was reported"
        ) from None
    return doc


def _name(step: dict) -> str:
    return step.get("urn", "").rsplit("::", 1)[-1]


def _type(step: dict) -> str:
    state = step.get("newState") or step.get("oldState") or {}
    return state.get("type") or step.get("urn", "").rsplit("::", 2)[-2].rsplit("$", 1)[-1]


def _op(step: dict) -> str:
    op = step.get("op", "same")
    return "replace" if op in REPLACE_OPS else op


def _contract_lines(steps: list) -> list:
    from contracts_step.provider import open_from_inputs

    lines = []
    for step in steps:
        if _type(step) != CONTRACTS_TYPE or step.get("op") == "delete-replaced":
            continue
        news = (step.get("newState") or {}).get("inputs") or {}
        olds = (step.get("oldState") or {}).get("outputs") or None
        if "plan" not in news:  # a delete: nothing of the plan is left to assess
            lines.append(f"contracts {_name(step)}: {_op(step)}")
            continue
        migration = open_from_inputs(news, olds, (olds or {}).get("deployer") or "0x" + "00" * 20)
        lines.append(f"contracts {_name(step)} (plan {news['plan_name']} on chain {int(news['chain_id'])}):")
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
    return ((deployment_inputs.get("spec") or {}).get("template")) or {}


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


def _deployment_lines(steps: list) -> list:
    lines = []
    for step in steps:
        op = step.get("op", "same")
        if _type(step) != DEPLOYMENT_TYPE or op in NO_CHANGE or op == "delete-replaced":
            continue
        name = _name(step)
        if op == "create":
            lines.append(f"  create   {name}: new")
        elif op == "delete":
            lines.append(f"  delete   {name}: removed from the stack")
        else:
            old = (step.get("oldState") or {}).get("inputs") or {}
            new = (step.get("newState") or {}).get("inputs") or {}
            reasons = deployment_reasons(old, new)
            verb = "roll" if reasons else _op(step)
            lines.append(f"  {verb:<8} {name}: {'; '.join(reasons) or 'metadata only, no pod rolls'}")
    return (["deployments:"] + lines) if lines else []


def _dynamic_lines(steps: list) -> list:
    lines = []
    for step in steps:
        rtype = _type(step)
        if rtype.startswith(DYNAMIC_PREFIX) and rtype != CONTRACTS_TYPE and step.get("op", "same") not in NO_CHANGE:
            lines.append(f"  {_op(step):<8} {_name(step)} ({rtype.split(':')[-1]})")
    return (["chain resources:"] + lines) if lines else []


def change_report(preview: dict, *, stack: str = "", source: str = "") -> list:
    """The report's lines for one `pulumi preview --json` document."""
    steps = preview.get("steps") or []
    contracts = _contract_lines(steps)
    rest = _deployment_lines(steps) + _dynamic_lines(steps)
    changed = [line for line in contracts if line.startswith("  ") and not line.strip().startswith(("reuse", "skip"))]
    changed += [line for line in rest if line.startswith("  ")]
    head = [f"change report: stack {stack or '?'}, from {source or 'a pulumi preview'}"]
    if not changed:
        return head + ["nothing changed: no contract to deploy, no call to send, no client to roll"] + contracts
    return head + contracts + rest + [f"{len(changed)} change(s)"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ci.change_report", description=__doc__.splitlines()[0])
    ap.add_argument("--preview-json", required=True, metavar="FILE", help="the output of `pulumi preview --json`")
    ap.add_argument("--stack", default="", help="the stack's name, for the report's first line")
    args = ap.parse_args(argv)
    try:
        lines = change_report(read_preview(args.preview_json), stack=args.stack, source=args.preview_json)
    except Exception as e:  # every failure is the report's one line; the preview itself already ran
        print(f"error: {str(e).splitlines()[0] if str(e) else e.__class__.__name__}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
