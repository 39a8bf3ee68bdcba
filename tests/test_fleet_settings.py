"""The fleet section of stack config: typed values, and one line for each kind of bad input."""

import copy

import pytest

from chain.errors import ConfigError
from components.keep_network import book_address, client_contract_addresses
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


# Values the API server refuses (seen on a real one: docs/cluster.md), caught before the chain's work.
@pytest.mark.parametrize(
    "resources, field",
    [
        ({"requests": {"cpu": "1"}, "limits": {"cpu": "500m"}}, "resources.requests.cpu"),
        ({"requests": {"memory": "1Gi"}}, "resources.requests.memory"),  # over the default limit 512Mi
        ({"requests": {"memory": "600M"}, "limits": {"memory": "512Mi"}}, "resources.requests.memory"),
    ],
)
def test_a_request_over_its_limit(resources, field):
    msg = error_of(fleet(resources=resources))
    assert f"keep-cd:fleet.{field}:" in msg and "more than its limit" in msg


def test_requests_up_to_their_limits_are_fine():
    spec = parse_fleet(fleet(resources={"requests": {"cpu": "0.5", "memory": "512Mi"}, "limits": {"cpu": "500m", "memory": "536870912"}}), 1101, DEPLOYED)
    assert spec.resources.requests == {"cpu": "0.5", "memory": "512Mi"}


@pytest.mark.parametrize("part_of", ["keep network", "-keep", "a" * 64, "", 7])
def test_part_of_not_a_label_value(part_of):
    assert "keep-cd:fleet.partOf:" in error_of(fleet(partOf=part_of))


@pytest.mark.parametrize("storage_class", ["Fast_SSD", "fast-", "a" * 254, 3])
def test_storage_class_not_a_name(storage_class):
    assert "keep-cd:fleet.storage.storageClass:" in error_of(fleet(storage={"size": "1Gi", "storageClass": storage_class}))


