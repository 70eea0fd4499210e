"""The user-facing data API: ``DataProvider.from_frames`` at any cadence, ``history`` lookback windows without
look-ahead, and a typed error past a series' staleness limit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest

from basis_core.data import DataProvider, Series
from basis_core.data.series import FixedColumn
from basis_core.errors import ConfigError, MarketDataError, StaleMarketDataError


def _frame(freq: str, n: int = 10) -> pd.DataFrame:
    idx = pd.date_range("2025-01-01", periods=n, freq=freq, tz="UTC")
    return pd.DataFrame({"close": [100 + i + 0.1 for i in range(n)]}, index=idx)


@pytest.mark.parametrize("freq", ["1s", "1min", "1h", "1D"])
def test_from_frames_any_cadence_is_as_of(freq: str) -> None:
    p = DataProvider.from_frames({"spot:ETH/USDT": _frame(freq)})
    step = pd.Timedelta(freq)
    t3 = pd.Timestamp("2025-01-01T00:00:00Z") + 3 * step
    assert p.get_data(t3).get("spot:ETH/USDT") == Decimal("103.1")
    assert p.get_data(t3 - pd.Timedelta(1, "ns")).get("spot:ETH/USDT") == Decimal("102.1")
    assert p.get_data(t3 + step / 2).get("spot:ETH/USDT") == Decimal("103.1")


def test_from_frames_keeps_decimals_exact_and_takes_a_timestamp_column() -> None:
    df = pd.DataFrame({"timestamp": pd.to_datetime(["2025-01-01T01:00Z", "2025-01-01T00:00Z"]),
                       "rate": [Decimal("0.00010000001"), Decimal("-0.0002")]})
    p = DataProvider.from_frames({"funding:x:ETH/USDT:USDT": df})
    s = p.series("funding:x:ETH/USDT:USDT")
    assert list(s.column("rate")) == [Decimal("-0.0002"), Decimal("0.00010000001")]  # sorted by time


def test_from_frames_refuses_naive_timestamps_and_nan() -> None:
    naive = pd.DataFrame({"close": [1.0]}, index=pd.DatetimeIndex(["2025-01-01"]))
    with pytest.raises(MarketDataError, match="timezone"):
        DataProvider.from_frames({"spot:ETH/USDT": naive})
    nan = _frame("1h", 2)
    nan.iloc[0, 0] = float("nan")
    with pytest.raises(MarketDataError, match=r"spot:ETH/USDT\.close.*NaN"):
        DataProvider.from_frames({"spot:ETH/USDT": nan})


def test_history_returns_the_last_n_rows_known_at_the_time_never_later() -> None:
    p = DataProvider.from_frames({"spot:ETH/USDT": _frame("1h", 48)})
    ts = pd.Timestamp("2025-01-01T10:30:00Z")
    w = p.get_data(ts).history("spot:ETH/USDT", n=3)
    assert [str(v) for v in w.column("close")] == ["108.1", "109.1", "110.1"]
    assert w.last_ns <= ts.value
    assert p.history("spot:ETH/USDT", n=3, until=ts).times == w.times


def test_history_since_and_n_combine() -> None:
    p = DataProvider.from_frames({"spot:ETH/USDT": _frame("1h", 48)})
    until = "2025-01-01T10:00:00Z"
    assert len(p.history("spot:ETH/USDT", since="2025-01-01T05:00:00Z", until=until)) == 6
    assert len(p.history("spot:ETH/USDT", n=2, since="2025-01-01T05:00:00Z", until=until)) == 2
    assert len(p.history("spot:ETH/USDT")) == 48  # no until: up to the provider's last row
    frame = p.history("spot:ETH/USDT", n=2, until=until).to_frame()
    assert list(frame["close"]) == [Decimal("109.1"), Decimal("110.1")]


def test_history_before_any_row_or_with_a_bad_n_is_a_market_data_error() -> None:
    p = DataProvider.from_frames({"spot:ETH/USDT": _frame("1h")})
    with pytest.raises(MarketDataError, match="no data at or before"):
        p.history("spot:ETH/USDT", n=5, until="2024-12-31T00:00:00Z")
    with pytest.raises(MarketDataError, match="n must be >= 1"):
        p.history("spot:ETH/USDT", n=0)
    with pytest.raises(MarketDataError, match="no rows between"):
        p.history("spot:ETH/USDT", since="2025-01-01T05:00:00Z", until="2025-01-01T04:00:00Z")


def test_past_the_staleness_limit_is_a_typed_error_not_a_stale_price() -> None:
    p = DataProvider.from_frames({"spot:ETH/USDT": _frame("1h")}, max_staleness="2h")
    last = p.series("spot:ETH/USDT").last_ns
    assert p.get_data(last + 2 * 3_600_000_000_000).get("spot:ETH/USDT") == Decimal("109.1")
    with pytest.raises(StaleMarketDataError, match="spot:ETH/USDT"):
        p.get_data(last + 2 * 3_600_000_000_000 + 1).get("spot:ETH/USDT")


def test_the_default_staleness_of_frames_is_a_week_and_none_lifts_it() -> None:
    years_later = "2028-01-01T00:00:00Z"
    with pytest.raises(StaleMarketDataError):
        DataProvider.from_frames({"spot:ETH/USDT": _frame("1h")}).get_data(years_later).get("spot:ETH/USDT")
    p = DataProvider.from_frames({"spot:ETH/USDT": _frame("1h")}, max_staleness=None)
    assert p.get_data(years_later).get("spot:ETH/USDT") == Decimal("109.1")
    assert DataProvider(max_staleness=timedelta(hours=1)).max_staleness_ns == 3_600_000_000_000


def test_a_bad_staleness_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_staleness"):
        DataProvider(max_staleness="soon")
    with pytest.raises(ConfigError, match="max_staleness"):
        DataProvider(max_staleness=-1)


def test_fixed_columns_are_exact_and_compact() -> None:
    col = FixedColumn([345678, -1, 0], 2)
    assert list(col) == [Decimal("3456.78"), Decimal("-0.01"), Decimal("0")]
    assert col.units.itemsize == 8
    s = Series("x", [1, 2, 3], {"close": col})
    assert s.value("close", 2) == Decimal("-0.01")
    assert list(s.window(3, n=2).column("close")) == [Decimal("-0.01"), Decimal("0.00")]
