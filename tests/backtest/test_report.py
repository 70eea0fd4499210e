"""The report a quant reads: metrics against closed forms, the tidy executions frame, failures with their
reasons, attribution that adds up, and the HTML report loaded in a real headless Chromium (Debian's
package; skipped when it is not installed, CI installs it)."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from basis_core.backtest.metrics import downsample_extremes, performance, periods_per_year
from basis_core.backtest.report import write_report
from basis_core.backtest.runner import BacktestResult, run
from basis_core.data.synthetic import synthetic_market
from basis_core.testing.browser import chromium_path, load_in_chromium

plotly = pytest.importorskip("plotly", reason="the report extra (plotly) is not installed")


def _installed(name: str) -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == name for ep in entry_points(group="basis_core.venues"))


needs_binance = pytest.mark.skipif(not _installed("binance"), reason="basis-venue-binance is not installed")
MARKET = synthetic_market(seed=3, hours=24 * 6 + 1)


def _carry(**extra: Any) -> BacktestResult:
    sc: dict[str, Any] = {
        "name": "report-test", "venues": ["binance"],
        "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-06T00:00:00Z", "step": "1h"},
        "strategies": [{"name": "cash_and_carry", "params": {"capital": 20000},
                        "balances": {"binance:spot:USDT": 25000}}],
        "schedule": [{"at": "2025-01-02T00:00:00Z",  # overdraws: fails with a reason
                      "instruction": {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT",
                                      "side": "buy", "amount": 1000}}],
        **extra,
    }
    return run(sc, data_provider=MARKET)


@pytest.fixture(scope="module")
def carry() -> BacktestResult:
    if not _installed("binance"):
        pytest.skip("basis-venue-binance is not installed")
    return _carry()


# -- metrics -----------------------------------------------------------------------------------------------
def test_performance_metrics_match_their_closed_forms() -> None:
    idx = pd.date_range("2025-01-01", periods=6, freq="1D", tz="UTC")
    eq = pd.Series([100.0, 110.0, 99.0, 99.0, 108.9, 119.79], index=idx)
    r = np.array([0.1, -0.1, 0.0, 0.1, 0.1])
    ppy = 365.25
    m = performance(eq, pd.Timedelta("1D"), annualised_return=0.5, max_drawdown=0.1)
    assert periods_per_year(pd.Timedelta("1h")) == pytest.approx(8766.0)
    assert m["volatility"] == pytest.approx(np.std(r, ddof=1) * math.sqrt(ppy))
    assert m["sharpe"] == pytest.approx(r.mean() / np.std(r, ddof=1) * math.sqrt(ppy))
    assert m["sortino"] == pytest.approx(r.mean() / math.sqrt(0.01 / 5) * math.sqrt(ppy))
    assert m["calmar"] == pytest.approx(5.0)


def test_metrics_without_variation_are_null_not_nan() -> None:
    idx = pd.date_range("2025-01-01", periods=5, freq="1h", tz="UTC")
    m = performance(pd.Series(100.0, index=idx), pd.Timedelta("1h"), 0.0, 0.0)
    assert m["sharpe"] is None and m["sortino"] is None and m["calmar"] is None and m["volatility"] == 0.0


def test_downsampling_keeps_the_extremes_and_the_ends() -> None:
    s = pd.Series(np.sin(np.arange(100_000) / 500.0))
    s.iloc[54_321] = -7.0
    small = downsample_extremes(s, 1000)
    assert len(small) <= 1002 and small.min() == -7.0 and small.max() == s.max()
    assert small.index[0] == 0 and small.index[-1] == len(s) - 1


# -- the run's report ----------------------------------------------------------------------------------------
@needs_binance
def test_summary_holds_every_metric_and_the_failure_reasons(carry: BacktestResult) -> None:
    s = carry.summary
    for key in ("return", "annualised_return", "max_drawdown", "volatility", "sharpe", "sortino", "calmar",
                "pnl_by_venue", "pnl_by_strategy", "risk", "failures", "annualisation"):
        assert key in s
    assert s["annualisation"]["periods_per_year"] == pytest.approx(8766.0)
    f = s["failures"]
    assert f["count"] == 1 and f["by_error"] == {"InsufficientFundsError": 1}
    assert f["first"][0]["field"] == "amount" and "InsufficientFundsError" in f["first"][0]["error"]
    assert f["first"][0]["strategy"] is None  # a scheduled instruction
    # attribution adds up to the PnL
    assert sum(s["pnl_by_venue"].values()) == pytest.approx(s["pnl"], abs=1e-6)
    assert sum(s["pnl_by_strategy"].values()) == pytest.approx(s["pnl"], abs=1e-6)
    # the one strategy holds everything but the (failed) scheduled order: nearly nothing is unattributed
    assert abs(s["pnl_by_strategy"]["unattributed"]) < 1e-6 * s["start_equity"]
    assert s["risk"]["max_binance:margin_ratio:USDT"] > 0 and s["risk"]["max_leverage"] > 0


@needs_binance
def test_executions_are_a_tidy_typed_frame(carry: BacktestResult) -> None:
    ex = carry.executions
    assert str(ex["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert ex["fill_price"].dtype == float and ex["fee"].dtype == float and ex["success"].dtype == bool
    spot = ex[(ex["operation"] == "spot_trade") & ex["success"]].iloc[0]
    perp = ex[(ex["operation"] == "perp_trade") & ex["success"]].iloc[0]
    assert (spot["symbol"], spot["side"], spot["strategy"]) == ("ETH/USDT", "buy", "cash_and_carry")
    assert (perp["symbol"], perp["side"]) == ("ETH/USDT:USDT", "sell")
    # the fee is what the trading-fee component booked, as a positive cost, and the notional price x amount
    assert spot["fee"] == pytest.approx(-spot["pnl_trading_fees"]) and spot["fee"] > 0
    assert spot["notional"] == pytest.approx(spot["fill_price"] * spot["fill_amount"])
    bad = ex[~ex["success"]].iloc[0]
    assert bad["error_field"] == "amount" and pd.isna(bad["strategy"])


@needs_binance
def test_risk_frame_has_leverage_net_delta_and_margin_ratio(carry: BacktestResult) -> None:
    risk = carry.risk
    assert {"leverage", "net_delta", "binance:margin_ratio:USDT"} <= set(risk.columns)
    assert len(risk) == len(carry.equity)
    # delta-neutral carry: the net delta stays a small share of equity
    assert risk["net_delta"].abs().max() < 0.05


@needs_binance
def test_report_files_include_a_self_contained_html(carry: BacktestResult, tmp_path: Path) -> None:
    files = write_report(carry, tmp_path / "out", fmt="parquet")
    html = files["html"].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html), "the report must not load scripts from the network"
    assert "plotly" in html.lower() and len(html) > 1_000_000  # the bundle is inlined
    ex = pd.read_parquet(files["executions"])
    assert ex["fill_price"].dtype == float and "symbol" in ex.columns


# -- a real browser ----------------------------------------------------------------------------------------------
needs_chromium = pytest.mark.skipif(chromium_path() is None,
                                    reason="chromium is not installed (apt-get install chromium)")


@needs_chromium
def test_the_console_check_sees_errors(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('boom'); notDefined();</script>"
                    "</body></html>")
    _, console = load_in_chromium(page)
    assert any("boom" in c for c in console) and any("ReferenceError" in c for c in console)


@needs_chromium
@needs_binance
def test_html_report_renders_in_chromium_without_console_errors(carry: BacktestResult, tmp_path: Path) -> None:
    files = write_report(carry, tmp_path / "out", charts=False)
    dom, console = load_in_chromium(files["html"])
    assert console == []
    charts = re.findall(r'id="chart-([a-z]+)" class="plotly-graph-div js-plotly-plot"', dom)
    assert set(charts) == {"equity", "components", "attribution", "risk", "funding"}
    assert dom.count('class="main-svg"') >= 2 * len(charts)  # plotly drew every chart
    assert len(re.findall(r'<path class="js-line"', dom)) >= 8  # with lines in them
    assert "InsufficientFundsError" in dom  # the failures table


def test_strategy_pnl_splits_accruals_by_position_share() -> None:
    from basis_core.backtest.metrics import pnl_by_strategy

    px = pd.DataFrame({"v:perp:X": [10.0, 12.0, 12.0]})
    own = [(0, "a", {"v:perp:X": Decimal(-3)}, {"v:perp:X": math.nan}),
           (0, "b", {"v:perp:X": Decimal(-1)}, {"v:perp:X": 9.0})]
    out = pnl_by_strategy(px, own, [(2, 8.0, ["v:futures:USDT"])], total_pnl=0.0)
    # price: a -3 x (12 - 10) = -6, b sold at 9: -1 x (12 - 9) = -3; funding 8 split 3:1 (by notional)
    assert out["a"] == pytest.approx(-6 + 6) and out["b"] == pytest.approx(-3 + 2)
    assert out["unattributed"] == pytest.approx(1.0)
