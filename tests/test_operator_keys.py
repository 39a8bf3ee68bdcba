"""Operator keys, passwords and keystores: deterministic, interoperable, and loud on bad input.

Every mnemonic and key here is generated at run time; none is written in the repository.
"""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from operators.accounts import derive_material
from operators.errors import OperatorKeyError
from hd_paths import FAUCET_HD_PATH, operator_hd_path, operator_index
from operators.keys import (
    KeystoreParams,
    OperatorClient,
    encrypt_keystore,
    faucet_key,
    keystore_password,
    mnemonic_seed,
    operator_keys,
)

Account.enable_unaudited_hdwallet_features()
LIGHT = KeystoreParams("scrypt", 1024)


@pytest.fixture
def mnemonic() -> str:
    return Account.create_with_mnemonic()[1]


def clients(n: int) -> list:
    return [OperatorClient(f"keep-client-{i}", i) for i in range(n)]


def test_keys_follow_the_documented_hd_path(mnemonic):
    keys = operator_keys(mnemonic_seed(mnemonic), clients(3))
    for k in keys:
        expected = Account.from_mnemonic(mnemonic, account_path=operator_hd_path(k.index))
        assert k.address == expected.address
        assert k.private_key == bytes(expected.key)
    assert faucet_key(mnemonic_seed(mnemonic)).address == Account.from_mnemonic(mnemonic, account_path=FAUCET_HD_PATH).address
    assert len({k.address for k in keys}) == 3


def test_the_index_not_the_position_names_the_key(mnemonic):
    seed = mnemonic_seed(mnemonic)
    a = {k.name: k.address for k in operator_keys(seed, [OperatorClient("a", 0), OperatorClient("b", 1)])}
    b = {k.name: k.address for k in operator_keys(seed, [OperatorClient("b", 1), OperatorClient("c", 7)])}
    assert a["b"] == b["b"]
    assert b["c"] == Account.from_mnemonic(mnemonic, account_path=operator_hd_path(7)).address


def test_public_key_is_the_compressed_secp256k1_key(mnemonic):
    from eth_keys import keys

    k = operator_keys(mnemonic_seed(mnemonic), clients(1))[0]
    assert len(bytes.fromhex(k.public_key)) == 33 and k.public_key[:2] in ("02", "03")
    assert keys.PublicKey.from_compressed_bytes(bytes.fromhex(k.public_key)).to_checksum_address() == k.address


def test_keystore_decrypts_with_eth_account_and_is_stable(mnemonic):
    seed = mnemonic_seed(mnemonic)
    k = operator_keys(seed, clients(1))[0]
    password = keystore_password(seed, k.address)
    first = encrypt_keystore(k.private_key, password, LIGHT)
    assert encrypt_keystore(k.private_key, password, LIGHT) == first  # same inputs, same JSON
    assert bytes(Account.decrypt(first, password)) == k.private_key
    assert first["version"] == 3 and first["crypto"]["kdf"] == "scrypt" and first["crypto"]["kdfparams"]["n"] == 1024
    assert first["address"] == k.address[2:].lower()
    # A different password re-encrypts: salt, IV and ciphertext all change.
    other = encrypt_keystore(k.private_key, password + "x", LIGHT)
    assert other["crypto"]["kdfparams"]["salt"] != first["crypto"]["kdfparams"]["salt"]
    assert other["crypto"]["cipherparams"]["iv"] != first["crypto"]["cipherparams"]["iv"]
    with pytest.raises(ValueError):
        Account.decrypt(first, password + "x")


def test_pbkdf2_keystore_and_cost_from_config():
    acct = Account.create()
    ks = encrypt_keystore(bytes(acct.key), "pw", KeystoreParams("pbkdf2", 2000))
    assert ks["crypto"]["kdf"] == "pbkdf2" and ks["crypto"]["kdfparams"]["c"] == 2000
    assert bytes(Account.decrypt(ks, "pw")) == bytes(acct.key)


def test_passwords_are_deterministic_distinct_and_depend_on_the_seed(mnemonic):
    seed = mnemonic_seed(mnemonic)
    keys = operator_keys(seed, clients(3))
    passwords = [keystore_password(seed, k.address) for k in keys]
    assert passwords == [keystore_password(seed, k.address) for k in keys]
    assert len(set(passwords)) == 3 and all(len(p) >= 40 for p in passwords)
    other_seed = mnemonic_seed(Account.create_with_mnemonic()[1])
    assert keystore_password(other_seed, keys[0].address) != passwords[0]


