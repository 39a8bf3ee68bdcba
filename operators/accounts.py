"""Operator accounts as a component: per client an address, a public key, a keystore and its password.

Everything is computed inside ``Output.apply`` on the secret mnemonic (and the secret explicit
keys), so every value derived from them is a secret Output too; only the address and the public
key are made plain again (``Output.unsecret``): they go into ConfigMaps and peer ids, and reveal
nothing.  No resource is created here: what consumes the identities (the client's Kubernetes
Secret) carries them as secrets, and the state never holds them in plain text.

The keys, keystores and passwords are deterministic (see ``operators.keys``): running the program
again never makes a new account, and a keystore changes only when its key or password does.

What each client's objects need comes as soon as it can: the keys (BIP-32, milliseconds for a
hundred) first, so addresses, public keys and so peer ids and config files are known at once; each
keystore (a KDF run, the one costly step) in a small thread pool of its own while the program goes
on registering resources, so a hundred keystores no longer hold every registration back.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pulumi

from .keys import KeystoreParams, OperatorClient, OperatorKey, encrypt_keystore, faucet_key, keystore_password, mnemonic_seed, operator_keys


@dataclass
class OperatorIdentity:
    """What a keep-client needs of its operator account (the fleet's ``KeepClientArgs`` take these)."""

    address: pulumi.Output  # str, plain: [ethereum.account] Address
    public_key: pulumi.Output  # str, plain: compressed secp256k1 hex, for the libp2p peer id
    keyfile_json: pulumi.Output  # str, secret: v3 keystore JSON
    keyfile_password: pulumi.Output  # str, secret: KEEP_ETHEREUM_PASSWORD


@dataclass
class FaucetIdentity:
    """The cluster-mode faucet: its address (plain) and key (secret, for the namespace's Secret)."""

    address: pulumi.Output
    private_key: pulumi.Output


@dataclass
class OperatorAccountsArgs:
    mnemonic: pulumi.Input[str]  # secret
    clients: list  # [OperatorClient]
    keystore: KeystoreParams = field(default_factory=KeystoreParams)
    explicit_keys: pulumi.Input[dict] | None = None  # secret: client name -> private key hex
    faucet: bool = False  # derive the cluster-mode faucet key too


def derive_keys(mnemonic: str, clients: list, explicit: dict | None, faucet: bool) -> dict:
    """The cheap part: {"seed", "keys": {name: OperatorKey}, "faucet": OperatorKey or None}."""
    seed = mnemonic_seed(mnemonic)
    keys = {k.name: k for k in operator_keys(seed, clients, explicit or {})}
    return {"seed": seed, "keys": keys, "faucet": faucet_key(seed) if faucet else None}


def client_identity(seed: bytes, key: OperatorKey, keystore: KeystoreParams) -> dict:
    """One client's identity fields, its keystore included (the KDF: the costly part)."""
    password = keystore_password(seed, key.address)
    return {
        "address": key.address,
        "public_key": key.public_key,
        "keyfile_json": keystore_json(key.private_key, password, keystore),
        "keyfile_password": password,
    }


def keystore_json(private_key: bytes, password: str, keystore: KeystoreParams) -> str:
    return json.dumps(encrypt_keystore(private_key, password, keystore), sort_keys=True)


def derive_material(mnemonic: str, clients: list, explicit: dict | None, keystore: KeystoreParams, faucet: bool) -> dict:
    """The plain function behind the component (tests call it directly):
    {"clients": {name: identity fields}, "faucet": {address, private_key} or None}."""
    derived = derive_keys(mnemonic, clients, explicit, faucet)
    out: dict = {"clients": {n: client_identity(derived["seed"], k, keystore) for n, k in derived["keys"].items()}, "faucet": None}
    if derived["faucet"]:
        out["faucet"] = {"address": derived["faucet"].address, "private_key": derived["faucet"].private_key_hex}
    return out


@functools.lru_cache(maxsize=1)
def _keystore_pool() -> ThreadPoolExecutor:
    """Where keystores are made: two at a time at most (hashlib's scrypt runs outside the GIL, and
    each takes 128·r·N bytes: 256 MiB at go-ethereum's standard cost)."""
    return ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)), thread_name_prefix="keystore")


def _keystore_later(derived: dict, name: str, keystore: KeystoreParams):
    """An awaitable of ``name``'s keystore JSON, made in the keystore pool (Output.apply awaits it)."""
    key = derived["keys"][name]
    password = keystore_password(derived["seed"], key.address)
    return asyncio.get_running_loop().run_in_executor(_keystore_pool(), keystore_json, key.private_key, password, keystore)


class OperatorAccounts(pulumi.ComponentResource):
    """Deterministic operator accounts for a fleet of clients."""

    identities: dict  # client name -> OperatorIdentity
    addresses: pulumi.Output  # dict client name -> address (plain): the staking resource's input
    faucet: FaucetIdentity | None

    def __init__(self, name: str, args: OperatorAccountsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("keep:operators:OperatorAccounts", name, None, opts)
        clients = [OperatorClient(c.name, c.index) for c in args.clients]
        args.keystore.validate()
        explicit = args.explicit_keys if args.explicit_keys is not None else {}
        # One apply for every key (BIP-32 is cheap); a keystore per client, each on its own.
        derived = pulumi.Output.all(pulumi.Output.secret(args.mnemonic), pulumi.Output.secret(explicit)).apply(
            lambda v: derive_keys(v[0], clients, v[1], args.faucet)
        )

        def plain(fn) -> pulumi.Output:
            return pulumi.Output.unsecret(derived.apply(fn))

        def identity(name: str) -> OperatorIdentity:
            def keyfile(d: dict):
                return _keystore_later(d, name, args.keystore)

            def password(d: dict) -> str:
                return keystore_password(d["seed"], d["keys"][name].address)

            return OperatorIdentity(
                address=plain(lambda d: d["keys"][name].address),
                public_key=plain(lambda d: d["keys"][name].public_key),
                keyfile_json=derived.apply(keyfile),
                keyfile_password=derived.apply(password),
            )

        self.identities = {c.name: identity(c.name) for c in clients}
        self.addresses = plain(lambda d: {n: k.address for n, k in d["keys"].items()})
        self.faucet = (
            FaucetIdentity(address=plain(lambda d: d["faucet"].address), private_key=derived.apply(lambda d: d["faucet"].private_key_hex))
            if args.faucet
            else None
        )
        self.register_outputs({"addresses": self.addresses})
