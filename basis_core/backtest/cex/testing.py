"""Hand-made market data for tests and benchmarks of CEX venues (controlled price paths).

``candles(name, start, rows)``: row ``i`` becomes visible at ``start + i x step`` (its close time);
a row is a close price (open = high = low = close) or an ``(open, high, low, close)`` tuple.
``settlements(name, start, rates, every_hours)``: funding rows ``rate`` at ``start + k x every``.
``at(hours)``: the timestamp ``hours`` after :data:`T0` (the tests' usual start).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

import pandas as pd

from basis_core.data.provider import DataProvider
from basis_core.data.series import Series

HOUR_NS = 3_600_000_000_000
#: where the CEX venue tests' hand-made markets usually start
T0 = "2025-01-01T00:00:00Z"

Row = Decimal | int | str | Sequence[Decimal | int | str]


def _ns(start: str | pd.Timestamp) -> int:
    ts = pd.Timestamp(start)
    return int((ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).value)


def at(hours: float, start: str | pd.Timestamp = T0) -> pd.Timestamp:
    """``start`` (default :data:`T0`) plus ``hours``, as a timestamp."""
    return pd.Timestamp(start) + pd.Timedelta(hours=hours)


def candles(name: str, start: str | pd.Timestamp, rows: Iterable[Row], step_hours: int = 1) -> Series:
    """OHLC series ``name`` from ``rows`` (see module docstring)."""
    t0 = _ns(start)
    cols: dict[str, list[Decimal]] = {"open": [], "high": [], "low": [], "close": []}
    times: list[int] = []
    for i, row in enumerate(rows):
        if isinstance(row, Decimal | int | str):
            o = h = lo = c = Decimal(row)
        else:
            o, h, lo, c = (Decimal(x) for x in row)
        for k, v in zip(("open", "high", "low", "close"), (o, h, lo, c), strict=True):
            cols[k].append(v)
        times.append(t0 + i * step_hours * HOUR_NS)
    return Series(name, times, cols)


def settlements(name: str, start: str | pd.Timestamp, rates: Iterable[Decimal | str], every_hours: int) -> Series:
    """Funding series ``name``: ``rate`` rows every ``every_hours`` from ``start``."""
    t0 = _ns(start)
    rs = [Decimal(r) for r in rates]
    return Series(name, [t0 + k * every_hours * HOUR_NS for k in range(len(rs))], {"rate": rs})


def market(*series: Series) -> DataProvider:
    """A DataProvider of the given series."""
    return DataProvider(series, name="test-market")
