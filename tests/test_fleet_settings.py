"""The fleet section of stack config: typed values, and one line for each kind of bad input."""

import copy

import pytest

from chain.errors import ConfigError
from components.keep_network import book_address, client_contract_addresses
from contracts_step.keep_plan import keep_plan
from settings import parse_fleet

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


def refused(raw) -> tuple:
    """(key, reason) of the one-line ConfigError that refuses ``raw``."""
    with pytest.raises(ConfigError) as e:
        parse_fleet(raw, 1101, DEPLOYED)
    assert str(e.value) == f"config {e.value.key}: {e.value.reason}" and "\n" not in str(e.value)
    assert (e.value.key or "").startswith("keep-cd:fleet")
    return e.value.key, e.value.reason


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
    key, reason = refused(fleet(counts={"bootstrap": 0, "standard": 3}))
    assert key == "keep-cd:fleet.counts" and "no bootstrap client" in reason
    key, reason = refused(fleet(counts=None, clients=[{"name": "a", "role": "standard"}]))
    assert key == "keep-cd:fleet.clients" and "no bootstrap client" in reason


def test_duplicate_names():
    key, reason = refused(fleet(counts=None, clients=[{"name": "a", "role": "bootstrap"}, {"name": "a", "role": "standard"}]))
    assert key == "keep-cd:fleet.clients" and "duplicate client name 'a'" in reason


@pytest.mark.parametrize("port", [0, -1, 65536, "3919", 3919.0, True, None])
def test_invalid_port(port):
    key, reason = refused(fleet(counts=None, clients=[{"name": "a", "role": "bootstrap", "port": port}]))
    assert key == "keep-cd:fleet.clients[0].port" and "not a port" in reason


def test_invalid_default_port():
    assert refused(fleet(port=99999))[0] == "keep-cd:fleet.port"


def test_client_image_without_tag_or_digest_runs_the_pinned_client_release():
    from keep_contracts.names import CLIENT_RELEASE

    assert parse_fleet(fleet(image={"repository": "keep/client"}), 1101, DEPLOYED).image.ref == f"keep/client:v{CLIENT_RELEASE}"


@pytest.mark.parametrize("image", [{"repository": "keep/init"}, {"repository": "keep/init", "tag": None}])
def test_init_image_without_tag_or_digest(image):
    key, reason = refused(fleet(initImage=image))
    assert key == "keep-cd:fleet.initImage" and "has no tag or digest" in reason


def test_client_image_with_a_null_tag_is_refused():
    key, reason = refused(fleet(image={"repository": "keep/client", "tag": None}))
    assert key == "keep-cd:fleet.image" and "has no tag or digest" in reason


@pytest.mark.parametrize(
    "client, key",
    [
        ({"name": "a", "role": "bootstrap", "port": 3919, "metricsPort": 3919}, "keep-cd:fleet.clients[0].metricsPort"),
        ({"name": "a", "role": "bootstrap", "diagnosticsPort": 9601}, "keep-cd:fleet.clients[0].diagnosticsPort"),
    ],
)
def test_a_client_listens_on_ports_of_its_own(client, key):
    got, reason = refused(fleet(counts=None, clients=[client]))
    assert got == key and "expected a port of its own" in reason


def test_fleet_ports_are_each_clients_unless_it_gives_its_own():
    clients = [{"name": "b", "role": "bootstrap"}, {"name": "s", "role": "standard", "port": 3920, "metricsPort": 9602}]
    spec = parse_fleet(fleet(counts=None, clients=clients, diagnosticsPort=9800), 1101, DEPLOYED)
    assert [(c.ports.libp2p, c.ports.metrics, c.ports.diagnostics) for c in spec.clients] == [(3919, 9601, 9800), (3920, 9602, 9800)]


@pytest.mark.parametrize(
    "image, field",
    [
        ({"repository": "keep/client", "digest": "sha256:abc"}, "image.digest"),
        ({"repository": "keep/client", "tag": "v1 2"}, "image.tag"),
        ({"repository": "keep/client:v1"}, "image.repository"),
        ({"repository": ""}, "image.repository"),
    ],
)
def test_malformed_image(image, field):
    assert refused(fleet(image=image))[0] == f"keep-cd:fleet.{field}"


def test_contract_the_plan_does_not_deploy():
    key, reason = refused(fleet(contracts={"TokenStaking": "StakingProxy"}))
    assert key == "keep-cd:fleet.contracts.TokenStaking" and "'StakingProxy' is not deployed" in reason


