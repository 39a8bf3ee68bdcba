"""The `access` section of stack config: parsed into typed settings, every bad input refused with
a one-line error naming the key, before any resource exists."""

from __future__ import annotations

import copy
import json
import os

import pulumi
import pytest

from bench.offline.runner import load_stack_config
from chain.errors import ConfigError
from settings import load_access, load_contracts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORG = "0c9f3b1e-6a44-4f7d-9d7e-2f1c3a5b7d90"
PROJECT = "4e1d2c3b-5a69-4b8c-8d7e-6f5a4b3c2d1e"

KEYLESS = {
    "enabled": True,
    "mode": "keyless",
    "project": "keep-dev-1234",
    "region": "us-central1",
    "cluster": "keep-dev",
    "artifactRegistry": {"repository": "keep"},
    "circleci": {"orgId": ORG, "projectId": PROJECT},
}
BASTION = {
    **{k: v for k, v in KEYLESS.items() if k != "circleci"},
    "mode": "bastion",
    "bastion": {
        "sourceRanges": ["198.51.100.0/24", "203.0.113.7/32"],
        "network": "vpc",
        "publicSubnet": "pub",
        "clusterSubnet": "gke",
    },
}


def access_from(access, rpc_url="http://127.0.0.1:8545", gcp=None):
    config = {"keep-cd:rpcUrl": rpc_url}
    if access is not None:
        config["keep-cd:access"] = json.dumps(access)
    for key, value in (gcp or {}).items():
        config[f"gcp:{key}"] = value
    pulumi.runtime.set_all_config(config, [])
    return load_access(pulumi.Config("keep-cd"), pulumi.Config("gcp"))


def refused(access, **kw) -> tuple:
    """(key, reason) of the one-line ConfigError that refuses ``access``."""
    with pytest.raises(ConfigError) as e:
        access_from(access, **kw)
    assert str(e.value) == f"config {e.value.key}: {e.value.reason}" and "\n" not in str(e.value)
    return e.value.key, e.value.reason


def edit(base: dict, path: str, value=None, delete=False) -> dict:
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
    if delete:
        node.pop(last, None)
    else:
        node[last] = value
    return data


def test_absent_or_disabled_means_no_gcp():
    assert access_from(None) is None
    assert access_from({"enabled": False, "mode": "whatever"}) is None


def test_keyless_settings_with_defaults():
    a = access_from(KEYLESS)
    assert (a.mode, a.project, a.region, a.cluster) == ("keyless", "keep-dev-1234", "us-central1", "keep-dev")
    assert a.cluster_location == "us-central1" and a.registry_location == "us-central1"
    assert a.registry_repository == "keep"
    assert a.name_prefix == f"kcd-{pulumi.get_stack()}"  # kcd-<stack> (whichever stack an earlier test's mocks left)
    assert (a.circleci.org_id, a.circleci.project_id, a.circleci.deploy_refs) == (ORG, PROJECT, ("refs/heads/master",))
    assert a.bastion is None and a.chain_service is None


def test_mode_defaults_to_keyless():
    assert access_from(edit(KEYLESS, "mode", delete=True)).mode == "keyless"


def test_bastion_settings():
    a = access_from(BASTION)
    assert a.mode == "bastion" and a.circleci is None
    assert a.bastion.source_ranges == ("198.51.100.0/24", "203.0.113.7/32")
    assert (a.bastion.zone, a.bastion.machine_type) == ("us-central1-a", "e2-micro")


def test_project_and_region_may_come_from_gcp_provider_config():
    data = edit(edit(KEYLESS, "project", delete=True), "region", delete=True)
    a = access_from(data, gcp={"project": "p-from-gcp", "region": "europe-west1"})
    assert (a.project, a.region, a.cluster_location) == ("p-from-gcp", "europe-west1", "europe-west1")


def test_unknown_access_mode():
    assert refused(edit(KEYLESS, "mode", "ssh")) == ("keep-cd:access.mode", "'ssh' is not an access mode (expected keyless or bastion)")


@pytest.mark.parametrize("key", ["orgId", "projectId"])
def test_circleci_id_missing_in_keyless_mode(key):
    key_path, reason = refused(edit(KEYLESS, f"circleci.{key}", delete=True))
    assert key_path == f"keep-cd:access.circleci.{key}" and reason.startswith("not set") and "UUID" in reason


def test_circleci_section_missing_in_keyless_mode():
    key, reason = refused(edit(KEYLESS, "circleci", delete=True))
    assert key == "keep-cd:access.circleci.orgId" and reason.startswith("not set")


