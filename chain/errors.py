"""keep-cd's errors: the base every step's errors extend, bad settings, and what a chain can refuse.

Every message starts with one line that names the thing at fault and what was expected, because
Pulumi prints the first line of a provider's exception in its summary.  They are all raised before
any transaction is sent, except ``TransactionReverted`` and ``TransactionDropped`` which name the
transaction that failed.
"""

import re


class KeepCdError(Exception):
    """Base class: a problem the user can fix, reported in one line."""


class ChainUnreachable(KeepCdError):
    pass


class ChainIdMismatch(KeepCdError):
    pass


class ChainSyncing(KeepCdError):
    """The node is still syncing: its state is not the chain's, so nothing read from it can be trusted."""


class ArtifactError(KeepCdError):
    """A missing, unreadable or malformed artifact file."""


class UnlinkedLibrary(KeepCdError):
    """Bytecode still holds a library placeholder nobody could resolve."""


class PlanError(KeepCdError):
    """The migration plan is inconsistent: unknown reference, cycle, bad value."""


class ConfigError(KeepCdError):
    """A stack configuration value is malformed: ``key`` names it (``keep-cd:fleet.clients[2].port``)
    and ``reason`` says what is wrong and what was expected; the message is ``config <key>: <reason>``.

    Raised with one argument, a message of that form, it finds the key and reason in it (so every
    ConfigError has them, and one survives pickling); other messages have ``key`` None.
    """

    def __init__(self, message: str, key: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        if key is None:
            parts = re.match(r"config (\S+): (.*)", message, re.DOTALL)
            key, reason = (parts.group(1), parts.group(2)) if parts else (None, message)
        self.key = key
        self.reason = reason

    @classmethod
    def at(cls, key: str, reason: str) -> "ConfigError":
        """The one-line refusal of the value at ``key``."""
        return cls(f"config {key}: {reason}", key, reason)


class ImportMismatch(KeepCdError):
    """A contract set to import is not what the plan deploys (or not there); nothing is imported."""


class InsufficientFunds(KeepCdError):
    pass


class TransactionReverted(KeepCdError):
    pass


class TransactionDropped(KeepCdError):
    pass


class NonceContention(TransactionDropped):
    """Lost the nonce race of an account other processes send from too, more often than allowed."""
