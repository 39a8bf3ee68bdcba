"""Init container provision-operator, for ``provisioning: cluster``: the pod funds, stakes and authorizes its own operator.

    python -m initcontainer.provision_operator [--config PATH] [--keyfile PATH]

RFC 13's way, made safe: the key that pays is a *faucet* key scoped to the namespace (a Secret the
deploy step keeps supplied with just enough ETH and KEEP for the operators not yet staked), never
the contracts owner's; and every step is read on chain (``pending`` state, which includes the
node's pool) before it is sent, so a pod that crashes and restarts completes what is missing and
never stakes or funds twice.  What is missing is decided by the one provisioning policy
(keep_contracts/provisioning.py, the deploy step's too), with the operator as its own authorizer:

    fund       operator balance < threshold  -> faucet sends (target - balance)
    stake      no delegation on TokenStaking -> faucet: KeepToken.approveAndCall(TokenStaking, amount,
               beneficiary ‖ operator ‖ operator)   (the operator is its own authorizer...)
    authorize  not authorized                -> operator: TokenStaking.authorizeOperatorContract(...)
               (...so this goes from the operator's own key and nonce, not the shared faucet's)

Every pod of the namespace shares the faucet's nonce.  Transactions go out through keep-cd's one
sender (chain/transactions.py, ``PipelinedSender.send_shared``): a send that loses the race ("nonce
too low", "replacement transaction underpriced", or a transaction replaced in the pool) is counted,
the state is read again, and it is retried with the next nonce, a bounded number of times.  Then
the pod runs ``operator_check``.

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
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chain.errors import KeepCdError, NonceContention
from chain.fees import DEFAULT_TIP, POD_GAS_MARGIN, POD_GAS_PAD
from chain.transactions import PipelinedSender, TxRequest
from keep_contracts.abi import TOKEN_STAKING
from keep_contracts.names import STAKING_CONFIG_KEYS, STAKING_CONTRACT_NAMES
from keep_contracts.provisioning import (
    AUTHORIZE,
    FOREIGN_AUTHORIZER,
    FUND,
    STAKE,
    UNDELEGATED,
    Decision,
    Need,
    OperatorOnChain,
    OperatorPolicy,
    PolicyError,
    decide,
    positive_amount,
)
from keep_contracts.staking import APPROVE_AND_CALL, delegation_data
from keep_contracts.staking import AUTHORIZE as AUTHORIZE_CALL

from .operator_check import (
    BAD_INPUT,
    NOT_READY,
    CheckFailed,
    check_until_ready,
    connect,
    init_container_arguments,
    load_client_config,
    pod_log,
    read_operator,
    run_init_container,
)

CONTENTION = NOT_READY  # lost the faucet nonce race too often: the pod retries
DEFAULT_KEYFILE = "/mnt/keep-client/config/eth_account_keyfile"
# The policy's fields as this container's flags and env name them.
FLAG_NAMES = {
    "eth_threshold": "--eth-threshold / KEEP_CD_ETH_THRESHOLD",
    "eth_target": "--eth-target / KEEP_CD_ETH_TARGET",
    "stake_amount": "--stake-amount / KEEP_CD_STAKE_AMOUNT",
}


@dataclass
class Provisioned:
    """What one pod did (for its log line and the benchmark)."""

    sent: list = field(default_factory=list)  # (step, tx hash)
    collisions: int = 0
    errors: list = field(default_factory=list)


def send_checked(
    w3, account, request: Callable[[], TxRequest | None], done: Provisioned, *, attempts: int = 30, timeout: float = 120.0
) -> None:
    """Send ``request()`` from ``account`` (a faucet other pods share, or the operator) through
    keep-cd's sender, unless it returns None (the chain, read on "pending", has it already).

    A lost nonce race is retried with fresh state; anything else is CheckFailed(NOT_READY): the pod
    retries.  The fee cap is a fixed tip's and the gas limit the estimate's times POD_GAS_MARGIN
    plus POD_GAS_PAD, what the deploy step supplies the faucet for (operators/staking.py)."""
    sender = PipelinedSender(w3, account, confirm_timeout=timeout, gas_margin=POD_GAS_MARGIN, poll_interval=0.2)
    labels: list = []

    def labelled() -> TxRequest | None:
        req = request()
        if req is not None:
            labels.append(req.label)
        return req

    try:
        sent = sender.send_shared(labelled, tip=DEFAULT_TIP, gas_pad=POD_GAS_PAD, attempts=attempts)
    except NonceContention:
        raise CheckFailed(
            CONTENTION, f"{labels[-1]}: lost the faucet's nonce race {attempts} times; retryable: the pod will try again"
        ) from None
    except KeepCdError as e:  # would revert, refused, reverted, not mined: the pod retries
        done.errors.append(str(e))
        raise CheckFailed(NOT_READY, str(e)) from None
    finally:
        done.collisions += sender.stats.collisions
    if sent is not None:
        done.sent.append((sent.label, sent.tx_hash))


def provision(
    w3,
    faucet,
    operator,
    token: str,
    staking_address: str,
    operator_contract: str,
    amounts: OperatorPolicy,
    *,
    beneficiary: str | None = None,
    done: Provisioned | None = None,
) -> Provisioned:
    """Fund, stake and authorize ``operator`` (a LocalAccount) idempotently; see module doc.

    ``done`` collects what was sent and the collisions seen, also when this raises."""
    done = done if done is not None else Provisioned()
    op = operator.address
    staking = w3.eth.contract(address=staking_address, abi=TOKEN_STAKING)
    try:
        stake = amounts.stake_for(staking.functions.minimumStake().call(), FLAG_NAMES)
    except PolicyError as e:
        raise CheckFailed(BAD_INPUT, str(e)) from None

    def read() -> tuple[OperatorOnChain, Decision]:
        """What the chain says of the operator on "pending" (it holds the node's pool), and what it still needs."""
        state = read_operator(w3, staking, op, operator_contract, "pending")
        return state, decide(state, amounts, stake=stake, authorizer=op)

    def when_needed(kind: str, build: Callable[[Need], TxRequest]) -> Callable[[], TxRequest | None]:
        def request() -> TxRequest | None:
            need = read()[1].need(kind)
            return None if need is None else build(need)

        return request

    extra = delegation_data(beneficiary or op, op, op)
    send_checked(w3, faucet, when_needed(FUND, lambda n: TxRequest(f"fund {op}", op, b"", value=n.value, gas=21_000)), done)
    stake_call = when_needed(STAKE, lambda n: TxRequest(f"stake {op}", token, APPROVE_AND_CALL.calldata(staking_address, n.value, extra)))
    send_checked(w3, faucet, stake_call, done)
    check_authorizable(*read(), op)
    authorize_call = AUTHORIZE_CALL.calldata(op, operator_contract)
    send_checked(w3, operator, when_needed(AUTHORIZE, lambda _: TxRequest(f"authorize {op}", staking_address, authorize_call)), done)
    return done


def check_authorizable(state: OperatorOnChain, decision: Decision, op: str) -> None:
    """Raises unless this pod can authorize ``op``: its stake is live, and the operator is its own
    authorizer (or the contract is authorized already)."""
    if decision.conflict == UNDELEGATED:
        raise CheckFailed(NOT_READY, f"operator {op}: its stake is undelegated (expected a live delegation)")
    if decision.conflict == FOREIGN_AUTHORIZER:
        raise CheckFailed(
            NOT_READY,
            f"operator {op}: staked with authorizer {state.authorizer}, so this pod cannot authorize it (expected the operator itself)",
        )


def _amount(text: str) -> Any:
    """A flag's amount as a number where it is a positive one; else the text, which the policy's
    check (``OperatorPolicy.validate``) refuses, naming it."""
    amount = positive_amount(text)
    return text if amount is None else amount


def policy_from_flags(eth_threshold: str, eth_target: str, stake_amount: str) -> OperatorPolicy:
    """The pod's policy from its flags (or env), checked as the deploy step checks stack config."""
    policy = OperatorPolicy(_amount(eth_threshold), _amount(eth_target), None if stake_amount == "minimum" else _amount(stake_amount))
    try:
        return policy.validate(FLAG_NAMES)
    except PolicyError as e:
        raise CheckFailed(BAD_INPUT, str(e)) from None


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
    amounts = policy_from_flags(args.eth_threshold, args.eth_target, args.stake_amount)
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
