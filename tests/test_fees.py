"""The fee cap a transaction is signed with leaves room for a rising base fee.

The expectation is derived from EIP-1559 itself, not from chain/fees.py: a block's base fee is its
parent's plus at most one eighth (``BASE_FEE_MAX_CHANGE_DENOMINATOR``), at least 1 wei when the
parent was over its target, i.e. at most +12.5% per full block.  A transaction signed on the
latest block's base fee must still be includable, paying its whole tip, in each of the next
``FULL_BLOCKS`` blocks even if every block before it is full (the pipelined sender keeps up to a
block's worth of transactions in flight and waits on them; a pod signs once).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chain.fees import fee_cap, fee_fields, max_fee

BASE_FEE_MAX_CHANGE_DENOMINATOR = 8  # EIP-1559
FULL_BLOCKS = 5  # 1.125**5 = 1.80: the headroom a doubled base fee (2x) covers, and no more (1.125**6 = 2.03)


def base_fee_after_full_blocks(base_fee: int, blocks: int) -> int:
    """The base fee ``blocks`` blocks later when every block in between used all its gas (EIP-1559:
    gas used = 2 x target, so the delta is parent_base_fee // 8, at least 1)."""
    for _ in range(blocks):
        base_fee += max(base_fee // BASE_FEE_MAX_CHANGE_DENOMINATOR, 1)
    return base_fee


class _Eth:
    """The reads fee_fields makes: the latest block, the node's tip (None: the node lacks
    eth_maxPriorityFeePerGas) and its legacy gas price."""

    def __init__(self, base_fee: int | None, tip: int | None, gas_price: int):
        self._block = {} if base_fee is None else {"baseFeePerGas": base_fee}
        self._tip, self.gas_price = tip, gas_price

    def get_block(self, _tag):
        return self._block

    @property
    def max_priority_fee(self) -> int:
        if self._tip is None:
            raise ValueError("the method eth_maxPriorityFeePerGas does not exist")
        return self._tip


def _w3(base_fee: int | None, tip: int | None = None, gas_price: int = 3 * 10**9):
    return SimpleNamespace(eth=_Eth(base_fee, tip, gas_price))


# 7 wei is where an idle dev chain's base fee settles (7 // 8 == 0); 1 gwei is anvil's and geth's
# start; 10**12 and an odd value keep integer rounding honest.
@pytest.mark.parametrize("base_fee", [7, 10**9, 123_456_789_013, 10**12])
@pytest.mark.parametrize("tip", [0, 1, 10**9])
def test_a_signed_fee_cap_pays_the_whole_tip_after_five_full_blocks(base_fee, tip):
    fields = fee_fields(_w3(base_fee, tip))
    later = base_fee_after_full_blocks(base_fee, FULL_BLOCKS)
    assert fields["maxPriorityFeePerGas"] == tip
    # Includable in each of the next FULL_BLOCKS blocks: maxFeePerGas >= that block's base fee,
    # and the producer still gets the whole tip (priority fee = min(tip, maxFee - base fee)).
    for blocks in range(1, FULL_BLOCKS + 1):
        assert fields["maxFeePerGas"] - base_fee_after_full_blocks(base_fee, blocks) >= tip, (blocks, fields)
    assert fee_cap(fields) == fields["maxFeePerGas"] >= later + tip
    assert max_fee(base_fee, tip) >= later + tip  # what the pods' faucet is sized on (operators/staking.py)


def test_the_node_s_tip_and_the_default_where_it_has_none():
    base_fee = 10**9
    later = base_fee_after_full_blocks(base_fee, FULL_BLOCKS)
    no_tip_method = fee_fields(_w3(base_fee, None))
    assert no_tip_method["maxPriorityFeePerGas"] == 10**9
    assert no_tip_method["maxFeePerGas"] >= later + 10**9


def test_a_chain_without_base_fee_takes_the_node_s_gas_price():
    assert fee_fields(_w3(None, gas_price=5 * 10**9)) == {"gasPrice": 5 * 10**9}
    assert fee_cap({"gasPrice": 5 * 10**9}) == 5 * 10**9
