"""The backtest's per-step accrual (:func:`basis_venue_morpho.math.accrued_market`, the IRM and ``wExp`` inlined
with shortcuts) equals :func:`~basis_venue_morpho.math.accrue_interest` (the line-for-line port the contract
tests check on anvil) to the wei, over markets, fees, rates at target and elapsed times that reach every branch:
both sides of the target utilization, ``wExp``'s small-argument shortcut and its general and clamped ranges,
the rate-at-target bounds, an uninitialised IRM and no time elapsed."""

from __future__ import annotations

from basis_venue_morpho import math as mm
from hypothesis import given, settings
from hypothesis import strategies as st

YEAR = mm.SECONDS_PER_YEAR
RATES = st.one_of(st.just(0), st.just(mm.MIN_RATE_AT_TARGET), st.just(mm.MAX_RATE_AT_TARGET),
                  st.integers(1, 2 * mm.MAX_RATE_AT_TARGET))
ELAPSED = st.one_of(st.integers(0, 120), st.integers(0, 7 * 24 * 3600), st.integers(0, 20 * YEAR))


@settings(max_examples=3000, deadline=None)
@given(tsa=st.integers(0, 2**110), util=st.integers(0, 10**6), tss=st.integers(0, 2**120),
       tbs=st.integers(0, 2**120), fee=st.one_of(st.just(0), st.integers(0, mm.MAX_FEE)), rat=RATES,
       last=st.integers(0, 2**40), elapsed=ELAPSED)
def test_accrued_market_equals_accrue_interest(tsa: int, util: int, tss: int, tbs: int, fee: int, rat: int,
                                               last: int, elapsed: int) -> None:
    m = mm.Market(tsa, tss, tsa * util // 10**6, tbs, last, fee, rat)
    try:
        expect = mm.accrue_interest(m, last + elapsed).market
    except mm.MorphoRevert as e:
        try:
            mm.accrued_market(m, last + elapsed)
        except mm.MorphoRevert as got:
            assert got.reason == e.reason
            return
        raise AssertionError("accrued_market did not revert") from None
    assert mm.accrued_market(m, last + elapsed) == expect


def test_wexp_small_argument_shortcut_is_the_contracts_q_zero() -> None:
    """``wExp``'s ``q`` is 0 exactly for ``|x| <= ln2 / 2`` (rounded down), so the shortcut's ``|x| < ln2 / 2``
    is inside it; there ``wExp(x)`` is ``1 + x + x^2 / 2``."""
    h = mm._HALF_LN_2
    for x in (-h - 2, -h - 1, -h, -h + 1, -1, 0, 1, h - 1, h, h + 1, h + 2):
        a = x - h if x < 0 else x + h
        q = a // mm.LN_2_INT if a >= 0 else -(-a // mm.LN_2_INT)  # the contract's int256 truncation
        assert (q == 0) == (abs(x) <= h), x
        if -h < x < h:
            assert mm.w_exp(x) == mm.WAD + x + x * x // (2 * mm.WAD)
