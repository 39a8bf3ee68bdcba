"""The deploy step's provisioning policy: the one policy of keep_contracts/provisioning.py plus
who gets a stake's rewards, with its errors named by the stack config's keys.  No chain library:
the settings build it on the program's first path."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import is_address, to_checksum_address

from keep_contracts.provisioning import OperatorPolicy, PolicyError

from .errors import ConfigError

CONFIG_NAMES = {"eth_threshold": "ethThreshold", "eth_target": "ethTarget", "stake_amount": "stakeAmount"}


def config_error(e: PolicyError) -> ConfigError:
    return ConfigError(f"config keep-cd:operators.{e.name}: {e.reason}")


@dataclass(frozen=True)
class FleetPolicy(OperatorPolicy):
    """The one provisioning policy (keep_contracts/provisioning.py: thresholds, target, stake
    amount), plus who gets a deploy-step stake's rewards."""

    beneficiary: str = "operator"  # "operator", "owner" or an address

    def validate(self, names: dict | None = None) -> FleetPolicy:
        try:
            super().validate(names or CONFIG_NAMES)
        except PolicyError as e:
            raise config_error(e) from None
        if self.beneficiary not in ("operator", "owner") and not is_address(self.beneficiary):
            raise ConfigError(f'config keep-cd:operators.beneficiary: {self.beneficiary!r} is not "operator", "owner" or an address')
        return self

    def beneficiary_for(self, operator: str, owner: str) -> str:
        if self.beneficiary == "operator":
            return operator
        if self.beneficiary == "owner":
            return owner
        return to_checksum_address(self.beneficiary)