def test_circleci_ids_are_not_needed_in_bastion_mode():
    assert access_from(BASTION).bastion is not None


@pytest.mark.parametrize("bad", ["acme", "x' || true || '", ORG.upper()])
def test_circleci_id_must_be_a_uuid(bad):
    # The ids are written into the provider's CEL condition: anything but a UUID is refused.
    key, reason = refused(edit(KEYLESS, "circleci.orgId", bad))
    assert key == "keep-cd:access.circleci.orgId" and reason.startswith(f"{bad!r} is not the CircleCI organization's id")


@pytest.mark.parametrize("refs", [[], ["master"], ["refs/heads/x' || true"], "refs/heads/master"])
def test_deploy_refs_must_be_git_refs(refs):
    assert refused(edit(KEYLESS, "circleci.deployRefs", refs))[0].startswith("keep-cd:access.circleci.deployRefs")


@pytest.mark.parametrize(
    "ref",
    # A pull request's ref (from any fork), a remote-tracking ref, a note, a stash, an empty branch.
    ["refs/pull/7/head", "refs/pull/7/merge", "refs/remotes/origin/master", "refs/notes/commits", "refs/stash", "refs/heads/"],
)
def test_a_deploy_ref_must_be_a_branch_or_a_tag(ref):
    """Only pipelines of these refs may impersonate the deployer: anything but refs/heads/<branch>
    and refs/tags/<tag> is refused, even next to a good one."""
    key, reason = refused(edit(KEYLESS, "circleci.deployRefs", ["refs/heads/master", ref]))
    assert key == "keep-cd:access.circleci.deployRefs[1]" and reason.startswith(f"{ref!r} is not a git ref")


def test_branch_and_tag_refs_are_deploy_refs():
    refs = ["refs/heads/master", "refs/heads/release/1.x", "refs/tags/v1.8.0"]
    assert access_from(edit(KEYLESS, "circleci.deployRefs", refs)).circleci.deploy_refs == tuple(refs)


@pytest.mark.parametrize("key", ["project", "region"])
def test_gcp_enabled_without_project_or_region(key):
    key_path, reason = refused(edit(KEYLESS, key, delete=True))
    assert key_path == f"keep-cd:access.{key}" and reason.startswith("not set")


def test_cluster_and_repository_required():
    key, reason = refused(edit(KEYLESS, "cluster", delete=True))
    assert key == "keep-cd:access.cluster" and reason.startswith("not set")
    key, reason = refused(edit(KEYLESS, "artifactRegistry", delete=True))
    assert key == "keep-cd:access.artifactRegistry.repository" and reason.startswith("not set")


@pytest.mark.parametrize("ranges", [None, []])
def test_empty_firewall_ranges_in_bastion_mode(ranges):
    data = edit(BASTION, "bastion.sourceRanges", ranges) if ranges is not None else edit(BASTION, "bastion.sourceRanges", delete=True)
    key, reason = refused(data)
    assert key == "keep-cd:access.bastion.sourceRanges" and reason.startswith("empty")


@pytest.mark.parametrize(
    "cidr,reason", [("0.0.0.0/0", "whole internet"), ("::/0", "whole internet"), ("10.0.0.1/8", "not a CIDR"), ("ci", "not a CIDR")]
)
def test_bad_firewall_ranges(cidr, reason):
    key, why = refused(edit(BASTION, "bastion.sourceRanges", [cidr]))
    assert key == "keep-cd:access.bastion.sourceRanges[0]" and reason in why


def test_bastion_network_required():
    key, reason = refused(edit(BASTION, "bastion.network", delete=True))
    assert key == "keep-cd:access.bastion.network" and reason.startswith("not set")


def test_deployer_rpc_url_missing():
    pulumi.runtime.set_all_config({"keep-cd:chainId": "1101"}, [])
    with pytest.raises(ConfigError) as e:
        load_contracts(pulumi.Config("keep-cd"))
    assert str(e.value).startswith("config keep-cd:rpcUrl: not set (expected the deployer's JSON-RPC URL")


@pytest.mark.parametrize("url", ["http://eth-tx-node.default.svc.cluster.local:8545", "http://eth-tx-node.default.svc:8545"])
def test_deployer_rpc_url_must_not_be_in_cluster(url):
    key, reason = refused(KEYLESS, rpc_url=url)
    assert key == "keep-cd:rpcUrl" and "port-forward" in reason


