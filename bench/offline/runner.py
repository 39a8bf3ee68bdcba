"""Run the Pulumi program with no Pulumi CLI: under ``pulumi.runtime`` mocks whose dynamic
resources run their real provider code, keeping state in a JSON file between runs.

It plays the engine's part for what keep-cd owns and only that:
  * dynamic resources (``pulumi-python:dynamic…``): decode ``__provider`` (dill, base64; it arrives
    secret-wrapped), ``configure`` it with the stack config, then ``check`` -> ``diff`` ->
    ``create``/``update`` against the recorded state, exactly as the engine orders them
    (``check(old inputs, news)``, ``diff(id, old outputs, checked news)``); in preview only
    ``check`` and ``diff`` run, so nothing is ever sent;
  * every other resource (Kubernetes, GCP, random…) echoes its inputs as outputs and is captured,
    with which values were secret, for the manifest writer and the tests;
  * stack exports are captured from the root stack's registered outputs.

State holds no secret value: secret inputs are stored as a marker, and keep-cd's dynamic
resources return no secret outputs (tests check both).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import logging
import os
import runpy
import threading
from dataclasses import dataclass, field
from typing import Any

import dill
import pulumi
import yaml
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config as DynamicConfig
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

PROJECT = "keep-cd"
SECRET_MARKER = "[secret]"


def unwrap_secrets(value: Any) -> tuple:
    """(plain value, set of dotted paths that were secret)."""
    paths: set = set()

    def walk(v: Any, path: str) -> Any:
        if is_rpc_secret(v):
            paths.add(path)
            return walk(unwrap_rpc_secret(v), path)
        if isinstance(v, dict):
            return {k: walk(x, f"{path}.{k}" if path else k) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, f"{path}[{i}]") for i, x in enumerate(v)]
        return v

    return walk(value, ""), paths


def redact(value: Any, paths: set, path: str = "") -> Any:
    if path in paths:
        return SECRET_MARKER
    if isinstance(value, dict):
        return {k: redact(x, paths, f"{path}.{k}" if path else k) for k, x in value.items()}
    if isinstance(value, list):
        return [redact(x, paths, f"{path}[{i}]") for i, x in enumerate(value)]
    return value


@dataclass
class CapturedResource:
    type: str
    name: str
    inputs: dict  # secrets unwrapped
    secret_paths: set
    outputs: dict
    parent: str = ""


@dataclass
class RunResult:
    stack: str
    preview: bool
    outputs: dict
    resources: list
    state_path: str | None
    dynamic_ops: dict = field(default_factory=dict)  # resource name -> create|update|same|replace

    def of_type(self, prefix: str) -> list:
        return [r for r in self.resources if r.type.startswith(prefix)]


def load_stack_config(project_dir: str, stack: str) -> tuple:
    """(config dict of strings, secret keys) from Pulumi.<stack>.yaml, leaving out `secure:` values
    (they are encrypted for the CLI's secrets provider; here secrets come from the environment)."""
    path = os.path.join(project_dir, f"Pulumi.{stack}.yaml")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"stack file {path}: not found (expected Pulumi.<stack>.yaml for stack {stack!r})")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    config: dict = {}
    for key, value in (data.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            continue
        full = key if ":" in key else f"{PROJECT}:{key}"
        config[full] = value if isinstance(value, str) else json.dumps(value)
    return config, []


# Errors a resource raised are reported once, by run_stack; the SDK's futures that carried them
# would print them again, with a traceback, when garbage-collected ("exception never retrieved").
_REPORTED: collections.deque = collections.deque(maxlen=64)


def _quiet_reported_errors(loop, context) -> None:
    if any(context.get("exception") is e for e in _REPORTED):
        return
    loop.default_exception_handler(context)


def configured_provider(provider_str: str, config: dict):
    """What the engine does with ``__provider``: unpickle it (dill, base64) and configure it."""
    provider = dill.loads(base64.b64decode(provider_str))
    provider.configure(ConfigureRequest(DynamicConfig(raw_config=config, project_name=PROJECT)))
    return provider


class InputsRefused(Exception):
    """A provider's ``check`` refused its inputs (the engine prints these per property)."""


class OfflineMocks(pulumi_mocks.Mocks):
    def __init__(self, state: dict, config: dict, preview: bool, state_path: str | None = None):
        self.state = state
        self.state_path = state_path
        self.config = config
        self.preview = preview
        self.captured: list = []
        self.seen: set = set()
        self.dynamic_ops: dict = {}
        self.errors: list = []
        self._lock = threading.Lock()

    def call(self, args: pulumi_mocks.MockCallArgs):
        return {}, None

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        try:
            if args.typ.startswith("pulumi-python:dynamic"):
                return self._dynamic(args)
            inputs, secret_paths = unwrap_secrets(args.inputs)
            with self._lock:
                self.captured.append(CapturedResource(args.typ, args.name, inputs, secret_paths, inputs))
            return f"{args.name}-id", args.inputs
        except Exception as e:  # surfaced by run_stack as the run's one-line error
            with self._lock:
                self.errors.append(e)
                _REPORTED.append(e)
            raise

    def _dynamic(self, args: pulumi_mocks.MockResourceArgs):
        raw = dict(args.inputs)
        provider_str, _ = unwrap_secrets(raw.pop("__provider"))
        provider = configured_provider(provider_str, self.config)
        news, secret_paths = unwrap_secrets(raw)
        key = f"{args.typ}::{args.name}"
        with self._lock:
            self.seen.add(key)
            old = self.state["resources"].get(key)
        checked = provider.check(old["inputs"] if old else {}, news)
        if checked.failures:
            raise InputsRefused(f"{args.name}: " + "; ".join(f"{f.property}: {f.reason}" for f in checked.failures))
        news = checked.inputs
        if old is None:
            op = "create"
            if self.preview:
                outs, rid = news, ""
            else:
                res = provider.create(news)
                outs, rid = res.outs or {}, res.id
        else:
            diff = provider.diff(old["id"], old["outputs"], news)
            rid = old["id"]
            if not diff.changes:
                op, outs = "same", {**old["outputs"], **{k: v for k, v in news.items() if v is not None}}
            elif diff.replaces:
                op = "replace"
                if self.preview:
                    outs = news
                else:
                    res = provider.create(news)
                    provider.delete(old["id"], old["outputs"])
                    outs, rid = res.outs or {}, res.id
            else:
                op = "update"
                outs = news if self.preview else (provider.update(old["id"], old["outputs"], news).outs or {})
        with self._lock:
            self.dynamic_ops[args.name] = op
            if not self.preview:
                self.state["resources"][key] = {
                    "type": args.typ,
                    "name": args.name,
                    "id": rid,
                    "inputs": redact(news, secret_paths),
                    "outputs": outs,
                    "provider": provider_str,
                }
                # Recorded at once, as the engine does: a later resource failing must not lose it.
                if self.state_path:
                    _save_state(self.state_path, self.state)
            self.captured.append(CapturedResource(args.typ, args.name, news, secret_paths, outs))
        return rid, outs


class CapturingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, plus capture of the root stack's exported outputs."""

    def __init__(self, mocks: OfflineMocks):
        super().__init__(mocks)
        self.stack_outputs: dict = {}

    def RegisterResourceOutputs(self, request):
        if request.urn.split("::")[2] == "pulumi:pulumi:Stack":
            from pulumi.runtime import rpc

            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


class StateFileError(Exception):
    """The recorded state cannot be read; raised before the program runs, so before any provider
    reads or writes the chain."""


UNTOUCHED = "nothing on the chain was touched"


def _load_state(path: str | None) -> dict:
    if not path or not os.path.exists(path):
        return {"resources": {}}
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError) as e:
        raise StateFileError(
            f"state file {path}: not readable JSON ({e.__class__.__name__}: {e}); {UNTOUCHED} "
            "(expected the state the last run wrote: restore it, or point --state at another file)"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("resources", {}), dict):
        raise StateFileError(f"state file {path}: not a keep-cd state (expected an object with a 'resources' map); {UNTOUCHED}")
    state.setdefault("resources", {})
    return state


