"""A time series of Decimal columns with O(log n) as-of lookups on a sorted int array."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from decimal import Decimal

from basis_core.errors import MarketDataError
from basis_core.timeutil import from_ns


class Series:
    """Rows at strictly increasing UTC-ns ``times``; each column a list of Decimal (human units).

    A row is visible at ``t`` iff its time is ``<= t`` (no look-ahead). Loaders stamp each row
    with the time its values became known (a candle at its close, not its open).
    """

    __slots__ = ("columns", "first_ns", "last_ns", "name", "times")

    def __init__(self, name: str, times: Sequence[int], columns: Mapping[str, Sequence[Decimal]]) -> None:
        self.name = name
        self.times: list[int] = list(times)
        if not self.times:
            raise MarketDataError(f"series {name!r} is empty")
        for a, b in zip(self.times, self.times[1:], strict=False):
            if b <= a:
                raise MarketDataError(f"series {name!r}: times must be strictly increasing ({from_ns(b)})")
        self.columns: dict[str, list[Decimal]] = {}
        for col, values in columns.items():
            vals = list(values)
            if len(vals) != len(self.times):
                raise MarketDataError(f"series {name!r}: column {col!r} has {len(vals)} rows, not {len(self.times)}")
            self.columns[col] = vals
        self.first_ns = self.times[0]
        self.last_ns = self.times[-1]

    def __len__(self) -> int:
        return len(self.times)

    def __repr__(self) -> str:
        return (f"Series({self.name!r}, rows={len(self.times)}, columns={list(self.columns)}, "
                f"{from_ns(self.first_ns).isoformat()}..{from_ns(self.last_ns).isoformat()})")

    def index_at(self, ts_ns: int) -> int:
        """Index of the last row at or before ``ts_ns``; MarketDataError before the first row."""
        i = bisect_right(self.times, ts_ns) - 1
        if i < 0:
            raise MarketDataError(
                f"series {self.name!r} has no data at or before {from_ns(ts_ns).isoformat()} "
                f"(first row {from_ns(self.first_ns).isoformat()})"
            )
        return i

    def column(self, column: str) -> list[Decimal]:
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
