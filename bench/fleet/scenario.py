"""A throwaway stack whose rendered fleet runs here: what the fleet tests and ``python -m bench
clients`` do, on a chain of their own (anvil with 1-second blocks, or geth --dev) and free ports.

Each step is the real thing: ``pulumi up`` by the real engine, keep-clients from the rendered
manifests (bench.fleet.runner), the chain reset through its own RPC (anvil) or by a fresh data
directory (geth).  The steps of the RFC's order and of a moved contract are here once, so the tests
and the benchmark run the same ones.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import socket
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.engine.engine import Engine
from bench.engine.local_stack import StackWorkspace
from bench.engine.scratch_stack import new_stack, set_config
from keep_contracts.names import CLIENT_RELEASE

from .local import LocalFleet, deployed_annotations, staked_operators
from .observe import FleetView, observe, rendered_config
from .pods import read_fleet
from .runner import ClientRun, FleetRun, last_line, start_fleet, stop_pids, wait_exit

# What keep-client v1.3.1 says when it refuses to start (cmd/start.go, pkg/chain/ethereum).
NO_CONTRACT_CODE = "no contract code at given address"
NOT_STAKED = "no minimum KEEP stake or operator is not authorized"
FLEET_TIMEOUT = 90.0
CONTRACT_TYPES = ("dynamic/keep:ContractsMigration", "dynamic/keep:ContractAddresses")


# Below the kernel's ephemeral range (32768 and up on Linux): a port the clients get here is never
# handed to another process's bind(0) (a chain another test starts meanwhile) between the fleet's
# runs, where a listener of someone else's would pass for a client that is up.
CLIENT_PORTS = range(20000, 32000)


def free_ports(count: int) -> list[int]:
    """Distinct ports nothing listens on now, outside the ephemeral range (held open together, so
    none is given twice)."""
    sockets: list[socket.socket] = []
    try:
        for port in random.sample(CLIENT_PORTS, len(CLIENT_PORTS)):
            if len(sockets) == count:
                break
            s = socket.socket()
            try:
                s.bind(("", port))
            except OSError:
                s.close()
                continue
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def fleet_section(base: dict, chain_port: int, clients: int) -> dict:
    """The local stack's fleet with ``clients`` clients (the first a bootstrap), each on free ports
    of its own, reaching the chain on ``chain_port``."""
    ports = free_ports(3 * clients)
    section = dict(base)
    section["clients"] = [
        {
            "name": f"keep-{'bootstrap' if i == 0 else 'standard'}-{i}",
            "role": "bootstrap" if i == 0 else "standard",
            "port": ports[3 * i],
            "metricsPort": ports[3 * i + 1],
            "diagnosticsPort": ports[3 * i + 2],
        }
        for i in range(clients)
    ]
    section.pop("counts", None)
    section["ethereum"] = {"url": f"ws://host.minikube.internal:{chain_port}", "urlRpc": f"http://host.minikube.internal:{chain_port}"}
    return section


@dataclass
class FleetStack:
    ws: StackWorkspace
    chain: Any  # bench.chains.geth.Geth or bench.chains.anvil.Anvil, started by the caller
    kind: str  # anvil | geth
    where: LocalFleet
    restart_chain: Callable[[], Any]  # a fresh chain on the same port (geth: a new data directory)

    def up(self, *extra: str) -> None:
        self.ws.prepare(start_chain=False)
        self.ws.run(["up", "--yes", "--skip-preview", *extra], capture=True)

    def run_fleet(self, timeout: float = FLEET_TIMEOUT) -> tuple[FleetRun, FleetView, float | None]:
        run = start_fleet(
            self.where.manifests, self.where.directory, deployed=deployed_annotations(self.ws), release=CLIENT_RELEASE, say=_quiet
        )
        view, seconds = observe([c.pod for c in run.clients], timeout, since=run.last_started)
        return run, view, seconds

    def stop_fleet(self) -> list[str]:
        return stop_pids(self.where.directory)

    def staked(self) -> set:
        return staked_operators(self.ws)

    def reset_chain(self) -> None:
        """The chain as a dev chain comes back after a restart: empty, at genesis."""
        if self.kind == "anvil":
            from bench.chains.anvil import rpc

            rpc(self.chain.url, "anvil_reset", [])
        else:
            self.chain = self.restart_chain()

    def refusal(self, client: str, timeout: float = 60.0) -> tuple[int | None, str]:
        """Start one client from the manifests without its init containers (the client's own start
        checks, out of the RFC's order on purpose), on the volume an earlier run left (a
        PersistentVolumeClaim outlives its pods): its exit code and its log's last line."""
        run = start_fleet(
            self.where.manifests,
            self.where.directory,
            deployed=None,
            release=CLIENT_RELEASE,
            only=lambda pod: pod.name == client,
            skip_init=True,
            ready_timeout=None,
            say=_quiet,
        )
        started: ClientRun = run.clients[0]
        code = wait_exit(started, timeout)
        stop_pids(run.directory)
        return code, last_line(started.log)

    def contracts_only_up(self) -> None:
        """``pulumi up`` of the contracts alone (the migration and the address book it hands on):
        contracts, no stakes yet."""
        state = json.loads(self.ws.run(["stack", "export"], capture=True).stdout)["deployment"]
        targets = [r["urn"] for r in state["resources"] if r["type"].endswith(CONTRACT_TYPES)]
        self.up(*(arg for urn in targets for arg in ("--target", urn)))

    def operator_contract(self) -> str:
        """KeepRandomBeaconOperator's address as the rendered configs give it (all the same)."""
        addresses = {
            rendered_config(p)["ethereum"]["ContractAddresses"]["KeepRandomBeaconOperator"] for p in read_fleet(self.where.manifests).pods
        }
        if len(addresses) != 1:
            raise AssertionError(f"clients configured with different operator contracts: {sorted(addresses)}")
        return addresses.pop()

    def move_operator_contract(self) -> None:
        """A change that redeploys KeepRandomBeaconOperator: the service's initialize calldata
        (dkgContributionMargin) moves the service, and the operator contract takes the service."""
        params = dict(self.ws.config.get("keep-cd:planParams") or {})
        params["dkgContributionMargin"] = int(params.get("dkgContributionMargin", 1)) + 1
        set_config(self.ws, planParams=params)
        self.up()