def _save_state(path: str, state: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True, default=str)
    os.replace(tmp, path)  # a kill mid-write never leaves half a state file


def stack_config(project_dir: str, stack: str, overrides: dict | None) -> tuple:
    """(config, secret keys): the stack file's, with ``overrides`` (keys without a namespace are
    keep-cd's; values not strings are JSON, as the CLI stores structured config)."""
    config, secret_keys = load_stack_config(project_dir, stack)
    for k, v in (overrides or {}).items():
        full = k if ":" in k else f"{PROJECT}:{k}"
        config[full] = v if isinstance(v, str) else json.dumps(v)
    return config, secret_keys


class _NotErrors(logging.Filter):
    """The program's error log is the error this runner raises to its caller: not printed twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


# What the program logs through the engine (pulumi.log): warnings shown, errors raised instead.
_PROGRAM_LOG = logging.getLogger("bench.offline.program")
_PROGRAM_LOG.addFilter(_NotErrors())


def _install_mocks(mocks: OfflineMocks, config: dict, secret_keys: list, stack: str, preview: bool) -> CapturingMonitor:
    """Point the Pulumi SDK's runtime at ``mocks`` for one run; the monitor that captures exports."""
    monitor = CapturingMonitor(mocks)
    pulumi.runtime.set_all_config(config, secret_keys)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor, logger=_PROGRAM_LOG)
    # set_mocks makes a root stack of its own; ours (run_in_stack) must be the one exports land on.
    pulumi_settings.ROOT.set(None)
    # A failed earlier run in this process leaves its RPCs and outputs behind; they must not
    # fail this one (the SDK's own @pulumi.runtime.test clears the same two).
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    asyncio.get_event_loop_policy().get_event_loop().set_exception_handler(_quiet_reported_errors)
    return monitor


