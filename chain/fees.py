"""The fee policy: what keep-cd and the InitContainer pay per gas, the least a chain charges, and
the gas limit a pod signs with.

One formula for the fee cap, ``2 × base fee + tip``: it stays valid while the base fee doubles, so a
transaction signed now is not stuck behind a rising base fee.  EIP-1559 raises the base fee by at
most one eighth per full block: five full blocks in a row take it to 1.80× (the sixth to 2.03×), so
the cap pays the whole tip in each of the next five blocks whatever they hold (tests/test_fees.py
derives this from the EIP's rule); the tip is all the block producer gets.  A chain without a base fee (no EIP-1559) takes a legacy gas price.

Takes the chain client as an argument (web3's to sign, ``chain.node.Node`` to decide) and imports
nothing: the InitContainer image copies this file (initcontainer/Dockerfile).
"""

from __future__ import annotations

from typing import Any

# 1 gwei: the tip where the node is not asked (the InitContainer's pods, whose fee cap the deploy
# step supplies their faucet for) or does not answer eth_maxPriorityFeePerGas.
DEFAULT_TIP = 10**9
# A pod's gas limit (initcontainer/provision_operator.py): its estimate times this, plus the pad;
# the deploy step supplies the faucet for exactly that (operators/staking.py).
POD_GAS_MARGIN, POD_GAS_PAD = 1.2, 10_000


def max_fee(base_fee: int, tip: int) -> int:
    """The fee cap for a block whose base fee is ``base_fee``: room for it to double, plus the tip."""
    return 2 * int(base_fee) + int(tip)


def fee_fields(w3: Any, tip: int | None = None) -> dict:
    """The fee fields of a transaction signed now: ``maxFeePerGas``/``maxPriorityFeePerGas`` on a
    chain with a base fee, else ``gasPrice`` (the node's).  ``tip`` None asks the node for its
    suggested tip (``DEFAULT_TIP`` where it does not answer); a number pins it."""
    base = w3.eth.get_block("latest").get("baseFeePerGas")
    if base is None:
        return {"gasPrice": w3.eth.gas_price}
    if tip is None:
        try:
            tip = int(w3.eth.max_priority_fee)
        except Exception:  # a node without eth_maxPriorityFeePerGas
            tip = DEFAULT_TIP
    return {"maxFeePerGas": max_fee(int(base), tip), "maxPriorityFeePerGas": int(tip)}


def fee_cap(fields: dict) -> int:
    """The most one gas of a transaction signed with ``fields`` (``fee_fields``) can cost."""
    return int(fields["maxFeePerGas"] if "maxFeePerGas" in fields else fields["gasPrice"])


def price_floor(node: Any) -> int:
    """The least a transaction pays per gas now: the latest block's base fee, or the node's legacy
    gas price where there is none.  What a check that funds cannot fall short uses (a lower bound).
    ``node``: a ``chain.node.Node`` (deciding reads without web3)."""
    base = node.block("latest").get("baseFeePerGas")
    return int(base, 16) if base else int(node.request("eth_gasPrice", []), 16)
