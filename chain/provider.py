"""What keep-cd's dynamic providers share: the base class of its chain steps (the deployer's key
from ``configure``, create/update as one idempotent run, the diff of inputs), ``is_known`` for
values preview leaves unknown, and keep-cd's errors printed as their one line by the engine's
provider host.

Imports pulumi (the other modules of this package do not: the InitContainer image copies those).
Pulumi pickles a provider with dill by reference to its module: a subclass lives in an importable
module, and this one holds no state but the key.
"""

from __future__ import annotations

import os
from typing import Any

from pulumi.dynamic import ConfigureRequest, CreateResult, DiffResult, ResourceProvider, UpdateResult
from pulumi.runtime.rpc import UNKNOWN


class _OneLineErrors:
    """``traceback`` as the SDK's dynamic-provider host uses it, but a keep-cd error (whose message
    is one line naming the thing at fault) is formatted as that line, not a Python traceback."""

    def __init__(self, real):
        self._real = real

    def format_exc(self, *args, **kwargs):
        import sys

        from .errors import KeepCdError

        error = sys.exc_info()[1]
        if isinstance(error, KeepCdError):
            return str(error)
        return self._real.format_exc(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._real, name)


def _one_line_errors_in_provider_host() -> None:
    """The engine runs dynamic providers in ``python -m pulumi.dynamic``, which reports every
    failure of create/update/diff as ``traceback.format_exc()``: a page of frames around the one
    line keep-cd's errors are written to be.  In that process (only there), keep-cd's own errors
    are reported as their line; anything else keeps its traceback."""
    import sys

    host = sys.modules.get("__main__")
    spec = getattr(host, "__spec__", None)
    if (
        host is None
        or spec is None
        or spec.name != "pulumi.dynamic.__main__"
        or isinstance(getattr(host, "traceback", None), _OneLineErrors)
    ):
        return
    namespace = vars(host)  # the host module's globals, where its functions look ``traceback`` up
    namespace["traceback"] = _OneLineErrors(namespace["traceback"])


_one_line_errors_in_provider_host()

DEPLOYER_KEY_CONFIG = "deployerPrivateKey"
DEPLOYER_KEY_ENV = "KEEP_CD_DEPLOYER_KEY"


def is_known(value: Any) -> bool:
    """False where preview left a value unknown (it is computed by another resource): the
    engine's unknown marker or the SDK's ``Unknown``, at any depth.  (None is a value here; the
    operators' provider also reads a None from another resource as not computed yet.)"""
    from pulumi.output import Unknown

    if isinstance(value, Unknown):
        return False
    if isinstance(value, str):
        return value != UNKNOWN
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    return True


def _deployer_key(configured_key: str | None) -> tuple:
    """(key, the config key that names it): stack config first, then the environment."""
    if configured_key:
        return configured_key, f"keep-cd:{DEPLOYER_KEY_CONFIG}"
    if os.environ.get(DEPLOYER_KEY_ENV):
        return os.environ[DEPLOYER_KEY_ENV], f"keep-cd:{DEPLOYER_KEY_CONFIG} (from env {DEPLOYER_KEY_ENV})"
    return None, f"keep-cd:{DEPLOYER_KEY_CONFIG}"


def deployer_account(configured_key: str | None):
    """The deployer's account from stack config (via ``configure``) or the environment; the
    contracts step deploys with it and the operators step stakes with it."""
    from .errors import ConfigError
    from .node import account_from_key

    key, where = _deployer_key(configured_key)
    if not key:
        raise ConfigError(
            f"config {where}: not set (expected `pulumi config set --secret {DEPLOYER_KEY_CONFIG} 0x…` or env {DEPLOYER_KEY_ENV})"
        )
    return account_from_key(key, where)


def deployer_address(configured_key: str | None) -> str:
    """The deployer's address, or the zero address where no key is given at all: a preview
    without the key still reads the chain, and steps checked against the deployer show as "send".
    A key that is given but malformed is an error, never "no key"."""
    from .node import address_from_key

    key, where = _deployer_key(configured_key)
    if not key:
        return "0x" + "00" * 20
    return address_from_key(key, where)


class DeployerStepProvider(ResourceProvider):
    """What keep-cd's chain steps share as dynamic providers (the contracts migration in
    contracts_step/provider.py, the operators' stakes in operators/provider.py): the deployer's key
    from ``configure``, never from inputs; ``create`` and ``update`` as one idempotent ``_run(olds, news)`` returning the full
    outputs; and ``diff``'s comparison of inputs.  A subclass names its ``replace_keys`` (a change
    there makes another resource) and ``output_keys`` (seeded as None in the inputs, not compared),
    and implements ``_run`` and ``_resource_id``.  Stateless but for the key: dill pickles it by
    reference to its module."""

    replace_keys: tuple = ()
    output_keys: tuple = ()
    # It captures no secret (the key comes from configure), so its pickle need not be one: the
    # state and `pulumi preview --json` then show it, which the import file needs (contracts_step/import_source.py).
    serialize_as_secret_always = False

    def __init__(self) -> None:
        super().__init__()
        self._deployer_key: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        self._deployer_key = req.config.get(DEPLOYER_KEY_CONFIG)

    def _account(self):
        return deployer_account(self._deployer_key)

    def _deployer_address(self, recorded: str | None = None) -> str:
        """The deployer's address; without the key (a read-only preview), the one the last run
        recorded, so that what names the deployer reads as unchanged."""
        address = deployer_address(self._deployer_key)
        return recorded if recorded and not int(address, 16) else address

    def _run(self, olds: dict | None, news: dict) -> dict:
        raise NotImplementedError

    def _resource_id(self, props: dict) -> str:
        raise NotImplementedError

    def create(self, props: dict) -> CreateResult:
        return CreateResult(self._resource_id(props), self._run(None, props))

    def update(self, _id: str, olds: dict, news: dict) -> UpdateResult:
        return UpdateResult(self._run(olds, news))

    def changed_inputs(self, olds: dict, news: dict) -> tuple:
        """(inputs whose change replaces the resource, other inputs that changed)."""
        replaces = [k for k in self.replace_keys if olds.get(k) != news.get(k)]
        changed = [k for k in news if k not in self.output_keys and k != "__provider" and olds.get(k) != news.get(k)]
        return replaces, changed

    def diff_result(self, replaces: list, changed: list, pending: list) -> DiffResult:
        """Changes when an input changed or the chain lacks something (``pending``); in place unless
        a ``replace_keys`` input changed."""
        return DiffResult(
            changes=bool(replaces or changed or pending), replaces=replaces, stables=list(self.replace_keys), delete_before_replace=False
        )
