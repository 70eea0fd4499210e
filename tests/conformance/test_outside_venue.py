"""Proof of issue 16: a venue distribution that lives outside plugins/ (tests/plugins/basis-venue-okx, installed
by ``make install-test`` like any third-party wheel) brings its own market data files, backtests through
``basis backtest --data DIR``, contributes synthetic series to the default market, and passes the conformance kit.

It is written only against the core's public building blocks (``basis_core.backtest.cex``: CexVenue / CexSpec;
``basis_core.data.loaders``: klines / funding; the ``market_data_files`` / ``synthetic_series`` hooks): no core
module names it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import basis_core
from basis_core.data import load_data_dir, synthetic_market
from basis_core.testing.conformance import ConformanceSuite

pytest.importorskip("basis_venue_okx", reason="tests/plugins/basis-venue-okx is not installed (make install-test)")

BASIS = [sys.executable, "-c", "from basis_core.cli import main; main()"]
START = pd.Timestamp("2025-03-01T00:00:00Z")
MINUTES = 3 * 24 * 60


def write_okx_files(d: Path, seed: int = 3) -> dict[str, Path]:
    """Three days of OKX 1-minute candles (spot and swap) and 8-hourly funding, in OKX's export layout."""
    rng = np.random.default_rng(seed)
    close = 2500 * np.exp(np.cumsum(rng.standard_normal(MINUTES) * 0.0008))
    ts = (START.value // 10**6) + np.arange(MINUTES) * 60_000
    files = {}
    for name, px in (("OKX_ETH-USDT_candles_1m_2025-03.csv", close),
                     ("OKX_ETH-USDT-SWAP_candles_1m_2025-03.csv", close * 1.0004)):
        o = np.concatenate([[px[0]], px[:-1]])
        frame = pd.DataFrame({"ts": ts, "o": np.round(o, 2), "h": np.round(np.maximum(o, px) * 1.0002, 2),
                              "l": np.round(np.minimum(o, px) * 0.9998, 2), "c": np.round(px, 2), "vol": 1.0})
        frame.to_csv(d / name, index=False)
        files[name] = d / name
    fund_t = [(START + pd.Timedelta(hours=8 * i)).value // 10**6 for i in range(10)]
    pd.DataFrame({"fundingTime": fund_t, "fundingRate": ["0.0001"] * 10}).to_csv(
        d / "OKX_ETH-USDT-SWAP_funding_2025-03.csv", index=False)
    return files


def test_okx_files_load_through_its_own_contribution(tmp_path: Path) -> None:
    write_okx_files(tmp_path)
    p = load_data_dir(tmp_path)
    assert set(p.names()) == {"spot:okx:ETH/USDT", "perp:okx:ETH/USDT:USDT", "funding:okx:ETH/USDT:USDT"}
    raw = pd.read_csv(tmp_path / "OKX_ETH-USDT-SWAP_candles_1m_2025-03.csv", dtype=str)
    bar = 100  # the bar opening at minute 100 is visible at its close, minute 101, and not before
    close_ns = START.value + (bar + 1) * 60 * 10**9
    mark = p.series("perp:okx:ETH/USDT:USDT")
    assert mark.value("close", close_ns) == Decimal(raw["c"][bar])
    assert mark.value("close", close_ns - 1) == Decimal(raw["c"][bar - 1])
    assert p.get_data(close_ns).get("spot:ETH/USDT") == p.get_data(close_ns).get("spot:okx:ETH/USDT")


def test_okx_backtests_through_basis_backtest_with_its_own_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_okx_files(data)
    scenario = tmp_path / "okx_carry.yaml"
    scenario.write_text(f"""
name: okx_carry
market: {{source: data_dir, data_dir: {data}}}
period: {{start: 2025-03-01T01:00:00Z, end: 2025-03-03T23:00:00Z, step: 1h}}
venues: [okx]
strategies:
  - name: cash_and_carry
    required: true
    params:
      legs: [{{spot_venue: okx, perp_venue: okx}}]
      capital: 100000
      margin_fraction: 0.3
    balances:
      okx:spot:USDT: 100000
""")
    out = subprocess.run([*BASIS, "backtest", str(scenario), "--data", str(data), "--json",
                          "--out", str(tmp_path / "report")],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["strategies"][0]["active"] is True
    assert summary["executions"] >= 2 and summary["failed"] == 0
    # short the swap, long spot: 8 funding settlements at +0.01% in the period are received
    assert summary["components"]["funding"] > 0
    assert summary["components"]["trading_fees"] < 0


def test_okx_contributes_synthetic_series_to_the_default_market() -> None:
    m = synthetic_market(hours=48)
    assert m.has("perp:okx:ETH/USDT:USDT") and m.has("funding:okx:ETH/USDT:USDT")
    hours = {pd.Timestamp(t, tz="UTC").hour for t in m.series("funding:okx:ETH/USDT:USDT").times}
    assert hours == {0, 8, 16}


def test_no_core_module_names_the_outside_venue() -> None:
    core = Path(basis_core.__file__).resolve().parent
    hits = [p for p in core.rglob("*.py") if "okx" in p.read_text().lower()]
    assert hits == [] or all("example" in p.read_text().lower() for p in hits), hits


class TestOkxConformance(ConformanceSuite):
    venue = "okx"


def test_venue_info_publishes_instrument_rules_and_strategies_round_to_them() -> None:
    from basis_core import ExecutionInterfaceManager
    from basis_core.backtest.strategies.cash_and_carry import CashAndCarry

    m = ExecutionInterfaceManager({"venues": ["okx", "binance"]}, synthetic_market(hours=48), "backtest")
    info = {v["name"]: v for v in m.venues()}
    assert info["okx"]["rules"]["ETH/USDT:USDT"] == {"market": "perp", "step": "0.01", "min_amount": "0.01",
                                                     "min_notional": "5", "tick": "0.01", "max_leverage": "50"}
    assert info["binance"]["rules"]["ETH/USDT"]["min_notional"] == "5"
    # a hedged pair trades in the coarser step of its two legs, never finer than the strategy's size_decimals
    assert CashAndCarry.size_unit(m, 3, ("okx", "ETH/USDT"), ("okx", "ETH/USDT:USDT")) == Decimal("0.01")
    assert CashAndCarry.size_unit(m, 3, ("binance", "ETH/USDT"), ("binance", "ETH/USDT:USDT")) == Decimal("0.001")
    assert CashAndCarry.size_unit(m, 3, ("okx", "BTC/USDT")) == Decimal("0.001")  # no such market: no rules
