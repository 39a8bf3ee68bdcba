"""Operator keys and keystores, derived deterministically from one mnemonic.

Derivation (BIP-39 seed, BIP-32/44 path, the same as MetaMask, geth's ``--mnemonic`` tools and
eth-account's ``Account.from_mnemonic``):

    operator of client index i    m/44'/60'/0'/0/i
    cluster-mode faucet           m/44'/60'/1'/0/0

Both live under different *hardened* accounts (0' and 1'), so the faucet key, which sits in a
Kubernetes Secret of the namespace in ``provisioning: cluster`` mode, can never be used to compute
an operator key or the other way round.

Keystore passwords are not random (no pulumi-random here, and a random one would change the Secret
on every run): each is HMAC-SHA256 keyed by the BIP-39 seed over the operator address, so it is as
secret as the mnemonic, differs per operator, and changes exactly when the key changes.

Keystores are Web3 Secret Storage v3 (what keep-client's go-ethereum keystore reads).  A keystore
normally gets a random salt, IV and id each time it is written; here they are derived from the key
and password (HMAC keyed by the private key), so the same key and password always give the same
JSON.  That is what keeps the Kubernetes Secret, and every pod that mounts it, from churning on
every ``pulumi up``.  It costs nothing in secrecy: the salt and IV are public in any keystore, they
are still unique per (key, password), and AES-CTR is never used twice with the same key and IV on
different plaintexts because the IV depends on the plaintext.  The alternative, persisting random
ones in state, would put key-dependent material into the state for no gain.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import importlib.util
import os
import unicodedata
import uuid
from dataclasses import dataclass

from eth_keys import keys as eth_keys
from eth_utils import keccak

from .errors import OperatorKeyError

OPERATOR_PATH = "m/44'/60'/0'/0/{index}"
FAUCET_PATH = "m/44'/60'/1'/0/0"

KDFS = ("scrypt", "pbkdf2")
# go-ethereum's StandardScryptN (real chains) and LightScryptN (dev chains); pbkdf2 iterations.
DEFAULT_KDF_COST = {"scrypt": 262_144, "pbkdf2": 262_144}
LIGHT_KDF_COST = {"scrypt": 4096, "pbkdf2": 4096}
SCRYPT_R, SCRYPT_P, DKLEN = 8, 1, 32
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class KeystoreParams:
    kdf: str = "scrypt"
    cost: int = DEFAULT_KDF_COST["scrypt"]

    def validate(self, key: str = "operators.keystoreKdf") -> KeystoreParams:
        if self.kdf not in KDFS:
            raise OperatorKeyError(f"config {key}: {self.kdf!r} is not a keystore KDF (expected one of {', '.join(KDFS)})")
        cost = self.cost
        if isinstance(cost, bool) or not isinstance(cost, int) or cost < 2:
            raise OperatorKeyError(f"config keep-cd:operators.keystoreCost: {cost!r} is not an integer >= 2")
        if self.kdf == "scrypt" and cost & (cost - 1):
            raise OperatorKeyError(
                f"config keep-cd:operators.keystoreCost: {cost} is not a power of two (scrypt's N must be, e.g. 4096 or 262144)"
            )
        return self


@dataclass(frozen=True)
class OperatorClient:
    """A client that needs an operator: its name, and the HD index its key is derived at.

    The index, not the position in a list, names the key: reordering or removing clients never
    moves another client to a different operator."""

    name: str
    index: int


def index_for_name(name: str) -> int:
    """A client's HD index from its name (31 bits of sha256): stable whatever other clients exist.
    Two names giving one index is refused by the settings (odds about n²/2^32)."""
    return int.from_bytes(hashlib.sha256(b"keep-cd/operator/" + name.encode()).digest()[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class OperatorKey:
    """One operator's key material.  Only ever handled inside ``Output.apply`` of a secret."""

    name: str
    index: int | None  # None for an explicit key from config
    private_key: bytes

    @functools.cached_property
    def address(self) -> str:
        return eth_keys.PrivateKey(self.private_key).public_key.to_checksum_address()

    @functools.cached_property
    def public_key(self) -> str:
        """Compressed secp256k1 public key, hex without 0x (33 bytes): what libp2p's peer id encodes."""
        return eth_keys.PrivateKey(self.private_key).public_key.to_compressed_bytes().hex()

    @property
    def private_key_hex(self) -> str:
        return "0x" + self.private_key.hex()