def out_of_order_refusals(fs: FleetStack, bootstrap: str, standard: str) -> dict:
    """RFC 13's order, observed: on a chain reset to empty, a client started before its contracts
    exist refuses; after the contracts alone, one started before its stake refuses; after the
    whole up, the fleet runs.  What each client said, whether the fleet then connected, and that run.
    (The contracts come back at the addresses the manifests name: the same deployer, nonces from 0.)"""
    fs.reset_chain()
    before_contracts = fs.refusal(bootstrap)
    fs.contracts_only_up()
    before_stakes = fs.refusal(standard)
    fs.up()  # the stakes' diff reads the chain: what the reset took is staked again
    run, view, _seconds = fs.run_fleet()
    return {
        "run": run,
        "before_contracts": before_contracts,
        "before_stakes": before_stakes,
        "refused": NO_CONTRACT_CODE in before_contracts[1] and NOT_STAKED in before_stakes[1],
        "then_connected": view.all_connected() and view.operators_matched(fs.staked()),
    }


def moved_contract_rejoined(fs: FleetStack, before: FleetRun) -> bool:
    """After a change that redeploys KeepRandomBeaconOperator and a restart from the new
    manifests: every client reads the new address, none of the old processes is left, all connected."""
    from .runner import _alive

    old = fs.operator_contract()
    fs.move_operator_contract()
    new = fs.operator_contract()
    after, view, _ = fs.run_fleet()
    mounted = {
        tomllib.loads(open(os.path.join(fs.where.directory, c.pod.name, "volumes", "data", "config", "keep-client-config.toml")).read())[
            "ethereum"
        ]["ContractAddresses"]["KeepRandomBeaconOperator"]
        for c in after.clients
    }
    return new != old and mounted == {new} and not any(_alive(c.pid) for c in before.clients) and view.all_connected()


def keep_contract(fs: FleetStack, book: dict, name: str):
    """A Keep contract of the address book with its ABI from the keep-core artifacts (the benchmark
    reads more of the beacon than the program calls)."""
    from web3 import Web3

    with open(os.path.join(fs.ws.config["keep-cd:artifactsDir"], f"{name}.json")) as f:
        abi = json.load(f)["abi"]
    return Web3(Web3.HTTPProvider(fs.chain.url)).eth.contract(address=book[name], abi=abi)


def address_book(fs: FleetStack) -> dict:
    """The contracts step's address book as the stack's state records it."""
    state = json.loads(fs.ws.run(["stack", "export"], capture=True).stdout)["deployment"]
    migration = next(r for r in state["resources"] if r["type"].endswith(CONTRACT_TYPES[0]))
    return dict(migration["outputs"]["address_book"])