def test_explicit_key_overrides_derivation(mnemonic):
    explicit = Account.create()
    keys = operator_keys(mnemonic_seed(mnemonic), clients(2), {"keep-client-1": explicit.key.hex()})
    assert keys[1].address == explicit.address and keys[1].index is None
    assert keys[0].address == Account.from_mnemonic(mnemonic, account_path=operator_hd_path(0)).address


def test_derive_material_is_stable_across_runs(mnemonic):
    a = derive_material(mnemonic, clients(2), None, LIGHT, faucet=True)
    b = derive_material(mnemonic, clients(2), None, LIGHT, faucet=True)
    assert a == b
    ks = json.loads(a["clients"]["keep-client-0"]["keyfile_json"])
    key = Account.decrypt(ks, a["clients"]["keep-client-0"]["keyfile_password"])
    assert Account.from_key(key).address == a["clients"]["keep-client-0"]["address"]
    assert a["faucet"]["address"] not in {c["address"] for c in a["clients"].values()}


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "   ", "not a mnemonic at all", None])
def test_invalid_mnemonic_is_one_line_and_never_echoed(bad):
    with pytest.raises(OperatorKeyError) as e:
        mnemonic_seed(bad)
    assert "operatorMnemonic" in str(e.value) and "\n" not in str(e.value)


def test_mnemonic_with_a_bad_checksum_names_the_problem_without_the_words(mnemonic):
    from eth_account.hdaccount.mnemonic import Language, Mnemonic

    words = mnemonic.split()
    # A changed last word still passes the checksum 1 time in 16: take one that does not.
    for candidate in ("abandon", "zoo", "ability", "able", "about", "above", "absent", "absorb"):
        words[-1] = candidate
        if not Mnemonic(Language.ENGLISH).is_mnemonic_valid(" ".join(words)):
            break
    broken = " ".join(words)
    assert not Mnemonic(Language.ENGLISH).is_mnemonic_valid(broken)
    with pytest.raises(OperatorKeyError) as e:
        mnemonic_seed(broken)
    message = str(e.value)
    assert "checksum" in message and "12 words" in message
    assert not any(w in message.split() for w in set(words) - {"a", "of", "the"})


def test_explicit_key_colliding_with_a_derived_one(mnemonic):
    derived0 = Account.from_mnemonic(mnemonic, account_path=operator_hd_path(0))
    with pytest.raises(OperatorKeyError) as e:
        operator_keys(mnemonic_seed(mnemonic), clients(2), {"keep-client-1": derived0.key.hex()})
    assert "keep-cd:operatorKeys.keep-client-1" in str(e.value) and "keep-client-0" in str(e.value)


def test_two_explicit_keys_colliding(mnemonic):
    key = Account.create().key.hex()
    with pytest.raises(OperatorKeyError) as e:
        operator_keys(mnemonic_seed(mnemonic), clients(3), {"keep-client-0": key, "keep-client-2": key})
    assert "operatorKeys.keep-client-2" in str(e.value) and "keep-client-0" in str(e.value)


@pytest.mark.parametrize("bad", ["0x1234", "zz" * 32, "0x" + "00" * 32, "0x" + "ff" * 32])
def test_malformed_explicit_key(mnemonic, bad):
    with pytest.raises(OperatorKeyError) as e:
        operator_keys(mnemonic_seed(mnemonic), clients(1), {"keep-client-0": bad})
    assert "operatorKeys.keep-client-0" in str(e.value) and "64 hex" in str(e.value)


def test_explicit_key_for_an_unknown_client(mnemonic):
    with pytest.raises(OperatorKeyError) as e:
        operator_keys(mnemonic_seed(mnemonic), clients(1), {"nobody": Account.create().key.hex()})
    assert "'nobody'" in str(e.value)


@pytest.mark.parametrize("kdf,cost,needle", [("argon2", 4096, "scrypt, pbkdf2"), ("scrypt", 1000, "power of two"), ("scrypt", 0, ">= 2"), ("pbkdf2", "many", ">= 2")])
def test_bad_keystore_params(kdf, cost, needle):
    with pytest.raises(OperatorKeyError) as e:
        KeystoreParams(kdf, cost).validate()
    assert needle in str(e.value)
