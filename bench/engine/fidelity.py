"""Is ``pulumi preview`` exact?  A stack taken through the changes a team makes, each previewed and
then applied: the preview must list exactly the resources the update then creates, updates,
replaces or deletes.  The engine tests assert it change by change; ``python -m bench engine``
reports it as its ``fidelity`` list.  Real CLI and chain throughout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from eth_account import Account

from .engine import Engine
from .local_stack import ROOT
from .scratch_stack import new_stack, preview_steps, set_config, short, up_steps

KEEP_ARTIFACTS = os.path.join(ROOT, "build", "keep-core", "artifacts")
_SOLC05_METADATA = "a265627a7a72315820"  # solc 0.5's CBOR metadata: the bzzr1 source hash follows


def fleet_config(clients: int, bootstrap: int = 1) -> dict:
    """The local stack's fleet with ``clients`` named clients (a list, so one can get its own port)."""
    names = [(f"keep-bootstrap-{i}", "bootstrap") for i in range(bootstrap)]
    names += [(f"keep-standard-{i}", "standard") for i in range(clients - bootstrap)]
    return {
        "namespace": "keep-local",
        "createNamespace": True,
        "image": {"repository": "keepnetwork/keep-client", "tag": "v1.8.0"},
        "initImage": {"repository": "keepnetwork/keep-client-init", "tag": "v1.8.0"},
        "ethereum": {"url": "ws://host.minikube.internal:8545", "urlRpc": "http://host.minikube.internal:8545"},
        "clients": [{"name": n, "role": r} for n, r in names],
        "storage": {"size": "512Mi"},
    }


def flip_metadata_byte(artifact: dict) -> dict:
    """What a source edit that keeps behaviour does to an artifact: the compiler's metadata hash at
    the end of the code changes (creation and runtime code alike)."""
    edited = dict(artifact)
    for key in ("bytecode", "deployedBytecode"):
        code = edited[key]
        at = code.rfind(_SOLC05_METADATA)
        if at < 0:
            raise ValueError(f"{artifact.get('contractName')}: no solc 0.5 metadata hash in {key}")
        at += len(_SOLC05_METADATA)
        edited[key] = code[:at] + ("0" if code[at] != "0" else "1") + code[at + 1 :]
    return edited


class ScriptedStack:
    """A fresh stack on the chain at ``rpc_url`` with its own artifacts directory (links to the Keep
    artifacts, any of which a change may replace with an edited copy)."""

    def __init__(self, engine: Engine, workdir: str, rpc_url: str, clients: int = 3, bootstrap: int = 1):
        self.workdir = workdir
        self.rpc_url = rpc_url
        self.artifacts = os.path.join(workdir, "artifacts")
        os.makedirs(self.artifacts)
        for name in os.listdir(KEEP_ARTIFACTS):
            os.symlink(os.path.join(KEEP_ARTIFACTS, name), os.path.join(self.artifacts, name))
        self.ws = new_stack(
            engine, workdir, rpc_url, config={"artifactsDir": self.artifacts, "fleet": json.dumps(fleet_config(clients, bootstrap))}
        )
        self.ws.prepare(start_chain=False)
        self.deployer = Account.from_key(self.ws.secret("deployer.key", lambda: "")).address

    def nonce(self) -> int:
        from bench.chains.anvil import rpc

        return int(rpc(self.rpc_url, "eth_getTransactionCount", [self.deployer, "latest"]), 16)

    def edit_artifact(self, name: str) -> None:
        path = os.path.join(self.artifacts, f"{name}.json")
        with open(os.path.realpath(path)) as f:
            edited = flip_metadata_byte(json.load(f))
        os.remove(path)
        with open(path, "w") as f:
            json.dump(edited, f)

    def fleet(self) -> dict:
        return json.loads(self.ws.config["keep-cd:fleet"])

    def set_fleet(self, **changes) -> None:
        set_config(self.ws, fleet=json.dumps({**self.fleet(), **changes}))

    def preview_then_up(self) -> tuple:
        """(preview steps, update steps, transactions the deployer sent in the update)."""
        before = self.nonce()
        preview = preview_steps(self.ws)
        if self.nonce() != before:
            raise AssertionError("a preview sent a transaction")
        up = up_steps(self.ws)
        return preview, up, self.nonce() - before


def add_post_deploy_call(stack: ScriptedStack) -> None:
    from contracts_step.keep_plan import keep_plan

    plan = keep_plan().to_dict()
    plan["calls"].append(
        {
            "name": "GasPriceOracle.addConsumerContract.statistics",
            "contract": "GasPriceOracle",
            "function": "addConsumerContract",
            "args": [{"contract": "KeepRandomBeaconOperatorStatistics"}],
        }
    )
    path = os.path.join(stack.workdir, "plan-with-call.json")
    with open(path, "w") as f:
        json.dump(plan, f)
    set_config(stack.ws, contractsPlan=path)


def change_one_clients_port(stack: ScriptedStack) -> None:
    clients = stack.fleet()["clients"]
    clients[-1] = {**clients[-1], "port": 3920}
    stack.set_fleet(clients=clients)


def add_client(stack: ScriptedStack) -> None:
    clients = stack.fleet()["clients"]
    stack.set_fleet(clients=clients + [{"name": "keep-standard-added", "role": "standard"}])


def remove_client(stack: ScriptedStack) -> None:
    stack.set_fleet(clients=[c for c in stack.fleet()["clients"] if c["name"] != "keep-standard-added"])


# The changes of the engine issue, in the order a stack goes through them.
CHANGES: list = [
    ("nothing at all", lambda s: None),
    ("a post-deploy call only", add_post_deploy_call),
    ("a contract's source, no client uses it", lambda s: s.edit_artifact("BeaconRewards")),
    ("a contract's source, the clients use it", lambda s: s.edit_artifact("KeepRandomBeaconOperator")),
    ("a constructor argument", lambda s: set_config(s.ws, planParams={"initializationPeriod": 2, "dkgContributionMargin": 1})),
    ("a client's config value", change_one_clients_port),
    ("the image tag", lambda s: s.set_fleet(image={"repository": "keepnetwork/keep-client", "tag": "v1.8.1"})),
    ("a client added", add_client),
    ("a client removed", remove_client),
]


def fidelity(stack: ScriptedStack, changes: list | None = None, log: Callable[[str], None] = lambda _m: None) -> list:
    """Each change applied and measured: {change, preview, up, exact, txs}."""
    out = []
    for name, apply in changes or CHANGES:
        apply(stack)
        preview, up, sent = stack.preview_then_up()
        exact = short(preview) == short(up)
        log(f"{name}: preview {len(preview)}, up {len(up)}, exact {exact}, {sent} txs")
        out.append({"change": name, "preview": len(preview), "up": len(up), "exact": exact, "txs": sent})
    return out
