"""keep-client-config.toml: typed values in, the same values read back by an independent TOML reader
(tomllib, not the renderer's tomlkit); the past crashes refused."""

import dataclasses
import tomllib

import pytest

from chain.errors import ConfigError
from components.client_config import ClientConfig, render

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
        metrics_port=9601,
        diagnostics_port=9701,
        data_dir="/mnt/keep-client/data",
        peers=("/dns4/keep-bootstrap-0.keep.svc.cluster.local/tcp/3919/ipfs/16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa",),
        announced_addresses=("/dns4/keep-standard-0.keep.svc.cluster.local/tcp/3919",),
    )
    values.update(over)
    return ClientConfig(**values)


def expected(cfg: ClientConfig) -> dict:
    """The document keep-client should read for ``cfg``, written out key by key from its fields."""
    p2p: dict = {"Port": cfg.port}
    if cfg.peers:
        p2p["Peers"] = list(cfg.peers)
    if cfg.announced_addresses:
        p2p["AnnouncedAddresses"] = list(cfg.announced_addresses)
    return {
        "ethereum": {
            "URL": cfg.url,
            "URLRPC": cfg.url_rpc,
            "account": {"Address": cfg.address, "KeyFile": cfg.key_file},
            "ContractAddresses": dict(cfg.contract_addresses),
        },
        "LibP2P": p2p,
        "Storage": {"DataDir": cfg.data_dir},
        "Metrics": {
            "Port": cfg.metrics_port,
            "NetworkMetricsTick": cfg.network_metrics_tick,
            "EthereumMetricsTick": cfg.ethereum_metrics_tick,
        },
        "Diagnostics": {"Port": cfg.diagnostics_port},
    }


def read_back(cfg: ClientConfig) -> dict:
    """The rendered file as tomllib reads it; each value of the type the config holds (an int port
    read back as a float, or a list as a string, is not equal to the expected document)."""
    data = tomllib.loads(render(cfg))
    want = expected(cfg)
    assert data == want

    def types(v):
        return {k: types(x) for k, x in v.items()} if isinstance(v, dict) else type(v)

    assert types(data) == types(want)
    return data


def test_rendered_file_reads_back_as_the_typed_values():
    data = read_back(config())
    assert data["LibP2P"]["Peers"] == [
        "/dns4/keep-bootstrap-0.keep.svc.cluster.local/tcp/3919/ipfs/16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa"
    ]
    assert data["LibP2P"]["Port"] == 3919 and data["Metrics"]["Port"] == 9601 and data["Diagnostics"]["Port"] == 9701
    bootstrap = read_back(config(peers=()))
    assert "Peers" not in bootstrap["LibP2P"]


def test_schema_and_types_as_keep_client_reads_them():
    text = render(config(port=3920))
    data = tomllib.loads(text)  # an independent TOML reader
    assert data["LibP2P"]["Port"] == 3920 and type(data["LibP2P"]["Port"]) is int
    assert "Port = 3920\n" in text and "3920.0" not in text
    assert set(data) == {"ethereum", "LibP2P", "Storage", "Metrics", "Diagnostics"}
    assert data["Metrics"] == {"Port": 9601, "NetworkMetricsTick": 60, "EthereumMetricsTick": 600}
    assert data["Diagnostics"] == {"Port": 9701}
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
        (dict(peers=("/dns4/a/tcp/1/ipfs/16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa", " ")), "LibP2P.Peers[1]"),
        (dict(peers=("/dns4/keep-bootstrap-0/tcp/3919",)), "LibP2P.Peers[0]"),
        (dict(metrics_port=9601.0), "Metrics.Port"),
        (dict(diagnostics_port=0), "Diagnostics.Port"),
        (dict(metrics_port=3919), "LibP2P.Port"),
        (dict(diagnostics_port=9601), "Metrics.Port"),
        (dict(network_metrics_tick=0), "Metrics.NetworkMetricsTick"),
        (dict(ethereum_metrics_tick=1.5), "Metrics.EthereumMetricsTick"),
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


