"""A time series of Decimal columns with O(log n) as-of lookups on a sorted int array.

Columns are sequences of :class:`~decimal.Decimal`: a plain list, or a :class:`FixedColumn` (exact
fixed-point integers in a compact array, e.g. a year of 1-minute candles) that yields Decimals on indexing.
"""

from __future__ import annotations

import itertools
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, overload

from basis_core.errors import MarketDataError, StaleMarketDataError
from basis_core.timeutil import from_ns

if TYPE_CHECKING:
    import pandas as pd

#: no staleness limit
NEVER_STALE = 2**63 - 1


class FixedColumn(Sequence[Decimal]):
    """Exact decimals stored as int64 ``units`` scaled by ``10**-places`` (8 bytes a row, not ~100).

    ``column[i]`` is ``Decimal(units[i]).scaleb(-places)``, e.g. units 345678 at places 2 is ``3456.78``.
    """

    __slots__ = ("_exp", "places", "units")

    def __init__(self, units: array[int] | Sequence[int], places: int) -> None:
        self.units: array[int] = units if isinstance(units, array) else array("q", units)
        self.places = places
        self._exp = -places

    def __len__(self) -> int:
        return len(self.units)

    @overload
    def __getitem__(self, i: int) -> Decimal: ...
    @overload
    def __getitem__(self, i: slice) -> FixedColumn: ...
    def __getitem__(self, i: int | slice) -> Decimal | FixedColumn:
        if isinstance(i, slice):
            return FixedColumn(self.units[i], self.places)
        return Decimal(self.units[i]).scaleb(self._exp)

    def __iter__(self) -> Iterator[Decimal]:
        e = self._exp
        return (Decimal(u).scaleb(e) for u in self.units)

    def __repr__(self) -> str:
        return f"FixedColumn(rows={len(self.units)}, places={self.places})"


def _column(values: Sequence[Decimal]) -> Sequence[Decimal]:
    return values if isinstance(values, FixedColumn) else list(values)


