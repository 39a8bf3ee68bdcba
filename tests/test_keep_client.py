"""One KeepClient under Pulumi mocks (no chain, no program): what its pod gets, read from the
objects it registers, and when its ``checksum/config`` moves."""

from __future__ import annotations

import json
import os

import pulumi
import pytest
from eth_account import Account
from eth_keys import keys as eth_keys

from components.keep_client import (
    ChainEndpoints,
    ClientIdentity,
    ComputeResources,
    ImageRef,
    KeepClient,
    KeepClientArgs,
    OperatorInit,
)
from operators.keys import KeystoreParams, encrypt_keystore
from pulumi_mocks import Recorder, run_program

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOK = {"KeepRandomBeaconOperator": "0x" + "11" * 20, "TokenStaking": "0x" + "22" * 20, "KeepRandomBeaconService": "0x" + "33" * 20}
LIGHT = KeystoreParams("pbkdf2", 2)  # the keystore's content matters here, not its strength


def identity(key: bytes, password: str) -> ClientIdentity:
    public = eth_keys.PrivateKey(key).public_key
    keystore = json.dumps(encrypt_keystore(key, password, LIGHT), sort_keys=True)
    return ClientIdentity(public.to_checksum_address(), public.to_compressed_bytes().hex(), keystore, password)


def render(identities: dict, book: dict = BOOK, operator_init: OperatorInit | None = None) -> dict:
    """name -> {kind: inputs} of what each client registers."""

    def program():
        clients = {}
        for name, ident in identities.items():
            clients[name] = KeepClient(
                name,
                KeepClientArgs(
                    namespace="keep-test",
                    role="bootstrap",
                    image=ImageRef("keepnetwork/keep-client", tag="v1.8.0"),
                    init_image=ImageRef("keepnetwork/keep-client-init", digest="sha256:" + "ab" * 32),
                    chain=ChainEndpoints("ws://eth:8546", "http://eth:8545", 1101),
                    identity=ident,
                    contract_addresses=book,
                    resources=ComputeResources({"cpu": "100m"}, {"cpu": "500m"}),
                    init_resources=ComputeResources({"cpu": "50m"}, {"cpu": "200m"}),
                    operator_init=operator_init or OperatorInit(),
                ),
            )
        # The component's own checksum output is the one its Deployment carries.
        return pulumi.Output.all(*(pulumi.Output.all(c.checksum, c.deployment.spec).apply(same_checksum) for c in clients.values()))

    mocks = run_program(Recorder(), program)
    out: dict = {}
    for r in mocks.resources:
        if r.type.startswith("kubernetes:"):
            owner = r.inputs["metadata"]["name"].removesuffix("-config").removesuffix("-eth-account").removesuffix("-data")
            out.setdefault(owner, {})[r.inputs["kind"]] = r.inputs
    return out


def same_checksum(values: list) -> None:
    checksum, spec = values
    assert spec["template"]["metadata"]["annotations"]["checksum/config"] == checksum


def checksum(objects: dict) -> str:
    return objects["Deployment"]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


@pytest.fixture(scope="module")
def keys() -> dict:
    return {name: bytes(Account.create().key) for name in ("keep-a", "keep-b")}


def test_checksum_moves_when_only_the_keyfile_changes_and_only_for_that_client(keys):
    """keep-b's keystore is re-encrypted (new password): same address, same config, new keyfile."""
    before = render({n: identity(k, "pw-1") for n, k in keys.items()})
    after = render({"keep-a": identity(keys["keep-a"], "pw-1"), "keep-b": identity(keys["keep-b"], "pw-2")})
    for name in keys:
        assert before[name]["ConfigMap"]["data"] == after[name]["ConfigMap"]["data"]
    assert before["keep-b"]["Secret"]["stringData"]["eth_account_keyfile"] != after["keep-b"]["Secret"]["stringData"]["eth_account_keyfile"]
    assert checksum(before["keep-a"]) == checksum(after["keep-a"])
    assert checksum(before["keep-b"]) != checksum(after["keep-b"])


def test_checksum_moves_with_the_config_and_the_contract_addresses(keys):
    ids = {n: identity(k, "pw-1") for n, k in keys.items()}
    base = render(ids)
    moved = render(ids, book={**BOOK, "TokenStaking": "0x" + "44" * 20})
    assert all(checksum(base[n]) != checksum(moved[n]) for n in keys)
    assert all(
        base[n]["Deployment"]["spec"]["template"]["metadata"]["annotations"]["keep-cd/contracts-hash"]
        != moved[n]["Deployment"]["spec"]["template"]["metadata"]["annotations"]["keep-cd/contracts-hash"]
        for n in keys
    )
    again = render(ids)
    assert {n: checksum(o) for n, o in again.items()} == {n: checksum(o) for n, o in base.items()}


