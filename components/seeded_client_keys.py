"""TEMPORARY source of client identities: keys derived from one stack secret seed.

Stands in until the operators issue lands (mnemonic-derived keys, per-client passwords, staking).
It produces exactly what ``KeepClientArgs`` takes per client (see ``ClientIdentity``), so swapping
it out is a change to ``__main__.py`` only.

Derivation (all HMAC-SHA256 keyed by the seed, so nothing here is random and re-running produces
byte-identical Secrets, which keeps pods from rolling for nothing):
  private key = HMAC(seed, "keep-cd/client-key/<name>[/<n>]") taken as an integer, re-derived with a
                counter in the (astronomically unlikely) case it is not a valid secp256k1 scalar
  password    = hex of HMAC(seed, "keep-cd/client-password/<name>")[:16]
  keystore    = Ethereum V3 keystore, pbkdf2-hmac-sha256 (iterations from stack config; low is fine
                on a dev chain), salt and IV from HMAC(seed, "keep-cd/client-keystore/<name>")
The address and public key are public and leave the secret wrapper; the private key never leaves
this module, and the keystore and password stay Pulumi secrets up to the Kubernetes Secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Iterable

import pulumi
from Crypto.Cipher import AES
from eth_keys import keys
from eth_utils import keccak

from .keep_client import ClientIdentity

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class DerivedKey:
    private_key: bytes
    address: str  # checksummed
    public_key: str  # compressed, hex without 0x
    password: str
    keystore_json: str


def _mac(seed: str, label: str) -> bytes:
    return hmac.new(seed.encode(), label.encode(), hashlib.sha256).digest()


def derive_private_key(seed: str, name: str) -> bytes:
    label, n = f"keep-cd/client-key/{name}", 0
    while True:
        candidate = _mac(seed, label if n == 0 else f"{label}/{n}")
        if 0 < int.from_bytes(candidate, "big") < SECP256K1_N:
            return candidate
        n += 1


def keystore_v3(private_key: bytes, password: str, salt: bytes, iv: bytes, iterations: int) -> dict:
    """An Ethereum V3 keystore (the format geth and keep-client read) with the given salt and IV,
    so the same inputs give the same file; eth_account.Account.decrypt reads it (tested)."""
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, dklen=32)
    cipher = AES.new(derived[:16], AES.MODE_CTR, nonce=b"", initial_value=iv)
    ciphertext = cipher.encrypt(private_key)
    address = keys.PrivateKey(private_key).public_key.to_address()
    return {
        "address": address[2:].lower(),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": iv.hex()},
            "ciphertext": ciphertext.hex(),
            "kdf": "pbkdf2",
            "kdfparams": {"c": iterations, "dklen": 32, "prf": "hmac-sha256", "salt": salt.hex()},
            "mac": keccak(derived[16:32] + ciphertext).hex(),
        },
        "id": str(uuid.UUID(bytes=hashlib.sha256(salt + iv).digest()[:16], version=4)),
        "version": 3,
    }


def derive_key(seed: str, name: str, kdf_iterations: int) -> DerivedKey:
    private_key = derive_private_key(seed, name)
    pk = keys.PrivateKey(private_key)
    password = _mac(seed, f"keep-cd/client-password/{name}")[:16].hex()
    material = _mac(seed, f"keep-cd/client-keystore/{name}")
    keystore = keystore_v3(private_key, password, salt=material[:16], iv=material[16:32], iterations=kdf_iterations)
    return DerivedKey(
        private_key=private_key,
        address=pk.public_key.to_checksum_address(),
        public_key=pk.public_key.to_compressed_bytes().hex(),
        password=password,
        keystore_json=json.dumps(keystore, sort_keys=True),
    )


def seeded_identities(seed: pulumi.Input[str], names: Iterable[str], kdf_iterations: int) -> dict:
    """{client name: ClientIdentity} for ``names``, from the stack's secret seed."""
    seed_out = pulumi.Output.secret(seed)
    identities = {}
    for name in names:
        derived = seed_out.apply(lambda s, n=name: derive_key(s, n, kdf_iterations))
        identities[name] = ClientIdentity(
            # An address and a public key are public: unwrapped so peer ids, configs and exports
            # are plain values.  The keystore and password stay secret.
            address=pulumi.Output.unsecret(derived.apply(lambda d: d.address)),
            public_key=pulumi.Output.unsecret(derived.apply(lambda d: d.public_key)),
            keyfile_json=derived.apply(lambda d: d.keystore_json),
            keyfile_password=derived.apply(lambda d: d.password),
        )
    return identities
