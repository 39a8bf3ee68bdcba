"""Components under the Pulumi SDK's public mocks (``pulumi.runtime.set_mocks``, a
``pulumi.runtime.Mocks`` subclass, ``@pulumi.runtime.test``): no engine, no chain, no program;
what each resource is given is recorded as the engine would receive it (secrets marked)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

from bench.offline.runner import CapturedResource, unwrap_secrets


class Recorder(pulumi.runtime.Mocks):
    """Echo each resource's inputs as its outputs (plus ``computed``'s) and record what it was given."""

    def __init__(self) -> None:
        self.resources: list[CapturedResource] = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple:
        return {}, None

    def computed(self, typ: str, inputs: dict) -> dict:
        """Outputs the provider would compute for a resource of ``typ`` (none here)."""
        return {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple:
        inputs, secret_paths = unwrap_secrets(args.inputs)
        outputs = {**args.inputs, **self.computed(args.typ, inputs)}
        self.resources.append(CapturedResource(args.typ, args.name, inputs, secret_paths, outputs))
        return f"{args.name}-id", outputs

    def of_type(self, suffix: str) -> list[CapturedResource]:
        return [r for r in self.resources if r.type.endswith(suffix)]


def run_program(mocks: Recorder, program: Callable[[], Any], stack: str = "test") -> Recorder:
    """Run ``program`` as a ``@pulumi.runtime.test`` function under ``mocks``: the Output it returns
    is awaited (the checks in its ``.apply`` run), and every registration has reached ``mocks`` when
    this returns."""
    pulumi.runtime.set_mocks(mocks, project="keep-cd", stack=stack, preview=False)
    pulumi.runtime.test(program)()
    return mocks


def resolve(values: dict) -> tuple[pulumi.Output, dict, set]:
    """An Output of ``values`` (Outputs, awaitables or plain values) and a dict that holds their
    resolved values once it has been awaited, and the set of the keys whose Output is secret."""
    got: dict = {}
    secret: set = set()
    flags: dict[str, pulumi.Output[bool]] = {
        k: pulumi.Output.from_input(v.is_secret())  # type: ignore[arg-type]  # an awaitable is an Input
        for k, v in values.items()
        if isinstance(v, pulumi.Output)
    }

    def keep(resolved: dict) -> None:
        got.update(resolved["values"] or {})
        secret.update(k for k, is_secret in (resolved["flags"] or {}).items() if is_secret)

    return pulumi.Output.all(values=pulumi.Output.all(**values), flags=pulumi.Output.all(**flags)).apply(keep), got, secret
