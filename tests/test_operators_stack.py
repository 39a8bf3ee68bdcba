"""The operators section of the real program under the offline runner: accounts, stakes, re-runs,
bad stack config, and a scan of everything registered and printed for secrets."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
from eth_account import Account

from bench.offline.runner import run_stack
from chain.errors import ConfigError
from hd_paths import FAUCET_HD_PATH, operator_hd_path, operator_index

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Account.enable_unaudited_hdwallet_features()
# The local stack's fleet (counts: 1 bootstrap, 2 standard): one operator per client.
CLIENTS = ("keep-bootstrap-0", "keep-standard-0", "keep-standard-1")


@pytest.fixture
def local(anvil_factory, monkeypatch, tmp_path):
    """A fresh chain, a funded deployer (env, as `make local` does) and a fresh mnemonic."""
    chain = anvil_factory()
    deployer = chain.new_account(10**24)
    monkeypatch.setenv("KEEP_CD_DEPLOYER_KEY", deployer.key.hex())
    mnemonic = Account.create_with_mnemonic()[1]

    def run(preview=False, **overrides):
        config = {"rpcUrl": chain.url, "operatorMnemonic": mnemonic, **overrides}
        return run_stack("local", project_dir=ROOT, state_path=str(tmp_path / "state.json"), config_overrides=config, preview=preview)

    return chain, deployer, mnemonic, run


def derived(mnemonic: str, name: str) -> str:
    return Account.from_mnemonic(mnemonic, account_path=operator_hd_path(operator_index(name))).address


def nonce(chain, address: str) -> int:
    from bench.chains.anvil import rpc

    return int(rpc(chain.url, "eth_getTransactionCount", [address, "latest"]), 16)


def test_local_stack_stakes_its_operators_and_a_rerun_sends_nothing(local):
    chain, deployer, mnemonic, run = local
    preview = run(preview=True)  # a fresh stack: the address book is not known yet, nothing is read or sent
    assert preview.dynamic_ops == {"contracts": "create", "contract-addresses": "create", "operator-stakes": "create"}
    assert nonce(chain, deployer.address) == 0
    first = run()
    assert first.outputs["operators"] == {name: derived(mnemonic, name) for name in CLIENTS}
    # The fleet's clients run as these operators: their configs carry the operator addresses.
    assert {c["address"] for c in first.outputs["fleet"]["clients"].values()} == set(first.outputs["operators"].values())
    assert all(s["staked"] and s["authorized"] for s in first.outputs["operatorStakes"].values())
    assert first.dynamic_ops == {"contracts": "create", "contract-addresses": "create", "operator-stakes": "create"}
    sent = nonce(chain, deployer.address)

    preview = run(preview=True)
    assert preview.dynamic_ops == {"contracts": "same", "contract-addresses": "same", "operator-stakes": "same"}
    second = run()
    assert second.dynamic_ops == {"contracts": "same", "contract-addresses": "same", "operator-stakes": "same"}
    assert nonce(chain, deployer.address) == sent
    assert second.outputs["operators"] == first.outputs["operators"]


def test_a_reset_chain_gets_its_stakes_again(local, anvil_factory, tmp_path):
    chain, deployer, mnemonic, run = local
    run()
    other = anvil_factory()
    other.fund(deployer.address, 10**24)
    result = run_stack(
        "local",
        project_dir=ROOT,
        state_path=str(tmp_path / "state.json"),
        config_overrides={"rpcUrl": other.url, "operatorMnemonic": mnemonic},
    )
    assert result.dynamic_ops == {"contracts": "update", "contract-addresses": "same", "operator-stakes": "update"}
    assert all(s["staked"] and s["authorized"] for s in result.outputs["operatorStakes"].values())


@pytest.mark.parametrize(
    "overrides,key,why",
    [
        ({"operatorMnemonic": "correct horse battery staple"}, "keep-cd:operatorMnemonic", "not a valid BIP-39 mnemonic"),
        ({"operatorMnemonic": ""}, "keep-cd:operatorMnemonic", "not set"),
        ({"operators": {"count": 0}}, "keep-cd:operators.count", "0 is not a positive integer"),
        ({"operators": {"ethTarget": "lots"}}, "keep-cd:operators.ethTarget", "'lots' is not a positive integer (wei)"),
        ({"operators": {"ethThreshold": "2000", "ethTarget": "1000"}}, "keep-cd:operators.ethTarget", "below ethThreshold"),
        ({"operators": {"stakeAmount": -1}}, "keep-cd:operators.stakeAmount", "-1 is not a positive integer"),
        ({"operators": {"provisioning": "pods"}}, "keep-cd:operators.provisioning", "'pods' is not a provisioning mode"),
        ({"operators": {"keystoreCost": 1000}}, "keep-cd:operators.keystoreCost", "power of two"),
        (
            {"operators": {"clients": [{"name": "a", "index": 0}, {"name": "b", "index": 0}]}},
            "keep-cd:operators.clients",
            "index 0 is used by two clients",
        ),
        ({"operators": {"count": 2}}, "keep-cd:operators.clients", "no operator for fleet client 'keep-bootstrap-0'"),
    ],
)
def test_bad_operator_config_fails_before_anything_is_sent(local, overrides, key, why, monkeypatch):
    chain, deployer, _mnemonic, run = local
    monkeypatch.delenv("KEEP_CD_OPERATOR_MNEMONIC")  # only the stack config counts here
    with pytest.raises(ConfigError) as e:
        run(**overrides)
    assert e.value.key == key and why in (e.value.reason or "") and "\n" not in str(e.value)
    assert nonce(chain, deployer.address) == 0  # not even the contracts were deployed


def test_explicit_key_colliding_with_a_derived_one_fails_first(local):
    chain, deployer, mnemonic, run = local
    colliding = Account.from_mnemonic(mnemonic, account_path=operator_hd_path(operator_index(CLIENTS[0]))).key.hex()
    with pytest.raises(ConfigError) as e:
        run(operatorKeys={CLIENTS[2]: colliding})
    assert f"operatorKeys.{CLIENTS[2]}" in str(e.value) and CLIENTS[0] in str(e.value)
    assert nonce(chain, deployer.address) == 0


SECRET_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_kubernetes as k8s
    from operators.accounts import OperatorAccounts, OperatorAccountsArgs
    from operators.keys import KeystoreParams, OperatorClient

    cfg = pulumi.Config("keep-cd")
    accounts = OperatorAccounts("operators", OperatorAccountsArgs(
        mnemonic=cfg.require_secret("operatorMnemonic"),
        clients=[OperatorClient("a", 0), OperatorClient("b", 5)],
        keystore=KeystoreParams("scrypt", 1024),
        explicit_keys=cfg.get_secret_object("operatorKeys"),
        faucet=True,
    ))
    for name, ident in accounts.identities.items():
        # What the fleet does with an identity: keyfile and password into a Secret, address and
        # public key into a ConfigMap.
        k8s.core.v1.Secret(f"{name}-keys", string_data={"keyfile": ident.keyfile_json, "password": ident.keyfile_password})
        k8s.core.v1.ConfigMap(f"{name}-config", data={"address": ident.address, "publicKey": ident.public_key})
    k8s.core.v1.Secret("faucet", string_data={"key": accounts.faucet.private_key})
    pulumi.export("addresses", accounts.addresses)
    pulumi.export("faucet", accounts.faucet.address)
    print("operator accounts ready")
    """
)