def _run_program(project_dir: str, mocks: OfflineMocks) -> None:
    """Run ``__main__.py`` of ``project_dir`` in its directory; the first error a resource raised,
    else the program's own, is what escapes."""
    cwd = os.getcwd()
    os.chdir(project_dir)

    def run_program() -> None:  # run_in_stack awaits what it gets back; the module's globals are not awaitable
        # A directory, as the language host runs it: runpy puts it first on sys.path for the run.
        runpy.run_path(project_dir, run_name="__main__")

    try:
        _sync_await(run_in_stack(run_program))
    except SystemExit as e:
        # The program's one-line error, shown to the engine; callers here want the error itself.
        if e.__cause__ is None:
            raise
        raise e.__cause__ from None
    except Exception:
        if mocks.errors:
            raise mocks.errors[0] from None
        raise
    finally:
        os.chdir(cwd)
    if mocks.errors:
        raise mocks.errors[0]


def _record_run(state: dict, state_path: str | None, mocks: OfflineMocks, monitor: CapturingMonitor, config: dict) -> None:
    """After an update: delete the dynamic resources the program no longer declares, record the
    exports and the other resources' inputs, and save the state."""
    for key in [k for k in state["resources"] if k not in mocks.seen]:
        old = state["resources"].pop(key)
        configured_provider(old["provider"], config).delete(old["id"], old["outputs"])
    state["outputs"] = redact(*unwrap_secrets(monitor.stack_outputs))
    # What the other resources were given, secrets redacted: the change report compares to it.
    state["declared"] = {
        f"{r.type}::{r.name}": redact(r.inputs, r.secret_paths) for r in mocks.captured if not r.type.startswith("pulumi-python:dynamic")
    }
    if state_path:
        _save_state(state_path, state)


def run_stack(
    stack: str,
    *,
    project_dir: str = ".",
    state_path: str | None = None,
    config_overrides: dict | None = None,
    preview: bool = False,
    state: dict | None = None,
) -> RunResult:
    """Run ``__main__.py`` of ``project_dir`` for ``stack``; returns exports and captured resources.

    The last recorded state is read from ``state_path``, or given as ``state`` (a preview of a
    state that lives elsewhere, e.g. a `pulumi stack export`: nothing is written anywhere).
    Raises the first error a resource raised (a provider's one-line error), or the program's own.
    """
    project_dir = os.path.abspath(project_dir)
    config, secret_keys = stack_config(project_dir, stack, config_overrides)
    state = _load_state(state_path) if state is None else state
    mocks = OfflineMocks(state, config, preview, state_path)
    monitor = _install_mocks(mocks, config, secret_keys, stack, preview)
    _run_program(project_dir, mocks)
    outputs, _ = unwrap_secrets(monitor.stack_outputs)
    if not preview:
        _record_run(state, state_path, mocks, monitor, config)
    return RunResult(stack, preview, outputs, mocks.captured, state_path, mocks.dynamic_ops)
