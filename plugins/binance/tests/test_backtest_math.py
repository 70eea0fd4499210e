"""The CEX simulator's pure math against independent closed forms: position accounting (cash-flow
identity), funding sign, margin brackets (Binance's published maintenance amounts), slippage buckets."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import pairwise

import pytest
from basis_venue_binance.spec import USDM_TIERS
from hypothesis import given, settings
from hypothesis import strategies as st

from basis_core.backtest.cex.funding import funding_payment
from basis_core.backtest.cex.margin import build_tiers, maintenance_margin, max_leverage
from basis_core.backtest.cex.pnl import apply_fill, entry_price, unrealised_pnl
from basis_core.backtest.cex.slippage import SlippageModel

fills = st.lists(st.tuples(st.integers(-500, 500).filter(bool), st.integers(100_000, 900_000)),
                 min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(fills=fills)
def test_realised_plus_unrealised_equals_cash_flow(fills: list[tuple[int, int]]) -> None:
    """After any sequence of fills, realised PnL + unrealised PnL at a mark equals the cash-flow value
    sum(-qty x price) + size x mark, exactly (the basis only ever moves what realised PnL uses)."""
    size = cost = realised = D(0)
    cash = D(0)
    for q, p in fills:
        qty, price = D(q) / 1000, D(p) / 100
        size, cost, r = apply_fill(size, cost, qty, price)
        realised += r
        cash -= qty * price
        assert cost >= 0 and (size != 0 or cost == 0)
    mark = D("4321.09")
    assert realised + unrealised_pnl(size, cost, mark) == cash + size * mark


def test_flip_realises_the_closed_part_and_reopens_at_the_fill() -> None:
    size, cost, r = apply_fill(D(2), D(6000), D(-5), D(3500))
    assert (size, cost, r) == (D(-3), D(10500), D(1000))
    assert entry_price(size, cost) == D(3500)
    size, cost, r = apply_fill(D(-3), D(10500), D(1), D(3600))
    assert (size, cost, r) == (D(-2), D(7000), D(-100))


def test_funding_sign() -> None:
    assert funding_payment(D(1), D(3000), D("0.0001")) == D("-0.3")   # long pays a positive rate
    assert funding_payment(D(-1), D(3000), D("0.0001")) == D("0.3")   # short receives it
    assert funding_payment(D(-2), D(3000), D("-0.0001")) == D("-0.6")  # short pays a negative rate


@pytest.mark.parametrize(("notional", "expected_mm", "lev"), [
    ("10000", "40", 125),                         # 0.4 %, cum 0
    ("50000", str(D(50000) * D("0.005") - 50), 100),
    ("600000", str(D(600000) * D("0.0065") - 950), 75),
    ("3000000", str(D(3000000) * D("0.01") - 11450), 50),
    ("20000000", str(D(20000000) * D("0.02") - 131450), 25),
])
def test_usdm_brackets_match_published_maintenance_amounts(notional: str, expected_mm: str, lev: int) -> None:
    """Binance's published ETHUSDT brackets: maintenance amounts 0 / 50 / 950 / 11,450 / 131,450."""
    tiers = build_tiers(USDM_TIERS)
    assert [t.cum for t in tiers[:5]] == [D(0), D(50), D(950), D(11450), D(131450)]
    assert maintenance_margin(tiers, D(notional)) == D(expected_mm)
    assert max_leverage(tiers, D(notional)) == lev


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 10**10))
def test_maintenance_margin_is_continuous_across_brackets(n: int) -> None:
    tiers = build_tiers(USDM_TIERS)
    for prev, t in pairwise(tiers):
        assert prev.cap == t.floor
        assert t.floor * prev.mmr - prev.cum == t.floor * t.mmr - t.cum  # both formulas agree at the boundary
    assert maintenance_margin(tiers, D(n)) > 0


def test_slippage_buckets_and_validation() -> None:
    model = SlippageModel.from_rows([[10_000, 5], [100_000, 7], [None, 13]])
    assert [model.bps(D(x)) for x in (1, 10_000, 10_000.01, 100_000, 10**9)] == [5, 5, 7, 7, 13]
    assert model.rate(D(5)) == D("0.0005")
    with pytest.raises(ValueError):
        SlippageModel.from_rows([[100, 5], [50, 7]])
    with pytest.raises(ValueError):
        SlippageModel.from_rows([[None, 5], [50, 7]])