def test_the_default_contracts_must_be_deployed_too():
    """Without `contracts`, each client contract is the plan's contract of its name: a plan that
    deploys none of them is refused here, not when the address book lacks them."""
    with pytest.raises(ConfigError) as e:
        parse_fleet(fleet(), 1101, DEPLOYED - {"TokenStaking"})
    assert (e.value.key, e.value.reason) == (
        "keep-cd:fleet.contracts.TokenStaking",
        "'TokenStaking' is not deployed by the contracts plan (the address book will not have it)",
    )


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
    assert str(e.value).startswith(
        "contracts address book: no address for KeepToken (expected the contracts step to deploy it for provisioning: cluster"
    )
    assert "\n" not in str(e.value)
    assert book_address({**book, "KeepToken": "0x" + "33" * 20}, "KeepToken", "x") == "0x" + "33" * 20
    assert book_address(None, "KeepToken", "x") is UNKNOWN  # a never-migrated stack in preview


@pytest.mark.parametrize("name", ["Keep-A", "keep_a", "-keep", "keep-", "0keep", "a" * 64, "", 7, "a.b"])
def test_name_not_a_dns_label(name):
    key, reason = refused(fleet(counts=None, clients=[{"name": name, "role": "bootstrap"}]))
    assert key == "keep-cd:fleet.clients[0].name" and "DNS-1123 label" in reason


def test_namespace_not_a_dns_label():
    assert refused(fleet(namespace="Keep Dev"))[0] == "keep-cd:fleet.namespace"


@pytest.mark.parametrize("counts", [{"bootstrap": -1}, {"bootstrap": 1, "standard": -2}, {"bootstrap": 1.5}])
def test_negative_or_non_integer_counts(counts):
    key, reason = refused(fleet(counts=counts))
    assert key.startswith("keep-cd:fleet.counts.") and "is not an integer >= 0" in reason


@pytest.mark.parametrize("counts", [{"bootstrap": 0, "standard": 0}, {}])
def test_zero_clients(counts):
    key, reason = refused(fleet(counts=counts))
    assert key == "keep-cd:fleet.counts" and reason.startswith("no clients")
    key, reason = refused(fleet(counts=None, clients=[]))
    assert key == "keep-cd:fleet.clients" and reason.startswith("no clients")


def test_unknown_role():
    assert refused(fleet(counts={"bootstrap": 1, "miner": 2})) == (
        "keep-cd:fleet.counts.miner",
        "unknown role (expected bootstrap or standard)",
    )
    key, reason = refused(fleet(counts=None, clients=[{"name": "a", "role": "miner"}]))
    assert key == "keep-cd:fleet.clients[0].role" and "is not a role" in reason


def test_both_clients_and_counts():
    key, reason = refused(fleet(clients=[{"name": "a", "role": "bootstrap"}]))
    assert key == "keep-cd:fleet.clients" and "both clients and counts" in reason


@pytest.mark.parametrize(
    "eth, field",
    [
        ({"url": "http://eth:8546", "urlRpc": "http://eth:8545"}, "ethereum.url"),
        ({"url": "ws://eth:8546", "urlRpc": "ws://eth:8545"}, "ethereum.urlRpc"),
        ({"urlRpc": "http://eth:8545"}, "ethereum.url"),
    ],
)
def test_chain_urls(eth, field):
    assert refused(fleet(ethereum=eth))[0] == f"keep-cd:fleet.{field}"


def test_keel_with_a_digest_pinned_image():
    image = {"repository": "keep/client", "digest": "sha256:" + "cd" * 32}
    key, reason = refused(fleet(image=image, keel={"policy": "all"}))
    assert key == "keep-cd:fleet.keel" and "Keel can only move tags" in reason


def test_bad_keel_policy_and_quantities():
    assert refused(fleet(keel={"policy": "sometimes"}))[0] == "keep-cd:fleet.keel.policy"
    assert refused(fleet(resources={"limits": {"cpu": "lots"}}))[0] == "keep-cd:fleet.resources.limits.cpu"
    assert refused(fleet(storage={"size": "big"}))[0] == "keep-cd:fleet.storage.size"


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
    key, reason = refused(fleet(resources=resources))
    assert key == f"keep-cd:fleet.{field}" and "more than its limit" in reason


def test_requests_up_to_their_limits_are_fine():
    spec = parse_fleet(
        fleet(resources={"requests": {"cpu": "0.5", "memory": "512Mi"}, "limits": {"cpu": "500m", "memory": "536870912"}}), 1101, DEPLOYED
    )
    assert spec.resources.requests == {"cpu": "0.5", "memory": "512Mi"}


