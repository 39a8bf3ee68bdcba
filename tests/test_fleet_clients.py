"""The real keep-client (v1.3.1, built by `make keep-client`) runs the fleet keep-cd rendered: three
clients, one bootstrap, started by bench.fleet from the manifests a real `pulumi up` wrote, on anvil
with 1-second blocks and on geth --dev.  Each test asserts what the clients themselves report
(/diagnostics, /metrics, their logs), never keep-cd's idea of them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tomllib

import pytest

from bench.fleet.observe import rendered_config
from bench.fleet.pods import FleetInputError, read_fleet
from bench.fleet.runner import FleetError, _alive, start_fleet
from bench.fleet.scenario import NO_CONTRACT_CODE, NOT_STAKED, FleetStack, new_fleet_stack
from engine_stack import engine_or_fail
from keep_contracts.names import CLIENT_RELEASE

pytestmark = [pytest.mark.engine, pytest.mark.client]

CLIENTS = 3


@pytest.fixture
def fleet_stack(request, tmp_path, anvil_factory, geth_factory):
    kind = request.param
    if kind == "anvil":
        chain = anvil_factory(block_time=1)

        def restart():
            raise AssertionError("anvil resets through anvil_reset")
    else:
        chain = geth_factory()

        def restart():
            fs.chain.stop()
            return geth_factory(port=fs.chain.port)

    fs = new_fleet_stack(engine_or_fail(), str(tmp_path), chain, kind, CLIENTS, restart)
    try:
        yield fs
    finally:
        fs.stop_fleet()


def mounted(fs: FleetStack, client: str, name: str) -> str:
    """A file as the client's volume holds it (what keep-client reads)."""
    with open(os.path.join(fs.where.directory, client, "volumes", "data", "config", name)) as f:
        return f.read()


@pytest.mark.parametrize("fleet_stack", ["anvil", "geth"], indirect=True)
def test_the_real_client_runs_what_was_rendered_and_joins_through_the_bootstrap(fleet_stack):
    fs = fleet_stack
    fs.up()
    run, view, seconds = fs.run_fleet()
    rendered = read_fleet(fs.where.manifests)
    assert [c.pod.name for c in run.clients] == [p.name for p in rendered.pods] and len(run.clients) == CLIENTS
    assert run.clients[0].pod.role == "bootstrap"  # started first
    assert view.all_connected() and seconds is not None, json.dumps(view.to_json(), indent=1)
    # Each connected peer is a staked operator of this stack, and each client's peer id is the one
    # keep-cd computed from its key for the standard clients' Peers.
    assert view.operators_matched(fs.staked())
    assert view.peer_ids_as_rendered()
    for client in run.clients:
        pod = client.pod
        reported = view.clients[pod.name]
        assert reported.metrics["eth_connectivity"] == 1.0
        if pod.role == "standard":
            assert reported.metrics["connected_bootstrap_count"] >= 1
        # What the client read is byte for byte what was rendered: the ConfigMap's TOML and the Secret's keyfile.
        config_map = next(v["configMap"]["name"] for v in pod.spec["volumes"] if "configMap" in v)
        secret = next(v["secret"]["secretName"] for v in pod.spec["volumes"] if "secret" in v)
        assert mounted(fs, pod.name, "keep-client-config.toml") == pod.config_maps[config_map]["keep-client-config.toml"]
        assert mounted(fs, pod.name, "eth_account_keyfile") == pod.secrets[secret]["eth_account_keyfile"]
        config = tomllib.loads(pod.config_maps[config_map]["keep-client-config.toml"])
        assert reported.operator == config["ethereum"]["account"]["Address"].lower()
        assert json.loads(pod.secrets[secret]["eth_account_keyfile"])["address"].lower() == reported.operator.removeprefix("0x")
    pids = [c.pid for c in run.clients]
    assert sorted(fs.stop_fleet()) == sorted(c.pod.name for c in run.clients)
    assert not any(_alive(pid) for pid in pids)


