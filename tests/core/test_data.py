"""DataProvider: as-of lookups, no look-ahead, typed errors; loaders for the real formats; synthetic market."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from basis_venue_aave.data import load_aave_rates

from basis_core.data import DataProvider, Series, load_data_dir, synthetic_market
from basis_core.data.loaders import load_funding, load_gas, load_klines, load_oracle
from basis_core.errors import ClockError, MarketDataError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not present")
NS = 10**9


def _provider() -> DataProvider:
    t0 = pd.Timestamp("2025-01-01T00:00:00Z").value
    return DataProvider([Series("spot:ETH/USDT", [t0, t0 + 3600 * NS], {"close": [Decimal("100"), Decimal("200")]})])


def test_a_row_one_nanosecond_after_the_timestamp_is_invisible() -> None:
    p = _provider()
    t1 = pd.Timestamp("2025-01-01T01:00:00Z")
    assert p.get_data(t1 - pd.Timedelta(1, "ns")).get("spot:ETH/USDT") == Decimal("100")
    assert p.get_data(t1).get("spot:ETH/USDT") == Decimal("200")


def test_before_the_first_row_is_a_market_data_error() -> None:
    with pytest.raises(MarketDataError):
        _provider().get_data("2024-12-31T23:59:59Z")


def test_a_missing_series_is_a_market_data_error_naming_it() -> None:
    snap = _provider().get_data("2025-01-01T00:30:00Z")
    with pytest.raises(MarketDataError, match="funding:binance"):
        snap.get("funding:binance:ETH/USDT:USDT", "rate")


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ClockError):
        _provider().get_data("2025-01-01T00:30:00")


def test_unsorted_times_are_refused() -> None:
    with pytest.raises(MarketDataError):
        Series("x", [2, 1], {"close": [Decimal(1), Decimal(2)]})


def test_synthetic_market_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = synthetic_market(hours=500), synthetic_market(hours=500), synthetic_market(hours=500, seed=8)
    ts = "2025-01-10T05:00:00Z"
    assert a.get_data(ts).to_dict() == b.get_data(ts).to_dict()
    assert a.get_data(ts).get("spot:ETH/USDT") != c.get_data(ts).get("spot:ETH/USDT")


def test_synthetic_market_has_every_series_the_venues_need() -> None:
    p = synthetic_market(hours=100)
    for name in ("spot:ETH/USDT", "spot:BTC/USDT", "spot:ETH/USDC", "perp:binance:ETH/USDT:USDT",
                 "perp:hyperliquid:ETH/USDC:USDC", "funding:binance:ETH/USDT:USDT",
                 "funding:hyperliquid:ETH/USDC:USDC", "aave:WETH", "aave:wstETH", "aave:USDT", "lst:wstETH",
                 "lst:weETH", "gas", "oracle:ETH/USD"):
        assert p.has(name), name


def test_synthetic_funding_schedules() -> None:
    p = synthetic_market(hours=48)
    hours = {pd.Timestamp(t, tz="UTC").hour for t in p.series("funding:binance:ETH/USDT:USDT").times}
    assert hours == {0, 8, 16}
    assert len(p.series("funding:hyperliquid:ETH/USDC:USDC")) == 48


@needs_data
def test_klines_are_visible_at_their_close_not_their_open() -> None:
    s = load_klines(DATA / "binance_ETHUSDT_perp_1h_2024-01-01_2025-09-26.csv", "perp:binance:ETH/USDT:USDT")
    with open(DATA / "binance_ETHUSDT_perp_1h_2024-01-01_2025-09-26.csv") as f:
        rows = list(csv.DictReader(f))
    first, second = rows[0], rows[1]
    open_ns = pd.Timestamp(first["timestamp"]).value
    assert s.value("close", open_ns) == Decimal(first["open"])          # only the open is known at the open
    assert s.value("close", open_ns + 3600 * NS - 1) == Decimal(first["open"])
    assert s.value("close", open_ns + 3600 * NS) == Decimal(first["close"])
    assert s.value("close", open_ns + 2 * 3600 * NS) == Decimal(second["close"])


@needs_data
def test_funding_aave_oracle_and_gas_loaders_read_exact_values() -> None:
    f = load_funding(DATA / "binance_ETHUSDT_funding_rates_2024-01-01_2025-09-26.csv", "f")
    assert f.value("rate", pd.Timestamp("2024-01-01T08:00:00Z").value) == Decimal("0.00031096")
    a = load_aave_rates(DATA / "aave_v3_aave-v3-ethereum_USDT_rates_2024-01-01_2025-09-18.csv", "aave:USDT")
    assert a.value("liquidity_index", pd.Timestamp("2024-01-01T00:00:00Z").value) == Decimal("1.0361969326346498")
    o = load_oracle(DATA / "wstETH_ETH_oracle_2024-01-01_2025-09-18.csv", "lst:wstETH")
    assert o.value("rate", pd.Timestamp("2024-05-12T01:00:00Z").value) == Decimal("1.1663053369569736")
    g = load_gas(DATA / "ethereum_gas_prices_2024-01-01_2025-09-26.csv")
    assert g.value("base_fee_gwei", pd.Timestamp("2024-01-01T00:00:00Z").value) == Decimal("11.97")


@needs_data
def test_load_data_dir_names_series_by_convention() -> None:
    p = load_data_dir(DATA)
    for name in ("perp:binance:ETH/USDT:USDT", "funding:binance:ETH/USDT:USDT", "spot:ETH/USDT", "aave:WETH",
                 "aave:wstETH", "oracle:ETH/USD", "lst:wstETH", "gas"):
        assert p.has(name), name
    assert p.has("perp:hyperliquid:ETH/USDC:USDC")  # alias to the Binance mark


def test_fill_gaps_takes_the_other_series_rows_inside_a_gap_only() -> None:
    from basis_core.data.loaders import fill_gaps

    h = 3600 * NS
    a = Series("a", [0, h, 5 * h, 6 * h], {"close": [Decimal(1), Decimal(2), Decimal(6), Decimal(7)]})
    b = Series("b", [h * i for i in range(8)], {"close": [Decimal(100 + i) for i in range(8)]})
    f = fill_gaps(a, b)
    assert f.times == [0, h, 2 * h, 3 * h, 4 * h, 5 * h, 6 * h]
    assert f.columns["close"] == [Decimal(x) for x in (1, 2, 102, 103, 104, 6, 7)]


@needs_data
def test_real_binance_eth_perp_has_no_gap_longer_than_an_hour() -> None:
    s = load_data_dir(DATA).series("perp:binance:ETH/USDT:USDT")
    assert max(b - a for a, b in zip(s.times, s.times[1:], strict=False)) <= 3600 * NS
