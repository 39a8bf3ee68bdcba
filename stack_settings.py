"""Stack configuration, read once into typed settings.

This is the one place that reads ``pulumi.Config``; everything else receives these dataclasses.
Every key is documented in the README's configuration table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from contracts_step.errors import ConfigError
from contracts_step.plan import MigrationPlan
from contracts_step.plans import load_plan

PROJECT = "keep-cd"


@dataclass(frozen=True)
class ContractsSettings:
    chain_id: int
    rpc_url: str  # the deployer's way to the chain (CI may reach it through a port-forward)
    plan: MigrationPlan
    plan_params: dict
    artifacts_dir: str


@dataclass(frozen=True)
class Settings:
    stack: str
    contracts: ContractsSettings
    extra: dict = field(default_factory=dict)
    fleet: Any = None  # FleetSettings (below), or None when the stack deploys no keep-clients


def _int(cfg: pulumi.Config, key: str, default: Any = None) -> int:
    raw = cfg.get(key)
    if raw is None:
        if default is None:
            raise ConfigError(f"config {PROJECT}:{key}: not set (expected an integer)")
        return int(default)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"config {PROJECT}:{key}: {raw!r} is not an integer") from None
    if value <= 0:
        raise ConfigError(f"config {PROJECT}:{key}: {value} is not positive")
    return value


def load_contracts(cfg: pulumi.Config) -> ContractsSettings:
    rpc_url = cfg.get("rpcUrl")
    if not rpc_url:
        raise ConfigError(f"config {PROJECT}:rpcUrl: not set (expected the deployer's JSON-RPC URL, e.g. http://127.0.0.1:8545)")
    plan, params = load_plan(cfg.get("contractsPlan") or "keep", key=f"{PROJECT}:contractsPlan")
    overrides = cfg.get_object("planParams") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"config {PROJECT}:planParams: expected a map of plan parameters")
    params.update(overrides)
    return ContractsSettings(
        chain_id=_int(cfg, "chainId"),
        rpc_url=rpc_url,
        plan=plan,
        plan_params=params,
        artifacts_dir=cfg.get("artifactsDir") or "build/keep-core/artifacts",
    )


def load_settings(cfg: pulumi.Config | None = None) -> Settings:
    cfg = cfg or pulumi.Config(PROJECT)
    contracts = load_contracts(cfg)
    return Settings(stack=pulumi.get_stack(), contracts=contracts, fleet=load_fleet(cfg, contracts))


# --- fleet: the keep-clients on Kubernetes (components/keep_network.py); docs/fleet.md lists every key.
import os  # noqa: E402
import re  # noqa: E402
from typing import Optional  # noqa: E402

from components.keep_client import (  # noqa: E402
    DEFAULT_PORT,
    ROLES,
    ChainEndpoints,
    ComputeResources,
    ImageRef,
    KeelSpec,
    StorageSpec,
)
from components.keep_network import ClientSpec, FleetSpec  # noqa: E402
from contracts_step.keep_plan import CLIENT_CONTRACTS  # noqa: E402

FLEET_KEY = f"{PROJECT}:fleet"
CLIENT_KEY_SEED = "clientKeySeed"
CLIENT_KEY_SEED_ENV = "KEEP_CD_CLIENT_KEY_SEED"
# A Service name is a DNS-1035 label (a DNS-1123 label that starts with a letter).
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REPOSITORY = re.compile(r"^[a-z0-9]+([._/:-][a-z0-9]+)*$")  # ':' only as a registry port
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
KEEL_POLICIES = ("all", "major", "minor", "patch", "force")
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
DEFAULT_INIT_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}


@dataclass(frozen=True)
class FleetSettings:
    spec: FleetSpec
    key_seed: Any  # Output[str], secret: TEMPORARY client key source (components/seeded_client_keys.py)
    kdf_iterations: int


def _fleet_error(path: str, message: str) -> ConfigError:
    return ConfigError(f"config {FLEET_KEY}.{path}: {message}")


def _map(raw: Any, path: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fleet_error(path, f"expected a map, got {type(raw).__name__}")
    return raw


def _str(raw: dict, key: str, path: str, default: Optional[str] = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise _fleet_error(f"{path}{key}", f"{value!r} is not set (expected a non-empty string)")
    return value


def _count(raw: Any, path: str, minimum: int) -> int:
    if type(raw) is not int or raw < minimum:
        raise _fleet_error(path, f"{raw!r} is not an integer >= {minimum}")
    return raw


def _port(raw: Any, path: str) -> int:
    if type(raw) is not int or not 0 < raw < 65536:
        raise _fleet_error(path, f"{raw!r} is not a port (expected an integer in 1..65535)")
    return raw


def _dns_label(raw: Any, path: str) -> str:
    if not isinstance(raw, str) or len(raw) > 63 or not _DNS_LABEL.match(raw):
        raise _fleet_error(
            path, f"{raw!r} is not a DNS-1123 label starting with a letter (lowercase a-z, 0-9, '-', at most 63 characters)"
        )
    return raw


def _image(raw: Any, path: str) -> ImageRef:
    raw = _map(raw, path)
    repository = _str(raw, "repository", f"{path}.")
    if not _REPOSITORY.match(repository) or "@" in repository:
        raise _fleet_error(f"{path}.repository", f"{repository!r} is not an image repository (put the tag/digest in tag/digest)")
    tag, digest = raw.get("tag"), raw.get("digest")
    if tag is None and digest is None:
        raise _fleet_error(path, f"image {repository} has no tag or digest (expected tag: v1.2.3 or digest: sha256:<64 hex>)")
    if digest is not None and (not isinstance(digest, str) or not _DIGEST.match(digest)):
        raise _fleet_error(f"{path}.digest", f"{digest!r} is not a digest (expected sha256:<64 hex>)")
    if tag is not None and (not isinstance(tag, str) or not _TAG.match(tag)):
        raise _fleet_error(f"{path}.tag", f"{tag!r} is not an image tag")
    return ImageRef(repository, tag, digest)


def _resources(raw: Any, path: str, default: dict) -> ComputeResources:
    raw = _map(raw, path)
    out = {}
    for kind in ("requests", "limits"):
        section = {**default[kind], **_map(raw.get(kind), f"{path}.{kind}")}
        for res, qty in section.items():
            if res not in ("cpu", "memory") or not isinstance(qty, str) or not _QUANTITY.match(qty):
                raise _fleet_error(f"{path}.{kind}.{res}", f"{qty!r} is not a cpu/memory quantity (e.g. 100m, 256Mi)")
        out[kind] = section
    return ComputeResources(out["requests"], out["limits"])


def _clients(raw: dict) -> tuple:
    listed, counts = raw.get("clients"), raw.get("counts")
    if listed is not None and counts is not None:
        raise _fleet_error("clients", "both clients and counts are set (expected one of them)")
    default_port = _port(raw.get("port", DEFAULT_PORT), "port")
    clients = []
    if counts is not None:
        counts = _map(counts, "counts")
        unknown = set(counts) - set(ROLES)
        if unknown:
            raise _fleet_error(f"counts.{sorted(unknown)[0]}", f"unknown role (expected {' or '.join(ROLES)})")
        for role in ROLES:
            for i in range(_count(counts.get(role, 0), f"counts.{role}", 0)):
                clients.append(ClientSpec(f"keep-{role}-{i}", role, default_port))
    elif listed is not None:
        if not isinstance(listed, list):
            raise _fleet_error("clients", "expected a list of {name, role, port?}")
        for i, item in enumerate(listed):
            item = _map(item, f"clients[{i}]")
            name = _dns_label(item.get("name"), f"clients[{i}].name")
            role = item.get("role")
            if role not in ROLES:
                raise _fleet_error(f"clients[{i}].role", f"{role!r} is not a role (expected {' or '.join(ROLES)})")
            clients.append(ClientSpec(name, role, _port(item.get("port", default_port), f"clients[{i}].port")))
    if not clients:
        raise _fleet_error("clients" if listed is not None else "counts", "no clients (expected at least one bootstrap client; leave keep-cd:fleet unset for none)")
    seen = set()
    for c in clients:
        if c.name in seen:
            raise _fleet_error("clients", f"duplicate client name {c.name!r} (each name is a Service and a volume)")
        seen.add(c.name)
    if not any(c.role == "bootstrap" for c in clients):
        raise _fleet_error("clients", "standard clients but no bootstrap client (standard peers need a bootstrap peer to join)")
    return tuple(sorted(clients, key=lambda c: (ROLES.index(c.role), c.name)))


def parse_fleet(raw: Any, chain_id: int, deployed_contracts: set) -> FleetSpec:
    """The fleet section as typed values; a one-line ConfigError for the first bad value."""
    raw = _map(raw, "")
    namespace = _dns_label(raw.get("namespace"), "namespace")
    eth = _map(raw.get("ethereum"), "ethereum")
    url, url_rpc = _str(eth, "url", "ethereum."), _str(eth, "urlRpc", "ethereum.")
    if not re.match(r"^wss?://[^\s/]+", url):
        raise _fleet_error("ethereum.url", f"{url!r} is not a ws:// or wss:// URL (the clients' websocket endpoint in the cluster)")
    if not re.match(r"^https?://[^\s/]+", url_rpc):
        raise _fleet_error("ethereum.urlRpc", f"{url_rpc!r} is not an http(s):// URL (the clients' JSON-RPC endpoint in the cluster)")
    contracts = _map(raw.get("contracts"), "contracts") or {k: k for k in CLIENT_CONTRACTS}
    for key, name in contracts.items():
        if name not in deployed_contracts:
            raise _fleet_error(f"contracts.{key}", f"{name!r} is not deployed by the contracts plan (the address book will not have it)")
    storage = _map(raw.get("storage"), "storage")
    size = storage.get("size", "1Gi")
    if not isinstance(size, str) or not _QUANTITY.match(size):
        raise _fleet_error("storage.size", f"{size!r} is not a storage quantity (e.g. 1Gi)")
    storage_class = storage.get("storageClass")
    keel = None
    if raw.get("keel") is not None:
        k = _map(raw.get("keel"), "keel")
        policy = k.get("policy", "all")
        if policy not in KEEL_POLICIES and not str(policy).startswith(("glob:", "regexp:")):
            raise _fleet_error("keel.policy", f"{policy!r} is not a Keel policy (expected {', '.join(KEEL_POLICIES)}, glob:… or regexp:…)")
        keel = KeelSpec(policy, k.get("trigger", "poll"), k.get("pollSchedule"))
    image = _image(raw.get("image"), "image")
    if keel and image.digest:
        raise _fleet_error("keel", "Keel is on but image is pinned by digest (Keel can only move tags; drop one of them)")
    return FleetSpec(
        namespace=namespace,
        image=image,
        init_image=_image(raw.get("initImage"), "initImage"),
        chain=ChainEndpoints(url, url_rpc, chain_id),
        clients=_clients(raw),
        contracts=dict(contracts),
        resources=_resources(raw.get("resources"), "resources", DEFAULT_RESOURCES),
        init_resources=_resources(raw.get("initResources"), "initResources", DEFAULT_INIT_RESOURCES),
        storage=StorageSpec(size, storage_class),
        keel=keel,
        part_of=raw.get("partOf", "keep-network"),
        create_namespace=bool(raw.get("createNamespace", False)),
    )


def load_fleet(cfg: pulumi.Config, contracts: ContractsSettings) -> Optional[FleetSettings]:
    raw = cfg.get_object("fleet")
    if raw is None:
        return None
    spec = parse_fleet(raw, contracts.chain_id, {d.name for d in contracts.plan.deploys})
    seed = cfg.get_secret(CLIENT_KEY_SEED)
    if seed is None:
        env = os.environ.get(CLIENT_KEY_SEED_ENV)
        if not env:
            raise ConfigError(
                f"config {PROJECT}:{CLIENT_KEY_SEED}: not set (expected `pulumi config set --secret {CLIENT_KEY_SEED} <random string>` "
                f"or env {CLIENT_KEY_SEED_ENV}; it derives the clients' keys)"
            )
        seed = pulumi.Output.secret(env)
    return FleetSettings(spec, seed, _count(raw.get("kdfIterations", 1024), "kdfIterations", 1))
