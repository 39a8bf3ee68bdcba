"""Init container operator-check: is this client's chain ready for it?  Reads only; never sends.

    python -m initcontainer.operator_check [--config PATH] [--wait SECONDS]

Reads the keep-client config the pod mounts (``[ethereum] URLRPC``, ``[ethereum.account] Address``,
``[ethereum.ContractAddresses]``) and checks, on chain:

  * every contract address of the config has code (an address book from another chain, or a chain
    reset since the deploy, fails here instead of in the client);
  * the operator has a live delegation on TokenStaking, is authorized for KeepRandomBeaconOperator,
    and ``hasMinimumStake`` (its initialization period has passed).

Contract addresses come from the mounted config, not from JSON baked into the image: the config is
the exact file the client will use, so the check and the client cannot disagree, and the image does
not have to be rebuilt (and re-pinned) for every contracts deploy.  The ABI entries it calls are
keep_contracts.abi's (the same in every keep-core 1.x release; tested against the artifacts).  What
"staked" and "authorized" mean is the one provisioning policy's (keep_contracts/provisioning.py),
which provision_operator and the deploy step act on.

Exit status, as ``prepare_client``'s (each failure one line on stderr; Kubernetes retries the pod):
    0  ready
    2  bad input (config unreadable or incomplete): a new rollout must fix it
    3  not ready, retryable: not staked, not authorized, initializing, no code, chain unreachable
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from dataclasses import dataclass

from keep_contracts.abi import TOKEN_STAKING
from keep_contracts.names import STAKING_CONFIG_KEYS, STAKING_CONTRACT_NAMES
from keep_contracts.provisioning import AUTHORIZE, STAKE, UNDELEGATED, OperatorOnChain, decide, initialized

DEFAULT_CONFIG = "/mnt/keep-client/config/keep-client-config.toml"
OK, BAD_INPUT, NOT_READY = 0, 2, 3
UNREACHABLE = NOT_READY  # a node that is down or still starting: the pod retries
ZERO_ADDRESS = "0x" + "00" * 20


class CheckFailed(Exception):
    """One line for the pod's log, and the exit status that goes with it."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MountedClientConfig:
    """What the operator init containers read of the keep-client config the pod mounts."""

    path: str
    rpc_url: str
    address: str
    contracts: dict  # name -> address, from [ethereum.ContractAddresses]

    def contract(self, *names: str) -> str:
        for name in names:
            if self.contracts.get(name):
                return self.contracts[name]
        raise CheckFailed(BAD_INPUT, f"config {self.path}: [ethereum.ContractAddresses] has no {names[0]} (expected its address)")


def load_client_config(path: str) -> MountedClientConfig:
    from eth_utils import is_address, to_checksum_address

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise CheckFailed(BAD_INPUT, f"config {path}: not found (expected the keep-client config mounted from its ConfigMap)") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CheckFailed(BAD_INPUT, f"config {path}: not readable TOML ({e})") from None
    eth = data.get("ethereum") or {}
    rpc_url = eth.get("URLRPC")
    address = (eth.get("account") or {}).get("Address")
    contracts = eth.get("ContractAddresses") or {}
    if not isinstance(rpc_url, str) or not rpc_url.startswith(("http://", "https://")):
        raise CheckFailed(BAD_INPUT, f"config {path}: [ethereum] URLRPC is {rpc_url!r} (expected an http(s) JSON-RPC URL)")
    if not isinstance(address, str) or not is_address(address):
        raise CheckFailed(BAD_INPUT, f"config {path}: [ethereum.account] Address is {address!r} (expected the operator's address)")
    for name, value in contracts.items():
        if not isinstance(value, str) or not is_address(value):
            raise CheckFailed(BAD_INPUT, f"config {path}: [ethereum.ContractAddresses] {name} is {value!r} (expected an address)")
    if not contracts:
        raise CheckFailed(BAD_INPUT, f"config {path}: [ethereum.ContractAddresses] is empty (expected the client's contract addresses)")
    return MountedClientConfig(path, rpc_url, to_checksum_address(address), {k: to_checksum_address(v) for k, v in contracts.items()})