@pytest.mark.parametrize("part_of", ["keep network", "-keep", "a" * 64, "", 7])
def test_part_of_not_a_label_value(part_of):
    assert refused(fleet(partOf=part_of))[0] == "keep-cd:fleet.partOf"


@pytest.mark.parametrize("storage_class", ["Fast_SSD", "fast-", "a" * 254, 3])
def test_storage_class_not_a_name(storage_class):
    assert refused(fleet(storage={"size": "1Gi", "storageClass": storage_class}))[0] == "keep-cd:fleet.storage.storageClass"


@pytest.mark.parametrize(
    "raw,refusal",
    [
        pytest.param(
            [1],
            (
                "keep-cd:fleet",
                "expected a map with keys clients, contracts, counts, createNamespace, diagnosticsPort, ethereum, image, initImage, initResources, keel, metricsPort, metricsTicks, namespace, partOf, port, resources, storage",
            ),
            id="not a map",
        ),
        pytest.param(
            fleet(namespace="Keep Dev"),
            (
                "keep-cd:fleet.namespace",
                "'Keep Dev' is not a DNS-1123 label starting with a letter (lowercase a-z, 0-9, '-', at most 63 characters)",
            ),
            id="namespace",
        ),
        pytest.param(
            fleet(namespace="a" * 64),
            (
                "keep-cd:fleet.namespace",
                "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a DNS-1123 label starting with a letter (lowercase a-z, 0-9, '-', at most 63 characters)",
            ),
            id="namespace long",
        ),
        pytest.param(fleet(ethereum="x"), ("keep-cd:fleet.ethereum", "expected a map with keys url, urlRpc"), id="eth not map"),
        pytest.param(
            fleet(ethereum={"urlRpc": "http://e:1"}),
            ("keep-cd:fleet.ethereum.url", "not set (expected a ws:// or wss:// URL (the clients' websocket endpoint in the cluster))"),
            id="url missing",
        ),
        pytest.param(
            fleet(ethereum={"url": "ws://e:1"}),
            ("keep-cd:fleet.ethereum.urlRpc", "not set (expected an http(s):// URL (the clients' JSON-RPC endpoint in the cluster))"),
            id="urlRpc missing",
        ),
        pytest.param(
            fleet(ethereum={"url": "http://e:1", "urlRpc": "http://e:1"}),
            ("keep-cd:fleet.ethereum.url", "'http://e:1' is not a ws:// or wss:// URL (the clients' websocket endpoint in the cluster)"),
            id="url http",
        ),
        pytest.param(
            fleet(ethereum={"url": "ws://e:1", "urlRpc": "ws://e:1"}),
            ("keep-cd:fleet.ethereum.urlRpc", "'ws://e:1' is not an http(s):// URL (the clients' JSON-RPC endpoint in the cluster)"),
            id="urlRpc ws",
        ),
        pytest.param(
            fleet(contracts={"TokenStaking": "StakingProxy"}),
            (
                "keep-cd:fleet.contracts.TokenStaking",
                "'StakingProxy' is not deployed by the contracts plan (the address book will not have it)",
            ),
            id="contract",
        ),
        pytest.param(
            fleet(storage={"size": "big"}), ("keep-cd:fleet.storage.size", "'big' is not a storage quantity (e.g. 1Gi)"), id="storage"
        ),
        pytest.param(
            fleet(storage={"size": 5}), ("keep-cd:fleet.storage.size", "5 is not a storage quantity (e.g. 1Gi)"), id="storage int"
        ),
        pytest.param(
            fleet(keel={"policy": "sometimes"}),
            (
                "keep-cd:fleet.keel.policy",
                "'sometimes' is not a Keel policy (expected all, major, minor, patch, force, glob:… or regexp:…)",
            ),
            id="keel policy",
        ),
        pytest.param(
            fleet(image={"repository": "keep/client", "digest": "sha256:" + "cd" * 32}, keel={}),
            ("keep-cd:fleet.keel", "Keel is on but image is pinned by digest (Keel can only move tags; drop one of them)"),
            id="keel digest",
        ),
        pytest.param(
            fleet(image=None), ("keep-cd:fleet.image", "not set (expected a map with keys digest, repository, tag)"), id="image none"
        ),
        pytest.param(
            fleet(image={"repository": "keep/client:v1"}),
            ("keep-cd:fleet.image.repository", "'keep/client:v1' is not an image repository (put the tag/digest in tag/digest)"),
            id="image repo",
        ),
        pytest.param(
            fleet(image={"repository": "keep/client@x", "tag": "v"}),
            ("keep-cd:fleet.image.repository", "'keep/client@x' is not an image repository (put the tag/digest in tag/digest)"),
            id="image repo @",
        ),
        pytest.param(
            fleet(initImage={"repository": "keep/init"}),
            ("keep-cd:fleet.initImage", "image keep/init has no tag or digest (expected tag: v1.2.3 or digest: sha256:<64 hex>)"),
            id="init image notag",
        ),
        pytest.param(
            fleet(image={"repository": "keep/client", "digest": "sha256:abc"}),
            ("keep-cd:fleet.image.digest", "'sha256:abc' is not a digest (sha256:<64 hex>)"),
            id="image digest",
        ),
        pytest.param(
            fleet(image={"repository": "keep/client", "tag": "v1 2"}),
            ("keep-cd:fleet.image.tag", "'v1 2' is not an image tag"),
            id="image tag",
        ),
        pytest.param(
            fleet(image={"repository": "keep/client", "tag": 5}), ("keep-cd:fleet.image.tag", "5 is not an image tag"), id="image tag int"
        ),
        pytest.param(
            fleet(initImage={"repository": "", "tag": "v"}),
            ("keep-cd:fleet.initImage.repository", "not set (expected an image repository (put the tag/digest in tag/digest))"),
            id="init image",
        ),
        pytest.param(
            fleet(clients=[{"name": "a", "role": "bootstrap"}]),
            ("keep-cd:fleet.clients", "both clients and counts are set (expected one of them)"),
            id="both",
        ),
        pytest.param(fleet(port=0), ("keep-cd:fleet.port", "0 is not a port (an integer in 1..65535)"), id="port"),
        pytest.param(
            fleet(counts={"bootstrap": 1, "miner": 2}),
            ("keep-cd:fleet.counts.miner", "unknown role (expected bootstrap or standard)"),
            id="counts unknown",
        ),
        pytest.param(fleet(counts={"bootstrap": -1}), ("keep-cd:fleet.counts.bootstrap", "-1 is not an integer >= 0"), id="counts neg"),
        pytest.param(fleet(counts={"bootstrap": 1.5}), ("keep-cd:fleet.counts.bootstrap", "1.5 is not an integer >= 0"), id="counts float"),
        pytest.param(
            fleet(counts={"bootstrap": True}), ("keep-cd:fleet.counts.bootstrap", "True is not an integer >= 0"), id="counts bool"
        ),
        pytest.param(
            fleet(counts=[1]),
            ("keep-cd:fleet.counts", "[1] is not a map of clients per role (bootstrap and standard)"),
            id="counts not map",
        ),
        pytest.param(
            fleet(counts=None, clients={"a": 1}),
            ("keep-cd:fleet.clients", "{'a': 1} is not a list of {name, role, port?, metricsPort?, diagnosticsPort?}"),
            id="clients not list",
        ),
        pytest.param(
            fleet(counts=None, clients=["a"]),
            ("keep-cd:fleet.clients[0]", "expected a map with keys diagnosticsPort, metricsPort, name, port, role"),
            id="client not map",
        ),
        pytest.param(
            fleet(counts=None, clients=[{"name": "A", "role": "bootstrap"}]),
            (
                "keep-cd:fleet.clients[0].name",
                "'A' is not a DNS-1123 label starting with a letter (lowercase a-z, 0-9, '-', at most 63 characters)",
            ),
            id="client name",
        ),
        pytest.param(
            fleet(counts=None, clients=[{"name": "a", "role": "miner"}]),
            ("keep-cd:fleet.clients[0].role", "'miner' is not a role (expected bootstrap or standard)"),
            id="client role",
        ),
        pytest.param(
            fleet(counts=None, clients=[{"name": "a", "role": "bootstrap", "port": 70000}]),
            ("keep-cd:fleet.clients[0].port", "70000 is not a port (an integer in 1..65535)"),
            id="client port",
        ),
        pytest.param(
            fleet(counts={"bootstrap": 0}),
            ("keep-cd:fleet.counts", "no clients (expected at least one bootstrap client; leave keep-cd:fleet unset for none)"),
            id="no clients counts",
        ),
        pytest.param(
            fleet(counts=None, clients=[]),
            ("keep-cd:fleet.clients", "no clients (expected at least one bootstrap client; leave keep-cd:fleet unset for none)"),
            id="no clients list",
        ),
        pytest.param(
            fleet(counts=None),
            ("keep-cd:fleet.counts", "no clients (expected at least one bootstrap client; leave keep-cd:fleet unset for none)"),
            id="neither",
        ),
        pytest.param(
            fleet(counts=None, clients=[{"name": "a", "role": "bootstrap"}, {"name": "a", "role": "standard"}]),
            ("keep-cd:fleet.clients", "duplicate client name 'a' (each name is a Service and a volume)"),
            id="dupe",
        ),
        pytest.param(
            fleet(counts={"standard": 2}),
            ("keep-cd:fleet.counts", "standard clients but no bootstrap client (standard peers need a bootstrap peer to join)"),
            id="no bootstrap",
        ),
        pytest.param(
            fleet(resources={"limits": {"cpu": "lots"}}),
            ("keep-cd:fleet.resources.limits.cpu", "'lots' is not a cpu/memory quantity (e.g. 100m, 256Mi)"),
            id="resources",
        ),
        pytest.param(
            fleet(resources={"limits": {"gpu": "1"}}),
            ("keep-cd:fleet.resources.limits.gpu", "'gpu' is not a resource keep-cd sets (expected cpu or memory)"),
            id="resources key",
        ),
        pytest.param(
            fleet(resources={"limits": 5}),
            ("keep-cd:fleet.resources.limits", "5 is not a map of cpu/memory quantities"),
            id="resources not map",
        ),
        pytest.param(
            fleet(initResources={"requests": {"memory": 64}}),
            ("keep-cd:fleet.initResources.requests.memory", "64 is not a cpu/memory quantity (e.g. 100m, 256Mi)"),
            id="init resources",
        ),
    ],
)
def test_each_bad_fleet_value_has_its_own_whole_line(raw, refusal):
    assert refused(raw) == refusal


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
    assert spec.init_resources.requests == {"cpu": "50m", "memory": "32Mi"} and spec.init_resources.limits == {
        "cpu": "200m",
        "memory": "128Mi",
    }
    assert (spec.part_of, spec.create_namespace, spec.chain.url, spec.chain.url_rpc) == (
        "keep-test",
        True,
        BASE["ethereum"]["url"],
        BASE["ethereum"]["urlRpc"],
    )
    assert {c.port for c in spec.clients} == {4000}