def stake_for_a_group(fs: FleetStack, clients: int) -> dict:
    """Before the operators are staked: the contracts alone, then each operator's stake set to
    enough minimum stakes that the fleet holds a whole group's tickets (one ticket per minimum
    stake).  What was read from the chain."""
    fs.ws.prepare(start_chain=False)
    fs.up("--target", f"urn:pulumi:{fs.ws.stack}::keep-cd::pulumi-python:{CONTRACT_TYPES[0]}::contracts")
    book = address_book(fs)
    minimum = keep_contract(fs, book, "TokenStaking").functions.minimumStake().call()
    group = keep_contract(fs, book, "KeepRandomBeaconOperator").functions.groupSize().call()
    per_client = -(-group // clients)
    operators = dict(fs.ws.config.get("keep-cd:operators") or {})
    operators["stakeAmount"] = str(per_client * minimum)
    set_config(fs.ws, operators=operators)
    return {"group_size": group, "minimum_stake": str(minimum), "tickets": per_client * clients}


def relay_entry(fs: FleetStack, run: FleetRun, client: str, group_timeout: float, entry_timeout: float) -> dict:
    """Genesis (``keep-client relay genesis``), the fleet's group selection and DKG, then
    ``keep-client relay request`` and the chain's RelayEntrySubmitted: seconds and blocks of each
    part, or what stopped it, read from the clients' own logs."""
    from .runner import client_command

    book = address_book(fs)
    operator = keep_contract(fs, book, "KeepRandomBeaconOperator")
    w3 = operator.w3
    out: dict = {"relay_entry_seconds": None}
    started, first_block = time.monotonic(), w3.eth.block_number
    code, log = client_command(run, client, ["relay", "genesis"], "relay-genesis.log", 120)
    if code != 0:
        return {**out, "relay_entry_reason": f"relay genesis exited {code}: {last_line(log)}"}
    deadline = time.monotonic() + group_timeout
    groups = 0
    while time.monotonic() < deadline:
        groups = operator.functions.numberOfGroups().call()
        if groups:
            break
        time.sleep(2)
    out["group_seconds"] = round(time.monotonic() - started, 1)
    out["group_blocks"] = w3.eth.block_number - first_block
    if not groups:
        return {**out, **dkg_failure(fs, run), "relay_entry_reason": "no group formed within the timeout (see dkg_* keys)"}
    # A member signs only once its client has registered the group (after its DKG returns, each
    # membership persisted): a request before that finds no member of the group.
    size = operator.functions.groupSize().call()
    while members_ready(run) < size and time.monotonic() < deadline:
        time.sleep(1)
    out["members_ready"] = members_ready(run)
    out["members_ready_seconds"] = round(time.monotonic() - started, 1)
    if out["members_ready"] < size:
        reason = (
            f"{out['members_ready']} of {size} members ready to sign {out['members_ready_seconds']} s after genesis: "
            "their clients still compute the group public key shares (docs/fleet.md, 'A relay entry')"
        )
        return {**out, **dkg_failure(fs, run), "relay_entry_reason": reason}
    requested, request_block = time.monotonic(), w3.eth.block_number
    code, log = client_command(run, client, ["relay", "request"], "relay-request.log", entry_timeout)
    entries = operator.events.RelayEntrySubmitted().get_logs(from_block=request_block)
    if code != 0 or not entries:
        return {**out, "relay_entry_reason": f"relay request exited {code}: {last_line(log)}; RelayEntrySubmitted events: {len(entries)}"}
    out["relay_entry_seconds"] = round(time.monotonic() - requested, 1)
    out["relay_entry_blocks"] = entries[0]["blockNumber"] - request_block
    out["relay_entry_reason"] = None
    return out


def members_ready(run: FleetRun) -> int:
    """Group members the clients say are ready to sign ("ready to operate in the group")."""
    count = 0
    for client in run.clients:
        with open(client.log, errors="replace") as f:
            count += sum("ready to operate in the group" in line for line in f)
    return count


def dkg_failure(fs: FleetStack, run: FleetRun) -> dict:
    """What the clients' logs say about a DKG that produced no group."""
    import re

    dropped, signatures = 0, None
    for client in run.clients:
        with open(client.log, errors="replace") as f:
            for line in f:
                if "message handler is too slow; dropping message" in line:
                    dropped += 1
                m = re.search(r"could not submit result with \[(\d+)\] signatures for signature threshold \[(\d+)\]", line)
                if m:
                    signatures = [int(m.group(1)), int(m.group(2))]
    return {"dkg_dropped_messages": dropped, "dkg_result_signatures_of_threshold": signatures, "load_average": os.getloadavg()[0]}


def _quiet(_message: str) -> None:
    pass


def new_fleet_stack(engine: Engine, workdir: str, chain: Any, kind: str, clients: int, restart_chain: Callable[[], Any]) -> FleetStack:
    from bench.engine.local_stack import committed_config

    base = committed_config("local")["keep-cd:fleet"]
    config = {"fleet": fleet_section(base, chain.port, clients)}
    ws = new_stack(engine, workdir, chain.url, chain.chain_id, config=config)
    ws = dataclasses.replace(ws, chain_kind=kind)
    return FleetStack(ws, chain, kind, LocalFleet(os.path.join(workdir, "manifests"), os.path.join(workdir, "fleet")), restart_chain)
