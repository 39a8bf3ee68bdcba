"""Errors of the operators step: one line naming the thing at fault and what was expected.

They extend keep-cd's base class so that every keep-cd error is caught and printed the
same way (``chain.errors.KeepCdError``).
"""

from chain.errors import ConfigError, InsufficientFunds, KeepCdError  # noqa: F401 (re-exported)


class OperatorKeyError(ConfigError):
    """A mnemonic, explicit key or keystore setting that cannot give an operator key."""


class StakingConflict(KeepCdError):
    """The chain holds a delegation for an operator that keep-cd did not make and cannot complete;
    ``operator`` names the client it is about."""

    def __init__(self, message: str, operator: str | None = None):
        super().__init__(message)
        self.operator = operator
