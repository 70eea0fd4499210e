"""Move Uniswap pool prices on a test chain (issue 15, "emulators that move", on chain).

- :func:`swap_v3_to_price`: one ``SwapRouter.exactInputSingle`` with ``sqrtPriceLimitX96`` at the target: the
  pool stops exactly at the target price (it takes only what it needs of the input);
- :func:`swap_v2_to_price`: one ``swapExactTokensForTokens`` of the input amount (found with the pair's own
  integer formula) that brings the reserve ratio nearest the target without passing it;
- :class:`PoolPathFollower`: on each :meth:`~PoolPathFollower.sync`, the chain's time follows an accelerated
  market clock (:class:`~basis_core.testing.anvil.ChainClock`) and each pool is swapped to the price the path
  has at that time (:class:`~basis_core.testing.replay.Feed`), as the CEX emulators replay it.

Prices are human units of the pair as named (``"WETH/USDC"``: USDC per WETH). The ``sender`` (default the
world's deployer, who approved both routers) pays the input from its balance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from basis_core.testing.anvil import ChainClock
from basis_core.testing.contracts import transact
from basis_core.testing.replay import Feed
from basis_venue_uniswap.testing.deploy import DEADLINE, UniswapWorld
from basis_venue_uniswap.v2_math import get_amount_out
from basis_venue_uniswap.v3_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

__all__ = ["PoolPathFollower", "raw_ratio", "swap_v2_to_price", "swap_v3_to_price", "v3_sqrt_price_x96"]


def raw_ratio(world: UniswapWorld, pair: str, price: Decimal) -> Fraction:
    """The pool's ``token1 / token0`` base-unit ratio for a human ``price`` of ``pair`` (quote per base)."""
    base, quote = pair.split("/")
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    r = Fraction(price) * 10 ** world.decimals[quote] / 10 ** world.decimals[base]  # quote units per base unit
    token0, _ = world.v3_pool_tokens(pair)  # v2 and v3 both sort tokens by address
    return r if token0 == base else 1 / r


