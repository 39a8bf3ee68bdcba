"""The Pulumi dynamic provider for a contracts migration, and its resource.

One resource per plan and chain.  Its inputs carry one entry per contract and call (content key,
bytecode hash, arguments hash), so ``pulumi preview`` shows which ones change and whether it was
the bytecode or the arguments; ``diff`` also reads the chain, so a reset chain (no code at a recorded
address, another genesis block) shows as an update even when no input changed, and the change
report (``python -m bench.ci.change_report <stack>``) prints every step's action and reason.
Updates never replace the resource: a migration is brought forward in place, redeploying only what
changed.

This module imports no chain client at module level and holds no state: Pulumi pickles the
provider with dill, by reference to this module, and runs it in another process.  The deployer key
comes from ``configure`` (stack config ``keep-cd:deployerPrivateKey``, a secret) or the environment
(``KEEP_CD_DEPLOYER_KEY``), never from the resource's inputs.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, DiffResult, ReadResult, Resource

from chain.provider import DEPLOYER_KEY_CONFIG, DeployerStepProvider, is_known

# Outputs the migration produces; seeded as None in the inputs so the engine knows them.
OUTPUT_KEYS = ("deployer", "genesis_hash", "contracts", "address_book", "calls", "history", "calls_done", "next_nonce", "last_run")
# An input whose change makes this a different migration, not an update of the same one.
REPLACE_KEYS = ("chain_id", "plan_name")
# The inputs that say what the migration is; with its recorded outputs they decide every step.
MIGRATION_INPUT_KEYS = ("plan", "params", "artifacts_dir", "rpc_url", "chain_id")
# The stack config key (through configure) saying what to do with a contract the deployer created
# for another stack or tool: refuse, adopt or deploy (contracts_step/migrate.py).
FOREIGN_CONTRACTS_CONFIG = "foreignContracts"
# Set (to 1) for the `pulumi preview --json` that `pulumi import` of a contract set starts from
# (contracts_step/import_source.py): that preview does not refuse the deployer's existing contracts.
IMPORT_PREVIEW_ENV = "KEEP_CD_IMPORT_PREVIEW"


# The input that carries each contracts key of the stack config.  A check failure names the input
# its value came from: the engine prints "property <input> value <its value> has a problem: …",
# so it must be a small one (``plan``, the whole migration plan, is thousands of characters).
CONFIG_INPUTS = {
    "rpcUrl": "rpc_url",
    "chainId": "chain_id",
    "artifactsDir": "artifacts_dir",
    "planParams": "params",
    "contractsPlan": "plan_name",
}


def failed_input(error: Exception) -> str:
    """The input a KeepCdError from opening the migration is about: the config key a ConfigError
    names, else what its kind says (the chain: rpc_url or chain_id; an artifact: artifacts_dir;
    a plan parameter not set: params); anything else is the plan's, named by plan_name."""
    from chain.errors import ArtifactError, ChainIdMismatch, ChainSyncing, ChainUnreachable, ConfigError, UnlinkedLibrary

    if isinstance(error, ConfigError) and error.key:
        top = re.split(r"[.\[]", error.key.split(":", 1)[-1], maxsplit=1)[0]  # keep-cd:planParams.x -> planParams
        if top in CONFIG_INPUTS:
            return CONFIG_INPUTS[top]
    kinds = (
        (ChainIdMismatch, "chain_id"),
        ((ChainUnreachable, ChainSyncing), "rpc_url"),
        ((ArtifactError, UnlinkedLibrary), "artifacts_dir"),
        (ConfigError, "params"),
    )
    return next((name for kind, name in kinds if isinstance(error, kind)), "plan_name")


def open_from_inputs(props: dict, olds: dict | None, deployer: str, foreign: str | None = None):
    """The migration these inputs describe (imports kept local: see module doc); ``foreign``: the
    stack's ``keep-cd:foreignContracts`` (None: refuse)."""
    from .migrate import open_migration
    from .plan import MigrationPlan

    plan = MigrationPlan.from_dict(props["plan"])
    return open_migration(
        plan,
        props.get("params") or {},
        props["artifacts_dir"],
        props["rpc_url"],
        int(props["chain_id"]),
        olds,
        deployer,
        claim=props.get("claim") or "",
        foreign=foreign or "refuse",
    )


def _new_migration_claims_checked(check):
    """``check``, then, for a migration the stack does not have yet (no old inputs: what the engine
    creates, and all a preview of it calls), the rule that it adopts only what is provably its own
    (``Migration.refuse_foreign``): the one place a preview of a new stack reads it.  (Kept apart
    from ``check``'s own validation of the inputs.)  Not in the preview an import starts from
    (``IMPORT_PREVIEW_ENV`` set): taking over what the deployer created is what an import is for,
    and ``import_source`` proves every contract from the chain itself."""

    @functools.wraps(check)
    def checked(self, olds: dict, news: dict) -> CheckResult:
        result = check(self, olds, news)
        if olds or result.failures or not is_known(news) or os.environ.get(IMPORT_PREVIEW_ENV):
            return result
        from chain.errors import KeepCdError

        try:
            open_from_inputs(news, None, self._deployer_address(), self._foreign).refuse_foreign()
        except KeepCdError as e:
            return CheckResult(result.inputs, [CheckFailure("claim", str(e))])
        return result

    return checked


def open_recorded_migration(props: dict, recorded: dict):
    """The migration ``props`` describe, against what a run recorded, as a keyless reader: it
    decides as the recorded deployer (it sends nothing)."""
    return open_from_inputs(props, recorded, "0x" + "00" * 20)


