"""The fleet: what the whole program on the `local` stack registers under the offline runner
(contracts migrated and operators staked for real on anvil), and the shape of what KeepNetwork
renders, built directly under the SDK's public mocks (no chain, no migration)."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

import bench.offline.runner as runner
from chain.errors import ConfigError
from fleet_support import BOOK, by_kind, checksums, fleet_config, operator_key, render_fleet, run_fleet
from test_peer_id import independent_peer_id

COUNTS = {"bootstrap": 2, "standard": 3}
BOOTSTRAP = ["keep-bootstrap-0", "keep-bootstrap-1"]
STANDARD = ["keep-standard-0", "keep-standard-1", "keep-standard-2"]


@pytest.fixture(scope="module")
def chain(anvil, tmp_path_factory):
    """A deployer on the shared anvil and a state file whose contracts are migrated once."""
    deployer = anvil.new_account()
    state = str(tmp_path_factory.mktemp("fleet") / "state.json")
    first = run_fleet(anvil.url, deployer.key.hex(), state, fleet_config(counts=COUNTS))
    return anvil, deployer.key.hex(), state, first


def test_n_clients_produce_exactly_the_expected_objects(chain):
    result = chain[3]
    names = BOOTSTRAP + STANDARD
    expected = {
        ("kubernetes:core/v1:Namespace", "keep-network-namespace"),
        ("keep:cluster:KeepNetwork", "keep-network"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "keep-network-libp2p"),
        # the clients' operator accounts (their stakes are a dynamic resource, left out below)
        ("keep:operators:OperatorAccounts", "operators"),
        # the local stack's renderYamlToDirectory: with the CLI, objects become YAML files
        ("pulumi:providers:kubernetes", "render-yaml"),
    }
    for n in names:
        expected |= {
            ("keep:cluster:KeepClient", n),
            ("kubernetes:core/v1:ConfigMap", f"{n}-config"),
            ("kubernetes:core/v1:Secret", f"{n}-eth-account"),
            ("kubernetes:core/v1:PersistentVolumeClaim", f"{n}-data"),
            ("kubernetes:core/v1:Service", n),
            ("kubernetes:apps/v1:Deployment", n),
        }
    got = [(r.type, r.name) for r in result.resources if not r.type.startswith("pulumi-python:dynamic")]
    assert sorted(got) == sorted(expected)  # exactly these, none twice
    # One volume per client, each Deployment mounting its own.
    for n, d in by_kind(result, "Deployment").items():
        volumes = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"]["claimName"] == f"{n}-data"
        assert d["spec"]["replicas"] == 1 and d["spec"]["strategy"]["type"] == "Recreate"
        assert d["metadata"]["namespace"] == "keep-test-fleet"
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == ("bootstrap" if n in BOOTSTRAP else "standard")
        assert labels["app.kubernetes.io/instance"] == n and labels["app.kubernetes.io/version"] == "v1.8.0"


def _identities(result) -> dict:
    """name -> (address, private key) recovered from each client's Secret."""
    out = {}
    for name, s in by_kind(result, "Secret").items():
        client = name.removesuffix("-eth-account")
        key = bytes(Account.decrypt(json.loads(s["stringData"]["eth_account_keyfile"]), s["stringData"]["eth_account_password"]))
        out[client] = (Account.from_key(key).address, key)
    return out


def test_standard_peers_list_every_bootstrap_peer_with_its_correct_id(chain):
    result = chain[3]
    ids = _identities(result)
    expected = sorted(f"/dns4/{b}.keep-test-fleet.svc.cluster.local/tcp/3919/ipfs/{independent_peer_id(ids[b][1])}" for b in BOOTSTRAP)
    import tomllib

    configs = {
        n.removesuffix("-config"): tomllib.loads(c["data"]["keep-client-config.toml"]) for n, c in by_kind(result, "ConfigMap").items()
    }
    for n in STANDARD:
        assert sorted(configs[n]["LibP2P"]["Peers"]) == expected
        assert configs[n]["LibP2P"]["AnnouncedAddresses"] == [f"/dns4/{n}.keep-test-fleet.svc.cluster.local/tcp/3919"]
    for n in BOOTSTRAP:
        assert "Peers" not in configs[n]["LibP2P"]
    for n, cfg in configs.items():
        assert cfg["ethereum"]["account"]["Address"] == ids[n][0]
        book = result.outputs["addressBook"]
        assert cfg["ethereum"]["ContractAddresses"] == {
            k: book[k] for k in ("KeepRandomBeaconOperator", "TokenStaking", "KeepRandomBeaconService")
        }
    assert sorted(result.outputs["bootstrapPeers"]) == expected


def test_rerun_changes_no_checksum(chain):
    anvil, key, state, first = chain
    again = run_fleet(anvil.url, key, state, fleet_config(counts=COUNTS))
    assert checksums(again) == checksums(first)


def all_clients() -> list:
    return [{"name": n, "role": "bootstrap"} for n in BOOTSTRAP] + [{"name": n, "role": "standard"} for n in STANDARD]


