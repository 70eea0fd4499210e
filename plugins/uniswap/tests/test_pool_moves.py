"""Uniswap pools that move on the test chain (issue 15, "emulators that move"): swapped to a target price, and
following a price path on an accelerated clock whose time the chain keeps. Expected prices are the path's values
and exact integer conversions written here; amounts are checked against the pair's own integer formula."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from basis_venue_uniswap.testing.deploy import UniswapWorld
from basis_venue_uniswap.testing.market import (
    PoolPathFollower,
    raw_ratio,
    swap_v2_to_price,
    swap_v3_to_price,
    v3_sqrt_price_x96,
)
from basis_venue_uniswap.v2_math import get_amount_out

from basis_core.data import Series
from basis_core.testing.anvil import AnvilNode, ChainClock
from basis_core.testing.replay import Feed, ReplayClock

pytestmark = pytest.mark.chain
D = Decimal
PAIR = "WETH/USDC"


@pytest.mark.parametrize("price", [D("2150.25"), D("1890"), D("2000.5")])
def test_v3_pool_is_swapped_exactly_to_the_target_price(uniswap_world: UniswapWorld, chain: AnvilNode,
                                                        price: Decimal) -> None:
    w = uniswap_world
    pool = w.v3_pools[(PAIR, 3000)]
    ratio = raw_ratio(w, PAIR, price)  # USDC base units per WETH base unit, or its inverse (token order)
    expected = math.isqrt(ratio.numerator * 2**192 // ratio.denominator)
    assert swap_v3_to_price(w, PAIR, 3000, price) == expected == int(pool.functions.slot0().call()[0])
    assert v3_sqrt_price_x96(w, PAIR, price) == expected
    other = w.v3_pools[(PAIR, 500)].functions.slot0().call()[0]
    assert other != expected  # only that pool moved


@pytest.mark.parametrize("price", [D("2100"), D("1950.5")])
def test_v2_pair_is_swapped_to_the_nearest_reachable_price(uniswap_world: UniswapWorld, chain: AnvilNode,
                                                           price: Decimal) -> None:
    w = uniswap_world
    move = swap_v2_to_price(w, PAIR, price)
    r0, r1 = move.before
    target = raw_ratio(w, PAIR, price)
    sell0 = target < Fraction(r1, r0)
    r_in, r_out = (r0, r1) if sell0 else (r1, r0)
    assert move.amount_out == get_amount_out(move.amount_in, r_in, r_out) > 0  # the pair's own formula

    def ratio(a: int) -> Fraction:
        out = get_amount_out(a, r_in, r_out)
        return Fraction(r1 - out, r0 + a) if sell0 else Fraction(r1 + a, r0 - out)

    assert Fraction(move.after[1], move.after[0]) == ratio(move.amount_in)
    lo, hi = sorted((ratio(move.amount_in), ratio(move.amount_in + 1)))
    assert lo <= target <= hi  # one more base unit in would pass the target
    assert abs(ratio(move.amount_in) / target - 1) < Fraction(1, 10**9)


def test_pools_follow_a_price_path_on_an_accelerated_clock(uniswap_world: UniswapWorld, chain: AnvilNode) -> None:
    """Every sync puts the chain at the clock's time and both pools at the path's price then."""
    w = uniswap_world
    t0 = chain.block_time() + 3600
    hour = 3600 * 10**9
    path = [D("2000"), D("2012.5"), D("1987.25"), D("2044"), D("1999.99")]
    series = Series("dex:uniswap:WETH/USDC", [t0 * 10**9 + i * hour for i in range(len(path))], {"close": path})
    clock = ReplayClock(t0 * 10**9, speed=0)  # the test moves it
    chain_clock = ChainClock(chain, clock)
    follower = PoolPathFollower(w, chain_clock, Feed("p", "price", series, "close"), [(PAIR, 500), (PAIR, None)])
    for i, px in enumerate(path):
        clock.seek(t0 * 10**9 + i * hour + 1800 * 10**9)  # half way through the hour: the hour's row holds
        assert chain_clock.sync() == t0 + i * 3600 + 1800 == chain.block_time()  # a block at the clock's time
        t, got = follower.sync()  # the chain is there already; the swaps follow in later blocks
        assert t == t0 + i * 3600 + 1800 <= chain.block_time() and got == px
        assert follower.pool_price(PAIR, 500) == pytest.approx(px, rel=D("1e-12"))
        assert int(w.v3_pools[(PAIR, 500)].functions.slot0().call()[0]) == v3_sqrt_price_x96(w, PAIR, px)
        assert abs(follower.pool_price(PAIR, None) / px - 1) < D("1e-9")
    before = chain.block_time()
    clock.seek(t0 * 10**9)  # the clock going back never moves the chain back
    assert follower.sync()[0] == before  # not earlier
