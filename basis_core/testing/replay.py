"""Replayed markets for the venue emulators: prices, marks and a funding schedule from a file, on a fast clock.

An emulator with a replay attached serves the path's values instead of fixed prices:

- :class:`ReplayClock`: ``market time = start + (wall - t0) * speed`` (``speed`` 3600: one hour of the path per
  second); it can be paused, resumed, re-sped and moved (``seek``) for tests;
- :class:`MarketReplay`: the feeds an emulator follows (a price / mark series per instrument, a funding series
  per perpetual) and :meth:`MarketReplay.advance`, the path's events since the last call in time order: every
  row a feed crossed (``price``) and every funding settlement (``funding``, rate from the file). Emulators apply
  the events one by one (resting orders fill at the prices they cross, funding is booked at the mark of its
  settlement time), so what happens does not depend on how often they are asked;
- :func:`load_replay`: a :class:`~basis_core.data.provider.DataProvider` from files: a market CSV written by
  :func:`write_market_csv` (e.g. of :func:`~basis_core.data.synthetic.synthetic_market`), a directory of real
  data files (``../shared/data``: Binance / Bybit klines, funding CSVs) or single files recognised by their
  names, or ``"synthetic"`` (the seeded synthetic market).

Times: market values follow the path's time; everything a venue stamps (server time, order and fill times,
funding rows) stays on the wall clock, so a client sees a venue of *now* whose market moves fast. A funding
settlement is stamped with the wall time at which the clock reached it (:meth:`ReplayClock.wall_at`). After
the path's end the last values hold and no more funding settles.
"""

from __future__ import annotations

import csv
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from basis_core.data.provider import DataProvider, Staleness, staleness_ns
from basis_core.data.series import Series
from basis_core.errors import MarketDataError
from basis_core.timeutil import from_ns, to_ns

__all__ = [
    "Feed",
    "FundingPrediction",
    "MarketReplay",
    "ReplayClock",
    "ReplayEvent",
    "bound_like_a_feed",
    "load_replay",
    "read_market_csv",
    "row_spacing_ns",
    "write_market_csv",
]

_NS = 1_000_000_000
MARKET_CSV_HEADER = ("time", "series", "column", "value")


