"""DataProvider: named series, as-of snapshots, no look-ahead.

Series names (the convention loaders, the synthetic market and venues share):
- ``spot:ETH/USDT`` (or venue-specific ``spot:binance:ETH/USDT``): open/high/low/close
- ``perp:<venue>:<symbol>``: perp mark candles open/high/low/close, e.g. ``perp:binance:ETH/USDT:USDT``
- ``funding:<venue>:<symbol>``: ``rate`` at each settlement time (positive: longs pay shorts)
- ``aave:<asset>``: liquidity_index, variable_borrow_index (normalised, ~1.0), liquidity_rate,
  variable_borrow_rate (APR decimals), price (USD)
- ``oracle:ETH/USD``: ``price``; ``lst:wstETH`` / ``lst:weETH``: ``rate`` (ETH per token)
- ``gas``: base_fee_gwei, priority_fee_gwei, gas_price_gwei
Aliases map a missing name to another (e.g. a Hyperliquid mark proxied by Binance's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from basis_core.data.series import Series
from basis_core.errors import MarketDataError
from basis_core.timeutil import from_ns, to_ns


class MarketSnapshot:
    """Everything known at ``ts_ns``: a lazy view that looks values up as-of on demand."""

    __slots__ = ("provider", "ts_ns")

    def __init__(self, provider: DataProvider, ts_ns: int) -> None:
        self.provider = provider
        self.ts_ns = ts_ns

    def get(self, series: str, column: str = "close") -> Decimal:
        """As-of value of ``series.column``; MarketDataError if unknown or not yet available."""
        return self.provider.series(series).value(column, self.ts_ns)

    def __getitem__(self, name: str) -> Decimal:
        series, _, column = name.partition(".")
        return self.get(series, column or "close")

    def has(self, series: str) -> bool:
        """True if ``series`` exists and has a row at or before the snapshot time."""
        s = self.provider.find(series)
        return s is not None and s.first_ns <= self.ts_ns

    def row(self, series: str) -> dict[str, Decimal]:
        return self.provider.series(series).row(self.ts_ns)

    def to_dict(self) -> dict[str, dict[str, Decimal]]:
        """Materialise the snapshot: every series with a visible row."""
        return {n: s.row(self.ts_ns) for n, s in self.provider.items() if s.first_ns <= self.ts_ns}

    @property
    def timestamp(self) -> datetime:
        return from_ns(self.ts_ns)


class DataProvider:
    """Holds named :class:`Series`; ``get_data(ts)`` returns a :class:`MarketSnapshot`."""

    def __init__(self, series: Iterable[Series] | Mapping[str, Series] = (),
                 aliases: Mapping[str, str] | None = None, name: str = "market") -> None:
        items = series.values() if isinstance(series, Mapping) else series
        self._series: dict[str, Series] = {s.name: s for s in items}
        self.aliases: dict[str, str] = dict(aliases or {})
        self.name = name
        self.start_ns = min((s.first_ns for s in self._series.values()), default=0)
        self.end_ns = max((s.last_ns for s in self._series.values()), default=0)

    def add(self, series: Series) -> None:
        self._series[series.name] = series
        self.start_ns = min(s.first_ns for s in self._series.values())
        self.end_ns = max(s.last_ns for s in self._series.values())

    def find(self, name: str) -> Series | None:
        s = self._series.get(name)
        if s is None and name in self.aliases:
            s = self._series.get(self.aliases[name])
        return s

    def series(self, name: str) -> Series:
        """The series ``name`` (following aliases); MarketDataError if it does not exist."""
        s = self._series.get(name)
        if s is None:
            s = self.find(name)
            if s is None:
                raise MarketDataError(f"no market data series {name!r}; available: {', '.join(sorted(self._series))}")
        return s

    def has(self, name: str) -> bool:
        return self.find(name) is not None

    def names(self) -> list[str]:
        return sorted(self._series)

    def items(self) -> Iterable[tuple[str, Series]]:
        return self._series.items()

    def get_data(self, timestamp: datetime | str | int) -> MarketSnapshot:
        """Snapshot of everything known at or before ``timestamp`` (aware datetime, ISO string or UTC ns).

        Raises MarketDataError for a timestamp before the first row of every series.
        """
        ts_ns = timestamp if type(timestamp) is int else to_ns(timestamp)  # type: ignore[arg-type]
        if ts_ns < self.start_ns or not self._series:
            raise MarketDataError(
                f"no market data at or before {from_ns(ts_ns).isoformat()}"
                + (f" (first row {from_ns(self.start_ns).isoformat()})" if self._series else "")
            )
        return MarketSnapshot(self, ts_ns)

    def value(self, series: str, column: str, ts_ns: int) -> Decimal:
        """As-of value without building a snapshot."""
        return self.series(series).value(column, ts_ns)
