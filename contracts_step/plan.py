"""Migration plans as data, and their resolution into a dependency graph with content keys.

A plan lists contracts to deploy (artifact, constructor arguments, libraries) and calls to make
after deployment (target, function, arguments, and optionally a view that tells when the call is
already in effect).  Arguments are literals or references, written as small dicts so that a plan
is plain JSON and can travel as a Pulumi resource input:

    {"contract": "KeepToken"}             the address of a contract of the plan
    {"config": "initializationPeriod"}    a value of the plan's parameters (stack config)
    {"deployer": True}                    the deployer's address
    {"calldata": {"contract": C, "function": F, "args": [...]}}   ABI-encoded call data, as bytes

Resolution reads artifacts only (never the chain): it checks every reference, finds the libraries
each bytecode needs, orders the steps so that every dependency comes first, and gives each step a
*content key*: a hash of its unlinked bytecode, its arguments, and the content keys of everything it
references.  The key changes exactly when the step or something it depends on changes, so it is what
the address book of earlier deployments is keyed by (rollback re-points by key, sending nothing).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from eth_abi import encode as abi_encode
from eth_typing import ABIFunction
from eth_utils import function_abi_to_4byte_selector, is_address, to_checksum_address

from chain.errors import ConfigError, PlanError, UnlinkedLibrary

from .artifacts import Artifact, ArtifactStore


@dataclass
class Deploy:
    name: str
    artifact: str | None = None  # artifact name; defaults to ``name``
    args: list = field(default_factory=list)
    # library name (as the artifact names it) -> plan contract that provides it; default: same name
    libraries: dict = field(default_factory=dict)
    # explicit placeholder -> library name, for artifacts that do not say
    placeholders: dict = field(default_factory=dict)
    # Redeploy this contract whenever one of these gets new code or arguments, though it does not
    # reference them (they may reference it): an escrow whose ownership goes to a staking
    # contract must be fresh when the staking contract is, or the transfer would revert.
    renew_with: list = field(default_factory=list)


@dataclass
class Call:
    name: str  # unique label, e.g. "TokenGrant.authorizeStakingContract"
    contract: str  # plan contract whose address is called
    function: str
    args: list = field(default_factory=list)
    abi: str | None = None  # artifact whose ABI applies at that address (a proxy's implementation)
    # {"function": view, "args": [...], "equals": value}: the call is in effect when the view returns it
    done_when: dict | None = None


@dataclass
class MigrationPlan:
    name: str
    deploys: list
    calls: list = field(default_factory=list)
    description: str = ""

    def to_dict(self) -> dict:
        return wire_numbers(
            {
                "name": self.name,
                "description": self.description,
                "deploys": [asdict(d) for d in self.deploys],
                "calls": [asdict(c) for c in self.calls],
            }
        )

    @staticmethod
    def from_dict(data: dict) -> MigrationPlan:
        data = integral_numbers(data)
        return MigrationPlan(
            name=data["name"],
            description=data.get("description", ""),
            deploys=[Deploy(**d) for d in data.get("deploys", [])],
            calls=[Call(**c) for c in data.get("calls", [])],
        )


def integral_numbers(value: Any) -> Any:
    """Floats that are whole numbers back to ints: Pulumi carries numbers as doubles, and a
    constructor argument of 1.0 would neither ABI-encode as uint nor hash like 1."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral_numbers(v) for v in value]
    return value


