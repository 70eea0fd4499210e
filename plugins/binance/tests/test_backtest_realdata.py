"""Checks against reality: a 1 ETH Binance USD-M short held through 2024 on the real series of
``../shared/data`` (skipped when absent). The expected funding is computed here from the CSV files with
the ``csv`` module (not the project's loaders): the sum over settlements in (open, close] of
mark x rate, the mark being the close of the last 1 h candle that closed at or before the settlement."""

from __future__ import annotations

import csv
from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pytest
from basis_venue_binance.venue import BinanceVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data.loaders import load_funding, load_klines
from basis_core.data.provider import DataProvider

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)

pytestmark = pytest.mark.realdata


def _file(pattern: str) -> Path:
    if not DATA.is_dir():
        pytest.skip(f"real market data not found at {DATA}")
    found = sorted(DATA.glob(pattern))
    if not found:
        pytest.skip(f"no {pattern} in {DATA}")
    return found[0]


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _independent_funding(klines: Path, funding: Path) -> tuple[D, int, D, D]:
    """(sum of mark x rate over settlements in (START, END], count, mark at START, mark at END)."""
    closes: dict[datetime, D] = {}
    first_open: tuple[datetime, D] | None = None
    with klines.open(newline="") as fh:
        for row in csv.DictReader(fh):
            opened = _ts(row["timestamp"])
            closes[opened + timedelta(hours=1)] = D(row["close"])
            if first_open is None or opened < first_open[0]:
                first_open = (opened, D(row["open"]))
    assert first_open is not None
    times = sorted(closes)

    def mark(t: datetime) -> D:
        i = bisect_right(times, t) - 1
        if i < 0:
            assert t >= first_open[0]
            return first_open[1]
        return closes[times[i]]

    total = D(0)
    n = 0
    with funding.open(newline="") as fh:
        for row in csv.DictReader(fh):
            t = _ts(row["funding_timestamp"])
            if START < t <= END:
                total += mark(t) * D(row["funding_rate"])
                n += 1
    return total, n, mark(START), mark(END)


def test_one_eth_short_through_2024_collects_the_real_funding() -> None:
    kl = _file("binance_ETHUSDT_perp_1h_*.csv")
    fr = _file("binance_ETHUSDT_funding_rates_*.csv")
    expected, settlements, mark_open, mark_close = _independent_funding(kl, fr)
    assert settlements == 3 * 366  # every 8 h at 00/08/16 UTC in a leap year

    provider = DataProvider([load_klines(kl, "perp:binance:ETH/USDT:USDT"),
                             load_funding(fr, "funding:binance:ETH/USDT:USDT")])
    # the bucket slippage model (3 bps for a 1 ETH order), so the round trip below has a closed form
    m = ExecutionInterfaceManager({"initial_balances": {"binance:futures:USDT": "10000"},
                                   "venue_config": {"binance": {"slippage_model": "buckets"}}}, provider, "backtest",
                                  autoload=False, plugins=[BinanceVenue])
    t0, t1 = pd.Timestamp(START), pd.Timestamp(END)
    m.execute(t0, {"operation": "perp_trade", "venue": "binance", "symbol": "ETH/USDT:USDT", "side": "sell",
                   "amount": "1"})
    m.execute(t1, {"operation": "perp_trade", "venue": "binance", "symbol": "ETH/USDT:USDT", "side": "buy",
                   "amount": "1", "reduce_only": True})

    funding = [r for r in m.execution_history if r.operation == "funding"]
    assert len(funding) == settlements
    collected = sum((r["pnl"]["funding"] for r in funding), D(0))
    assert collected == expected
    assert D(250) < collected < D(600)  # 2024: ~10-15 % a year of a ~2,300-4,000 USD notional

    # the round trip by closed form: (entry - exit) x 1 - fees + funding (short), 3 bps slippage, 0.05 % taker
    entry = mark_open * (1 - D("0.0003"))
    exit_ = mark_close * (1 + D("0.0003"))
    fees = (entry + exit_) * D("0.0005")
    assert m.ledger is not None
    assert m.ledger.balance("binance:futures:USDT") - D(10000) == (entry - exit_) - fees + expected
    assert not any(r.operation == "liquidation" for r in m.execution_history)