@pytest.mark.parametrize(
    "raw,message",
    [
        pytest.param([1],
                     'config keep-cd:fleet: expected a map, got list', id='not a map'),
        pytest.param(fleet(namespace="Keep Dev"),
                     "config keep-cd:fleet.namespace: 'Keep Dev' is not a DNS-1123 label starting with a letter (lowercase a-z, 0-9, '-', at most 63 characters)", id='namespace'),
        pytest.param(fleet(namespace="a"*64),
                     "config keep-cd:fleet.namespace: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a DNS-1123 label starting with a letter (lowercase a-z, 0-9, '-', at most 63 characters)", id='namespace long'),
        pytest.param(fleet(ethereum="x"),
                     'config keep-cd:fleet.ethereum: expected a map, got str', id='eth not map'),
        pytest.param(fleet(ethereum={"urlRpc": "http://e:1"}),
                     'config keep-cd:fleet.ethereum.url: None is not set (expected a non-empty string)', id='url missing'),
        pytest.param(fleet(ethereum={"url": "ws://e:1"}),
                     'config keep-cd:fleet.ethereum.urlRpc: None is not set (expected a non-empty string)', id='urlRpc missing'),
        pytest.param(fleet(ethereum={"url": "http://e:1", "urlRpc": "http://e:1"}),
                     "config keep-cd:fleet.ethereum.url: 'http://e:1' is not a ws:// or wss:// URL (the clients' websocket endpoint in the cluster)", id='url http'),
        pytest.param(fleet(ethereum={"url": "ws://e:1", "urlRpc": "ws://e:1"}),
                     "config keep-cd:fleet.ethereum.urlRpc: 'ws://e:1' is not an http(s):// URL (the clients' JSON-RPC endpoint in the cluster)", id='urlRpc ws'),
        pytest.param(fleet(contracts={"TokenStaking": "StakingProxy"}),
                     "config keep-cd:fleet.contracts.TokenStaking: 'StakingProxy' is not deployed by the contracts plan (the address book will not have it)", id='contract'),
        pytest.param(fleet(storage={"size": "big"}),
                     "config keep-cd:fleet.storage.size: 'big' is not a storage quantity (e.g. 1Gi)", id='storage'),
        pytest.param(fleet(storage={"size": 5}),
                     'config keep-cd:fleet.storage.size: 5 is not a storage quantity (e.g. 1Gi)', id='storage int'),
        pytest.param(fleet(keel={"policy": "sometimes"}),
                     "config keep-cd:fleet.keel.policy: 'sometimes' is not a Keel policy (expected all, major, minor, patch, force, glob:… or regexp:…)", id='keel policy'),
        pytest.param(fleet(image={"repository": "keep/client", "digest": "sha256:" + "cd"*32}, keel={}),
                     'config keep-cd:fleet.keel: Keel is on but image is pinned by digest (Keel can only move tags; drop one of them)', id='keel digest'),
        pytest.param(fleet(image=None),
                     'config keep-cd:fleet.image.repository: None is not set (expected a non-empty string)', id='image none'),
        pytest.param(fleet(image={"repository": "keep/client:v1"}),
                     "config keep-cd:fleet.image.repository: 'keep/client:v1' is not an image repository (put the tag/digest in tag/digest)", id='image repo'),
        pytest.param(fleet(image={"repository": "keep/client@x", "tag": "v"}),
                     "config keep-cd:fleet.image.repository: 'keep/client@x' is not an image repository (put the tag/digest in tag/digest)", id='image repo @'),
        pytest.param(fleet(image={"repository": "keep/client"}),
                     'config keep-cd:fleet.image: image keep/client has no tag or digest (expected tag: v1.2.3 or digest: sha256:<64 hex>)', id='image notag'),
        pytest.param(fleet(image={"repository": "keep/client", "digest": "sha256:abc"}),
                     "config keep-cd:fleet.image.digest: 'sha256:abc' is not a digest (expected sha256:<64 hex>)", id='image digest'),
        pytest.param(fleet(image={"repository": "keep/client", "tag": "v1 2"}),
                     "config keep-cd:fleet.image.tag: 'v1 2' is not an image tag", id='image tag'),
        pytest.param(fleet(image={"repository": "keep/client", "tag": 5}),
                     'config keep-cd:fleet.image.tag: 5 is not an image tag', id='image tag int'),
        pytest.param(fleet(initImage={"repository": "", "tag": "v"}),
                     "config keep-cd:fleet.initImage.repository: '' is not set (expected a non-empty string)", id='init image'),
        pytest.param(fleet(clients=[{"name": "a", "role": "bootstrap"}]),
                     'config keep-cd:fleet.clients: both clients and counts are set (expected one of them)', id='both'),
        pytest.param(fleet(port=0),
                     'config keep-cd:fleet.port: 0 is not a port (expected an integer in 1..65535)', id='port'),
        pytest.param(fleet(counts={"bootstrap": 1, "miner": 2}),
                     'config keep-cd:fleet.counts.miner: unknown role (expected bootstrap or standard)', id='counts unknown'),
        pytest.param(fleet(counts={"bootstrap": -1}),
                     'config keep-cd:fleet.counts.bootstrap: -1 is not an integer >= 0', id='counts neg'),
        pytest.param(fleet(counts={"bootstrap": 1.5}),
                     'config keep-cd:fleet.counts.bootstrap: 1.5 is not an integer >= 0', id='counts float'),
        pytest.param(fleet(counts={"bootstrap": True}),
                     'config keep-cd:fleet.counts.bootstrap: True is not an integer >= 0', id='counts bool'),
        pytest.param(fleet(counts=[1]),
                     'config keep-cd:fleet.counts: expected a map, got list', id='counts not map'),
        pytest.param(fleet(counts=None, clients={"a": 1}),
                     'config keep-cd:fleet.clients: expected a list of {name, role, port?}', id='clients not list'),
        pytest.param(fleet(counts=None, clients=["a"]),
                     'config keep-cd:fleet.clients[0]: expected a map, got str', id='client not map'),
        pytest.param(fleet(counts=None, clients=[{"name": "A", "role": "bootstrap"}]),
                     "config keep-cd:fleet.clients[0].name: 'A' is not a DNS-1123 label starting with a letter (lowercase a-z, 0-9, '-', at most 63 characters)", id='client name'),
        pytest.param(fleet(counts=None, clients=[{"name": "a", "role": "miner"}]),
                     "config keep-cd:fleet.clients[0].role: 'miner' is not a role (expected bootstrap or standard)", id='client role'),
        pytest.param(fleet(counts=None, clients=[{"name": "a", "role": "bootstrap", "port": 70000}]),
                     'config keep-cd:fleet.clients[0].port: 70000 is not a port (expected an integer in 1..65535)', id='client port'),
        pytest.param(fleet(counts={"bootstrap": 0}),
                     'config keep-cd:fleet.counts: no clients (expected at least one bootstrap client; leave keep-cd:fleet unset for none)', id='no clients counts'),
        pytest.param(fleet(counts=None, clients=[]),
                     'config keep-cd:fleet.clients: no clients (expected at least one bootstrap client; leave keep-cd:fleet unset for none)', id='no clients list'),
        pytest.param(fleet(counts=None),
                     'config keep-cd:fleet.counts: no clients (expected at least one bootstrap client; leave keep-cd:fleet unset for none)', id='neither'),
        pytest.param(fleet(counts=None, clients=[{"name": "a", "role": "bootstrap"}, {"name": "a", "role": "standard"}]),
                     "config keep-cd:fleet.clients: duplicate client name 'a' (each name is a Service and a volume)", id='dupe'),
        pytest.param(fleet(counts={"standard": 2}),
                     'config keep-cd:fleet.clients: standard clients but no bootstrap client (standard peers need a bootstrap peer to join)', id='no bootstrap'),
        pytest.param(fleet(resources={"limits": {"cpu": "lots"}}),
                     "config keep-cd:fleet.resources.limits.cpu: 'lots' is not a cpu/memory quantity (e.g. 100m, 256Mi)", id='resources'),
        pytest.param(fleet(resources={"limits": {"gpu": "1"}}),
                     "config keep-cd:fleet.resources.limits.gpu: '1' is not a cpu/memory quantity (e.g. 100m, 256Mi)", id='resources key'),
        pytest.param(fleet(resources={"limits": 5}),
                     'config keep-cd:fleet.resources.limits: expected a map, got int', id='resources not map'),
        pytest.param(fleet(initResources={"requests": {"memory": 64}}),
                     'config keep-cd:fleet.initResources.requests.memory: 64 is not a cpu/memory quantity (e.g. 100m, 256Mi)', id='init resources'),
    ],
)
def test_each_bad_fleet_value_has_its_own_whole_line(raw, message):
    with pytest.raises(ConfigError) as e:
        parse_fleet(raw, 1101, DEPLOYED)
    assert str(e.value) == message