def wire_numbers(value: Any) -> Any:
    """Integers a double cannot hold exactly (|n| >= 2**53: token amounts in base units) as decimal
    strings, which ABI encoding reads back as integers: Pulumi carries numbers as doubles, and
    10**24 would arrive as 999999999999999983222784."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    if isinstance(value, dict):
        return {k: wire_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire_numbers(v) for v in value]
    return value


def ref(name: str) -> dict:
    return {"contract": name}


def config(key: str) -> dict:
    return {"config": key}


DEPLOYER = {"deployer": True}


def calldata(contract: str, function: str, *args: Any) -> dict:
    return {"calldata": {"contract": contract, "function": function, "args": list(args)}}


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def abi_type(inp: dict) -> str:
    t = inp["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in inp.get("components", [])) + ")" + t[len("tuple") :]
    return t


@dataclass
class ResolvedDeploy:
    name: str
    artifact: Artifact
    args: list
    arg_types: list
    libraries: dict  # placeholder -> plan contract name
    deps: list  # plan contract names this one needs deployed first, in plan order
    content_key: str
    args_hash: str
    renew_hash: str = ""  # identity of its renew_with contracts (code + arguments by name)


@dataclass
class ResolvedCall:
    name: str
    target: str
    abi_artifact: Artifact
    fn_abi: dict
    args: list
    arg_types: list
    deps: list
    content_key: str
    done_when: dict | None


@dataclass
class ResolvedPlan:
    name: str
    deploys: dict  # name -> ResolvedDeploy, in dependency order
    calls: dict  # name -> ResolvedCall, in plan order
    params: dict
    depth: int  # longest dependency chain, counted in steps

    def order(self) -> list:
        """Deploys in dependency order, then calls (each call's deps are all deploys)."""
        return list(self.deploys.values()) + list(self.calls.values())


def _refs(arg: Any, where: str) -> list:
    """Contract names referenced by an argument spec (recursively through calldata)."""
    if isinstance(arg, dict):
        if "contract" in arg and len(arg) == 1:
            return [arg["contract"]]
        if "calldata" in arg:
            cd = arg["calldata"]
            out = [cd["contract"]] if cd.get("contract") else []
            for a in cd.get("args", []):
                out += _refs(a, where)
            return out
        if "config" in arg or "deployer" in arg:
            return []
        raise PlanError(f"{where}: argument {arg!r} is not a literal or a reference (contract/config/deployer/calldata)")
    if isinstance(arg, list):
        out = []
        for a in arg:
            out += _refs(a, where)
        return out
    return []


class ArgEncoder:
    """Turns argument specs into values, given the addresses resolved so far."""

    def __init__(self, store: ArtifactStore, plan: MigrationPlan, params: dict):
        self.store = store
        self.plan = plan
        self.params = params
        self.artifact_of = {d.name: (d.artifact or d.name) for d in plan.deploys}

    def symbolic(self, arg: Any, keys: dict) -> Any:
        """The argument with references replaced by what identifies them (content keys, values)."""
        if isinstance(arg, dict):
            if "contract" in arg and len(arg) == 1:
                return {"key": keys[arg["contract"]]}
            if "config" in arg:
                return {"value": self.params[arg["config"]]}
            if "deployer" in arg:
                return {"deployer": True}
            if "calldata" in arg:
                cd = arg["calldata"]
                return {"calldata": [keys.get(cd["contract"]), cd["function"], [self.symbolic(a, keys) for a in cd["args"]]]}
        if isinstance(arg, list):
            return [self.symbolic(a, keys) for a in arg]
        return arg

    def value(self, arg: Any, addresses: dict, deployer: str) -> Any:
        if isinstance(arg, dict):
            if "contract" in arg and len(arg) == 1:
                return to_checksum_address(addresses[arg["contract"]])
            if "config" in arg:
                return self.params[arg["config"]]
            if "deployer" in arg:
                return to_checksum_address(deployer)
            if "calldata" in arg:
                cd = arg["calldata"]
                art = self.store.get(self.artifact_of.get(cd["contract"], cd["contract"]))
                fn = art.function_abi(cd["function"], len(cd["args"]))
                return self.encode_call(fn, cd["args"], addresses, deployer)
        if isinstance(arg, list):
            return [self.value(a, addresses, deployer) for a in arg]
        return arg

    def encode_values(self, types: list, args: list, addresses: dict, deployer: str, where: str) -> bytes:
        values = [_coerce(t, self.value(a, addresses, deployer)) for t, a in zip(types, args, strict=False)]
        try:
            return abi_encode(types, values)
        except Exception as e:
            raise PlanError(f"{where}: arguments {values!r} do not encode as {types} ({e})") from None

    def encode_call(self, fn_abi: dict, args: list, addresses: dict, deployer: str) -> bytes:
        types = [abi_type(i) for i in fn_abi.get("inputs", [])]
        # fn_abi is an ABI entry of an artifact (a plain dict, as JSON has it).
        return function_abi_to_4byte_selector(cast(ABIFunction, fn_abi)) + self.encode_values(
            types, args, addresses, deployer, f"call {fn_abi['name']}"
        )


def _coerce(abi_t: str, value: Any) -> Any:
    if abi_t.startswith(("uint", "int")) and isinstance(value, str) and not value.startswith("0x"):
        return int(value)
    if abi_t.startswith("bytes") and isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return value


def resolve_plan(plan: MigrationPlan, store: ArtifactStore, params: dict | None = None) -> ResolvedPlan:
    """Check the plan against its artifacts and compute order, dependencies and content keys."""
    # Program and provider must see the same values: both resolve the plan as it travels.
    plan = MigrationPlan.from_dict(plan.to_dict())
    params = wire_numbers(integral_numbers(dict(params or {})))
    check_unique_names(plan)
    by_name = {d.name: d for d in plan.deploys}
    encoder = ArgEncoder(store, plan, params)
    # Dependencies of each deploy: referenced contracts and the libraries its bytecode needs.
    artifacts: dict[str, Artifact] = {}
    lib_maps: dict[str, dict] = {}
    deps: dict[str, list] = {}
    for d in plan.deploys:
        artifacts[d.name] = store.get(d.artifact or d.name)
        lib_maps[d.name], deps[d.name] = check_deploy(d, artifacts[d.name], plan, store, params, encoder)
    order, depth = dependency_order(plan, deps)
    deploys: dict[str, ResolvedDeploy] = {}
    keys: dict[str, str] = {}
    for n in order:
        deploys[n] = resolve_deploy(by_name[n], by_name, artifacts, lib_maps[n], deps[n], keys, params, encoder)
        keys[n] = deploys[n].content_key
    calls = {c.name: resolve_call(c, artifacts, keys, plan, store, params, encoder) for c in plan.calls}
    return ResolvedPlan(
        name=plan.name,
        deploys=deploys,
        calls=calls,
        params=params,
        depth=max(depth.values(), default=0) + (1 if calls else 0),
    )


def check_unique_names(plan: MigrationPlan) -> None:
    """Deploys and calls are each named once: the address book and the decisions are keyed by name."""
    for what, names, expected in (
        ("contract", [d.name for d in plan.deploys], "is deployed twice"),
        ("call", [c.name for c in plan.calls], "appears twice"),
    ):
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise PlanError(f"plan {plan.name}: {what} {dupes[0]} {expected} (expected unique names)")


def check_config_refs(arg: Any, where: str, params: dict) -> None:
    """A ConfigError naming the first plan parameter ``arg`` refers to that is not set."""
    if isinstance(arg, dict) and "config" in arg and arg["config"] not in params:
        raise ConfigError(
            f"{where}: needs plan parameter '{arg['config']}', which is not set "
            f"(expected {PLAN_PARAMS_KEY}.{arg['config']} in stack config, or a default in the plan)"
        )
    if isinstance(arg, dict) and "calldata" in arg:
        for a in arg["calldata"].get("args", []):
            check_config_refs(a, where, params)
    if isinstance(arg, list):
        for a in arg:
            check_config_refs(a, where, params)


def check_known_contracts(names: list, where: str, what: str, plan_contracts: Collection[str]) -> None:
    for r in names:
        if r not in plan_contracts:
            raise PlanError(f"{where}: {what} unknown contract '{r}' (expected one of the plan's deploys)")


def check_deploy(
    d: Deploy, art: Artifact, plan: MigrationPlan, store: ArtifactStore, params: dict, encoder: ArgEncoder
) -> tuple[dict, list]:
    """Check one deploy's arguments and references: (its library map, placeholder -> plan contract;
    the plan contracts it needs deployed first, libraries then referenced contracts, each once)."""
    where = f"plan {plan.name}: contract {d.name}"
    inputs = art.constructor_inputs()
    if len(inputs) != len(d.args):
        raise PlanError(
            f"{where}: {len(d.args)} constructor arguments given, artifact {art.name} expects "
            f"{len(inputs)} ({', '.join(abi_type(i) + ' ' + i.get('name', '') for i in inputs) or 'none'})"
        )
    for a in d.args:
        check_config_refs(a, where, params)
    for inp, a in zip(inputs, d.args, strict=True):
        typed_params(abi_type(inp), a, params, encoder)
    refs = _refs(d.args, where)
    lib_map = library_providers(d, art, plan, store)
    plan_contracts = {x.name for x in plan.deploys}
    check_known_contracts(refs, where, "argument references", plan_contracts)
    check_known_contracts(d.renew_with, where, "renew_with names", plan_contracts)
    return lib_map, list(dict.fromkeys([*lib_map.values(), *refs]))


def library_providers(d: Deploy, art: Artifact, plan: MigrationPlan, store: ArtifactStore) -> dict:
    """Placeholder -> the plan contract that provides the library there, or UnlinkedLibrary."""
    names_of = store.library_names(art)
    names_of.update(d.placeholders)
    plan_contracts = {x.name for x in plan.deploys}
    lib_map = {}
    for ph, lib in names_of.items():
        if lib is None:
            raise UnlinkedLibrary(
                f"contract {d.name}: bytecode placeholder {ph} names no known library "
                f"(expected linkReferences, networks.<id>.links, or placeholders={{...}} in the plan) [{art.path}]"
            )
        provider = d.libraries.get(lib, lib)
        if provider not in plan_contracts:
            baked = art.baked_libraries.get(lib)
            raise UnlinkedLibrary(
                f"contract {d.name}: library {lib} (placeholder {ph}) is not deployed by plan {plan.name} "
                "(expected a deploy of it, or libraries={...} naming the one that provides it)"
                + (f"; {art.path} has it linked at {baked}, an address of the network that file was made for" if baked else "")
            )
        lib_map[ph] = provider
    return lib_map


def dependency_order(plan: MigrationPlan, deps: dict[str, list]) -> tuple[list[str], dict[str, int]]:
    """Deploys in topological order (stable: plan order among the ready ones) and each one's depth
    (the longest dependency chain down to it); a PlanError naming a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}
    depth: dict[str, int] = {}

    def visit(n: str, stack: list) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cycle = stack[stack.index(n) :] + [n]
            raise PlanError(f"plan {plan.name}: dependency cycle {' -> '.join(cycle)} (expected an acyclic plan)")
        state[n] = 1
        for m in deps[n]:
            visit(m, stack + [n])
        state[n] = 2
        depth[n] = 1 + max((depth[m] for m in deps[n]), default=0)
        order.append(n)

    for d in plan.deploys:
        visit(d.name, [])
    return order, depth


def resolve_deploy(
    d: Deploy,
    by_name: dict[str, Deploy],
    artifacts: dict[str, Artifact],
    lib_map: dict,
    deps: list,
    keys: dict[str, str],
    params: dict,
    encoder: ArgEncoder,
) -> ResolvedDeploy:
    """One deploy with its content key, given the content keys of everything it depends on."""
    art = artifacts[d.name]
    lib_keys = {ph: keys[lib] for ph, lib in sorted(lib_map.items())}
    symbolic_args = encoder.symbolic(d.args, keys)
    renew_hash = (
        _sha({r: [artifacts[r].bytecode_hash, _sha(_args_by_name(by_name[r].args, params))] for r in sorted(d.renew_with)})
        if d.renew_with
        else ""
    )
    return ResolvedDeploy(
        name=d.name,
        artifact=art,
        args=d.args,
        arg_types=[abi_type(i) for i in art.constructor_inputs()],
        libraries=lib_map,
        deps=deps,
        content_key=_sha({"bytecode": art.bytecode_hash, "libraries": lib_keys, "args": symbolic_args, "renew": renew_hash}),
        # Arguments by *name* of what they reference: tells "argument changed" apart from
        # "a dependency was redeployed" when explaining a redeploy.
        args_hash=_sha(_args_by_name(d.args, params)),
        renew_hash=renew_hash,
    )


def resolve_call(
    c: Call,
    artifacts: dict[str, Artifact],
    keys: dict[str, str],
    plan: MigrationPlan,
    store: ArtifactStore,
    params: dict,
    encoder: ArgEncoder,
) -> ResolvedCall:
    """One call, checked against the ABI at its target, with its content key."""
    where = f"plan {plan.name}: call {c.name}"
    plan_contracts = {d.name for d in plan.deploys}
    if c.contract not in plan_contracts:
        raise PlanError(f"{where}: target references unknown contract '{c.contract}' (expected one of the plan's deploys)")
    for a in c.args + (c.done_when or {}).get("args", []):
        check_config_refs(a, where, params)
    refs = _refs(c.args, where)
    if c.done_when:
        refs += _refs(c.done_when.get("args", []), where) + _refs([c.done_when.get("equals")], where)
    check_known_contracts(refs, where, "argument references", plan_contracts)
    abi_art = store.get(c.abi) if c.abi else artifacts[c.contract]
    fn = abi_art.function_abi(c.function, len(c.args))
    for inp, a in zip(fn.get("inputs", []), c.args, strict=False):
        typed_params(abi_type(inp), a, params, encoder)
    if c.done_when:
        view = abi_art.function_abi(c.done_when["function"], len(c.done_when.get("args", [])))
        for inp, a in zip(view.get("inputs", []), c.done_when.get("args", []), strict=False):
            typed_params(abi_type(inp), a, params, encoder)
    return ResolvedCall(
        name=c.name,
        target=c.contract,
        abi_artifact=abi_art,
        fn_abi=fn,
        args=c.args,
        arg_types=[abi_type(i) for i in fn.get("inputs", [])],
        deps=list(dict.fromkeys([c.contract] + [r for r in refs if r != c.contract])),
        content_key=_sha({"target": keys[c.contract], "function": fn["name"], "args": encoder.symbolic(c.args, keys)}),
        done_when=c.done_when,
    )


def _args_by_name(args: Any, params: dict) -> Any:
    if isinstance(args, dict):
        if "config" in args:
            return {"config": args["config"], "value": params.get(args["config"])}
        if "calldata" in args:
            cd = args["calldata"]
            return {"calldata": [cd["contract"], cd["function"], _args_by_name(cd["args"], params)]}
        return args
    if isinstance(args, list):
        return [_args_by_name(a, params) for a in args]
    return args


PLAN_PARAMS_KEY = "keep-cd:planParams"
_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")


def typed_params(abi_t: str, arg: Any, params: dict, encoder: ArgEncoder) -> None:
    """Check each plan parameter ``arg`` refers to (``{"config": name}``, also inside arrays and
    calldata) against the ABI type it is passed as: a one-line error naming
    keep-cd:planParams.<name> and the type, at resolution, before anything is sent.  An address is
    stored back checksummed (what the content keys hash)."""
    if isinstance(arg, dict) and "config" in arg:
        name = arg["config"]
        if name not in params:
            return  # check_config_refs names it
        value = param_value(abi_t, params[name], f"{PLAN_PARAMS_KEY}.{name}")
        if abi_t == "address":
            params[name] = value
    elif isinstance(arg, dict) and "calldata" in arg:
        cd = arg["calldata"]
        art = encoder.store.get(encoder.artifact_of.get(cd["contract"], cd["contract"]))
        fn = art.function_abi(cd["function"], len(cd.get("args", [])))
        for inp, a in zip(fn.get("inputs", []), cd.get("args", []), strict=False):
            typed_params(abi_type(inp), a, params, encoder)
    elif isinstance(arg, list) and (array := _ARRAY.match(abi_t)):
        for a in arg:
            typed_params(array.group(1), a, params, encoder)


def param_value(abi_t: str, value: Any, key: str) -> Any:
    """``value`` if it encodes as ``abi_t`` (integers may be decimal strings: big amounts travel
    so), else a ConfigError naming ``key`` and the type expected."""

    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"config {key}: {value!r} is not a {abi_t} (expected {expected})")

    array = _ARRAY.match(abi_t)
    if array:
        inner, size = array.groups()
        if not isinstance(value, list) or (size and len(value) != int(size)):
            raise wrong(f"a list of {size or 'any number of'} {inner} values")
        return [param_value(inner, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if abi_t == "address":
        return validate_address(value, key)
    if abi_t == "bool":
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if abi_t == "string":
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if abi_t.startswith(("uint", "int")):
        signed = abi_t.startswith("int")
        bits = int(abi_t[3 if signed else 4 :] or 256)
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
        number = value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            number = int(value)
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number < high:
            raise wrong(f"an integer from {low} to {high - 1}, or one as a decimal string")
        return value
    if abi_t.startswith("bytes"):
        size = int(abi_t[len("bytes") :] or 0)
        digits = value[2:] if isinstance(value, str) and value.startswith("0x") else value
        if not isinstance(digits, str) or not re.fullmatch(r"([0-9a-fA-F]{2})*", digits) or (size and len(digits) != 2 * size):
            raise wrong(f"{'0x + ' + str(2 * size) if size else '0x + an even number of'} hex digits")
        return value
    return value  # tuples: their encoding says what is wrong


def validate_address(value: str, key: str) -> str:
    """A config value that must be an address: checksummed back, or a one-line error naming the key."""
    if not isinstance(value, str) or not is_address(value):
        raise ConfigError(f"config {key}: {value!r} is not an Ethereum address (expected 0x + 40 hex digits)")
    digits = value[2:]
    mixed_case = digits != digits.lower() and digits != digits.upper()
    if mixed_case and value != to_checksum_address(value):
        raise ConfigError(f"config {key}: {value} has a wrong EIP-55 checksum (expected {to_checksum_address(value)})")
    return to_checksum_address(value)