class Series:
    """Rows at strictly increasing UTC-ns ``times``; each column a sequence of Decimal (human units).

    A row is visible at ``t`` iff its time is ``<= t`` (no look-ahead). Loaders stamp each row
    with the time its values became known (a candle at its close, not its open). The last row stays
    the as-of value for ``max_staleness_ns`` after it; later, a lookup raises
    :class:`~basis_core.errors.StaleMarketDataError` (the provider sets the limit, default: none).
    """

    __slots__ = ("_stale_ns", "columns", "first_ns", "last_ns", "max_staleness_ns", "name", "times")

    def __init__(self, name: str, times: Sequence[int], columns: Mapping[str, Sequence[Decimal]],
                 *, max_staleness_ns: int | None = None) -> None:
        self.name = name
        self.times: Sequence[int] = times if isinstance(times, array) else list(times)
        if not len(self.times):
            raise MarketDataError(f"series {name!r} is empty")
        self._check_increasing()
        self.columns: dict[str, Sequence[Decimal]] = {}
        for col, values in columns.items():
            vals = _column(values)
            if len(vals) != len(self.times):
                raise MarketDataError(f"series {name!r}: column {col!r} has {len(vals)} rows, not {len(self.times)}")
            self.columns[col] = vals
        self.first_ns = self.times[0]
        self.last_ns = self.times[-1]
        self.max_staleness_ns = NEVER_STALE
        self._stale_ns = NEVER_STALE
        self.set_staleness(max_staleness_ns)

    def _check_increasing(self) -> None:
        t = self.times
        if len(t) > 1000:
            import numpy as np

            a = np.asarray(t, dtype=np.int64)
            bad = np.flatnonzero(a[1:] <= a[:-1])
            if len(bad):
                raise MarketDataError(f"series {self.name!r}: times must be strictly increasing "
                                      f"({from_ns(int(a[bad[0] + 1]))})")
            return
        for a_, b in itertools.pairwise(t):
            if b <= a_:
                raise MarketDataError(f"series {self.name!r}: times must be strictly increasing ({from_ns(b)})")

    def set_staleness(self, max_staleness_ns: int | None) -> None:
        """Allow the last row to answer for ``max_staleness_ns`` after its time (None: forever)."""
        self.max_staleness_ns = NEVER_STALE if max_staleness_ns is None else int(max_staleness_ns)
        self._stale_ns = min(self.last_ns + self.max_staleness_ns, NEVER_STALE)

    def __len__(self) -> int:
        return len(self.times)

    def __repr__(self) -> str:
        return (f"Series({self.name!r}, rows={len(self.times)}, columns={list(self.columns)}, "
                f"{from_ns(self.first_ns).isoformat()}..{from_ns(self.last_ns).isoformat()})")

    def index_at(self, ts_ns: int) -> int:
        """Index of the last row at or before ``ts_ns``.

        Raises MarketDataError before the first row and StaleMarketDataError more than the staleness
        limit after the last row.
        """
        if ts_ns > self._stale_ns:
            raise StaleMarketDataError(
                f"series {self.name!r} ends at {from_ns(self.last_ns).isoformat()}; "
                f"{from_ns(ts_ns).isoformat()} is more than {self.max_staleness_ns / 3.6e12:g} h later "
                "(the last row is too stale to use; extend the data or raise max_staleness)", key=self.name,
                age_seconds=(ts_ns - self.last_ns) / 1e9)
        i = bisect_right(self.times, ts_ns) - 1
        if i < 0:
            raise MarketDataError(
                f"series {self.name!r} has no data at or before {from_ns(ts_ns).isoformat()} "
                f"(first row {from_ns(self.first_ns).isoformat()})"
            )
        return i

    def column(self, column: str) -> Sequence[Decimal]:
        try:
            return self.columns[column]
        except KeyError:
            raise MarketDataError(f"series {self.name!r} has no column {column!r} "
                                  f"(has {', '.join(self.columns)})") from None

    def value(self, column: str, ts_ns: int) -> Decimal:
        """The as-of value of ``column`` at ``ts_ns``."""
        return self.column(column)[self.index_at(ts_ns)]

    def time_at(self, ts_ns: int) -> int:
        """Time of the as-of row at ``ts_ns``."""
        return self.times[self.index_at(ts_ns)]

    def row(self, ts_ns: int) -> dict[str, Decimal]:
        i = self.index_at(ts_ns)
        return {c: v[i] for c, v in self.columns.items()}

    def range_between(self, after_ns: int, until_ns: int) -> range:
        """Indices of rows with ``after_ns < time <= until_ns`` (e.g. settlements crossed by a step)."""
        return range(bisect_right(self.times, after_ns), bisect_right(self.times, until_ns))

    def range_from(self, from_ns_inclusive: int, until_ns: int) -> range:
        """Indices of rows with ``from_ns <= time <= until_ns``."""
        return range(bisect_left(self.times, from_ns_inclusive), bisect_right(self.times, until_ns))

    # -- lookback windows ---------------------------------------------------------------------------
    def window(self, until_ns: int, n: int | None = None, since_ns: int | None = None) -> Series:
        """The rows visible at ``until_ns`` (time <= until_ns): the last ``n`` of them, and / or those at
        or after ``since_ns``. Never a row later than ``until_ns`` (no look-ahead).

        Raises MarketDataError if no row qualifies (e.g. ``until_ns`` is before the first row) and
        StaleMarketDataError past the staleness limit, like :meth:`index_at`.
        """
        if n is not None and n < 1:
            raise MarketDataError(f"history of {self.name!r}: n must be >= 1, got {n}")
        end = self.index_at(until_ns) + 1
        start = 0 if since_ns is None else bisect_left(self.times, since_ns)
        if n is not None:
            start = max(start, end - n)
        if start >= end:
            raise MarketDataError(f"history of {self.name!r}: no rows between {from_ns(since_ns or 0).isoformat()} "
                                  f"and {from_ns(until_ns).isoformat()}")
        return self.slice(start, end)

    def slice(self, start: int, end: int) -> Series:
        """Rows ``start:end`` as a new series (same name and staleness)."""
        cols = {c: v[start:end] for c, v in self.columns.items()}
        out = Series.__new__(Series)
        out.name = self.name
        out.times = self.times[start:end]
        out.columns = cols  # type: ignore[assignment]
        out.first_ns, out.last_ns = out.times[0], out.times[-1]
        out.set_staleness(self.max_staleness_ns)
        return out

    def to_frame(self) -> pd.DataFrame:
        """A pandas frame indexed by UTC timestamps, one Decimal (object) column per series column."""
        import pandas as pd

        idx = pd.to_datetime(list(self.times), utc=True, unit="ns")
        return pd.DataFrame({c: list(v) for c, v in self.columns.items()}, index=idx)
