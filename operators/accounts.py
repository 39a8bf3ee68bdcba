"""Operator accounts as a component: per client an address, a public key, a keystore and its password.

Everything is computed inside ``Output.apply`` on the secret mnemonic (and the secret explicit
keys), so every value derived from them is a secret Output too; only the address and the public
key are made plain again (``Output.unsecret``): they go into ConfigMaps and peer ids, and reveal
nothing.  No resource is created here: what consumes the identities (the client's Kubernetes
Secret) carries them as secrets, and the state never holds them in plain text.

The keys, keystores and passwords are deterministic (see ``operators.keys``): running the program
again never makes a new account, and a keystore changes only when its key or password does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi

from .keys import KeystoreParams, OperatorClient, encrypt_keystore, faucet_key, keystore_password, mnemonic_seed, operator_keys


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


def derive_material(mnemonic: str, clients: list, explicit: dict | None, keystore: KeystoreParams, faucet: bool) -> dict:
    """The plain function behind the component (tests call it directly):
    {"clients": {name: identity fields}, "faucet": {address, private_key} or None}."""
    seed = mnemonic_seed(mnemonic)
    out: dict = {"clients": {}, "faucet": None}
    for key in operator_keys(seed, clients, explicit or {}):
        password = keystore_password(seed, key.address)
        out["clients"][key.name] = {
            "address": key.address,
            "public_key": key.public_key,
            "keyfile_json": json.dumps(encrypt_keystore(key.private_key, password, keystore), sort_keys=True),
            "keyfile_password": password,
        }
    if faucet:
        f = faucet_key(seed)
        out["faucet"] = {"address": f.address, "private_key": f.private_key_hex}
    return out


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
        # One apply for all clients: the keystore KDF runs once per client, not once per field.
        material = pulumi.Output.all(pulumi.Output.secret(args.mnemonic), pulumi.Output.secret(explicit)).apply(
            lambda v: derive_material(v[0], clients, v[1], args.keystore, args.faucet)
        )

        def field_of(client: str | None, key: str, secret: bool) -> pulumi.Output:
            out = material.apply(lambda m: (m["clients"][client] if client else m["faucet"])[key])
            return out if secret else pulumi.Output.unsecret(out)

        self.identities = {
            c.name: OperatorIdentity(
                address=field_of(c.name, "address", False),
                public_key=field_of(c.name, "public_key", False),
                keyfile_json=field_of(c.name, "keyfile_json", True),
                keyfile_password=field_of(c.name, "keyfile_password", True),
            )
            for c in clients
        }
        self.addresses = pulumi.Output.unsecret(material.apply(lambda m: {n: c["address"] for n, c in m["clients"].items()}))
        self.faucet = (
            FaucetIdentity(address=field_of(None, "address", False), private_key=field_of(None, "private_key", True))
            if args.faucet
            else None
        )
        self.register_outputs({"addresses": self.addresses})
