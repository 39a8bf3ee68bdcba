"""CI's Kubernetes permissions follow what the program creates: the fleet (KeepNetwork, where every
Kubernetes object of the program comes from) is built under the SDK's public mocks with every fleet
option that adds objects, and each kind it registers must be covered, with
the reads Pulumi's Kubernetes provider does (preview and refresh read the object; `up` applies it,
deletes it and watches it, a Deployment's ReplicaSets, Pods and PVCs, a Service's Endpoints, and
every object's Events)."""

from __future__ import annotations

import pytest

from components.push_deploy_access import (
    DECLARED_KINDS,
    DEPLOYER_ACCESS,
    DEPLOYER_PERMISSIONS,
    PREVIEWER_ACCESS,
    PREVIEWER_PERMISSIONS,
    kubernetes_rules,
)
from fleet_support import fleet_config, render_fleet

# What the provider reads while it awaits an object of a kind (pulumi-kubernetes v4, pkg/await).
AWAITED = {"Deployment": ("ReplicaSet", "Pod", "PersistentVolumeClaim"), "Service": ("Endpoints",)}


def iam_resource(kind: str) -> str:
    """GKE's IAM name of a kind: its plural in lower camel case (container.networkPolicies.*)."""
    if kind == "Endpoints":
        plural = kind
    elif kind.endswith("y"):
        plural = kind[:-1] + "ies"
    else:
        plural = kind + ("es" if kind.endswith("s") else "s")
    return plural[0].lower() + plural[1:]


@pytest.fixture(scope="module")
def registered(operator_mnemonic) -> dict:
    """kind -> API group of every Kubernetes object the fleet registers, all options on."""
    fleet = fleet_config(counts={"bootstrap": 1, "standard": 1}, createNamespace=True, keel={"policy": "patch"})
    result = render_fleet(fleet, operator_mnemonic, provisioning="cluster")  # + the faucet Secret
    kinds = {}
    for r in result.resources:
        if r.type.startswith("kubernetes:"):
            group = r.inputs["apiVersion"].rpartition("/")[0]
            kinds[r.inputs["kind"]] = group
    assert {"Deployment", "NetworkPolicy", "Namespace", "Secret"} <= set(kinds), kinds
    return kinds


def test_every_kind_the_program_registers_is_declared(registered):
    assert set(registered) <= set(DECLARED_KINDS), sorted(set(registered) - set(DECLARED_KINDS))


def test_the_deployer_may_apply_delete_and_await_every_registered_kind(registered):
    granted = set(DEPLOYER_PERMISSIONS)
    for kind in registered:
        verbs = ["create", "update", "get", "list", "watch"] + ([] if kind == "Namespace" else ["delete"])
        needed = {f"container.{iam_resource(kind)}.{v}" for v in verbs}
        needed |= {f"container.{iam_resource(read)}.{v}" for read in AWAITED.get(kind, ()) for v in ("get", "list", "watch")}
        needed |= {"container.events.list", "container.events.watch"}
        if kind == "PersistentVolumeClaim":  # is its class bound on first consumer? (Pending is then ready)
            needed.add("container.storageClasses.get")
        assert needed <= granted, f"{kind}: missing {sorted(needed - granted)}"
    assert "container.namespaces.delete" not in granted


def test_the_previewer_may_read_every_registered_kind_but_secrets(registered):
    granted = set(PREVIEWER_PERMISSIONS)
    for kind in registered:
        needed = {f"container.{iam_resource(kind)}.{v}" for v in ("get", "list")}
        if kind == "Secret":
            assert not needed & granted
        else:
            assert needed <= granted, f"{kind}: missing {sorted(needed - granted)}"
    assert {p.rsplit(".", 1)[1] for p in granted} <= {"get", "list", "connect", "portForward"}


def test_the_rbac_form_covers_the_same(registered):
    """The same table as RBAC rules (for a real API server): each registered kind under its API group."""
    rules = {(r["apiGroups"][0], r["resources"][0]): set(r["verbs"]) for r in kubernetes_rules(DEPLOYER_ACCESS)}
    for kind, group in registered.items():
        verbs = {"create", "patch", "update", "get", "list", "watch"} | ({"delete"} if kind != "Namespace" else set())
        assert verbs <= rules.get((group, iam_resource(kind).lower()), set()), kind
    assert rules[("", "pods/portforward")] == {"create"}
    preview = {(r["apiGroups"][0], r["resources"][0]) for r in kubernetes_rules(PREVIEWER_ACCESS)}
    assert ("", "secrets") not in preview
