"""The fleet as its clients report it: ``/diagnostics`` (this client's peer id and operator, the
peers it is connected to and their operators) and ``/metrics`` (connected_peers_count,
connected_bootstrap_count, eth_connectivity), each on the port the rendered container declares."""

from __future__ import annotations

import re
import time
import tomllib
from dataclasses import dataclass, field

from .pods import Pod
from .runner import http_json, http_text

GAUGES = ("connected_peers_count", "connected_bootstrap_count", "eth_connectivity")
_GAUGE_LINE = re.compile(r"^([a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+)")


@dataclass
class ClientView:
    name: str
    role: str
    operator: str  # the rendered config's [ethereum.account] Address, lower case
    bootstrap_ids: tuple  # the peer ids its rendered Peers name
    peer_id: str | None = None  # what the client says it is
    peers: dict = field(default_factory=dict)  # peer id -> operator address (lower case)
    metrics: dict = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.peer_id is not None

    def to_json(self) -> dict:
        return {
            "role": self.role,
            "operator": self.operator,
            "peer_id": self.peer_id,
            "peers": self.peers,
            "connected_bootstraps": sorted(set(self.peers) & set(self.bootstrap_ids)),
            "metrics": self.metrics,
        }


def rendered_config(pod: Pod) -> dict:
    """The client's keep-client-config.toml, read from its rendered ConfigMap by a TOML reader of
    its own (not keep-cd's renderer)."""
    for volume in pod.spec.get("volumes") or []:
        if "configMap" in volume:
            name = volume["configMap"]["name"]
            for text in pod.config_maps.get(name, {}).values():
                return tomllib.loads(text)
    return {}


def view_of(pod: Pod) -> ClientView:
    config = rendered_config(pod)
    peers = (config.get("LibP2P") or {}).get("Peers") or []
    return ClientView(
        name=pod.name,
        role=pod.role,
        operator=str(config["ethereum"]["account"]["Address"]).lower(),
        bootstrap_ids=tuple(p.rsplit("/", 1)[-1] for p in peers),
    )


def parse_metrics(text: str) -> dict:
    values = {}
    for line in text.splitlines():
        m = _GAUGE_LINE.match(line.strip())
        if m and m.group(1) in GAUGES:
            values[m.group(1)] = float(m.group(3))
    return values


def read_view(pod: Pod, view: ClientView) -> ClientView:
    diagnostics = http_json(f"http://127.0.0.1:{pod.container_port('diagnostics')}/diagnostics")
    if isinstance(diagnostics, dict):
        info = diagnostics.get("client_info") or {}
        view.peer_id = info.get("network_id")
        view.peers = {
            p["network_id"]: str(p.get("ethereum_address", "")).lower()
            for p in diagnostics.get("connected_peers") or []
            if isinstance(p, dict)
        }
    text = http_text(f"http://127.0.0.1:{pod.container_port('metrics')}/metrics")
    if text is not None:
        view.metrics = parse_metrics(text)
    return view


@dataclass
class FleetView:
    clients: dict  # name -> ClientView

    def bootstrap_ids(self) -> set:
        return {v.peer_id for v in self.clients.values() if v.role == "bootstrap" and v.peer_id}

    def connected(self) -> list[str]:
        """Clients with at least one peer; a standard client also needs a bootstrap peer among them."""
        bootstraps = self.bootstrap_ids()
        return [
            name
            for name, v in self.clients.items()
            if v.peers and (v.role == "bootstrap" or set(v.peers) & (bootstraps | set(v.bootstrap_ids)))
        ]

    def all_connected(self) -> bool:
        return len(self.connected()) == len(self.clients)

    def peer_ids_as_rendered(self) -> bool:
        """Each bootstrap client is the peer the standard clients' rendered Peers name."""
        named = {i for v in self.clients.values() for i in v.bootstrap_ids}
        return bool(named) and named <= self.bootstrap_ids()

    def operators_matched(self, staked: set) -> bool:
        """Every connected peer runs as a staked operator of this stack, and each client as its own."""
        staked = {a.lower() for a in staked}
        by_id = {v.peer_id: v.operator for v in self.clients.values() if v.peer_id}
        ok = all(v.operator in staked for v in self.clients.values())
        for v in self.clients.values():
            for peer, operator in v.peers.items():
                ok = ok and operator in staked and by_id.get(peer, operator) == operator
        return ok and any(v.peers for v in self.clients.values())

    def gauges_complete(self) -> bool:
        return all(set(GAUGES) <= set(v.metrics) for v in self.clients.values())

    def to_json(self) -> dict:
        return {name: v.to_json() for name, v in self.clients.items()}


def observe(
    pods: list[Pod], timeout: float, *, since: float | None = None, want_gauges: bool = True, interval: float = 0.25
) -> tuple[FleetView, float | None]:
    """Poll the clients until every one is connected (and, with ``want_gauges``, has reported its
    metrics once); the view and the seconds from ``since`` (a time.monotonic(), by default now) to
    all connected (None if ``timeout`` passed first)."""
    views = {p.name: view_of(p) for p in pods}
    started = time.monotonic() if since is None else since
    deadline = time.monotonic() + timeout
    connected_at = None
    while True:
        for pod in pods:
            read_view(pod, views[pod.name])
        fleet = FleetView(views)
        if connected_at is None and fleet.all_connected():
            connected_at = time.monotonic() - started
        if connected_at is not None and (not want_gauges or fleet.gauges_complete()):
            return fleet, connected_at
        if time.monotonic() > deadline:
            return fleet, connected_at
        time.sleep(interval)
