"""`python -m bench engine --clients 100 --json`: the program for N keep-clients under the real
Pulumi engine (the CLI, language host and Kubernetes provider of `make engine`), on a fresh stack
with a file backend and a fresh anvil, against the offline runner in the same run.

Measured, in this order, on one stack:
  preview_seconds           `pulumi preview` of the new stack (unknowns everywhere; nothing sent)
  up_seconds                `pulumi up`: contracts migrated, operators staked, the fleet rendered
  nochange_preview_seconds  `pulumi preview` again; nochange_changes: what it would change (0)
  nochange_up_seconds       `pulumi up` again (sends nothing)
  offline_preview_seconds   the same program and config under the offline runner, a new stack's preview
  fidelity                  each change of bench.engine.fidelity previewed then applied: resources the
                            preview lists, resources the update changed, exact if the same ones
Targets on 2-core machines: preview of 100 clients <= 15 s, no-change up <= 20 s, no change 0,
every change exact.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from bench import PROJECT_ROOT

ROOT = PROJECT_ROOT
TARGET_PREVIEW_SECONDS = 15.0
TARGET_NOCHANGE_UP_SECONDS = 20.0


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench engine", description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--bootstrap", type=int, default=0, help="bootstrap clients (default: one per ten)")
    ap.add_argument("--no-fidelity", action="store_true", help="skip the scripted changes (the figures above only)")
    ap.add_argument("--json", action="store_true", help="print only the result object (last line)")
    args = ap.parse_args(argv)
    if args.clients < 2:
        ap.error("--clients must be at least 2 (a bootstrap and a standard client)")
    return args


def engine_runs(stack, log) -> dict:
    """A new stack's preview, its up, then preview and up again with nothing changed: seconds and
    the resources each lists."""
    from bench.engine.scratch_stack import preview_steps, up_steps

    preview_s, created = _timed(lambda: preview_steps(stack.ws))
    log(f"preview of a new stack: {preview_s:.2f} s, {len(created)} resources to create")
    up_s, applied = _timed(lambda: up_steps(stack.ws))
    log(f"up: {up_s:.2f} s, {len(applied)} resources")
    nochange_preview_s, nochange = _timed(lambda: preview_steps(stack.ws))
    nochange_up_s, nochange_up = _timed(lambda: up_steps(stack.ws))
    log(f"no change: preview {nochange_preview_s:.2f} s ({len(nochange)} changes), up {nochange_up_s:.2f} s ({len(nochange_up)})")
    return {
        "preview_s": preview_s,
        "created": created,
        "up_s": up_s,
        "nochange_preview_s": nochange_preview_s,
        "nochange": nochange,
        "nochange_up_s": nochange_up_s,
    }


def offline_preview_seconds(stack, state_path: str) -> float:
    """The same program and config under the offline runner: a new stack's preview, with the
    engine stack's secrets in the environment only while it runs."""
    from bench.offline.runner import run_stack

    secrets = {
        "KEEP_CD_DEPLOYER_KEY": stack.ws.secret("deployer.key", lambda: ""),
        "KEEP_CD_OPERATOR_MNEMONIC": stack.ws.secret("operators.mnemonic", lambda: ""),
    }
    saved = {k: os.environ.get(k) for k in secrets}
    os.environ.update(secrets)
    try:
        config = {k: v for k, v in stack.ws.config.items() if not isinstance(v, dict)}
        offline_s, _ = _timed(lambda: run_stack("local", project_dir=ROOT, state_path=state_path, config_overrides=config, preview=True))
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return offline_s


def figures(args: argparse.Namespace, engine_version: str, bootstrap: int, runs: dict, offline_s: float, changes: list) -> dict:
    """The benchmark's JSON object and whether every target is met."""
    preview_s, nochange_up_s, nochange = runs["preview_s"], runs["nochange_up_s"], runs["nochange"]
    return {
        "engine": engine_version,
        "clients": args.clients,
        "bootstrap": bootstrap,
        "resources": len(runs["created"]),
        "preview_seconds": round(preview_s, 2),
        "up_seconds": round(runs["up_s"], 2),
        "nochange_preview_seconds": round(runs["nochange_preview_s"], 2),
        "nochange_changes": len(nochange),
        "nochange_up_seconds": round(nochange_up_s, 2),
        "offline_preview_seconds": round(offline_s, 2),
        "fidelity": changes,
        "targets": {"preview_seconds": TARGET_PREVIEW_SECONDS, "nochange_up_seconds": TARGET_NOCHANGE_UP_SECONDS},
        "meets_targets": preview_s <= TARGET_PREVIEW_SECONDS
        and nochange_up_s <= TARGET_NOCHANGE_UP_SECONDS
        and not nochange
        and all(c["exact"] for c in changes),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    from bench.chains.anvil import start_anvil
    from bench.engine.engine import locate_engine
    from bench.engine.fidelity import ScriptedStack, fidelity

    log = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr))
    bootstrap = args.bootstrap or max(1, args.clients // 10)
    engine = locate_engine()
    chain = start_anvil()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
            stack = ScriptedStack(engine, os.path.join(tmp, "engine"), chain.url, clients=args.clients, bootstrap=bootstrap)
            runs = engine_runs(stack, log)
            offline_s = offline_preview_seconds(stack, os.path.join(tmp, "offline.json"))
            log(f"offline runner, same preview: {offline_s:.2f} s")
            changes = [] if args.no_fidelity else fidelity(stack, log=log)
    finally:
        chain.stop()
    print(json.dumps(figures(args, engine.version, bootstrap, runs, offline_s, changes)))
    return 0
