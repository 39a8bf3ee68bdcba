"""The settings package without a chain: the contracts and operators sections (and the whole settings)
read from a Pulumi config into typed values, and each bad value refused with its one line."""

from __future__ import annotations

import json
import os

import pulumi
import pytest
import yaml
from eth_account import Account

from chain.errors import ConfigError
from hd_paths import operator_index
from operators.keys import KeystoreParams, OperatorClient
from settings import load_contracts, load_operators, load_settings
from settings.stack import check_known_keys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

Account.enable_unaudited_hdwallet_features()
MNEMONIC = Account.create_with_mnemonic()[1]
FLEET = {
    "namespace": "keep-dev",
    "image": {"repository": "keep/client", "tag": "v1.8.0"},
    "initImage": {"repository": "keep/init", "tag": "v1.8.0"},
    "ethereum": {"url": "ws://eth:8546", "urlRpc": "http://eth:8545"},
    "counts": {"bootstrap": 1, "standard": 1},
}


def configure(monkeypatch, **values) -> pulumi.Config:
    """The keep-cd config with these keys (None: unset); the mnemonic only where given."""
    monkeypatch.delenv("KEEP_CD_OPERATOR_MNEMONIC", raising=False)
    config = {"keep-cd:chainId": "31337", "keep-cd:rpcUrl": "http://127.0.0.1:8545"}
    for key, value in values.items():
        if value is None:
            config.pop(f"keep-cd:{key}", None)
        else:
            config[f"keep-cd:{key}"] = value if isinstance(value, str) else json.dumps(value)
    pulumi.runtime.set_all_config(config, [k for k in config if k.endswith(("operatorMnemonic", "operatorKeys"))])
    return pulumi.Config("keep-cd")


def operators(monkeypatch, section, fleet_names=None, **values):
    if section is not None:
        values["operators"] = section
    values.setdefault("operatorMnemonic", MNEMONIC)
    return load_operators(configure(monkeypatch, **values), fleet_names)


def refused(load) -> tuple:
    """(key, reason) of the ConfigError that ``load`` raises, after checking it is one line."""
    with pytest.raises(ConfigError) as e:
        load()
    assert str(e.value) == f"config {e.value.key}: {e.value.reason}" and "\n" not in str(e.value)
    return e.value.key, e.value.reason


def resolved(output: pulumi.Output) -> tuple:
    """(value, is it secret) of ``output``, awaited by ``@pulumi.runtime.test``."""
    got: list = []

    @pulumi.runtime.test
    def read():
        return pulumi.Output.all(output, pulumi.Output.from_input(output.is_secret())).apply(got.extend)

    read()
    return tuple(got)


# --- operators ------------------------------------------------------------------------------------


def test_no_section_or_no_clients_means_no_operators(monkeypatch):
    assert operators(monkeypatch, None) is None
    assert operators(monkeypatch, {"provisioning": "deploy"}) is None  # one per fleet client, and no fleet


def test_defaults_with_a_count(monkeypatch):
    s = operators(monkeypatch, {"count": 2})
    assert s.clients == (OperatorClient("keep-client-0", 0), OperatorClient("keep-client-1", 1))
    assert (s.provisioning, s.on_remove, s.beneficiary) == ("deploy", "leave", "operator")
    assert s.keystore == KeystoreParams("scrypt", 262_144)  # go-ethereum's standard scrypt N
    assert (s.eth_threshold, s.eth_target, s.stake_amount) == (5 * 10**17, 10**18, None)
    assert resolved(s.mnemonic) == (MNEMONIC, True)
    assert s.explicit_keys is None


def test_every_value_given(monkeypatch):
    owner_key = Account.create().key.hex()
    s = operators(
        monkeypatch,
        {
            "count": 1,
            "namePrefix": "op-",
            "provisioning": "cluster",
            "onRemove": "undelegate",
            "keystoreKdf": "pbkdf2",
            "keystoreCost": 1000,
            "ethThreshold": "7",
            "ethTarget": " 9 ",
            "stakeAmount": "12000000000000000000000000",
            "beneficiary": "owner",
        },
        operatorKeys={"op-0": owner_key},
    )
    assert s.clients == (OperatorClient("op-0", 0),)
    assert (s.provisioning, s.on_remove, s.beneficiary) == ("cluster", "undelegate", "owner")
    assert s.keystore == KeystoreParams("pbkdf2", 1000)
    assert (s.eth_threshold, s.eth_target, s.stake_amount) == (7, 9, 12 * 10**24)
    assert resolved(s.explicit_keys) == ({"op-0": owner_key}, True)


