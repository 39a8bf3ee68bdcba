"""libp2p peer ids of keep-clients, computed from their secp256k1 public keys.

keep-client derives its libp2p identity from its Ethereum key, so a bootstrap peer's address is
known as soon as its key is: peer id = base58btc(identity multihash(protobuf PublicKey{Secp256k1,
compressed key})).  The protobuf message is two fixed fields, so it is written out by hand below
rather than through generated protobuf code.
"""

from __future__ import annotations

import base58
from eth_keys import keys

from chain.errors import ConfigError

SECP256K1 = 2  # libp2p crypto.pb KeyType.Secp256k1
IDENTITY_MULTIHASH = 0x00  # multihash code "identity": the digest is the bytes themselves


def compressed_public_key(public_key: str) -> bytes:
    """33-byte compressed form of a hex public key given compressed (33 bytes) or uncompressed
    (64 bytes, or 65 with the 0x04 prefix); the point must be on the curve."""
    try:
        raw = bytes.fromhex(public_key[2:] if public_key.startswith("0x") else public_key)
        if len(raw) == 33:
            return keys.PublicKey.from_compressed_bytes(raw).to_compressed_bytes()
        if len(raw) == 65 and raw[0] == 4:
            raw = raw[1:]
        return keys.PublicKey(raw).to_compressed_bytes()
    except Exception:
        raise ConfigError(
            f"public key {public_key!r}: not a secp256k1 public key (expected hex of 33 compressed or 64/65 uncompressed bytes)"
        ) from None


def public_key_protobuf(compressed: bytes) -> bytes:
    # message PublicKey { required KeyType Type = 1; required bytes Data = 2; }
    # field 1, varint (tag 0x08) = 2; field 2, length-delimited (tag 0x12), length 33 < 128 so one
    # varint byte.
    return bytes([0x08, SECP256K1, 0x12, len(compressed)]) + compressed


def peer_id(public_key: str) -> str:
    """The ``16Uiu2HAm…`` peer id of a secp256k1 public key (hex)."""
    encoded = public_key_protobuf(compressed_public_key(public_key))
    # 37 bytes: at most 42, so libp2p uses the identity multihash (code, length, bytes).
    return base58.b58encode(bytes([IDENTITY_MULTIHASH, len(encoded)]) + encoded).decode()


def peer_multiaddr(host: str, port: int, pid: str) -> str:
    """``/dns4/<host>/tcp/<port>/ipfs/<peer id>``: how keep-client 1.x lists a bootstrap peer."""
    return f"/dns4/{host}/tcp/{port}/ipfs/{pid}"