def test_unknown_keys_are_refused():
    key, reason = refused({**KEYLESS, "sourceRanges": ["1.2.3.0/24"]})
    assert key == "keep-cd:access.sourceRanges" and reason.startswith("unknown key")
    key, reason = refused(edit(BASTION, "bastion.ranges", ["1.2.3.0/24"]))
    assert key == "keep-cd:access.bastion.ranges" and reason.startswith("unknown key")


def test_enabled_must_be_a_boolean():
    assert refused({**KEYLESS, "enabled": "yes"})[0] == "keep-cd:access.enabled"


@pytest.mark.parametrize("prefix", ["Kcd", "k", "gcp-keep", "a-name-much-too-long-for-ids", "trailing-"])
def test_name_prefix(prefix):
    assert refused({**KEYLESS, "namePrefix": prefix})[0] == "keep-cd:access.namePrefix"


def test_chain_service():
    a = access_from({**KEYLESS, "chainService": {"namespace": "default", "name": "eth-tx-node"}})
    assert (a.chain_service.namespace, a.chain_service.name, a.chain_service.port) == ("default", "eth-tx-node", 8545)
    assert refused({**KEYLESS, "chainService": {"namespace": "d", "name": "n", "port": 0}})[0] == "keep-cd:access.chainService.port"
    assert refused({**KEYLESS, "chainService": {"namespace": "d", "name": "Eth_Node"}})[0] == "keep-cd:access.chainService.name"


def _stack_access(stack: str, **overrides):
    config, _ = load_stack_config(ROOT, stack)
    access = json.loads(config["keep-cd:access"])
    access.update(overrides)
    return access_from(access, rpc_url=config["keep-cd:rpcUrl"])


@pytest.mark.parametrize("stack", ["keep-dev", "keep-test"])
def test_stack_files_are_complete_examples(stack):
    a = _stack_access(stack)
    assert a.mode == "keyless" and a.circleci is not None and a.chain_service is not None
    assert a.name_prefix == f"kcd-{stack}"
    # The same file switches to the RFC's mode by one key.
    b = _stack_access(stack, mode="bastion")
    assert b.bastion.source_ranges and b.bastion.network


def test_local_stack_has_no_gcp():
    config, _ = load_stack_config(ROOT, "local")
    assert access_from(json.loads(config["keep-cd:access"])) is None


def test_port_forwarded_chain_needs_a_local_deployer_url():
    data = {**KEYLESS, "chainService": {"namespace": "default", "name": "eth-tx-node"}}
    key, reason = refused(data, rpc_url="http://10.0.0.5:8545")
    assert key == "keep-cd:rpcUrl" and reason.startswith("http://10.0.0.5:8545 is not local")
    assert access_from(data, rpc_url="http://localhost:18545").chain_service.port == 8545


