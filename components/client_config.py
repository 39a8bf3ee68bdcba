"""``keep-client-config.toml``: typed values in, TOML out, never a string template.

keep-client crashed in the past on ``Port = 3919.0`` (an integer rendered as a float) and on an empty
string inside ``Peers``; both are impossible here: the values are typed and checked before tomlkit
renders them (tests read each rendered file back with tomllib, an independent reader).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import tomlkit

from chain.errors import ConfigError
from keep_contracts.names import CLIENT_CONTRACTS as CONTRACT_KEYS  # keep-client's [ethereum.ContractAddresses] keys

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# A dialable libp2p address: where, then whom.  keep-client 1.x bootstraps only from peers named by
# id: without the /ipfs/<peer id> tail it dies at start ("bootstrap failed: [invalid p2p multiaddr]").
_PEER_MULTIADDR = re.compile(r"^/(ip4|ip6|dns4|dns6|dns)/[^/\s]+/tcp/[0-9]{1,5}/(ipfs|p2p)/[1-9A-HJ-NP-Za-km-z]{32,}$")
# Where a client is reachable (its own AnnouncedAddresses): no peer id.
_LISTEN_MULTIADDR = re.compile(r"^/(ip4|ip6|dns4|dns6|dns)/[^/\s]+/tcp/[0-9]{1,5}$")


@dataclass(frozen=True)
class ClientConfig:
    """Everything one client's configuration file says, typed."""

    url: str  # [ethereum] URL: the chain's websocket endpoint
    url_rpc: str  # [ethereum] URLRPC: its HTTP JSON-RPC endpoint
    address: str  # [ethereum.account] Address
    key_file: str  # [ethereum.account] KeyFile: path of the V3 keystore inside the pod
    contract_addresses: Mapping[str, str]  # [ethereum.ContractAddresses]: config key -> address
    port: int  # [LibP2P] Port
    data_dir: str  # [Storage] DataDir
    metrics_port: int  # [Metrics] Port: /metrics (connected peers, bootstrap peers, eth connectivity)
    diagnostics_port: int  # [Diagnostics] Port: /diagnostics (connected peers and their operators)
    peers: tuple = ()  # [LibP2P] Peers: bootstrap multiaddrs (standard peers only)
    announced_addresses: tuple = ()  # [LibP2P] AnnouncedAddresses
    # [Metrics] NetworkMetricsTick / EthereumMetricsTick: seconds between observations
    # (the client's own defaults are 60 and 600).
    network_metrics_tick: int = 60
    ethereum_metrics_tick: int = 600

    def __post_init__(self) -> None:
        object.__setattr__(self, "peers", tuple(self.peers))
        object.__setattr__(self, "announced_addresses", tuple(self.announced_addresses))
        object.__setattr__(self, "contract_addresses", dict(self.contract_addresses))
        validate(self)


def _fail(what: str, expected: str) -> None:
    raise ConfigError(f"keep-client config {what}: {expected}")


def validate(cfg: ClientConfig) -> None:
    """One-line error naming the first value keep-client would choke on."""
    for key, value, schemes in (("ethereum.URL", cfg.url, ("ws://", "wss://")), ("ethereum.URLRPC", cfg.url_rpc, ("http://", "https://"))):
        if not isinstance(value, str) or not value.startswith(schemes):
            _fail(key, f"{value!r} is not a {'/'.join(s[:-3] for s in schemes)} URL")
    if not isinstance(cfg.address, str) or not _ADDRESS.match(cfg.address):
        _fail("ethereum.account.Address", f"{cfg.address!r} is not a 0x-prefixed 20-byte hex address")
    for key, value in (("ethereum.account.KeyFile", cfg.key_file), ("Storage.DataDir", cfg.data_dir)):
        if not isinstance(value, str) or not value.startswith("/"):
            _fail(key, f"{value!r} is not an absolute path")
    for name in CONTRACT_KEYS:
        if name not in cfg.contract_addresses:
            _fail(f"ethereum.ContractAddresses.{name}", "missing")
    for name, addr in cfg.contract_addresses.items():
        if not isinstance(addr, str) or not _ADDRESS.match(addr):
            _fail(f"ethereum.ContractAddresses.{name}", f"{addr!r} is not a 0x-prefixed 20-byte hex address")
    # bool is an int in Python; a float is what crashed the client: both refused.
    ports = (("LibP2P.Port", cfg.port), ("Metrics.Port", cfg.metrics_port), ("Diagnostics.Port", cfg.diagnostics_port))
    for key, port in ports:
        if type(port) is not int or not 0 < port < 65536:
            _fail(key, f"{port!r} is not an integer port in 1..65535")
    for (key, port), (other, other_port) in zip(ports, ports[1:] + ports[:1], strict=True):
        if port == other_port:
            _fail(key, f"{port} is also {other} (expected a port of its own: one process listens on both)")
    for key, tick in (("Metrics.NetworkMetricsTick", cfg.network_metrics_tick), ("Metrics.EthereumMetricsTick", cfg.ethereum_metrics_tick)):
        if type(tick) is not int or tick <= 0:
            _fail(key, f"{tick!r} is not a positive integer number of seconds")
    for i, v in enumerate(cfg.peers):
        if not isinstance(v, str) or not _PEER_MULTIADDR.match(v):
            _fail(f"LibP2P.Peers[{i}]", f"{v!r} is not a peer multiaddr (expected /dns4/<host>/tcp/<port>/ipfs/<peer id>)")
    for i, v in enumerate(cfg.announced_addresses):
        if not isinstance(v, str) or not _LISTEN_MULTIADDR.match(v):
            _fail(f"LibP2P.AnnouncedAddresses[{i}]", f"{v!r} is not a multiaddr (expected /dns4/<host>/tcp/<port>)")


def render(cfg: ClientConfig) -> str:
    doc = tomlkit.document()
    doc.add(tomlkit.comment("keep-client configuration, rendered by keep-cd from typed values; do not edit."))
    ethereum = tomlkit.table()
    ethereum["URL"] = cfg.url
    ethereum["URLRPC"] = cfg.url_rpc
    account = tomlkit.table()
    account["Address"] = cfg.address
    account["KeyFile"] = cfg.key_file
    ethereum["account"] = account
    contracts = tomlkit.table()
    for name in [*CONTRACT_KEYS, *sorted(set(cfg.contract_addresses) - set(CONTRACT_KEYS))]:
        contracts[name] = cfg.contract_addresses[name]
    ethereum["ContractAddresses"] = contracts
    doc["ethereum"] = ethereum
    libp2p = tomlkit.table()
    if cfg.peers:  # bootstrap peers have none; an empty list would only invite an empty string
        libp2p["Peers"] = list(cfg.peers)
    libp2p["Port"] = cfg.port
    if cfg.announced_addresses:
        libp2p["AnnouncedAddresses"] = list(cfg.announced_addresses)
    doc["LibP2P"] = libp2p
    storage = tomlkit.table()
    storage["DataDir"] = cfg.data_dir
    doc["Storage"] = storage
    metrics = tomlkit.table()
    metrics["Port"] = cfg.metrics_port
    metrics["NetworkMetricsTick"] = cfg.network_metrics_tick
    metrics["EthereumMetricsTick"] = cfg.ethereum_metrics_tick
    doc["Metrics"] = metrics
    diagnostics = tomlkit.table()
    diagnostics["Port"] = cfg.diagnostics_port
    doc["Diagnostics"] = diagnostics
    return tomlkit.dumps(doc)