def test_one_clients_port_changes_only_its_own_checksum(operator_mnemonic):
    before = render_fleet(fleet_config(clients=all_clients()), operator_mnemonic).checksums()
    assert render_fleet(fleet_config(counts=COUNTS), operator_mnemonic).checksums() == before  # counts or a list: the same
    clients = all_clients()
    clients[3]["port"] = 4000  # keep-standard-1
    after = render_fleet(fleet_config(clients=clients), operator_mnemonic).checksums()
    assert set(before) == set(BOOTSTRAP + STANDARD)
    assert [n for n in before if before[n] != after[n]] == ["keep-standard-1"]


def test_a_bootstrap_on_its_own_port_is_listed_at_that_port(operator_mnemonic):
    """Each standard client's Peers names every bootstrap client at the port that client listens
    on, not the default one: a bootstrap moved to 4123 is reached at 4123."""
    import tomllib

    clients = all_clients()
    clients[0]["port"] = 4123  # keep-bootstrap-0; keep-bootstrap-1 keeps the default
    fleet = render_fleet(fleet_config(clients=clients), operator_mnemonic)
    configs = {
        n.removesuffix("-config"): tomllib.loads(c["data"]["keep-client-config.toml"]) for n, c in fleet.by_kind("ConfigMap").items()
    }
    ports = {b: int(configs[b]["LibP2P"]["Port"]) for b in BOOTSTRAP}
    assert ports == {"keep-bootstrap-0": 4123, "keep-bootstrap-1": 3919}
    for n in STANDARD:
        listed = {p.split("/")[2].split(".")[0]: int(p.split("/tcp/")[1].split("/")[0]) for p in configs[n]["LibP2P"]["Peers"]}
        assert listed == ports, n


def test_another_mnemonic_changes_every_checksum(operator_mnemonic):
    before = render_fleet(fleet_config(counts=COUNTS), operator_mnemonic).checksums()
    after = render_fleet(fleet_config(counts=COUNTS), Account.create_with_mnemonic()[1]).checksums()
    assert set(before) == set(after) == set(BOOTSTRAP + STANDARD)
    assert all(before[n] != after[n] for n in before)


def test_a_changed_contract_address_changes_every_clients_checksum(operator_mnemonic):
    """A new address of one contract the clients read (as a redeploy gives it): every client
    rolls, with one new contracts hash; an address the clients do not read rolls none."""
    first = render_fleet(fleet_config(counts=COUNTS), operator_mnemonic)
    second = render_fleet(fleet_config(counts=COUNTS), operator_mnemonic, book={**BOOK, "KeepRandomBeaconService": "0x" + "55" * 20})
    unread = render_fleet(fleet_config(counts=COUNTS), operator_mnemonic, book={**BOOK, "KeepToken": "0x" + "66" * 20})
    before, after = first.checksums(), second.checksums()
    assert set(before) == set(after) and all(before[n] != after[n] for n in before)
    assert unread.checksums() == before

    def hashes(fleet) -> set:
        return {d["spec"]["template"]["metadata"]["annotations"]["keep-cd/contracts-hash"] for d in fleet.by_kind("Deployment").values()}

    assert len(hashes(second)) == 1 and hashes(second) != hashes(first)


def test_clients_run_as_the_operators_of_the_mnemonic(chain, operator_mnemonic):
    ids = _identities(chain[3])
    assert {n: k for n, (_, k) in ids.items()} == {n: operator_key(operator_mnemonic, n) for n in BOOTSTRAP + STANDARD}
    assert chain[3].outputs["operators"] == {n: a for n, (a, _) in ids.items()}


def test_no_secret_value_outside_secrets(chain, operator_mnemonic):
    anvil, key, state, result = chain
    ids = _identities(result)
    secrets = {operator_mnemonic}
    for s in by_kind(result, "Secret").values():
        secrets |= set(s["stringData"].values())
    for _, private_key in ids.values():
        secrets |= {private_key.hex(), "0x" + private_key.hex()}
    plain = [json.dumps(r.inputs) for r in result.resources if r.inputs.get("kind") != "Secret"]
    plain.append(json.dumps(result.outputs))
    with open(state) as f:
        plain.append(f.read())
    for text in plain:
        for secret in secrets:
            assert secret not in text
    for cm in by_kind(result, "ConfigMap").values():
        assert "eth_account_password" not in cm["data"]["keep-client-config.toml"]
    # The Secret's values are marked secret for the engine (encrypted in state, hidden in diffs).
    assert all("stringData" in r.secret_paths for r in result.resources if r.inputs.get("kind") == "Secret")
    # The password reaches keep-client as an env var from the Secret, never as a literal.
    for d in by_kind(result, "Deployment").values():
        (env,) = d["spec"]["template"]["spec"]["containers"][0]["env"]
        assert env["name"] == "KEEP_ETHEREUM_PASSWORD" and "value" not in env
        assert env["valueFrom"]["secretKeyRef"]["key"] == "eth_account_password"


