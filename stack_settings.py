"""Stack configuration, read once into typed settings.

This is the one place that reads ``pulumi.Config``; everything else receives these dataclasses.
Every key is documented in the README's configuration table.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlparse

import pulumi

from chain.errors import ConfigError
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
class CircleCiSettings:
    org_id: str  # CircleCI organization UUID: the OIDC issuer path and the token audience
    project_id: str  # CircleCI project UUID
    deploy_refs: tuple  # git refs whose pipelines may impersonate the deployer (e.g. refs/heads/master)


@dataclass(frozen=True)
class BastionSettings:
    source_ranges: tuple  # CIDRs allowed to reach the jump host on SSH
    network: str
    public_subnet: str
    cluster_subnet: str
    zone: str
    machine_type: str
    image: str


@dataclass(frozen=True)
class ChainServiceSettings:
    """The chain's JSON-RPC Service in the cluster, which CI port-forwards to reach keep-cd:rpcUrl."""

    namespace: str
    name: str
    port: int


@dataclass(frozen=True)
class AccessSettings:
    """CI's way into the environment's GCP project and GKE cluster (components/push_deploy_access.py)."""

    mode: str  # keyless | bastion
    project: str
    region: str
    cluster: str
    cluster_location: str
    name_prefix: str
    registry_location: str
    registry_repository: str
    circleci: Optional[CircleCiSettings]
    bastion: Optional[BastionSettings]
    chain_service: Optional[ChainServiceSettings]


@dataclass(frozen=True)
class OperatorsSettings:
    """Section ``keep-cd:operators`` (see docs/operators.md) plus the secrets it names."""

    clients: tuple  # operators.keys.OperatorClient: name + HD index
    mnemonic: Any  # pulumi.Output[str], secret: keep-cd:operatorMnemonic
    explicit_keys: Any  # pulumi.Output[dict], secret: keep-cd:operatorKeys (client name -> key), or None
    provisioning: str  # deploy | cluster
    keystore: Any  # operators.keys.KeystoreParams
    eth_threshold: int
    eth_target: int
    stake_amount: Optional[int]  # None: TokenStaking.minimumStake() at run time
    beneficiary: str
    on_remove: str  # leave | undelegate


@dataclass(frozen=True)
class Settings:
    stack: str
    contracts: ContractsSettings
    extra: dict = field(default_factory=dict)
    access: Optional[AccessSettings] = None  # None: no GCP at all (the local stack)
    fleet: Any = None  # FleetSettings (below), or None when the stack deploys no keep-clients
    # With the Pulumi CLI: Kubernetes objects are written as YAML here instead of applied (local)
    render_yaml_to: Optional[str] = None
    operators: Optional[OperatorsSettings] = None  # None: the stack has no `operators` section (docs/operators.md)


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


