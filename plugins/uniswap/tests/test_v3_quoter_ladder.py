"""``V3Pool.exact_input_quoter`` (the router's many quotes of one state) equals ``V3Pool.quote`` exactly: same
amounts for every size, in any order of asking (its ladder of steps grows lazily), the same refusals beyond the
liquidity. ``quote`` itself is checked against the deployed contracts in test_v3_math_vs_contract.py."""

from __future__ import annotations

from basis_venue_uniswap import v3_math as m
from hypothesis import given, settings
from hypothesis import strategies as st

SPACING = {100: 1, 500: 10, 3000: 60, 10000: 200}


def pool_with(fee: int, tick: int, positions: list[tuple[int, int, int]]) -> m.V3Pool:
    """A pool at ``tick`` with liquidity positions ``(lower offset, width, liquidity)`` in tick spacings (clipped
    to the usable tick range)."""
    sp = SPACING[fee]
    lowest, highest = -(m.MAX_TICK // sp) * sp, (m.MAX_TICK // sp) * sp
    pool = m.V3Pool.initialize(fee, m.get_sqrt_ratio_at_tick(tick))
    for i, (off, width, liq) in enumerate(positions):
        lo = max((tick // sp + off) * sp, lowest)
        hi = min(lo + width * sp, highest)
        if hi > lo:
            _, _, pool = pool.mint(f"lp{i}", lo, hi, liq)
    return pool


def reference(pool: m.V3Pool, zero_for_one: bool, amount: int) -> tuple[int, int] | str:
    try:
        a0, a1 = pool.quote(zero_for_one, amount)
    except ValueError as e:
        return str(e)
    return (a0, -a1) if zero_for_one else (a1, -a0)


def ladder(q: object, amount: int) -> tuple[int, int] | str:
    try:
        return q(amount)  # type: ignore[operator, no-any-return]
    except ValueError as e:
        return str(e)


positions = st.lists(st.tuples(st.integers(-3000, 300), st.integers(1, 6000), st.integers(10**12, 10**22)),
                     min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(fee=st.sampled_from(sorted(SPACING)), tick=st.integers(-200_000, 200_000), pos=positions,
       zero_for_one=st.booleans(), amounts=st.lists(st.integers(1, 10**30), min_size=1, max_size=8))
def test_the_ladder_quotes_what_quote_quotes(fee: int, tick: int, pos: list[tuple[int, int, int]],
                                             zero_for_one: bool, amounts: list[int]) -> None:
    pool = pool_with(fee, tick, pos)
    q = pool.exact_input_quoter(zero_for_one)
    for amount in amounts:  # any order: deep amounts grow the ladder, shallow ones reuse it
        assert ladder(q, amount) == reference(pool, zero_for_one, amount)
    assert ladder(q, 0) == reference(pool, zero_for_one, 0) == "AS"
