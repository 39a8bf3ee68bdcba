"""Throwaway stacks of this project under the real Pulumi CLI, for the engine tests and the engine
benchmark: a fresh file backend, passphrase and config file in a directory of the caller's, a chain
of the caller's, the local stack's committed config with that chain's URL; and what a preview or an
update changed, read from their ``--json`` output.  No mock anywhere: the CLI, the language host,
the dynamic providers and the Kubernetes provider are the real ones."""

from __future__ import annotations

import json
import os

from .engine import Engine
from .local_stack import ROOT, StackWorkspace, committed_config


def new_stack(
    engine: Engine, workdir: str, rpc_url: str, chain_id: int = 31337, config: dict | None = None, stack: str = "local"
) -> StackWorkspace:
    """A stack in ``workdir`` on the chain at ``rpc_url``: the local stack's config, the chain's URL,
    manifests rendered into workdir/manifests; ``config`` overrides keys (``keep-cd:`` implied)."""
    base = dict(committed_config("local"))
    base.update(
        {
            "keep-cd:rpcUrl": rpc_url,
            "keep-cd:chainId": str(chain_id),
            "keep-cd:renderYamlToDirectory": os.path.join(workdir, "manifests"),
            "keep-cd:artifactsDir": os.path.join(ROOT, "build", "keep-core", "artifacts"),
        }
    )
    for key, value in (config or {}).items():
        base[key if ":" in key else f"keep-cd:{key}"] = value
    return StackWorkspace(
        engine=engine,
        stack=stack,
        state_dir=os.path.join(workdir, "state"),
        secrets_dir=os.path.join(workdir, "secrets"),
        stack_dir=os.path.join(workdir, "stack"),
        config=base,
        config_source=f"test stack in {workdir}",
    )


def set_config(ws: StackWorkspace, **changes) -> None:
    """Change plain config keys of a prepared stack (None removes one) and rewrite its config file."""
    for key, value in changes.items():
        full = key if ":" in key else f"keep-cd:{key}"
        if value is None:
            ws.config.pop(full, None)
        else:
            ws.config[full] = value
    ws.write_config_file()


# A replacement is one change whatever the steps it takes (create the new, delete the old).
_OP = {"create-replacement": "replace", "delete-replaced": "replace", "replace": "replace"}
_NO_CHANGE = ("same", "read", "refresh")


def _preview_steps(output: str) -> dict:
    """{urn: op} of `pulumi preview --json` (one document), without the unchanged ones."""
    return {s["urn"]: _OP.get(s["op"], s["op"]) for s in json.loads(output).get("steps", []) if s["op"] not in _NO_CHANGE}


def _update_steps(output: str) -> dict:
    """{urn: op} of `pulumi up --json` (one engine event per line), without the unchanged ones."""
    steps = {}
    for line in output.splitlines():
        event = json.loads(line)
        meta = (event.get("resOutputsEvent") or {}).get("metadata")
        if meta and meta["op"] not in _NO_CHANGE:
            steps[meta["urn"]] = _OP.get(meta["op"], meta["op"])
    return steps


def preview_steps(ws: StackWorkspace, *extra: str) -> dict:
    proc = ws.run(["preview", "--json", *extra], capture=True, check=False)
    if proc.returncode != 0:
        try:
            diags = [d["message"] for d in json.loads(proc.stdout).get("diagnostics", []) if d.get("severity") == "error"]
        except ValueError:
            diags = [proc.stdout[-3000:]]
        raise AssertionError("pulumi preview failed:\n" + "\n".join(diags)[-4000:] + "\n" + proc.stderr[-2000:])
    return _preview_steps(proc.stdout)


def up_steps(ws: StackWorkspace, *extra: str) -> dict:
    proc = ws.run(["up", "--yes", "--skip-preview", "--json", *extra], capture=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"pulumi up failed:\n{_diagnostics(proc.stdout)}\n{proc.stderr[-3000:]}")
    return _update_steps(proc.stdout)


def _diagnostics(output: str) -> str:
    """The error and warning messages of a `--json` update's events."""
    lines = []
    for line in output.splitlines():
        try:
            diag = json.loads(line).get("diagnosticEvent")
        except ValueError:
            lines.append(line)
            continue
        if diag and diag.get("severity") in ("error", "warning"):
            lines.append(diag["message"].strip())
    return "\n".join(lines)[-4000:]


def short(steps: dict) -> dict:
    """{Kind::name: op} (ConfigMap::keep-standard-0-config): what tests compare and failures show."""

    def name(urn: str) -> str:
        kind = urn.split("::")[-2].split("$")[-1].split(":")[-1]
        return f"{kind}::{urn.split('::')[-1]}"

    return {name(u): op for u, op in steps.items()}