@pytest.mark.parametrize(
    "access,refusal",
    [
        pytest.param(
            [1],
            (
                "keep-cd:access",
                "expected a map with keys artifactRegistry, bastion, chainService, circleci, cluster, clusterLocation, enabled, mode, namePrefix, project, region",
            ),
            id="access not map",
        ),
        pytest.param({**KEYLESS, "enabled": "yes"}, ("keep-cd:access.enabled", "'yes' is not true or false"), id="enabled"),
        pytest.param(
            {**KEYLESS, "sourceRanges": ["1.2.3.0/24"]},
            (
                "keep-cd:access.sourceRanges",
                "unknown key (expected one of artifactRegistry, bastion, chainService, circleci, cluster, clusterLocation, enabled, mode, namePrefix, project, region)",
            ),
            id="unknown key",
        ),
        pytest.param(
            edit(KEYLESS, "project", delete=True),
            ("keep-cd:access.project", "not set (expected a GCP project id (access is enabled; or set gcp:project))"),
            id="project",
        ),
        pytest.param(
            edit(KEYLESS, "region", delete=True),
            ("keep-cd:access.region", "not set (expected a GCP region, e.g. us-central1 (access is enabled; or set gcp:region))"),
            id="region",
        ),
        pytest.param(
            edit(KEYLESS, "cluster", delete=True), ("keep-cd:access.cluster", "not set (expected the GKE cluster name)"), id="cluster"
        ),
        pytest.param(
            edit(KEYLESS, "cluster", "  "), ("keep-cd:access.cluster", "not set (expected the GKE cluster name)"), id="cluster blank"
        ),
        pytest.param(edit(KEYLESS, "cluster", 5), ("keep-cd:access.cluster", "5 is not the GKE cluster name"), id="cluster not str"),
        pytest.param(
            edit(KEYLESS, "artifactRegistry", delete=True),
            ("keep-cd:access.artifactRegistry.repository", "not set (expected the Artifact Registry repository id CI pushes images to)"),
            id="registry",
        ),
        pytest.param(
            edit(KEYLESS, "artifactRegistry", "keep"),
            ("keep-cd:access.artifactRegistry", "expected a map with keys location, repository"),
            id="registry not map",
        ),
        pytest.param(
            edit(KEYLESS, "artifactRegistry.name", "x"),
            ("keep-cd:access.artifactRegistry.name", "unknown key (expected one of location, repository)"),
            id="registry unknown",
        ),
        pytest.param(
            {**KEYLESS, "namePrefix": "Kcd"},
            ("keep-cd:access.namePrefix", "'Kcd' is not 3-22 lowercase letters, digits or hyphens starting with a letter (and not gcp-)"),
            id="prefix",
        ),
        pytest.param(
            {**KEYLESS, "namePrefix": "gcp-keep"},
            (
                "keep-cd:access.namePrefix",
                "'gcp-keep' is not 3-22 lowercase letters, digits or hyphens starting with a letter (and not gcp-)",
            ),
            id="prefix gcp",
        ),
        pytest.param(
            {**KEYLESS, "namePrefix": 5},
            ("keep-cd:access.namePrefix", "5 is not 3-22 lowercase letters, digits or hyphens starting with a letter (and not gcp-)"),
            id="prefix int",
        ),
        pytest.param(
            edit(KEYLESS, "circleci.orgId", delete=True),
            (
                "keep-cd:access.circleci.orgId",
                "not set (expected the CircleCI organization's id, a lowercase UUID (CircleCI Organization Settings > Overview))",
            ),
            id="org missing",
        ),
        pytest.param(
            edit(KEYLESS, "circleci.projectId", delete=True),
            (
                "keep-cd:access.circleci.projectId",
                "not set (expected the CircleCI project's id, a lowercase UUID (CircleCI Project Settings > Overview))",
            ),
            id="project missing",
        ),
        pytest.param(
            edit(KEYLESS, "circleci.orgId", "acme"),
            (
                "keep-cd:access.circleci.orgId",
                "'acme' is not the CircleCI organization's id, a lowercase UUID (CircleCI Organization Settings > Overview)",
            ),
            id="org bad",
        ),
        pytest.param(
            edit(KEYLESS, "circleci.projectId", ORG.upper()),
            (
                "keep-cd:access.circleci.projectId",
                "'0C9F3B1E-6A44-4F7D-9D7E-2F1C3A5B7D90' is not the CircleCI project's id, a lowercase UUID (CircleCI Project Settings > Overview)",
            ),
            id="project bad",
        ),
        pytest.param(
            edit(KEYLESS, "circleci", "x"),
            ("keep-cd:access.circleci", "expected a map with keys deployRefs, orgId, projectId"),
            id="circleci not map",
        ),
        pytest.param(
            edit(KEYLESS, "circleci.deployRefs", []),
            ("keep-cd:access.circleci.deployRefs", "[] is not a non-empty list of git refs, e.g. [refs/heads/master]"),
            id="refs empty",
        ),
        pytest.param(
            edit(KEYLESS, "circleci.deployRefs", "refs/heads/master"),
            ("keep-cd:access.circleci.deployRefs", "'refs/heads/master' is not a non-empty list of git refs, e.g. [refs/heads/master]"),
            id="refs str",
        ),
        pytest.param(
            edit(KEYLESS, "circleci.deployRefs", ["refs/pull/1/head"]),
            ("keep-cd:access.circleci.deployRefs[0]", "'refs/pull/1/head' is not a git ref (refs/heads/<branch> or refs/tags/<tag>)"),
            id="refs pull",
        ),
        pytest.param(
            edit(KEYLESS, "circleci.deployRefs", [5]),
            ("keep-cd:access.circleci.deployRefs[0]", "5 is not a git ref (refs/heads/<branch> or refs/tags/<tag>)"),
            id="refs int",
        ),
        pytest.param(
            edit(BASTION, "bastion.sourceRanges", delete=True),
            (
                "keep-cd:access.bastion.sourceRanges",
                "empty (bastion mode opens SSH on the jump host only to these CIDRs: expected e.g. [203.0.113.0/24])",
            ),
            id="ranges none",
        ),
        pytest.param(
            edit(BASTION, "bastion.sourceRanges", "1.2.3.0/24"),
            ("keep-cd:access.bastion.sourceRanges", "'1.2.3.0/24' is not a list of CIDRs, e.g. [203.0.113.0/24]"),
            id="ranges str",
        ),
        pytest.param(
            edit(BASTION, "bastion.sourceRanges", ["0.0.0.0/0"]),
            ("keep-cd:access.bastion.sourceRanges[0]", "0.0.0.0/0 opens SSH to the whole internet (expected CI's egress ranges)"),
            id="ranges world",
        ),
        pytest.param(
            edit(BASTION, "bastion.sourceRanges", ["10.0.0.1/8"]),
            ("keep-cd:access.bastion.sourceRanges[0]", "'10.0.0.1/8' is not a CIDR range (expected e.g. 203.0.113.0/24)"),
            id="ranges bad",
        ),
        pytest.param(
            edit(BASTION, "bastion.network", delete=True),
            ("keep-cd:access.bastion.network", "not set (expected the VPC network name or self link)"),
            id="bastion network",
        ),
        pytest.param(
            edit(BASTION, "bastion.publicSubnet", delete=True),
            ("keep-cd:access.bastion.publicSubnet", "not set (expected the public subnet's name or self link)"),
            id="bastion public",
        ),
        pytest.param(
            edit(BASTION, "bastion.clusterSubnet", delete=True),
            ("keep-cd:access.bastion.clusterSubnet", "not set (expected the cluster subnet's name or self link)"),
            id="bastion cluster",
        ),
        pytest.param(
            edit(BASTION, "bastion.zone", ""),
            ("keep-cd:access.bastion.zone", "not set (expected a zone of the region, e.g. us-central1-a)"),
            id="bastion zone",
        ),
        pytest.param(
            edit(BASTION, "bastion.machineType", ""),
            ("keep-cd:access.bastion.machineType", "not set (expected a machine type)"),
            id="bastion machine",
        ),
        pytest.param(
            edit(BASTION, "bastion.image", ""), ("keep-cd:access.bastion.image", "not set (expected a boot image)"), id="bastion image"
        ),
        pytest.param(
            edit(BASTION, "bastion", delete=True),
            (
                "keep-cd:access.bastion.sourceRanges",
                "empty (bastion mode opens SSH on the jump host only to these CIDRs: expected e.g. [203.0.113.0/24])",
            ),
            id="bastion missing",
        ),
        pytest.param(
            {**KEYLESS, "chainService": {"name": "n"}},
            ("keep-cd:access.chainService.namespace", "not set (expected a Kubernetes namespace (DNS-1123 label))"),
            id="svc namespace",
        ),
        pytest.param(
            {**KEYLESS, "chainService": {"namespace": "d", "name": "Eth_Node"}},
            ("keep-cd:access.chainService.name", "'Eth_Node' is not a Kubernetes Service name (DNS-1123 label)"),
            id="svc name bad",
        ),
        pytest.param(
            {**KEYLESS, "chainService": {"namespace": "-d", "name": "n"}},
            ("keep-cd:access.chainService.namespace", "'-d' is not a Kubernetes namespace (DNS-1123 label)"),
            id="svc namespace bad",
        ),
        pytest.param(
            {**KEYLESS, "chainService": {"namespace": "d", "name": "n", "port": 0}},
            ("keep-cd:access.chainService.port", "0 is not a TCP port (1-65535)"),
            id="svc port",
        ),
        pytest.param(
            {**KEYLESS, "chainService": {"namespace": "d", "name": "n", "port": True}},
            ("keep-cd:access.chainService.port", "True is not a TCP port (1-65535)"),
            id="svc port bool",
        ),
        pytest.param(
            {**KEYLESS, "chainService": {"namespace": "d", "name": "n", "port": 65536}},
            ("keep-cd:access.chainService.port", "65536 is not a TCP port (1-65535)"),
            id="svc port big",
        ),
        pytest.param(
            {**KEYLESS, "chainService": {"namespace": "d", "name": "n", "host": "x"}},
            ("keep-cd:access.chainService.host", "unknown key (expected one of name, namespace, port)"),
            id="svc unknown",
        ),
    ],
)
def test_each_bad_access_value_has_its_own_whole_line(access, refusal):
    assert refused(access) == refusal


