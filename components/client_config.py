"""``keep-client-config.toml``: typed values in, TOML out (and back), never a string template.

keep-client crashed in the past on ``Port = 3919.0`` (an integer rendered as a float) and on an empty
string inside ``Peers``; both are impossible here: the values are typed and checked before tomlkit
renders them, and ``parse`` reads a rendered file back into the same typed values (tested).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import tomlkit

from chain.errors import ConfigError
from keep_contracts.names import CLIENT_CONTRACTS as CONTRACT_KEYS  # keep-client's [ethereum.ContractAddresses] keys

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


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
    peers: tuple = ()  # [LibP2P] Peers: bootstrap multiaddrs (standard peers only)
    announced_addresses: tuple = ()  # [LibP2P] AnnouncedAddresses

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
    if type(cfg.port) is not int or not 0 < cfg.port < 65536:
        _fail("LibP2P.Port", f"{cfg.port!r} is not an integer port in 1..65535")
    for key, values in (("LibP2P.Peers", cfg.peers), ("LibP2P.AnnouncedAddresses", cfg.announced_addresses)):
        for i, v in enumerate(values):
            if not isinstance(v, str) or not v.strip() or not v.startswith("/"):
                _fail(f"{key}[{i}]", f"{v!r} is not a multiaddr (expected e.g. /dns4/host/tcp/3919)")


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
    return tomlkit.dumps(doc)


def parse(text: str) -> ClientConfig:
    """The typed values of a rendered file (plain Python types, not tomlkit's)."""
    data = tomlkit.parse(text).unwrap()
    eth, p2p = data["ethereum"], data["LibP2P"]
    return ClientConfig(
        url=eth["URL"],
        url_rpc=eth["URLRPC"],
        address=eth["account"]["Address"],
        key_file=eth["account"]["KeyFile"],
        contract_addresses=eth["ContractAddresses"],
        port=p2p["Port"],
        data_dir=data["Storage"]["DataDir"],
        peers=tuple(p2p.get("Peers", ())),
        announced_addresses=tuple(p2p.get("AnnouncedAddresses", ())),
    )
