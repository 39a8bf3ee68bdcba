"""Errors of the contracts step.

Every message starts with one line that names the thing at fault and what was expected, because
Pulumi prints the first line of a provider's exception in its summary.  They are all raised before
any transaction is sent, except ``TransactionReverted`` and ``TransactionDropped`` which name the
transaction that failed.
"""


class ContractsStepError(Exception):
    """Base class: a problem the user can fix, reported in one line."""


class ChainUnreachable(ContractsStepError):
    pass


class ChainIdMismatch(ContractsStepError):
    pass


class ChainSyncing(ContractsStepError):
    """The node is still syncing: its state is not the chain's, so nothing read from it can be trusted."""


class ArtifactError(ContractsStepError):
    """A missing, unreadable or malformed artifact file."""


class UnlinkedLibrary(ContractsStepError):
    """Bytecode still holds a library placeholder nobody could resolve."""


class PlanError(ContractsStepError):
    """The migration plan is inconsistent: unknown reference, cycle, bad value."""


class ConfigError(ContractsStepError):
    """A stack configuration value is malformed."""


class ImportMismatch(ContractsStepError):
    """A contract set to import is not what the plan deploys (or not there); nothing is imported."""


class InsufficientFunds(ContractsStepError):
    pass


class TransactionReverted(ContractsStepError):
    pass


class TransactionDropped(ContractsStepError):
    pass
