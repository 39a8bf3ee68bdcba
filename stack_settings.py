"""Stack configuration, read once into typed settings.

This is the one place that reads ``pulumi.Config``; everything else receives these dataclasses.
Every key is documented in the README's configuration table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

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
    operators: Optional[OperatorsSettings] = None  # None: the stack has no `operators` section


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


def _wei(section: dict, key: str, default: int) -> int:
    raw = section.get(key, default)
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise ConfigError(f"config {PROJECT}:operators.{key}: {raw!r} is not a positive integer (wei)")
    return raw


def _operator_clients(section: dict) -> tuple:
    from operators.keys import OperatorClient

    if "clients" in section:
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
            raise ConfigError(f"config {PROJECT}:operators.count: {count!r} is not a positive integer (or give operators.clients)")
        prefix = section.get("namePrefix", "keep-client-")
        clients = [OperatorClient(f"{prefix}{i}", i) for i in range(count)]
    for key, seen in (("name", {}), ("index", {})):
        for c in clients:
            value = getattr(c, key)
            if value in seen:
                raise ConfigError(f"config {PROJECT}:operators.clients: {key} {value!r} is used by two clients (expected each once)")
            seen[value] = c
    return tuple(clients)


def load_operators(cfg: pulumi.Config) -> Optional[OperatorsSettings]:
    from operators.keys import DEFAULT_KDF_COST, KeystoreParams, mnemonic_seed, operator_keys
    from operators.staking import FleetPolicy

    section = cfg.get_object("operators")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ConfigError(f"config {PROJECT}:operators: expected a map (see docs/operators.md)")
    clients = _operator_clients(section)
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
        stake_amount=None if stake == "minimum" else _wei(section, "stakeAmount", 0),
        beneficiary=section.get("beneficiary", "operator"),
    ).validate()
    # The secrets: validated here, in plain, before any resource exists; the derivation that
    # produces outputs happens inside Output.apply on the secret (operators.accounts).
    plain_mnemonic = cfg.get("operatorMnemonic")
    if not plain_mnemonic:
        raise ConfigError(
            f"config {PROJECT}:operatorMnemonic: not set (expected a BIP-39 mnemonic: "
            "`pulumi config set --secret operatorMnemonic \"<12-24 words>\"`)"
        )
    plain_keys = cfg.get_object("operatorKeys") or {}
    if not isinstance(plain_keys, dict):
        raise ConfigError(f"config {PROJECT}:operatorKeys: expected a map of client name -> private key")
    operator_keys(mnemonic_seed(plain_mnemonic, f"{PROJECT}:operatorMnemonic"), list(clients), plain_keys)
    return OperatorsSettings(
        clients=clients,
        mnemonic=cfg.require_secret("operatorMnemonic"),
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
    return Settings(stack=pulumi.get_stack(), contracts=load_contracts(cfg), operators=load_operators(cfg))
