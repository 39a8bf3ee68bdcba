"""The engine benchmark's arithmetic and its floor program, without running the engine: the growth
exponent, the figures and targets, and a floor of the same kinds and counts as keep-cd's fleet."""

from __future__ import annotations

import ast
import math
import os

import pytest

from bench.benchmarks.engine import FLOOR_PROJECT, TARGET_RATIOS, figures, parse_args, preview_exponent


def test_the_exponent_is_the_slope_of_log_time_on_log_clients():
    assert preview_exponent([10, 100, 300], [1.0, 10.0, 30.0]) == pytest.approx(1.0)
    assert preview_exponent([10, 100, 300], [5.0, 5.0, 5.0]) == pytest.approx(0.0)
    assert preview_exponent([10, 100, 300], [c**2 for c in (10, 100, 300)]) == pytest.approx(2.0)
    # A fixed start-up cost under a linear part: below 1.
    assert preview_exponent([10, 100, 300], [4 + 0.1 * c for c in (10, 100, 300)]) < 1.0
    seconds = [3.0, 12.0, 40.0]
    xs, ys = [math.log(c) for c in (10, 100, 300)], [math.log(s) for s in seconds]
    slope = (sum(x * y for x, y in zip(xs, ys, strict=True)) - sum(xs) * sum(ys) / 3) / (sum(x * x for x in xs) - sum(xs) ** 2 / 3)
    assert preview_exponent([10, 100, 300], seconds) == pytest.approx(slope)


def _runs(keep: tuple, floor: tuple, nochange: int = 0) -> dict:
    def run(times, resources):
        preview, up, nochange_preview, nochange_up = times
        return {
            "preview_s": preview,
            "preview": {f"urn{i}": "create" for i in range(resources)},
            "up_s": up,
            "up": {},
            "nochange_preview_s": nochange_preview,
            "nochange_preview": {f"urn{i}": "update" for i in range(nochange)},
            "nochange_up_s": nochange_up,
            "nochange_up": {},
        }

    return {"keep-cd": run(keep, 609), "floor": run(floor, 604)}


def test_figures_give_the_floor_and_the_ratios_and_judge_the_targets():
    args = parse_args(["--clients", "100"])
    out = figures(args, "v3.274.1", 10, _runs((12.0, 40.0, 6.0, 6.0), (10.0, 30.0, 5.0, 5.0)), 3.0, [{"exact": True}])
    assert (out["resources"], out["floor_resources"]) == (609, 604)
    assert out["floor_preview_seconds"] == 10.0 and out["floor_up_seconds"] == 30.0 and out["floor_nochange_up_seconds"] == 5.0
    assert out["ratios"] == {"preview": 1.2, "up": 1.33, "nochange_preview": 1.2, "nochange_up": 1.2}
    assert out["meets_targets"] is True and "scaling" not in out and "timeline" not in out
    assert out["targets"]["ratios"] == TARGET_RATIOS
    slow = figures(args, "v", 10, _runs((13.0, 40.0, 6.0, 6.0), (10.0, 30.0, 5.0, 5.0)), 3.0, [])
    assert slow["meets_targets"] is False
    changed = figures(args, "v", 10, _runs((12.0, 40.0, 6.0, 6.0), (10.0, 30.0, 5.0, 5.0), nochange=1), 3.0, [])
    assert changed["nochange_changes"] == 1 and changed["meets_targets"] is False
    scaled = {"clients": [10, 100, 300], "preview_seconds": [4.0, 12.0, 40.0], "preview_exponent": 1.2}
    assert figures(args, "v", 10, _runs((12.0, 40.0, 6.0, 6.0), (10.0, 30.0, 5.0, 5.0)), 3.0, [], scaled)["meets_targets"] is False


def test_the_timeline_is_each_stacks_no_change_up_in_the_order_things_completed():
    runs = _runs((12.0, 40.0, 6.0, 6.0), (10.0, 30.0, 5.0, 5.0))
    runs["keep-cd"]["timeline"] = {
        "summary": [8.1, 8.1],
        "kubernetes:core/v1:Secret": [4.2, 5.3],
        "pulumi:providers:pulumi-python": [2.9, 2.9],
    }
    runs["floor"]["timeline"] = {"summary": [7.0, 7.0], "kubernetes:core/v1:Secret": [3.4, 4.8]}
    out = figures(parse_args(["--timeline"]), "v", 10, runs, 3.0, [])
    assert list(out["timeline"]["keep-cd"]) == ["pulumi:providers:pulumi-python", "kubernetes:core/v1:Secret", "summary"]
    assert out["timeline"]["floor"]["kubernetes:core/v1:Secret"] == [3.4, 4.8]


def test_the_floor_is_a_plain_program_of_the_fleets_kinds():
    """No keep-cd import (the floor must not carry keep-cd's costs), and per client the five kinds
    keep-cd's KeepClient registers, under a component, with a Namespace, a NetworkPolicy and a
    provider rendering YAML."""
    with open(os.path.join(FLOOR_PROJECT, "__main__.py")) as f:
        tree = ast.parse(f.read())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "hashlib", "json", "pulumi", "pulumi_kubernetes"}
    source = ast.unparse(tree)
    for kind in ("ConfigMap", "Secret", "PersistentVolumeClaim", "Service", "Deployment", "Namespace", "NetworkPolicy"):
        assert f"k8s.{'apps' if kind == 'Deployment' else 'networking' if kind == 'NetworkPolicy' else 'core'}.v1.{kind}(" in source
    assert "render_yaml_to_directory" in source and "ComponentResource" in source
    with open(os.path.join(FLOOR_PROJECT, "Pulumi.yaml")) as f:
        project = f.read()
    assert "virtualenv: ../../../.venv" in project
