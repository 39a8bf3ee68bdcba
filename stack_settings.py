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
class Settings:
    stack: str
    contracts: ContractsSettings
    extra: dict = field(default_factory=dict)
    access: Optional[AccessSettings] = None  # None: no GCP at all (the local stack)


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
    return ConfigError(f"config {PROJECT}:access.{key}: {message}")


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
    if chain_service is not None and host not in ("127.0.0.1", "localhost", "::1"):
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


def load_settings(cfg: pulumi.Config | None = None) -> Settings:
    cfg = cfg or pulumi.Config(PROJECT)
    return Settings(stack=pulumi.get_stack(), contracts=load_contracts(cfg), access=load_access(cfg))
