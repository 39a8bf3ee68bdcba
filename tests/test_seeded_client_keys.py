"""The temporary seeded key source: deterministic, and its keystores open with eth-account."""

import json

from eth_account import Account

from components.seeded_client_keys import derive_key, keystore_v3


def test_keystore_decrypts_with_eth_account_to_the_key():
    d = derive_key("a-seed", "keep-standard-0", 1024)
    keystore = json.loads(d.keystore_json)
    assert bytes(Account.decrypt(keystore, d.password)) == d.private_key
    assert Account.from_key(d.private_key).address == d.address
    assert keystore["address"] == d.address[2:].lower() and keystore["version"] == 3
    assert keystore["crypto"]["kdfparams"]["c"] == 1024


def test_same_seed_and_name_give_byte_identical_secrets():
    assert derive_key("s", "keep-bootstrap-0", 16) == derive_key("s", "keep-bootstrap-0", 16)


def test_names_and_seeds_give_different_keys_and_passwords():
    keys = {derive_key(seed, name, 16) for seed in ("s1", "s2") for name in ("a", "b", "c")}
    assert len({k.private_key for k in keys}) == 6
    assert len({k.password for k in keys}) == 6
    assert len({json.loads(k.keystore_json)["crypto"]["kdfparams"]["salt"] for k in keys}) == 6


def test_wrong_password_does_not_open_the_keystore():
    d = derive_key("s", "a", 16)
    try:
        Account.decrypt(json.loads(d.keystore_json), d.password + "x")
    except ValueError:
        return
    raise AssertionError("a wrong password decrypted the keystore")


def test_keystore_v3_matches_a_known_mac_for_fixed_inputs():
    """Fixed inputs, and the MAC recomputed here from the V3 definition (keccak(dk[16:32] + ct))."""
    import hashlib

    from eth_utils import keccak

    key = bytes(range(1, 33))
    ks = keystore_v3(key, "pw", salt=b"\x01" * 16, iv=b"\x02" * 16, iterations=2)
    dk = hashlib.pbkdf2_hmac("sha256", b"pw", b"\x01" * 16, 2, 32)
    assert ks["crypto"]["mac"] == keccak(dk[16:32] + bytes.fromhex(ks["crypto"]["ciphertext"])).hex()
    assert bytes(Account.decrypt(ks, "pw")) == key
