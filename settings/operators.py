"""Section ``keep-cd:operators`` (docs/operators.md) and the secrets it names
(``keep-cd:operatorMnemonic``, ``keep-cd:operatorKeys``), checked in plain before any resource exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from chain.errors import ConfigError
from operators.keys import DEFAULT_KDF_COST, KeystoreParams, OperatorClient, index_for_name, mnemonic_seed, operator_keys
from operators.policy import FleetPolicy
from operators.provider import ON_REMOVE, PROVISIONING_MODES

from .section import PROJECT, Section, one_of, parse_section

OPERATORS_KEY = f"{PROJECT}:operators"
OPERATOR_MNEMONIC_ENV = "KEEP_CD_OPERATOR_MNEMONIC"


def _digits_to_int(value: Any) -> Any:
    """Amounts of wei overflow YAML's and JSON's safe integers, so a stack file may quote them."""
    return int(value.strip()) if isinstance(value, str) and value.strip().isdigit() else value


Wei = Annotated[int, BeforeValidator(_digits_to_int), Field(gt=0, description="a positive integer (wei)")]


@dataclass(frozen=True)
class OperatorsSettings:
    """Section ``keep-cd:operators`` (see docs/operators.md) plus the secrets it names."""

    clients: tuple  # operators.keys.OperatorClient: name + HD index
    mnemonic: Any  # pulumi.Output[str], secret: keep-cd:operatorMnemonic
    explicit_keys: Any  # pulumi.Output[dict], secret: keep-cd:operatorKeys (client name -> key), or None
    provisioning: str  # deploy | cluster
    keystore: KeystoreParams
    eth_threshold: int
    eth_target: int
    stake_amount: int | None  # None: TokenStaking.minimumStake() at run time
    beneficiary: str
    on_remove: str  # leave | undelegate


class OperatorItem(Section):
    name: str = Field(min_length=1, description="a client name")
    index: int | None = Field(None, ge=0, lt=2**31, description="an HD index 0..2^31-1")  # None: its position


class OperatorsSection(Section):
    clients: list[OperatorItem] | None = Field(None, min_length=1, description="a non-empty list of {name, index}")
    count: int | None = Field(None, gt=0, description="a positive integer (or give operators.clients, or a fleet)")
    name_prefix: str = Field("keep-client-", description="a client name prefix")
    provisioning: Annotated[str, one_of(PROVISIONING_MODES, "a provisioning mode")] = "deploy"
    on_remove: Annotated[str, one_of(ON_REMOVE, "a removal policy")] = "leave"
    keystore_kdf: str = Field("scrypt", description="a keystore KDF")
    keystore_cost: Any = None  # checked with the KDF by operators.keys.KeystoreParams
    eth_threshold: Wei = 5 * 10**17
    eth_target: Wei = 10**18
    stake_amount: Annotated[
        Annotated[int, Field(gt=0)] | None,
        BeforeValidator(lambda v: None if v == "minimum" else _digits_to_int(v)),
        Field(description='a positive integer (KEEP base units, or "minimum")'),
    ] = None  # None ("minimum"): TokenStaking.minimumStake() at run time
    beneficiary: str = Field("operator", description='"operator", "owner" or an address')

    def operator_clients(self, fleet_names: list | None) -> tuple:
        """The operators: one per fleet client by default, else listed, else ``count`` numbered ones."""
        if self.clients is None and self.count is None and fleet_names:
            # One operator per fleet client, its HD index derived from its name: adding, removing or
            # reordering clients never moves a key to another client.
            clients = [OperatorClient(name, index_for_name(name)) for name in fleet_names]
        elif self.clients is not None:
            clients = [OperatorClient(c.name, i if c.index is None else c.index) for i, c in enumerate(self.clients)]
        else:
            clients = [OperatorClient(f"{self.name_prefix}{i}", i) for i in range(self.count or 0)]
        for attribute in ("name", "index"):
            values = [getattr(c, attribute) for c in clients]
            for value in [v for i, v in enumerate(values) if v in values[:i]][:1]:
                raise _refused("clients", f"{attribute} {value!r} is used by two clients (expected each once)")
        missing = [n for n in fleet_names or () if n not in {c.name for c in clients}]
        if missing:
            raise _refused(
                "clients",
                f"no operator for fleet client {missing[0]!r} (expected one per fleet client; leave out count and clients to take the fleet's)",
            )
        return tuple(clients)

    def policy(self) -> FleetPolicy:
        """The staking policy, checked by its own rules (operators.staking)."""
        return FleetPolicy(self.eth_threshold, self.eth_target, self.stake_amount, self.beneficiary).validate()

    def keystore(self) -> KeystoreParams:
        cost = DEFAULT_KDF_COST.get(self.keystore_kdf, 0) if self.keystore_cost is None else self.keystore_cost
        return KeystoreParams(self.keystore_kdf, cost).validate(f"{OPERATORS_KEY}.keystoreKdf")


def _refused(path: str, reason: str) -> ConfigError:
    return ConfigError.at(f"{OPERATORS_KEY}.{path}", reason)


def parse_operators(raw: Any, fleet_names: list | None) -> OperatorsSection | None:
    """The section, or None when it names no clients and there is no fleet to take them from."""
    if raw is None:
        return None
    section = parse_section(OperatorsSection, raw, OPERATORS_KEY)
    if section.clients is None and section.count is None and not fleet_names:
        return None
    return section


def check_operator_secrets(mnemonic: str | None, explicit_keys: Any, clients: tuple) -> None:
    """The mnemonic and explicit keys, in plain: a valid mnemonic, keys for known clients, no key twice."""
    if not mnemonic:
        raise ConfigError.at(
            f"{PROJECT}:operatorMnemonic",
            "not set (expected a BIP-39 mnemonic: "
            f'`pulumi config set --secret operatorMnemonic "<12-24 words>"`, or env {OPERATOR_MNEMONIC_ENV})',
        )
    if not isinstance(explicit_keys, dict):
        raise ConfigError.at(f"{PROJECT}:operatorKeys", "expected a map of client name -> private key")
    operator_keys(mnemonic_seed(mnemonic, f"{PROJECT}:operatorMnemonic"), list(clients), explicit_keys)
