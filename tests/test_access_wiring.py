"""__main__.py builds PushDeployAccess only where the stack enables it, from the stack file's own
`access` section (run through the offline runner, preview only: nothing is sent)."""

from __future__ import annotations

import json
import os

import pytest

from bench.offline.runner import load_stack_config, run_stack
from chain.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRIMITIVE = {"roles/owner", "roles/editor", "roles/viewer"}


def preview(stack: str, chain, **overrides):
    config = {"rpcUrl": chain.url, "chainId": str(chain.chain_id), **overrides}
    return run_stack(stack, project_dir=ROOT, config_overrides=config, preview=True)


def test_local_stack_builds_no_gcp(anvil, keep_artifacts):
    result = preview("local", anvil)
    assert result.of_type("gcp:") == [] and result.of_type("keep:gcp:") == []
    assert "ciAccess" not in result.outputs


@pytest.mark.parametrize("stack", ["keep-dev", "keep-test"])
def test_cloud_stacks_build_push_deploy_access(stack, anvil, keep_artifacts):
    result = preview(stack, anvil)
    (component,) = result.of_type("keep:gcp:PushDeployAccess")
    gcp = result.of_type("gcp:")
    types = {r.type for r in gcp}
    assert "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider" in types  # keyless by default
    assert "gcp:serviceaccount/key:Key" not in types
    roles = {r.inputs.get("role") for r in gcp} - {None}
    assert roles and not roles & PRIMITIVE
    (registry,) = result.of_type("gcp:artifactregistry/repositoryIamMember")
    assert (registry.inputs["repository"], registry.inputs["role"]) == ("keep", "roles/artifactregistry.writer")
    assert result.outputs["ciAccess"]["mode"] == "keyless"
    assert "ciDeployerKey" not in result.outputs


def test_bastion_mode_from_stack_config(anvil, keep_artifacts):
    config, _ = load_stack_config(ROOT, "keep-dev")
    access = dict(json.loads(config["keep-cd:access"]), mode="bastion")
    result = preview("keep-dev", anvil, access=access)
    (jump_rule,) = [r for r in result.of_type("gcp:compute/firewall") if r.inputs["name"].endswith("-ssh-jump")]
    assert jump_rule.inputs["sourceRanges"] == access["bastion"]["sourceRanges"]
    assert len(result.of_type("gcp:serviceaccount/key:Key")) == 2
    assert result.of_type("gcp:iam/") == []


def test_bad_access_config_fails_before_any_resource(anvil):
    with pytest.raises(ConfigError) as e:
        preview("keep-dev", anvil, access={"enabled": True, "mode": "vpn"})
    assert (e.value.key, e.value.reason) == ("keep-cd:access.mode", "'vpn' is not an access mode (expected keyless or bastion)")


# --- what CI's custom roles allow, against what the program declares --------------------------------

# What Pulumi's Kubernetes provider reads while it awaits a Deployment (ReplicaSets, Pods), a
# Service (Endpoints), a claim (its StorageClass) and every object (Events), as a real API server
# showed (tests/test_cluster.py: an up as the deployer is refused nothing); and how CI reaches the
# chain's RPC (kubectl port-forward to a pod).
PROVIDER_READS = {
    "replicaSets": ("get", "list", "watch"),
    "pods": ("get", "list", "watch"),
    "endpoints": ("get", "list", "watch"),
    "events": ("list", "watch"),
    "storageClasses": ("get",),
}
CLUSTER_ACCESS = {"container.clusters.get", "container.clusters.connect", "container.pods.portForward"}


def gke_resource(kind: str) -> str:
    """A Kubernetes kind as GKE's IAM permissions name it: NetworkPolicy -> networkPolicies."""
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return plural[0].lower() + plural[1:]


@pytest.fixture(scope="module")
def declared_and_granted(anvil):
    """One preview of keep-dev (its namespace created by the stack too): the Kubernetes kinds the
    program declares, and the permissions of CI's two custom roles."""
    config, _ = load_stack_config(ROOT, "keep-dev")
    fleet = dict(json.loads(config["keep-cd:fleet"]), createNamespace=True)
    result = preview("keep-dev", anvil, fleet=fleet)
    kinds = {r.inputs["kind"] for r in result.resources if r.type.startswith("kubernetes:") and "kind" in r.inputs}
    roles = {r.inputs["roleId"].rsplit("_", 1)[1]: set(r.inputs["permissions"]) for r in result.of_type("gcp:projects/iAMCustomRole")}
    return kinds, roles


def test_the_deployer_may_manage_every_kind_the_program_declares_and_write_nothing_else(declared_and_granted):
    kinds, roles = declared_and_granted
    deployer = roles["deployer"]
    assert {"Deployment", "ConfigMap", "Secret", "Service", "PersistentVolumeClaim", "Namespace"} <= kinds
    needed = set(CLUSTER_ACCESS) | {f"container.{r}.{v}" for r, verbs in PROVIDER_READS.items() for v in verbs}
    for kind in kinds:
        # The namespace holds everything: created, never deleted with a stack's objects.  watch: the
        # provider awaits each object's creation or deletion with an informer.
        verbs = (
            ("create", "get", "list", "update", "watch") if kind == "Namespace" else ("create", "delete", "get", "list", "update", "watch")
        )
        needed |= {f"container.{gke_resource(kind)}.{v}" for v in verbs}
    assert needed - deployer == set()
    assert deployer - needed == set()  # nothing it does not need: no other kind, no exec, no RBAC


def test_the_previewer_reads_what_the_program_declares_but_secrets_and_changes_nothing(declared_and_granted):
    kinds, roles = declared_and_granted
    previewer = roles["previewer"]
    reads = {f"container.{gke_resource(k)}.{v}" for k in kinds - {"Secret"} for v in ("get", "list")}
    assert reads | CLUSTER_ACCESS <= previewer
    assert not any(p.startswith("container.secrets.") for p in previewer)  # a pull request never reads a Secret
    assert {p.rsplit(".", 1)[1] for p in previewer} <= {"get", "list", "connect", "portForward"}


def test_roles_cover_the_network_policy(declared_and_granted):
    kinds, roles = declared_and_granted
    assert "NetworkPolicy" in kinds
    for verb in ("create", "delete", "get", "list", "update"):
        assert f"container.networkPolicies.{verb}" in roles["deployer"]
    assert {"container.networkPolicies.get", "container.networkPolicies.list"} <= roles["previewer"]
