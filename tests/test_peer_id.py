"""libp2p peer ids from secp256k1 public keys, checked against published pairs and against an
independent derivation (protobuf library + coincurve) in this file."""

import base58
import coincurve
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from chain.errors import ConfigError
from components.peer_id import peer_id, peer_multiaddr

# Published key/peer-id pairs made by other libp2p implementations:
#  - open-aea's ACN docs (go-libp2p node): `aea get-multiaddress` / `aea get-public-key` output;
#  - mingder78/libp2p-ethereum README (js-libp2p), public key given there as bytes.
PUBLISHED = [
    ("02d9383bc6e37e4d6b56cecb93c1e2796407c07decaa3ae598b6f762946a464353", "16Uiu2HAmA3cBbvMtLjqnkmoLBFuzmsVYnGfNLvr5Ws3Ey7JeRFAa"),
    (
        bytes(
            [
                3,
                20,
                61,
                49,
                254,
                106,
                5,
                22,
                163,
                76,
                90,
                91,
                30,
                6,
                41,
                173,
                62,
                130,
                235,
                124,
                118,
                198,
                27,
                189,
                205,
                113,
                3,
                18,
                39,
                213,
                138,
                5,
                178,
            ]
        ).hex(),
        "16Uiu2HAmE1zdG92om3Y49m3ZeT5T3jAZCZ1w7JGWi93NWGRbjmW1",
    ),
]


@pytest.mark.parametrize("public_key, expected", PUBLISHED)
def test_published_pairs(public_key, expected):
    assert peer_id(public_key) == expected
    assert peer_id("0x" + public_key) == expected


def _public_key_message_class():
    """libp2p's crypto.proto PublicKey, built with the protobuf library instead of by hand."""
    fdp = descriptor_pb2.FileDescriptorProto(name="libp2p_crypto_test.proto", package="crypto.pb", syntax="proto2")
    enum = fdp.enum_type.add(name="KeyType")
    for i, n in enumerate(["RSA", "Ed25519", "Secp256k1", "ECDSA"]):
        enum.value.add(name=n, number=i)
    msg = fdp.message_type.add(name="PublicKey")
    F = descriptor_pb2.FieldDescriptorProto
    msg.field.add(name="Type", number=1, label=F.LABEL_REQUIRED, type=F.TYPE_ENUM, type_name=".crypto.pb.KeyType")
    msg.field.add(name="Data", number=2, label=F.LABEL_REQUIRED, type=F.TYPE_BYTES)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("crypto.pb.PublicKey"))


def independent_peer_id(private_key: bytes) -> str:
    PublicKey = _public_key_message_class()
    compressed = coincurve.PrivateKey(private_key).public_key.format(compressed=True)
    encoded = PublicKey(Type=2, Data=compressed).SerializeToString()
    return base58.b58encode(b"\x00" + bytes([len(encoded)]) + encoded).decode()


def test_matches_an_independent_derivation_for_fresh_keys():
    for _ in range(20):
        key = coincurve.PrivateKey()
        pub = key.public_key
        expected = independent_peer_id(key.secret)
        assert expected.startswith("16Uiu2HA")
        assert peer_id(pub.format(compressed=True).hex()) == expected
        assert peer_id(pub.format(compressed=False).hex()) == expected  # 65 bytes, 0x04 prefix
        assert peer_id(pub.format(compressed=False)[1:].hex()) == expected  # 64 raw bytes


@pytest.mark.parametrize("bad", ["", "zz", "02" + "00" * 32, "05" + "11" * 32, "11" * 20])
def test_not_a_public_key_is_a_one_line_error(bad):
    with pytest.raises(ConfigError) as e:
        peer_id(bad)
    assert "not a secp256k1 public key" in str(e.value) and "\n" not in str(e.value)


def test_multiaddr_form_keep_client_1x_reads():
    assert peer_multiaddr("b.ns.svc.cluster.local", 3919, "16Uiu2X") == "/dns4/b.ns.svc.cluster.local/tcp/3919/ipfs/16Uiu2X"


def test_a_64_byte_key_that_happens_to_start_with_04_is_not_taken_for_a_prefixed_one():
    from eth_keys import keys

    public = keys.PrivateKey((45).to_bytes(32, "big")).public_key  # its X coordinate starts with 0x04
    assert public.to_bytes()[0] == 4
    assert peer_id(public.to_bytes().hex()) == peer_id(public.to_compressed_bytes().hex()) == peer_id("04" + public.to_bytes().hex())
