"""The fleet's InitContainers in both provisioning modes: what the Deployment runs after
prepare-client (rendered under mocks), where the faucet key goes, and the rendered commands run in
order, as the pod would run them, from a tree laid out by the Dockerfile's COPY lines, against anvil."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib

import pytest
from eth_account import Account

from bench.chains.anvil import rpc
from fleet_support import ROOT, by_kind, fleet_config, run_fleet
from hd_paths import FAUCET_HD_PATH, operator_hd_path, operator_index
from test_operators_stack import leaks

Account.enable_unaudited_hdwallet_features()
COUNTS = {"bootstrap": 1, "standard": 1}
CLUSTER = {
    "provisioning": "cluster",
    "keystoreCost": 1024,
    "ethThreshold": "200000000000000000",
    "ethTarget": "400000000000000000",
}


def run_mode(anvil, tmp_path, operators: dict, mnemonic: str, **extra):
    """The local stack with a 1+1 fleet whose pods reach the test anvil, in the given mode."""
    ws = anvil.url.replace("http://", "ws://")
    fleet = fleet_config(counts=COUNTS, ethereum={"url": ws, "urlRpc": anvil.url})
    state = str(tmp_path / "state.json")
    deployer = anvil.new_account(10**24).key.hex()
    result = run_fleet(anvil.url, deployer, state, fleet, mnemonic=mnemonic, extra={"operators": operators, **extra})
    return result, state


@pytest.fixture(scope="module")
def deploy_mode(anvil, tmp_path_factory):
    mnemonic = Account.create_with_mnemonic()[1]
    return run_mode(anvil, tmp_path_factory.mktemp("deploy"), {"keystoreCost": 1024}, mnemonic) + (mnemonic,)


@pytest.fixture(scope="module")
def cluster_mode(anvil, tmp_path_factory):
    mnemonic = Account.create_with_mnemonic()[1]
    return run_mode(anvil, tmp_path_factory.mktemp("cluster"), CLUSTER, mnemonic) + (mnemonic,)


def init_containers(result) -> dict:
    return {n: d["spec"]["template"]["spec"]["initContainers"] for n, d in by_kind(result, "Deployment").items()}


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def client_paths(result, name: str) -> dict:
    """Where keep-client itself finds its files, from its own container and its rendered config:
    what the operator init container must read too (nothing of keep_client's constants)."""
    spec = by_kind(result, "Deployment")[name]["spec"]["template"]["spec"]
    (client,) = spec["containers"]
    args = client["args"]
    config_path = args[args.index("-config") + 1]
    config = tomllib.loads(by_kind(result, "ConfigMap")[f"{name}-config"]["data"]["keep-client-config.toml"])
    return {"config": config_path, "keyfile": config["ethereum"]["account"]["KeyFile"], "data_mount": client["volumeMounts"]}


def image_workdir() -> str:
    """The InitContainer image's WORKDIR (its Dockerfile's last one): where a pod without
    workingDir starts, and where ``python3 -m initcontainer.<module>`` must find the package."""
    with open(os.path.join(ROOT, "initcontainer", "Dockerfile")) as f:
        workdirs = [line.split()[1] for line in f if line.startswith("WORKDIR ")]
    return workdirs[-1]


def assert_runs_from_the_image(container: dict, tmp_path) -> None:
    """``python3 -m <module>`` in its workingDir finds the module in the image the Dockerfile builds."""
    assert container["command"][:2] == ["python3", "-m"]
    module = container["command"][2]
    tree = image_tree(str(tmp_path / f"image-{container['name']}"))
    workdir = container.get("workingDir", image_workdir())
    assert os.path.isfile(tree + os.path.join(workdir, *module.split(".")) + ".py"), (workdir, module)


def test_deploy_mode_checks_the_operator_after_prepare_client(deploy_mode, tmp_path):
    result, _, _ = deploy_mode
    for name, (prepare, check) in init_containers(result).items():
        assert prepare["name"] == "prepare-client" and check["name"] == "operator-check"
        assert check["command"] == ["python3", "-m", "initcontainer.operator_check"]
        assert_runs_from_the_image(check, tmp_path)
        assert check["image"] == prepare["image"] == "keepnetwork/keep-client-init:v1.8.0"
        # It reads the config keep-client will run with (prepare-client wrote it to the volume), and nothing secret.
        assert env_of(check) == {"KEEP_CLIENT_CONFIG": client_paths(result, name)["config"]}
        assert {m["name"]: m.get("readOnly", False) for m in check["volumeMounts"]} == {"data": True, "tmp": False}
        assert check["securityContext"] == prepare["securityContext"] and check["resources"] == prepare["resources"]
        volumes = by_kind(result, "Deployment")[name]["spec"]["template"]["spec"]["volumes"]
        assert "faucet" not in {v["name"] for v in volumes}
    assert "keep-network-faucet" not in by_kind(result, "Secret")


def test_cluster_mode_provisions_from_the_faucet_secret(cluster_mode, tmp_path):
    result, _, _ = cluster_mode
    book = result.outputs["addressBook"]
    faucet_secret = by_kind(result, "Secret")["keep-network-faucet"]["stringData"]
    for name, (prepare, provision) in init_containers(result).items():
        assert prepare["name"] == "prepare-client" and provision["name"] == "provision-operator"
        assert provision["command"] == ["python3", "-m", "initcontainer.provision_operator"]
        assert_runs_from_the_image(provision, tmp_path)
        paths = client_paths(result, name)
        spec = by_kind(result, "Deployment")[name]["spec"]["template"]["spec"]
        (faucet,) = [v for v in spec["volumes"] if v["name"] == "faucet"]
        (item,) = faucet["secret"]["items"]
        assert item["key"] in faucet_secret  # the volume shows the Secret's one key...
        mounts = {m["name"]: m for m in provision["volumeMounts"]}
        # ...at the path the container is told to read it from; the rest as keep-client finds it.
        assert env_of(provision) == {
            "KEEP_CLIENT_CONFIG": paths["config"],
            "KEEP_CLIENT_KEYFILE": paths["keyfile"],
            "KEEP_ETHEREUM_PASSWORD": {"secretKeyRef": {"name": f"{name}-eth-account", "key": "eth_account_password"}},
            "KEEP_CD_FAUCET_KEY_FILE": f"{mounts['faucet']['mountPath']}/{item['path']}",
            "KEEP_CD_TOKEN_ADDRESS": book["KeepToken"],
            "KEEP_CD_ETH_THRESHOLD": CLUSTER["ethThreshold"],
            "KEEP_CD_ETH_TARGET": CLUSTER["ethTarget"],
            "KEEP_CD_STAKE_AMOUNT": "minimum",
        }
        assert mounts["faucet"]["readOnly"] is True
        assert faucet["secret"]["secretName"] == "keep-network-faucet"
        # Only provision-operator sees the faucet key.
        others = [prepare, *spec["containers"]]
        assert all("faucet" not in {m["name"] for m in c["volumeMounts"]} for c in others)


def test_faucet_key_is_only_in_one_secret_of_the_namespace(cluster_mode, capfd):
    result, state, mnemonic = cluster_mode
    faucet = Account.from_mnemonic(mnemonic, account_path=FAUCET_HD_PATH)
    key = "0x" + bytes(faucet.key).hex()
    holders = [r for r in result.resources if key in json.dumps(r.inputs)]
    assert [(r.type, r.name) for r in holders] == [("kubernetes:core/v1:Secret", "keep-network-faucet")]
    (secret,) = holders
    assert secret.inputs["metadata"]["namespace"] == "keep-test-fleet" and list(secret.inputs["stringData"].values()) == [key]
    assert "stringData" in secret.secret_paths
    with open(state) as f:
        assert leaks(result, f.read(), "", {key[2:]}) == []


def test_cluster_mode_beneficiary_owner_is_the_deployer(anvil, tmp_path):
    result, _ = run_mode(anvil, tmp_path, {**CLUSTER, "beneficiary": "owner"}, Account.create_with_mnemonic()[1])
    for prepare_and_provision in init_containers(result).values():
        assert env_of(prepare_and_provision[1])["KEEP_CD_BENEFICIARY"] == result.outputs["deployer"]


# -- the rendered pod, run -------------------------------------------------------------------------


def image_tree(dest: str) -> str:
    """The InitContainer image's files as initcontainer/Dockerfile's final stage copies them from the
    repository (COPY lines without --from); returns the directory standing for the image's root."""
    with open(os.path.join(ROOT, "initcontainer", "Dockerfile")) as f:
        stages = f.read().split("\nFROM ")
    for line in stages[-1].splitlines():
        words = line.split()
        if not words or words[0] != "COPY" or any(w.startswith("--") for w in words):
            continue
        *sources, target = words[1:]
        for source in sources:
            for path in glob.glob(os.path.join(ROOT, source)):
                to = dest + (os.path.join(target, os.path.basename(path)) if target.endswith("/") else target)
                os.makedirs(os.path.dirname(to), exist_ok=True)
                shutil.copy(path, to)
    return dest


def run_pod_init(result, client: str, root) -> list:
    """Run ``client``'s init containers in order, each as its rendered command, env and mounts say,
    with every pod path mapped into ``root``; returns [(container, exit status, its output)] up to
    the first failure."""
    spec = by_kind(result, "Deployment")[client]["spec"]["template"]["spec"]
    configmaps = {name: cm["data"] for name, cm in by_kind(result, "ConfigMap").items()}
    secrets = {name: s["stringData"] for name, s in by_kind(result, "Secret").items()}
    return run_init_containers(spec, configmaps, secrets, root)[0]


def run_init_containers(spec: dict, configmaps: dict, secrets: dict, root) -> tuple:
    """A pod's init containers run in order as ``spec`` (a pod spec, camelCase) says: command, env,
    mounts, with the ConfigMaps' and Secrets' data (name -> key -> text) where the kubelet would put
    them and every pod path mapped into ``root``.  Returns ([(container, exit status, output)] up
    to the first failure, the function mapping a pod path to its host path)."""
    image = image_tree(str(root / "image"))
    volume_dirs = {}
    for v in spec["volumes"]:
        d = root / "volumes" / v["name"]
        d.mkdir(parents=True)
        volume_dirs[v["name"]] = str(d)
    mounts = {m["mountPath"]: volume_dirs[m["name"]] for c in spec["initContainers"] + spec["containers"] for m in c["volumeMounts"]}

    for top in os.listdir(image):  # the image's own files, where no volume covers them
        mounts.setdefault("/" + top, os.path.join(image, top))

    def host(path: str) -> str:
        """A pod path as the host path it is mounted from; anything else unchanged."""
        for pod_path, host_path in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
            if path == pod_path or path.startswith(pod_path + "/"):
                return host_path + path[len(pod_path) :]
        return path

    for v in spec["volumes"]:  # what the kubelet puts in ConfigMap and Secret volumes
        if "configMap" in v:
            for key, text in configmaps[v["configMap"]["name"]].items():
                # The paths the config names (KeyFile, DataDir) are pod paths too.
                (root / "volumes" / v["name"] / key).write_text(re.sub(r'(?<=")/[^"]*', lambda m: host(m.group(0)), text))
        elif "secret" in v:
            data = secrets[v["secret"]["secretName"]]
            for item in v["secret"]["items"]:
                (root / "volumes" / v["name"] / item["path"]).write_text(data[item["key"]])
    done = []
    for c in spec["initContainers"]:
        env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}
        for e in c.get("env", []):
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            env[e["name"]] = secrets[ref["name"]][ref["key"]] if ref else host(e["value"])
        command = [sys.executable if w == "python3" else host(w) for w in c["command"] + c.get("args", [])]
        proc = subprocess.run(command, cwd=host(c.get("workingDir", image_workdir())), env=env, capture_output=True, text=True, timeout=120)
        done.append((c["name"], proc.returncode, (proc.stdout + proc.stderr).strip()))
        if proc.returncode:
            break
    return done, host