def connect(rpc_url: str, timeout: float = 10.0):
    """A Web3 client, or CheckFailed(UNREACHABLE): a node that is down or still starting is retryable."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None))
    try:
        _ = w3.eth.chain_id  # the cheapest call that proves the node answers
    except Exception as e:
        raise CheckFailed(
            UNREACHABLE, f"chain RPC {rpc_url}: unreachable ({e.__class__.__name__}); retryable: the pod will try again"
        ) from None
    return w3


def read_operator(w3, staking, op: str, operator_contract: str, block: str = "latest") -> OperatorOnChain:
    """What the chain says about operator ``op`` at ``block`` (``staking``: TokenStaking, a web3 contract)."""
    amount, created, undelegated = staking.functions.getDelegationInfo(op).call(block_identifier=block)
    return OperatorOnChain(
        balance=w3.eth.get_balance(op, block),
        created_at=created,
        undelegated_at=undelegated,
        authorizer=staking.functions.authorizerOf(op).call(block_identifier=block),
        authorized=staking.functions.isAuthorizedForOperator(op, operator_contract).call(block_identifier=block),
        amount=amount,
    )


def check_operator(w3, cfg: MountedClientConfig) -> str:
    """The one-line verdict when ready; raises CheckFailed(NOT_READY, reason) otherwise."""
    for name, address in sorted(cfg.contracts.items()):
        if len(w3.eth.get_code(address)) == 0:
            raise CheckFailed(
                NOT_READY,
                f"contract {name} at {address} has no code on {cfg.rpc_url} (expected the deployed contracts; chain reset or config from another chain?)",
            )
    staking_address = cfg.contract(*STAKING_CONFIG_KEYS)
    operator_contract = cfg.contract(STAKING_CONTRACT_NAMES["operator_contract"])
    staking = w3.eth.contract(address=staking_address, abi=TOKEN_STAKING)
    op = cfg.address
    state = read_operator(w3, staking, op, operator_contract)
    amount, created = state.amount, state.created_at
    decision = decide(state)  # funding is not the check's business, and it authorizes nothing
    if STAKE in decision.kinds:
        raise CheckFailed(
            NOT_READY,
            f"operator {op} is not staked on TokenStaking {staking_address} (expected the deploy step, or cluster provisioning, to stake it)",
        )
    if decision.conflict == UNDELEGATED:
        raise CheckFailed(
            NOT_READY, f"operator {op}: its stake on TokenStaking {staking_address} is undelegated (expected a live delegation)"
        )
    if AUTHORIZE in decision.kinds:
        raise CheckFailed(NOT_READY, f"operator {op} is staked but not authorized for KeepRandomBeaconOperator {operator_contract}")
    if not staking.functions.hasMinimumStake(op, operator_contract).call():
        period = staking.functions.initializationPeriod().call()
        now = w3.eth.get_block("latest")["timestamp"]
        if not initialized(created, period, now):
            raise CheckFailed(NOT_READY, f"operator {op}: stake initializing until {created + period} (chain time {now}); retry")
        minimum = staking.functions.minimumStake().call()
        raise CheckFailed(NOT_READY, f"operator {op}: stake {amount} is below TokenStaking's minimum {minimum}")
    return f"operator {op} is staked ({amount}) and authorized for KeepRandomBeaconOperator {operator_contract}"


def check_until_ready(cfg: MountedClientConfig, wait: float, *, poll: float = 2.0, log=lambda _m: None) -> str:
    """``check_operator``, retried for up to ``wait`` seconds while the answer is "not ready" or
    "unreachable" (a pod that waits a little saves a crash-loop backoff of minutes)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return check_operator(connect(cfg.rpc_url), cfg)
        except CheckFailed as e:
            if e.status != NOT_READY or time.monotonic() + poll > deadline:
                raise
            log(f"waiting: {e}")
            time.sleep(poll)


def pod_log(message: str) -> None:
    print(message, file=sys.stderr)


def init_container_arguments(prog: str, description: str) -> argparse.ArgumentParser:
    """The arguments every operator init container takes: the config prepare-client put on the volume, and
    how long to wait for a not-ready answer to turn ready."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--config", default=os.environ.get("KEEP_CLIENT_CONFIG", DEFAULT_CONFIG), help="keep-client TOML config")
    ap.add_argument(
        "--wait", type=float, default=float(os.environ.get("KEEP_CD_CHECK_WAIT", "30")), help="seconds to keep retrying a not-ready answer"
    )
    return ap


def run_init_container(prog: str, verdict) -> int:
    """Run one init container's work: its verdict on stdout and status 0, or one line
    ``<prog>: <reason>`` on stderr and the status that goes with it."""
    try:
        print(verdict())
        return OK
    except CheckFailed as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return e.status


def main(argv=None) -> int:
    args = init_container_arguments("operator-check", __doc__.splitlines()[0]).parse_args(argv)
    return run_init_container("operator-check", lambda: check_until_ready(load_client_config(args.config), args.wait, log=pod_log))


if __name__ == "__main__":
    sys.exit(main())
