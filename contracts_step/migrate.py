"""Migrating a resolved plan to a chain: decide per plan entry, adopt what a killed run sent, send the rest.

The state a migration leaves (the resource's outputs) is a plain dict:

    contracts:    name -> {address, tx_hash, block, content_key, bytecode_hash, args_hash, code_hash,
                           artifact, artifact_path, abi_hash, deps: {dep name -> address}}
    address_book: name -> address                    (what the rest of the program consumes)
    calls:        name -> {content_key, call_id, tx_hash, block}
    history:      content_key -> {name, address, tx_hash, block, code_hash, deps}
                  every deployment ever made by this stack: rollback re-points by key
    calls_done:   [call_id]  keccak(target address ++ calldata) of every call in effect
    deployer, genesis_hash, next_nonce, last_run

Decisions (``assess``), per contract in dependency order:
  reuse    recorded with the same content key, its code is still there, its dependencies unchanged
  repoint  not current, but an earlier deployment with this key is still on chain (rollback): 0 txs
  deploy   otherwise, with the reason: new, bytecode changed, constructor args changed,
           dependency redeployed, no code at the recorded address (chain reset)
and per call: skip when its exact (target, calldata) was done before or its ``done_when`` view
already answers as wanted; send otherwise.

``assess`` only reads the chain (through ``chain.node.Node``, without web3); it serves ``diff``
(preview) and the change report.
``migrate`` also sends, and is crash-safe: before sending it waits for the deployer's pending
transactions, then looks at every transaction the deployer sent since the last recorded nonce
(``eth_getTransactionBySenderAndNonce``, or a scan of recent blocks where the node lacks it).  A
creation whose init code (linked bytecode + encoded arguments) is exactly the one a plan entry needs is
adopted at its CREATE address; a call with exactly the needed calldata counts as done.  Nothing a
killed run sent is ever sent twice.

Only what is provably this stack's is adopted as its interrupted run.  One deployer key may serve
several stacks (or other tools) on one chain, and a matching creation of another stack's is no proof
that this stack sent it.  So every creation a migration sends carries its stack's claim: an EIP-2930
access list naming the claim address ``keccak("keep-cd claim:" + claim)[12:]`` (``claim`` is the
stack's organization/project/stack; no account has that address, and listing it costs 2,400 gas).
The signed transaction is on chain as soon as it is sent, before anything is recorded, so a re-run
after a kill reads it from the chain on any machine.  A matching creation without this stack's claim
is *foreign*: the ``foreign`` policy (stack config ``keep-cd:foreignContracts``) decides, before
anything is sent, in ``migrate`` and in the preview's ``refuse_foreign``:
  refuse   (default) ForeignContracts, one line naming the contract, its address and the config
  adopt    take it as this stack's (two stacks then share it, said in the decision's reason)
  deploy   leave it, and deploy this stack's own
``pulumi import`` stays the explicit way to take over a set another tool deployed (import_source.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from chain.errors import ConfigError, ImportMismatch, InsufficientFunds, KeepCdError, TransactionReverted, UnlinkedLibrary
from chain.fees import price_floor
from chain.node import Node, code_hash, create_address, genesis_hash
from chain.tx_request import SendStats, TxRequest, account_lock

from .artifacts import link_bytecode
from .foreign import FOREIGN_CONTRACTS_KEY, FOREIGN_POLICIES
from .plan import ArgEncoder, MigrationPlan, ResolvedCall, ResolvedDeploy, ResolvedPlan, abi_type

if TYPE_CHECKING:  # sending imports web3; deciding (assess, diff, preview) does not
    from chain.transactions import PipelinedSender

REUSE, REPOINT, DEPLOY, SEND, SKIP, ADOPT = "reuse", "repoint", "deploy", "send", "skip", "adopt"

CLAIM_DOMAIN = b"keep-cd claim:"


class ForeignContracts(KeepCdError):
    """The deployer created a contract the plan needs, but not for this stack; nothing was sent."""


def claim_address(claim: str) -> str:
    """The address a stack's creations list in their access list: its claim, hashed (no account)."""
    return to_checksum_address(keccak(CLAIM_DOMAIN + claim.encode())[12:])


def _access_list_addresses(tx: Any) -> set:
    return {to_checksum_address(entry["address"]) for entry in (tx.get("accessList") or [])}