class Clock:
    """Blocks with advancing time while a pod runs: ``hasMinimumStake`` needs the initialization
    period (1 s on the local stack) to pass in chain time, and an automining chain mines only on
    transactions."""

    def __init__(self, url: str):
        self.url, self.stop = url, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.5):
            rpc(self.url, "evm_increaseTime", [2])
            rpc(self.url, "evm_mine", [])

    def __enter__(self):
        self.thread.start()

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def test_deploy_mode_pod_init_runs_against_the_chain(anvil, deploy_mode, tmp_path):
    result, _, _ = deploy_mode
    with Clock(anvil.url):
        done = run_pod_init(result, "keep-bootstrap-0", tmp_path)
    assert [(name, status) for name, status, _ in done] == [("prepare-client", 0), ("operator-check", 0)], done
    assert "is staked" in done[1][2] and "authorized" in done[1][2]


def test_cluster_mode_pod_init_stakes_its_operator_from_the_faucet(anvil, cluster_mode, tmp_path):
    result, _, mnemonic = cluster_mode
    operator = Account.from_mnemonic(mnemonic, account_path=operator_hd_path(operator_index("keep-standard-0")))
    faucet = Account.from_mnemonic(mnemonic, account_path=FAUCET_HD_PATH).address
    # The deploy step only supplied the faucet: the operator has no stake yet.
    assert not result.outputs["operatorStakes"]["keep-standard-0"]["staked"]
    with Clock(anvil.url):
        done = run_pod_init(result, "keep-standard-0", tmp_path)
    assert [(name, status) for name, status, _ in done] == [("prepare-client", 0), ("provision-operator", 0)], done
    assert "sent fund" in done[1][2] and "stake" in done[1][2] and "authorize" in done[1][2]
    # A restarted pod sends nothing more.
    again = run_pod_init(result, "keep-standard-0", tmp_path / "restart")
    assert again[1][1] == 0 and "nothing (already provisioned)" in again[1][2], again
    from chain.node import Node
    from keep_contracts.names import STAKING_CONTRACT_NAMES
    from operators.staking import StakingContracts, read_fleet

    contracts = StakingContracts.from_address_book(result.outputs["addressBook"], STAKING_CONTRACT_NAMES)
    view = read_fleet(Node(anvil.url), contracts, [operator.address], faucet).operators[operator.address]
    assert view.staked and view.authorized and view.owner == faucet and view.authorizer == operator.address
