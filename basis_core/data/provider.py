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

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from basis_core.data.series import Series
from basis_core.errors import ConfigError, MarketDataError
from basis_core.timeutil import from_ns, to_ns

if TYPE_CHECKING:
    import pandas as pd

    from basis_core.data.prices import TokenPrice

#: default ``max_staleness``: a series' last row answers for at most this long after its time
DEFAULT_MAX_STALENESS = timedelta(days=7)
Staleness = timedelta | str | int | None


def staleness_ns(value: Staleness) -> int | None:
    """``max_staleness`` in ns: a timedelta, a pandas offset string (``"36h"``, ``"7D"``), ns, or None (no limit)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"max_staleness: expected a duration, got {value!r}")
    if isinstance(value, int):
        ns = value
    elif isinstance(value, timedelta):
        ns = (value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1000
    else:
        import pandas as pd

        try:
            ns = int(pd.Timedelta(value).value)
        except ValueError as e:
            raise ConfigError(f"max_staleness: {value!r} is not a duration ({e})") from None
    if ns < 0:
        raise ConfigError(f"max_staleness: must not be negative, got {value!r}")
    return ns


class MarketSnapshot:
    """Everything known at ``ts_ns``: a lazy view that looks values up as-of on demand."""

    __slots__ = ("provider", "ts_ns")

    def __init__(self, provider: DataProvider, ts_ns: int) -> None:
        self.provider = provider
        self.ts_ns = ts_ns

    def get(self, series: str, column: str = "close") -> Decimal:
        """As-of value of ``series.column``; MarketDataError if unknown or not yet available."""
        return self.provider.series(series).value(column, self.ts_ns)

    def history(self, key: str, n: int | None = None, since: datetime | str | int | None = None) -> Series:
        """The lookback window of ``key`` ending at the snapshot time (see :meth:`DataProvider.history`)."""
        return self.provider.history(key, n, since, until=self.ts_ns)

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
    """Holds named :class:`Series`; ``get_data(ts)`` returns a :class:`MarketSnapshot`.

    ``max_staleness`` is how long after its last row a series still answers as-of lookups; later lookups
    raise :class:`~basis_core.errors.StaleMarketDataError`. Built from series here it defaults to None (no
    limit: hand-made test markets often hold one row for a whole run); :meth:`from_frames` and
    :func:`~basis_core.data.loaders.load_data_dir` default to :data:`DEFAULT_MAX_STALENESS` (7 days).
    """

    #: token valuation declarations added (:meth:`add_token_prices`), and those in force (computed when asked)
    _added_prices: dict[str, TokenPrice] | None = None
    _token_prices: dict[str, TokenPrice] | None = None

    def __init__(self, series: Iterable[Series] | Mapping[str, Series] = (),
                 aliases: Mapping[str, str] | None = None, name: str = "market",
                 max_staleness: Staleness = None,
                 ambiguous: Mapping[str, Iterable[str]] | None = None) -> None:
        items = series.values() if isinstance(series, Mapping) else series
        #: names that several series could answer (e.g. ``spot:ETH/USDT`` with two venues' spot files):
        #: asking for one is an error naming the candidates, never a silent choice
        self.ambiguous: dict[str, list[str]] = {k: list(v) for k, v in (ambiguous or {}).items()}
        self.max_staleness_ns = staleness_ns(max_staleness)
        self._series: dict[str, Series] = {}
        for s in items:
            s.set_staleness(self.max_staleness_ns)
            self._series[s.name] = s
        self.aliases: dict[str, str] = dict(aliases or {})
        self.name = name
        self.start_ns = min((s.first_ns for s in self._series.values()), default=0)
        self.end_ns = max((s.last_ns for s in self._series.values()), default=0)
        self._row_times: array[int] | None = None

    def token_prices(self) -> dict[str, TokenPrice]:
        """How the tokens venues issue are valued here (:mod:`basis_core.data.prices`): the declarations added with
        :meth:`add_token_prices` (a manager adds its venues'), then those of the installed venues."""
        tp = self._token_prices
        if tp is None:
            from basis_core.data.prices import installed_token_prices

            tp = {**installed_token_prices(), **(self._added_prices or {})}
            self._token_prices = tp
        return tp

    def add_token_prices(self, prices: Mapping[str, TokenPrice]) -> None:
        """Add token valuation declarations (a token already added keeps its first declaration)."""
        added = self._added_prices = dict(self._added_prices or {})
        for token, price in prices.items():
            added.setdefault(token, price)
        self._token_prices = None

    @property
    def fresh_until_ns(self) -> int:
        """The last time at which every series still answers (its last row plus its staleness limit)."""
        return min((s._stale_ns for s in self._series.values()), default=0)

    def row_epoch(self, ts_ns: int) -> int:
        """How many distinct row times of all series are at or before ``ts_ns``: equal at two times exactly when no
        series got a new visible row between them (a snapshot of either then reads the same values)."""
        return bisect_right(self._times_of_rows(), ts_ns)

    def row_epochs(self, ts_ns: Sequence[int]) -> array[int]:
        """:meth:`row_epoch` of each time of ``ts_ns``, in one vectorised pass (a run's step times, taken before its
        loop: the series are not added to meanwhile)."""
        import numpy as np

        times = self._times_of_rows()
        rows = np.frombuffer(times, dtype=np.int64) if len(times) else np.zeros(0, dtype=np.int64)
        at = np.searchsorted(rows, np.asarray(ts_ns, dtype=np.int64), side="right")
        return array("q", at.astype(np.int64).tobytes())

    def _times_of_rows(self) -> array[int]:
        """The distinct row times of all series, ascending (built once per set of series)."""
        times = self._row_times
        if times is None:
            import numpy as np

            merged = np.unique(np.concatenate([np.asarray(s.times, dtype=np.int64) for s in self._series.values()])
                               if self._series else np.zeros(0, dtype=np.int64))
            times = self._row_times = array("q", merged.tobytes())
        return times

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame], *, aliases: Mapping[str, str] | None = None,
                    name: str = "frames", max_staleness: Staleness = DEFAULT_MAX_STALENESS,
                    stamp: str = "index") -> DataProvider:
        """A provider from pandas frames: ``{series name: frame}``, any cadence (1 s, 1 min, 1 h, 1 d).

        Each frame has a timezone-aware DatetimeIndex (or a ``timestamp`` column) and one column per
        series column (``close`` for prices, ``rate`` for funding, ...). Each row is visible from its
        timestamp on (as-of); stamp rows with the time their values became known (a candle at its
        close). Values become exact Decimals (floats through their shortest repr, so ``0.1`` is
        ``Decimal("0.1")``). Example::

            DataProvider.from_frames({"spot:ETH/USDT": df[["close"]]})
        """
        from basis_core.data.frames import series_from_frame

        return cls([series_from_frame(n, f) for n, f in frames.items()], aliases=aliases, name=name,
                   max_staleness=max_staleness)

    def add(self, series: Series) -> None:
        series.set_staleness(self.max_staleness_ns)
        self._series[series.name] = series
        self._row_times = None
        self.start_ns = min(s.first_ns for s in self._series.values())
        self.end_ns = max(s.last_ns for s in self._series.values())

    def find(self, name: str) -> Series | None:
        """The series ``name`` (following aliases) or None; MarketDataError for an ambiguous name."""
        s = self._series.get(name)
        alias, hops = name, 0
        while s is None and alias in self.aliases and hops < 8:  # aliases may chain (USDC pair -> USDT pair -> venue)
            alias, hops = self.aliases[alias], hops + 1
            s = self._series.get(alias)
        if s is None and name in self.ambiguous:
            cands = self.ambiguous[name]
            raise MarketDataError(f"{name!r} is ambiguous: {', '.join(cands)} all have it; name one of them, or "
                                  f"choose with aliases={{{name!r}: {cands[0]!r}}}")
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

    def history(self, key: str, n: int | None = None, since: datetime | str | int | None = None, *,
                until: datetime | str | int | None = None) -> Series:
        """A lookback window of series ``key`` (aliases followed) as a :class:`Series` of its rows.

        :param n: at most the last ``n`` rows (None: no count limit).
        :param since: only rows at or after this time (aware datetime, ISO string or UTC ns).
        :param until: the as-of time (default: the provider's last row); rows later than it are never
            included, so a strategy passes its step time (``snapshot.history(...)`` does that).
        :raises MarketDataError: unknown series, or no row in the window.

        Example: ``provider.history("spot:ETH/USDT", n=24, until=ts).column("close")`` is the last 24
        closes known at ``ts``; ``.to_frame()`` gives a pandas frame.
        """
        s = self.series(key)
        until_ns = self.end_ns if until is None else (until if type(until) is int else to_ns(until))  # type: ignore[arg-type]
        since_ns = None if since is None else (since if type(since) is int else to_ns(since))  # type: ignore[arg-type]
        return s.window(until_ns, n, since_ns)