def test_the_pbkdf2_default_cost_and_an_integer_stake(monkeypatch):
    s = operators(monkeypatch, {"count": 1, "keystoreKdf": "pbkdf2", "stakeAmount": 5})
    assert s.keystore == KeystoreParams("pbkdf2", 262_144) and s.stake_amount == 5


def test_a_minimum_stake_is_read_at_run_time(monkeypatch):
    assert operators(monkeypatch, {"count": 1, "stakeAmount": "minimum"}).stake_amount is None


def test_the_mnemonic_may_come_from_the_environment(monkeypatch):
    cfg = configure(monkeypatch, operators={"count": 1})
    monkeypatch.setenv("KEEP_CD_OPERATOR_MNEMONIC", MNEMONIC)
    s = load_operators(cfg, None)
    assert resolved(s.mnemonic) == (MNEMONIC, True)


def test_one_operator_per_fleet_client_by_default(monkeypatch):
    s = operators(monkeypatch, {}, ["keep-bootstrap-0", "keep-standard-0"])
    assert s.clients == tuple(OperatorClient(n, operator_index(n)) for n in ("keep-bootstrap-0", "keep-standard-0"))


def test_listed_clients_take_their_position_as_default_index(monkeypatch):
    s = operators(monkeypatch, {"clients": [{"name": "a"}, {"name": "b", "index": 7}, {"name": "c"}]}, ["a", "b"])
    assert s.clients == (OperatorClient("a", 0), OperatorClient("b", 7), OperatorClient("c", 2))


@pytest.mark.parametrize(
    "section,fleet,refusal",
    [
        (
            [1],
            None,
            (
                "keep-cd:operators",
                "expected a map with keys beneficiary, clients, count, ethTarget, ethThreshold, keystoreCost, keystoreKdf, namePrefix, onRemove, provisioning, stakeAmount",
            ),
        ),
        ({"clients": []}, None, ("keep-cd:operators.clients", "[] is not a non-empty list of {name, index}")),
        ({"clients": "a"}, None, ("keep-cd:operators.clients", "'a' is not a non-empty list of {name, index}")),
        ({"clients": [{"index": 1}]}, None, ("keep-cd:operators.clients[0].name", "not set (expected a client name)")),
        ({"clients": [{"name": "a"}, "b"]}, None, ("keep-cd:operators.clients[1]", "expected a map with keys index, name")),
        ({"clients": [{"name": ""}]}, None, ("keep-cd:operators.clients[0].name", "not set (expected a client name)")),
        ({"clients": [{"name": "a", "index": -1}]}, None, ("keep-cd:operators.clients[0].index", "-1 is not an HD index 0..2^31-1")),
        (
            {"clients": [{"name": "a", "index": 2**31}]},
            None,
            ("keep-cd:operators.clients[0].index", "2147483648 is not an HD index 0..2^31-1"),
        ),
        ({"clients": [{"name": "a", "index": True}]}, None, ("keep-cd:operators.clients[0].index", "True is not an HD index 0..2^31-1")),
        ({"clients": [{"name": "a", "index": "1"}]}, None, ("keep-cd:operators.clients[0].index", "'1' is not an HD index 0..2^31-1")),
        (
            {"clients": [{"name": "a"}, {"name": "a", "index": 3}]},
            None,
            ("keep-cd:operators.clients", "name 'a' is used by two clients (expected each once)"),
        ),
        (
            {"clients": [{"name": "a", "index": 1}, {"name": "b", "index": 1}]},
            None,
            ("keep-cd:operators.clients", "index 1 is used by two clients (expected each once)"),
        ),
        (
            {"clients": [{"name": "a"}]},
            ["a", "b"],
            (
                "keep-cd:operators.clients",
                "no operator for fleet client 'b' (expected one per fleet client; leave out count and clients to take the fleet's)",
            ),
        ),
        ({"count": 0}, None, ("keep-cd:operators.count", "0 is not a positive integer (or give operators.clients, or a fleet)")),
        ({"count": True}, None, ("keep-cd:operators.count", "True is not a positive integer (or give operators.clients, or a fleet)")),
        ({"count": "2"}, None, ("keep-cd:operators.count", "'2' is not a positive integer (or give operators.clients, or a fleet)")),
        (
            {"count": 1, "provisioning": "pod"},
            None,
            ("keep-cd:operators.provisioning", "'pod' is not a provisioning mode (expected deploy or cluster)"),
        ),
        (
            {"count": 1, "onRemove": "delete"},
            None,
            ("keep-cd:operators.onRemove", "'delete' is not a removal policy (expected leave or undelegate)"),
        ),
        (
            {"count": 1, "keystoreKdf": "argon2"},
            None,
            ("keep-cd:operators.keystoreKdf", "'argon2' is not a keystore KDF (expected one of scrypt, pbkdf2)"),
        ),
        (
            {"count": 1, "keystoreCost": 1000},
            None,
            ("keep-cd:operators.keystoreCost", "1000 is not a power of two (scrypt's N must be, e.g. 4096 or 262144)"),
        ),
        ({"count": 1, "keystoreKdf": "pbkdf2", "keystoreCost": 1}, None, ("keep-cd:operators.keystoreCost", "1 is not an integer >= 2")),
        ({"count": 1, "ethThreshold": "abc"}, None, ("keep-cd:operators.ethThreshold", "'abc' is not a positive integer (wei)")),
        ({"count": 1, "ethThreshold": 0}, None, ("keep-cd:operators.ethThreshold", "0 is not a positive integer (wei)")),
        ({"count": 1, "ethTarget": True}, None, ("keep-cd:operators.ethTarget", "True is not a positive integer (wei)")),
        ({"count": 1, "ethTarget": 1.5}, None, ("keep-cd:operators.ethTarget", "1.5 is not a positive integer (wei)")),
        (
            {"count": 1, "ethThreshold": 10, "ethTarget": 5},
            None,
            ("keep-cd:operators.ethTarget", "5 is below ethThreshold 10 (expected target >= threshold, or every run would fund again)"),
        ),
        (
            {"count": 1, "stakeAmount": 0},
            None,
            ("keep-cd:operators.stakeAmount", '0 is not a positive integer (KEEP base units, or "minimum")'),
        ),
        (
            {"count": 1, "stakeAmount": "lots"},
            None,
            ("keep-cd:operators.stakeAmount", "'lots' is not a positive integer (KEEP base units, or \"minimum\")"),
        ),
        ({"count": 1, "beneficiary": "me"}, None, ("keep-cd:operators.beneficiary", '\'me\' is not "operator", "owner" or an address')),
    ],
)
def test_a_bad_operators_value_is_named_in_one_line(monkeypatch, section, fleet, refusal):
    assert refused(lambda: operators(monkeypatch, section, fleet)) == refusal