@dataclass
class EntryDecision:
    """What a migration does about one plan entry (a contract to deploy or a call to make)."""

    name: str
    kind: str  # contract | call
    action: str
    reason: str
    address: str | None = None

    def line(self) -> str:
        where = f" at {self.address}" if self.address else ""
        return f"{self.kind} {self.name}: {self.action}{where} ({self.reason})"


@dataclass
class MigrationRun:
    """What one ``migrate`` decided, entry by entry, and the transactions it will send."""

    nonce: int  # of the next transaction queued: a deploy's address is its creation address
    addresses: dict = field(default_factory=dict)  # name -> address (where it is or will be)
    decided: dict = field(default_factory=dict)  # name -> action
    decisions: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    standalone: list = field(default_factory=list)  # (request, deps): checked before anything is sent
    pending_deploys: dict = field(default_factory=dict)  # name -> (request, None) or (None, adopted record)
    call_reqs: dict = field(default_factory=dict)  # name -> (request, adopted record, call id)
    hints: dict = field(default_factory=dict)  # id(request) -> what to add to its revert

    def queue(self, request: TxRequest, deps: list) -> None:
        self.requests.append(request)
        self.standalone.append((request, deps))
        self.nonce += 1


def init_code(entry: ResolvedDeploy, encoder: ArgEncoder, addresses: dict, deployer: str) -> bytes:
    # entry.libraries maps placeholder -> the plan contract that provides that library
    libs = {provider: addresses[provider] for provider in entry.libraries.values()}
    code = bytes.fromhex(link_bytecode(entry.artifact, libs, entry.libraries))
    return code + encoder.encode_values(entry.arg_types, entry.args, addresses, deployer, f"contract {entry.name}")


def call_data(entry: ResolvedCall, encoder: ArgEncoder, addresses: dict, deployer: str) -> bytes:
    return encoder.encode_call(entry.fn_abi, entry.args, addresses, deployer)


def renew_hint(entry: ResolvedCall, decided: dict) -> str:
    """For a call on a contract this run keeps, with a contract this run makes new as an argument:
    the hint its revert needs.  Handing the kept contract to the new one (ownership,
    authorization) reverts when it was handed to the old one, which ``renew_with`` prevents."""
    if decided.get(entry.target) in (DEPLOY, ADOPT):
        return ""
    moved = [d for d in entry.deps if d != entry.target and decided.get(d) in (DEPLOY, ADOPT, REPOINT)]
    if not moved:
        return ""
    return (
        f" (hint: {entry.target} is kept while {moved[0]} is new; if {entry.target} was handed to the old "
        f'{moved[0]}, it must be new too: add renew_with: ["{moved[0]}"] to the deploy of {entry.target})'
    )


def call_id(target: str, data: bytes) -> str:
    return keccak(bytes.fromhex(target[2:].lower()) + data).hex()


def _done_when_holds(node: Node, entry: ResolvedCall, encoder: ArgEncoder, addresses: dict, deployer: str) -> bool:
    """Whether the call's ``done_when`` view answers as wanted (a call that fails: no)."""
    spec = entry.done_when
    if not spec:
        return False
    fn = entry.abi_artifact.function_abi(spec["function"], len(spec.get("args", [])))
    try:
        answer = node.call(to_checksum_address(addresses[entry.target]), encoder.encode_call(fn, spec.get("args", []), addresses, deployer))
        values = abi_decode([abi_type(o) for o in fn.get("outputs", [])], answer)
    except Exception:
        return False
    got = values[0] if len(values) == 1 else list(values)
    want = encoder.value(spec.get("equals"), addresses, deployer)
    if isinstance(got, str) and isinstance(want, str):
        return got.lower() == want.lower()
    return got == want


