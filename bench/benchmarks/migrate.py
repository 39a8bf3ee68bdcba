"""Migrate the real Keep plan (keep-core 1.8.0) to anvil with --block-time 1 (or `--chain geth`: geth
--dev with --dev.period 1): keep-cd vs the sequential send-and-wait baseline (what `truffle migrate`
does), in one run on one chain.

keep-cd runs as `make local` runs it: the program under the offline runner, the dynamic provider
for real.  Then the same again with nothing changed.  The baseline sends the same transactions
(same init code, same calls) from another fresh account, one at a time, each after the previous
receipt.  Figures: blocks (distinct blocks holding the transactions) and wall seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time

from web3 import Web3

from bench import PROJECT_ROOT

ROOT = PROJECT_ROOT


def start_chain(kind: str, block_time: float):
    """anvil with --block-time, or geth --dev with --dev.period: the chain both runs share."""
    if kind == "geth":
        from bench.chains.geth import start_geth

        if block_time != int(block_time) or block_time < 1:
            raise SystemExit(f"bench: --block-time {block_time}: geth's --dev.period takes whole seconds (expected 1 or more)")
        return start_geth(period=int(block_time))
    from bench.chains.anvil import start_anvil

    return start_anvil(block_time=block_time)


def sequential_baseline(chain, artifacts_dir: str) -> dict:
    from chain.node import connect
    from chain.transactions import PipelinedSender, TxRequest
    from contracts_step.artifacts import ArtifactStore
    from contracts_step.keep_plan import DEFAULT_PARAMS, keep_plan
    from contracts_step.migrate import call_data, init_code
    from contracts_step.plan import ArgEncoder, resolve_plan

    plan = keep_plan()
    store = ArtifactStore(artifacts_dir)
    resolved = resolve_plan(plan, store, DEFAULT_PARAMS)
    encoder = ArgEncoder(store, plan, resolved.params)
    account = chain.new_account()
    w3 = connect(chain.url, chain.chain_id)
    sender = PipelinedSender(w3, account)
    addresses: dict = {}
    started = time.monotonic()
    nonce = sender.settled_nonce()
    for step in resolved.deploys.values():
        req = TxRequest(f"deploy {step.name}", None, init_code(step, encoder, addresses, account.address))
        sender.send([req], nonce)  # send, then wait for the receipt: one at a time
        if req.receipt is None:  # send returns only once every request has its receipt
            raise RuntimeError(f"{req.label}: no receipt after send")
        addresses[step.name] = req.receipt["contractAddress"]
        nonce += 1
    for step in resolved.calls.values():
        req = TxRequest(f"call {step.name}", addresses[step.target], call_data(step, encoder, addresses, account.address))
        sender.send([req], nonce)
        nonce += 1
    return {
        "seconds": time.monotonic() - started,
        "blocks": len(sender.stats.blocks),
        "txs": sender.stats.txs,
        "gas": sender.stats.gas_used,
    }


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench migrate", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object (last line)")
    ap.add_argument("--block-time", type=float, default=1.0, help="seconds per block (geth: a whole number)")
    ap.add_argument("--chain", choices=("anvil", "geth"), default="anvil", help="the node to run on (bench/chains/geth.py for geth)")
    return ap.parse_args(argv)


def keep_cd_runs(chain, artifacts_dir: str, state_dir: str) -> dict:
    """keep-cd's migration as `make local` runs it, then the same again with nothing changed: the
    first run's own figures (``last_run``), both runs' seconds and the second run's transactions."""
    from bench.offline.runner import run_stack

    w3 = Web3(Web3.HTTPProvider(chain.url))
    block_gas_limit = int(w3.eth.get_block("latest")["gasLimit"])
    deployer = chain.new_account()
    os.environ["KEEP_CD_DEPLOYER_KEY"] = deployer.key.hex()
    state = os.path.join(state_dir, "state.json")
    # The migration alone: the local stack's keep-clients and operators are benchmarked by
    # `bench preview` and `bench fleet`.
    overrides = {"rpcUrl": chain.url, "chainId": str(chain.chain_id), "artifactsDir": artifacts_dir, "fleet": None, "operators": None}

    started = time.monotonic()
    run_stack("local", project_dir=ROOT, state_path=state, config_overrides=overrides)
    seconds = time.monotonic() - started
    with open(state) as f:
        last = next(iter(json.load(f)["resources"].values()))["outputs"]["last_run"]

    before = w3.eth.get_transaction_count(deployer.address)
    started = time.monotonic()
    run_stack("local", project_dir=ROOT, state_path=state, config_overrides=overrides)
    nochange_seconds = time.monotonic() - started
    nochange_txs = w3.eth.get_transaction_count(deployer.address) - before
    return {
        "last": last,
        "seconds": seconds,
        "block_gas_limit": block_gas_limit,
        "nochange_txs": nochange_txs,
        "nochange_seconds": nochange_seconds,
    }


def figures(resolved, runs: dict, baseline: dict, args: argparse.Namespace) -> dict:
    """The benchmark's JSON object: keep-cd's figures, the baseline's, and which targets are met."""
    last, nochange_txs, nochange_seconds = runs["last"], runs["nochange_txs"], runs["nochange_seconds"]
    floor = math.ceil(last["gas_used"] / runs["block_gas_limit"])
    result = {
        "contracts": len(resolved.deploys),
        "calls": len(resolved.calls),
        "txs": last["txs"],
        "gas": last["gas_used"],
        "block_gas_limit": runs["block_gas_limit"],
        "depth": resolved.depth,
        "blocks": last["blocks"],
        "block_floor": floor,
        "seconds": round(runs["seconds"], 3),
        "baseline_blocks": baseline["blocks"],
        "baseline_seconds": round(baseline["seconds"], 3),
        "baseline_txs": baseline["txs"],
        "nochange_txs": nochange_txs,
        "nochange_seconds": round(nochange_seconds, 3),
        "block_time": args.block_time,
        "chain": args.chain,
    }
    result["targets_met"] = {
        "blocks": result["blocks"] <= floor + 1,
        "seconds": result["seconds"] <= 0.15 * result["baseline_seconds"],
        "nochange_txs": nochange_txs == 0,
        "nochange_seconds": nochange_seconds <= 2,
    }
    return result


def main(argv=None) -> int:
    args = parse_args(argv)

    from contracts_step.artifacts import ArtifactStore
    from contracts_step.keep_plan import DEFAULT_PARAMS, keep_plan
    from contracts_step.plan import resolve_plan

    artifacts_dir = os.path.join(ROOT, "build", "keep-core", "artifacts")
    resolved = resolve_plan(keep_plan(), ArtifactStore(artifacts_dir), DEFAULT_PARAMS)
    chain = start_chain(args.chain, args.block_time)
    # The state file lives only as long as the benchmark: nothing is left in the temp directory.
    tmp = tempfile.TemporaryDirectory(prefix="bench-migrate-")
    try:
        runs = keep_cd_runs(chain, artifacts_dir, tmp.name)
        baseline = sequential_baseline(chain, artifacts_dir)
    finally:
        chain.stop()
        tmp.cleanup()
        os.environ.pop("KEEP_CD_DEPLOYER_KEY", None)

    result = figures(resolved, runs, baseline, args)
    if not args.json:
        for k, v in result.items():
            print(f"{k}: {v}")
    print(json.dumps(result))
    return 0 if all(result["targets_met"].values()) else 1
