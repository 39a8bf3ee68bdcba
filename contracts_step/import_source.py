"""``pulumi import`` of a contract set another tool deployed (Truffle, hardhat-deploy), with no
transaction:

    KEEP_CD_IMPORT_PREVIEW=1 pulumi preview --json > preview.json   # the stack, before it has contracts
    KEEP_CD_DEPLOYER_KEY=$(pulumi config get deployerPrivateKey) \
        python -m contracts_step.import_source preview.json --truffle > import.json
    pulumi import --file import.json --yes --generate-code=false --protect=false
    pulumi up                                                   # changes nothing

``KEEP_CD_IMPORT_PREVIEW=1``: a preview of a new stack otherwise refuses the contracts its deployer
created for another stack or tool (contracts_step/migrate.py); importing them is the explicit way to
take them over, and each is proven from the chain here.

Why a file: the engine reads a resource to import with no properties at all, and a Python dynamic
provider is found through its properties, so ``Read`` cannot run for it; ``pulumi import --file``
takes the resource's inputs and outputs instead.  The inputs are the ones the real engine's preview
computed for the migration (so ``pulumi up`` then sees no change), the outputs are what
``Migration.adopt_existing`` proves from the chain: each contract's creation transaction is the
plan's, sent by the stack's deployer; each call is done on chain or left to the next ``up``.

Where the other tool recorded the set:

    --truffle [NETWORK]     each plan contract's artifact, ``networks.<NETWORK>`` (address,
                            transactionHash); NETWORK defaults to the stack's chain id
    --hardhat-deploy DIR    hardhat-deploy's ``deployments/<network>/``: ``<Name>.json`` per contract
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from chain.errors import ImportMismatch, KeepCdError

MIGRATION_TYPE_SUFFIX = "keep:ContractsMigration"


def recorded_deployments(source: dict, resolved, chain_id: int) -> tuple:
    """({contract name: (address, transaction hash)}, a label naming the source) for the plan's
    deploys, as the source records them.  A contract it does not record is simply absent."""
    found: dict = {}
    if "truffle" in source:
        network = source["truffle"] or str(chain_id)
        for name, deploy in resolved.deploys.items():
            rec = (deploy.artifact.networks or {}).get(network) or {}
            if rec.get("address") and rec.get("transactionHash"):
                found[name] = (rec["address"], rec["transactionHash"])
        return found, f"the artifacts' networks.{network}"
    directory = source["hardhat_deploy"]
    if not os.path.isdir(directory):
        raise ImportMismatch(f"--hardhat-deploy {directory}: not a directory (expected hardhat-deploy's deployments/<network>/)")
    for name, deploy in resolved.deploys.items():
        path = os.path.join(directory, f"{deploy.artifact.name}.json")
        if not os.path.isfile(path):
            continue
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise ImportMismatch(f"deployment file {path}: unreadable ({e.__class__.__name__}); nothing imported") from None
        if data.get("address") and data.get("transactionHash"):
            found[name] = (data["address"], data["transactionHash"])
    return found, f"deployments in {directory}"


def _previewed_migration(preview: dict) -> dict:
    """The preview's operation on the contracts migration (what `pulumi preview --json` lists under "steps")."""
    changes = [s for s in preview.get("steps", []) if s.get("urn", "").split("::")[-2].endswith(MIGRATION_TYPE_SUFFIX)]
    if len(changes) != 1:
        raise ImportMismatch(f"preview: {len(changes)} contracts migrations (expected exactly one, from `pulumi preview --json`)")
    change = changes[0]
    if change.get("op") != "create":
        raise ImportMismatch(
            f"preview: the stack already has its contracts migration ({change.get('op')}); import is for a stack without one"
        )
    return change


def import_file(preview: dict, source: dict, project_dir: str = ".") -> dict:
    """The ``pulumi import --file`` document for the migration the preview would create."""
    from chain.node import address_from_key
    from chain.provider import DEPLOYER_KEY_CONFIG, DEPLOYER_KEY_ENV

    from .provider import open_from_inputs

    change = _previewed_migration(preview)
    inputs = dict(change["newState"]["inputs"])
    if not isinstance(inputs.get("__provider"), str):
        raise ImportMismatch("preview: the migration's inputs are hidden (expected `pulumi preview --json` of this project)")
    key = os.environ.get(DEPLOYER_KEY_ENV)
    if not key:
        raise ImportMismatch(
            f"env {DEPLOYER_KEY_ENV}: not set (expected the stack's deployer key: {DEPLOYER_KEY_ENV}=$(pulumi config get {DEPLOYER_KEY_CONFIG}))"
        )
    deployer = address_from_key(key)
    cwd = os.getcwd()
    os.chdir(project_dir)  # the program's relative paths (artifactsDir) are the project's
    try:
        migration = open_from_inputs(inputs, None, deployer)
        found, label = recorded_deployments(source, migration.resolved, int(inputs["chain_id"]))
        outputs = {**inputs, **migration.adopt_existing(found, label)}
    finally:
        os.chdir(cwd)
    urn = change["urn"]
    return {
        "resources": [
            {
                "type": urn.split("::")[-2],
                "name": urn.split("::")[-1],
                "id": f"{inputs['plan_name']}@{int(inputs['chain_id'])}",
                "inputs": inputs,
                "outputs": outputs,
            }
        ]
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m contracts_step.import_source", description=__doc__.splitlines()[0])
    ap.add_argument("preview", help="`pulumi preview --json` of the stack, as a file")
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--truffle", nargs="?", const="", metavar="NETWORK", help="artifacts' networks.<NETWORK> (default: the chain id)")
    where.add_argument("--hardhat-deploy", metavar="DIR", help="hardhat-deploy's deployments/<network>/ directory")
    ap.add_argument("--project-dir", default=".", help="the Pulumi project's directory (default: .)")
    args = ap.parse_args(argv)
    source = {"truffle": args.truffle} if args.truffle is not None else {"hardhat_deploy": args.hardhat_deploy}
    try:
        with open(args.preview) as f:
            preview = json.load(f)
        doc = import_file(preview, source, args.project_dir)
    except (OSError, ValueError) as e:
        print(f"error: {args.preview}: {e}", file=sys.stderr)
        return 1
    except KeepCdError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    json.dump(doc, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