def mnemonic_seed(mnemonic: str, key: str = "keep-cd:operatorMnemonic") -> bytes:
    """The BIP-39 seed of ``mnemonic``; a one-line error without echoing the words if it is invalid."""
    if not isinstance(mnemonic, str) or not mnemonic.strip():
        raise OperatorKeyError(f"config {key}: empty (expected a BIP-39 mnemonic, set with `pulumi config set --secret operatorMnemonic`)")
    words = " ".join(mnemonic.split())
    seed = _english_seed(words)
    if seed is not None:
        return seed
    from eth_account.hdaccount import Mnemonic, seed_from_mnemonic

    try:
        Mnemonic.detect_language(words)
        return seed_from_mnemonic(words, "")
    except Exception:
        count = len(words.split())
        # Never echo the words: even an invalid mnemonic is mostly a real one with a typo.
        raise OperatorKeyError(
            f"config {key}: not a valid BIP-39 mnemonic ({count} words; expected 12-24 words from the "
            "BIP-39 word list with a valid checksum)"
        ) from None


# The program derives every operator key before its fleet registers (the settings check them, the
# accounts use them): eth_account, which it used to do that with, takes about a second to import
# (eth_keyfile, py_ecc).  The common case, a valid English mnemonic and BIP-32 paths, is computed
# here with the standard library and eth_keys (coincurve), from eth_account's own word lists
# (read as files, not imported); anything else (another language, an abbreviated word, a bad
# checksum) goes to eth_account.  tests/test_operator_keys.py holds both to one answer.
_BIP39_WORD_COUNTS = (12, 15, 18, 21, 24)


@functools.cache
def _wordlists() -> dict:
    spec = importlib.util.find_spec("eth_account")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return {}
    folder = os.path.join(list(spec.submodule_search_locations)[0], "hdaccount", "wordlist")
    lists = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".txt"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                lists[name[:-4]] = [unicodedata.normalize("NFKD", w.strip()) for w in f]
    return lists


