"""keep-cd's stack settings: the stack config read once (``settings.stack``, the one reader of
``pulumi.Config``) and validated into typed settings, one pydantic model per section:
contracts (``settings.contracts``), fleet (``settings.fleet``), operators (``settings.operators``)
and access (``settings.access``).  Every refusal is one ``chain.errors.ConfigError`` naming the
``keep-cd:`` key path and what was expected (``settings.section``).

The edge of the program: it may import ``chain``, ``contracts_step``, ``operators`` and
``components`` (for the values they define once, such as ``operators.provider.PROVISIONING_MODES`` and
``ACCESS_MODES``, and the specs they consume); only ``__main__`` and the tools that read a stack
(``bench.engine``, ``scripts/ci``) import it.
"""

from .access import AccessSettings, BastionSettings, ChainServiceSettings, CircleCiSettings, parse_access
from .contracts import ContractsSettings, is_loopback_host, local_rpc_endpoint, parse_contracts
from .fleet import FleetSettings, parse_fleet
from .operators import OPERATOR_MNEMONIC_ENV, OperatorsSettings
from .stack import Settings, load_access, load_contracts, load_fleet, load_operators, load_settings

__all__ = [
    "OPERATOR_MNEMONIC_ENV",
    "AccessSettings",
    "BastionSettings",
    "ChainServiceSettings",
    "CircleCiSettings",
    "ContractsSettings",
    "FleetSettings",
    "OperatorsSettings",
    "Settings",
    "is_loopback_host",
    "load_access",
    "load_contracts",
    "load_fleet",
    "load_operators",
    "load_settings",
    "local_rpc_endpoint",
    "parse_access",
    "parse_contracts",
    "parse_fleet",
]
