"""keep-client-config.toml: typed values in, the same values back out; the past crashes refused."""

import dataclasses

import pytest
import tomllib

from components.client_config import ClientConfig, parse, render
from contracts_step.errors import ConfigError

# The contract addresses keep-client 1.x reads from [ethereum.ContractAddresses].
KEEP_CLIENT_CONTRACTS = ("KeepRandomBeaconOperator", "TokenStaking", "KeepRandomBeaconService")


def config(**over):
    values = dict(
        url="ws://eth.keep.svc.cluster.local:8546",
        url_rpc="http://eth.keep.svc.cluster.local:8545",
        address="0x" + "ab" * 20,
        key_file="/mnt/keep-client/config/eth_account_keyfile",
        contract_addresses={k: "0x" + f"{i + 1:02x}" * 20 for i, k in enumerate(KEEP_CLIENT_CONTRACTS)},
        port=3919,
        data_dir="/mnt/keep-client/data",
        peers=("/dns4/keep-bootstrap-0.keep.svc.cluster.local/tcp/3919/ipfs/16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa",),
        announced_addresses=("/dns4/keep-standard-0.keep.svc.cluster.local/tcp/3919",),
    )
    values.update(over)
    return ClientConfig(**values)


def test_round_trip_gives_the_same_typed_values():
    cfg = config()
    assert parse(render(cfg)) == cfg
    bootstrap = config(peers=())
    assert parse(render(bootstrap)) == bootstrap


def test_schema_and_types_as_keep_client_reads_them():
    text = render(config(port=3920))
    data = tomllib.loads(text)  # an independent TOML reader
    assert data["LibP2P"]["Port"] == 3920 and type(data["LibP2P"]["Port"]) is int
    assert "Port = 3920\n" in text and "3920.0" not in text
    assert set(data) == {"ethereum", "LibP2P", "Storage"}
    assert set(data["ethereum"]) == {"URL", "URLRPC", "account", "ContractAddresses"}
    assert data["ethereum"]["ContractAddresses"] == {k: "0x" + f"{i + 1:02x}" * 20 for i, k in enumerate(KEEP_CLIENT_CONTRACTS)}
    assert data["ethereum"]["account"]["KeyFile"] == "/mnt/keep-client/config/eth_account_keyfile"
    assert data["Storage"]["DataDir"] == "/mnt/keep-client/data"


def test_bootstrap_has_no_peers_key_at_all():
    data = tomllib.loads(render(config(peers=())))
    assert "Peers" not in data["LibP2P"]


@pytest.mark.parametrize(
    "over, named",
    [
        (dict(port=3919.0), "LibP2P.Port"),
        (dict(port=True), "LibP2P.Port"),
        (dict(port=0), "LibP2P.Port"),
        (dict(port=70000), "LibP2P.Port"),
        (dict(peers=("",)), "LibP2P.Peers[0]"),
        (dict(peers=("/dns4/a/tcp/1/ipfs/x", " ")), "LibP2P.Peers[1]"),
        (dict(announced_addresses=("",)), "LibP2P.AnnouncedAddresses[0]"),
        (dict(address="0x1234"), "ethereum.account.Address"),
        (dict(url="http://eth:8546"), "ethereum.URL"),
        (dict(url_rpc="ws://eth:8545"), "ethereum.URLRPC"),
        (dict(data_dir="data"), "Storage.DataDir"),
        (dict(contract_addresses={"TokenStaking": "0x" + "11" * 20}), "ethereum.ContractAddresses.KeepRandomBeaconOperator"),
    ],
)
def test_values_keep_client_would_choke_on_are_refused_in_one_line(over, named):
    with pytest.raises(ConfigError) as e:
        config(**over)
    assert named in str(e.value) and "\n" not in str(e.value)


def test_config_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        config().port = 1


def test_the_text_does_not_depend_on_the_order_addresses_come_in():
    """The file is hashed into checksum/config: the same addresses must give the same bytes."""
    addresses = {k: "0x" + f"{i + 1:02x}" * 20 for i, k in enumerate(KEEP_CLIENT_CONTRACTS)}
    addresses["KeepRandomBeaconOperatorStatistics"] = "0x" + "09" * 20  # one keep-client does not need
    shuffled = dict(reversed(list(addresses.items())))
    assert list(shuffled) != list(addresses)
    assert render(config(contract_addresses=shuffled)) == render(config(contract_addresses=addresses))
    assert tomllib.loads(render(config(contract_addresses=shuffled)))["ethereum"]["ContractAddresses"] == addresses