class ContractsMigrationProvider(DeployerStepProvider):
    replace_keys = REPLACE_KEYS
    output_keys = OUTPUT_KEYS
    _foreign: str | None = None  # keep-cd:foreignContracts, from configure (None: refuse)

    def configure(self, req) -> None:
        super().configure(req)
        self._foreign = req.config.get(FOREIGN_CONTRACTS_CONFIG) or None

    @_new_migration_claims_checked
    def check(self, _olds: dict, news: dict) -> CheckResult:
        """Validate early: the plan resolves against its artifacts and the chain is the stack's.

        Reads only.  Values another resource computes are unknown in preview; then it checks less.
        """
        failures = []
        for key in ("plan", "artifacts_dir", "rpc_url", "chain_id"):
            if news.get(key) is None:
                failures.append(CheckFailure(key, f"{key} is required"))
        if failures or not is_known(news):
            return CheckResult(news, failures)
        from chain.errors import ConfigError, KeepCdError

        try:
            deployer = self._deployer_address()
        except ConfigError as e:
            return CheckResult(news, [CheckFailure(DEPLOYER_KEY_CONFIG, str(e))])
        try:
            open_from_inputs(news, None, deployer)
        except KeepCdError as e:
            # A check failure is what the engine prints as one line per property, no traceback.
            return CheckResult(news, [CheckFailure(failed_input(e), str(e))])
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        """Changes when an input changed or any step would do something (deploy, re-point, call):
        the chain is read (code at every recorded address, genesis hash), nothing is sent."""
        replaces, changed = self.changed_inputs(olds, news)
        pending = []
        if not replaces and is_known(news):
            migration = open_from_inputs(news, olds, self._deployer_address(olds.get("deployer")), self._foreign)
            migration.refuse_foreign()  # what `up` would refuse, preview refuses (reading only)
            decisions = migration.assess()
            pending = [d for d in decisions if d.action not in ("reuse", "skip")]
        return self.diff_result(replaces, changed, pending)

    def _run(self, olds: dict | None, news: dict) -> dict:
        account = self._account()
        outs = open_from_inputs(news, olds, account.address, self._foreign).migrate(account)
        result = dict(news)
        result.update(outs)
        return result

    def _resource_id(self, props: dict) -> str:
        return f"{props['plan_name']}@{int(props['chain_id'])}"

    def read(self, id_: str, props: dict) -> ReadResult:
        """``pulumi refresh``: the recorded outputs as the chain has them now (a contract whose code
        is gone shows as drift, ``code_hash`` → null, and the next ``up`` redeploys it).  (An import
        never reaches here: the engine reads an imported resource with no properties, and a dynamic
        provider is found through its properties; ``contracts_step.import_source`` writes the
        imported state into the import file instead.)"""
        from chain.node import open_node

        from .migrate import refreshed_outputs

        return ReadResult(id_, refreshed_outputs(open_node(props["rpc_url"], int(props["chain_id"])), props))

    def delete(self, _id: str, _props: dict) -> None:
        # Contracts cannot be removed from a chain.  Deleting the resource forgets them; they stay
        # on chain, and a later create of the same plan re-points to any whose code is still there
        # only if the history is kept, so the README says to keep the stack instead.
        return None


@dataclass
class ContractsMigrationArgs:
    plan: Any  # contracts_step.plan.MigrationPlan
    artifacts_dir: str
    rpc_url: str
    chain_id: int
    params: dict = field(default_factory=dict)


class ContractsMigration(Resource, module="keep", name="ContractsMigration"):
    """Contracts of one plan on one chain; outputs the address book."""

    address_book: pulumi.Output[dict]
    contracts: pulumi.Output[dict]
    deployer: pulumi.Output[str]

    def __init__(self, name: str, args: ContractsMigrationArgs, opts: pulumi.ResourceOptions | None = None):
        from .artifacts import ArtifactStore
        from .plan import resolve_plan, wire_numbers

        # Resolve in the program too: a bad plan or artifact fails here, before any provider call.
        resolved = resolve_plan(args.plan, ArtifactStore(args.artifacts_dir), args.params)
        steps = {
            d.name: {
                "content_key": d.content_key,
                "bytecode_hash": d.artifact.bytecode_hash,
                "args_hash": d.args_hash,
                "artifact": d.artifact.name,
                "deps": list(d.deps),
            }
            for d in resolved.deploys.values()
        }
        steps.update({c.name: {"content_key": c.content_key, "deps": list(c.deps)} for c in resolved.calls.values()})
        props = {
            "plan_name": args.plan.name,
            "plan": args.plan.to_dict(),
            "params": wire_numbers(dict(args.params)),
            "artifacts_dir": args.artifacts_dir,
            "rpc_url": args.rpc_url,
            "chain_id": int(args.chain_id),
            "steps": steps,
            "depth": resolved.depth,
            # Whose creations are this migration's own (contracts_step/migrate.py): the stack's name.
            "claim": f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}",
            **{k: None for k in OUTPUT_KEYS},
        }
        # What the addresses of the contracts others consume are predicted from (addresses.py).
        self.migration_inputs = {k: props[k] for k in MIGRATION_INPUT_KEYS}
        super().__init__(ContractsMigrationProvider(), name, props, opts)

    def consumed_addresses(self, name: str, names, opts: pulumi.ResourceOptions | None = None):
        """A ContractAddresses of the named contracts: what other resources should read."""
        from .addresses import ContractAddresses, ContractAddressesArgs

        return ContractAddresses(name, ContractAddressesArgs(migration=self, names=list(names)), opts)
