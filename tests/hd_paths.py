"""Where operator keys come from, as docs/operators.md promises it, written out here on its own
(not imported from operators.keys): a test comparing the code with its own constants could not fail."""

from __future__ import annotations

import hashlib

FAUCET_HD_PATH = "m/44'/60'/1'/0/0"  # the cluster-mode faucet: another hardened account than the operators'


def operator_hd_path(index: int) -> str:
    return f"m/44'/60'/0'/0/{index}"


def operator_index(client: str) -> int:
    """HD index = 31 bits of sha256("keep-cd/operator/" + name): its first four bytes, top bit cleared."""
    digest = hashlib.sha256(("keep-cd/operator/" + client).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
