"""The keep-client fleet of one environment: ``keep:cluster:KeepNetwork``.

Bootstrap clients come first: their peer ids follow from their public keys, so every standard
client's ``Peers`` lists ``/dns4/<service>.<ns>.svc.cluster.local/tcp/<port>/ipfs/<peer id>`` of
each bootstrap client before anything runs, and standard clients ``depends_on`` the bootstrap
clients, so the engine rolls bootstrap peers first (the Kubernetes provider awaits readiness).
Contract addresses come from the contracts step's address book Output, which orders contracts
before clients by itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.output import UNKNOWN

from chain.errors import ConfigError

from .keep_client import (
    FAUCET_KEY,
    ChainEndpoints,
    ClientIdentity,
    ClientPorts,
    ComputeResources,
    ImageRef,
    KeelSpec,
    KeepClient,
    KeepClientArgs,
    MetricsTicks,
    OperatorInit,
    StorageSpec,
    service_host,
)
from .peer_id import peer_id, peer_multiaddr


@dataclass(frozen=True)
class ClientSpec:
    """Client-scope values (RFC 13 2.2.3): who the client is and how it is reached."""

    name: str
    role: str  # bootstrap | standard
    ports: ClientPorts = ClientPorts()

    @property
    def port(self) -> int:
        """The libp2p port: where peers dial it."""
        return self.ports.libp2p


@dataclass(frozen=True)
class FleetSpec:
    """Environment-scope values shared by every client of the stack."""

    namespace: str
    image: ImageRef
    init_image: ImageRef
    chain: ChainEndpoints
    clients: tuple  # of ClientSpec
    contracts: Mapping[str, str]  # keep-client config key -> contract name in the address book
    resources: ComputeResources
    init_resources: ComputeResources
    storage: StorageSpec = StorageSpec()
    keel: KeelSpec | None = None
    part_of: str = "keep-network"
    create_namespace: bool = False
    metrics_ticks: MetricsTicks = MetricsTicks()

    @property
    def bootstrap(self) -> list:
        return [c for c in self.clients if c.role == "bootstrap"]

    @property
    def standard(self) -> list:
        return [c for c in self.clients if c.role == "standard"]


@dataclass
class KeepNetworkArgs:
    fleet: FleetSpec
    address_book: pulumi.Input[Mapping[str, str]]  # contracts step output: contract name -> address
    identities: Mapping[str, ClientIdentity]  # client name -> identity
    # What each pod's init container does about its operator after prepare-client (deploy: check).
    operator_init: OperatorInit = field(default_factory=OperatorInit)
    # provisioning: cluster: the faucet's private key (secret), kept in one Secret of the namespace.
    faucet_key: pulumi.Input[str] | None = None
    # Resources every client Deployment waits for (the operators' stakes, in deploy mode).
    start_after: Sequence[pulumi.Resource] = ()


def book_address(book: Mapping[str, str] | None, name: str, what: str):
    """One contract's address out of the address book (e.g. KeepToken for cluster provisioning);
    unknown while the book is (an offline preview of a never-migrated stack)."""
    if book is None:
        return UNKNOWN
    if not book.get(name):
        raise ConfigError(
            f"contracts address book: no address for {name} (expected the contracts step to deploy it for {what}; "
            f"the book has {', '.join(sorted(book)) or 'nothing'})"
        )
    return book[name]


def client_contract_addresses(book: Mapping[str, str] | None, contracts: Mapping[str, str]):
    """keep-client's [ethereum.ContractAddresses] out of the address book; one line naming what is
    missing.  None (the book of a migration not yet run, in an offline preview) stays unknown."""
    if book is None:
        return UNKNOWN
    missing = [f"{key} (contract {name})" for key, name in contracts.items() if not book.get(name)]
    if missing:
        raise ConfigError(
            f"contracts address book: no address for {', '.join(missing)} "
            f"(expected the contracts step to deploy it; the book has {', '.join(sorted(book)) or 'nothing'})"
        )
    return {key: book[name] for key, name in contracts.items()}


def fleet_labels(fleet: FleetSpec) -> dict[str, str]:
    """The labels of the fleet's shared objects (the faucet Secret, the NetworkPolicy)."""
    return {"app.kubernetes.io/part-of": fleet.part_of, "app.kubernetes.io/managed-by": "keep-cd"}


def namespace_manifest(fleet: FleetSpec) -> dict[str, Any]:
    return {"metadata": {"name": fleet.namespace, "labels": {"app.kubernetes.io/part-of": fleet.part_of}}}


def faucet_secret_manifest(name: str, fleet: FleetSpec, faucet_key: pulumi.Input[str]) -> dict[str, Any]:
    """``<name>-faucet``: the faucet's private key, mounted only into provision-operator containers."""
    return {
        "metadata": {"name": name, "namespace": fleet.namespace, "labels": fleet_labels(fleet)},
        "type": "Opaque",
        "string_data": {FAUCET_KEY: faucet_key},
    }


def network_policy_manifest(name: str, fleet: FleetSpec) -> dict[str, Any]:
    """One policy for the fleet: keep-client pods accept connections on their libp2p ports (peers)
    and metrics ports (Prometheus) only, not on diagnostics (it lists peers and operators; reach
    it by port-forward); egress stays open (the chain, peers, DNS)."""
    ports = sorted({p for c in fleet.clients for p in (c.ports.libp2p, c.ports.metrics)})
    return {
        "metadata": {"name": name, "namespace": fleet.namespace, "labels": fleet_labels(fleet)},
        "spec": {
            "pod_selector": {"match_labels": {"app.kubernetes.io/name": "keep-client", "app.kubernetes.io/part-of": fleet.part_of}},
            "policy_types": ["Ingress"],
            "ingress": [{"ports": [{"port": p, "protocol": "TCP"} for p in ports]}],
        },
    }


