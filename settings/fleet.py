"""Section ``keep-cd:fleet``: the keep-clients on Kubernetes (components/keep_network.py); docs/fleet.md
lists every key.  Validated here, built into components' FleetSpec."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from components.keep_client import (
    DEFAULT_DIAGNOSTICS_PORT,
    DEFAULT_METRICS_PORT,
    DEFAULT_PORT,
    LABEL_VALUE,
    ROLES,
    ChainEndpoints,
    ClientPorts,
    ComputeResources,
    ImageRef,
    KeelSpec,
    MetricsTicks,
    StorageSpec,
)
from components.keep_network import ClientSpec, FleetSpec
from keep_contracts.names import CLIENT_CONTRACTS, CLIENT_RELEASE

from .section import PROJECT, Section, one_of, parse_section, refuse

FLEET_KEY = f"{PROJECT}:fleet"
# A Service name is a DNS-1035 label (a DNS-1123 label that starts with a letter).
_DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# Path components separated by '/'; ':' only as the registry's port (registry:5000/keep/client).
_IMAGE_REPOSITORY = r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
_QUANTITY_SUFFIX = {"m": Fraction(1, 1000), **{s: Fraction(1000 ** (i + 1)) for i, s in enumerate("kMGTPE")}}
_QUANTITY_SUFFIX.update({s + "i": Fraction(1024 ** (i + 1)) for i, s in enumerate("KMGTPE")})
# A StorageClass name is a DNS-1123 subdomain.
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
KEEL_POLICIES = ("all", "major", "minor", "patch", "force")
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
DEFAULT_INIT_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}

DnsLabel = Annotated[
    str,
    Field(
        max_length=63,
        pattern=_DNS_LABEL,
        description="a DNS-1123 label starting with a letter (lowercase a-z, 0-9, '-', at most 63 characters)",
    ),
]
Port = Annotated[int, Field(gt=0, lt=65536, description="a port (an integer in 1..65535)")]
Quantity = Annotated[str, Field(pattern=_QUANTITY, description="a cpu/memory quantity (e.g. 100m, 256Mi)")]
Seconds = Annotated[int, Field(gt=0, description="a whole number of seconds > 0")]
# The per-client keys a client takes from the fleet unless it gives its own.
_CLIENT_PORT_KEYS = {"port": DEFAULT_PORT, "metricsPort": DEFAULT_METRICS_PORT, "diagnosticsPort": DEFAULT_DIAGNOSTICS_PORT}


@dataclass(frozen=True)
class FleetSettings:
    spec: FleetSpec  # the clients' keys are the operators' (OperatorsSettings)


def quantity_value(qty: str) -> Fraction:
    """A quantity that matched _QUANTITY as an exact number (100m = 1/10, 1Ki = 1024)."""
    number = qty.rstrip("mkMGTPEi")
    return Fraction(number) * _QUANTITY_SUFFIX.get(qty[len(number) :], Fraction(1))


def _with_defaults(given: Any, default: dict) -> Any:
    """Requests or limits: the given quantities over the defaults (anything but a map is refused as is)."""
    return {**default, **given} if isinstance(given, dict) else default if given is None else given


class Ethereum(Section):
    url: str = Field(pattern=r"^wss?://[^\s/]+", description="a ws:// or wss:// URL (the clients' websocket endpoint in the cluster)")
    url_rpc: str = Field(pattern=r"^https?://[^\s/]+", description="an http(s):// URL (the clients' JSON-RPC endpoint in the cluster)")


class Image(Section):
    repository: str = Field(pattern=_IMAGE_REPOSITORY, description="an image repository (put the tag/digest in tag/digest)")
    tag: str | None = Field(None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", description="an image tag")
    digest: str | None = Field(None, pattern=r"^sha256:[0-9a-f]{64}$", description="a digest (sha256:<64 hex>)")

    @model_validator(mode="after")
    def _tagged_or_pinned(self) -> Image:
        if self.tag is None and self.digest is None:
            raise refuse(f"image {self.repository} has no tag or digest (expected tag: v1.2.3 or digest: sha256:<64 hex>)")
        return self

    def ref(self) -> ImageRef:
        return ImageRef(self.repository, self.tag, self.digest)


class Resources(Section):
    requests: dict[str, Quantity] = Field(description="a map of cpu/memory quantities")
    limits: dict[str, Quantity] = Field(description="a map of cpu/memory quantities")

    @model_validator(mode="after")
    def _cpu_memory_and_within_limits(self) -> Resources:
        for kind in ("requests", "limits"):
            for res in getattr(self, kind):
                if res not in ("cpu", "memory"):
                    raise refuse(f"{res!r} is not a resource keep-cd sets (expected cpu or memory)", kind, res)
        for res, qty in self.requests.items():
            # The API server refuses a container whose request exceeds its limit, after the chain's work.
            if res in self.limits and quantity_value(qty) > quantity_value(self.limits[res]):
                limit = self.limits[res]
                raise refuse(f"{qty!r} is more than its limit {limit!r} (expected a request at most the limit)", "requests", res)
        return self

    def compute(self) -> ComputeResources:
        return ComputeResources(dict(self.requests), dict(self.limits))


class Storage(Section):
    size: str = Field("1Gi", pattern=_QUANTITY, description="a storage quantity (e.g. 1Gi)")
    storage_class: str | None = Field(
        None, max_length=253, pattern=_DNS_SUBDOMAIN, description="a StorageClass name (lowercase a-z, 0-9, '-', '.')"
    )


class Keel(Section):
    policy: str = Field("all", description=f"a Keel policy ({', '.join(KEEL_POLICIES)}, glob:… or regexp:…)")
    trigger: str = Field("poll", description="a Keel trigger (poll)")
    poll_schedule: str | None = Field(None, description="a Keel poll schedule, e.g. @every 5m")

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, policy: str) -> str:
        if policy not in KEEL_POLICIES and not policy.startswith(("glob:", "regexp:")):
            raise refuse(f"{policy!r} is not a Keel policy (expected {', '.join(KEEL_POLICIES)}, glob:… or regexp:…)")
        return policy


def check_distinct_ports(named: dict[str, int]) -> None:
    """One client listens on all of these: a port named twice would fail its start."""
    seen: dict[int, str] = {}
    for key, port in named.items():
        if port in seen:
            raise refuse(f"{port} is also the client's {seen[port]} (expected a port of its own for each endpoint)", key)
        seen[port] = key


class MetricsTicksSection(Section):
    network: Seconds = 60
    ethereum: Seconds = 600


class ClientItem(Section):
    name: DnsLabel
    role: Annotated[str, one_of(ROLES, "a role"), Field(description=f"a role ({' or '.join(ROLES)})")]
    # The fleet's ports unless given (clients that share one host need their own).
    port: Port
    metrics_port: Port
    diagnostics_port: Port

    @model_validator(mode="after")
    def _ports_of_its_own(self) -> ClientItem:
        check_distinct_ports({"port": self.port, "metricsPort": self.metrics_port, "diagnosticsPort": self.diagnostics_port})
        return self

    def ports(self) -> ClientPorts:
        return ClientPorts(self.port, self.metrics_port, self.diagnostics_port)


class FleetSection(Section):
    namespace: DnsLabel
    ethereum: Ethereum
    image: Image
    init_image: Image
    port: Port = DEFAULT_PORT
    metrics_port: Port = DEFAULT_METRICS_PORT
    diagnostics_port: Port = DEFAULT_DIAGNOSTICS_PORT
    metrics_ticks: MetricsTicksSection = Field(default_factory=lambda: MetricsTicksSection.model_validate({}))
    clients: list[ClientItem] | None = Field(None, description="a list of {name, role, port?, metricsPort?, diagnosticsPort?}")
    counts: dict[str, Annotated[int, Field(ge=0, description="an integer >= 0")]] | None = Field(
        None, description=f"a map of clients per role ({' and '.join(ROLES)})"
    )
    contracts: dict[str, str] = Field(
        default_factory=dict, validate_default=True, description="a map of keep-client config key -> contract name"
    )
    resources: Resources = Field(description="a map with keys limits, requests")
    init_resources: Resources = Field(description="a map with keys limits, requests")
    storage: Storage = Field(default_factory=lambda: Storage.model_validate({}))
    keel: Keel | None = None
    part_of: str = Field(
        "keep-network",
        min_length=1,
        max_length=63,
        description="a label value (letters, digits, '-', '_', '.', at most 63, starting and ending alphanumeric)",
    )
    create_namespace: bool = Field(False, description="true or false")

    @model_validator(mode="before")
    @classmethod
    def _no_former_keys_and_default_resources(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "kdfIterations" in data:
            # It set the cost of the fleet's former stand-in keystores; a value left in a stack would do nothing.
            raise refuse(
                f"no longer read (the clients' keystores are the operators': set {PROJECT}:operators.keystoreKdf/keystoreCost)",
                "kdfIterations",
            )
        data = dict(data)
        for key, default in (("resources", DEFAULT_RESOURCES), ("initResources", DEFAULT_INIT_RESOURCES)):
            given = data.get(key) or {}
            if isinstance(given, dict):
                merged = {kind: _with_defaults(given.get(kind), default[kind]) for kind in default}
                data[key] = {**given, **merged}
        if isinstance(data.get("clients"), list):
            # A client without a port takes the fleet's (an explicit null is refused, as any non-port).
            fleet_ports = {key: data.get(key, default) for key, default in _CLIENT_PORT_KEYS.items()}
            data["clients"] = [{**fleet_ports, **c} if isinstance(c, dict) else c for c in data["clients"]]
        if isinstance(data.get("image"), dict) and not {"tag", "digest"} & set(data["image"]):
            # The client release keep-cd's contracts and fleet runner are built for.
            data["image"] = {**data["image"], "tag": "v" + CLIENT_RELEASE}
        return data

    @field_validator("part_of")
    @classmethod
    def _label_value(cls, part_of: str) -> str:
        if not LABEL_VALUE.match(part_of):
            raise refuse(f"{part_of!r} is not a label value (letters, digits, '-', '_', '.', at most 63, starting and ending alphanumeric)")
        return part_of

    @field_validator("counts")
    @classmethod
    def _known_roles(cls, counts: dict | None) -> dict | None:
        for role in sorted(set(counts or {}) - set(ROLES)):
            raise refuse(f"unknown role (expected {' or '.join(ROLES)})", role)
        return counts

    @field_validator("contracts")
    @classmethod
    def _deployed_contracts(cls, contracts: dict, info: ValidationInfo) -> dict:
        deployed = (info.context or {}).get("deployed", set())
        for key, name in (contracts or {k: k for k in CLIENT_CONTRACTS}).items():
            if name not in deployed:
                raise refuse(f"{name!r} is not deployed by the contracts plan (the address book will not have it)", key)
        return contracts

    @model_validator(mode="after")
    def _clients_and_pinning(self) -> FleetSection:
        check_distinct_ports({"port": self.port, "metricsPort": self.metrics_port, "diagnosticsPort": self.diagnostics_port})
        if self.keel and self.image.digest:
            raise refuse("Keel is on but image is pinned by digest (Keel can only move tags; drop one of them)", "keel")
        self.client_specs()
        return self

    def client_specs(self) -> tuple:
        """The clients, bootstrap first then by name, from `clients` or `counts`; refused when there
        is none, no bootstrap client or a name twice."""
        if self.clients is not None and self.counts is not None:
            raise refuse("both clients and counts are set (expected one of them)", "clients")
        if self.clients is not None:
            specs = [ClientSpec(c.name, c.role, c.ports()) for c in self.clients]
        else:
            counts = self.counts or {}
            ports = ClientPorts(self.port, self.metrics_port, self.diagnostics_port)
            specs = [ClientSpec(f"keep-{role}-{i}", role, ports) for role in ROLES for i in range(counts.get(role, 0))]
        where = "clients" if self.clients is not None else "counts"
        if not specs:
            raise refuse("no clients (expected at least one bootstrap client; leave keep-cd:fleet unset for none)", where)
        names = [c.name for c in specs]
        for name in sorted({n for n in names if names.count(n) > 1})[:1]:
            raise refuse(f"duplicate client name {name!r} (each name is a Service and a volume)", "clients")
        if not any(c.role == "bootstrap" for c in specs):
            raise refuse("standard clients but no bootstrap client (standard peers need a bootstrap peer to join)", where)
        return tuple(sorted(specs, key=lambda c: (ROLES.index(c.role), c.name)))

    def spec(self, chain_id: int) -> FleetSpec:
        return FleetSpec(
            namespace=self.namespace,
            image=self.image.ref(),
            init_image=self.init_image.ref(),
            chain=ChainEndpoints(self.ethereum.url, self.ethereum.url_rpc, chain_id),
            clients=self.client_specs(),
            contracts=dict(self.contracts or {k: k for k in CLIENT_CONTRACTS}),
            resources=self.resources.compute(),
            init_resources=self.init_resources.compute(),
            storage=StorageSpec(self.storage.size, self.storage.storage_class),
            keel=KeelSpec(self.keel.policy, self.keel.trigger, self.keel.poll_schedule) if self.keel else None,
            part_of=self.part_of,
            create_namespace=self.create_namespace,
            metrics_ticks=MetricsTicks(self.metrics_ticks.network, self.metrics_ticks.ethereum),
        )


def parse_fleet(raw: Any, chain_id: int, deployed_contracts: set) -> FleetSpec:
    """The fleet section as typed values; a one-line ConfigError for the first bad value."""
    section = parse_section(FleetSection, raw, FLEET_KEY, context={"deployed": deployed_contracts})
    return section.spec(chain_id)
