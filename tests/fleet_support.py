"""Running the whole program on the `local` stack with a fleet, against a test anvil."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from bench.offline.runner import RunResult, run_stack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL_FLEET = {
    "namespace": "keep-test-fleet",
    "createNamespace": True,
    "image": {"repository": "keepnetwork/keep-client", "tag": "v1.8.0"},
    "initImage": {"repository": "keepnetwork/keep-client-init", "tag": "v1.8.0"},
    "ethereum": {"url": "ws://eth.keep.svc.cluster.local:8546", "urlRpc": "http://eth.keep.svc.cluster.local:8545"},
}


def fleet_config(**over) -> dict:
    cfg = json.loads(json.dumps(LOCAL_FLEET))
    cfg.update(over)
    return cfg


def run_fleet(
    rpc_url: str,
    deployer_key: str,
    state_path: str,
    fleet: dict,
    mnemonic: str | None = None,
    extra: dict | None = None,
    preview: bool = False,
) -> RunResult:
    """The local stack with ``fleet``: its clients run as the local stack's operators, whose keys
    derive from ``mnemonic`` (default: the session's, env KEEP_CD_OPERATOR_MNEMONIC, made at test time)."""
    overrides = {"rpcUrl": rpc_url, "deployerPrivateKey": deployer_key, "fleet": fleet}
    if mnemonic is not None:
        overrides["operatorMnemonic"] = mnemonic
    overrides.update(extra or {})
    return run_stack("local", project_dir=ROOT, state_path=state_path, config_overrides=overrides, preview=preview)


def operator_key(mnemonic: str, client: str) -> bytes:
    """The private key of ``client``'s operator: one per fleet client, HD index from its name."""
    from eth_account import Account

    from hd_paths import operator_hd_path, operator_index

    Account.enable_unaudited_hdwallet_features()
    return bytes(Account.from_mnemonic(mnemonic, account_path=operator_hd_path(operator_index(client))).key)


def by_kind(result: RunResult, kind: str) -> dict:
    """name -> inputs of the captured Kubernetes objects of one kind."""
    return {r.name: r.inputs for r in result.resources if r.type.startswith("kubernetes:") and r.inputs.get("kind") == kind}


def checksums(result: RunResult) -> dict:
    return {n: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for n, d in by_kind(result, "Deployment").items()}


# --- the fleet's components alone, under the SDK's public mocks: no chain, no migration, no program ---

# An address book as the contracts step would give it (the addresses are made up).
BOOK = {
    "KeepRandomBeaconOperator": "0x" + "11" * 20,
    "TokenStaking": "0x" + "22" * 20,
    "KeepRandomBeaconService": "0x" + "33" * 20,
    "KeepToken": "0x" + "44" * 20,
}


def mocked_identity(key: bytes, password: str):
    """A client's identity as the operators step gives it: address, compressed public key, and a
    keystore of ``key`` (a light KDF: its content matters here, not its strength)."""
    from eth_keys import keys as eth_keys

    from components.keep_client import ClientIdentity
    from operators.keys import KeystoreParams, encrypt_keystore

    public = eth_keys.PrivateKey(key).public_key
    keystore = json.dumps(encrypt_keystore(key, password, KeystoreParams("pbkdf2", 2)), sort_keys=True)
    return ClientIdentity(public.to_checksum_address(), public.to_compressed_bytes().hex(), keystore, password)


@dataclass
class MockedFleet:
    resources: list  # CapturedResource of every registration
    outputs: dict  # the KeepNetwork's bootstrapPeers and summary
    depends_on: dict  # (type, name) -> the (type, name) of each resource its registration waits for
    keys: dict  # client -> operator private key

    def by_kind(self, kind: str) -> dict:
        return {r.name: r.inputs for r in self.resources if r.type.startswith("kubernetes:") and r.inputs.get("kind") == kind}

    def checksums(self) -> dict:
        return {n: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for n, d in self.by_kind("Deployment").items()}


def render_fleet(fleet: dict, mnemonic: str, book: dict = BOOK, provisioning: str = "deploy") -> MockedFleet:
    """KeepNetwork built directly from the fleet section ``fleet`` (parsed as the program parses it),
    each client running as the operator ``mnemonic`` gives it, contract addresses from ``book``,
    under the SDK's public mocks; the operators' stakes are a stand-in resource every client waits for."""
    import pulumi

    from components.keep_client import OperatorInit
    from components.keep_network import KeepNetwork, KeepNetworkArgs
    from pulumi_mocks import Recorder, resolve, run_program
    from settings.fleet import parse_fleet

    spec = parse_fleet(fleet, 31337, set(book))
    keys = {c.name: operator_key(mnemonic, c.name) for c in spec.clients}
    names: dict = {}
    depends_on: dict = {}

    def record(args: pulumi.ResourceTransformationArgs):
        names[id(args.resource)] = (args.type_, args.name)
        deps = args.opts.depends_on
        depends_on[(args.type_, args.name)] = list(deps) if isinstance(deps, (list, tuple)) else [deps] if deps else []
        return None

    faucet = bytes(range(1, 33)).hex()
    operator_init = OperatorInit()
    if provisioning == "cluster":
        operator_init = OperatorInit("cluster", token_address=book["KeepToken"], eth_threshold=5 * 10**17, eth_target=10**18)
    outputs: dict = {}

    def program():
        stakes = pulumi.CustomResource("keep:operators:OperatorStakes", "operator-stakes", {})
        names[id(stakes)] = ("keep:operators:OperatorStakes", "operator-stakes")
        identities = {n: mocked_identity(k, "pw-" + hashlib.sha256(k).hexdigest()[:16]) for n, k in keys.items()}
        network = KeepNetwork(
            "keep-network",
            KeepNetworkArgs(
                fleet=spec,
                address_book=book,
                identities=identities,
                operator_init=operator_init,
                faucet_key=faucet if provisioning == "cluster" else None,
                start_after=[stakes],
            ),
            pulumi.ResourceOptions(transformations=[record]),
        )
        done, got, _ = resolve({"bootstrapPeers": network.bootstrap_peers, "summary": network.summary})
        return done.apply(lambda _: outputs.update(got))

    mocks = run_program(Recorder(), program)
    waits = {k: {names.get(id(d), "?") for d in deps} for k, deps in depends_on.items()}
    return MockedFleet(mocks.resources, outputs, waits, keys)
