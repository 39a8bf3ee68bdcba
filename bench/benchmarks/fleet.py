"""`python -m bench fleet --operators 100 --json`: provisioning a fleet of operators, keep-cd vs RFC 13.

On one anvil with 1-second blocks (or `--chain geth`: geth --dev with --dev.period 1) and the Keep
contracts deployed by the contracts step:

  keep-cd   operator keys derived from a fresh mnemonic; ``operators.staking.reconcile_fleet``
            funds, stakes and authorizes all of them from the owner (deployer) key, pipelined and
            batched; then the same call again (``rerun_txs``: what a second ``pulumi up`` sends).
  rfc       RFC 13's way, as its InitContainers would: one concurrent provisioner per pod, each
            doing its own fund/stake/authorize (``initcontainer.provision_operator.provision``) with
            one shared funding key; a provisioner that fails is restarted, like a pod.
            ``rfc_failures`` counts nonce collisions and errors seen.

Targets: blocks <= ceil(gas / block_gas_limit) + 1, seconds <= 0.5 * rfc_seconds, rerun_txs == 0.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field

from bench import PROJECT_ROOT

ROOT = PROJECT_ROOT


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def deploy(chain, node):
    from eth_account import Account

    from contracts_step.artifacts import ArtifactStore
    from contracts_step.keep_plan import DEFAULT_PARAMS, keep_plan
    from contracts_step.migrate import Migration
    from contracts_step.plan import resolve_plan

    owner = Account.create()
    chain.fund(owner.address, 10**26)
    store = ArtifactStore(os.path.join(ROOT, "build", "keep-core", "artifacts"))
    plan = keep_plan()
    outs = Migration(plan, resolve_plan(plan, store, dict(DEFAULT_PARAMS)), store, node, None, owner.address).migrate(owner)
    return owner, outs["address_book"]


def keep_cd_run(node, owner, contracts, n: int, policy) -> dict:
    from eth_account import Account

    from operators.keys import OperatorClient, mnemonic_seed, operator_keys
    from operators.staking import reconcile_fleet

    Account.enable_unaudited_hdwallet_features()
    _, mnemonic = Account.create_with_mnemonic()
    started = time.monotonic()
    keys = operator_keys(mnemonic_seed(mnemonic), [OperatorClient(f"keep-client-{i}", i) for i in range(n)])
    derive_seconds = time.monotonic() - started
    operators = {k.name: k.address for k in keys}
    status, report = reconcile_fleet(node, owner, contracts, operators, policy)
    bad = [name for name, s in status.items() if not (s["staked"] and s["authorized"])]
    if bad:
        raise SystemExit(f"bench fleet: keep-cd left {len(bad)} operators not staked+authorized (first: {bad[0]})")
    _, rerun = reconcile_fleet(node, owner, contracts, operators, policy)
    return {"report": report, "rerun": rerun, "derive_seconds": derive_seconds}


@dataclass
class RfcTally:
    """What the RFC's pods ran into and sent, added to by every pod's thread under ``lock``."""

    collisions: int = 0
    errors: int = 0
    failed: int = 0  # pods that gave up after every restart
    hashes: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def rfc_pod(chain, faucet, op, contracts, amounts, tally: RfcTally, barrier: threading.Barrier, restarts: int) -> None:
    """One pod's InitContainer: provision ``op`` with the shared faucet, restarted on failure."""
    from chain.node import connect
    from initcontainer.operator_check import CheckFailed
    from initcontainer.provision_operator import Provisioned, provision

    pw3 = connect(chain.url, chain.chain_id)
    done = Provisioned()  # across restarts: what every attempt sent and ran into
    barrier.wait()  # every pod starts at once, as a rollout would start them
    try:
        for attempt in range(restarts):
            try:
                provision(pw3, faucet, op, contracts.token, contracts.staking, contracts.operator_contract, amounts, done=done)
                return
            except CheckFailed as e:
                with tally.lock:
                    tally.errors += 1
                _log(f"rfc pod {op.address}: {e} (restart {attempt + 1})")
                time.sleep(1.0)  # a pod restart is never instant
        with tally.lock:
            tally.failed += 1
    finally:
        with tally.lock:
            tally.collisions += done.collisions
            tally.hashes.extend(h for _, h in done.sent)


def mined_blocks_and_gas(w3, hashes: list) -> tuple[int, int]:
    """How many distinct blocks hold the transactions ``hashes``, and the gas they used (receipts
    asked in batches of 500)."""
    blocks = set()
    gas = 0
    for start in range(0, len(hashes), 500):
        for r in w3.provider.make_batch_request(
            [("eth_getTransactionReceipt", [h if h.startswith("0x") else "0x" + h]) for h in hashes[start : start + 500]]
        ):
            blocks.add(int(r["result"]["blockNumber"], 16))
            gas += int(r["result"]["gasUsed"], 16)
    return len(blocks), gas


