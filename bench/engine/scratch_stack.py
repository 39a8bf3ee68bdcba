"""Throwaway stacks of this project under the real Pulumi CLI, for the engine tests and the engine
benchmark: a fresh file backend, passphrase and config file in a directory of the caller's, a chain
of the caller's, the local stack's committed config with that chain's URL; and what a preview or an
update changed, from the engine's step events (Pulumi's Automation API).  No mock anywhere: the CLI, the language host,
the dynamic providers and the Kubernetes provider are the real ones."""

from __future__ import annotations

import os
import time

from pulumi import automation as auto

from .engine import Engine
from .local_stack import ROOT, StackWorkspace, command_failure, committed_config


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


def _is_default_provider(urn: str) -> bool:
    """A provider the engine made for resources that name none: the CLI's display leaves it out,
    and so do these steps (its own inputs follow the stack's config, not the program)."""
    rtype, name = urn.rsplit("::", 2)[-2:]
    return rtype.startswith("pulumi:providers:") and (name == "default" or name.startswith("default_"))


def _changed_step(metadata, steps: dict) -> None:
    op = metadata.op.value
    if op not in _NO_CHANGE and not _is_default_provider(metadata.urn):
        steps[metadata.urn] = _OP.get(op, op)


def _steps(ws: StackWorkspace, command: str, event: str, timeline: dict | None = None) -> dict:
    """{urn: op} of ``command`` (preview or up) on the stack, without the unchanged ones: the
    engine's step events through the Automation API (``event``: which event carries a step).
    ``timeline``, where given, gets per resource type [first, last] second (from the command's
    start) at which one of its steps reached this process, and "summary": when the engine's
    summary did (what the engine waited on, and for how long, reads off it: docs/engine.md)."""
    steps: dict = {}
    started = time.perf_counter()

    def mark(key: str) -> None:
        if timeline is not None:
            at = round(time.perf_counter() - started, 2)
            timeline[key] = [timeline.get(key, [at])[0], at]

    def on_event(engine_event: auto.EngineEvent) -> None:
        step = getattr(engine_event, event)
        if step:
            _changed_step(step.metadata, steps)
            mark(step.metadata.type)
        if engine_event.summary_event is not None:
            mark("summary")

    try:
        getattr(ws.automation_stack(), command)(on_event=on_event, color="never")
    except auto.CommandError as e:
        raise AssertionError(f"pulumi {command} failed: {command_failure(e, ws.stack)}\n{str(e)[-3000:]}") from None
    return steps


def preview_steps(ws: StackWorkspace, timeline: dict | None = None) -> dict:
    """What a preview would change: each step as the engine announces it."""
    return _steps(ws, "preview", "resource_pre_event", timeline)


def up_steps(ws: StackWorkspace, timeline: dict | None = None) -> dict:
    """What an update changed: each step as the engine completes it."""
    return _steps(ws, "up", "res_outputs_event", timeline)


def short(steps: dict) -> dict:
    """{Kind::name: op} (ConfigMap::keep-standard-0-config): what tests compare and failures show."""

    def name(urn: str) -> str:
        kind = urn.split("::")[-2].split("$")[-1].split(":")[-1]
        return f"{kind}::{urn.split('::')[-1]}"

    return {name(u): op for u, op in steps.items()}
