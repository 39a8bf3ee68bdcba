"""Choosing a migration plan: a built-in one by name, or a JSON plan file."""

from __future__ import annotations

import json
import os

from chain.errors import ConfigError, PlanError

from .keep_plan import DEFAULT_PARAMS as KEEP_DEFAULT_PARAMS
from .keep_plan import keep_plan
from .plan import MigrationPlan

BUILTIN = {"keep": (keep_plan, KEEP_DEFAULT_PARAMS)}


def load_plan(spec: str, key: str = "contractsPlan") -> tuple:
    """(plan, default params) for a built-in plan name or a path to a plan JSON file."""
    if spec in BUILTIN:
        make, params = BUILTIN[spec]
        return make(), dict(params)
    if spec.endswith(".json"):
        if not os.path.isfile(spec):
            raise ConfigError(f"config {key}: plan file {spec} not found (expected a JSON migration plan)")
        try:
            with open(spec) as f:
                data = json.load(f)
            plan = MigrationPlan.from_dict(data)
        except (ValueError, TypeError, KeyError) as e:
            raise PlanError(f"plan file {spec}: not a migration plan ({e.__class__.__name__}: {e})") from None
        return plan, dict(data.get("params") or {})
    raise ConfigError(f"config {key}: {spec!r} is neither a built-in plan ({', '.join(BUILTIN)}) nor a .json plan file")