def rfc_run(chain, node, owner, contracts, n: int, policy, restarts: int = 20) -> dict:
    """N concurrent per-pod provisioners sharing one funding key (supplied beforehand, untimed)."""
    from eth_account import Account

    from keep_contracts.provisioning import OperatorPolicy
    from operators.staking import supply_faucet

    faucet = Account.create()
    ops = [Account.create() for _ in range(n)]
    supply_faucet(node, owner, contracts, {f"pod-{i}": a.address for i, a in enumerate(ops)}, faucet.address, policy)
    amounts = OperatorPolicy(policy.eth_threshold, policy.eth_target, policy.stake_amount)
    tally = RfcTally()
    barrier = threading.Barrier(n)
    threads = [
        threading.Thread(target=rfc_pod, args=(chain, faucet, op, contracts, amounts, tally, barrier, restarts), daemon=True) for op in ops
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    blocks, gas = mined_blocks_and_gas(node.web3(), tally.hashes)
    return {
        "seconds": seconds,
        "blocks": blocks,
        "txs": len(tally.hashes),
        "gas": gas,
        "failures": tally.collisions + tally.errors,
        "collisions": tally.collisions,
        "errors": tally.errors,
        "unprovisioned": tally.failed,
    }


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench fleet", description=__doc__.splitlines()[0])
    ap.add_argument("--operators", type=int, default=100)
    ap.add_argument("--json", action="store_true", help="(the last line is JSON either way)")
    ap.add_argument("--block-time", type=float, default=1.0)
    ap.add_argument("--no-rfc", action="store_true", help="skip the RFC baseline")
    ap.add_argument("--chain", choices=("anvil", "geth"), default="anvil", help="the node to run on (bench/chains/geth.py for geth)")
    return ap.parse_args(argv)


def keep_cd_figures(args: argparse.Namespace, kcd: dict, block_gas_limit: int) -> dict:
    report = kcd["report"]
    return {
        "operators": args.operators,
        "txs": report.txs,
        "blocks": len(report.blocks),
        "seconds": round(report.seconds, 3),
        "gas": report.gas_used,
        "block_gas_limit": block_gas_limit,
        "rerun_txs": kcd["rerun"].txs,
        "rerun_seconds": round(kcd["rerun"].seconds, 3),
        "derive_seconds": round(kcd["derive_seconds"], 3),
        "resends": report.resends,
        "chain": args.chain,
        "target_blocks": math.ceil(report.gas_used / block_gas_limit) + 1,
    }


def rfc_figures(rfc: dict, keep_cd_seconds: float) -> dict:
    return {
        "rfc_txs": rfc["txs"],
        "rfc_blocks": rfc["blocks"],
        "rfc_seconds": round(rfc["seconds"], 3),
        "rfc_gas": rfc["gas"],
        "rfc_failures": rfc["failures"],
        "rfc_collisions": rfc["collisions"],
        "rfc_errors": rfc["errors"],
        "rfc_unprovisioned": rfc["unprovisioned"],
        "seconds_ratio": round(keep_cd_seconds / rfc["seconds"], 3),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.operators <= 0:
        print("bench fleet: --operators must be a positive integer", file=sys.stderr)
        return 2

    from bench.benchmarks.migrate import start_chain
    from chain.node import open_node
    from keep_contracts.names import STAKING_CONTRACT_NAMES
    from operators.staking import FleetPolicy, StakingContracts

    chain = start_chain(args.chain, args.block_time)
    try:
        node = open_node(chain.url, chain.chain_id)
        w3 = node.web3()
        owner, book = deploy(chain, node)
        contracts = StakingContracts.from_address_book(book, STAKING_CONTRACT_NAMES)
        policy = FleetPolicy(eth_threshold=10**17, eth_target=10**18)
        block_gas_limit = int(w3.eth.get_block("latest")["gasLimit"])
        _log(f"keep-cd: provisioning {args.operators} operators")
        result = keep_cd_figures(args, keep_cd_run(node, owner, contracts, args.operators, policy), block_gas_limit)
        if not args.no_rfc:
            _log(f"rfc: {args.operators} concurrent provisioners sharing one funding key")
            result.update(rfc_figures(rfc_run(chain, node, owner, contracts, args.operators, policy), result["seconds"]))
        result["met"] = {
            "blocks": result["blocks"] <= result["target_blocks"],
            "rerun_txs": result["rerun_txs"] == 0,
            **({"seconds": result["seconds"] <= 0.5 * result["rfc_seconds"]} if not args.no_rfc else {}),
        }
    finally:
        chain.stop()
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
