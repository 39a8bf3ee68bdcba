"""Section ``keep-cd:access``: CI's way into the environment's GCP project and GKE cluster
(components/push_deploy_access.py, docs/access.md)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import Field, StringConstraints, field_validator, model_validator

from chain.errors import ConfigError
from components.push_deploy_access import ACCESS_MODES

from .contracts import is_loopback_host
from .section import PROJECT, Section, one_of, parse_section, refuse, unknown_key

ACCESS_KEY = f"{PROJECT}:access"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_GIT_REF = r"^refs/(heads|tags)/[A-Za-z0-9._/-]+$"
# Service account ids are 6-30 characters and the longest suffix is "-preview"; pool ids are 4-32.
_NAME_PREFIX = r"^[a-z][a-z0-9-]{1,20}[a-z0-9]$"
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# Host names only the cluster resolves: the deployer (CI, a laptop) is outside it.
_IN_CLUSTER_HOST = re.compile(r"(\.svc(\.cluster\.local)?\.?$)|(\.cluster\.local\.?$)")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
GitRef = Annotated[str, Field(pattern=_GIT_REF, description="a git ref (refs/heads/<branch> or refs/tags/<tag>)")]
Cidr = Annotated[str, Field(description="a CIDR range, e.g. 203.0.113.0/24")]


class CircleCiSettings(Section):
    """Whose CircleCI OIDC tokens keyless mode trusts; the ids are written into CEL, hence strict."""

    org_id: str = Field(
        pattern=_UUID,
        description="the CircleCI organization's id, a lowercase UUID (CircleCI Organization Settings > Overview)",
    )
    project_id: str = Field(pattern=_UUID, description="the CircleCI project's id, a lowercase UUID (CircleCI Project Settings > Overview)")
    # git refs whose pipelines may impersonate the deployer
    deploy_refs: tuple[GitRef, ...] = Field(
        ("refs/heads/master",), min_length=1, strict=False, description="a non-empty list of git refs, e.g. [refs/heads/master]"
    )


class BastionSettings(Section):
    source_ranges: tuple[Cidr, ...] = Field((), validate_default=True, strict=False, description="a list of CIDRs, e.g. [203.0.113.0/24]")
    network: Text = Field(description="the VPC network name or self link")
    public_subnet: Text = Field(description="the public subnet's name or self link")
    cluster_subnet: Text = Field(description="the cluster subnet's name or self link")
    zone: Text = Field(description="a zone of the region, e.g. us-central1-a")
    machine_type: Text = Field("e2-micro", description="a machine type")
    image: Text = Field("debian-cloud/debian-12", description="a boot image")

    @field_validator("source_ranges")
    @classmethod
    def _ranges_are_narrow(cls, ranges: tuple) -> tuple:
        if not ranges:
            raise refuse("empty (bastion mode opens SSH on the jump host only to these CIDRs: expected e.g. [203.0.113.0/24])")
        for i, cidr in enumerate(ranges):
            try:
                net = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise refuse(f"{cidr!r} is not a CIDR range (expected e.g. 203.0.113.0/24)", i) from None
            if net.prefixlen == 0:
                raise refuse(f"{cidr} opens SSH to the whole internet (expected CI's egress ranges)", i)
        return ranges


class ChainServiceSettings(Section):
    """The chain's JSON-RPC Service in the cluster, which CI port-forwards to reach keep-cd:rpcUrl."""

    namespace: str = Field(pattern=_DNS_LABEL, description="a Kubernetes namespace (DNS-1123 label)")
    name: str = Field(pattern=_DNS_LABEL, description="a Kubernetes Service name (DNS-1123 label)")
    port: int = Field(8545, gt=0, lt=65536, description="a TCP port (1-65535)")


class ArtifactRegistry(Section):
    location: Text = Field(description="a region")
    repository: Text = Field(description="the Artifact Registry repository id CI pushes images to")


