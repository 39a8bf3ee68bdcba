"""`python -m bench engine --clients 100 --json`: the program for N keep-clients under the real
Pulumi engine (the CLI, language host and Kubernetes provider of `make engine`), on a fresh stack
with a file backend and a fresh anvil, against a plain Pulumi program of the same shape (the floor)
and the offline runner, in the same run.

Measured on one stack of keep-cd and one of the floor, each step of keep-cd followed by the
same step of the floor (so load from elsewhere falls on both alike):
  preview_seconds           `pulumi preview` of the new stack (unknowns everywhere; nothing sent)
  up_seconds                `pulumi up`: contracts migrated, operators staked, the fleet rendered
  nochange_preview_seconds  `pulumi preview` again; nochange_changes: what it would change (0)
  nochange_up_seconds       `pulumi up` again (sends nothing)
  floor_*_seconds           the same steps of bench/benchmarks/floor/__main__.py: the fleet's
                            Kubernetes objects alone (same kinds and counts, same provider rendering
                            YAML, same engine and parallelism; no chain, no dynamic provider, no
                            keys), and ratios: keep-cd's time over the floor's
  offline_preview_seconds   the same program and config under the offline runner, a new stack's preview
  fidelity                  each change of bench.engine.fidelity previewed then applied: resources the
                            preview lists, resources the update changed, exact if the same ones
  scaling (--scaling)       a new stack's preview at 10, 100 and 300 clients, and preview_exponent:
                            the least-squares slope of log time on log clients (1 is linear)
  timeline (--timeline)     the no-change up of each stack, per resource type: [first, last] second
                            at which one of its steps completed, and the engine's summary
Targets on 2-core machines: preview <= 1.25x the floor's, no-change up <= 1.25x, up <= 1.5x,
preview_exponent <= 1.1, no change 0, every change exact.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time

from bench import PROJECT_ROOT

ROOT = PROJECT_ROOT
FLOOR_PROJECT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor")
# keep-cd's time over the floor's, at most.
TARGET_RATIOS = {"preview": 1.25, "up": 1.5, "nochange_up": 1.25}
TARGET_PREVIEW_EXPONENT = 1.1
SCALING_CLIENTS = (10, 100, 300)


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench engine", description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--bootstrap", type=int, default=0, help="bootstrap clients (default: one per ten)")
    ap.add_argument("--no-fidelity", action="store_true", help="skip the scripted changes (the figures above only)")
    ap.add_argument("--scaling", action="store_true", help=f"also a new stack's preview at {', '.join(map(str, SCALING_CLIENTS))} clients")
    ap.add_argument("--timeline", action="store_true", help="also when each kind of resource completed in the no-change up")
    ap.add_argument("--json", action="store_true", help="print only the result object (last line)")
    args = ap.parse_args(argv)
    if args.clients < 2:
        ap.error("--clients must be at least 2 (a bootstrap and a standard client)")
    return args


def floor_stack(engine, workdir: str, clients: int, bootstrap: int):
    """A new stack of the floor program (bench/benchmarks/floor/) with ``clients`` clients, its
    objects rendered into workdir/manifests."""
    from bench.engine.local_stack import StackWorkspace

    ws = StackWorkspace(
        engine=engine,
        stack="floor",
        state_dir=os.path.join(workdir, "state"),
        secrets_dir=os.path.join(workdir, "secrets"),
        stack_dir=os.path.join(workdir, "stack"),
        config={
            "keep-cd-floor:clients": str(clients),
            "keep-cd-floor:bootstrap": str(bootstrap),
            "keep-cd-floor:renderYamlToDirectory": os.path.join(workdir, "manifests"),
        },
        config_source=f"floor stack in {workdir}",
        project_dir=FLOOR_PROJECT,
    )
    ws.init()
    ws.write_config_file()
    return ws


STEPS = ("preview", "up", "nochange_preview", "nochange_up")


def engine_runs(stacks: dict, log) -> dict:
    """Each stack of ``stacks`` ({label: StackWorkspace}): a new stack's preview, its up, then
    preview and up again with nothing changed, step by step across the stacks (keep-cd's step,
    then the floor's).  {label: {step + "_s": seconds, step: {urn: op}, "timeline": the no-change
    up's (scratch_stack._steps)}}."""
    from bench.engine.scratch_stack import preview_steps, up_steps

    runs: dict = {label: {"timeline": {}} for label in stacks}
    for step in STEPS:
        run = up_steps if step.endswith("up") else preview_steps
        for label, ws in stacks.items():
            timeline = runs[label]["timeline"] if step == "nochange_up" else None
            seconds, steps = _timed(lambda ws=ws, run=run, timeline=timeline: run(ws, timeline))
            runs[label][step + "_s"], runs[label][step] = seconds, steps
            log(f"{label}: {step.replace('_', ' ')}: {seconds:.2f} s, {len(steps)} resources")
    return runs


def preview_exponent(clients, seconds) -> float:
    """The least-squares slope of log(seconds) on log(clients): how a preview grows (1: linearly)."""
    xs, ys = [math.log(c) for c in clients], [math.log(s) for s in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def scaling(engine, chain_url: str, tmp: str, log) -> dict:
    """A new stack's preview at each of SCALING_CLIENTS clients (one fresh stack each)."""
    from bench.engine.fidelity import ScriptedStack
    from bench.engine.scratch_stack import preview_steps

    seconds = []
    for clients in SCALING_CLIENTS:
        stack = ScriptedStack(engine, os.path.join(tmp, f"scaling-{clients}"), chain_url, clients=clients, bootstrap=max(1, clients // 10))
        s, created = _timed(lambda stack=stack: preview_steps(stack.ws))
        log(f"scaling: {clients} clients, preview {s:.2f} s ({len(created)} resources)")
        seconds.append(s)
    return {
        "clients": list(SCALING_CLIENTS),
        "preview_seconds": [round(s, 2) for s in seconds],
        "preview_exponent": round(preview_exponent(SCALING_CLIENTS, seconds), 3),
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


def figures(
    args: argparse.Namespace, engine_version: str, bootstrap: int, runs: dict, offline_s: float, changes: list, scaled: dict | None = None
) -> dict:
    """The benchmark's JSON object and whether every target is met."""
    keep, floor = runs["keep-cd"], runs["floor"]
    ratios = {step: round(keep[step + "_s"] / floor[step + "_s"], 2) for step in ("preview", "up", "nochange_preview", "nochange_up")}
    out = {
        "engine": engine_version,
        "clients": args.clients,
        "bootstrap": bootstrap,
        "resources": len(keep["preview"]),
        "preview_seconds": round(keep["preview_s"], 2),
        "up_seconds": round(keep["up_s"], 2),
        "nochange_preview_seconds": round(keep["nochange_preview_s"], 2),
        "nochange_changes": len(keep["nochange_preview"]),
        "nochange_up_seconds": round(keep["nochange_up_s"], 2),
        "floor_resources": len(floor["preview"]),
        "floor_preview_seconds": round(floor["preview_s"], 2),
        "floor_up_seconds": round(floor["up_s"], 2),
        "floor_nochange_preview_seconds": round(floor["nochange_preview_s"], 2),
        "floor_nochange_up_seconds": round(floor["nochange_up_s"], 2),
        "ratios": ratios,
        "offline_preview_seconds": round(offline_s, 2),
        "fidelity": changes,
        "targets": {"ratios": TARGET_RATIOS, "preview_exponent": TARGET_PREVIEW_EXPONENT},
    }
    met = all(ratios[k] <= v for k, v in TARGET_RATIOS.items()) and not keep["nochange_preview"] and all(c["exact"] for c in changes)
    if args.timeline:
        out["timeline"] = {label: dict(sorted(run["timeline"].items(), key=lambda kv: kv[1])) for label, run in runs.items()}
    if scaled is not None:
        out["scaling"] = scaled
        met = met and scaled["preview_exponent"] <= TARGET_PREVIEW_EXPONENT
    out["meets_targets"] = met
    return out


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
            floor = floor_stack(engine, os.path.join(tmp, "floor"), args.clients, bootstrap)
            # Before any up: a new stack's preview on a chain that has nothing of it yet.
            offline_s = offline_preview_seconds(stack, os.path.join(tmp, "offline.json"))
            log(f"offline runner, a new stack's preview: {offline_s:.2f} s")
            runs = engine_runs({"keep-cd": stack.ws, "floor": floor}, log)
            changes = [] if args.no_fidelity else fidelity(stack, log=log)
            scaled = scaling(engine, chain.url, tmp, log) if args.scaling else None
    finally:
        chain.stop()
    print(json.dumps(figures(args, engine.version, bootstrap, runs, offline_s, changes, scaled)))
    return 0