class ReplayClock:
    """``market_ns = anchor_ns + (wall - anchor_wall) * speed``: the path's clock, ``speed`` times the wall's.

    ``wall`` returns epoch seconds (default :func:`time.time`). Thread-safe.
    """

    def __init__(self, start: int | str, speed: float = 1.0, *, wall: Callable[[], float] = time.time) -> None:
        if not speed >= 0:
            raise ValueError(f"speed must be >= 0, got {speed!r}")
        self._wall = wall
        self._lock = threading.Lock()
        self._anchor_ns = start if isinstance(start, int) else to_ns(start)
        self.start_ns = self._anchor_ns  #: the market time it started at
        self._anchor_wall = wall()
        self._speed = float(speed)
        self._paused = False

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    def now_ns(self) -> int:
        """The market time now (UTC ns)."""
        with self._lock:
            return self._now_locked(self._wall())

    def _now_locked(self, wall: float) -> int:
        if self._paused:
            return self._anchor_ns
        return self._anchor_ns + int((wall - self._anchor_wall) * self._speed * _NS)

    def _rebase(self, market_ns: int, wall: float) -> None:
        self._anchor_ns, self._anchor_wall = market_ns, wall

    def pause(self) -> int:
        """Stop the clock; returns the market time it stopped at."""
        with self._lock:
            w = self._wall()
            self._rebase(self._now_locked(w), w)
            self._paused = True
            return self._anchor_ns

    def resume(self) -> None:
        """Run again from where it stopped."""
        with self._lock:
            self._anchor_wall = self._wall()
            self._paused = False

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on (the market time does not jump)."""
        if not speed >= 0:
            raise ValueError(f"speed must be >= 0, got {speed!r}")
        with self._lock:
            w = self._wall()
            self._rebase(self._now_locked(w), w)
            self._speed = float(speed)

    def seek(self, market: int | str) -> None:
        """Move the market time to ``market`` (UTC ns or ISO text); the clock keeps running (or paused)."""
        with self._lock:
            self._rebase(market if isinstance(market, int) else to_ns(market), self._wall())

    def wall_at(self, market_ns: int) -> float:
        """Epoch seconds at which the clock reaches (or reached) ``market_ns`` at its current speed; a paused or
        stopped clock answers the wall time now."""
        with self._lock:
            if self._paused or self._speed == 0:
                return self._wall()
            return self._anchor_wall + (market_ns - self._anchor_ns) / _NS / self._speed


@dataclass(frozen=True)
class Feed:
    """One value an emulator follows: ``key`` (the emulator's name for the instrument), ``kind`` (``price`` for a
    price or mark, ``funding`` for a settlement schedule), the series and its column."""

    key: str
    kind: Literal["price", "funding"]
    series: Series
    column: str

    def value_at(self, ts_ns: int) -> Decimal | None:
        """The as-of value at ``ts_ns`` (the last row's after the end), None before the first row."""
        i = bisect_right(self.series.times, ts_ns) - 1
        return None if i < 0 else self.series.columns[self.column][i]


@dataclass(frozen=True)
class ReplayEvent:
    """Something the path did at market time ``time_ns``: a new ``price`` of ``key``, or a ``funding``
    settlement of ``key`` at ``value`` (the rate; positive: longs pay shorts)."""

    time_ns: int
    kind: Literal["price", "funding"]
    key: str
    value: Decimal


#: how an emulator announces the rate of the next settlement (:meth:`MarketReplay.predicted_funding`)
FundingPrediction = Literal["exact", "converging"]


class MarketReplay:
    """The feeds of one emulator on one clock (see the module docstring). Not thread-safe: the emulator calls
    :meth:`advance` under its own lock. ``funding_prediction``: the rate an emulator announces for the next
    settlement, ``"exact"`` (the file's rate, default) or ``"converging"`` (as a venue's predicted rate moves:
    from the last settled rate to the file's rate as the interval elapses; it settles at the file's rate)."""

    def __init__(self, feeds: Iterable[Feed], clock: ReplayClock,
                 funding_prediction: FundingPrediction = "exact") -> None:
        self.feeds: list[Feed] = list(feeds)
        if not self.feeds:
            raise MarketDataError("a market replay needs at least one feed")
        if funding_prediction not in ("exact", "converging"):
            raise ValueError(f"funding_prediction: 'exact' or 'converging', got {funding_prediction!r}")
        self.funding_prediction: FundingPrediction = funding_prediction
        self.clock = clock
        self.end_ns = max(f.series.last_ns for f in self.feeds)
        self._cursor_ns: int | None = None  # market time up to which events were handed out

    def __repr__(self) -> str:
        keys = ", ".join(f"{f.kind}:{f.key}<-{f.series.name}" for f in self.feeds)
        return f"MarketReplay({keys}; speed {self.clock.speed:g}, ends {from_ns(self.end_ns).isoformat()})"

    @property
    def cursor_ns(self) -> int | None:
        """Market time of the last :meth:`advance` (None before the first)."""
        return self._cursor_ns

    @property
    def finished(self) -> bool:
        """Whether the clock has passed the end of every feed."""
        return self.clock.now_ns() > self.end_ns

    def price(self, key: str, ts_ns: int | None = None) -> Decimal | None:
        """The as-of value of the price feed ``key`` at ``ts_ns`` (default: the last advance)."""
        t = self._cursor_ns if ts_ns is None else ts_ns
        for f in self.feeds:
            if f.kind == "price" and f.key == key and t is not None:
                return f.value_at(t)
        return None

    def next_funding(self, key: str) -> tuple[int, Decimal] | None:
        """``(market time, rate)`` of the next settlement of ``key`` after the last advance, or None."""
        t = self._cursor_ns if self._cursor_ns is not None else self.clock.now_ns()
        for f in self.feeds:
            if f.kind == "funding" and f.key == key:
                i = bisect_right(f.series.times, t)
                if i < len(f.series.times):
                    return f.series.times[i], f.series.columns[f.column][i]
        return None

    def predicted_funding(self, key: str) -> tuple[int, Decimal] | None:
        """``(market time, rate announced now)`` of the next settlement of ``key``, or None: the file's rate
        (``exact``), or (``converging``) ``last + (next - last) x elapsed / interval`` between the last settlement
        and the next (the file's rate when there is no earlier one), rounded to 1e-8 as venues announce it."""
        nxt = self.next_funding(key)
        if nxt is None or self.funding_prediction == "exact":
            return nxt
        t = self._cursor_ns if self._cursor_ns is not None else self.clock.now_ns()
        f = next(f for f in self.feeds if f.kind == "funding" and f.key == key)
        i = bisect_right(f.series.times, t) - 1
        if i < 0:
            return nxt
        t0, last = f.series.times[i], f.series.columns[f.column][i]
        share = Decimal(t - t0) / Decimal(nxt[0] - t0)
        return nxt[0], (last + (nxt[1] - last) * share).quantize(Decimal("1e-8"))

    def advance(self) -> list[ReplayEvent]:
        """The events between the last call and now, oldest first (prices before a settlement at the same time).

        The first call (and a call after the clock moved backwards) hands out each price feed's as-of value
        now, and no settlement."""
        now = min(self.clock.now_ns(), self.end_ns)
        last = self._cursor_ns
        events: list[ReplayEvent] = []
        if last is None or now < last:
            for f in self.feeds:
                v = f.value_at(now) if f.kind == "price" else None
                if v is not None:
                    events.append(ReplayEvent(now, "price", f.key, v))
            self._cursor_ns = now
            return events
        if now == last:
            return events
        for f in self.feeds:
            col = f.series.columns[f.column]
            for i in f.series.range_between(last, now):
                events.append(ReplayEvent(f.series.times[i], f.kind, f.key, col[i]))
        events.sort(key=lambda e: (e.time_ns, e.kind != "price"))
        self._cursor_ns = now
        return events


def book_funding_until(manager: Any, emulator: Any, clock: ReplayClock, timestamp: Any, settlements: int = 3,
                       timeout_s: float = 60.0) -> list[Any]:
    """Test helper: resume the (paused) replay ``clock`` until ``emulator`` has settled ``settlements`` fundings
    (each ``manager.advance_to(timestamp)`` is a venue request, which moves the replayed market on) or
    ``timeout_s`` passed, pause it again, and return the ``funding`` deltas the manager reported meanwhile (one
    more ``advance_to`` after the pause included)."""
    clock.resume()
    booked: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(emulator.funding_settlements) < settlements and time.monotonic() < deadline:
        booked += [d for d in manager.advance_to(timestamp) if d.operation == "funding"]
    clock.pause()
    booked += [d for d in manager.advance_to(timestamp) if d.operation == "funding"]
    return booked


# ---------------------------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------------------------
def write_market_csv(provider: DataProvider, path: str | Path, series: Sequence[str] | None = None,
                     start: int | str | None = None, end: int | str | None = None) -> Path:
    """Write ``series`` (default: all) of ``provider`` between ``start`` and ``end`` (inclusive) as a market CSV:
    one row per value, ``time`` (ISO UTC), ``series``, ``column``, ``value`` (exact decimal text).
    :func:`read_market_csv` reads it back exactly."""
    lo = None if start is None else (start if isinstance(start, int) else to_ns(start))
    hi = None if end is None else (end if isinstance(end, int) else to_ns(end))
    out = Path(path)
    names = list(series) if series is not None else provider.names()
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(MARKET_CSV_HEADER)
        for name in names:
            s = provider.series(name)
            for i, t in enumerate(s.times):
                if (lo is not None and t < lo) or (hi is not None and t > hi):
                    continue
                stamp = from_ns(t).isoformat().replace("+00:00", "Z")
                for col, values in s.columns.items():
                    w.writerow((stamp, name, col, format(values[i], "f")))
    return out


def read_market_csv(path: str | Path) -> DataProvider:
    """A :class:`DataProvider` from a market CSV (:func:`write_market_csv`); values are exact Decimals."""
    p = Path(path)
    rows: dict[str, dict[int, dict[str, Decimal]]] = {}
    try:
        with p.open(newline="") as fh:
            r = csv.reader(fh)
            header = next(r, None)
            if header is None or tuple(h.strip() for h in header) != MARKET_CSV_HEADER:
                raise MarketDataError(f"{p}: not a market CSV (header {header!r}, expected "
                                      f"{','.join(MARKET_CSV_HEADER)})")
            for n, rec in enumerate(r, start=2):
                if len(rec) != 4:
                    raise MarketDataError(f"{p}:{n}: expected 4 fields, got {len(rec)}")
                t, name, col, val = rec
                rows.setdefault(name, {}).setdefault(to_ns(t), {})[col] = Decimal(val)
    except (OSError, ValueError, ArithmeticError) as e:
        raise MarketDataError(f"cannot read {p}: {e}") from None
    series = []
    for name, by_time in rows.items():
        times = sorted(by_time)
        cols = sorted({c for v in by_time.values() for c in v})
        missing = [(t, c) for t in times for c in cols if c not in by_time[t]]
        if missing:
            raise MarketDataError(f"{p}: series {name!r} has no {missing[0][1]!r} at {from_ns(missing[0][0])}")
        series.append(Series(name, times, {c: [by_time[t][c] for t in times] for c in cols}))
    if not series:
        raise MarketDataError(f"{p}: no rows")
    return DataProvider(series, name=str(p), max_staleness=None)


def _merge(providers: Sequence[DataProvider]) -> DataProvider:
    out: dict[str, Series] = {}
    aliases: dict[str, str] = {}
    for pr in providers:
        for name, s in pr.items():
            out.setdefault(name, s)
        aliases.update({k: v for k, v in pr.aliases.items() if k not in aliases})
    return DataProvider(out, aliases={k: v for k, v in aliases.items() if k not in out},
                        name="+".join(pr.name for pr in providers), max_staleness=None)


def load_replay(sources: str | Path | Sequence[str | Path], *, max_age: Staleness = None) -> DataProvider:
    """The market of one or more replay sources (merged; an earlier source wins a name clash):

    - ``"synthetic"``: the seeded synthetic market (:func:`~basis_core.data.synthetic.synthetic_market`);
    - a market CSV (header ``time,series,column,value``; :func:`write_market_csv`);
    - a directory of real data files (:func:`~basis_core.data.loaders.load_data_dir`);
    - a real data file recognised by its name (e.g. ``binance_ETHUSDT_perp_1h_....csv``,
      ``binance_ETHUSDT_funding_rates_....csv``).

    ``max_age`` (``"60s"``, a timedelta, ns; None: no bound) makes the replayed data go stale as live reads do
    (``basis run --data FILE --max-age``): see :func:`bound_like_a_feed`.

    Raises :class:`~basis_core.errors.MarketDataError` for a source it cannot read.
    """
    from basis_core.data import loaders

    items: list[str | Path] = [sources] if isinstance(sources, str | Path) else list(sources)
    if not items:
        raise MarketDataError("no replay source given")
    providers: list[DataProvider] = []
    for src in items:
        if str(src) == "synthetic":
            from basis_core.data.synthetic import synthetic_market

            providers.append(synthetic_market())
            continue
        p = Path(src)
        if p.is_dir():
            providers.append(loaders.load_data_dir(p))
            continue
        if not p.is_file():
            raise MarketDataError(f"replay source {p} does not exist")
        with p.open(newline="") as fh:
            first = fh.readline().strip().lower().replace(" ", "")
        if first == ",".join(MARKET_CSV_HEADER):
            providers.append(read_market_csv(p))
            continue
        providers.append(_load_named_file(p))
    out = providers[0] if len(providers) == 1 else _merge(providers)
    return out if max_age is None else bound_like_a_feed(out, max_age)


def row_spacing_ns(series: Series) -> int:
    """The usual time between two rows of ``series`` (the median spacing, ns; 0 for a single row)."""
    times = series.times
    if len(times) < 2:
        return 0
    import numpy as np

    return int(np.median(np.diff(np.asarray(times, dtype=np.int64))))


def bound_like_a_feed(provider: DataProvider, max_age: Staleness) -> DataProvider:
    """Make ``provider``'s rows go stale as a live feed's values do, and return it.

    A row of a file holds until the next row is due (its series' usual spacing, :func:`row_spacing_ns`): its
    value is as of then. Once a series' rows stop, a lookup later than its last row + spacing + ``max_age``
    raises :class:`~basis_core.errors.StaleMarketDataError` (as a live value older than ``max_age`` does), so a
    run on a file that ends skips its steps and trades on nothing stale. Hourly candles and 8-hourly funding in
    one file each keep their own cadence; ``max_age`` is in the data's (the run clock's) time.
    """
    age = staleness_ns(max_age)
    if age is not None:
        for _name, s in provider.items():
            s.set_staleness(row_spacing_ns(s) + age)
        provider.max_staleness_ns = None  # per series now (a series added later keeps no bound)
    return provider


def _load_named_file(p: Path) -> DataProvider:
    """One market data file, recognised by the installed venues' and the core's file loaders."""
    from basis_core.data.loaders import load_data_files

    try:
        return load_data_files([p], name=str(p), max_staleness=None)
    except MarketDataError as e:
        if "no recognised market data files" not in str(e):
            raise
        raise MarketDataError(f"{p.name}: not a market CSV (header {','.join(MARKET_CSV_HEADER)}) and not a "
                              f"recognised market data file name; {e}") from None


def feeds_for(provider: DataProvider, wanted: Mapping[str, tuple[Literal["price", "funding"], Sequence[str]]],
              column: Mapping[str, str] | None = None) -> list[Feed]:
    """Feeds for ``wanted`` = ``{key: (kind, candidate series names)}``: the first candidate the provider has
    (aliases followed); keys without any are left out. Prices read ``close``, funding ``rate`` unless
    ``column`` names another column for a key."""
    out = []
    for key, (kind, names) in wanted.items():
        for name in names:
            s = provider.find(name)
            if s is None:
                continue
            col = (column or {}).get(key) or ("rate" if kind == "funding" else "close")
            if col not in s.columns:
                col = next(iter(s.columns)) if kind == "price" and len(s.columns) == 1 else col
            if col not in s.columns:
                raise MarketDataError(f"series {s.name!r} has no column {col!r} (has {', '.join(s.columns)})")
            out.append(Feed(key, kind, s, col))
            break
    return out