def is_loopback_host(host: str) -> bool:
    """localhost or a loopback address (127.0.0.0/8, ::1): reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_rpc_endpoint(rpc_url: Any, key: str = f"{PROJECT}:rpcUrl") -> tuple:
    """(host, port) where the `local` stack's chain listens, from its rpcUrl, before anything
    starts: keep-cd starts a chain only where the URL says, so it must say exactly where (http, a
    loopback host, an explicit port, no path or credentials).  A one-line ConfigError otherwise."""
    expected = "expected http://127.0.0.1:<port>, where a local chain listens or is started"
    if not isinstance(rpc_url, str) or not rpc_url.strip():
        raise ConfigError(f"config {key}: {rpc_url!r} is not set ({expected})")
    parsed = urlparse(rpc_url.strip())
    shown = rpc_url if parsed.password is None else rpc_url.replace(f":{parsed.password}@", ":***@")
    if parsed.scheme != "http":
        raise ConfigError(f"config {key}: {shown} is not an http:// URL ({expected})")
    if parsed.username is not None or parsed.password is not None:
        raise ConfigError(f"config {key}: {shown} carries credentials ({expected})")
    host = parsed.hostname or ""
    if not is_loopback_host(host):
        raise ConfigError(f"config {key}: {shown} is not on this machine (host {host or '(none)'}; {expected})")
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if port is None or not 0 < port < 65536:
        raise ConfigError(f"config {key}: {shown} has no valid port (a local chain's port must be explicit; {expected})")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.params:
        raise ConfigError(f"config {key}: {shown} has a path or query (a local chain answers at /; {expected})")
    return host, port


ACCESS_MODES = ("keyless", "bastion")
_ACCESS_KEYS = {
    "enabled", "mode", "project", "region", "cluster", "clusterLocation", "namePrefix",
    "artifactRegistry", "circleci", "bastion", "chainService",
}
_ACCESS_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ACCESS_GIT_REF = re.compile(r"^refs/(heads|tags)/[A-Za-z0-9._/-]+$")
# Service account ids are 6-30 characters and the longest suffix is "-preview"; pool ids are 4-32.
_ACCESS_NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,20}[a-z0-9]$")
_ACCESS_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Host names only the cluster resolves: the deployer (CI, a laptop) is outside it.
_IN_CLUSTER_HOST = re.compile(r"(\.svc(\.cluster\.local)?\.?$)|(\.cluster\.local\.?$)")


def _access_error(key: str, message: str) -> ConfigError:
    return ConfigError(f"config {PROJECT}:access{'.' + key if key else ''}: {message}")


def _access_map(value: Any, key: str, allowed: set) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _access_error(key, f"expected a map with keys {', '.join(sorted(allowed))}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _access_error(f"{key}.{unknown[0]}" if key else unknown[0], f"unknown key (expected one of {', '.join(sorted(allowed))})")
    return value


def _access_text(data: dict, key: str, path: str, expected: str, default: Optional[str] = None) -> str:
    value = data.get(key, default)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _access_error(path, f"not set (expected {expected})")
    if not isinstance(value, str):
        raise _access_error(path, f"{value!r} is not a string (expected {expected})")
    return value.strip()


def _load_circleci(data: dict) -> CircleCiSettings:
    ci = _access_map(data.get("circleci"), "circleci", {"orgId", "projectId", "deployRefs"})
    ids = {}
    for key, what in (("orgId", "organization"), ("projectId", "project")):
        value = ci.get(key)
        if not value:
            raise _access_error(
                f"circleci.{key}",
                f"not set (keyless mode trusts CircleCI OIDC tokens of one {what}: expected its UUID, "
                f"from CircleCI {what.capitalize()} Settings > Overview)",
            )
        if not isinstance(value, str) or not _ACCESS_UUID.match(value):
            raise _access_error(f"circleci.{key}", f"{value!r} is not a CircleCI {what} id (expected a lowercase UUID)")
        ids[key] = value
    refs = ci.get("deployRefs", ["refs/heads/master"])
    if not isinstance(refs, list) or not refs:
        raise _access_error("circleci.deployRefs", "expected a non-empty list of git refs, e.g. [refs/heads/master]")
    for ref in refs:
        if not isinstance(ref, str) or not _ACCESS_GIT_REF.match(ref):
            raise _access_error("circleci.deployRefs", f"{ref!r} is not a git ref (expected refs/heads/<branch> or refs/tags/<tag>)")
    return CircleCiSettings(org_id=ids["orgId"], project_id=ids["projectId"], deploy_refs=tuple(refs))


def _load_bastion(data: dict, region: str) -> BastionSettings:
    keys = {"sourceRanges", "network", "publicSubnet", "clusterSubnet", "zone", "machineType", "image"}
    b = _access_map(data.get("bastion"), "bastion", keys)
    ranges = b.get("sourceRanges")
    if not ranges:
        raise _access_error(
            "bastion.sourceRanges",
            "empty (bastion mode opens SSH on the jump host only to these CIDRs: expected e.g. [203.0.113.0/24])",
        )
    if not isinstance(ranges, list):
        raise _access_error("bastion.sourceRanges", f"{ranges!r} is not a list of CIDRs")
    for cidr in ranges:
        try:
            net = ipaddress.ip_network(str(cidr), strict=True)
        except ValueError:
            raise _access_error("bastion.sourceRanges", f"{cidr!r} is not a CIDR range (expected e.g. 203.0.113.0/24)") from None
        if net.prefixlen == 0:
            raise _access_error("bastion.sourceRanges", f"{cidr} opens SSH to the whole internet (expected CI's egress ranges)")
    return BastionSettings(
        source_ranges=tuple(str(r) for r in ranges),
        network=_access_text(b, "network", "bastion.network", "the VPC network name or self link"),
        public_subnet=_access_text(b, "publicSubnet", "bastion.publicSubnet", "the public subnet's name or self link"),
        cluster_subnet=_access_text(b, "clusterSubnet", "bastion.clusterSubnet", "the cluster subnet's name or self link"),
        zone=_access_text(b, "zone", "bastion.zone", "a zone of the region, e.g. us-central1-a", default=f"{region}-a"),
        machine_type=_access_text(b, "machineType", "bastion.machineType", "a machine type", default="e2-micro"),
        image=_access_text(b, "image", "bastion.image", "a boot image", default="debian-cloud/debian-12"),
    )


def _load_chain_service(data: dict) -> Optional[ChainServiceSettings]:
    svc = data.get("chainService")
    if svc is None:
        return None
    svc = _access_map(svc, "chainService", {"namespace", "name", "port"})
    names = {}
    for key in ("namespace", "name"):
        value = _access_text(svc, key, f"chainService.{key}", "a Kubernetes name (DNS-1123 label)")
        if not _ACCESS_DNS_LABEL.match(value):
            raise _access_error(f"chainService.{key}", f"{value!r} is not a DNS-1123 label")
        names[key] = value
    port = svc.get("port", 8545)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise _access_error("chainService.port", f"{port!r} is not a TCP port (expected 1-65535)")
    return ChainServiceSettings(namespace=names["namespace"], name=names["name"], port=port)


def load_access(cfg: pulumi.Config, gcp_cfg: Optional[pulumi.Config] = None, stack: Optional[str] = None) -> Optional[AccessSettings]:
    """The `access` section, or None when it is absent or `enabled: false` (the local stack)."""
    data = _access_map(cfg.get_object("access"), "", _ACCESS_KEYS)
    enabled = data.get("enabled", False)
    if not isinstance(enabled, bool):
        raise _access_error("enabled", f"{enabled!r} is not true or false")
    if not enabled:
        return None
    gcp_cfg = gcp_cfg or pulumi.Config("gcp")
    mode = data.get("mode", "keyless")
    if mode not in ACCESS_MODES:
        raise _access_error("mode", f"unknown access mode {mode!r} (expected one of: {', '.join(ACCESS_MODES)})")
    project = data.get("project") or gcp_cfg.get("project")
    if not project:
        raise _access_error("project", "not set (access is enabled, so a GCP project id is needed; or set gcp:project)")
    region = data.get("region") or gcp_cfg.get("region")
    if not region:
        raise _access_error("region", "not set (access is enabled, so a GCP region is needed, e.g. us-central1; or set gcp:region)")
    rpc_url = cfg.get("rpcUrl") or ""
    host = urlparse(rpc_url).hostname or ""
    if _IN_CLUSTER_HOST.search(host):
        raise ConfigError(
            f"config {PROJECT}:rpcUrl: {rpc_url} is an in-cluster address, which the deployer (CI) cannot resolve "
            f"(expected the deployer's URL, e.g. http://127.0.0.1:8545 through `kubectl port-forward` to the chain's Service)"
        )
    chain_service = _load_chain_service(data)
    if chain_service is not None and not is_loopback_host(host):
        raise ConfigError(
            f"config {PROJECT}:rpcUrl: {rpc_url or '(not set)'} is not local, but access.chainService says CI reaches the "
            f"chain by port-forward (expected http://127.0.0.1:<port>, the port-forward's local end)"
        )
    default_prefix = f"kcd-{stack or pulumi.get_stack()}"[:22].rstrip("-")
    prefix = data.get("namePrefix", default_prefix)
    if not isinstance(prefix, str) or not _ACCESS_NAME_PREFIX.match(prefix) or prefix.startswith("gcp-"):
        raise _access_error(
            "namePrefix", f"{prefix!r} is not 3-22 lowercase letters, digits or hyphens starting with a letter (and not gcp-)"
        )
    registry = _access_map(data.get("artifactRegistry"), "artifactRegistry", {"location", "repository"})
    return AccessSettings(
        mode=mode,
        project=str(project),
        region=str(region),
        cluster=_access_text(data, "cluster", "cluster", "the GKE cluster name"),
        cluster_location=_access_text(data, "clusterLocation", "clusterLocation", "the cluster's region or zone", default=str(region)),
        name_prefix=prefix,
        registry_location=_access_text(registry, "location", "artifactRegistry.location", "a region", default=str(region)),
        registry_repository=_access_text(registry, "repository", "artifactRegistry.repository", "the Artifact Registry repository id CI pushes images to"),
        circleci=_load_circleci(data) if mode == "keyless" else None,
        bastion=_load_bastion(data, str(region)) if mode == "bastion" else None,
        chain_service=chain_service,
    )


def _wei(section: dict, key: str, default: int, unit: str = "wei") -> int:
    raw = section.get(key, default)
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise ConfigError(f"config {PROJECT}:operators.{key}: {raw!r} is not a positive integer ({unit})")
    return raw


def _operator_clients(section: dict, fleet_names: Optional[list]) -> tuple:
    from operators.keys import OperatorClient, index_for_name

    if "clients" not in section and "count" not in section and fleet_names:
        # One operator per fleet client, its HD index derived from its name: adding, removing or
        # reordering clients never moves a key to another client.
        clients = [OperatorClient(name, index_for_name(name)) for name in fleet_names]
    elif "clients" in section:
        raw = section["clients"]
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"config {PROJECT}:operators.clients: expected a non-empty list of {{name, index}}")
        clients = []
        for i, c in enumerate(raw):
            name = c.get("name") if isinstance(c, dict) else None
            index = c.get("index", i) if isinstance(c, dict) else None
            if not isinstance(name, str) or not name:
                raise ConfigError(f"config {PROJECT}:operators.clients[{i}].name: {name!r} (expected a client name)")
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 2**31:
                raise ConfigError(f"config {PROJECT}:operators.clients[{i}].index: {index!r} (expected an HD index 0..2^31-1)")
            clients.append(OperatorClient(name, index))
    else:
        count = section.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise ConfigError(f"config {PROJECT}:operators.count: {count!r} is not a positive integer (or give operators.clients, or a fleet)")
        prefix = section.get("namePrefix", "keep-client-")
        clients = [OperatorClient(f"{prefix}{i}", i) for i in range(count)]
    for key, seen in (("name", {}), ("index", {})):
        for c in clients:
            value = getattr(c, key)
            if value in seen:
                raise ConfigError(f"config {PROJECT}:operators.clients: {key} {value!r} is used by two clients (expected each once)")
            seen[value] = c
    if fleet_names:
        missing = [n for n in fleet_names if n not in {c.name for c in clients}]
        if missing:
            raise ConfigError(
                f"config {PROJECT}:operators.clients: no operator for fleet client {missing[0]!r} "
                "(expected one per fleet client; leave out count and clients to take the fleet's)"
            )
    return tuple(clients)


OPERATOR_MNEMONIC_ENV = "KEEP_CD_OPERATOR_MNEMONIC"


def load_operators(cfg: pulumi.Config, fleet_names: Optional[list] = None) -> Optional[OperatorsSettings]:
    import os

    from operators.keys import DEFAULT_KDF_COST, KeystoreParams, mnemonic_seed, operator_keys
    from operators.staking import FleetPolicy

    section = cfg.get_object("operators")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ConfigError(f"config {PROJECT}:operators: expected a map (see docs/operators.md)")
    if "clients" not in section and "count" not in section and not fleet_names:
        return None  # one operator per fleet client, and the stack has no fleet
    clients = _operator_clients(section, fleet_names)
    provisioning = section.get("provisioning", "deploy")
    if provisioning not in ("deploy", "cluster"):
        raise ConfigError(f"config {PROJECT}:operators.provisioning: {provisioning!r} is not deploy or cluster")
    on_remove = section.get("onRemove", "leave")
    if on_remove not in ("leave", "undelegate"):
        raise ConfigError(f"config {PROJECT}:operators.onRemove: {on_remove!r} is not leave or undelegate")
    kdf = section.get("keystoreKdf", "scrypt")
    keystore = KeystoreParams(kdf, section.get("keystoreCost", DEFAULT_KDF_COST.get(kdf, 0))).validate(f"{PROJECT}:operators.keystoreKdf")
    stake = section.get("stakeAmount", "minimum")
    policy = FleetPolicy(
        eth_threshold=_wei(section, "ethThreshold", 5 * 10**17),
        eth_target=_wei(section, "ethTarget", 10**18),
        stake_amount=None if stake == "minimum" else _wei(section, "stakeAmount", 0, 'KEEP base units, or "minimum"'),
        beneficiary=section.get("beneficiary", "operator"),
    ).validate()
    # The secrets: validated here, in plain, before any resource exists; the derivation that
    # produces outputs happens inside Output.apply on the secret (operators.accounts).
    plain_mnemonic = cfg.get("operatorMnemonic") or os.environ.get(OPERATOR_MNEMONIC_ENV)
    if not plain_mnemonic:
        raise ConfigError(
            f"config {PROJECT}:operatorMnemonic: not set (expected a BIP-39 mnemonic: "
            f"`pulumi config set --secret operatorMnemonic \"<12-24 words>\"`, or env {OPERATOR_MNEMONIC_ENV})"
        )
    plain_keys = cfg.get_object("operatorKeys") or {}
    if not isinstance(plain_keys, dict):
        raise ConfigError(f"config {PROJECT}:operatorKeys: expected a map of client name -> private key")
    operator_keys(mnemonic_seed(plain_mnemonic, f"{PROJECT}:operatorMnemonic"), list(clients), plain_keys)
    return OperatorsSettings(
        clients=clients,
        mnemonic=cfg.get_secret("operatorMnemonic") or pulumi.Output.secret(plain_mnemonic),
        explicit_keys=cfg.get_secret_object("operatorKeys") if plain_keys else None,
        provisioning=provisioning,
        keystore=keystore,
        eth_threshold=policy.eth_threshold,
        eth_target=policy.eth_target,
        stake_amount=policy.stake_amount,
        beneficiary=policy.beneficiary,
        on_remove=on_remove,
    )


def load_settings(cfg: pulumi.Config | None = None) -> Settings:
    cfg = cfg or pulumi.Config(PROJECT)
    contracts = load_contracts(cfg)
    fleet = load_fleet(cfg, contracts)
    operators = load_operators(cfg, [c.name for c in fleet.spec.clients] if fleet else None)
    if fleet and operators is None:
        # Every keep-client runs as an operator: its key is derived from the operators' mnemonic.
        raise ConfigError(
            f"config {PROJECT}:operators: not set, but {FLEET_KEY} is (every fleet client runs as an operator whose key "
            f"derives from {PROJECT}:operatorMnemonic: expected an operators section, e.g. {{provisioning: deploy}}; docs/operators.md)"
        )
    return Settings(
        stack=pulumi.get_stack(),
        contracts=contracts,
        access=load_access(cfg),
        fleet=fleet,
        render_yaml_to=cfg.get("renderYamlToDirectory") or None,
        operators=operators,
    )


# --- fleet: the keep-clients on Kubernetes (components/keep_network.py); docs/fleet.md lists every key.
from components.keep_client import (  # noqa: E402
    DEFAULT_PORT,
    LABEL_VALUE,
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
# A Service name is a DNS-1035 label (a DNS-1123 label that starts with a letter).
_FLEET_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Path components separated by '/'; ':' only as the registry's port (registry:5000/keep/client).
_IMAGE_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_FLEET_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_QUANTITY_SUFFIX = {"m": 10**-3, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY_SUFFIX.update({s + "i": 1024 ** (i + 1) for i, s in enumerate(("K", "M", "G", "T", "P", "E"))})
# A StorageClass name is a DNS-1123 subdomain.
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
KEEL_POLICIES = ("all", "major", "minor", "patch", "force")
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
DEFAULT_INIT_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}


@dataclass(frozen=True)
class FleetSettings:
    spec: FleetSpec  # the clients' keys are the operators' (OperatorsSettings)


def _fleet_error(path: str, message: str) -> ConfigError:
    return ConfigError(f"config {FLEET_KEY}{'.' + path if path else ''}: {message}")


def _fleet_map(raw: Any, path: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fleet_error(path, f"expected a map, got {type(raw).__name__}")
    return raw


def _fleet_str(raw: dict, key: str, path: str, default: Optional[str] = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise _fleet_error(f"{path}{key}", f"{value!r} is not set (expected a non-empty string)")
    return value


def _fleet_count(raw: Any, path: str, minimum: int) -> int:
    if type(raw) is not int or raw < minimum:
        raise _fleet_error(path, f"{raw!r} is not an integer >= {minimum}")
    return raw


def _fleet_port(raw: Any, path: str) -> int:
    if type(raw) is not int or not 0 < raw < 65536:
        raise _fleet_error(path, f"{raw!r} is not a port (expected an integer in 1..65535)")
    return raw


def _fleet_dns_label(raw: Any, path: str) -> str:
    if not isinstance(raw, str) or len(raw) > 63 or not _FLEET_DNS_LABEL.match(raw):
        raise _fleet_error(
            path, f"{raw!r} is not a DNS-1123 label starting with a letter (lowercase a-z, 0-9, '-', at most 63 characters)"
        )
    return raw


def _fleet_image(raw: Any, path: str) -> ImageRef:
    raw = _fleet_map(raw, path)
    repository = _fleet_str(raw, "repository", f"{path}.")
    if not _IMAGE_REPOSITORY.match(repository) or "@" in repository:
        raise _fleet_error(f"{path}.repository", f"{repository!r} is not an image repository (put the tag/digest in tag/digest)")
    tag, digest = raw.get("tag"), raw.get("digest")
    if tag is None and digest is None:
        raise _fleet_error(path, f"image {repository} has no tag or digest (expected tag: v1.2.3 or digest: sha256:<64 hex>)")
    if digest is not None and (not isinstance(digest, str) or not _IMAGE_DIGEST.match(digest)):
        raise _fleet_error(f"{path}.digest", f"{digest!r} is not a digest (expected sha256:<64 hex>)")
    if tag is not None and (not isinstance(tag, str) or not _IMAGE_TAG.match(tag)):
        raise _fleet_error(f"{path}.tag", f"{tag!r} is not an image tag")
    return ImageRef(repository, tag, digest)


def _fleet_resources(raw: Any, path: str, default: dict) -> ComputeResources:
    raw = _fleet_map(raw, path)
    out = {}
    for kind in ("requests", "limits"):
        section = {**default[kind], **_fleet_map(raw.get(kind), f"{path}.{kind}")}
        for res, qty in section.items():
            if res not in ("cpu", "memory") or not isinstance(qty, str) or not _FLEET_QUANTITY.match(qty):
                raise _fleet_error(f"{path}.{kind}.{res}", f"{qty!r} is not a cpu/memory quantity (e.g. 100m, 256Mi)")
        out[kind] = section
    for res, qty in out["requests"].items():
        # The API server refuses a container whose request exceeds its limit, after the chain's work.
        if res in out["limits"] and _quantity_value(qty) > _quantity_value(out["limits"][res]):
            raise _fleet_error(f"{path}.requests.{res}", f"{qty!r} is more than its limit {out['limits'][res]!r} (expected a request at most the limit)")
    return ComputeResources(out["requests"], out["limits"])


def _quantity_value(qty: str):
    """A quantity that matched _FLEET_QUANTITY as an exact number (100m = 1/10, 1Ki = 1024)."""
    from fractions import Fraction

    number = qty.rstrip("mkMGTPEi")
    return Fraction(number) * Fraction(_QUANTITY_SUFFIX.get(qty[len(number):], 1))


def _fleet_clients(raw: dict) -> tuple:
    listed, counts = raw.get("clients"), raw.get("counts")
    if listed is not None and counts is not None:
        raise _fleet_error("clients", "both clients and counts are set (expected one of them)")
    default_port = _fleet_port(raw.get("port", DEFAULT_PORT), "port")
    clients = []
    if counts is not None:
        counts = _fleet_map(counts, "counts")
        unknown = set(counts) - set(ROLES)
        if unknown:
            raise _fleet_error(f"counts.{sorted(unknown)[0]}", f"unknown role (expected {' or '.join(ROLES)})")
        for role in ROLES:
            for i in range(_fleet_count(counts.get(role, 0), f"counts.{role}", 0)):
                clients.append(ClientSpec(f"keep-{role}-{i}", role, default_port))
    elif listed is not None:
        if not isinstance(listed, list):
            raise _fleet_error("clients", "expected a list of {name, role, port?}")
        for i, item in enumerate(listed):
            item = _fleet_map(item, f"clients[{i}]")
            name = _fleet_dns_label(item.get("name"), f"clients[{i}].name")
            role = item.get("role")
            if role not in ROLES:
                raise _fleet_error(f"clients[{i}].role", f"{role!r} is not a role (expected {' or '.join(ROLES)})")
            clients.append(ClientSpec(name, role, _fleet_port(item.get("port", default_port), f"clients[{i}].port")))
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
    raw = _fleet_map(raw, "")
    namespace = _fleet_dns_label(raw.get("namespace"), "namespace")
    eth = _fleet_map(raw.get("ethereum"), "ethereum")
    url, url_rpc = _fleet_str(eth, "url", "ethereum."), _fleet_str(eth, "urlRpc", "ethereum.")
    if not re.match(r"^wss?://[^\s/]+", url):
        raise _fleet_error("ethereum.url", f"{url!r} is not a ws:// or wss:// URL (the clients' websocket endpoint in the cluster)")
    if not re.match(r"^https?://[^\s/]+", url_rpc):
        raise _fleet_error("ethereum.urlRpc", f"{url_rpc!r} is not an http(s):// URL (the clients' JSON-RPC endpoint in the cluster)")
    contracts = _fleet_map(raw.get("contracts"), "contracts") or {k: k for k in CLIENT_CONTRACTS}
    for key, name in contracts.items():
        if name not in deployed_contracts:
            raise _fleet_error(f"contracts.{key}", f"{name!r} is not deployed by the contracts plan (the address book will not have it)")
    storage = _fleet_map(raw.get("storage"), "storage")
    size = storage.get("size", "1Gi")
    if not isinstance(size, str) or not _FLEET_QUANTITY.match(size):
        raise _fleet_error("storage.size", f"{size!r} is not a storage quantity (e.g. 1Gi)")
    storage_class = storage.get("storageClass")
    if storage_class is not None and (not isinstance(storage_class, str) or len(storage_class) > 253 or not _DNS_SUBDOMAIN.match(storage_class)):
        raise _fleet_error("storage.storageClass", f"{storage_class!r} is not a StorageClass name (lowercase a-z, 0-9, '-', '.')")
    part_of = raw.get("partOf", "keep-network")
    if not isinstance(part_of, str) or not part_of or len(part_of) > 63 or not LABEL_VALUE.match(part_of):
        raise _fleet_error("partOf", f"{part_of!r} is not a label value (letters, digits, '-', '_', '.', at most 63, starting and ending alphanumeric)")
    keel = None
    if raw.get("keel") is not None:
        k = _fleet_map(raw.get("keel"), "keel")
        policy = k.get("policy", "all")
        if policy not in KEEL_POLICIES and not str(policy).startswith(("glob:", "regexp:")):
            raise _fleet_error("keel.policy", f"{policy!r} is not a Keel policy (expected {', '.join(KEEL_POLICIES)}, glob:… or regexp:…)")
        keel = KeelSpec(policy, k.get("trigger", "poll"), k.get("pollSchedule"))
    image = _fleet_image(raw.get("image"), "image")
    if keel and image.digest:
        raise _fleet_error("keel", "Keel is on but image is pinned by digest (Keel can only move tags; drop one of them)")
    return FleetSpec(
        namespace=namespace,
        image=image,
        init_image=_fleet_image(raw.get("initImage"), "initImage"),
        chain=ChainEndpoints(url, url_rpc, chain_id),
        clients=_fleet_clients(raw),
        contracts=dict(contracts),
        resources=_fleet_resources(raw.get("resources"), "resources", DEFAULT_RESOURCES),
        init_resources=_fleet_resources(raw.get("initResources"), "initResources", DEFAULT_INIT_RESOURCES),
        storage=StorageSpec(size, storage_class),
        keel=keel,
        part_of=part_of,
        create_namespace=bool(raw.get("createNamespace", False)),
    )


def load_fleet(cfg: pulumi.Config, contracts: ContractsSettings) -> Optional[FleetSettings]:
    raw = cfg.get_object("fleet")
    if raw is None:
        return None
    if isinstance(raw, dict) and "kdfIterations" in raw:
        # It set the cost of the fleet's former stand-in keystores; a value left in a stack would do nothing.
        raise _fleet_error(
            "kdfIterations", f"no longer read (the clients' keystores are the operators': set {PROJECT}:operators.keystoreKdf/keystoreCost)"
        )
    return FleetSettings(parse_fleet(raw, contracts.chain_id, {d.name for d in contracts.plan.deploys}))