def test_fleet_defaults():
    spec = parse_fleet(fleet(), 1101, DEPLOYED)
    assert (spec.storage.size, spec.storage.storage_class, spec.keel) == ("1Gi", None, None)
    assert (spec.part_of, spec.create_namespace, spec.namespace) == ("keep-network", False, "keep-dev")
    assert spec.resources.requests == {"cpu": "100m", "memory": "256Mi"} and spec.resources.limits == {"cpu": "500m", "memory": "512Mi"}
    assert spec.init_resources.requests == {"cpu": "50m", "memory": "64Mi"} and spec.init_resources.limits == {
        "cpu": "200m",
        "memory": "128Mi",
    }
    keel = parse_fleet(fleet(keel={}), 1101, DEPLOYED).keel
    assert (keel.policy, keel.trigger, keel.poll_schedule) == ("all", "poll", None)
    listed = parse_fleet(
        fleet(
            counts=None, clients=[{"name": "z", "role": "standard"}, {"name": "b", "role": "bootstrap"}, {"name": "a", "role": "standard"}]
        ),
        1,
        DEPLOYED,
    )
    assert [(c.name, c.role) for c in listed.clients] == [
        ("b", "bootstrap"),
        ("a", "standard"),
        ("z", "standard"),
    ]  # bootstrap first, then by name