@functools.lru_cache(maxsize=8)
def _english_seed(words: str) -> bytes | None:
    """The seed of a valid English mnemonic (BIP-39), or None for anything else."""
    lists = _wordlists()
    english = lists.get("english")
    split = words.split(" ")
    if not english or len(split) not in _BIP39_WORD_COUNTS:
        return None
    index = {w: i for i, w in enumerate(english)}
    if any(w not in index for w in split):
        return None
    if any(name != "english" and set(split) <= set(wl) for name, wl in lists.items()):
        return None  # words of two languages: eth_account decides (and refuses)
    bits = 0
    for w in split:
        bits = (bits << 11) | index[w]
    checksum_bits = len(split) * 11 // 33
    entropy = (bits >> checksum_bits).to_bytes(len(split) * 4 // 3, "big")
    if bits & ((1 << checksum_bits) - 1) != hashlib.sha256(entropy).digest()[0] >> (8 - checksum_bits):
        return None
    return hashlib.pbkdf2_hmac("sha512", words.encode(), b"mnemonic", 2048)


@functools.lru_cache(maxsize=4096)
def derive_key(seed: bytes, path: str) -> bytes:
    """The BIP-32 private key at ``path`` (m/44'/60'/0'/0/i): deterministic, so computed once per
    process (the settings' check and the accounts ask for the same keys)."""
    mac = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    key, chain_code = mac[:32], mac[32:]
    for part in path.split("/")[1:]:
        hardened = part.endswith(("'", "H", "h"))
        index = int(part.rstrip("'Hh")) + (0x80000000 if hardened else 0)
        parent = b"\x00" + key if hardened else eth_keys.PrivateKey(key).public_key.to_compressed_bytes()
        mac = hmac.new(chain_code, parent + index.to_bytes(4, "big"), hashlib.sha512).digest()
        child = (int.from_bytes(mac[:32], "big") + int.from_bytes(key, "big")) % SECP256K1_N
        if int.from_bytes(mac[:32], "big") >= SECP256K1_N or child == 0:  # < 2**-127: eth_account's rule
            from eth_account.hdaccount import key_from_seed

            return key_from_seed(seed, path)
        key, chain_code = child.to_bytes(32, "big"), mac[32:]
    return key


def parse_private_key(value: str, where: str) -> bytes:
    text = value.strip() if isinstance(value, str) else ""
    if text.startswith(("0x", "0X")):
        text = text[2:]
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32 or not 0 < int.from_bytes(raw, "big") < SECP256K1_N:
        raise OperatorKeyError(f"config {where}: not a secp256k1 private key (expected 0x + 64 hex digits)")
    return raw


def operator_keys(seed: bytes, clients: list, explicit: dict | None = None) -> list:
    """One ``OperatorKey`` per client spec (objects with ``name`` and ``index``), in order.

    ``explicit`` maps client name -> private key hex and overrides derivation for that client.  Two
    clients may never share a key: they would be one operator with two pods racing for its nonce.
    """
    explicit = dict(explicit or {})
    unknown = sorted(set(explicit) - {c.name for c in clients})
    if unknown:
        raise OperatorKeyError(
            f"config keep-cd:operatorKeys: key given for {unknown[0]!r}, which is not a client (expected one of the operator client names)"
        )
    keys = []
    owner_of: dict = {}
    for c in clients:
        if c.name in explicit:
            k = OperatorKey(c.name, None, parse_private_key(explicit[c.name], f"keep-cd:operatorKeys.{c.name}"))
        else:
            k = OperatorKey(c.name, c.index, derive_key(seed, OPERATOR_PATH.format(index=c.index)))
        other = owner_of.get(k.address)
        if other is not None:
            raise OperatorKeyError(
                f"config keep-cd:operatorKeys.{k.name if k.index is None else other}: gives operator {k.address}, "
                f"which client {other if k.index is None else k.name} already has (expected one key per client)"
            )
        owner_of[k.address] = k.name
        keys.append(k)
    return keys


def faucet_key(seed: bytes) -> OperatorKey:
    return OperatorKey("faucet", None, derive_key(seed, FAUCET_PATH))


def keystore_password(seed: bytes, address: str) -> str:
    """A 43-character password for ``address``'s keystore, derived from the seed (see module doc)."""
    mac = hmac.new(seed, b"keep-cd/keystore-password/v1/" + address.lower().encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _kdf(password: bytes, salt: bytes, params: KeystoreParams) -> tuple:
    if params.kdf == "scrypt":
        n = params.cost
        derived = hashlib.scrypt(password, salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=DKLEN, maxmem=256 * SCRYPT_R * n + (1 << 20))
        return derived, {"dklen": DKLEN, "n": n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex()}
    derived = hashlib.pbkdf2_hmac("sha256", password, salt, params.cost, DKLEN)
    return derived, {"c": params.cost, "dklen": DKLEN, "prf": "hmac-sha256", "salt": salt.hex()}


def encrypt_keystore(private_key: bytes, password: str, params: KeystoreParams) -> dict:
    """A v3 keystore of ``private_key``; the same inputs always give the same JSON (module doc)."""
    from Crypto.Cipher import AES
    from Crypto.Util import Counter

    params.validate()
    pw = password.encode()

    def tag(label: bytes) -> bytes:
        return hmac.new(private_key, b"keep-cd/keystore/v1/" + label + b"/" + pw, hashlib.sha256).digest()

    salt = tag(b"salt")
    iv = tag(b"iv")[:16]
    derived, kdfparams = _kdf(pw, salt, params)
    counter = Counter.new(128, initial_value=int.from_bytes(iv, "big"))
    ciphertext = AES.new(derived[:16], AES.MODE_CTR, counter=counter).encrypt(private_key)
    mac = keccak(derived[16:32] + ciphertext)
    address = eth_keys.PrivateKey(private_key).public_key.to_checksum_address()
    return {
        "address": address[2:].lower(),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": iv.hex()},
            "ciphertext": ciphertext.hex(),
            "kdf": params.kdf,
            "kdfparams": kdfparams,
            "mac": mac.hex(),
        },
        "id": str(uuid.UUID(bytes=tag(b"id")[:16], version=4)),
        "version": 3,
    }