@pytest.mark.parametrize(
    "over,message",
    [
        pytest.param({"url": "http://eth:8546"}, "keep-client config ethereum.URL: 'http://eth:8546' is not a ws/wss URL", id="url"),
        pytest.param({"url": 5}, "keep-client config ethereum.URL: 5 is not a ws/wss URL", id="url int"),
        pytest.param(
            {"url_rpc": "ws://eth:8545"}, "keep-client config ethereum.URLRPC: 'ws://eth:8545' is not a http/https URL", id="url_rpc"
        ),
        pytest.param(
            {"address": "0x1234"},
            "keep-client config ethereum.account.Address: '0x1234' is not a 0x-prefixed 20-byte hex address",
            id="address",
        ),
        pytest.param(
            {"address": 7}, "keep-client config ethereum.account.Address: 7 is not a 0x-prefixed 20-byte hex address", id="address int"
        ),
        pytest.param(
            {"key_file": "keyfile"}, "keep-client config ethereum.account.KeyFile: 'keyfile' is not an absolute path", id="key_file"
        ),
        pytest.param({"key_file": None}, "keep-client config ethereum.account.KeyFile: None is not an absolute path", id="key_file none"),
        pytest.param({"data_dir": "data"}, "keep-client config Storage.DataDir: 'data' is not an absolute path", id="data_dir"),
        pytest.param(
            {
                "contract_addresses": {
                    "TokenStaking": "0x1111111111111111111111111111111111111111",
                    "KeepRandomBeaconOperator": "0x1111111111111111111111111111111111111111",
                }
            },
            "keep-client config ethereum.ContractAddresses.KeepRandomBeaconService: missing",
            id="contract missing",
        ),
        pytest.param(
            {
                "contract_addresses": {
                    "TokenStaking": "0x11",
                    "KeepRandomBeaconOperator": "0x1111111111111111111111111111111111111111",
                    "KeepRandomBeaconService": "0x1111111111111111111111111111111111111111",
                }
            },
            "keep-client config ethereum.ContractAddresses.TokenStaking: '0x11' is not a 0x-prefixed 20-byte hex address",
            id="contract bad",
        ),
        pytest.param(
            {
                "contract_addresses": {
                    "TokenStaking": "0x1111111111111111111111111111111111111111",
                    "KeepRandomBeaconOperator": "0x1111111111111111111111111111111111111111",
                    "KeepRandomBeaconService": "0x1111111111111111111111111111111111111111",
                    "X": None,
                }
            },
            "keep-client config ethereum.ContractAddresses.X: None is not a 0x-prefixed 20-byte hex address",
            id="contract extra bad",
        ),
        pytest.param({"port": 3919.0}, "keep-client config LibP2P.Port: 3919.0 is not an integer port in 1..65535", id="port float"),
        pytest.param({"port": True}, "keep-client config LibP2P.Port: True is not an integer port in 1..65535", id="port bool"),
        pytest.param({"port": 0}, "keep-client config LibP2P.Port: 0 is not an integer port in 1..65535", id="port 0"),
        pytest.param({"port": 65536}, "keep-client config LibP2P.Port: 65536 is not an integer port in 1..65535", id="port 65536"),
        pytest.param(
            {"peers": ("",)},
            "keep-client config LibP2P.Peers[0]: '' is not a peer multiaddr (expected /dns4/<host>/tcp/<port>/ipfs/<peer id>)",
            id="peers empty",
        ),
        pytest.param(
            {
                "peers": (
                    "/dns4/keep-bootstrap-0.keep.svc.cluster.local/tcp/3919/ipfs/16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa",
                    " ",
                )
            },
            "keep-client config LibP2P.Peers[1]: ' ' is not a peer multiaddr (expected /dns4/<host>/tcp/<port>/ipfs/<peer id>)",
            id="peers space",
        ),
        pytest.param(
            {"peers": ("dns4/x",)},
            "keep-client config LibP2P.Peers[0]: 'dns4/x' is not a peer multiaddr (expected /dns4/<host>/tcp/<port>/ipfs/<peer id>)",
            id="peers no slash",
        ),
        pytest.param(
            # Dialable, but not by id: keep-client dies at start ("bootstrap failed: [invalid p2p multiaddr]").
            {
                "peers": (
                    "/dns4/keep-bootstrap-0.keep.svc.cluster.local/tcp/3919/ipfs/16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa",
                    "/dns4/keep-bootstrap-1.keep.svc.cluster.local/tcp/3919",
                )
            },
            "keep-client config LibP2P.Peers[1]: '/dns4/keep-bootstrap-1.keep.svc.cluster.local/tcp/3919' is not a peer multiaddr (expected /dns4/<host>/tcp/<port>/ipfs/<peer id>)",
            id="peer without its id",
        ),
        pytest.param(
            {"peers": (5,)},
            "keep-client config LibP2P.Peers[0]: 5 is not a peer multiaddr (expected /dns4/<host>/tcp/<port>/ipfs/<peer id>)",
            id="peers int",
        ),
        pytest.param(
            {"announced_addresses": ("x",)},
            "keep-client config LibP2P.AnnouncedAddresses[0]: 'x' is not a multiaddr (expected /dns4/<host>/tcp/<port>)",
            id="announced",
        ),
        pytest.param(
            {"metrics_port": 3919},
            "keep-client config LibP2P.Port: 3919 is also Metrics.Port (expected a port of its own: one process listens on both)",
            id="metrics on the libp2p port",
        ),
    ],
)
def test_each_refusal_is_its_whole_line(over, message):
    with pytest.raises(ConfigError) as e:
        config(**over)
    assert str(e.value) == message


