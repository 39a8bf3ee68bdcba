"""__main__.py builds PushDeployAccess only where the stack enables it, from the stack file's own
`access` section (run through the offline runner, preview only: nothing is sent)."""

from __future__ import annotations

import json
import os

import pytest

from contracts_step.errors import ConfigError
from offline_stack.runner import load_stack_config, run_stack

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
    with pytest.raises(ConfigError, match=r"^config keep-cd:access.mode: unknown access mode 'vpn'"):
        preview("keep-dev", anvil, access={"enabled": True, "mode": "vpn"})
