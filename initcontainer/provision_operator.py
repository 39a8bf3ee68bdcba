"""Init container provision-operator, for ``provisioning: cluster``: the pod funds, stakes and authorizes its own operator.

    python -m initcontainer.provision_operator [--config PATH] [--keyfile PATH]

RFC 13's way, made safe: the key that pays is a *faucet* key scoped to the namespace (a Secret the
deploy step keeps supplied with just enough ETH and KEEP for the operators not yet staked), never
the contracts owner's; and every step is read on chain (``pending`` state, which includes the
node's pool) before it is sent, so a pod that crashes and restarts completes what is missing and
never stakes or funds twice:

    fund       operator balance < threshold  -> faucet sends (target - balance)
    stake      no delegation on TokenStaking -> faucet: KeepToken.approveAndCall(TokenStaking, amount,
               beneficiary ‖ operator ‖ operator)   (the operator is its own authorizer...)
    authorize  not authorized                -> operator: TokenStaking.authorizeOperatorContract(...)
               (...so this goes from the operator's own key and nonce, not the shared faucet's)

Every pod of the namespace shares the faucet's nonce.  A send that loses the race ("nonce too low",
"replacement transaction underpriced", or a transaction replaced in the pool) is counted, the state
is read again, and it is retried with the next nonce, a bounded number of times.  Then the pod runs
``operator_check``.

Inputs: the keep-client config (operator address, RPC URL, contract addresses), the operator's
keyfile and its password (env ``KEEP_ETHEREUM_PASSWORD``, as for the client), the faucet key (file
``--faucet-key-file`` or env ``KEEP_CD_FAUCET_KEY``), the KeepToken address (``--token`` or env
``KEEP_CD_TOKEN_ADDRESS``: the client config does not carry it), the amounts and an optional
beneficiary (flags or env; the fleet's Deployment sets them from stack config).
Exit status as ``operator_check``: 2 bad input, 3 not ready (retryable; also unreachable, faucet contention).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chain.fees import DEFAULT_TIP, POD_GAS_MARGIN, POD_GAS_PAD, fee_fields
from keep_contracts.abi import TOKEN_STAKING
from keep_contracts.names import STAKING_CONFIG_KEYS, STAKING_CONTRACT_NAMES
from keep_contracts.staking import APPROVE_AND_CALL, AUTHORIZE, delegation_data

from .operator_check import (
    BAD_INPUT,
    NOT_READY,
    CheckFailed,
    check_until_ready,
    connect,
    init_container_arguments,
    load_client_config,
    pod_log,
    run_init_container,
)

CONTENTION = NOT_READY  # lost the faucet nonce race too often: the pod retries
DEFAULT_KEYFILE = "/mnt/keep-client/config/eth_account_keyfile"
COLLISION_MARKERS = ("nonce", "underpriced", "already known", "already imported")


@dataclass
class Provisioned:
    """What one pod did (for its log line and the benchmark)."""

    sent: list = field(default_factory=list)  # (step, tx hash)
    collisions: int = 0
    errors: list = field(default_factory=list)


@dataclass(frozen=True)
class Amounts:
    eth_threshold: int
    eth_target: int
    stake: int | None = None  # None: TokenStaking.minimumStake()


def _is_collision(message: str) -> bool:
    text = message.lower()
    return any(m in text for m in COLLISION_MARKERS)


def _wait_receipt(w3, sender: str, nonce: int, tx_hash, timeout: float, poll: float = 0.2):
    """The receipt; None when the nonce went to another transaction (replaced in the pool)."""
    from web3.exceptions import TransactionNotFound

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            pass
        if w3.eth.get_transaction_count(sender, "latest") > nonce:
            try:
                return w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                return None
        time.sleep(poll)
    raise CheckFailed(NOT_READY, f"transaction {tx_hash.hex()} from {sender} not mined after {timeout:.0f}s (is the chain mining?)")


def send_checked(
    w3,
    account,
    step: str,
    build: Callable[[], dict],
    still_needed: Callable[[], bool],
    done: Provisioned,
    *,
    attempts: int = 30,
    timeout: float = 120.0,
) -> None:
    """Send ``build()`` from ``account`` unless ``still_needed()`` says the chain has it already.

    Retries a lost nonce race with fresh state and the next nonce; a revert is a bad-input error.
    """
    for attempt in range(attempts):
        if not still_needed():
            return
        # A fixed tip, not the node's: the deploy step supplies the faucet for this fee cap.
        tx = {**build(), **fee_fields(w3, tip=DEFAULT_TIP), "chainId": w3.eth.chain_id}
        nonce = w3.eth.get_transaction_count(account.address, "pending")
        tx["nonce"] = nonce
        if "gas" not in tx:
            try:
                # The deploy step supplies the faucet for exactly this gas limit (operators/staking.py).
                estimate = w3.eth.estimate_gas(
                    {k: v for k, v in tx.items() if k in ("from", "to", "data", "value")} | {"from": account.address}, "pending"
                )
                tx["gas"] = int(estimate * POD_GAS_MARGIN) + POD_GAS_PAD
            except Exception as e:
                # e.g. the faucet not supplied yet: the deploy step tops it up, the pod retries
                raise CheckFailed(NOT_READY, f"{step}: would revert ({str(e).splitlines()[0]})") from None
        signed = account.sign_transaction(tx)
        try:
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as e:
            message = str(e)
            if not _is_collision(message):
                done.errors.append(f"{step}: {message.splitlines()[0]}")
                raise CheckFailed(NOT_READY, f"{step}: send failed ({message.splitlines()[0]})") from None
            done.collisions += 1
            time.sleep(random.uniform(0, 0.05 * (attempt + 1)))  # spread the herd a little
            continue
        receipt = _wait_receipt(w3, account.address, nonce, tx_hash, timeout)
        if receipt is None:
            done.collisions += 1  # another pod's transaction took the nonce in the pool
            continue
        if receipt["status"] != 1:
            raise CheckFailed(NOT_READY, f"{step}: transaction {tx_hash.hex()} reverted")
        done.sent.append((step, tx_hash.hex()))
        return
    raise CheckFailed(CONTENTION, f"{step}: lost the faucet's nonce race {attempts} times; retryable: the pod will try again")


def provision(
    w3,
    faucet,
    operator,
    token: str,
    staking_address: str,
    operator_contract: str,
    amounts: Amounts,
    *,
    beneficiary: str | None = None,
    done: Provisioned | None = None,
) -> Provisioned:
    """Fund, stake and authorize ``operator`` (a LocalAccount) idempotently; see module doc.

    ``done`` collects what was sent and the collisions seen, also when this raises."""
    done = done if done is not None else Provisioned()
    op = operator.address
    staking = w3.eth.contract(address=staking_address, abi=TOKEN_STAKING)
    fund_operator(w3, faucet, op, amounts, done)
    stake_operator(w3, faucet, op, token, staking, staking_address, amounts, beneficiary, done)
    check_authorizable(staking, op, operator_contract)
    authorize_operator(w3, operator, staking, staking_address, operator_contract, done)
    return done


def fund_operator(w3, faucet, op: str, amounts: Amounts, done: Provisioned) -> None:
    def balance() -> int:
        return w3.eth.get_balance(op, "pending")

    send_checked(
        w3,
        faucet,
        f"fund {op}",
        lambda: {"to": op, "value": amounts.eth_target - balance(), "gas": 21_000, "data": b""},
        lambda: balance() < amounts.eth_threshold,
        done,
    )


def stake_operator(
    w3, faucet, op: str, token: str, staking, staking_address: str, amounts: Amounts, beneficiary: str | None, done: Provisioned
) -> None:
    amount = amounts.stake if amounts.stake is not None else staking.functions.minimumStake().call()
    extra = delegation_data(beneficiary or op, op, op)
    send_checked(
        w3,
        faucet,
        f"stake {op}",
        lambda: {"to": token, "value": 0, "data": APPROVE_AND_CALL.calldata(staking_address, amount, extra)},
        lambda: _delegation(staking, op)[1] == 0,
        done,
    )


def _delegation(staking, op: str) -> tuple:
    return staking.functions.getDelegationInfo(op).call(block_identifier="pending")


def check_authorizable(staking, op: str, operator_contract: str) -> None:
    """Raises unless this pod can authorize ``op``: its stake is delegated, and the operator is
    its own authorizer (or the contract is authorized already)."""
    _, created, undelegated = _delegation(staking, op)
    if undelegated:
        raise CheckFailed(NOT_READY, f"operator {op}: its stake is undelegated (expected a live delegation)")
    authorizer = staking.functions.authorizerOf(op).call(block_identifier="pending")
    if authorizer.lower() != op.lower() and not staking.functions.isAuthorizedForOperator(op, operator_contract).call(
        block_identifier="pending"
    ):
        raise CheckFailed(
            NOT_READY, f"operator {op}: staked with authorizer {authorizer}, so this pod cannot authorize it (expected the operator itself)"
        )


def authorize_operator(w3, operator, staking, staking_address: str, operator_contract: str, done: Provisioned) -> None:
    op = operator.address
    send_checked(
        w3,
        operator,
        f"authorize {op}",
        lambda: {"to": staking_address, "value": 0, "data": AUTHORIZE.calldata(op, operator_contract)},
        lambda: not staking.functions.isAuthorizedForOperator(op, operator_contract).call(block_identifier="pending"),
        done,
    )


def _positive(value: str, name: str) -> int:
    if not value or not value.isdigit() or int(value) <= 0:
        raise CheckFailed(BAD_INPUT, f"{name}: {value!r} is not a positive integer (wei)")
    return int(value)


def load_operator(keyfile: str, password: str | None, expected: str):
    from eth_account import Account

    if password is None:
        raise CheckFailed(BAD_INPUT, "env KEEP_ETHEREUM_PASSWORD: not set (expected the keyfile's password from the client's Secret)")
    try:
        with open(keyfile) as f:
            data = json.load(f)
        key = Account.decrypt(data, password)
    except FileNotFoundError:
        raise CheckFailed(BAD_INPUT, f"keyfile {keyfile}: not found (expected the operator keystore from the client's Secret)") from None
    except ValueError as e:
        raise CheckFailed(
            BAD_INPUT, f"keyfile {keyfile}: cannot be decrypted ({str(e).splitlines()[0]}; wrong password or not a v3 keystore)"
        ) from None
    account = Account.from_key(key)
    if account.address.lower() != expected.lower():
        raise CheckFailed(BAD_INPUT, f"keyfile {keyfile}: holds {account.address}, but the config's Address is {expected}")
    return account


def load_faucet(path: str | None):
    from eth_account import Account

    key = os.environ.get("KEEP_CD_FAUCET_KEY")
    if path:
        try:
            with open(path) as f:
                key = f.read().strip()
        except OSError:
            raise CheckFailed(BAD_INPUT, f"faucet key file {path}: not readable (expected the namespace's faucet Secret)") from None
    if not key:
        raise CheckFailed(BAD_INPUT, "faucet key: neither --faucet-key-file nor env KEEP_CD_FAUCET_KEY is set")
    try:
        return Account.from_key(key)
    except Exception:
        raise CheckFailed(BAD_INPUT, "faucet key: not a secp256k1 private key (expected 0x + 64 hex digits)") from None


def provision_and_check(args: argparse.Namespace) -> str:
    """What the pod does in cluster mode, from its arguments: provision, then ``operator_check``."""
    from eth_utils import is_address, to_checksum_address

    cfg = load_client_config(args.config)
    amounts = Amounts(
        _positive(args.eth_threshold, "--eth-threshold / KEEP_CD_ETH_THRESHOLD"),
        _positive(args.eth_target, "--eth-target / KEEP_CD_ETH_TARGET"),
        None if args.stake_amount == "minimum" else _positive(args.stake_amount, "--stake-amount / KEEP_CD_STAKE_AMOUNT"),
    )
    if not args.token or not is_address(args.token):
        raise CheckFailed(BAD_INPUT, f"--token / KEEP_CD_TOKEN_ADDRESS: {args.token!r} is not an address (expected KeepToken's)")
    if args.beneficiary is not None and not is_address(args.beneficiary):
        raise CheckFailed(BAD_INPUT, f"--beneficiary / KEEP_CD_BENEFICIARY: {args.beneficiary!r} is not an address")
    operator = load_operator(args.keyfile, os.environ.get("KEEP_ETHEREUM_PASSWORD"), cfg.address)
    faucet = load_faucet(args.faucet_key_file)
    w3 = connect(cfg.rpc_url)
    done = provision(
        w3,
        faucet,
        operator,
        to_checksum_address(args.token),
        cfg.contract(*STAKING_CONFIG_KEYS),
        cfg.contract(STAKING_CONTRACT_NAMES["operator_contract"]),
        amounts,
        beneficiary=to_checksum_address(args.beneficiary) if args.beneficiary else None,
    )
    steps = ", ".join(s for s, _ in done.sent) or "nothing (already provisioned)"
    pod_log(f"provision-operator: sent {steps}; {done.collisions} nonce collisions")
    return check_until_ready(cfg, args.wait, log=pod_log)


def main(argv=None) -> int:
    env = os.environ.get
    ap = init_container_arguments("provision-operator", __doc__.splitlines()[0])
    ap.add_argument("--keyfile", default=env("KEEP_CLIENT_KEYFILE", DEFAULT_KEYFILE))
    ap.add_argument("--faucet-key-file", default=env("KEEP_CD_FAUCET_KEY_FILE"))
    ap.add_argument("--token", default=env("KEEP_CD_TOKEN_ADDRESS"), help="KeepToken address")
    ap.add_argument("--eth-threshold", default=env("KEEP_CD_ETH_THRESHOLD", ""), help="wei")
    ap.add_argument("--eth-target", default=env("KEEP_CD_ETH_TARGET", ""), help="wei")
    ap.add_argument("--stake-amount", default=env("KEEP_CD_STAKE_AMOUNT", "minimum"), help='KEEP base units or "minimum"')
    ap.add_argument("--beneficiary", default=env("KEEP_CD_BENEFICIARY"), help="address that gets the rewards (default: the operator)")
    args = ap.parse_args(argv)
    return run_init_container("provision-operator", lambda: provision_and_check(args))


if __name__ == "__main__":
    sys.exit(main())