@pytest.mark.parametrize(
    "over",
    [
        pytest.param({"url": "wss://e"}, id="url wss"),
        pytest.param({"url_rpc": "https://e"}, id="url_rpc https"),
        pytest.param({"port": 65535}, id="port 65535"),
        pytest.param({"port": 1}, id="port 1"),
    ],
)
def test_the_edges_of_what_keep_client_takes(over):
    data = read_back(config(**over))
    for field, value in over.items():
        key = {"url": ("ethereum", "URL"), "url_rpc": ("ethereum", "URLRPC"), "port": ("LibP2P", "Port")}[field]
        assert data[key[0]][key[1]] == value


def test_sequences_and_maps_are_stored_as_their_own_copies():
    peers, announced, addresses = (
        ["/dns4/keep-bootstrap-0.keep.svc.cluster.local/tcp/3919/ipfs/16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa"],
        ["/dns4/a/tcp/1"],
        {k: "0x" + "11" * 20 for k in KEEP_CLIENT_CONTRACTS},
    )
    cfg = config(peers=peers, announced_addresses=announced, contract_addresses=addresses)
    peers.append("/dns4/b/tcp/2")
    announced.append("/dns4/b/tcp/2")
    addresses["TokenStaking"] = "0x" + "22" * 20
    assert cfg.peers == (
        "/dns4/keep-bootstrap-0.keep.svc.cluster.local/tcp/3919/ipfs/16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa",
    ) and cfg.announced_addresses == ("/dns4/a/tcp/1",)
    assert cfg.contract_addresses["TokenStaking"] == "0x" + "11" * 20 and type(cfg.contract_addresses) is dict


def test_the_whole_rendered_file():
    """The file keep-client reads, as text: tables, keys and value types as its TOML loader expects."""
    text = render(config(announced_addresses=()))
    assert text == (
        "# keep-client configuration, rendered by keep-cd from typed values; do not edit.\n"
        "\n"
        "[ethereum]\n"
        'URL = "ws://eth.keep.svc.cluster.local:8546"\n'
        'URLRPC = "http://eth.keep.svc.cluster.local:8545"\n'
        "\n"
        "[ethereum.account]\n"
        'Address = "0x' + "ab" * 20 + '"\n'
        'KeyFile = "/mnt/keep-client/config/eth_account_keyfile"\n'
        "\n"
        "[ethereum.ContractAddresses]\n"
        'KeepRandomBeaconOperator = "0x' + "01" * 20 + '"\n'
        'TokenStaking = "0x' + "02" * 20 + '"\n'
        'KeepRandomBeaconService = "0x' + "03" * 20 + '"\n'
        "\n"
        "[LibP2P]\n"
        'Peers = ["/dns4/keep-bootstrap-0.keep.svc.cluster.local/tcp/3919/ipfs/16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa"]\n'
        "Port = 3919\n"
        "\n"
        "[Storage]\n"
        'DataDir = "/mnt/keep-client/data"\n'
        "\n"
        "[Metrics]\n"
        "Port = 9601\n"
        "NetworkMetricsTick = 60\n"
        "EthereumMetricsTick = 600\n"
        "\n"
        "[Diagnostics]\n"
        "Port = 9701\n"
    )


def test_a_file_without_announced_addresses_reads_back_without_them():
    cfg = config(announced_addresses=())
    assert "AnnouncedAddresses" not in render(cfg) and "AnnouncedAddresses" not in read_back(cfg)["LibP2P"]