@pytest.mark.parametrize(
    "over,refusal",
    [
        (dict(image="keep/client:v1"), ("keep-cd:fleet.image", "expected a map with keys digest, repository, tag")),
        (
            dict(contracts=["TokenStaking"]),
            ("keep-cd:fleet.contracts", "['TokenStaking'] is not a map of keep-client config key -> contract name"),
        ),
        (dict(storage="1Gi"), ("keep-cd:fleet.storage", "expected a map with keys size, storageClass")),
        (dict(resources="small"), ("keep-cd:fleet.resources", "expected a map with keys limits, requests")),
        (dict(keel="on"), ("keep-cd:fleet.keel", "expected a map with keys policy, pollSchedule, trigger")),
    ],
)
def test_sections_that_are_not_maps(over, refusal):
    assert refused(fleet(**over)) == refusal


def test_the_edges_the_fleet_takes():
    spec = parse_fleet(fleet(namespace="a" * 63, counts=None, clients=[{"name": "b", "role": "bootstrap", "port": 1}]), 1, DEPLOYED)
    assert spec.namespace == "a" * 63 and spec.clients[0].port == 1


def test_keel_patterns():
    for policy in ("glob:v1.*", "regexp:^v1\\."):
        assert parse_fleet(fleet(keel={"policy": policy}), 1, DEPLOYED).keel.policy == policy
