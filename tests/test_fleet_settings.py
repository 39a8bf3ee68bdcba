"""The fleet section of stack config: typed values, and one line for each kind of bad input."""

import copy

import pytest

from components.keep_network import book_address, client_contract_addresses
from contracts_step.errors import ConfigError
from contracts_step.keep_plan import keep_plan
from stack_settings import parse_fleet

DEPLOYED = {d.name for d in keep_plan().deploys}
# keep-client 1.x's [ethereum.ContractAddresses] keys; by default each is the plan's contract of that name.
SAME_NAMES = {k: k for k in ("KeepRandomBeaconOperator", "TokenStaking", "KeepRandomBeaconService")}
BASE = {
    "namespace": "keep-dev",
    "image": {"repository": "gcr.io/keep-dev/keep-client", "tag": "v1.8.0"},
    "initImage": {"repository": "gcr.io/keep-dev/keep-client-init", "digest": "sha256:" + "ab" * 32},
    "ethereum": {"url": "ws://eth.default.svc.cluster.local:8546", "urlRpc": "http://eth.default.svc.cluster.local:8545"},
    "counts": {"bootstrap": 1, "standard": 2},
}


def fleet(**over):
    raw = copy.deepcopy(BASE)
    for key, value in over.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def error_of(raw) -> str:
    with pytest.raises(ConfigError) as e:
        parse_fleet(raw, 1101, DEPLOYED)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("config keep-cd:fleet")
    return msg


def test_counts_give_named_clients_bootstrap_first():
    spec = parse_fleet(fleet(), 1101, DEPLOYED)
    assert [(c.name, c.role, c.port) for c in spec.clients] == [
        ("keep-bootstrap-0", "bootstrap", 3919),
        ("keep-standard-0", "standard", 3919),
        ("keep-standard-1", "standard", 3919),
    ]
    assert spec.image.ref == "gcr.io/keep-dev/keep-client:v1.8.0"
    assert spec.init_image.ref == "gcr.io/keep-dev/keep-client-init@sha256:" + "ab" * 32
    assert spec.chain.chain_id == 1101 and spec.contracts == SAME_NAMES
    assert spec.resources.limits["memory"] == "512Mi" and spec.keel is None


def test_a_client_list_with_port_overrides():
    spec = parse_fleet(
        fleet(counts=None, clients=[{"name": "boot", "role": "bootstrap"}, {"name": "peer-a", "role": "standard", "port": 4000}]),
        1,
        DEPLOYED,
    )
    assert [(c.name, c.port) for c in spec.clients] == [("boot", 3919), ("peer-a", 4000)]


def test_only_bootstrap_clients_is_fine():
    assert len(parse_fleet(fleet(counts={"bootstrap": 2}), 1, DEPLOYED).clients) == 2


def test_no_bootstrap_but_standard_requested():
    assert "no bootstrap client" in error_of(fleet(counts={"bootstrap": 0, "standard": 3}))
    assert "no bootstrap client" in error_of(fleet(counts=None, clients=[{"name": "a", "role": "standard"}]))


def test_duplicate_names():
    msg = error_of(fleet(counts=None, clients=[{"name": "a", "role": "bootstrap"}, {"name": "a", "role": "standard"}]))
    assert "duplicate client name 'a'" in msg


@pytest.mark.parametrize("port", [0, -1, 65536, "3919", 3919.0, True, None])
def test_invalid_port(port):
    msg = error_of(fleet(counts=None, clients=[{"name": "a", "role": "bootstrap", "port": port}]))
    assert "clients[0].port" in msg and "not a port" in msg


def test_invalid_default_port():
    assert "fleet.port" in error_of(fleet(port=99999))


@pytest.mark.parametrize("image", [{"repository": "keep/client"}, {"repository": "keep/client", "tag": None}])
def test_image_without_tag_or_digest(image):
    assert "has no tag or digest" in error_of(fleet(image=image))


@pytest.mark.parametrize(
    "image, field",
    [
        ({"repository": "keep/client", "digest": "sha256:abc"}, "image.digest"),
        ({"repository": "keep/client", "tag": "v1 2"}, "image.tag"),
        ({"repository": "keep/client:v1"}, "image"),
        ({"repository": ""}, "image.repository"),
    ],
)
def test_malformed_image(image, field):
    assert f"fleet.{field}" in error_of(fleet(image=image))