@pytest.mark.parametrize(
    "values,refusal",
    [
        (
            {"operatorMnemonic": None},
            (
                "keep-cd:operatorMnemonic",
                'not set (expected a BIP-39 mnemonic: `pulumi config set --secret operatorMnemonic "<12-24 words>"`, or env KEEP_CD_OPERATOR_MNEMONIC)',
            ),
        ),
        (
            {"operatorMnemonic": "abandon abandon"},
            (
                "keep-cd:operatorMnemonic",
                "not a valid BIP-39 mnemonic (2 words; expected 12-24 words from the BIP-39 word list with a valid checksum)",
            ),
        ),
        ({"operatorKeys": [1]}, ("keep-cd:operatorKeys", "expected a map of client name -> private key")),
        (
            {"operatorKeys": {"keep-client-0": "0x12"}},
            ("keep-cd:operatorKeys.keep-client-0", "not a secp256k1 private key (expected 0x + 64 hex digits)"),
        ),
    ],
)
def test_the_operator_secrets_are_checked_before_anything_exists(monkeypatch, values, refusal):
    assert refused(lambda: operators(monkeypatch, {"count": 1}, **values)) == refusal


# --- contracts -------------------------------------------------------------------------------------


def test_contracts_defaults_and_overrides(monkeypatch):
    c = load_contracts(configure(monkeypatch))
    assert (c.chain_id, c.rpc_url, c.plan.name, c.artifacts_dir) == (31337, "http://127.0.0.1:8545", "keep", "build/keep-core/artifacts")
    assert c.plan_params == {"initializationPeriod": 1, "dkgContributionMargin": 1}
    c = load_contracts(
        configure(monkeypatch, chainId="1101", planParams={"dkgContributionMargin": 3}, artifactsDir="out/a", contractsPlan="keep")
    )
    assert (c.chain_id, c.artifacts_dir) == (1101, "out/a")
    assert c.plan_params == {"initializationPeriod": 1, "dkgContributionMargin": 3}


