"""What is to be sent and what a send did, with no chain client: a transaction request, send
statistics, and the lock that keeps two resources of one process off the same account's nonces.
Deciding what to send (a migration's plan, the operators' stakes) builds requests while reading
only; ``chain.transactions`` sends them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

_LOCKS: dict = {}
_LOCKS_GUARD = threading.Lock()


def account_lock(chain_id: int, address: str) -> threading.Lock:
    """One lock per (chain, account) in this process."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((int(chain_id), address.lower()), threading.Lock())


@dataclass
class TxRequest:
    label: str  # what it is, for messages: "deploy TokenStaking", "call TokenGrant.authorizeStakingContract"
    to: str | None  # None: contract creation
    data: bytes
    value: int = 0
    nonce: int | None = None
    gas: int | None = None
    tx_hash: str | None = None
    raw: bytes | None = None
    receipt: dict | None = field(default=None, repr=False)
    # Requests (earlier in the same list) whose effect this one needs before it can be estimated;
    # only ``send_batched`` reads it: ``send`` estimates every request after all earlier ones.
    after: tuple = field(default=(), repr=False, compare=False)
    # Addresses for its EIP-2930 access list, no storage keys (a migration's claim: contracts_step/migrate.py).
    access_list: tuple = ()


@dataclass
class SendStats:
    txs: int = 0
    gas_used: int = 0
    blocks: tuple = ()
    resends: int = 0  # transactions sent again (dropped by the node, or stranded in anvil's queue)
    seconds: float = 0.0
    collisions: int = 0  # ``send_shared``: nonce races lost to other senders of the account
    unstranded: int = 0  # times anvil's pool stranded our next nonce and it was sent again