@pytest.mark.parametrize(
    "rpc_url,refusal",
    [
        (
            "http://eth.default.svc:8545",
            (
                "keep-cd:rpcUrl",
                "http://eth.default.svc:8545 is an in-cluster address, which the deployer (CI) cannot resolve (expected the deployer's URL, e.g. http://127.0.0.1:8545 through `kubectl port-forward` to the chain's Service)",
            ),
        ),
        (
            "http://10.1.2.3:8545",
            (
                "keep-cd:rpcUrl",
                "http://10.1.2.3:8545 is not local, but access.chainService says CI reaches the chain by port-forward (expected http://127.0.0.1:<port>, the port-forward's local end)",
            ),
        ),
        (
            "",
            (
                "keep-cd:rpcUrl",
                "(not set) is not local, but access.chainService says CI reaches the chain by port-forward (expected http://127.0.0.1:<port>, the port-forward's local end)",
            ),
        ),
    ],
)
def test_the_deployers_url_against_the_port_forwarded_chain(rpc_url, refusal):
    assert refused({**KEYLESS, "chainService": {"namespace": "d", "name": "n"}}, rpc_url=rpc_url) == refusal


@pytest.mark.parametrize("rpc_url", ["http://127.0.0.1:18545", "http://localhost:8545", "http://[::1]:8545"])
def test_a_local_deployer_url_reaches_a_port_forwarded_chain(rpc_url):
    a = access_from({**KEYLESS, "chainService": {"namespace": "d", "name": "n", "port": 8546}}, rpc_url=rpc_url)
    assert (a.chain_service.namespace, a.chain_service.name, a.chain_service.port) == ("d", "n", 8546)


