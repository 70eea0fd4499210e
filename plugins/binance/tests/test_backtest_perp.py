"""Binance USD-M perpetuals in backtest: entry price, realised / unrealised PnL, flips, margin and
leverage brackets, reduce-only, funding at 00/08/16 UTC, liquidation. Expected values are closed forms
from the inputs (price path, rates, documented fee / slippage / bracket defaults)."""

from __future__ import annotations

from decimal import Decimal as D
from decimal import localcontext
from typing import Any

import pytest
from basis_venue_binance.venue import BinanceVenue

from basis_core import ExecutionInterfaceManager
from basis_core.backtest.cex.testing import at, candles, market, settlements
from basis_core.errors import InstructionError, MarginError
from basis_core.numeric import LIBRARY_CONTEXT

T0 = "2025-01-01T00:00:00Z"
TAKER = D("0.0005")
SLIP = D("0.0003")  # perps <= 10k notional
WALLET = "binance:futures:USDT"
POS = "binance:perp:ETH/USDT:USDT"
MET = "binance:metric:"
SYM = "ETH/USDT:USDT"


def make(wallet: str, marks: list[Any], rates: list[str] | None = None, **venue_cfg: Any) -> ExecutionInterfaceManager:
    mk = market(
        candles("perp:binance:ETH/USDT:USDT", T0, marks),
        candles("spot:ETH/USDT", T0, marks),
        settlements("funding:binance:ETH/USDT:USDT", T0, rates or ["0"] * (len(marks) // 8 + 1), 8),
    )
    cfg = {"initial_balances": {WALLET: wallet}, "venue_config": {"binance": venue_cfg}}
    return ExecutionInterfaceManager(cfg, mk, "backtest", autoload=False, plugins=[BinanceVenue])


def perp(side: str, amount: str, **kw: Any) -> dict[str, Any]:
    return {"operation": "perp_trade", "venue": "binance", "symbol": SYM, "side": side, "amount": amount, **kw}


def test_open_short_closed_form() -> None:
    m = make("10000", ["3000"] * 10)
    d = m.execute(at(0), perp("sell", "2"))
    fill = D(3000) * (1 - SLIP)
    assert d.fill_price == fill == D("2999.1")
    fee = 2 * fill * TAKER
    assert d.positions == {POS: D(-2), WALLET: -fee}
    assert d.fees == {WALLET: -fee}
    assert d.pnl == {"trading_fees": -fee, "slippage": -2 * (D(3000) - fill)}
    bal = m.get_balances(at(0), "binance")
    assert bal[POS] == D(-2) and bal[f"{MET}entry_price:{SYM}"] == fill
    assert bal[f"{MET}unrealised_pnl:{SYM}"] == 2 * (fill - 3000)
    assert bal[f"{MET}initial_margin:{SYM}"] == D(6000) / 20  # default leverage 20x
    assert bal[f"{MET}maintenance_margin:{SYM}"] == D(6000) * D("0.004")


def test_average_entry_partial_close_and_flip() -> None:
    """Zero slippage to keep the numbers round; realised PnL of a flip is kept, the rest re-opens."""
    m = make("100000", ["3000", "3100", "3200", "2900", "2900"], slippage={"perp": [[None, 0]]})
    m.execute(at(0), perp("buy", "1"))
    m.execute(at(1), perp("buy", "3"))
    entry = (D(3000) + 3 * D(3100)) / 4
    bal = m.get_balances(at(1), "binance")
    assert bal[f"{MET}entry_price:{SYM}"] == entry == D(3075)
    d = m.execute(at(2), perp("sell", "1.5"))
    realised_1 = D("1.5") * (D(3200) - entry)
    assert d.details["realised_pnl"] == realised_1
    assert d.positions == {POS: D("-1.5"), WALLET: realised_1 - D("1.5") * 3200 * TAKER}
    assert m.get_balances(at(2), "binance")[f"{MET}entry_price:{SYM}"] == entry  # unchanged by a reduction
    d = m.execute(at(3), perp("sell", "4.5"))  # long 2.5 -> short 2 at 2900
    realised_2 = D("2.5") * (D(2900) - entry)
    assert d.details["realised_pnl"] == realised_2
    assert d.positions == {POS: D("-4.5"), WALLET: realised_2 - D("4.5") * 2900 * TAKER}
    bal = m.get_balances(at(3), "binance")
    assert bal[POS] == D(-2) and bal[f"{MET}entry_price:{SYM}"] == D(2900)
    assert bal[f"{MET}realised_pnl:{SYM}"] == realised_1 + realised_2
    fees = (D(3000) + 3 * D(3100) + D("1.5") * 3200 + D("4.5") * 2900) * TAKER
    assert bal[f"{MET}trading_fees:{SYM}"] == -fees
    assert bal[WALLET] == D(100000) + realised_1 + realised_2 - fees


def test_round_trip_pnl_is_price_move_minus_fees_minus_funding() -> None:
    """Long 2 from 00:00 to 20:00 across the 08:00 and 16:00 settlements (and not the one at 00:00)."""
    marks = [D(3000) + 10 * i for i in range(25)]
    rates = ["0.0003", "0.0001", "-0.00005", "0.0002"]
    m = make("100000", marks, rates)
    m.execute(at(0), perp("buy", "2"))
    for h in range(1, 21):
        m.advance_to(at(h))
    m.execute(at(20), perp("sell", "2"))
    entry = marks[0] * (1 + SLIP)
    exit_ = marks[20] * (1 - SLIP)
    fees = 2 * (entry + exit_) * TAKER
    funding_paid = 2 * marks[8] * D("0.0001") + 2 * marks[16] * D("-0.00005")
    assert m.ledger is not None
    assert m.ledger.balance(WALLET) - D(100000) == (exit_ - entry) * 2 - fees - funding_paid
    assert m.ledger.balance(POS) == 0
    funding = [r for r in m.execution_history if r.operation == "funding"]
    assert [r["positions"] for r in funding] == [{WALLET: -2 * marks[8] * D("0.0001")},
                                                 {WALLET: -2 * marks[16] * D("-0.00005")}]
    assert [r.timestamp for r in funding] == [at(8), at(16)]
    assert all(r["pnl"]["funding"] == r["positions"][WALLET] for r in funding)


def test_funding_sign_and_settlement_window() -> None:
    """A short receives a positive rate; opening exactly at a settlement does not pay it, closing does."""
    m = make("100000", ["2000"] * 30, ["0.001", "0.0005", "0.0004", "0.0003"])
    m.execute(at(8), perp("sell", "1"))   # opened at the 08:00 settlement: not included
    effects = m.advance_to(at(16))        # (08:00, 16:00] contains 16:00
    (f,) = [e for e in effects if e.operation == "funding"]
    assert f.positions == {WALLET: D(2000) * D("0.0004")}
    assert f.details["payments"][SYM] == {"size": D(-1), "mark": D(2000), "rate": D("0.0004"),
                                          "payment": D("0.8")}
    assert m.get_balances(at(16), "binance")[f"{MET}funding:{SYM}"] == D("0.8")


def test_margin_and_leverage_limits_apply_nothing_when_refused() -> None:
    m = make("100", ["3000"] * 5)
    with pytest.raises(MarginError) as ei:  # 20x: 150 initial margin > ~99 of balance
        m.execute(at(0), perp("buy", "1"))
    assert ei.value.field == "amount"
    with pytest.raises(MarginError) as ei:
        m.execute(at(0), perp("buy", "1", leverage="150"))  # above the 125x bracket maximum
    assert ei.value.field == "leverage"
    assert m.ledger is not None and m.ledger.balances == {WALLET: D(100)}
    d = m.execute(at(0), perp("buy", "1", leverage="50"))  # 60 of initial margin
    assert d.positions[POS] == D(1)
    assert m.get_balances(at(0), "binance")[f"{MET}leverage:{SYM}"] == D(50)


def test_bracket_caps_leverage_by_notional() -> None:
    m = make("1e7", ["3000"] * 5, slippage={"perp": [[None, 0]]})
    m.execute(at(0), perp("buy", "190", leverage="100"))  # 570k: bracket 50k-600k allows 100x
    with pytest.raises(MarginError) as ei:
        m.execute(at(0), perp("buy", "20"))  # 630k at 100x: the 600k-3M bracket allows 75x
    assert ei.value.field == "leverage"
    m.execute(at(0), perp("buy", "20", leverage="75"))
    bal = m.get_balances(at(0), "binance")
    # maintenance = notional x mmr - cum, bracket 600k-3M: 0.65 %, cum 950 (published Binance bracket)
    assert bal[f"{MET}maintenance_margin:{SYM}"] == D(630000) * D("0.0065") - D(950)


def test_reduce_only() -> None:
    m = make("100000", ["3000"] * 5)
    with pytest.raises(InstructionError) as ei:
        m.execute(at(0), perp("sell", "1", reduce_only=True))
    assert ei.value.field == "reduce_only"
    m.execute(at(0), perp("buy", "1"))
    with pytest.raises(InstructionError) as ei:
        m.execute(at(0), perp("buy", "1", reduce_only=True))
    assert ei.value.field == "reduce_only"
    with pytest.raises(InstructionError) as ei:
        m.execute(at(0), perp("sell", "1.5", reduce_only=True))  # Binance refuses instead of clamping
    assert ei.value.field == "amount"
    d = m.execute(at(0), perp("sell", "0.004", reduce_only=True))  # below min notional: exempt
    assert d.positions[POS] == D("-0.004")


def _liquidation_case(**venue_cfg: Any) -> tuple[ExecutionInterfaceManager, D, D]:
    """150 USDT, short 1 ETH at 20x from 2000; the mark climbs 2050, 2100, 2140 (or gaps)."""
    marks = venue_cfg.pop("marks", ["2000", "2050", "2100", "2140", "2140"])
    m = make("150", marks, **venue_cfg)
    m.execute(at(0), perp("sell", "1"))
    entry = D(2000) * (1 - SLIP)
    wallet = D(150) - entry * TAKER
    return m, entry, wallet


def test_liquidation_default_fee_takes_the_rest() -> None:
    m, entry, wallet = _liquidation_case()
    assert m.advance_to(at(1)) == [] and m.advance_to(at(2)) == []
    # at 2140: margin balance = wallet + entry - 2140 = 8.4003 < maintenance 2140 x 0.4 % = 8.56
    (liq,) = m.advance_to(at(3))
    assert liq.status == "liquidated" and liq.operation == "liquidation"
    realised = entry - D(2140)
    left = wallet + realised
    fee = min(D(2140) * D("0.0125"), left)
    assert fee == left == D("8.4003")
    assert liq.positions == {POS: D(1), WALLET: realised - fee}
    assert liq.pnl == {"liquidation": -fee}
    assert m.ledger is not None and m.ledger.balance(WALLET) == 0 and m.ledger.balance(POS) == 0


def test_liquidation_with_configured_fee_and_mid_step_marks() -> None:
    m, entry, wallet = _liquidation_case(fees={"liquidation": "0.001"})
    (liq,) = m.advance_to(at(4))  # one step: the 03:00 mark close is an accrual point
    assert liq.timestamp == at(3)
    fee = D(2140) * D("0.001")
    assert liq.positions == {POS: D(1), WALLET: entry - D(2140) - fee}
    assert m.ledger is not None and m.ledger.balance(WALLET) == wallet + entry - D(2140) - fee == D("6.2603")
    assert m.get_balances(at(4), "binance")[f"{MET}liquidation_fees:{SYM}"] == -fee


def test_liquidation_gap_beyond_bankruptcy_is_absorbed() -> None:
    m, entry, wallet = _liquidation_case(marks=["2000", "2300", "2300"])
    (liq,) = m.advance_to(at(1))
    assert liq.positions == {POS: D(1), WALLET: -wallet}
    assert liq.details["insurance_fund_shortfall"] == D(2300) - entry - wallet
    assert liq.pnl == {"liquidation": liq.details["insurance_fund_shortfall"]}


def test_a_wick_through_the_liquidation_price_liquidates_there_though_the_close_is_back() -> None:
    """The 02:00 bar's high (2150) crosses the short's liquidation price while it closes at 2050: liquidated at
    that bar, at the price where margin balance = maintenance margin, solved here from the inputs
    (wallet + entry - p = p x 0.4 %, bracket 1 of ETHUSDT: mmr 0.4 %, cum 0), not at a close."""
    marks = ["2000", "2050", ("2050", "2150", "2040", "2050"), "2050", "2050"]
    m, entry, wallet = _liquidation_case(marks=marks)
    assert m.advance_to(at(1)) == []
    (liq,) = m.advance_to(at(2))
    assert liq.timestamp == at(2) and liq.status == "liquidated"
    with localcontext(LIBRARY_CONTEXT):  # the closed form with the library's 60 digits
        price = (wallet + entry) / (1 + D("0.004"))
        assert 2050 < price < 2150
        assert liq.details["closed"][SYM]["mark"] == price
        assert liq.positions[POS] == D(1)
        realised = entry - price
        fee = min(price * D("0.0125"), wallet + realised)
        assert liq.positions[WALLET] == realised - fee
    # the same path with the wick below the liquidation price: nothing happens
    m2, _, _ = _liquidation_case(marks=["2000", "2050", ("2050", "2130", "2040", "2050"), "2050", "2050"])
    assert m2.advance_to(at(4)) == []


def test_minute_steps_over_hourly_marks_liquidate_at_the_same_time_and_price() -> None:
    """Stepping minute by minute (the simulator skips re-checks of a bar that already passed with the same ledger,
    and caches balances per mark row) liquidates the wick case exactly as two hourly steps do."""
    marks = ["2000", "2050", ("2050", "2150", "2040", "2050"), "2050", "2050"]
    hourly, _, _ = _liquidation_case(marks=marks)
    hourly.advance_to(at(1))
    (expected,) = hourly.advance_to(at(2))
    m, _, _ = _liquidation_case(marks=marks)
    effects = []
    upnl = set()
    for minute in range(1, 4 * 60):
        effects += m.advance_to(at(minute / 60))
        if minute < 60:
            upnl.add(m.get_balances(at(minute / 60), "binance")[f"{MET}unrealised_pnl:{SYM}"])
    assert len(upnl) == 1  # one mark row visible for the whole first hour: one answer
    (liq,) = effects
    assert liq.timestamp == at(2) and liq.positions == expected.positions
    assert liq.details["closed"] == expected.details["closed"]


def test_a_bar_before_the_position_opened_never_liquidates_it() -> None:
    marks = ["2000", ("2000", "2200", "1990", "2000"), "2000", "2000"]
    m = make("150", marks)
    m.advance_to(at(1.5))  # the 01:00 bar (its 2200 wick) is already in the past
    m.execute(at(1.5), perp("sell", "1"))
    assert m.advance_to(at(1.75)) == []  # no new bar closed since the position opened


def test_funding_the_wallet_cannot_cover_closes_the_position_first() -> None:
    """Long 1 from 3000 to 6000, then a 10 % funding rate: 600 due, ~198 in the wallet. The position is
    closed at the mark as taker (realising the profit), then the funding is paid; no balance goes negative."""
    m = make("200", ["3000"] + ["6000"] * 10, ["0", "0.1"], slippage={"perp": [[None, 0]]})
    m.execute(at(0), perp("buy", "1"))
    effects = m.advance_to(at(8))
    liq, fund = effects
    assert liq.operation == "liquidation" and liq.details["reason"].startswith("funding")
    wallet = D(200) - D(3000) * TAKER
    close_fee = D(6000) * TAKER
    assert liq.positions == {POS: D(-1), WALLET: D(3000) - close_fee}
    assert fund.positions == {WALLET: D(-600)}
    assert m.ledger is not None and m.ledger.balance(WALLET) == wallet + D(3000) - close_fee - D(600)