def keep_client_args(
    fleet: FleetSpec,
    spec: ClientSpec,
    identity: ClientIdentity,
    contracts: pulumi.Input[Mapping[str, str]],
    operator_init: OperatorInit,
    peers: pulumi.Input[Sequence[str]],
    start_after: Sequence[pulumi.Resource],
    depends_on: Sequence[pulumi.Resource],
) -> KeepClientArgs:
    """One client's arguments: the fleet's shared values and the client's own."""
    return KeepClientArgs(
        namespace=fleet.namespace,
        role=spec.role,
        image=fleet.image,
        init_image=fleet.init_image,
        chain=fleet.chain,
        identity=identity,
        contract_addresses=contracts,
        resources=fleet.resources,
        init_resources=fleet.init_resources,
        peers=peers,
        ports=spec.ports,
        metrics_ticks=fleet.metrics_ticks,
        storage=fleet.storage,
        keel=fleet.keel,
        part_of=fleet.part_of,
        operator_init=operator_init,
        start_after=start_after,
        depends_on=depends_on,
    )


def bootstrap_peer_address(spec: ClientSpec, namespace: str, identity: ClientIdentity) -> pulumi.Output[str]:
    """The multiaddr standard clients dial a bootstrap client at, from its public key."""
    host = service_host(spec.name, namespace)
    return pulumi.Output.from_input(identity.public_key).apply(lambda key: peer_multiaddr(host, spec.ports.libp2p, peer_id(key)))


def fleet_summary(fleet: FleetSpec, addresses: Mapping[str, str], hosts: Mapping[str, str]) -> dict[str, Any]:
    """The ``summary`` output: each client's role, address, host and port."""
    return {
        "namespace": fleet.namespace,
        "clients": {
            c.name: {
                "role": c.role,
                "address": addresses[c.name],
                "host": hosts[c.name],
                "port": c.ports.libp2p,
                "metricsPort": c.ports.metrics,
                "diagnosticsPort": c.ports.diagnostics,
            }
            for c in fleet.clients
        },
    }


class KeepNetwork(pulumi.ComponentResource):
    """Every keep-client of one environment, bootstrap peers before standard peers."""

    bootstrap_peers: pulumi.Output[list]
    clients: dict

    def __init__(self, name: str, args: KeepNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("keep:cluster:KeepNetwork", name, None, opts)
        fleet = args.fleet
        missing = [c.name for c in fleet.clients if c.name not in args.identities]
        if missing:
            raise ConfigError(f"fleet clients {', '.join(missing)}: no identity given (expected one per client)")
        namespace = []
        if fleet.create_namespace:
            namespace = [k8s.core.v1.Namespace(f"{name}-namespace", **namespace_manifest(fleet), opts=pulumi.ResourceOptions(parent=self))]
        operator_init = args.operator_init
        start_after = list(args.start_after)
        if operator_init.provisioning == "cluster":
            if args.faucet_key is None:
                raise ConfigError(f"fleet {name}: provisioning cluster needs the faucet key (expected the operators' faucet)")
            # One faucet Secret for the namespace, mounted only into provision-operator containers.
            faucet = k8s.core.v1.Secret(
                f"{name}-faucet",
                **faucet_secret_manifest(f"{name}-faucet", fleet, pulumi.Output.secret(args.faucet_key)),
                opts=pulumi.ResourceOptions(parent=self, depends_on=namespace),
            )
            operator_init = dataclasses.replace(operator_init, faucet_secret=f"{name}-faucet")
            start_after.append(faucet)
        contracts = pulumi.Output.from_input(args.address_book).apply(lambda book: client_contract_addresses(book, fleet.contracts))

        def client(spec: ClientSpec, peers: pulumi.Input[Sequence[str]], peers_first: Sequence[pulumi.Resource] = ()) -> KeepClient:
            client_args = keep_client_args(
                fleet, spec, args.identities[spec.name], contracts, operator_init, peers, [*start_after, *peers_first], namespace
            )
            self.clients[spec.name] = KeepClient(spec.name, client_args, pulumi.ResourceOptions(parent=self))
            return self.clients[spec.name]

        self.clients = {}
        bootstrap_clients = [client(spec, ()) for spec in fleet.bootstrap]
        self.bootstrap_peers = pulumi.Output.all(
            *(bootstrap_peer_address(spec, fleet.namespace, args.identities[spec.name]) for spec in fleet.bootstrap)
        )
        # Standard clients depend on the bootstrap clients where it matters: each standard
        # Deployment waits for every bootstrap Deployment (the Kubernetes provider awaits their
        # readiness), while their ConfigMaps, Secrets and volumes need not wait.  (A depends_on on
        # the standard component would not reach its children, and expanding it costs ~10% of a
        # 100-client preview.)
        bootstrap_deployments = [c.deployment for c in bootstrap_clients]
        for spec in fleet.standard:
            client(spec, self.bootstrap_peers, bootstrap_deployments)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-libp2p",
            **network_policy_manifest(f"{name}-libp2p", fleet),
            opts=pulumi.ResourceOptions(parent=self, depends_on=namespace),
        )
        hosts = {n: c.host for n, c in self.clients.items()}
        self.summary = pulumi.Output.all(**{n: pulumi.Output.from_input(args.identities[n].address) for n in self.clients}).apply(
            lambda addresses: fleet_summary(fleet, addresses, hosts)
        )
        self.register_outputs({"bootstrapPeers": self.bootstrap_peers, "summary": self.summary})