def test_contract_the_plan_does_not_deploy():
    msg = error_of(fleet(contracts={"TokenStaking": "StakingProxy"}))
    assert "contracts.TokenStaking" in msg and "'StakingProxy' is not deployed" in msg


def test_contract_missing_from_the_address_book_at_run_time():
    book = {"KeepRandomBeaconOperator": "0x" + "11" * 20, "TokenStaking": "0x" + "22" * 20}
    with pytest.raises(ConfigError) as e:
        client_contract_addresses(book, SAME_NAMES)
    assert str(e.value).startswith("contracts address book: no address for KeepRandomBeaconService")
    assert "\n" not in str(e.value)


def test_keep_token_missing_from_the_address_book_for_cluster_provisioning():
    from pulumi.output import UNKNOWN

    book = {"TokenStaking": "0x" + "22" * 20}
    with pytest.raises(ConfigError) as e:
        book_address(book, "KeepToken", "provisioning: cluster")
    assert str(e.value).startswith("contracts address book: no address for KeepToken (expected the contracts step to deploy it for provisioning: cluster")
    assert "\n" not in str(e.value)
    assert book_address({**book, "KeepToken": "0x" + "33" * 20}, "KeepToken", "x") == "0x" + "33" * 20
    assert book_address(None, "KeepToken", "x") is UNKNOWN  # a never-migrated stack in preview


@pytest.mark.parametrize("name", ["Keep-A", "keep_a", "-keep", "keep-", "0keep", "a" * 64, "", 7, "a.b"])
def test_name_not_a_dns_label(name):
    msg = error_of(fleet(counts=None, clients=[{"name": name, "role": "bootstrap"}]))
    assert "clients[0].name" in msg and "DNS-1123 label" in msg


def test_namespace_not_a_dns_label():
    assert "fleet.namespace" in error_of(fleet(namespace="Keep Dev"))


@pytest.mark.parametrize("counts", [{"bootstrap": -1}, {"bootstrap": 1, "standard": -2}, {"bootstrap": 1.5}])
def test_negative_or_non_integer_counts(counts):
    assert "is not an integer >= 0" in error_of(fleet(counts=counts))


@pytest.mark.parametrize("counts", [{"bootstrap": 0, "standard": 0}, {}])
def test_zero_clients(counts):
    assert "no clients" in error_of(fleet(counts=counts))
    assert "fleet.clients: no clients" in error_of(fleet(counts=None, clients=[]))


def test_unknown_role():
    assert "unknown role" in error_of(fleet(counts={"bootstrap": 1, "miner": 2}))
    assert "is not a role" in error_of(fleet(counts=None, clients=[{"name": "a", "role": "miner"}]))


def test_both_clients_and_counts():
    assert "both clients and counts" in error_of(fleet(clients=[{"name": "a", "role": "bootstrap"}]))


@pytest.mark.parametrize(
    "eth, field",
    [
        ({"url": "http://eth:8546", "urlRpc": "http://eth:8545"}, "ethereum.url"),
        ({"url": "ws://eth:8546", "urlRpc": "ws://eth:8545"}, "ethereum.urlRpc"),
        ({"urlRpc": "http://eth:8545"}, "ethereum.url"),
    ],
)
def test_chain_urls(eth, field):
    assert f"fleet.{field}" in error_of(fleet(ethereum=eth))


def test_keel_with_a_digest_pinned_image():
    image = {"repository": "keep/client", "digest": "sha256:" + "cd" * 32}
    assert "Keel can only move tags" in error_of(fleet(image=image, keel={"policy": "all"}))


def test_bad_keel_policy_and_quantities():
    assert "fleet.keel.policy" in error_of(fleet(keel={"policy": "sometimes"}))
    assert "fleet.resources.limits.cpu" in error_of(fleet(resources={"limits": {"cpu": "lots"}}))
    assert "fleet.storage.size" in error_of(fleet(storage={"size": "big"}))