@pytest.mark.parametrize(
    "operator_init",
    [OperatorInit(), OperatorInit("cluster", faucet_secret="faucet", token_address="0x" + "55" * 20, eth_threshold=1, eth_target=2)],
    ids=["deploy", "cluster"],
)
def test_every_init_container_runs_a_program_the_image_holds(keys, tmp_path, operator_init):
    """Each init container's command, from its working directory, names a file that the
    InitContainer image (as its Dockerfile copies the repository) contains."""
    from test_fleet_init_containers import image_tree, image_workdir

    (objects,) = render({"keep-a": identity(keys["keep-a"], "pw")}, operator_init=operator_init).values()
    tree = image_tree(str(tmp_path / "image"))
    containers = objects["Deployment"]["spec"]["template"]["spec"]["initContainers"]
    assert len(containers) == 2
    for c in containers:
        assert c["image"] == "keepnetwork/keep-client-init@sha256:" + "ab" * 32
        workdir = c.get("workingDir", image_workdir())
        program, *rest = c["command"][1:]
        if program == "-m":
            path = os.path.join(workdir, *rest[0].split(".")) + ".py"
        else:
            path = os.path.join(workdir, program)
        assert c["command"][0] == "python3" and os.path.isfile(tree + path), (c["name"], path)


def test_the_checksum_of_given_inputs_is_stable_across_keep_cd_versions():
    """The annotation is what Kubernetes compares: computing it any other way would roll every
    client of every stack on upgrade.  Recorded from keep-cd; the contract map's order does not matter."""
    from components.keep_client import config_checksum, sha256_json

    contracts = {"TokenStaking": "0x" + "22" * 20, "KeepRandomBeaconOperator": "0x" + "11" * 20}
    got = config_checksum('[ethereum]\nURL = "ws://e"\n', '{"address": "ab"}', contracts)
    assert got == "887505b283f4aa0db1412f5693ac29f6f6ce4c6f27d9f42024615f3fd2626f2b"
    assert config_checksum('[ethereum]\nURL = "ws://e"\n', '{"address": "ab"}', dict(reversed(list(contracts.items())))) == got
    assert sha256_json({"b": [1, "x"], "a": {"c": None}}) == "7002905de57682573f1eceeba283bfe8f3308f3c6ec170f471e86395124717d5"


# The builders alone, without Pulumi: each returns plain data, so its rules are checked directly.
CLUSTER_INIT = OperatorInit("cluster", faucet_secret="fleet-faucet", token_address="0x" + "55" * 20, eth_threshold=1, eth_target=2)


def client_args(operator_init: OperatorInit) -> KeepClientArgs:
    return KeepClientArgs(
        namespace="keep-test",
        role="standard",
        image=ImageRef("keepnetwork/keep-client", tag="v1.8.0"),
        init_image=ImageRef("keepnetwork/keep-client-init", tag="v1.8.0"),
        chain=ChainEndpoints("ws://eth:8546", "http://eth:8545", 1101),
        identity=ClientIdentity("0x" + "11" * 20, "02" + "22" * 32, "{}", "pw"),
        contract_addresses=BOOK,
        resources=ComputeResources({"cpu": "100m"}, {"cpu": "500m"}),
        init_resources=ComputeResources({"cpu": "50m"}, {"cpu": "200m"}),
        operator_init=operator_init,
    )


def test_the_selector_leaves_out_every_label_that_can_change():
    """A Deployment's selector is immutable: the version and the role must stay out of it, or an
    image bump would need the Deployment replaced."""
    from components.keep_client import client_labels, selector_labels

    old = client_labels("keep-a", "bootstrap", "keep-network", ImageRef("r", tag="v1"))
    new = client_labels("keep-a", "standard", "keep-network", ImageRef("r", digest="sha256:" + "ab" * 32))
    assert old != new
    assert selector_labels(old) == selector_labels(new)
    assert selector_labels(old).items() <= old.items()
    assert selector_labels(old) != selector_labels(client_labels("keep-b", "bootstrap", "keep-network", ImageRef("r", tag="v1")))


@pytest.mark.parametrize("operator_init", [OperatorInit(), CLUSTER_INIT], ids=["deploy", "cluster"])
def test_every_mount_names_a_volume_of_the_pod(operator_init):
    from components.keep_client import pod_spec

    spec = pod_spec(client_args(operator_init), "keep-a")
    volumes = {v["name"] for v in spec["volumes"]}
    mounts = {m["name"] for c in spec["init_containers"] + spec["containers"] for m in c["volume_mounts"]}
    assert mounts <= volumes, mounts - volumes
    assert len(volumes) == len(spec["volumes"])  # no volume named twice


def test_only_cluster_provisioning_gives_the_operator_init_container_a_key():
    """operator-check (deploy) reads only: no password, no faucet key; provision-operator (cluster)
    gets both, the faucet key from the fleet's faucet Secret."""
    from components.keep_client import PASSWORD_ENV, operator_init_container, operator_init_volumes

    def keys_of(container: dict) -> set:
        return {e["name"] for e in container["env"] if "value_from" in e} | {
            m["name"] for m in container["volume_mounts"] if m["name"] == "faucet"
        }

    image, resources = "keepnetwork/keep-client-init:v1.8.0", ComputeResources({}, {})
    assert keys_of(operator_init_container(OperatorInit(), "keep-a", image, resources)) == set()
    assert operator_init_volumes(OperatorInit()) == []
    assert keys_of(operator_init_container(CLUSTER_INIT, "keep-a", image, resources)) == {PASSWORD_ENV, "faucet"}
    (faucet,) = operator_init_volumes(CLUSTER_INIT)
    assert faucet["secret"]["secret_name"] == "fleet-faucet"
