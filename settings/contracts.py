"""The contracts keys (``keep-cd:chainId``, ``rpcUrl``, ``contractsPlan``, ``planParams``,
``artifactsDir``, ``foreignContracts``), and where the deployer reaches the chain (a local stack's rpcUrl)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import Field

from chain.errors import ConfigError
from contracts_step.foreign import FOREIGN_POLICIES
from contracts_step.plan import MigrationPlan
from contracts_step.plans import load_plan

from .section import PROJECT, Section, one_of, parse_section


class ContractsKeys(Section):
    chain_id: int = Field(gt=0, strict=False, description="a positive integer (the chain's id, e.g. 31337)")
    rpc_url: str = Field(min_length=1, description="the deployer's JSON-RPC URL, e.g. http://127.0.0.1:8545")
    contracts_plan: str = Field("keep", min_length=1, description="a built-in plan (keep) or a .json plan file")
    plan_params: dict[str, Any] = Field(default_factory=dict, description="a map of plan parameters")
    artifacts_dir: str = Field("build/keep-core/artifacts", min_length=1, description="the directory of the contracts' artifacts")
    # A contract the deployer created that is not provably this stack's (another stack's, another
    # tool's): refuse, adopt it, or deploy this stack's own.  The migration's provider reads it
    # through configure (contracts_step/migrate.py); here it is validated with the rest.
    foreign_contracts: Annotated[str, one_of(FOREIGN_POLICIES, "a policy")] = Field(
        "refuse", description="refuse, adopt or deploy (what to do with the deployer's contracts of another stack)"
    )


@dataclass(frozen=True)
class ContractsSettings:
    chain_id: int
    rpc_url: str  # the deployer's way to the chain (CI may reach it through a port-forward)
    plan: MigrationPlan
    plan_params: dict
    artifacts_dir: str
    foreign_contracts: str = "refuse"


def parse_contracts(values: dict) -> ContractsSettings:
    """The contracts keys (unset ones left out of ``values``) as settings, the plan loaded."""
    keys = parse_section(ContractsKeys, values, f"{PROJECT}:")
    plan, params = load_plan(keys.contracts_plan, key=f"{PROJECT}:contractsPlan")
    return ContractsSettings(
        chain_id=keys.chain_id,
        rpc_url=keys.rpc_url,
        plan=plan,
        plan_params={**params, **keys.plan_params},
        artifacts_dir=keys.artifacts_dir,
        foreign_contracts=keys.foreign_contracts,
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
        raise ConfigError.at(key, f"{rpc_url!r} is not set ({expected})")
    parsed = urlparse(rpc_url.strip())
    shown = rpc_url if parsed.password is None else rpc_url.replace(f":{parsed.password}@", ":***@")
    if parsed.scheme != "http":
        raise ConfigError.at(key, f"{shown} is not an http:// URL ({expected})")
    if parsed.username is not None or parsed.password is not None:
        raise ConfigError.at(key, f"{shown} carries credentials ({expected})")
    host = parsed.hostname or ""
    if not is_loopback_host(host):
        raise ConfigError.at(key, f"{shown} is not on this machine (host {host or '(none)'}; {expected})")
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if port is None or not 0 < port < 65536:
        raise ConfigError.at(key, f"{shown} has no valid port (a local chain's port must be explicit; {expected})")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.params:
        raise ConfigError.at(key, f"{shown} has a path or query (a local chain answers at /; {expected})")
    return host, port