def test_standard_deployments_wait_for_every_bootstrap_deployment(operator_mnemonic):
    """What KeepNetwork tells the engine: each standard Deployment depends on every bootstrap
    Deployment (so bootstrap peers roll first), bootstrap Deployments on none; every Deployment
    waits for what it is given to start after (the operators' stakes)."""
    fleet = render_fleet(fleet_config(counts=COUNTS), operator_mnemonic)
    deployment = "kubernetes:apps/v1:Deployment"
    waits = {name: deps for (typ, name), deps in fleet.depends_on.items() if typ == deployment}
    assert {n: {d for t, d in deps if t == deployment} for n, deps in waits.items()} == {
        **{b: set() for b in BOOTSTRAP},
        **{s: set(BOOTSTRAP) for s in STANDARD},
    }
    assert all(("keep:operators:OperatorStakes", "operator-stakes") in deps for deps in waits.values())
    # Nothing but the Deployments waits for another client (their configs and volumes need not).
    assert {(typ, name) for (typ, name), deps in fleet.depends_on.items() if any(t == deployment for t, _ in deps)} == {
        (deployment, s) for s in STANDARD
    }


def test_every_deployment_of_the_program_waits_for_the_operators_stakes(chain, monkeypatch):
    """The program hands the operators' stakes to the fleet: each Deployment it registers waits for them."""
    anvil, key, state, _ = chain
    stakes = {}
    original = runner.CapturingMonitor.RegisterResource

    def record(self, request):
        stakes[(request.type, request.name)] = any(u.endswith("::operator-stakes") for u in request.dependencies)
        return original(self, request)

    monkeypatch.setattr(runner.CapturingMonitor, "RegisterResource", record)
    run_fleet(anvil.url, key, state, fleet_config(counts=COUNTS), preview=True)
    assert {name for (typ, name), waits in stakes.items() if waits} == set(BOOTSTRAP + STANDARD)
    assert {name for typ, name in stakes if typ == "kubernetes:apps/v1:Deployment"} == set(BOOTSTRAP + STANDARD)


def test_bad_fleet_config_fails_before_any_transaction(fresh_anvil, tmp_path):
    deployer = fresh_anvil.new_account()
    for bad, expected in [
        (fleet_config(counts={"standard": 2}), "no bootstrap client"),
        (fleet_config(counts={"bootstrap": 1}, kdfIterations=1024), "fleet.kdfIterations: no longer read"),
        (fleet_config(counts={"bootstrap": 1}, initImage={"repository": "keep/init"}), "no tag or digest"),
    ]:
        with pytest.raises(ConfigError, match=expected):
            run_fleet(fresh_anvil.url, deployer.key.hex(), str(tmp_path / "s.json"), bad)
    from bench.chains.anvil import rpc

    assert int(rpc(fresh_anvil.url, "eth_getTransactionCount", [deployer.address, "latest"]), 16) == 0
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(
    "overrides,key,why",
    [
        # A fleet needs the operators section: each client runs as an operator.
        ({"operators": None}, "keep-cd:operators", "not set, but keep-cd:fleet is (every fleet client runs as an operator"),
        ({}, "keep-cd:operatorMnemonic", "not set (expected a BIP-39 mnemonic"),
    ],
)
def test_fleet_without_operator_keys_is_a_one_line_error(anvil, tmp_path, monkeypatch, overrides, key, why):
    monkeypatch.delenv("KEEP_CD_OPERATOR_MNEMONIC")
    from bench.chains.anvil import rpc

    deployer = anvil.new_account()
    with pytest.raises(ConfigError) as e:
        run_fleet(anvil.url, deployer.key.hex(), str(tmp_path / "s.json"), fleet_config(counts=COUNTS), extra=overrides)
    assert e.value.key == key and (e.value.reason or "").startswith(why) and "\n" not in str(e.value)
    assert int(rpc(anvil.url, "eth_getTransactionCount", [deployer.address, "latest"]), 16) == 0
    assert not (tmp_path / "s.json").exists()


def test_preview_of_a_never_migrated_stack_leaves_configs_unknown(anvil, tmp_path, operator_mnemonic):
    """As `pulumi preview` on a new stack: no addresses yet, so configs and checksums are unknown
    (not an error, not a placeholder) and nothing is sent."""
    from pulumi.output import Unknown

    deployer = anvil.new_account()
    result = run_fleet(
        anvil.url, deployer.key.hex(), str(tmp_path / "s.json"), fleet_config(counts={"bootstrap": 1, "standard": 1}), preview=True
    )
    configs = by_kind(result, "ConfigMap")
    assert len(configs) == 2 and all(isinstance(c["data"]["keep-client-config.toml"], Unknown) for c in configs.values())
    assert all(isinstance(v, Unknown) for v in checksums(result).values())
    assert result.outputs["bootstrapPeers"][0].endswith(independent_peer_id(operator_key(operator_mnemonic, "keep-bootstrap-0")))
    assert not (tmp_path / "s.json").exists()
