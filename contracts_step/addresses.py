"""The addresses of the contracts the rest of the program consumes, as a resource of their own.

Why: in a real ``pulumi preview``, an update of the migration leaves all of its outputs unknown
(a dynamic provider cannot preview an update), so if the clients and the stakes read the address
book straight from the migration, a change that redeploys nothing they use (a post-deploy call,
a contract no client names) would show every client as rolling while ``pulumi up`` rolls none.

This resource holds the addresses of the named contracts and a copy of what the migration recorded
(its ``basis``).  Its ``diff`` says it changes exactly when one of those addresses will: with the
migration's outputs known (``up``, or a preview where the migration does not change) it compares
them; when they are unknown (a preview of a migration update) it asks the migration's own decision
rule (``Migration.assess`` against the recorded basis, reading the chain) whether every named
contract will be reused where it is.  If so, its outputs stay known and unchanged and nothing
downstream moves; if not, they are unknown, which is what they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from .provider import MIGRATION_INPUT_KEYS, is_known, open_recorded_migration

# What of the migration's outputs a prediction needs (its decisions, not its log).
BASIS_KEYS = ("deployer", "genesis_hash", "contracts", "history", "next_nonce", "last_run")
OUTPUT_KEYS = ("addresses", "basis")


def _migration_known(migration: Any) -> bool:
    """The migration's outputs, when they are computed: not the engine's unknowns, not the None an
    offline preview passes for outputs not computed yet."""
    return isinstance(migration, dict) and migration.get("address_book") is not None and is_known(migration)


def _pick(book: dict, names: Sequence[str]) -> dict:
    missing = [n for n in names if not book.get(n)]
    if missing:
        from chain.errors import ConfigError

        raise ConfigError(
            f"contracts address book: no address for {', '.join(missing)} (the plan deploys {', '.join(sorted(book)) or 'nothing'})"
        )
    return {n: book[n] for n in names}


def _basis(migration: dict) -> dict:
    basis = {k: migration.get(k) for k in BASIS_KEYS}
    basis["last_run"] = {"block": (migration.get("last_run") or {}).get("block")}
    return basis


class ContractAddressesProvider(ResourceProvider):
    """Stateless; pickled by reference to this module (dill)."""

    serialize_as_secret_always = False  # it captures no secret

    def check(self, _olds: dict, news: dict) -> CheckResult:
        names = news.get("names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            return CheckResult(news, [CheckFailure("names", f"{names!r} is not a non-empty list of contract names")])
        return CheckResult(news, [])

    def _unchanged_by_plan(self, olds: dict, news: dict) -> bool:
        """Whether the migration will leave every named contract where it is, by its own rule."""
        basis, addresses = olds.get("basis"), olds.get("addresses") or {}
        if not basis or not is_known({k: news.get(k) for k in MIGRATION_INPUT_KEYS}):
            return False
        decisions = {d.name: d for d in open_recorded_migration(news, basis).assess() if d.kind == "contract"}
        for name in news["names"]:
            d = decisions.get(name)
            if d is None or d.action != "reuse" or (d.address or "").lower() != str(addresses.get(name, "")).lower():
                return False
        return True

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        if olds.get("names") != news.get("names"):
            changes = True
        elif _migration_known(news.get("migration")):
            changes = _pick(news["migration"]["address_book"], news["names"]) != olds.get("addresses")
        else:
            changes = not self._unchanged_by_plan(olds, news)
        return DiffResult(changes=changes, replaces=[], stables=[], delete_before_replace=False)

    def _outs(self, props: dict) -> dict:
        migration = props["migration"]
        return {**props, "addresses": _pick(migration["address_book"], props["names"]), "basis": _basis(migration)}

    def create(self, props: dict) -> CreateResult:
        return CreateResult("contract-addresses", self._outs(props))

    def update(self, _id: str, _olds: dict, news: dict) -> UpdateResult:
        return UpdateResult(self._outs(news))

    def read(self, id_: str, props: dict) -> ReadResult:
        # Nothing of its own on chain: what it holds is the migration's, which refreshes itself.
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict) -> None:
        return None


@dataclass
class ContractAddressesArgs:
    migration: Any  # the ContractsMigration resource
    names: Sequence[str] = field(default_factory=list)


class ContractAddresses(Resource, module="keep", name="ContractAddresses"):
    """Addresses of the named contracts of a migration; known in a preview unless they will move."""

    addresses: pulumi.Output[dict]

    def __init__(self, name: str, args: ContractAddressesArgs, opts: pulumi.ResourceOptions | None = None):
        migration = args.migration
        props = {
            **{k: migration.migration_inputs[k] for k in MIGRATION_INPUT_KEYS},
            "names": sorted(set(args.names)),
            "migration": pulumi.Output.all(address_book=migration.address_book, **{k: getattr(migration, k) for k in BASIS_KEYS}),
            **{k: None for k in OUTPUT_KEYS},
        }
        super().__init__(ContractAddressesProvider(), name, props, opts)