class Migration:
    """One plan against one chain, given what the last run recorded (``olds``)."""

    def __init__(
        self,
        plan: MigrationPlan,
        resolved: ResolvedPlan,
        store,
        node: Node,
        olds: dict | None,
        deployer: str,
        log: Callable[[str], None] = lambda _m: None,
        claim: str = "",
        foreign: str = "refuse",
    ):
        if foreign not in FOREIGN_POLICIES:
            raise ConfigError.at(FOREIGN_CONTRACTS_KEY, f"{foreign!r} is not a policy (expected {' or '.join(FOREIGN_POLICIES)})")
        self.claim = claim  # the stack's identity (organization/project/stack); see the module doc
        self.claim_tag = claim_address(claim)
        self.foreign = foreign
        self.plan = plan
        self.resolved = resolved
        self.node = node
        self.olds = olds or {}
        if not int(deployer, 16) and self.olds.get("deployer"):
            # A preview without the key (a pull request's read-only context) reads as the
            # recorded deployer: calls that name the deployer then compare equal.
            deployer = self.olds["deployer"]
        self.deployer = to_checksum_address(deployer)
        self.encoder = ArgEncoder(store, plan, resolved.params)
        self._code_read: dict = {}  # address -> code hash, read once per run
        self._forced: dict | None = None  # forced_renewals, once worked out
        self.log = log
        self.genesis = genesis_hash(node)
        self.reset_reason = self._detect_reset()
        self.chain_reset = self.reset_reason is not None

    def _detect_reset(self) -> str | None:
        """Why the chain no longer holds what the last run recorded, or None.  anvil restarts
        with the same genesis block, so the head and the deployer's nonce are checked as well:
        a chain never goes back on either."""
        olds = self.olds
        if not olds.get("genesis_hash"):
            return None
        if olds["genesis_hash"] != self.genesis:
            return "chain reset (genesis block changed)"
        last_block = int((olds.get("last_run") or {}).get("block") or 0)
        head = self.node.block_number()
        if head < last_block:
            return f"chain reset (head block {head} is below recorded block {last_block})"
        recorded = int(olds.get("next_nonce") or 0)
        if int(self.deployer, 16) and olds.get("deployer", "").lower() == self.deployer.lower():
            now = self.node.nonce(self.deployer)
            if now < recorded:
                return f"chain reset (deployer nonce {now} is below recorded {recorded})"
        return None

    def plan_deploy(self, name: str):
        return next(d for d in self.plan.deploys if d.name == name)

    # -- reading ----------------------------------------------------------------------------------
    def _code_matches(self, address: str, recorded_code_hash: str | None) -> bool:
        if self.chain_reset or not address:
            return False
        # Deciding reads each recorded address once: forced_renewals' passes and the final one
        # ask about the same addresses, and every decision is made before anything is sent.
        if address not in self._code_read:
            self._code_read[address] = code_hash(self.node, address)
        now = self._code_read[address]
        return now is not None and (recorded_code_hash is None or now == recorded_code_hash)

    def _decide_contract(self, entry: ResolvedDeploy, addresses: dict, decided: dict, forced: dict | None = None) -> EntryDecision:
        forced = self.forced_renewals() if forced is None else forced
        if entry.name in forced:
            return EntryDecision(entry.name, "contract", DEPLOY, f"renewed with {forced[entry.name]} (redeployed)")
        old = (self.olds.get("contracts") or {}).get(entry.name)
        deps_now = {d: addresses.get(d) for d in entry.deps}
        if old and old.get("content_key") == entry.content_key and old.get("deps", {}) == deps_now:
            if self._code_matches(old["address"], old.get("code_hash")):
                return EntryDecision(entry.name, "contract", REUSE, "unchanged", old["address"])
        earlier = (self.olds.get("history") or {}).get(entry.content_key)
        if earlier and earlier.get("deps", {}) == deps_now and self._code_matches(earlier["address"], earlier.get("code_hash")):
            why = "rollback to an earlier deployment" if old else "an earlier deployment of the same content"
            return EntryDecision(entry.name, "contract", REPOINT, why, earlier["address"])
        if not old:
            reason = "new contract"
        elif self.reset_reason is not None:
            reason = self.reset_reason
        elif old.get("bytecode_hash") != entry.artifact.bytecode_hash:
            reason = "bytecode changed"
        elif old.get("args_hash") != entry.args_hash:
            reason = "constructor args changed"
        elif old.get("renew_hash", "") != entry.renew_hash:
            reason = f"renewed with {', '.join(self.plan_deploy(entry.name).renew_with)} (new code or arguments)"
        else:
            moved = [d for d in entry.deps if decided.get(d) in (DEPLOY, REPOINT, ADOPT) or deps_now.get(d) != old.get("deps", {}).get(d)]
            if moved:
                reason = f"dependency {moved[0]} redeployed"
            else:
                reason = f"no code at {old['address']} any more (chain reset?)"
        return EntryDecision(entry.name, "contract", DEPLOY, reason)

    def _decide_contracts(self, forced: dict) -> tuple:
        decisions: list = []
        addresses: dict = {}
        decided: dict = {}
        for entry in self.resolved.deploys.values():
            d = self._decide_contract(entry, addresses, decided, forced)
            decided[entry.name] = d.action
            addresses[entry.name] = d.address  # None where it will be deployed
            decisions.append(d)
        return decisions, addresses, decided

    def forced_renewals(self) -> dict:
        """name -> the renew_with contract that is redeployed while it would not be.

        A contract that must be new whenever another is (``renew_with``) may come first in
        dependency order, so its decision waits for a whole pass: repeated until nothing more
        is forced (each pass can only add names)."""
        if self._forced is not None:
            return self._forced
        forced: dict = {}
        for _ in range(len(self.resolved.deploys) + 1):
            _, _, decided = self._decide_contracts(forced)
            more = {
                d.name: r
                for d in self.plan.deploys
                for r in d.renew_with
                if decided.get(r) == DEPLOY and decided.get(d.name) != DEPLOY and d.name not in forced
            }
            if not more:
                break
            forced.update(more)
        self._forced = forced
        return forced

    def assess(self) -> list:
        """What a run would do, entry by entry, reading the chain only."""
        decisions, addresses, decided = self._decide_contracts(self.forced_renewals())
        for entry in self.resolved.calls.values():
            decisions.append(self._decide_call(entry, addresses, decided))
        return decisions

    def _decide_call(self, entry: ResolvedCall, addresses: dict, decided: dict) -> EntryDecision:
        moved = [d for d in entry.deps if decided.get(d) == DEPLOY or addresses.get(d) is None]
        if moved:
            return EntryDecision(entry.name, "call", SEND, f"{moved[0]} is (re)deployed")
        data = call_data(entry, self.encoder, addresses, self.deployer)
        cid = call_id(addresses[entry.target], data)
        if cid in set(self.olds.get("calls_done") or []) and not self.chain_reset:
            return EntryDecision(entry.name, "call", SKIP, "done before with these arguments")
        if _done_when_holds(self.node, entry, self.encoder, addresses, self.deployer):
            return EntryDecision(entry.name, "call", SKIP, "already in effect on chain")
        old = (self.olds.get("calls") or {}).get(entry.name)
        return EntryDecision(entry.name, "call", SEND, "arguments changed" if old else "new call")

    # -- adopting what a killed run sent ----------------------------------------------------------
    def _sent_since(self, first: int, end: int) -> list:
        """The deployer's transactions with nonces in [first, end), oldest first."""
        if end <= first:
            return []
        answers = self.node.batch([("eth_getTransactionBySenderAndNonce", [self.deployer, hex(n)]) for n in range(first, end)])
        if not any("error" in a for a in answers):
            return [a["result"] for a in answers if a.get("result")]
        # Nodes without that method: walk back from the head until every nonce is accounted for.
        wanted = set(range(first, end))
        found: dict = {}
        floor = max(0, int((self.olds.get("last_run") or {}).get("block") or 0) - 1)
        for number in range(self.node.block_number(), floor - 1, -1):
            for tx in self.node.block(number, full=True).get("transactions") or []:
                if tx["from"].lower() == self.deployer.lower() and int(tx["nonce"], 16) in wanted:
                    found[int(tx["nonce"], 16)] = tx
            if len(found) == len(wanted):
                break
        return [found[n] for n in sorted(found)]

    def _adoption_index(self, first: int, end: int) -> tuple:
        creates: dict = {}
        calls: dict = {}
        sent = self._sent_since(first, end)  # each as the node sends it: hex strings
        receipts = self.node.batch([("eth_getTransactionReceipt", [tx["hash"]]) for tx in sent])
        for tx, answer in zip(sent, receipts, strict=True):
            data, nonce, tx_hash = bytes.fromhex(tx["input"][2:]), int(tx["nonce"], 16), tx["hash"]
            receipt = answer.get("result")
            if not receipt or int(receipt["status"], 16) != 1:
                continue  # a reverted transaction did nothing: never take it as done (nor one not mined yet)
            record = {"tx_hash": tx_hash, "block": int(receipt["blockNumber"], 16), "nonce": nonce}
            if not tx.get("to"):
                key, ours = keccak(data), self.claim_tag in _access_list_addresses(tx)
                if ours or not (creates.get(key) or {}).get("ours"):  # this stack's wins over another's
                    creates[key] = {**record, "address": create_address(self.deployer, nonce), "ours": ours}
            else:
                calls[call_id(to_checksum_address(tx["to"]), data)] = record
        return creates, calls

    # -- sending ----------------------------------------------------------------------------------
    def migrate(self, account) -> dict:
        """Bring the chain to the plan; returns the full new state (the resource's outputs)."""
        started = time.monotonic()
        self._code_read.clear()  # decide from the chain as it is now, not as an earlier assess saw it
        self._forced = None
        from chain.transactions import PipelinedSender

        sender = PipelinedSender(self.node.web3(), account, log=self.log)
        with account_lock(sender.chain_id, self.deployer):
            first_nonce = sender.settled_nonce()
            floor = 0 if self.chain_reset else int(self.olds.get("next_nonce") or 0)
            creates, called = self._adoption_index(min(floor, first_nonce), first_nonce)
            run = MigrationRun(nonce=first_nonce)
            self._decide_deploys(run, creates)
            self._decide_calls(run, called)
            for d in run.decisions:
                self.log(d.line())
            self._check_funds(run.requests)
            self._preflight(run.standalone, run.decided, run.addresses, sender, run.hints)
            self._send(sender, run, first_nonce)
            next_nonce = first_nonce + len(run.requests)
        return self._outputs(run.addresses, run.decisions, run.pending_deploys, run.call_reqs, sender, next_nonce, started)

    def _decide_deploys(self, run: MigrationRun, creates: dict) -> None:
        """Each contract's decision into ``run``; one to deploy that an interrupted run already
        created (``creates``: keccak of init code -> its record) is adopted instead of sent."""
        for entry in self.resolved.deploys.values():
            d = self._decide_contract(entry, run.addresses, run.decided)
            if d.action == DEPLOY:
                code = init_code(entry, self.encoder, run.addresses, self.deployer)
                adopted = creates.get(keccak(code))
                if adopted and not adopted["ours"]:
                    adopted = self._foreign(entry.name, adopted)
                if adopted and code_hash(self.node, adopted["address"]):
                    why = "sent by an interrupted run" if adopted["ours"] else f"created by {self.deployer} for another stack or tool"
                    d = EntryDecision(entry.name, "contract", ADOPT, f"{why} ({d.reason})", adopted["address"])
                    run.pending_deploys[entry.name] = (None, adopted)
                else:
                    d.address = create_address(self.deployer, run.nonce)
                    # The access list carries the claim: proof, on chain, that this stack sent it.
                    req = TxRequest(label=f"deploy {entry.name}", to=None, data=code, access_list=(self.claim_tag,))
                    run.queue(req, entry.deps)
                    run.pending_deploys[entry.name] = (req, None)
            run.decided[entry.name] = d.action
            run.addresses[entry.name] = d.address
            run.decisions.append(d)

    def _foreign(self, name: str, created: dict) -> dict | None:
        """What to do with a creation matching ``name`` that is not this stack's: the record to
        adopt (policy adopt), None to deploy anew (deploy), or ForeignContracts (refuse)."""
        if self.foreign == "adopt":
            return created
        if self.foreign == "deploy" or not code_hash(self.node, created["address"]):
            return None
        tx_hash = "0x" + str(created["tx_hash"]).removeprefix("0x")
        raise ForeignContracts(
            f"contract {name}: {created['address']} (transaction {tx_hash}) was created by the deployer {self.deployer}, "
            f"but not by this stack ({self.claim or 'unnamed'}); nothing was sent: set {FOREIGN_CONTRACTS_KEY} to adopt "
            "(share it) or deploy (this stack's own), or `pulumi import` the set (docs/engine.md)"
        )

    def refuse_foreign(self) -> None:
        """Preview's part of the rule (it reads only): ForeignContracts where the next run would
        meet a creation of the deployer that is not this stack's and the policy is refuse.  The run
        is decided as ``migrate`` would decide it, on the deployer's mined nonce.  Without the key
        (and no recorded deployer) there is no deployer to ask about."""
        if self.foreign != "refuse" or not int(self.deployer, 16):
            return
        if not any(d.action == DEPLOY for d in self._decide_contracts(self.forced_renewals())[0]):
            return  # nothing to create, so nothing to meet: the deployer's later sends go unread
        first = self.node.nonce(self.deployer)
        floor = 0 if self.chain_reset else int(self.olds.get("next_nonce") or 0)
        creates, _called = self._adoption_index(min(floor, first), first)
        if any(not c["ours"] for c in creates.values()):
            self._decide_deploys(MigrationRun(nonce=first), creates)

    def _decide_calls(self, run: MigrationRun, called: dict) -> None:
        """Each call's decision into ``run``; one an interrupted run already sent (``called``:
        call id -> its record) is adopted instead of sent."""
        for entry in self.resolved.calls.values():
            data = call_data(entry, self.encoder, run.addresses, self.deployer)
            cid = call_id(run.addresses[entry.target], data)
            d = self._decide_call(entry, run.addresses, run.decided)
            if cid in called:
                d = EntryDecision(entry.name, "call", ADOPT, "sent by an interrupted run")
                run.call_reqs[entry.name] = (None, called[cid], cid)
            elif d.action == SEND:
                req = TxRequest(label=f"call {entry.name}", to=run.addresses[entry.target], data=data)
                run.queue(req, entry.deps)
                run.call_reqs[entry.name] = (req, None, cid)
                run.hints[id(req)] = renew_hint(entry, run.decided)
            else:
                run.call_reqs[entry.name] = (None, None, cid)
            run.decisions.append(d)

    def _send(self, sender: PipelinedSender, run: MigrationRun, first_nonce: int) -> None:
        if not run.requests:
            return
        from chain.transactions import stopped_run_note

        try:
            sender.send(run.requests, first_nonce)
        except KeepCdError as e:
            failed, note = stopped_run_note(self.node.web3(), run.requests, "the next run adopts them and sends only what is still missing")
            raise type(e)(str(e) + run.hints.get(id(failed), "") + note) from None

    def adopt_existing(self, found: dict, source: str) -> dict:
        """The outputs of a contract set another tool deployed with this stack's deployer key
        (``pulumi import``), sending nothing: ``found`` is contract name -> (address, creation
        transaction hash) as ``source`` recorded them.

        A contract is adopted only where the chain proves it is the plan's: its creation
        transaction came from the deployer, succeeded, created this address, and its input is
        exactly the plan's init code with the dependencies' imported addresses.  A call counts as
        done where its ``done_when`` view says so or the deployer sent exactly that call and it
        succeeded; a call neither is left to the next ``up``.  Raises ImportMismatch otherwise."""
        started = time.monotonic()
        addresses: dict = {}
        decisions: list = []
        pending_deploys: dict = {}
        for entry in self.resolved.deploys.values():
            addresses[entry.name], pending_deploys[entry.name] = self._imported_contract(entry, found, source, addresses)
            decisions.append(EntryDecision(entry.name, "contract", ADOPT, f"imported from {source}", addresses[entry.name]))
        call_reqs, not_done = self._imported_calls(addresses, decisions)
        nothing_sent = SimpleNamespace(stats=SendStats())
        outs = self._outputs(addresses, decisions, pending_deploys, call_reqs, nothing_sent, self.node.nonce(self.deployer), started)
        for name in not_done:
            outs["calls_done"].remove(outs["calls"].pop(name)["call_id"])
        return outs

    def _imported_contract(self, entry: ResolvedDeploy, found: dict, source: str, addresses: dict) -> tuple:
        """(address, (None, its creation record)) of ``entry`` as ``found`` has it, once the chain
        proves it is the plan's (see ``adopt_existing``); ImportMismatch otherwise."""
        if entry.name not in found:
            raise ImportMismatch(
                f"contract {entry.name}: {source} records no deployment of it (expected an address and a transaction hash)"
            )
        address, tx_hash = found[entry.name]
        try:
            tx, receipt = self.node.transaction(tx_hash), self.node.receipt(tx_hash)
        except Exception:
            tx = receipt = None
        if not tx or not receipt:
            raise ImportMismatch(f"contract {entry.name}: transaction {tx_hash} recorded by {source} is not on this chain")
        where = f"contract {entry.name} at {address} ({source}, transaction {tx_hash})"
        sender = to_checksum_address(tx["from"])  # nodes send addresses in lower case
        if sender != self.deployer:
            raise ImportMismatch(
                f"{where}: deployed by {sender}, not by the stack's deployer {self.deployer} "
                "(import with the key that deployed the set: it owns what the plan's calls set up)"
            )
        if bytes.fromhex(tx["input"][2:]) != init_code(entry, self.encoder, addresses, self.deployer):
            raise ImportMismatch(f"{where}: created with other code or constructor arguments than the plan's (nothing imported)")
        if (
            tx.get("to")
            or int(receipt["status"], 16) != 1
            or create_address(self.deployer, int(tx["nonce"], 16)) != to_checksum_address(address)
        ):
            raise ImportMismatch(f"{where}: that transaction did not create this contract (nothing imported)")
        return to_checksum_address(address), (None, {"tx_hash": tx_hash, "block": int(receipt["blockNumber"], 16)})

    def _imported_calls(self, addresses: dict, decisions: list) -> tuple[dict, set]:
        """(call_reqs, names of the calls not done): each call's decision into ``decisions``, done
        where the deployer sent exactly it or its ``done_when`` view holds."""
        _creates, sent_calls = self._adoption_index(0, self.node.nonce(self.deployer))
        call_reqs: dict = {}
        not_done: set = set()
        for entry in self.resolved.calls.values():
            cid = call_id(addresses[entry.target], call_data(entry, self.encoder, addresses, self.deployer))
            if cid in sent_calls:
                call_reqs[entry.name] = (None, sent_calls[cid], cid)
                decisions.append(EntryDecision(entry.name, "call", ADOPT, f"sent by {self.deployer} before the import"))
                continue
            call_reqs[entry.name] = (None, None, cid)
            if _done_when_holds(self.node, entry, self.encoder, addresses, self.deployer):
                decisions.append(EntryDecision(entry.name, "call", SKIP, "already in effect on chain"))
            else:
                not_done.add(entry.name)
                decisions.append(EntryDecision(entry.name, "call", SEND, "not found on chain: the next up sends it"))
        return call_reqs, not_done

    def _preflight(self, standalone: list, decided: dict, addresses: dict, sender: PipelinedSender, hints: dict) -> None:
        """Estimate, before anything is sent, the transactions whose outcome the chain can already
        tell: a call that would revert on an existing contract (say, an ownership that moved on)
        or a constructor that rejects its arguments stops the run while nothing is half done.  Contracts this run will create are
        given their runtime code at their future addresses through a state override; a node
        without overrides checks only what needs nothing new."""
        new = [n for n, a in decided.items() if a == DEPLOY]
        override = {}
        unknown_code = set()
        for name in new:
            entry = self.resolved.deploys[name]
            libs = {provider: addresses[provider] for provider in entry.libraries.values()}
            try:
                override[addresses[name]] = {"code": "0x" + link_bytecode(entry.artifact, libs, entry.libraries, runtime=True)}
            except UnlinkedLibrary:
                # Its runtime code (as an artifact records it) names a library its creation code
                # does not say how to find: what it will run is known once it is deployed.
                unknown_code.add(name)
        earlier_call = False
        for req, deps in standalone:
            needs_new = [d for d in deps if d in new]
            if req.to is None and needs_new:
                continue  # a creation that needs new code runs its constructor against it: wait for it
            if req.to is not None:
                if decided.get(deps[0]) == DEPLOY or earlier_call or unknown_code & set(needs_new):
                    # Its target is new, or an earlier call of this run may be what prepares it
                    # (approve an operator contract, then add it): only the pipeline can tell.
                    earlier_call = True
                    continue
                earlier_call = True
            try:
                sender.estimate_now(req, override if needs_new else None)
            except TransactionReverted as e:
                raise TransactionReverted(str(e) + hints.get(id(req), "")) from None

    def _check_funds(self, requests: list) -> None:
        """Refuse before sending anything when the balance cannot pay even the cheapest outcome.

        The exact gas of a dependent deploy or call is only known once its dependencies are in the node's
        pending state; a lower bound is not: intrinsic gas, calldata, and 200 gas per byte of code
        a creation stores.  The sender checks again, exactly, before each transaction.
        """
        if not requests:
            return
        need_gas = 0
        for r in requests:
            calldata_gas = sum(16 if b else 4 for b in r.data)
            need_gas += 21_000 + calldata_gas
            if r.to is None:
                need_gas += 32_000
        for name, entry in self.resolved.deploys.items():
            if any(r.label == f"deploy {name}" for r in requests):
                need_gas += 200 * (len(entry.artifact.deployed_bytecode) // 2)
        from web3 import Web3  # sending: web3 is loaded already

        price = price_floor(self.node)
        need = need_gas * price
        balance = self.node.balance(self.deployer)
        if balance < need:
            raise InsufficientFunds(
                f"deployer {self.deployer}: balance {Web3.from_wei(balance, 'ether')} ETH is below the "
                f"{Web3.from_wei(need, 'ether')} ETH that {len(requests)} transactions need at least "
                f"({need_gas} gas at {price} wei); nothing was sent"
            )

    def _outputs(self, addresses, decisions, pending_deploys, call_reqs, sender, next_nonce, started) -> dict:
        history = {} if self.chain_reset else dict(self.olds.get("history") or {})
        calls_done = [] if self.chain_reset else list(self.olds.get("calls_done") or [])
        contracts = self._contract_records(addresses, {d.name: d for d in decisions}, pending_deploys, history)
        calls = self._call_records(call_reqs, calls_done)
        return {
            "deployer": self.deployer,
            "genesis_hash": self.genesis,
            "contracts": contracts,
            "address_book": {n: c["address"] for n, c in contracts.items()},
            "calls": calls,
            "history": history,
            "calls_done": calls_done,
            "next_nonce": next_nonce,
            "last_run": self._last_run(sender, decisions, started),
        }

    def _contract_records(self, addresses: dict, by_name: dict, pending_deploys: dict, history: dict) -> dict:
        """name -> what the state records of each contract; each is added to ``history`` too."""
        contracts = {}
        for entry in self.resolved.deploys.values():
            d = by_name[entry.name]
            deps = {dep: addresses[dep] for dep in entry.deps}
            if d.action == REUSE:
                rec = dict(self.olds["contracts"][entry.name])
            elif d.action == REPOINT:
                rec = dict(history[entry.content_key])
            else:
                req, adopted = pending_deploys[entry.name]
                if req is not None:
                    rec = {"tx_hash": req.tx_hash, "block": int(req.receipt["blockNumber"])}
                else:
                    rec = {"tx_hash": adopted["tx_hash"], "block": adopted["block"]}
                rec["address"] = d.address
                rec["code_hash"] = code_hash(self.node, d.address)
            rec.update(
                name=entry.name,
                address=to_checksum_address(d.address),
                deps=deps,
                content_key=entry.content_key,
                bytecode_hash=entry.artifact.bytecode_hash,
                args_hash=entry.args_hash,
                renew_hash=entry.renew_hash,
                artifact=entry.artifact.name,
                artifact_path=entry.artifact.path,
                abi_hash=entry.artifact.abi_hash,
            )
            contracts[entry.name] = rec
            history[entry.content_key] = {k: rec[k] for k in ("name", "address", "tx_hash", "block", "code_hash", "deps")}
        return contracts

    def _call_records(self, call_reqs: dict, calls_done: list) -> dict:
        """name -> what the state records of each call; each call id is added to ``calls_done`` too."""
        calls = {}
        for entry in self.resolved.calls.values():
            req, adopted, cid = call_reqs[entry.name]
            old = (self.olds.get("calls") or {}).get(entry.name) or {}
            if req is not None:
                rec = {"tx_hash": req.tx_hash, "block": int(req.receipt["blockNumber"])}
            elif adopted is not None:
                rec = {"tx_hash": adopted["tx_hash"], "block": adopted["block"]}
            else:
                rec = {"tx_hash": old.get("tx_hash"), "block": old.get("block")}
            rec.update(content_key=entry.content_key, call_id=cid)
            calls[entry.name] = rec
            if cid not in calls_done:
                calls_done.append(cid)
        return calls

    def _last_run(self, sender, decisions: list, started: float) -> dict:
        blocks = list(sender.stats.blocks)
        return {
            "txs": sender.stats.txs,
            "gas_used": sender.stats.gas_used,
            "blocks": len(blocks),
            "block": blocks[-1] if blocks else int((self.olds.get("last_run") or {}).get("block") or 0),
            "first_block": blocks[0] if blocks else None,
            "resends": sender.stats.resends,
            "seconds": round(time.monotonic() - started, 3),
            "decisions": [d.line() for d in decisions],
        }


def refreshed_outputs(node: Node, recorded: dict) -> dict:
    """What ``pulumi refresh`` records: the outputs as the chain has them now.  Each contract's
    code hash is read again (None where its code is gone, which the next run redeploys, saying
    why); addresses, history and calls stay what was recorded (the chain cannot say more)."""
    outs = dict(recorded)
    contracts = {}
    for name, rec in (recorded.get("contracts") or {}).items():
        contracts[name] = {**rec, "code_hash": code_hash(node, rec["address"])}
    outs["contracts"] = contracts
    return outs


def open_migration(
    plan: MigrationPlan,
    params: dict,
    artifacts_dir: str,
    rpc_url: str,
    chain_id: int,
    olds: dict | None,
    deployer: str,
    log=lambda _m: None,
    claim: str = "",
    foreign: str = "refuse",
) -> Migration:
    """Resolve ``plan`` against its artifacts and connect to the chain (guarding its id)."""
    from chain.node import open_node

    from .artifacts import ArtifactStore
    from .plan import resolve_plan

    store = ArtifactStore(artifacts_dir)
    resolved = resolve_plan(plan, store, params)
    node = open_node(rpc_url, chain_id)
    return Migration(plan, resolved, store, node, olds, deployer, log=log, claim=claim, foreign=foreign)