@pytest.mark.parametrize("fleet_stack", ["anvil"], indirect=True)
def test_out_of_order_clients_refuse_to_run_and_up_puts_them_in_order(fleet_stack):
    """RFC 13's order: contracts, then stakes, then clients.  A client started before its contracts
    exist, or before its operator is staked, refuses with its own message; after keep-cd's up it runs."""
    fs = fleet_stack
    fs.up()
    fs.run_fleet()
    fs.stop_fleet()
    operator_contract = fs.operator_contract()
    fs.reset_chain()  # a dev chain restarted empty: no contracts, no stakes
    code, line = fs.refusal("keep-bootstrap-0")
    assert code not in (0, None) and NO_CONTRACT_CODE in line
    # A whole fleet started that way stops at its first client, says why, and leaves nothing running.
    with pytest.raises(FleetError, match="keep-bootstrap-0: keep-client exited") as refused:
        start_fleet(fs.where.manifests, fs.where.directory, deployed=None, release=CLIENT_RELEASE, skip_init=True, say=lambda m: None)
    assert NO_CONTRACT_CODE in str(refused.value) and "\n" not in str(refused.value)
    assert fs.stop_fleet() == []
    # Contracts only (their resource alone): the same addresses again, but no stake yet.
    fs.contracts_only_up()
    assert fs.operator_contract() == operator_contract
    code, line = fs.refusal("keep-standard-1")
    assert code not in (0, None) and NOT_STAKED in line
    # keep-cd's whole up (its stakes' diff reads the chain and finds them gone): every client runs.
    fs.up()
    _run, view, _seconds = fs.run_fleet()
    assert view.all_connected() and view.operators_matched(fs.staked())


@pytest.mark.parametrize("fleet_stack", ["geth"], indirect=True)
def test_a_moved_operator_contract_moves_every_client_and_stale_manifests_are_refused(fleet_stack, tmp_path):
    fs = fleet_stack
    fs.up()
    before, _view, _ = fs.run_fleet()
    old = fs.operator_contract()
    old_manifests = str(tmp_path / "old-manifests")
    shutil.copytree(fs.where.manifests, old_manifests)
    fs.move_operator_contract()
    new = fs.operator_contract()
    assert new != old
    # The manifests of before the update are not the stack's: refused before anything stops or starts.
    with pytest.raises(FleetInputError, match=r"stale: Deployment keep-bootstrap-0's checksum/config differs"):
        start_fleet(old_manifests, fs.where.directory, deployed=deployed(fs), release=CLIENT_RELEASE, say=lambda m: None)
    assert all(_alive(c.pid) for c in before.clients)
    after, view, _ = fs.run_fleet()
    assert not any(_alive(c.pid) for c in before.clients)  # none left on the old contract
    assert view.all_connected() and view.operators_matched(fs.staked())
    for client in after.clients:
        assert (
            tomllib.loads(mounted(fs, client.pod.name, "keep-client-config.toml"))["ethereum"]["ContractAddresses"][
                "KeepRandomBeaconOperator"
            ]
            == new
            == rendered_config(client.pod)["ethereum"]["ContractAddresses"]["KeepRandomBeaconOperator"]
        )


@pytest.mark.parametrize("fleet_stack", ["anvil"], indirect=True)
def test_a_held_port_is_refused_before_anything_starts(fleet_stack):
    fs = fleet_stack
    fs.up()
    port = read_fleet(fs.where.manifests).pods[-1].container_port("metrics")
    with socket.socket() as held:
        held.bind(("127.0.0.1", port))
        held.listen()
        with pytest.raises(FleetInputError, match=rf"^port {port} \(keep-standard-2 metrics\): already held"):
            fs.run_fleet()
    assert not os.path.exists(os.path.join(fs.where.directory, "keep-bootstrap-0"))  # nothing started


def deployed(fs: FleetStack) -> dict:
    from bench.fleet.local import deployed_annotations

    return deployed_annotations(fs.ws)
