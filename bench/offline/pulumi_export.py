"""Read `pulumi stack export` output as the offline runner's state, for the change report in CI.

A CI checkout has no build/state/<stack>.json; the stack's real state lives in the Pulumi
backend.  `pulumi stack export --stack keep-dev > build/export.json` gives its resources; this maps
them to the runner's state shape: dynamic resources with their id, inputs and outputs, every
other resource's inputs under "declared".  Secret values (ciphertext in an export) become the
runner's secret marker; nothing here decrypts.
"""

from __future__ import annotations

import json

from .runner import SECRET_MARKER, UNTOUCHED, StateFileError

_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = "4dabf18193072939515e22adb298388d"


def _plain(value):
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return SECRET_MARKER
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def state_from_export(path: str) -> dict:
    try:
        with open(path) as f:
            data = json.load(f)
        resources = data["deployment"].get("resources") or []
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as e:
        raise StateFileError(f"pulumi export {path}: not a `pulumi stack export` file ({e.__class__.__name__}: {e}); {UNTOUCHED}") from None
    state: dict = {"resources": {}, "declared": {}}
    for r in resources:
        rtype, urn = r.get("type", ""), r.get("urn", "")
        name = urn.rsplit("::", 1)[-1]
        if rtype.startswith("pulumi:") or r.get("delete"):
            continue
        if rtype.startswith("pulumi-python:dynamic"):
            state["resources"][f"{rtype}::{name}"] = {
                "type": rtype,
                "name": name,
                "id": r.get("id", ""),
                "inputs": _plain(r.get("inputs") or {}),
                "outputs": _plain(r.get("outputs") or {}),
            }
        elif r.get("custom"):
            state["declared"][f"{rtype}::{name}"] = _plain(r.get("inputs") or {})
    return state
