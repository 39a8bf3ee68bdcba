"""The InitContainer program, run as the pod runs it (a subprocess), against a real anvil."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from types import SimpleNamespace

import pytest
from eth_account import Account

from bench.chains.anvil import free_port, rpc
from components.client_config import ClientConfig, render
from operators.keys import KeystoreParams, encrypt_keystore

PROGRAM = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "initcontainer", "prepare_client.py")
# Any runtime code will do: the program only asks whether there is code at the address.
SOME_CODE = "0x6080604052600080fd00"


def client_key() -> SimpleNamespace:
    """A fresh operator key and its keystore, as the client's Secret holds them (light KDF)."""
    account = Account.create()
    password = secrets.token_urlsafe(16)
    keystore = json.dumps(encrypt_keystore(bytes(account.key), password, KeystoreParams("pbkdf2", 16)), sort_keys=True)
    return SimpleNamespace(address=account.address, password=password, keystore_json=keystore)


@pytest.fixture
def client(anvil, tmp_path):
    """Sources as the ConfigMap and Secret mount them, and contracts with code on anvil."""
    key = client_key()
    contracts = {name: anvil.new_account(0).address for name in ("KeepRandomBeaconOperator", "TokenStaking", "KeepRandomBeaconService")}
    for address in contracts.values():
        rpc(anvil.url, "anvil_setCode", [address, SOME_CODE])
    volume = tmp_path / "volume"
    cfg = ClientConfig(
        url=anvil.url.replace("http", "ws"),
        url_rpc=anvil.url,
        address=key.address,
        key_file=str(volume / "config" / "eth_account_keyfile"),
        contract_addresses=contracts,
        port=3919,
        metrics_port=9601,
        diagnostics_port=9701,
        data_dir=str(volume / "data"),
        peers=("/dns4/b.ns.svc.cluster.local/tcp/3919/ipfs/16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa",),
    )
    (tmp_path / "configmap").mkdir()
    (tmp_path / "secret").mkdir()
    config_source = tmp_path / "configmap" / "keep-client-config.toml"
    config_source.write_text(render(cfg))
    keyfile_source = tmp_path / "secret" / "eth_account_keyfile"
    keyfile_source.write_text(key.keystore_json)
    return dict(anvil=anvil, cfg=cfg, key=key, config_source=config_source, keyfile_source=keyfile_source, volume=volume)


def run(c, *extra, chain_id=31337):
    args = [sys.executable, PROGRAM, "--config-source", str(c["config_source"]), "--keyfile-source", str(c["keyfile_source"])]
    args += ["--config-dir", str(c["volume"] / "config"), "--rpc-timeout", "2"]
    if chain_id is not None:
        args += ["--chain-id", str(chain_id)]
    proc = subprocess.run(args + list(extra), capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stderr.strip()


def written(c) -> bool:
    return (c["volume"] / "config").exists() and any((c["volume"] / "config").iterdir())


def test_ready_chain_copies_config_and_keyfile_with_their_modes(client):
    code, err = run(client)
    assert code == 0, err
    config_dir = client["volume"] / "config"
    assert (config_dir / "keep-client-config.toml").read_text() == client["config_source"].read_text()
    keyfile = config_dir / "eth_account_keyfile"
    assert keyfile.read_text() == client["key"].keystore_json
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert stat.S_IMODE((config_dir / "keep-client-config.toml").stat().st_mode) == 0o644
    assert (client["volume"] / "data").is_dir()
    assert err.startswith("prepare-client: ready") and client["key"].password not in err
    assert run(client)[0] == 0  # a pod restart finds the files there and rewrites them


def test_no_code_at_a_contract_is_retryable_and_writes_nothing(client):
    address = client["cfg"].contract_addresses["TokenStaking"]
    rpc(client["anvil"].url, "anvil_setCode", [address, "0x"])
    code, err = run(client)
    assert code == 3 and f"no code at TokenStaking {address}" in err and "\n" not in err
    assert not written(client)


def test_another_chain_id_is_refused(client):
    code, err = run(client, chain_id=1101)
    assert code == 2 and "chain id 31337, expected 1101" in err and not written(client)


def test_unreachable_chain_is_retryable(client):
    url = f"http://127.0.0.1:{free_port()}"
    text = client["config_source"].read_text().replace(client["anvil"].url + '"', url + '"')
    client["config_source"].write_text(text)
    code, err = run(client)
    assert code == 3 and "unreachable" in err and "will retry" in err and not written(client)


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda t: t.replace("Port = 3919", "Port = 3919.0"), "LibP2P.Port 3919.0 is not an integer port"),
        (lambda t: t.replace('Peers = ["', 'Peers = ["", "'), "LibP2P.Peers has an empty"),
        (lambda t: t.replace("[Storage]", "[Other]"), "Storage.DataDir is missing"),
        (lambda t: t.replace('TokenStaking = "0x', 'TokenStaking = "0xZZ'), "ContractAddresses.TokenStaking"),
        (lambda t: t + "\n[[[", "not valid TOML"),
    ],
)
def test_bad_config_is_refused_in_one_line(client, edit, reason):
    client["config_source"].write_text(edit(client["config_source"].read_text()))
    code, err = run(client)
    assert code == 2 and reason in err and "\n" not in err and not written(client)


def test_keyfile_of_another_account_is_refused(client):
    other = client_key()
    client["keyfile_source"].write_text(other.keystore_json)
    code, err = run(client)
    assert code == 2 and "config says" in err and not written(client)


@pytest.mark.parametrize("content, reason", [("not json", "not JSON"), (json.dumps({"version": 1}), "not a V3 keystore")])
def test_keyfile_that_is_no_keystore_is_refused(client, content, reason):
    client["keyfile_source"].write_text(content)
    code, err = run(client)
    assert code == 2 and reason in err and not written(client)


def test_keyfile_path_outside_the_volume_is_refused(client):
    text = client["config_source"].read_text().replace(str(client["volume"] / "config" / "eth_account_keyfile"), "/etc/elsewhere/key")
    client["config_source"].write_text(text)
    code, err = run(client)
    assert code == 2 and "is not in" in err and not written(client)


def test_program_uses_only_the_standard_library():
    """The InitContainer image holds Python and this file, nothing else."""
    import ast

    tree = ast.parse(open(PROGRAM).read())
    modules = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}
