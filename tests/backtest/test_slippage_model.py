"""The CEX square-root slippage model: ``rate = half_spread + Y x sigma x sqrt(notional / volume)`` (capped).

Closed forms of the pure functions, monotonicity (hypothesis), the model inside the simulator against hand
computations on a hand-made market (the visible candle, no look-ahead, the bucket fallback, configuration), and
the calibration on the real candles of ``../shared/data`` (``realdata``; skipped when absent).
"""

from __future__ import annotations

import csv
import math
import os
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest
from basis_venue_binance.venue import BinanceVenue
from hypothesis import given, settings
from hypothesis import strategies as st

from basis_core import ExecutionInterfaceManager
from basis_core.backtest.cex.impact import (
    PARKINSON,
    ImpactModel,
    parkinson_sigma,
    price_increment,
    sqrt_impact_rate,
    window_stats,
)
from basis_core.backtest.cex.impact_calibration import abdi_ranaldo_spread, aggregate, impact_bps, volatility_ratio
from basis_core.data.provider import DataProvider
from basis_core.data.series import Series
from basis_core.errors import ConfigError

H = 3_600_000_000_000
T0 = 1_735_689_600_000_000_000  # 2025-01-01T00:00Z
DATA = Path(os.environ.get("BASIS_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")


# -- pure functions ---------------------------------------------------------------------------------------------
def test_parkinson_sigma_closed_form() -> None:
    exact = (D("3030") / D("3000")).ln() / (4 * D(2).ln()).sqrt()
    assert abs(parkinson_sigma(D("3030"), D("3000")) - exact) < D("1e-26")
    assert float(PARKINSON) == pytest.approx(1 / math.sqrt(4 * math.log(2)), rel=1e-15)
    assert parkinson_sigma(D("3000"), D("3000")) == 0
    with pytest.raises(ValueError):
        parkinson_sigma(D("2999"), D("3000"))
    with pytest.raises(ValueError):
        parkinson_sigma(D("1"), D("0"))


def test_rate_closed_forms() -> None:
    # 1 bp half-spread + 1 x 1% x sqrt(10,000 / 100,000,000) = 1 bp + 1 bp
    assert sqrt_impact_rate(D(10_000), D(100_000_000), D("0.01"), D("0.0001"), D(1), D("0.05")) == D("0.0002")
    # Y scales the impact only; a zero notional pays the half-spread; no volume pays the cap; the cap binds
    assert sqrt_impact_rate(D(10_000), D(100_000_000), D("0.01"), D("0.0001"), D("0.5"), D("0.05")) == D("0.00015")
    assert sqrt_impact_rate(D(0), D(100_000_000), D("0.01"), D("0.0001"), D(1), D("0.05")) == D("0.0001")
    assert sqrt_impact_rate(D(10_000), D(0), D("0.01"), D("0.0001"), D(1), D("0.05")) == D("0.05")
    assert sqrt_impact_rate(D(10**12), D(1000), D("0.01"), D(0), D(1), D("0.05")) == D("0.05")
    # rounded to 1e-10
    r = sqrt_impact_rate(D(3000), D(7), D("0.003"), D(0), D(1), D("0.5"))
    assert r == (D("0.003") * (D(3000) / D(7)).sqrt()).quantize(D("1e-10")) and r.as_tuple().exponent == -10


def test_price_increment() -> None:
    assert price_increment(D("3000"), D("0.01")) == D("0.01")
    assert price_increment(D("3000.5"), None, 5, 6) == D("0.1")          # 5 significant figures
    assert price_increment(D("105000"), None, 5, 6) == D(1)             # integers are always valid
    assert price_increment(D("0.123456789"), None, 5, 6) == D("0.00001")
    assert price_increment(D("0.00123456"), None, 5, 6) == D("0.000001")  # at most 6 decimals
    assert price_increment(D("3000"), None) == 0


def test_window_stats_rms_sigma_and_mean_volume() -> None:
    highs, lows, vols = [D(101), D(102), D(104)], [D(100), D(100), D(100)], [D(10), D(20), D(60)]
    sigma, volume = window_stats(highs, lows, vols, 2, 2)
    s1, s2 = parkinson_sigma(D(102), D(100)), parkinson_sigma(D(104), D(100))
    assert volume == D(40)
    assert abs(sigma - ((s1 * s1 + s2 * s2) / 2).sqrt()) < D("1e-26")
    assert window_stats(highs, lows, vols, 0, 5) == (parkinson_sigma(D(101), D(100)), D(10))  # clipped at the start


amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
positive = st.decimals(min_value="0.01", max_value=10**10, places=2, allow_nan=False, allow_infinity=False)
sigmas = st.decimals(min_value=0, max_value="0.2", places=6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(a=amounts, b=amounts, volume=positive, sigma=sigmas)
def test_rate_grows_with_size_and_stays_within_half_spread_and_cap(a: D, b: D, volume: D, sigma: D) -> None:
    m = ImpactModel(half_spread_bps=D("0.5"), max_bps=D(300))
    lo, hi = sorted((a, b))
    r_lo, r_hi = m.rate(lo, volume, sigma, D("0.00005")), m.rate(hi, volume, sigma, D("0.00005"))
    assert D("0.00005") <= r_lo <= r_hi <= D("0.03")


@settings(max_examples=60, deadline=None)
@given(notional=positive, v1=positive, v2=positive, s1=sigmas, s2=sigmas)
def test_rate_falls_with_volume_and_grows_with_volatility(notional: D, v1: D, v2: D, s1: D, s2: D) -> None:
    m = ImpactModel()
    small_v, big_v = sorted((v1, v2))
    calm, wild = sorted((s1, s2))
    assert m.rate(notional, big_v, wild, D(0)) <= m.rate(notional, small_v, wild, D(0))
    assert m.rate(notional, big_v, calm, D(0)) <= m.rate(notional, big_v, wild, D(0))


def test_model_parameters_are_checked() -> None:
    assert ImpactModel.from_config({"coefficient": "0.7", "window": 3}) == ImpactModel(coefficient=D("0.7"), window=3)
    for bad in ({"coefficient": -1}, {"max_bps": 0}, {"window": 0}, {"window": 1.5}, {"half_spread_bps": "x"},
                {"impact": 1}):
        with pytest.raises(ValueError):
            ImpactModel.from_config(bad)


# -- in the simulator -----------------------------------------------------------------------------------------------
#: two hourly candles of ETH/USDT: the first closes at T0 + 1h, the second at T0 + 2h (much busier)
CANDLES = {"open": [D(3000), D(3000), D(3030)], "high": [D(3000), D(3030), D(3090)],
           "low": [D(3000), D(2985), D(3000)], "close": [D(3000), D(3030), D(3060)],
           "quote_volume": [D(0), D(50_000_000), D(900_000_000)]}


def manager(candles: dict[str, list[D]] | None = None, **binance: object) -> ExecutionInterfaceManager:
    market = DataProvider([Series("spot:ETH/USDT", [T0, T0 + H, T0 + 2 * H], candles or CANDLES)])
    cfg = {"initial_balances": {"binance:spot:USDT": "10000000", "binance:spot:ETH": "1000"},
           "venue_config": {"binance": binance} if binance else {}}
    return ExecutionInterfaceManager(cfg, market, "backtest", autoload=False, plugins=[BinanceVenue])


def buy(m: ExecutionInterfaceManager, at_ns: int, amount: str, side: str = "buy") -> object:
    from basis_core.timeutil import from_ns

    return m.execute(from_ns(at_ns), {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT",
                                      "side": side, "amount": amount})


def expected_rate(high: D, low: D, volume: D, notional: D, ref: D, tick: D = D("0.01"), y: D = D(1)) -> D:
    return sqrt_impact_rate(notional, volume, parkinson_sigma(high, low), tick / (2 * ref), y, D("0.05"))


def test_market_buy_fills_at_the_candle_model_closed_form() -> None:
    d = buy(manager(), T0 + H + 30 * 60 * 10**9, "10")  # half an hour after the first candle closed
    ref = D(3030)
    rate = expected_rate(D(3030), D(2985), D(50_000_000), 10 * ref, ref)
    assert d.fill_price == ref + ref * rate
    assert d.pnl["slippage"] == -(d.fill_price - ref) * 10
    assert D("0.0002") < rate < D("0.0003")  # ~2.3 bp: 1.5% range, 30k of 50M traded


def test_sell_mirrors_the_buy() -> None:
    m = manager()
    d = buy(m, T0 + H, "10", "sell")
    ref = D(3030)
    assert d.fill_price == ref - ref * expected_rate(D(3030), D(2985), D(50_000_000), 10 * ref, ref)


def test_no_look_ahead_the_next_busier_candle_is_not_used() -> None:
    """Until the second candle closes, its volume (18x) cannot lower the cost; from its close it does."""
    before = buy(manager(), T0 + 2 * H - 1, "10")
    after = buy(manager(), T0 + 2 * H, "10")
    assert before.fill_price == D(3030) * (1 + expected_rate(D(3030), D(2985), D(50_000_000), D(30300), D(3030)))
    ref = D(3060)
    assert after.fill_price == ref * (1 + expected_rate(D(3090), D(3000), D(900_000_000), 10 * ref, ref))


def test_config_buckets_and_fallback_without_volume() -> None:
    bucket = buy(manager(slippage_model="buckets"), T0 + H, "10")
    assert bucket.fill_price == D(3030) * (1 + D(7) / 10_000)  # 30,300 USDT: the <=100k bucket, 7 bp
    no_volume = {k: v for k, v in CANDLES.items() if k != "quote_volume"}
    assert buy(manager(no_volume), T0 + H, "10").fill_price == bucket.fill_price


def test_a_candle_without_volume_is_priced_by_the_buckets() -> None:
    """Before the first candle closes only the file's first row (volume 0) is visible: nothing measured."""
    assert buy(manager(), T0, "1").fill_price == D(3000) * (1 + D(5) / 10_000)


def test_config_parameters_reach_the_fill() -> None:
    cfg = {"model": "sqrt_impact", "coefficient": "0.5", "half_spread_bps": 1, "window": 2}
    d = buy(manager(slippage_model=cfg), T0 + 2 * H, "10")
    ref = D(3060)
    sigma, volume = window_stats(CANDLES["high"], CANDLES["low"], CANDLES["quote_volume"], 2, 2)
    assert d.fill_price == ref * (1 + sqrt_impact_rate(10 * ref, volume, sigma, D("0.0001"), D("0.5"), D("0.05")))


@pytest.mark.parametrize("bad", ["linear", {"model": "linear"}, {"coefficient": "-1"}, {"windows": 2}, 5])
def test_bad_model_config_is_a_config_error_naming_the_setting(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"venue_config\.binance\.slippage_model"):
        manager(slippage_model=bad)


def test_default_synthetic_market_has_candle_volume() -> None:
    """The synthetic market carries quote volume, so the default backtest uses the model: 1 ETH costs well
    under the 5 bp of the old first bucket."""
    from basis_core.data.synthetic import synthetic_market

    m = ExecutionInterfaceManager({"initial_balances": {"binance:spot:USDT": "100000"}}, synthetic_market(hours=72),
                                  "backtest", autoload=False, plugins=[BinanceVenue])
    d = m.execute("2025-01-02T00:00:00Z", {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT",
                                           "side": "buy", "amount": "1"})
    ref = d.details["reference_price"]
    assert 0 < (d.fill_price / ref - 1) * 10_000 < 1


# -- calibration on real data -------------------------------------------------------------------------------------
def _candles(pattern: str, volume_col: str) -> tuple[list[int], dict[str, np.ndarray]]:
    """Hourly candles read with the csv module (independently of the project's loaders), stamped at the close."""
    if not DATA.is_dir():
        pytest.skip(f"real market data not found at {DATA}")
    found = sorted(DATA.glob(pattern))
    if not found:
        pytest.skip(f"no {pattern} in {DATA}")
    rows: dict[str, list[str]] = {}
    with found[0].open() as f:
        for r in csv.DictReader(f):
            rows[r["timestamp"]] = [r["high"], r["low"], r["close"], r[volume_col]]
    from basis_core.timeutil import to_ns

    stamps = sorted(rows)
    times = [to_ns(t) + H for t in stamps]
    cols = np.array([[float(x) for x in rows[t]] for t in stamps]).T
    return times, dict(zip(("high", "low", "close", "volume"), cols, strict=True))


FILES = [("binance_ETHUSDT_perp_1h_*.csv", "quote_volume"), ("bybit_ETHUSDT_spot_1h_*.csv", "turnover"),
         ("binance_BTCUSDT_1h_*.csv", "quote_volume")]


@pytest.mark.realdata
@pytest.mark.parametrize(("pattern", "volume_col"), FILES)
def test_calibration_on_real_candles(pattern: str, volume_col: str) -> None:
    """What the model's inputs and defaults rest on, checked on 2024-2025 hourly candles:
    - the candle range measures volatility: RMS Parkinson sigma / close-to-close std within [0.95, 1.15];
    - the cost does not depend on the candle length (square-root law): the median impact of a 100k order on
      4-hour and daily candles made from the hourly ones is within 10 % of the hourly median;
    - the spread is below what hourly candles resolve (Abdi-Ranaldo's estimate under 1 bp), hence the default
      half-spread of half a tick rather than a number from the candles."""
    _t, c = _candles(pattern, volume_col)
    h, lo, close, v = c["high"], c["low"], c["close"], c["volume"]
    assert 0.95 <= volatility_ratio(h, lo, close) <= 1.15
    hourly = float(np.median(impact_bps(h, lo, v, 1e5)))
    for k in (4, 24):
        hk, lk, _ck, vk = aggregate(h, lo, close, v, k)
        assert float(np.median(impact_bps(hk, lk, vk, 1e5))) == pytest.approx(hourly, rel=0.10)
    estimate, _upper = abdi_ranaldo_spread(h, lo, close)
    assert estimate < 1e-4


@pytest.mark.realdata
def test_one_eth_on_real_spot_candles_costs_a_fraction_of_a_basis_point() -> None:
    """1 ETH market buys through the manager on the real Bybit ETH/USDT spot candles (loaded by the project's
    loader, ``turnover`` as quote volume), at 300 times over 2024-2025: every fill equals the model computed here
    from the CSV values, and the median cost is 0.1-2 bp, not the 5 bp the bucket model charged."""
    from basis_core.data.loaders import load_klines
    from basis_core.timeutil import from_ns

    times, c = _candles("bybit_ETHUSDT_spot_1h_*.csv", "turnover")
    path = sorted(DATA.glob("bybit_ETHUSDT_spot_1h_*.csv"))[0]
    market = DataProvider([load_klines(path, "spot:ETH/USDT")])
    m = ExecutionInterfaceManager({"initial_balances": {"binance:spot:USDT": "100000000"}}, market, "backtest",
                                  autoload=False, plugins=[BinanceVenue])
    costs = []
    for i in range(10, len(times), len(times) // 300):
        d = m.execute(from_ns(times[i] + 60 * 10**9), {"venue": "binance", "operation": "spot_trade",
                                                       "symbol": "ETH/USDT", "side": "buy", "amount": "1"})
        ref = float(d.details["reference_price"])
        assert ref == c["close"][i]
        model = float(math.log(c["high"][i] / c["low"][i]) * float(PARKINSON)) * math.sqrt(ref / c["volume"][i])
        rate = float(d.fill_price) / ref - 1
        assert rate == pytest.approx(0.005 / ref + model, rel=1e-9, abs=1.1e-10)  # two roundings to 1e-10
        costs.append(rate * 1e4)
    assert 0.1 < float(np.median(costs)) < 2
