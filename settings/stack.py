"""The stack's settings, read from ``pulumi.Config`` here and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pulumi

from chain.errors import ConfigError
from chain.provider import DEPLOYER_KEY_CONFIG

from .access import AccessSettings, parse_access
from .contracts import ContractsSettings, parse_contracts
from .fleet import FLEET_KEY, FleetSettings, parse_fleet
from .operators import OPERATOR_MNEMONIC_ENV, OperatorsSettings, check_operator_secrets, parse_operators
from .section import PROJECT, unknown_key

CONTRACTS_KEYS = ("chainId", "rpcUrl", "contractsPlan", "planParams", "artifactsDir", "foreignContracts")
# Every keep-cd: key of the stack config the program reads (the secrets too: operatorMnemonic,
# operatorKeys, and deployerPrivateKey, which the dynamic providers get through configure).
KNOWN_KEYS = (
    *CONTRACTS_KEYS,
    "access",
    "fleet",
    "operators",
    "operatorMnemonic",
    "operatorKeys",
    "renderYamlToDirectory",
    DEPLOYER_KEY_CONFIG,
)


@dataclass(frozen=True)
class Settings:
    stack: str
    contracts: ContractsSettings
    extra: dict = field(default_factory=dict)
    access: AccessSettings | None = None  # None: no GCP at all (the local stack)
    fleet: FleetSettings | None = None  # None: the stack deploys no keep-clients
    # With the Pulumi CLI: Kubernetes objects are written as YAML here instead of applied (local)
    render_yaml_to: str | None = None
    operators: OperatorsSettings | None = None  # None: the stack has no `operators` section (docs/operators.md)


def _object(cfg: pulumi.Config, key: str) -> Any:
    """A map or list key's value, None if unset; a value that is no JSON stays a string, which its
    section's model then refuses in one line (pulumi's own error would not name what was expected)."""
    try:
        return cfg.get_object(key)
    except pulumi.ConfigTypeError:
        return cfg.get(key)


def stack_config_keys() -> set:
    """Every key of the stack's config as the program gets it (``namespace:key``, secrets included),
    from where ``pulumi.Config`` reads them: the config the language host set, and PULUMI_CONFIG."""
    from pulumi.runtime.config import CONFIG, get_config_env

    return set(CONFIG.get()) | set(get_config_env())


def check_known_keys(keys: Iterable[str]) -> None:
    """Refuse a ``keep-cd:`` key the program does not read, in one line naming it and the nearest
    known key: a typo (``keep-cd:chainID``) would otherwise leave the stack on the default.  A
    secret key is refused by its name alone (no value is read here)."""
    prefix = f"{PROJECT}:"
    for key in sorted(keys):
        name = key.removeprefix(prefix)
        if key.startswith(prefix) and name not in KNOWN_KEYS:
            raise ConfigError.at(key, unknown_key(name, KNOWN_KEYS, prefix))


def load_contracts(cfg: pulumi.Config) -> ContractsSettings:
    values = {key: cfg.get(key) for key in CONTRACTS_KEYS}
    values["planParams"] = _object(cfg, "planParams")
    return parse_contracts({key: value for key, value in values.items() if value is not None})


def load_access(cfg: pulumi.Config, gcp_cfg: pulumi.Config | None = None, stack: str | None = None) -> AccessSettings | None:
    """The `access` section, or None when it is absent or `enabled: false` (the local stack)."""
    gcp_cfg = gcp_cfg or pulumi.Config("gcp")
    gcp = {"project": gcp_cfg.get("project"), "region": gcp_cfg.get("region")}
    return parse_access(_object(cfg, "access"), cfg.get("rpcUrl") or "", gcp, stack or pulumi.get_stack())


def load_fleet(cfg: pulumi.Config, contracts: ContractsSettings) -> FleetSettings | None:
    raw = _object(cfg, "fleet")
    if raw is None:
        return None
    return FleetSettings(parse_fleet(raw, contracts.chain_id, {d.name for d in contracts.plan.deploys}))


def load_operators(cfg: pulumi.Config, fleet_names: list | None = None) -> OperatorsSettings | None:
    section = parse_operators(_object(cfg, "operators"), fleet_names)
    if section is None:
        return None
    clients = section.operator_clients(fleet_names)
    keystore, policy = section.keystore(), section.policy()
    # The secrets: validated here, in plain, before any resource exists; the derivation that
    # produces outputs happens inside Output.apply on the secret (operators.accounts).
    plain_mnemonic = cfg.get("operatorMnemonic") or os.environ.get(OPERATOR_MNEMONIC_ENV)
    plain_keys = _object(cfg, "operatorKeys") or {}
    check_operator_secrets(plain_mnemonic, plain_keys, clients)
    return OperatorsSettings(
        clients=clients,
        mnemonic=cfg.get_secret("operatorMnemonic") or pulumi.Output.secret(plain_mnemonic),
        explicit_keys=cfg.get_secret_object("operatorKeys") if plain_keys else None,
        provisioning=section.provisioning,
        keystore=keystore,
        eth_threshold=policy.eth_threshold,
        eth_target=policy.eth_target,
        stake_amount=policy.stake_amount,
        beneficiary=policy.beneficiary,
        on_remove=section.on_remove,
    )


def load_settings(cfg: pulumi.Config | None = None) -> Settings:
    check_known_keys(stack_config_keys())
    cfg = cfg or pulumi.Config(PROJECT)
    contracts = load_contracts(cfg)
    fleet = load_fleet(cfg, contracts)
    operators = load_operators(cfg, [c.name for c in fleet.spec.clients] if fleet else None)
    if fleet and operators is None:
        # Every keep-client runs as an operator: its key is derived from the operators' mnemonic.
        raise ConfigError.at(
            f"{PROJECT}:operators",
            f"not set, but {FLEET_KEY} is (every fleet client runs as an operator whose key derives from "
            f"{PROJECT}:operatorMnemonic: expected an operators section, e.g. {{provisioning: deploy}}; docs/operators.md)",
        )
    return Settings(
        stack=pulumi.get_stack(),
        contracts=contracts,
        access=load_access(cfg),
        fleet=fleet,
        render_yaml_to=cfg.get("renderYamlToDirectory") or None,
        operators=operators,
    )
