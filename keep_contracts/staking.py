"""The calls keep-cd makes to stake an operator on keep-core 1.8.0 contracts, as calldata and
return decoding (``Fn``), and the delegation bytes ``approveAndCall`` carries.  Used by the deploy
step (operators/staking.py) and by each pod in ``provisioning: cluster``
(initcontainer/provision_operator.py), so both send exactly the same transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

from .abi import abi_entry
from .names import STAKING_CONTRACT_NAMES

_STAKING, _TOKEN = STAKING_CONTRACT_NAMES["staking"], STAKING_CONTRACT_NAMES["token"]


@dataclass(frozen=True)
class Fn:
    """A contract function by signature: calldata and return decoding, from its ABI entry."""

    signature: str
    returns: tuple = ()

    @staticmethod
    def of(contract: str, name: str) -> Fn:
        """``name`` of ``contract`` as keep_contracts/abi.py has it (one home for the ABI)."""
        entry = abi_entry(contract, name)
        types = ",".join(i["type"] for i in entry["inputs"])
        return Fn(f"{name}({types})", tuple(o["type"] for o in entry["outputs"]))

    @property
    def arg_types(self) -> list:
        inner = self.signature[self.signature.index("(") + 1 : -1]
        return [t for t in inner.split(",") if t]

    def calldata(self, *args) -> bytes:
        return keccak(text=self.signature)[:4] + abi_encode(self.arg_types, list(args))

    def decode(self, raw: str):
        values = abi_decode(list(self.returns), bytes.fromhex(raw[2:]))
        return values[0] if len(values) == 1 else values


MINIMUM_STAKE = Fn.of(_STAKING, "minimumStake")
INITIALIZATION_PERIOD = Fn.of(_STAKING, "initializationPeriod")
DELEGATION_INFO = Fn.of(_STAKING, "getDelegationInfo")
OWNER_OF = Fn.of(_STAKING, "ownerOf")
AUTHORIZER_OF = Fn.of(_STAKING, "authorizerOf")
IS_AUTHORIZED = Fn.of(_STAKING, "isAuthorizedForOperator")
HAS_MINIMUM_STAKE = Fn.of(_STAKING, "hasMinimumStake")
IS_APPROVED_OPERATOR_CONTRACT = Fn.of(_STAKING, "isApprovedOperatorContract")
AUTHORIZE = Fn.of(_STAKING, "authorizeOperatorContract")
UNDELEGATE = Fn.of(_STAKING, "undelegate")
CANCEL_STAKE = Fn.of(_STAKING, "cancelStake")
BALANCE_OF = Fn.of(_TOKEN, "balanceOf")
APPROVE_AND_CALL = Fn.of(_TOKEN, "approveAndCall")
TRANSFER = Fn.of(_TOKEN, "transfer")


def delegation_data(beneficiary: str, operator: str, authorizer: str) -> bytes:
    """approveAndCall's extraData in keep-core 1.8.0: beneficiary ‖ operator ‖ authorizer."""
    return b"".join(bytes.fromhex(a[2:]) for a in (beneficiary, operator, authorizer))