def v3_sqrt_price_x96(world: UniswapWorld, pair: str, price: Decimal) -> int:
    """``floor(sqrt(token1 / token0) * 2^96)`` of a human ``price`` of ``pair``."""
    r = raw_ratio(world, pair, price)
    return math.isqrt((r.numerator << 192) // r.denominator)


def swap_v3_to_price(world: UniswapWorld, pair: str, fee: int, price: Decimal, sender: str | None = None) -> int:
    """Swap the v3 pool ``(pair, fee)`` to ``price``; returns its ``sqrtPriceX96`` afterwards (== the target's).

    Raises RuntimeError when the sender's balance runs out before the target is reached (nothing is undone: the
    pool is wherever the balance took it)."""
    pool = world.v3_pools[(pair, fee)]
    target = v3_sqrt_price_x96(world, pair, price)
    if not MIN_SQRT_RATIO < target < MAX_SQRT_RATIO:
        raise ValueError(f"{pair} price {price} is outside the range a v3 pool can hold")
    current = int(pool.functions.slot0().call()[0])
    if target == current:
        return current
    sym0, sym1 = world.v3_pool_tokens(pair)
    zero_for_one = target < current  # selling token0 lowers token1 / token0
    t_in, t_out = (world.tokens[sym0], world.tokens[sym1]) if zero_for_one else (world.tokens[sym1],
                                                                                 world.tokens[sym0])
    who = sender or world.deployer
    amount_in = int(t_in.functions.balanceOf(who).call())
    params = (t_in.address, t_out.address, fee, who, DEADLINE, amount_in, 0, target)
    transact(world.w3, world.swap_router.functions.exactInputSingle(params), sender=who)
    after = int(pool.functions.slot0().call()[0])
    if after != target:
        raise RuntimeError(f"{pair}/{fee}: {who} ran out of {t_in.functions.symbol().call()} before the target "
                           f"price (sqrtPriceX96 {after}, target {target})")
    return after


@dataclass(frozen=True)
class V2Move:
    """What :func:`swap_v2_to_price` did: the input token, the amount in and out (base units), the reserves
    ``(reserve0, reserve1)`` before and after."""

    token_in: str
    amount_in: int
    amount_out: int
    before: tuple[int, int]
    after: tuple[int, int]


def swap_v2_to_price(world: UniswapWorld, pair: str, price: Decimal, sender: str | None = None) -> V2Move:
    """Swap the v2 pair to the reserve ratio nearest ``price`` that a single exact-input swap reaches without
    passing it (one more base unit in would pass it). No swap when even one unit would pass it, or when the
    amount that does not would pay nothing out."""
    contract = world.v2_pairs[pair]
    r0, r1 = (int(x) for x in contract.functions.getReserves().call()[:2])
    target = raw_ratio(world, pair, price)
    sym0, sym1 = world.v3_pool_tokens(pair)
    sell0 = target < Fraction(r1, r0)  # selling token0 lowers reserve1 / reserve0
    r_in, r_out = (r0, r1) if sell0 else (r1, r0)

    def ratio(a: int) -> Fraction:  # reserve1 / reserve0 after swapping a in
        out = get_amount_out(a, r_in, r_out)
        return Fraction(r1 - out, r0 + a) if sell0 else Fraction(r1 + a, r0 - out)

    def before_target(a: int) -> bool:
        return ratio(a) >= target if sell0 else ratio(a) <= target

    lo, hi = 0, 1
    while before_target(hi):  # the ratio is monotone in the amount in
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if before_target(mid) else (lo, mid)
    sym_in, sym_out = (sym0, sym1) if sell0 else (sym1, sym0)
    out = get_amount_out(lo, r_in, r_out) if lo else 0
    if out == 0:  # already as near as a swap gets (the pair refuses a swap that pays nothing out)
        lo = 0
    if lo:
        who = sender or world.deployer
        fn = world.v2_router.functions.swapExactTokensForTokens(
            lo, out, [world.address(sym_in), world.address(sym_out)], who, DEADLINE)
        transact(world.w3, fn, sender=who)
    after = tuple(int(x) for x in contract.functions.getReserves().call()[:2])
    return V2Move(sym_in, lo, out, (r0, r1), (after[0], after[1]))


class PoolPathFollower:
    """Pools that follow a price path on an accelerated clock (see the module docstring).

    ``pools``: ``(pair, fee)`` for a v3 pool, ``(pair, None)`` for the v2 pair; ``feed``: the path (a price
    feed of :mod:`basis_core.testing.replay`, e.g. ``Feed("p", "price", series, "close")``).
    """

    def __init__(self, world: UniswapWorld, chain: ChainClock, feed: Feed,
                 pools: Sequence[tuple[str, int | None]]) -> None:
        self.world = world
        self.chain = chain
        self.feed = feed
        self.pools = list(pools)

    def sync(self) -> tuple[int, Decimal | None]:
        """Move the chain to the clock's time, then every pool to the path's price then; returns ``(chain time,
        price)`` (price None before the path begins: nothing is swapped)."""
        t = self.chain.sync()
        price = self.feed.value_at(t * 1_000_000_000)
        if price is not None:
            for pair, fee in self.pools:
                if fee is None:
                    swap_v2_to_price(self.world, pair, price)
                else:
                    swap_v3_to_price(self.world, pair, fee, price)
        return t, price

    def pool_price(self, pair: str, fee: int | None) -> Decimal:
        """The pool's price now in human units of ``pair`` (v3 from ``slot0``, v2 from the reserves)."""
        base, quote = pair.split("/")
        token0, _ = self.world.v3_pool_tokens(pair)
        if fee is None:
            r0, r1 = (int(x) for x in self.world.v2_pairs[pair].functions.getReserves().call()[:2])
            raw = Fraction(r1, r0)
        else:
            sp = int(self.world.v3_pools[(pair, fee)].functions.slot0().call()[0])
            raw = Fraction(sp * sp, 1 << 192)
        if token0 != base:
            raw = 1 / raw
        human = raw * 10 ** self.world.decimals[base] / 10 ** self.world.decimals[quote]
        return Decimal(human.numerator) / Decimal(human.denominator)
