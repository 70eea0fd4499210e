"""Live market data behind the backtest's ``get_data`` contract (live and paper runs).

Public API
----------
``LiveMarketData(config=None, *, venues=None, max_age="60s", timeout_s=5.0, keys=None, aliases=None,
on_venue_error="raise", max_rows=2048, plugins=None, first_timeout_s=30.0)``
    A :class:`~basis_core.data.provider.DataProvider` whose values are read from the venues now. ``config``: the
    settings a manager takes (dict, file, :class:`~basis_core.config.BasisSettings`). No credentials are needed:
    each venue reads public endpoints (``venue_config.<venue>.base_url``, e.g. an emulator) or its chain
    (``rpc_url`` and ``deployment``). ``venues``: the venues to read (default: those the config names in
    ``venues`` or ``venue_config``). ``max_age``: a value older than this (``"60s"``, a timedelta, ns; None: no
    bound) is refused when looked up. ``timeout_s``: how long one venue's reads of one step may take
    (``first_timeout_s`` until its first read succeeded: that one also imports the client library and loads the
    venue's markets, seconds on a busy machine). ``keys``:
    restrict the reads to these series names (default: everything the venues serve). ``aliases``: extra name ->
    series aliases. ``on_venue_error``: ``"raise"`` (``get_data`` raises when a venue failed) or ``"skip"`` (the
    snapshot is returned; the failed venue's values age and turn stale). ``max_rows``: rows kept per series
    (from ``2 * max_rows`` rows on, the oldest are dropped: memory stays flat over long runs). ``plugins``:
    ``[(Contributor, venue class), ...]`` instead of the installed venues.

``get_data(timestamp) -> MarketSnapshot``
    The backtest's snapshot type and series names (``spot:ETH/USDT``, ``spot:<venue>:<pair>``,
    ``perp:<venue>:<symbol>`` (``close``), ``funding:<venue>:<symbol>`` (``rate`` at settlement times),
    ``aave:<asset>``, ``lst:<token>``, ``oracle:ETH/USD``, ``gas``, pool states) plus, live only,
    ``next_funding:<venue>:<symbol>`` (``rate``: the rate of the next settlement as the venue predicts it now,
    ``time``: that settlement in epoch seconds). The first call for a timestamp reads every venue once,
    concurrently; further calls for the same timestamp share those reads; an earlier timestamp is answered from
    what was read (never a new read); nothing is reused for a later timestamp. The series grow by one row per
    read (``history`` works over what was read); funding rows sit at the venue's settlement times, so a backtest
    simulator settles funding when its clock crosses them. A settled rate the venue publishes later
    (:class:`LiveValue` ``final``, e.g. via :class:`SettlementTracker`) replaces the predicted row of that time;
    a simulator that already settled on the prediction books the difference (``LiveSeries.final_ns``).

``read(timestamp) -> dict[str, LiveValue]``: the values one step read (for status views and debugging);
``venues_with_live_data()``: the installed venues that contribute live reads;
:func:`basis_core.data.live.live_data_provider` builds the provider of a scenario (``basis run --data live``);
``as_of(key) -> pd.Timestamp``: when the venue says the newest value of ``key`` held;
``venue_status() -> dict``: per venue the last read time, duration and error; ``close()`` (or ``with``).

Errors (:mod:`basis_core.errors`)
    :class:`~basis_core.errors.StaleMarketDataError` (alias ``StaleDataError``; ``key``, ``age_seconds``) when a
    looked-up value is older than ``max_age``; :class:`~basis_core.errors.MarketDataUnavailableError` (``venue``,
    ``reason``, ``failures``: every failed venue) when a venue is down, answered badly or not within
    ``timeout_s``; :class:`~basis_core.errors.MarketDataError` for an unknown series or a time before the first
    read; :class:`~basis_core.errors.ConfigError` for a venue that contributes no live data.

Paper mode: give it to a backtest-mode manager, and read first in each step, so the simulators fill on the
live snapshot and accruals see the step's funding rows::

    data = LiveMarketData(config)
    manager = ExecutionInterfaceManager(config, data_provider=data, execution_mode="backtest")
    now = pd.Timestamp.now(tz="UTC"); data.get_data(now); manager.advance_to(now); ...

A venue contributes through the ``live_market_data`` hook (:mod:`basis_core.hookspecs`); the core names no venue.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from basis_core.config import BasisSettings, VenueSettings, load_settings
from basis_core.data.provider import DataProvider, MarketSnapshot, Staleness, staleness_ns
from basis_core.data.series import NEVER_STALE, Series
from basis_core.errors import (
    BasisError,
    ConfigError,
    MarketDataError,
    MarketDataUnavailableError,
    StaleMarketDataError,
    bounded,
)
from basis_core.numeric import library_context
from basis_core.timeutil import from_ns, to_ns

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_MAX_AGE", "LiveMarketData", "LiveReadContext", "LiveSeries", "LiveValue", "SettlementTracker",
           "venues_with_live_data"]

log = logging.getLogger(__name__)

#: default ``max_age``: a live value older than this is not traded on
DEFAULT_MAX_AGE = "60s"
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class LiveValue:
    """One value a venue read: ``columns`` (column -> Decimal, human units), ``as_of_ns`` (UTC ns at which the
    venue says it held; the receive time when the venue dates nothing), ``time_ns`` (an explicit row time,
    e.g. a funding settlement, past or upcoming; None: the step's time) and ``final`` (the venue fixed it: a
    settled funding rate; it replaces the row read earlier at the same time, e.g. the rate predicted for that
    settlement, and the series' rows up to it are final: :attr:`LiveSeries.final_ns`)."""

    columns: Mapping[str, Decimal]
    as_of_ns: int
    time_ns: int | None = None
    final: bool = False


class SettlementTracker:
    """Which predicted funding settlements a venue has yet to confirm, for a ``live_market_data`` hook.

    Each read, :meth:`expect` the next settlement the venue announces (``key``: e.g. the symbol; time in ns);
    :meth:`due` lists those whose time has passed and that the venue has not confirmed, so the hook asks its
    funding history only then; :meth:`confirm` turns the history's settled rows into final :class:`LiveValue`
    rows at the times predicted (a settled row matches the predicted time nearest to it, within ``tolerance_ns``),
    which replace the predicted rates in the series before a paper simulator settles them (or after it did:
    the simulator then books the difference). At most ``keep`` settlements wait per key (the oldest are dropped).
    """

    def __init__(self, tolerance_ns: int = 60 * _NS, keep: int = 8) -> None:
        self.tolerance_ns = tolerance_ns
        self.keep = keep
        self._waiting: dict[str, list[int]] = {}

    @classmethod
    def of(cls, state: dict[str, Any]) -> SettlementTracker:
        """The tracker kept in a hook's ``context.state`` (made on first use)."""
        tracker = state.get("settlements")
        if not isinstance(tracker, cls):
            tracker = state["settlements"] = cls()
        return tracker

    def expect(self, key: str, time_ns: int, now_ns: int) -> None:
        """The venue announces its next settlement of ``key`` at ``time_ns`` (a moved schedule replaces the
        announced times still in the future)."""
        waiting = self._waiting.setdefault(key, [])
        while waiting and waiting[-1] > now_ns and waiting[-1] != time_ns:
            waiting.pop()
        if not waiting or waiting[-1] != time_ns:
            waiting.append(time_ns)
            del waiting[:-self.keep]

    def due(self, key: str, now_ns: int) -> list[int]:
        """The announced settlements of ``key`` whose time has passed and that are not confirmed yet."""
        return [t for t in self._waiting.get(key, ()) if t <= now_ns]

    def confirm(self, key: str, settled: Iterable[tuple[int, Decimal]], as_of_ns: int,
                column: str = "rate") -> list[LiveValue]:
        """Final rows for the settled ``(time ns, rate)`` rows of ``key`` that match an awaited settlement (the
        settled row nearest to its predicted time, within ``tolerance_ns``), at the predicted time so that they
        replace the predicted rows; the matched settlements are no longer waited for."""
        waiting = self._waiting.get(key, [])
        rows = list(settled)
        out: list[LiveValue] = []
        for w in list(waiting):
            near = min(rows, key=lambda r: abs(r[0] - w), default=None)
            if near is not None and abs(near[0] - w) <= self.tolerance_ns:
                rows.remove(near)
                waiting.remove(w)
                out.append(LiveValue({column: near[1]}, as_of_ns, w, final=True))
        return out


@dataclass
class LiveReadContext:
    """What a venue's ``live_market_data`` hook reads with: its ``venue`` name and ``settings`` (its
    ``venue_config`` entry), ``timeout_s`` (bound every request by it), ``state`` (kept between the calls of one
    provider: clients, what was learned) and the run's ``run_settings``."""

    venue: str
    settings: VenueSettings
    timeout_s: float
    state: dict[str, Any] = field(default_factory=dict)
    run_settings: BasisSettings | None = None


@dataclass
class _VenueState:
    caller: Any
    context: LiveReadContext
    in_flight: Future[Any] | None = None
    last_ok_ns: int | None = None
    last_error: str | None = None
    last_duration_ms: float | None = None


class LiveSeries(Series):
    """A :class:`Series` grown by live reads, with a freshness bound.

    At or after its latest read, a lookup raises :class:`StaleMarketDataError` when the newest value is older
    than ``max_age_ns`` (``as_of_ns``: the latest as-of time any read gave it). Earlier lookups are history.
    Rows are appended in place (a simulator holding ``times`` / ``columns`` sees them); at most ``2 * max_rows``
    are kept.
    """

    __slots__ = ("_state", "as_of_ns", "final_ns", "max_age_ns", "max_rows", "read_ns", "venue")

    def __init__(self, name: str, venue: str, time_ns: int, columns: Mapping[str, Decimal], as_of_ns: int,
                 read_ns: int, max_age_ns: int | None, max_rows: int, state: _VenueState | None = None,
                 final: bool = False) -> None:
        self.name = name
        self.venue = venue
        self.times = [time_ns]
        self.columns = {c: [v] for c, v in columns.items()}
        self.first_ns = self.last_ns = time_ns
        self.max_staleness_ns = NEVER_STALE
        self._stale_ns = NEVER_STALE
        self.as_of_ns = as_of_ns
        self.read_ns = read_ns
        self.max_age_ns = max_age_ns
        self.max_rows = max_rows
        self._state = state
        #: rows at or before this time are final (a settled rate the venue confirmed); later rows may still be
        #: revised (a predicted rate): a simulator that settled on one books the difference once it is final
        self.final_ns = time_ns if final else -1

    def set_staleness(self, max_staleness_ns: int | None) -> None:
        """No-op: a live series is bounded by ``max_age_ns`` (the provider's ``max_age``)."""

    def upsert(self, value: LiveValue, step_ns: int) -> None:
        """Add ``value``: a new row at its time (``time_ns`` or ``step_ns``). An explicit time replaces the rows
        after it that no read has reached yet (an upcoming settlement revised or moved); the same time as the last
        row replaces that row only while it was still in the future at the previous read; an older time only
        refreshes the freshness."""
        cols = value.columns
        if cols.keys() != self.columns.keys():
            raise MarketDataError(f"series {self.name!r}: {self.venue} gave columns {sorted(cols)}, "
                                  f"earlier {sorted(self.columns)}")
        t = step_ns if value.time_ns is None else value.time_ns
        if value.final and value.time_ns is not None and t <= self.last_ns:
            i = bisect_right(self.times, t) - 1
            if i >= 0 and self.times[i] == t:  # the venue settled the row read earlier (its predicted rate)
                for c, v in cols.items():
                    self.columns[c][i] = v  # type: ignore[index]
                self.final_ns = max(self.final_ns, t)
            self.as_of_ns = max(self.as_of_ns, value.as_of_ns)
            self.read_ns = max(self.read_ns, step_ns)
            return
        if value.final:
            self.final_ns = max(self.final_ns, t)
        if value.time_ns is not None:
            # rows later than every read so far were never visible: a venue's revised schedule replaces them
            while len(self.times) > 1 and self.last_ns > t and self.last_ns > self.read_ns:
                self._pop()
            if len(self.times) == 1 and self.last_ns > t and self.last_ns > self.read_ns:
                for c, v in cols.items():
                    self.columns[c][-1] = v  # type: ignore[index]
                self.times[-1] = self.first_ns = self.last_ns = t  # type: ignore[index]
        if t > self.last_ns:
            self.times.append(t)  # type: ignore[attr-defined]
            for c, v in cols.items():
                self.columns[c].append(v)  # type: ignore[attr-defined]
            self.last_ns = t
            if len(self.times) > 2 * self.max_rows:
                self._trim()
        elif t == self.last_ns and t > self.read_ns:
            for c, v in cols.items():
                self.columns[c][-1] = v  # type: ignore[index]
        self.as_of_ns = max(self.as_of_ns, value.as_of_ns)
        self.read_ns = max(self.read_ns, step_ns)

    def _pop(self) -> None:
        del self.times[-1]  # type: ignore[attr-defined]
        for col in self.columns.values():
            del col[-1]  # type: ignore[attr-defined]
        self.last_ns = self.times[-1]

    def _trim(self) -> None:
        cut = len(self.times) - self.max_rows
        del self.times[:cut]  # type: ignore[attr-defined]
        for col in self.columns.values():
            del col[:cut]  # type: ignore[attr-defined]
        self.first_ns = self.times[0]

    def age_seconds(self, ts_ns: int) -> float:
        """How old the newest value is at ``ts_ns`` (0 when the venue dates it later)."""
        return max(0, ts_ns - self.as_of_ns) / _NS

    def index_at(self, ts_ns: int) -> int:
        if ts_ns >= self.read_ns and self.max_age_ns is not None and ts_ns - self.as_of_ns > self.max_age_ns:
            age = self.age_seconds(ts_ns)
            why = f"; the venue's last read failed: {self._state.last_error}" if (
                self._state is not None and self._state.last_error) else ""
            raise StaleMarketDataError(
                f"{self.name}: the value from {self.venue} is {age:.3f} s old at {from_ns(ts_ns).isoformat()} "
                f"(as of {from_ns(self.as_of_ns).isoformat()}), older than max_age {self.max_age_ns / _NS:g} s"
                f"{why}", key=self.name, age_seconds=age)
        i = bisect_right(self.times, ts_ns) - 1
        if i < 0:
            raise MarketDataError(f"series {self.name!r} has no live data at or before {from_ns(ts_ns).isoformat()} "
                                  f"(first read {from_ns(self.first_ns).isoformat()})")
        return i

    def __repr__(self) -> str:
        return (f"LiveSeries({self.name!r}, venue={self.venue!r}, rows={len(self.times)}, "
                f"as_of={from_ns(self.as_of_ns).isoformat()})")


def venues_with_live_data(plugins: Iterable[tuple[Any, Any]] | None = None) -> list[str]:
    """The installed venues (or those of ``plugins``) that implement the ``live_market_data`` hook, sorted."""
    from basis_core.data.contrib import data_plugin_manager

    pm = data_plugin_manager(None if plugins is None else list(plugins))
    return sorted({i.plugin_name for i in pm.hook.live_market_data.get_hookimpls()})


class LiveMarketData(DataProvider):
    """Market data read from the venues now, answering ``get_data`` like the backtest provider (see the module
    docstring for the whole API)."""

    def __init__(self, config: BasisSettings | Mapping[str, Any] | str | Path | None = None, *,
                 venues: Iterable[str] | None = None, max_age: Staleness = DEFAULT_MAX_AGE, timeout_s: float = 5.0,
                 keys: Iterable[str] | None = None, aliases: Mapping[str, str] | None = None,
                 on_venue_error: Literal["raise", "skip"] = "raise", max_rows: int = 2048,
                 plugins: Iterable[tuple[Any, Any]] | None = None, name: str = "live",
                 first_timeout_s: float = 30.0) -> None:
        super().__init__((), aliases=aliases, name=name, max_staleness=None)
        from basis_core.data.contrib import data_plugin_manager

        self.settings = load_settings(dict(config) if isinstance(config, Mapping) else config)
        try:
            self.max_age_ns = staleness_ns(max_age)
        except ConfigError as e:
            raise ConfigError(str(e).replace("max_staleness", "max_age", 1)) from None
        if not timeout_s > 0:
            raise ConfigError(f"timeout_s: must be > 0, got {timeout_s!r}")
        if on_venue_error not in ("raise", "skip"):
            raise ConfigError(f"on_venue_error: 'raise' or 'skip', got {on_venue_error!r}")
        if max_rows < 1:
            raise ConfigError(f"max_rows: must be >= 1, got {max_rows!r}")
        self.timeout_s = float(timeout_s)
        self.first_timeout_s = max(float(first_timeout_s), self.timeout_s)
        self.on_venue_error = on_venue_error
        self.max_rows = int(max_rows)
        self.keys: frozenset[str] | None = None if keys is None else frozenset(keys)
        self._user_aliases = dict(aliases or {})
        pm = data_plugin_manager(None if plugins is None else list(plugins))
        impls = {i.plugin_name for i in pm.hook.live_market_data.get_hookimpls()}
        names = list(venues) if venues is not None else self._named_venues()
        if not names:
            raise ConfigError("venues: no venue to read live market data from; name them (venues=[...] or "
                              f"venue_config); venues that serve live data: {', '.join(sorted(impls)) or 'none'}")
        self._venues: dict[str, _VenueState] = {}
        for v in names:
            if v not in impls:
                raise ConfigError(f"venues: {v!r} contributes no live market data (installed venues that do: "
                                  f"{', '.join(sorted(impls)) or 'none'})")
            others = [pm.get_plugin(o) for o in impls if o != v]
            caller = pm.subset_hook_caller("live_market_data", remove_plugins=others)
            ctx = LiveReadContext(v, self.settings.venue(v), self.timeout_s, run_settings=self.settings)
            self._venues[v] = _VenueState(caller, ctx)
        self._lock = threading.RLock()
        self._pool: ThreadPoolExecutor | None = None
        self._read_ns: int | None = None
        self._step_values: dict[str, LiveValue] = {}
        self._step_error: MarketDataUnavailableError | None = None

    def _named_venues(self) -> list[str]:
        s = self.settings
        names = list(s.venues) if s.venues is not None else list(s.venue_config)
        return [n for n in names if n not in s.blocked_venues]

    # -- public ---------------------------------------------------------------------------------------------------
    @property
    def venues(self) -> list[str]:
        """The venues read, in order."""
        return list(self._venues)

    def get_data(self, timestamp: datetime | str | int) -> MarketSnapshot:
        """The snapshot at ``timestamp`` (aware datetime, ISO string or UTC ns); see the module docstring."""
        ts_ns = timestamp if type(timestamp) is int else to_ns(timestamp)  # type: ignore[arg-type]
        with self._lock:
            if self._read_ns is None or ts_ns > self._read_ns:
                self._read(ts_ns)
            elif ts_ns == self._read_ns and self._step_error is not None and self.on_venue_error == "raise":
                raise self._step_error
            if not self._series or ts_ns < self.start_ns:
                raise MarketDataError(f"no live market data at or before {from_ns(ts_ns).isoformat()}"
                                      + (f" (first read {from_ns(self.start_ns).isoformat()})" if self._series
                                         else ""))
        return MarketSnapshot(self, ts_ns)

    def read(self, timestamp: datetime | str | int) -> dict[str, LiveValue]:
        """The values read for ``timestamp`` (reading them if this is a new, later step)."""
        ts_ns = timestamp if type(timestamp) is int else to_ns(timestamp)  # type: ignore[arg-type]
        with self._lock:
            if self._read_ns is None or ts_ns > self._read_ns:
                try:
                    self._read(ts_ns)
                except MarketDataUnavailableError:
                    if self._read_ns != ts_ns:
                        raise
            last = self._read_ns
            if last is None or ts_ns != last:
                raise MarketDataError(f"{from_ns(ts_ns).isoformat()} is not the latest step read"
                                      + ("" if last is None else f" ({from_ns(last).isoformat()})"))
            return dict(self._step_values)

    def as_of(self, key: str) -> pd.Timestamp:
        """When the venue says the newest value of series ``key`` (aliases followed) held; MarketDataError if it
        was never read."""
        s = self.series(key)
        return from_ns(s.as_of_ns if isinstance(s, LiveSeries) else s.last_ns)

    def venue_status(self) -> dict[str, dict[str, Any]]:
        """Per venue: ``last_ok`` (the last step read, ISO), ``last_error`` and ``duration_ms`` of its last read."""
        with self._lock:
            return {v: {"last_ok": None if st.last_ok_ns is None else from_ns(st.last_ok_ns).isoformat(),
                        "last_error": st.last_error, "duration_ms": st.last_duration_ms}
                    for v, st in self._venues.items()}

    def close(self) -> None:
        """Stop the read threads (a read in flight is abandoned)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> LiveMarketData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LiveMarketData(venues={self.venues}, series={len(self._series)})"

    # -- reading ---------------------------------------------------------------------------------------------------
    def _read(self, ts_ns: int) -> None:
        ts = from_ns(ts_ns)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, len(self._venues)),
                                            thread_name_prefix="basis-live-data")
        futures: dict[str, Future[Any]] = {}
        failures: dict[str, str] = {}
        for v, st in self._venues.items():
            if st.in_flight is not None and not st.in_flight.done():
                failures[v] = f"its previous read has not finished (more than {self.timeout_s:g} s)"
                continue
            st.in_flight = futures[v] = self._pool.submit(self._call, st, ts)
        t0 = time.monotonic()  # clients time out first; this is the backstop
        results: dict[str, dict[str, LiveValue]] = {}
        for v, fut in futures.items():
            budget = self.timeout_s if self._venues[v].last_ok_ns is not None else self.first_timeout_s
            try:
                results[v] = fut.result(timeout=max(0.0, t0 + budget + 0.5 - time.monotonic()))
            except FutureTimeout:
                failures[v] = f"no answer within {budget:g} s"
            except MarketDataUnavailableError as e:
                failures[v] = e.reason
        step: dict[str, LiveValue] = {}
        for v in self._venues:  # in the configured order: a key several venues serve (gas) comes from the first
            values = results.get(v)
            if values is None:
                continue
            values = {k: val for k, val in values.items() if k not in step}
            try:
                self._apply(v, values, ts_ns)
            except MarketDataError as e:
                failures[v] = str(e)
                continue
            for name, value in values.items():
                step[name] = value[-1] if isinstance(value, tuple) else value
        for v, reason in failures.items():
            st = self._venues[v]
            st.last_error = reason
            log.warning("live market data: %s unavailable at %s: %s", v, ts.isoformat(), reason)
        for v in results:
            if v not in failures:
                self._venues[v].last_ok_ns = ts_ns
                self._venues[v].last_error = None
        self._read_ns = ts_ns
        self._step_values = step
        self._refresh_aliases()
        self._step_error = None
        if failures:
            first = sorted(failures)[0]
            more = "; ".join(f"{v}: {r}" for v, r in sorted(failures.items()) if v != first)
            err = MarketDataUnavailableError(first, failures[first] + (f" (also unavailable: {more})" if more else ""))
            err.failures = dict(failures)  # type: ignore[attr-defined]
            self._step_error = err
            if self.on_venue_error == "raise":
                raise err

    @library_context
    def _call(self, st: _VenueState, ts: Any) -> dict[str, LiveValue]:
        """One venue's hook call (in a pool thread, in the library's Decimal context): its values, or
        MarketDataUnavailableError naming it."""
        v = st.context.venue
        t0 = time.perf_counter()
        try:
            got = st.caller(timestamp=ts, keys=self.keys, context=st.context)
        except ConfigError:
            raise  # a setting the venue needs (rpc_url): the run is misconfigured, not the venue down
        except BasisError as e:
            raise MarketDataUnavailableError(v, bounded(str(e), 500)) from e
        except Exception as e:  # a ccxt / web3 / socket error: the venue is down or answered badly
            raise MarketDataUnavailableError(v, f"{type(e).__name__}: {bounded(str(e), 500)}") from e
        finally:
            st.last_duration_ms = (time.perf_counter() - t0) * 1000
        out: dict[str, LiveValue | tuple[LiveValue, ...]] = {}
        for part in got:
            if part is None:
                continue
            if not isinstance(part, Mapping):
                raise MarketDataUnavailableError(v, f"live_market_data returned {type(part).__name__}, not a mapping")
            for name, value in part.items():
                rows = tuple(value) if isinstance(value, list | tuple) else (value,)
                bad = next((r for r in rows if not isinstance(r, LiveValue)), None) if rows else value
                if bad is not None:
                    raise MarketDataUnavailableError(
                        v, f"live_market_data: {name!r} is a {type(bad).__name__}, not a LiveValue")
                out[name] = rows[0] if len(rows) == 1 else rows
        return out  # type: ignore[return-value]

    def _apply(self, venue: str, values: Mapping[str, Any], ts_ns: int) -> None:
        st = self._venues[venue]
        for name, value in values.items():
            rows: Sequence[LiveValue] = value if isinstance(value, tuple) else (value,)
            for row in sorted(rows, key=lambda r: ts_ns if r.time_ns is None else r.time_ns):
                s = self._series.get(name)
                if s is None:
                    t = ts_ns if row.time_ns is None else row.time_ns
                    self._series[name] = LiveSeries(name, venue, t, dict(row.columns), row.as_of_ns, ts_ns,
                                                    self.max_age_ns, self.max_rows, st, row.final)
                else:
                    s.upsert(row, ts_ns)  # type: ignore[attr-defined]
                    s.venue, s._state = venue, st  # type: ignore[attr-defined]
        if self._series:
            self.start_ns = min(s.first_ns for s in self._series.values())
            self.end_ns = max(self.end_ns, ts_ns)

    def _refresh_aliases(self) -> None:
        """``spot:<pair>`` -> the one venue's ``spot:<venue>:<pair>`` (several venues: ambiguous until the
        ``aliases`` choose), as :func:`~basis_core.data.loaders.load_data_files` does for files."""
        generic: dict[str, list[str]] = {}
        for name in self._series:
            parts = name.split(":")
            if len(parts) == 3 and parts[0] == "spot":
                generic.setdefault(f"spot:{parts[2]}", []).append(name)
        aliases = dict(self._user_aliases)
        ambiguous: dict[str, list[str]] = {}
        for g, names in generic.items():
            if g in self._series or g in aliases:
                continue
            if len(names) == 1:
                aliases[g] = names[0]
            else:
                ambiguous[g] = sorted(names)
        self.aliases = aliases
        self.ambiguous = ambiguous
