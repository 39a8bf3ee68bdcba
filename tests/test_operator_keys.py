"""Operator keys, passwords and keystores: deterministic, interoperable, and loud on bad input.

Every mnemonic and key here is generated at run time; none is written in the repository.
"""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from hd_paths import FAUCET_HD_PATH, operator_hd_path
from operators.accounts import derive_material
from operators.errors import OperatorKeyError
from operators.keys import (
    KeystoreParams,
    OperatorClient,
    encrypt_keystore,
    faucet_key,
    keystore_password,
    mnemonic_seed,
    operator_keys,
    parse_private_key,
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
    """The message is the same whatever the words (so it holds none of them); a word that is also
    an English word of the message (``valid``) cannot make this fail by chance."""
    from eth_account import Account
    from eth_account.hdaccount.mnemonic import Language, Mnemonic

    def broken(phrase: str, candidates: tuple) -> str:
        words = phrase.split()
        # A changed last word still passes the checksum 1 time in 16: take one that does not.
        for candidate in candidates:
            words[-1] = candidate
            if not Mnemonic(Language.ENGLISH).is_mnemonic_valid(" ".join(words)):
                break
        assert not Mnemonic(Language.ENGLISH).is_mnemonic_valid(" ".join(words))
        return " ".join(words)

    def message(phrase: str) -> str:
        with pytest.raises(OperatorKeyError) as e:
            mnemonic_seed(phrase)
        return str(e.value)

    Account.enable_unaudited_hdwallet_features()
    first_words = ("abandon", "ability", "able", "about", "above", "absent", "absorb", "abstract")
    other_words = ("zoo", "zone", "zero", "youth", "young", "you", "yellow", "year")  # every word differs
    first = message(broken(mnemonic, first_words))
    assert "checksum" in first and "12 words" in first
    assert message(broken(Account.create_with_mnemonic()[1], other_words)) == first


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


@pytest.mark.parametrize(
    "kdf,cost,needle",
    [("argon2", 4096, "scrypt, pbkdf2"), ("scrypt", 1000, "power of two"), ("scrypt", 0, ">= 2"), ("pbkdf2", "many", ">= 2")],
)
def test_bad_keystore_params(kdf, cost, needle):
    with pytest.raises(OperatorKeyError) as e:
        KeystoreParams(kdf, cost).validate()
    assert needle in str(e.value)


# -- what is recorded and compared elsewhere: keystores, passwords ----------------------------------

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


@pytest.mark.parametrize(
    "params,expected",
    [
        (
            KeystoreParams("scrypt", 2),
            {
                "ciphertext": "1bea3d3f7e73d03b87314993a122b5af97f862c8bbe471cf704d92bf4b4c8669",
                "kdfparams": {
                    "dklen": 32,
                    "n": 2,
                    "p": 1,
                    "r": 8,
                    "salt": "a8b18966aad4389a763c3c2563d99a39f7374480a8240a357f9af247d631d8ff",
                },
                "mac": "26876f6f44059c0d7b7ac91f0e7cc4d6b46880569656ce596877b2a0b7d5117d",
            },
        ),
        (
            KeystoreParams("pbkdf2", 2),
            {
                "ciphertext": "eef6a3bf0aa5df651ff7ab7b85930302455f3dd32b23d58961934a5fe01f01e3",
                "kdfparams": {
                    "c": 2,
                    "dklen": 32,
                    "prf": "hmac-sha256",
                    "salt": "a8b18966aad4389a763c3c2563d99a39f7374480a8240a357f9af247d631d8ff",
                },
                "mac": "e2586dafc192c25a3c062dfccb47f7bf06d7d77931b831f7a6ec4df1a3dcbe79",
            },
        ),
    ],
    ids=["scrypt", "pbkdf2"],
)
def test_a_keystore_is_stable_across_keep_cd_versions(params, expected):
    """The keystore is a Secret's content and part of checksum/config: deriving it any other way
    would rewrite every Secret and roll every client on upgrade.  Recorded from keep-cd (and
    opened by eth-account, an independent reader)."""
    ks = encrypt_keystore(KEY, "pw", params)
    assert ks == {
        "address": "2c7536e3605d9c16a7a3d7b1898e529396a65c23",
        "crypto": {"cipher": "aes-128-ctr", "cipherparams": {"iv": "d9d04dbc08654371519d81c0ab8cc6b9"}, "kdf": params.kdf, **expected},
        "id": "5432ff8f-6954-4fe7-b58d-6ddf5fe1ed33",
        "version": 3,
    }
    assert bytes(Account.decrypt(ks, "pw")) == KEY


def test_a_password_is_stable_across_keep_cd_versions():
    seed = bytes(range(64))
    assert keystore_password(seed, "0x" + "Ab" * 20) == "6iR2OugnSoS2EMErTbPiG9zbDeStPQCdOZHTqOph-qA"
    assert keystore_password(seed, "0x" + "ab" * 20) == keystore_password(seed, "0x" + "AB" * 20)  # any spelling of the address


def test_the_faucet_key_is_its_own(mnemonic):
    f = faucet_key(mnemonic_seed(mnemonic))
    assert (f.name, f.index) == ("faucet", None)
    assert f.private_key_hex == "0x" + bytes(Account.from_mnemonic(mnemonic, account_path=FAUCET_HD_PATH).key).hex()


def test_a_mnemonic_is_read_whatever_its_spacing(mnemonic):
    assert mnemonic_seed("  " + mnemonic.replace(" ", "  \n ") + " ") == mnemonic_seed(mnemonic)


@pytest.mark.parametrize(
    "bad,message",
    [
        (
            None,
            "config keep-cd:operatorMnemonic: empty (expected a BIP-39 mnemonic, set with `pulumi config set --secret operatorMnemonic`)",
        ),
        (
            " \n",
            "config keep-cd:operatorMnemonic: empty (expected a BIP-39 mnemonic, set with `pulumi config set --secret operatorMnemonic`)",
        ),
        (
            "zoo zoo  zoo",
            "config keep-cd:operatorMnemonic: not a valid BIP-39 mnemonic (3 words; expected 12-24 words from the BIP-39 word list with a valid checksum)",
        ),
    ],
)
def test_a_bad_mnemonic_is_named_in_its_whole_line(bad, message):
    with pytest.raises(OperatorKeyError) as e:
        mnemonic_seed(bad)
    assert str(e.value) == message


@pytest.mark.parametrize(
    "text",
    [
        " 0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318" + "\n",
        "0X4C0883A69102937D6231471B5DBB6204FE5129617082792AE468D01A3F362318",
        "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
    ],
)
def test_explicit_keys_in_any_usual_spelling(text):
    assert parse_private_key(text, "k") == KEY


@pytest.mark.parametrize(
    "bad",
    [
        5,
        None,
        "0x" + "11" * 31,
        "0x" + "11" * 33,
        "0x" + "00" * 32,
        "0x" + "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        "0x" + "zz" * 32,
    ],
)
def test_an_explicit_key_that_is_not_one_is_named(bad):
    with pytest.raises(OperatorKeyError) as e:
        parse_private_key(bad, "keep-cd:operatorKeys.a")
    assert str(e.value) == "config keep-cd:operatorKeys.a: not a secp256k1 private key (expected 0x + 64 hex digits)"
    top = "0x" + "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140"  # n - 1: the largest key
    assert parse_private_key(top, "k") == bytes.fromhex(top[2:])


@pytest.mark.parametrize(
    "params,key,message",
    [
        (
            KeystoreParams("argon2", 4096),
            "operators.keystoreKdf",
            "config operators.keystoreKdf: 'argon2' is not a keystore KDF (expected one of scrypt, pbkdf2)",
        ),
        (KeystoreParams("argon2", 4096), "x.kdf", "config x.kdf: 'argon2' is not a keystore KDF (expected one of scrypt, pbkdf2)"),
        (
            KeystoreParams("scrypt", 1000),
            "k",
            "config keep-cd:operators.keystoreCost: 1000 is not a power of two (scrypt's N must be, e.g. 4096 or 262144)",
        ),
        (KeystoreParams("pbkdf2", True), "k", "config keep-cd:operators.keystoreCost: True is not an integer >= 2"),
        (KeystoreParams("pbkdf2", 1), "k", "config keep-cd:operators.keystoreCost: 1 is not an integer >= 2"),
        # A float where an int belongs: the validator's refusal is the test.
        (KeystoreParams("pbkdf2", 2.0), "k", "config keep-cd:operators.keystoreCost: 2.0 is not an integer >= 2"),  # type: ignore[arg-type]
    ],
)
def test_keystore_parameters_are_named_in_their_whole_line(params, key, message):
    with pytest.raises(OperatorKeyError) as e:
        params.validate(key)
    assert str(e.value) == message


def test_keystore_parameter_defaults_and_bounds():
    assert KeystoreParams() == KeystoreParams("scrypt", 262_144)
    assert KeystoreParams("pbkdf2", 1000).validate() == KeystoreParams("pbkdf2", 1000)  # any count for pbkdf2
    assert KeystoreParams("scrypt", 2).validate() == KeystoreParams("scrypt", 2)


def test_key_collisions_are_named_in_their_whole_line(mnemonic):
    seed = mnemonic_seed(mnemonic)
    derived0 = Account.from_mnemonic(mnemonic, account_path=operator_hd_path(0))
    with pytest.raises(OperatorKeyError) as e:
        operator_keys(seed, clients(2), {"keep-client-1": derived0.key.hex()})
    assert str(e.value) == (
        f"config keep-cd:operatorKeys.keep-client-1: gives operator {derived0.address}, "
        "which client keep-client-0 already has (expected one key per client)"
    )
    derived1 = Account.from_mnemonic(mnemonic, account_path=operator_hd_path(1))
    with pytest.raises(OperatorKeyError) as e:
        operator_keys(seed, clients(2), {"keep-client-0": derived1.key.hex()})
    assert str(e.value) == (
        f"config keep-cd:operatorKeys.keep-client-0: gives operator {derived1.address}, "
        "which client keep-client-1 already has (expected one key per client)"
    )
    with pytest.raises(OperatorKeyError) as e:
        operator_keys(seed, clients(1), {"nobody": derived1.key.hex(), "a-nobody": derived1.key.hex()})
    assert str(e.value) == (
        "config keep-cd:operatorKeys: key given for 'a-nobody', which is not a client (expected one of the operator client names)"
    )


def test_the_smallest_private_key_is_one():
    assert parse_private_key("0x" + "00" * 31 + "01", "k") == (1).to_bytes(32, "big")