def test_every_fleet_value_given():
    spec = parse_fleet(
        fleet(
            image={"repository": "registry.local:5000/keep/client", "tag": "v1.8.0"},
            contracts={"TokenStaking": "TokenStaking", "KeepRandomBeaconOperator": "KeepRandomBeaconOperator"},
            storage={"size": "2Gi", "storageClass": "fast"},
            keel={"policy": "glob:v1.*", "trigger": "push", "pollSchedule": "@every 5m"},
            resources={"limits": {"cpu": "1"}},
            initResources={"requests": {"memory": "32Mi"}},
            partOf="keep-test",
            createNamespace=True,
            port=4000,
        ),
        5,
        DEPLOYED,
    )
    assert spec.image.ref == "registry.local:5000/keep/client:v1.8.0"
    assert spec.contracts == {"TokenStaking": "TokenStaking", "KeepRandomBeaconOperator": "KeepRandomBeaconOperator"}
    assert (spec.storage.size, spec.storage.storage_class) == ("2Gi", "fast")
    assert (spec.keel.policy, spec.keel.trigger, spec.keel.poll_schedule) == ("glob:v1.*", "push", "@every 5m")
    assert spec.resources.limits == {"cpu": "1", "memory": "512Mi"} and spec.resources.requests == {"cpu": "100m", "memory": "256Mi"}
    assert spec.init_resources.requests == {"cpu": "50m", "memory": "32Mi"} and spec.init_resources.limits == {"cpu": "200m", "memory": "128Mi"}
    assert (spec.part_of, spec.create_namespace, spec.chain.url, spec.chain.url_rpc) == ("keep-test", True, BASE["ethereum"]["url"], BASE["ethereum"]["urlRpc"])
    assert {c.port for c in spec.clients} == {4000}


def test_fleet_defaults():
    spec = parse_fleet(fleet(), 1101, DEPLOYED)
    assert (spec.storage.size, spec.storage.storage_class, spec.keel) == ("1Gi", None, None)
    assert (spec.part_of, spec.create_namespace, spec.namespace) == ("keep-network", False, "keep-dev")
    assert spec.resources.requests == {"cpu": "100m", "memory": "256Mi"} and spec.resources.limits == {"cpu": "500m", "memory": "512Mi"}
    assert spec.init_resources.requests == {"cpu": "50m", "memory": "64Mi"} and spec.init_resources.limits == {"cpu": "200m", "memory": "128Mi"}
    keel = parse_fleet(fleet(keel={}), 1101, DEPLOYED).keel
    assert (keel.policy, keel.trigger, keel.poll_schedule) == ("all", "poll", None)
    listed = parse_fleet(fleet(counts=None, clients=[{"name": "z", "role": "standard"}, {"name": "b", "role": "bootstrap"}, {"name": "a", "role": "standard"}]), 1, DEPLOYED)
    assert [(c.name, c.role) for c in listed.clients] == [("b", "bootstrap"), ("a", "standard"), ("z", "standard")]  # bootstrap first, then by name


@pytest.mark.parametrize(
    "over,message",
    [
        (dict(image="keep/client:v1"), "config keep-cd:fleet.image: expected a map, got str"),
        (dict(contracts=["TokenStaking"]), "config keep-cd:fleet.contracts: expected a map, got list"),
        (dict(storage="1Gi"), "config keep-cd:fleet.storage: expected a map, got str"),
        (dict(resources="small"), "config keep-cd:fleet.resources: expected a map, got str"),
        (dict(keel="on"), "config keep-cd:fleet.keel: expected a map, got str"),
    ],
)
def test_sections_that_are_not_maps(over, message):
    assert error_of(fleet(**over)) == message


def test_the_edges_the_fleet_takes():
    spec = parse_fleet(fleet(namespace="a" * 63, counts=None, clients=[{"name": "b", "role": "bootstrap", "port": 1}]), 1, DEPLOYED)
    assert spec.namespace == "a" * 63 and spec.clients[0].port == 1


def test_keel_patterns():
    for policy in ("glob:v1.*", "regexp:^v1\\."):
        assert parse_fleet(fleet(keel={"policy": policy}), 1, DEPLOYED).keel.policy == policy