@pytest.mark.parametrize(
    "values,refusal",
    [
        ({"rpcUrl": None}, ("keep-cd:rpcUrl", "not set (expected the deployer's JSON-RPC URL, e.g. http://127.0.0.1:8545)")),
        ({"chainId": None}, ("keep-cd:chainId", "not set (expected a positive integer (the chain's id, e.g. 31337))")),
        ({"chainId": "main"}, ("keep-cd:chainId", "'main' is not a positive integer (the chain's id, e.g. 31337)")),
        ({"chainId": "0"}, ("keep-cd:chainId", "'0' is not a positive integer (the chain's id, e.g. 31337)")),
        ({"chainId": "-4"}, ("keep-cd:chainId", "'-4' is not a positive integer (the chain's id, e.g. 31337)")),
        ({"planParams": [1]}, ("keep-cd:planParams", "[1] is not a map of plan parameters")),
        ({"contractsPlan": "kep"}, ("keep-cd:contractsPlan", "'kep' is neither a built-in plan (keep) nor a .json plan file")),
    ],
)
def test_a_bad_contracts_value_is_named_in_one_line(monkeypatch, values, refusal):
    assert refused(lambda: load_contracts(configure(monkeypatch, **values))) == refusal


# --- the whole settings ----------------------------------------------------------------------------


def test_settings_without_fleet_access_or_operators(monkeypatch):
    s = load_settings(configure(monkeypatch))
    assert (s.stack, s.fleet, s.operators, s.access, s.render_yaml_to) == (pulumi.get_stack(), None, None, None, None)
    assert s.contracts.chain_id == 31337


def test_settings_with_a_fleet_take_an_operator_per_client(monkeypatch):
    s = load_settings(configure(monkeypatch, fleet=FLEET, operators={}, operatorMnemonic=MNEMONIC, renderYamlToDirectory="build/m"))
    names = [c.name for c in s.fleet.spec.clients]
    assert names == ["keep-bootstrap-0", "keep-standard-0"]
    assert [c.name for c in s.operators.clients] == names
    assert s.fleet.spec.chain.chain_id == 31337 and s.render_yaml_to == "build/m"


def test_a_fleet_without_operators_is_refused(monkeypatch):
    assert refused(lambda: load_settings(configure(monkeypatch, fleet=FLEET))) == (
        "keep-cd:operators",
        "not set, but keep-cd:fleet is (every fleet client runs as an operator whose key "
        "derives from keep-cd:operatorMnemonic: expected an operators section, e.g. {provisioning: deploy}; docs/operators.md)",
    )


def test_a_fleet_key_no_longer_read_is_refused(monkeypatch):
    values = dict(fleet={**FLEET, "kdfIterations": 1024}, operators={}, operatorMnemonic=MNEMONIC)
    assert refused(lambda: load_settings(configure(monkeypatch, **values))) == (
        "keep-cd:fleet.kdfIterations",
        "no longer read (the clients' keystores are the operators': set keep-cd:operators.keystoreKdf/keystoreCost)",
    )


# --- edges ---------------------------------------------------------------------------------------------


def test_the_smallest_values_that_are_accepted(monkeypatch):
    assert load_contracts(configure(monkeypatch, chainId="1")).chain_id == 1  # Ethereum mainnet
    s = operators(
        monkeypatch, {"clients": [{"name": "a", "index": 2**31 - 1}, {"name": "b", "index": 1000}], "ethThreshold": 1, "ethTarget": "1"}
    )
    assert [c.index for c in s.clients] == [2**31 - 1, 1000] and (s.eth_threshold, s.eth_target) == (1, 1)


def test_a_count_with_a_fleet_must_still_cover_the_fleet(monkeypatch):
    assert refused(lambda: operators(monkeypatch, {"count": 2}, ["keep-bootstrap-0"])) == (
        "keep-cd:operators.clients",
        "no operator for fleet client 'keep-bootstrap-0' (expected one per fleet client; leave out count and clients to take the fleet's)",
    )


def test_a_section_that_is_no_json_map_is_refused_in_one_line(monkeypatch):
    key, reason = refused(lambda: load_settings(configure(monkeypatch, fleet="keep-dev")))
    assert key == "keep-cd:fleet" and reason.startswith("expected a map with keys clients, contracts, counts")


def test_settings_read_the_projects_own_config_by_default(monkeypatch):
    configure(monkeypatch, chainId="5")
    assert load_settings().contracts.chain_id == 5