def test_every_access_value_given():
    a = access_from(
        {
            **BASTION,
            "clusterLocation": "us-central1-b",
            "namePrefix": "kcd-x",
            "artifactRegistry": {"location": "europe", "repository": "imgs"},
            "bastion": {**BASTION["bastion"], "zone": "us-central1-c", "machineType": "e2-small", "image": "cos-cloud/cos-stable"},
        }
    )
    assert (a.cluster_location, a.name_prefix, a.registry_location, a.registry_repository) == ("us-central1-b", "kcd-x", "europe", "imgs")
    b = a.bastion
    assert (b.network, b.public_subnet, b.cluster_subnet, b.zone, b.machine_type, b.image) == (
        "vpc",
        "pub",
        "gke",
        "us-central1-c",
        "e2-small",
        "cos-cloud/cos-stable",
    )
    assert access_from(edit(BASTION, "bastion.network", "  vpc-2 ")).bastion.network == "vpc-2"  # trimmed
    assert access_from(edit(BASTION, "bastion.sourceRanges", ["2001:db8::/32"])).bastion.source_ranges == ("2001:db8::/32",)
    assert access_from(BASTION).bastion.image == "debian-cloud/debian-12"


def test_project_and_region_come_from_the_gcp_config_when_not_given():
    from settings import load_access

    data = edit(edit(KEYLESS, "project", delete=True), "region", delete=True)
    pulumi.runtime.set_all_config({"keep-cd:access": json.dumps(data), "gcp:project": "from-gcp", "gcp:region": "asia-east1"}, [])
    a = load_access(pulumi.Config("keep-cd"))
    assert (a.project, a.region, a.registry_location) == ("from-gcp", "asia-east1", "asia-east1")


def test_the_default_name_prefix_fits_gcp_ids():
    from settings import load_access

    pulumi.runtime.set_all_config({"keep-cd:access": json.dumps(KEYLESS)}, [])
    assert (
        load_access(pulumi.Config("keep-cd"), pulumi.Config("gcp"), stack="a-very-long-stack-name-x").name_prefix == "kcd-a-very-long-stack"
    )


@pytest.mark.parametrize(
    "access,refusal",
    [
        ({**KEYLESS, "clusterLocation": " "}, ("keep-cd:access.clusterLocation", "not set (expected the cluster's region or zone)")),
        (edit(KEYLESS, "artifactRegistry.location", ""), ("keep-cd:access.artifactRegistry.location", "not set (expected a region)")),
        ({**KEYLESS, "chainService": [1]}, ("keep-cd:access.chainService", "expected a map with keys name, namespace, port")),
    ],
)
def test_more_refusals_in_their_whole_line(access, refusal):
    assert refused(access) == refusal


def test_the_smallest_chain_service_port():
    assert access_from({**KEYLESS, "chainService": {"namespace": "d", "name": "n", "port": 1}}).chain_service.port == 1
