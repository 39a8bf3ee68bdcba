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
    return Settings(stack=pulumi.get_stack(), contracts=load_contracts(cfg))