def is_secret(path: str, secret_paths: set) -> bool:
    """A value is secret when it, or a map or list holding it, was registered as a secret."""
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in secret_paths)


def _walk(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


def leaks(result, state_text: str, printed: str, secrets: set) -> list:
    """Where any of ``secrets`` shows outside a secret-marked value: resources, exports, state, output."""
    found = []
    for r in result.resources:
        for path, value in _walk(r.inputs):
            if is_secret(path, r.secret_paths):
                continue
            text = value if isinstance(value, str) else json.dumps(value)
            found += [f"{r.name}:{path}" for s in secrets if s.lower() in text.lower()]
    for where, text in (("exports", json.dumps(result.outputs)), ("state", state_text), ("printed", printed)):
        found += [where for s in secrets if s.lower() in text.lower()]
    return found


def run_secret_program(tmp_path, program: str):
    mnemonic = Account.create_with_mnemonic()[1]
    explicit = Account.create()
    project = tmp_path / "project"
    project.mkdir()
    (project / "__main__.py").write_text(program)
    (project / "Pulumi.local.yaml").write_text("config:\n  keep-cd:chainId: '31337'\n")
    state = tmp_path / "state.json"
    result = run_stack(
        "local",
        project_dir=str(project),
        state_path=str(state),
        config_overrides={"operatorMnemonic": mnemonic, "operatorKeys": {"a": explicit.key.hex()}},
    )
    b_key = Account.from_mnemonic(mnemonic, account_path=operator_hd_path(5))
    faucet = Account.from_mnemonic(mnemonic, account_path=FAUCET_HD_PATH)
    secrets = {mnemonic, explicit.key.hex()[2:], bytes(b_key.key).hex(), bytes(faucet.key).hex()}
    for r in result.resources:
        if r.type == "kubernetes:core/v1:Secret" and "keyfile" in r.inputs.get("stringData", {}):
            data = r.inputs["stringData"]
            keystore = json.loads(data["keyfile"])
            # The password is the one that opens this keystore (whatever derived it).
            assert Account.decrypt(keystore, data["password"]) in (bytes(explicit.key), bytes(b_key.key))
            secrets |= {keystore["crypto"]["ciphertext"], data["password"]}
    return result, state.read_text(), secrets, {"a": explicit.address, "b": b_key.address}


def test_secrets_appear_only_in_secret_values(tmp_path, capfd):
    """Scan everything the program registers, exports, stores and prints."""
    result, state_text, secrets, addresses = run_secret_program(tmp_path, SECRET_PROGRAM)
    printed = capfd.readouterr()
    assert "operator accounts ready" in printed.out + printed.err  # what it printed is scanned too
    assert len(secrets) == 8  # mnemonic, 3 keys, 2 passwords, 2 keystore ciphertexts

    # The addresses are plain and right; the Secret's values are secret-marked.
    assert result.outputs["addresses"] == addresses
    by_name = {r.name: r for r in result.resources}
    assert is_secret("stringData.keyfile", by_name["a-keys"].secret_paths)
    assert is_secret("stringData.password", by_name["a-keys"].secret_paths)
    assert is_secret("stringData.key", by_name["faucet"].secret_paths)
    assert by_name["a-config"].secret_paths == set()
    assert by_name["a-config"].inputs["data"]["address"] == addresses["a"]
    assert leaks(result, state_text, printed.out + printed.err, secrets) == []


def test_the_secret_scan_finds_a_leak(tmp_path, capfd):
    leaky = SECRET_PROGRAM.replace(
        'data={"address": ident.address, "publicKey": ident.public_key}',
        'data={"address": ident.address, "password": pulumi.Output.unsecret(ident.keyfile_password)}',
    )
    assert leaky != SECRET_PROGRAM
    result, state_text, secrets, _ = run_secret_program(tmp_path, leaky)
    printed = capfd.readouterr()
    # In the ConfigMaps, and so in the state the runner keeps of them.
    assert sorted(leaks(result, state_text, printed.out + printed.err, secrets)) == [
        "a-config:data.password",
        "b-config:data.password",
        "state",
        "state",
    ]


def test_the_local_stack_under_the_offline_runner_holds_operator_secrets_only_in_secret_values(local, tmp_path, capfd):
    """The local stack's program under the offline runner (the SDK's mocks, dynamic resources run
    for real on anvil): what it registers, prints and keeps in the runner's state file.  The real
    engine's own state is scanned by tests/test_engine_secrets.py."""
    chain, _deployer, mnemonic, run = local
    result = run()
    secrets = {mnemonic}
    passwords = set()
    for name in CLIENTS:
        acct = Account.from_mnemonic(mnemonic, account_path=operator_hd_path(operator_index(name)))
        (secret,) = [r for r in result.resources if r.type == "kubernetes:core/v1:Secret" and r.name == f"{name}-eth-account"]
        data = secret.inputs["stringData"]
        # The fleet's Secret carries the keystore and the password that opens it, as secret values.
        assert Account.decrypt(json.loads(data["eth_account_keyfile"]), data["eth_account_password"]) == bytes(acct.key)
        assert is_secret("stringData", secret.secret_paths)
        passwords.add(data["eth_account_password"])
        secrets |= {bytes(acct.key).hex(), data["eth_account_password"]}
    assert len(passwords) == len(CLIENTS)
    printed = capfd.readouterr()
    assert leaks(result, (tmp_path / "state.json").read_text(), printed.out + printed.err, secrets) == []
