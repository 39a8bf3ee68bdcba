"""The real keep-client (the pinned v1 release) on the fleet keep-cd delivers, on anvil with
1-second blocks or (`--chain geth`) geth --dev: `python -m bench clients --clients 5 --json`.

In one run on one chain: keep-cd's `pulumi up` of a stack with N clients (one bootstrap), then its
fleet started from the rendered manifests (bench.fleet: init containers, then keep-client, bootstrap
first) until every client reports a peer and every standard client a bootstrap peer.  The baseline
is the floor of the same clients: started again on the volumes keep-cd prepared, without their init
containers (the client's own start and join alone).  Then RFC 13's order (a reset chain: clients
started before their contracts and before their stakes must refuse; after the up, all run), then a
change that moves KeepRandomBeaconOperator (every client must rejoin on the new address).

Figures in seconds and in blocks; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time

from bench.fleet.observe import observe
from bench.fleet.runner import client_version, locate_client, start_fleet
from bench.fleet.scenario import (
    FleetStack,
    moved_contract_rejoined,
    new_fleet_stack,
    out_of_order_refusals,
    relay_entry,
    stake_for_a_group,
)
from keep_contracts.names import CLIENT_RELEASE


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="python -m bench clients", description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=5, help="clients in the fleet, one of them a bootstrap (default 5)")
    ap.add_argument("--chain", choices=("anvil", "geth"), default="anvil")
    ap.add_argument("--json", action="store_true", help="print only the JSON line")
    ap.add_argument(
        "--relay",
        action="store_true",
        help="then, on a fresh stack whose operators hold a whole group's tickets: genesis, the group's DKG and a relay entry (minutes)",
    )
    ap.add_argument("--group-timeout", type=float, default=600.0, help="seconds to wait for the group after genesis (default 600)")
    args = ap.parse_args(argv)
    if args.clients < 2:
        ap.error("--clients: at least 2 (a bootstrap and a standard client)")
    return args


def start_chain(kind: str):
    if kind == "geth":
        from bench.chains.geth import start_geth

        chain = start_geth(period=1)

        def restart():
            chain.stop()
            return start_geth(chain.port, period=1)

        return chain, restart
    from bench.chains.anvil import start_anvil

    return start_anvil(block_time=1), None


def block(fs: FleetStack) -> int:
    from bench.chains.anvil import rpc

    return int(rpc(fs.chain.url, "eth_blockNumber", []), 16)


def keep_cd_run(fs: FleetStack) -> dict:
    started = time.monotonic()
    first_block = block(fs)
    fs.up()
    up_seconds = time.monotonic() - started
    run, view, seconds = fs.run_fleet()
    return {
        "run": run,
        "up_seconds": round(up_seconds, 2),
        "fleet_seconds": round(time.monotonic() - started - up_seconds, 2),
        "blocks_up_to_connected": block(fs) - first_block,
        "started": len(run.clients),
        "connected": len(view.connected()),
        "operators_matched": view.operators_matched(fs.staked()),
        "peer_ids_as_rendered": view.peer_ids_as_rendered(),
        "seconds_to_connected": None if seconds is None else round(seconds, 2),
    }


def baseline_run(fs: FleetStack) -> dict:
    """The same clients started on the same volumes without keep-cd's init containers."""
    fs.stop_fleet()
    started = time.monotonic()
    first_block = block(fs)
    run = start_fleet(fs.where.manifests, fs.where.directory, deployed=None, release=CLIENT_RELEASE, skip_init=True, say=lambda m: None)
    view, seconds = observe([c.pod for c in run.clients], 90.0, since=run.last_started)
    result = {
        "baseline_fleet_seconds": round(time.monotonic() - started, 2),
        "baseline_blocks": block(fs) - first_block,
        "baseline_connected": len(view.connected()),
        "baseline_seconds_to_connected": None if seconds is None else round(seconds, 2),
    }
    fs.stop_fleet()
    return result


def measure(kind: str, clients: int, workdir: str) -> dict:
    from bench.engine.engine import locate_engine

    chain, restart = start_chain(kind)
    fs = new_fleet_stack(locate_engine(), workdir, chain, kind, clients, restart or (lambda: chain))
    try:
        keep_cd = keep_cd_run(fs)
        baseline = baseline_run(fs)
        order = out_of_order_refusals(fs, "keep-bootstrap-0", "keep-standard-1")
        moved = moved_contract_rejoined(fs, order["run"])
    finally:
        fs.stop_fleet()
        fs.chain.stop()
    return {
        "client_version": client_version(locate_client(CLIENT_RELEASE)),
        "chain": kind,
        "clients": clients,
        **{k: v for k, v in keep_cd.items() if k != "run"},
        **baseline,
        "wrong_order_refused": order["refused"] and order["then_connected"],
        "wrong_order_messages": [order["before_contracts"][1][-160:], order["before_stakes"][1][-160:]],
        "moved_contract_rejoined": moved,
        "relay_entry_seconds": None,
        "relay_entry_reason": "not attempted (--relay attempts it: docs/fleet.md, 'A relay entry')",
    }


def relay_run(kind: str, clients: int, workdir: str, group_timeout: float) -> dict:
    """A fresh chain and stack whose operators hold a group's tickets: genesis to relay entry."""
    from bench.engine.engine import locate_engine

    chain, restart = start_chain(kind)
    fs = new_fleet_stack(locate_engine(), workdir, chain, kind, clients, restart or (lambda: chain))
    try:
        staking = stake_for_a_group(fs, clients)
        fs.up()
        run, view, _ = fs.run_fleet()
        if not view.all_connected():
            return {**staking, "relay_entry_seconds": None, "relay_entry_reason": "the fleet did not connect"}
        return {**staking, **relay_entry(fs, run, "keep-bootstrap-0", group_timeout, 300.0)}
    finally:
        fs.stop_fleet()
        fs.chain.stop()


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    workdir = tempfile.mkdtemp(prefix="keep-cd-bench-clients-")
    result: dict = {}
    try:
        result = measure(args.chain, args.clients, workdir)
        if args.relay:
            result.update(relay_run(args.chain, args.clients, workdir + "-relay", args.group_timeout))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if result.get("relay_entry_seconds") is None and args.relay:
            print(f"bench: relay entry not reached; the clients' logs are kept in {workdir}-relay/fleet", file=sys.stderr)
        else:
            shutil.rmtree(workdir + "-relay", ignore_errors=True)
    if not args.json:
        for key, value in result.items():
            print(f"{key}: {value}", file=sys.stderr)
    print(json.dumps(result))
    ok = result["started"] == result["connected"] == args.clients and result["operators_matched"]
    return 0 if ok and result["wrong_order_refused"] and result["moved_contract_rejoined"] else 1