class AccessSettings(Section):
    """The enabled section; ``circleci`` is set in keyless mode only, ``bastion`` in bastion mode."""

    enabled: bool = Field(description="true or false")
    mode: Annotated[str, one_of(ACCESS_MODES, "an access mode")] = "keyless"
    project: Text = Field(description="a GCP project id (access is enabled; or set gcp:project)")
    region: Text = Field(description="a GCP region, e.g. us-central1 (access is enabled; or set gcp:region)")
    cluster: Text = Field(description="the GKE cluster name")
    cluster_location: Text = Field(description="the cluster's region or zone")
    name_prefix: str = Field(
        pattern=_NAME_PREFIX, description="3-22 lowercase letters, digits or hyphens starting with a letter (and not gcp-)"
    )
    artifact_registry: ArtifactRegistry = Field(description="a map with keys location, repository")
    circleci: CircleCiSettings | None = None
    bastion: BastionSettings | None = None
    chain_service: ChainServiceSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _region_defaults_and_one_mode(cls, data: Any) -> Any:
        """Locations default to the region; only the chosen mode's section is read."""
        if not isinstance(data, dict):
            return data
        data, region = dict(data), data.get("region")
        if isinstance(region, str):
            data.setdefault("clusterLocation", region)
            registry = data.get("artifactRegistry")
            if registry is None or isinstance(registry, dict):
                data["artifactRegistry"] = {"location": region, **(registry or {})}
        mode = data.get("mode", "keyless")
        for section, its_mode in (("circleci", "keyless"), ("bastion", "bastion")):
            if mode != its_mode:
                data.pop(section, None)
            elif data.get(section) is None:
                data[section] = {}
        if isinstance(data.get("bastion"), dict) and isinstance(region, str):
            data["bastion"] = {"zone": f"{region}-a", **data["bastion"]}
        return data

    @field_validator("name_prefix")
    @classmethod
    def _not_google_reserved(cls, prefix: str) -> str:
        if prefix.startswith("gcp-"):
            raise refuse(f"{prefix!r} is not 3-22 lowercase letters, digits or hyphens starting with a letter (and not gcp-)")
        return prefix

    @property
    def registry_location(self) -> str:
        return self.artifact_registry.location

    @property
    def registry_repository(self) -> str:
        return self.artifact_registry.repository


class AccessSwitch(Section, extra="allow"):
    """Whether the section is on: when off, only its key names are checked (the local stack)."""

    enabled: bool = Field(False, description="true or false")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        known = sorted(f.alias or name for name, f in AccessSettings.model_fields.items())
        if not isinstance(data, dict):
            raise refuse(f"expected a map with keys {', '.join(known)}")
        for key in sorted(set(data) - set(known))[:1]:
            raise refuse(unknown_key(key, known), key)
        return data


def parse_access(raw: Any, rpc_url: str, gcp: dict, stack: str) -> AccessSettings | None:
    """The `access` section, or None when it is absent or `enabled: false` (the local stack).
    ``gcp``: gcp:project and gcp:region, the defaults of project and region."""
    if raw is None or not parse_section(AccessSwitch, raw, ACCESS_KEY).enabled:
        return None
    defaults = {"project": gcp.get("project"), "region": gcp.get("region"), "namePrefix": f"kcd-{stack}"[:22].rstrip("-")}
    data = {**{k: v for k, v in defaults.items() if v}, **{k: v for k, v in raw.items() if v is not None}}
    access = parse_section(AccessSettings, data, ACCESS_KEY)
    host = urlparse(rpc_url).hostname or ""
    if _IN_CLUSTER_HOST.search(host):
        raise ConfigError.at(
            f"{PROJECT}:rpcUrl",
            f"{rpc_url} is an in-cluster address, which the deployer (CI) cannot resolve "
            "(expected the deployer's URL, e.g. http://127.0.0.1:8545 through `kubectl port-forward` to the chain's Service)",
        )
    if access.chain_service is not None and not is_loopback_host(host):
        raise ConfigError.at(
            f"{PROJECT}:rpcUrl",
            f"{rpc_url or '(not set)'} is not local, but access.chainService says CI reaches the "
            "chain by port-forward (expected http://127.0.0.1:<port>, the port-forward's local end)",
        )
    return access