def test_settings_carry_the_access_section(monkeypatch):
    access = {
        "enabled": True,
        "project": "p",
        "region": "r",
        "cluster": "c",
        "artifactRegistry": {"repository": "k"},
        "circleci": {"orgId": "0c9f3b1e-6a44-4f7d-9d7e-2f1c3a5b7d90", "projectId": "4e1d2c3b-5a69-4b8c-8d7e-6f5a4b3c2d1e"},
    }
    s = load_settings(configure(monkeypatch, access=access))
    assert (s.access.project, s.access.cluster, s.access.registry_repository) == ("p", "c", "k")


# --- unknown keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, key, suggestion",
    [
        pytest.param({"chainID": "1"}, "keep-cd:chainID", "keep-cd:chainId", id="top-level, case"),
        pytest.param({"rpcurl": "http://127.0.0.1:8545"}, "keep-cd:rpcurl", "keep-cd:rpcUrl", id="top-level, lower case"),
        pytest.param({"operator": {}}, "keep-cd:operator", "keep-cd:operators", id="top-level, a letter short"),
        pytest.param({"fleet": {**FLEET, "namespce": "x"}}, "keep-cd:fleet.namespce", "namespace", id="fleet"),
        pytest.param(
            {"fleet": {**FLEET, "image": {"repository": "r", "tga": "v1"}}}, "keep-cd:fleet.image.tga", "tag", id="fleet, nested map"
        ),
        pytest.param(
            {"fleet": {**FLEET, "counts": None, "clients": [{"name": "a", "role": "bootstrap", "prot": 1}]}},
            "keep-cd:fleet.clients[0].prot",
            "port",
            id="fleet, list item",
        ),
        pytest.param({"operators": {"provisioing": "deploy"}}, "keep-cd:operators.provisioing", "provisioning", id="operators"),
        pytest.param({"access": {"enabeld": False}}, "keep-cd:access.enabeld", "enabled", id="access, off"),
    ],
)
def test_an_unknown_key_is_refused_naming_the_nearest_known_one(monkeypatch, values, key, suggestion):
    """A typo would otherwise leave the stack on the default (or the section without the value)."""
    values = {**values, "operatorMnemonic": MNEMONIC} if "fleet" in values else values
    if "fleet" in values:
        values.setdefault("operators", {})
    refused_key, reason = refused(lambda: load_settings(configure(monkeypatch, **values)))
    assert refused_key == key
    assert reason.startswith(f"unknown key (did you mean {suggestion}? expected one of ")


def test_an_unknown_key_like_none_known_is_refused_with_every_known_key(monkeypatch):
    key, reason = refused(lambda: load_settings(configure(monkeypatch, colour="blue")))
    assert key == "keep-cd:colour" and "did you mean" not in reason
    assert reason.startswith("unknown key (expected one of ") and "chainId" in reason and "rpcUrl" in reason


def test_an_unknown_secret_key_is_refused_by_its_name_alone(monkeypatch):
    secret = Account.create().key.hex()
    config = {"keep-cd:chainId": "31337", "keep-cd:rpcUrl": "http://127.0.0.1:8545", "keep-cd:deployerPrivatekey": secret}
    pulumi.runtime.set_all_config(config, ["keep-cd:deployerPrivatekey"])
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert e.value.key == "keep-cd:deployerPrivatekey"
    assert e.value.reason.startswith("unknown key (did you mean keep-cd:deployerPrivateKey? expected one of ")
    assert secret not in str(e.value) and secret.removeprefix("0x") not in str(e.value)


def test_the_known_secrets_and_other_projects_keys_are_accepted(monkeypatch):
    config = {
        "keep-cd:chainId": "31337",
        "keep-cd:rpcUrl": "http://127.0.0.1:8545",
        "keep-cd:deployerPrivateKey": Account.create().key.hex(),
        "keep-cd:operatorMnemonic": MNEMONIC,
        "keep-cd:operators": json.dumps({}),
        "gcp:project": "p",
        "kubernetes:context": "c",
    }
    pulumi.runtime.set_all_config(config, ["keep-cd:deployerPrivateKey", "keep-cd:operatorMnemonic"])
    assert load_settings().contracts.chain_id == 31337


@pytest.mark.parametrize("stack_file", sorted(f for f in os.listdir(ROOT) if f.startswith("Pulumi.") and f.endswith(".yaml")))
def test_every_key_a_committed_stack_file_sets_is_known(stack_file):
    with open(os.path.join(ROOT, stack_file)) as f:
        config = (yaml.safe_load(f) or {}).get("config") or {}
    check_known_keys(config)  # raises for the first unknown keep-cd: key
