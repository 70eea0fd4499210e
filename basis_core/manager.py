"""ExecutionInterfaceManager: discovery, routing, state, statistics.

``ExecutionInterfaceManager(config, data_provider, execution_mode)`` finds venue plugins through the
``basis_core.venues`` entry points (stevedore), registers one instance of each with pluggy, and
routes every instruction to exactly one venue through a cached ``subset_hook_caller`` per
(venue, hook), wrapped by the core's wrappers. ``execute(timestamp, instruction)`` returns
:class:`~basis_core.deltas.ExecutionDeltas`.

Backtest: the manager owns the ledger and the run's clock; advancing the clock lets every venue
accrue (funding, interest ...) first; a failed instruction rolls back every write it made.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from decimal import getcontext as _getcontext
from decimal import setcontext as _setcontext
from pathlib import Path
from typing import Any

from basis_core import hookspecs, timeutil
from basis_core.backtest.clock import Clock
from basis_core.backtest.ledger import Ledger
from basis_core.best_execution.router import ROUTER_VENUE, prepare_routed, quote_routed
from basis_core.config import BasisSettings, ExecutionMode, load_settings
from basis_core.data.provider import DataProvider
from basis_core.deltas import ExecutionDeltas, instrument_key, merge_positions
from basis_core.discovery import DiscoveryReport, FailedVenue, LoadedVenue, discover_venues
from basis_core.errors import (
    BasisError,
    ClockError,
    ConfigError,
    DuplicateClientIdError,
    HealthFactorError,
    InstructionValidationError,
    LiveExecutionError,
    UnknownVenueError,
    UnsupportedOperationError,
    VenueContractError,
    VenueUnavailableError,
    short_repr,
)
from basis_core.history import HistoryLog, HistoryRecord, VenueHistory
from basis_core.hookspecs import OPERATION_HOOKS
from basis_core.instructions import MODELS, Atomic, InstructionBase, parse_instruction
from basis_core.interfaces import VenueContext, VenueInfo
from basis_core.isolation import KeySpace, checked_info, failure_reason, namespaces_of
from basis_core.numeric import PRECISION, _thread_context, library_context
from basis_core.numeric import _thread as _numeric_thread
from basis_core.routing import HookRegistry, Route
from basis_core.timeutil import from_ns, to_utc
from basis_core.wrappers import CoreWrapper, check_accrual

log = logging.getLogger(__name__)

_CORE_PLUGIN = "basis_core.core"
_ACCRUE_ARGS = ("previous", "timestamp")
_MODEL_TYPES = frozenset(MODELS.values())
_GUARD_TOL = Decimal("1e-4")  # min_corridor_move checks: the ETH move to 0.01 %


class _NoLock:
    """The lock of a live manager's ``execute``: none (venue calls of several threads run concurrently)."""

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc: object) -> None:
        pass


def _label(value: Any, limit: int = 80) -> str:
    """A history label (venue, operation, client id) from untrusted input: short strings as they are, anything
    else as a bounded repr."""
    return value if type(value) is str and len(value) <= limit else short_repr(value, limit)


def _core_operation(instruction: Any) -> str | None:
    """``paired`` (a saga, :mod:`basis_core.paired`) or ``move`` (capital in transit, :mod:`basis_core.transit`)
    when ``instruction`` is one of the core's own operations (a model, or a mapping / JSON text with that
    operation), else None. Checked only after the ordinary parse failed: no cost on the hot path."""
    name = type(instruction).__name__
    if name in ("Paired", "Move"):
        return "paired" if name == "Paired" else "move"
    if isinstance(instruction, Mapping):
        op = instruction.get("operation")
        return op if op in ("paired", "move") else None
    if isinstance(instruction, str | bytes):
        text = instruction if isinstance(instruction, bytes) else instruction.encode()
        return "paired" if b'"paired"' in text else "move" if b'"move"' in text else None
    return None


#: with a ``history_limit``, the manager remembers the results of at least this many latest client ids (the same id
#: again returns its first result without calling the venue); older ones are answered by the venue (the live
#: venues' journals: the same result, nothing sent again)
DONE_KEPT_MIN = 10_000
_NO_TIME: Any = object()  # the clock's timestamp object before its first step

class ExecutionInterfaceManager:
    """Routes instructions to venue plugins; one instance per run (no global state).

    :param config: BasisSettings, a dict, a YAML / TOML path, or None (environment, prefix ``BASIS_``).
    :param data_provider: market data for backtests (the synthetic market when None in backtest mode).
    :param execution_mode: ``"backtest"`` | ``"live"``; default from ``BASIS_EXECUTION_MODE``.
    :param autoload: discover venues through entry points (default from config, True).
    :param plugins: venue plugin objects or classes to register by hand (host apps, tests).
    :param ledger: a backtest ledger to use (default: a new one with ``config.initial_balances``).

    Failure isolation: a venue that fails to import, construct, configure or describe itself
    (``venue_info``), or whose ``accrue`` fails, is reported in ``discovery.failed`` and
    ``get_execution_status()`` with the reason and taken out of routing (``VenueUnavailableError``);
    the other venues keep working. A ``ConfigError`` of a venue the configuration names explicitly still
    fails construction (the user's configuration is wrong, not the plugin).

    Threads: every method may be called from several threads. Backtest: one instruction, clock step or
    query at a time (a per-manager lock). Live: venue calls run concurrently; the manager's own state
    (clock, history, statistics) is updated under the lock.
    """

    def __init__(self, config: BasisSettings | Mapping[str, Any] | str | Path | None = None,
                 data_provider: DataProvider | None = None, execution_mode: ExecutionMode | None = None,
                 *, autoload: bool | None = None, plugins: Iterable[Any] = (), ledger: Ledger | None = None) -> None:
        overrides: dict[str, Any] = {}
        if execution_mode is not None:
            overrides["execution_mode"] = execution_mode
        self.settings = load_settings(config if not isinstance(config, Mapping) else dict(config), **overrides)
        self.execution_mode: ExecutionMode = self.settings.execution_mode
        if self.execution_mode not in ("backtest", "live"):
            raise ConfigError(f"execution_mode: must be 'backtest' or 'live', got {self.execution_mode!r}")
        if data_provider is None and self.execution_mode == "backtest":
            from basis_core.data.synthetic import synthetic_market
            data_provider = synthetic_market()
        self.data_provider = data_provider
        if self.execution_mode == "backtest":
            self.ledger: Ledger | None = ledger or Ledger(self.settings.initial_balances)
        else:
            self.ledger = None
        self.clock = Clock()
        # (the timestamp object of the clock's time, its ns): skips `ts.value` (~0.1 us); the object is reused as the
        # next step's `previous`
        self._now: tuple[Any, int] = (_NO_TIME, 0)
        self._max_notional: Decimal | None = self.settings.max_notional
        self._min_corridor: Decimal | None = self.settings.min_corridor_move
        self.execution_history = HistoryLog(self.settings.history_limit)
        self._add_history = self.execution_history.add_deltas
        self._pending_history: list[list[tuple[Any, ...]]] = []
        self._bundles = itertools.count(1)  # numbers of atomic bundles (history records carry them)
        self._done: dict[tuple[str, str], tuple[Any, ExecutionDeltas]] = {}
        self._callers: dict[tuple[str, str], Route] = {}
        self._runs: dict[tuple[str, str], Any] = {}  # (venue, operation) -> Route.runner()
        self._venues: dict[str, Any] = {}
        self._venue_dists: dict[str, LoadedVenue] = {}
        self._infos: dict[str, VenueInfo] = {}  # venue_info() of each venue, checked at registration
        self._keys: dict[str, KeySpace] = {}  # the keys each venue may write
        self._unavailable: dict[str, str] = {}  # failed venue -> reason
        self._failed_objs: dict[str, Any] = {}  # venues taken out after they were registered
        self._degraded: dict[str, str] = {}  # live venue -> reason of its last failed accrue
        self._accruers: list[tuple[str | None, list[Any], Any]] | None = None  # (venue, impls, direct) per call
        self._lock = threading.RLock()  # the manager's state: ledger, clock, history, statistics
        self._poll_lock = threading.Lock()  # live: one advance_to poll of the venues at a time
        self._exec_lock: Any = self._lock if self.execution_mode == "backtest" else _NoLock()
        if self.execution_mode == "live":  # venue calls run outside the lock: bookkeeping takes it
            self._record_success = self._locked(self._record_success)  # type: ignore[method-assign]
            self._record_failure = self._locked(self._record_failure)  # type: ignore[method-assign]
            self._record_early_failure = self._locked(self._record_early_failure)  # type: ignore[method-assign]

        self.pm = HookRegistry(hookspecs.PROJECT, on_change=self._forget_routes)
        self.pm.add_hookspecs(hookspecs)
        self._core = CoreWrapper(self)
        self.pm.register(self._core, name=_CORE_PLUGIN)
        self.context = VenueContext(self.execution_mode, self.settings, self.data_provider, self.ledger, self.clock,
                                    report=self._report_effect, encode_call=self._encode_call)
        self.pm.hook.configure.call_historic(kwargs={"context": self.context})

        self.discovery = DiscoveryReport()
        if self.settings.autoload if autoload is None else autoload:
            self.discovery = discover_venues(self.settings.venues, self.settings.blocked_venues)
            for f in self.discovery.failed:
                self._unavailable[f.name] = f.error
            for rec in self.discovery.loaded:
                self._venue_dists[rec.name] = rec
                self._register(rec.plugin_class, rec.name, isolate=True)
        for p in plugins:
            self._register(p, None, isolate=True)
        self.pm.check_pending()

    # -- registration -------------------------------------------------------------------------
    def register(self, plugin: Any, name: str | None = None) -> Any:
        """Register a venue plugin object (or class, instantiated here) under its venue name.

        A plugin that fails to construct, configure or describe itself raises (its BasisError, else
        VenueUnavailableError with the reason) and leaves the manager unchanged.
        """
        return self._register(plugin, name, isolate=False)

    def _register(self, plugin: Any, name: str | None, *, isolate: bool) -> Any:
        """Register one venue; with ``isolate`` a failure is reported (``discovery.failed``) instead of raised,
        except a ConfigError of a venue the configuration names."""
        venue = name or getattr(plugin, "name", None)
        if not venue or not isinstance(venue, str):
            raise ConfigError("plugin: a venue plugin needs a `name`")
        if venue in self.settings.blocked_venues:
            log.info("venue %s is blocked by configuration", venue)
            return None
        if self.settings.venues is not None and venue not in self.settings.venues:
            log.info("venue %s is not in the allow-list", venue)
            return None
        if venue in self._venues:
            raise ConfigError(f"venue: {venue!r} is already registered")
        stage = "construct"
        obj: Any = None
        try:
            obj = plugin() if isinstance(plugin, type) else plugin
            stage = "configure"
            self.pm.register(obj, name=venue)
            self._check_pending(obj)
            stage = "venue_info"
            info = checked_info(venue, obj.venue_info())
        except Exception as exc:
            if obj is not None and self.pm.get_name(obj) is not None:
                self.pm.unregister(obj)
            if not isolate or (isinstance(exc, ConfigError) and self.settings.names_venue(venue)):
                if isinstance(exc, BasisError):
                    raise
                raise VenueUnavailableError(venue, failure_reason(stage, exc)) from exc
            self._fail_venue(venue, stage, exc)
            return None
        self._venues[venue] = obj
        self._infos[venue] = info
        self._add_token_prices(venue)
        self._keys[venue] = KeySpace(venue, namespaces_of(venue, info))
        self._unavailable.pop(venue, None)
        try:  # the seed's per-venue history: this venue's records of the manager's history
            obj.execution_history = VenueHistory(self.execution_history, venue)
        except (AttributeError, TypeError):
            pass
        return obj

    def _add_token_prices(self, venue: str) -> None:
        """Give the data provider the ``token_prices`` declarations of ``venue`` (how its tokens are valued)."""
        add = getattr(self.data_provider, "add_token_prices", None)
        if add is None:
            return
        from basis_core.data.prices import add_token_prices

        got: dict[str, Any] = {}
        for impl in self.pm.hook.token_prices.get_hookimpls():
            if impl.plugin_name == venue:
                add_token_prices(got, venue, impl.function())
        if got:
            add(got)

    def _check_pending(self, obj: Any) -> None:
        """pluggy's ``check_pending`` for one plugin: every hook it implements has a spec."""
        from pluggy import PluginValidationError

        for caller in self.pm.get_hookcallers(obj) or ():
            if not caller.has_spec():
                for impl in caller.get_hookimpls():
                    if impl.plugin is obj and not impl.optionalhook:
                        raise PluginValidationError(obj, f"unknown hook {caller.name!r} in plugin {obj!r}")

    def _fail_venue(self, venue: str, stage: str, exc: BaseException) -> None:
        """Take ``venue`` out of routing and report it failed (discovery, status, history) with the reason."""
        reason = failure_reason(stage, exc)
        log.warning("venue %s failed and is unavailable: %s", venue, reason)
        obj = self._venues.pop(venue, None)
        if obj is not None:
            self._failed_objs[venue] = obj
            self.pm.unregister(obj)
            self._set_health(obj, "failed", reason)
        self._infos.pop(venue, None)
        self._keys.pop(venue, None)
        self._degraded.pop(venue, None)
        self._unavailable[venue] = reason
        rec = self._venue_dists.get(venue)
        self.discovery.failed.append(FailedVenue(venue, rec.distribution if rec else "unknown", reason, stage))

    @staticmethod
    def _set_health(obj: Any, status: str, reason: str | None) -> None:
        try:
            obj.status, obj.status_reason = status, reason
        except (AttributeError, TypeError):
            pass

    def unregister(self, name: str) -> None:
        with self._lock:
            obj = self._venues.pop(name)
            self._infos.pop(name, None)
            self._keys.pop(name, None)
            self.pm.unregister(obj)

    def venue(self, name: str) -> Any:
        """The registered plugin object of venue ``name`` (VenueUnavailableError when it failed,
        UnknownVenueError when it is not installed)."""
        try:
            return self._venues[name]
        except KeyError:
            reason = self._unavailable.get(name)
            if reason is not None:
                raise VenueUnavailableError(name, reason) from None
            raise UnknownVenueError(name, self._venues) from None

    def venue_info(self, name: str) -> VenueInfo:
        """The checked ``venue_info()`` of venue ``name``, as it answered at registration."""
        self.venue(name)
        return self._infos[name]

    def venues(self) -> list[dict[str, Any]]:
        """Working venues: name, distribution, version, kind, operations, status ("healthy" or "degraded"
        with a reason); failed ones are in ``discovery.failed``."""
        out = []
        with self._lock:
            for name in sorted(self._venues):
                rec = self._venue_dists.get(name)
                reason = self._degraded.get(name)
                out.append({**self._infos[name].to_dict(), "distribution": rec.distribution if rec else None,
                            "version": rec.version if rec else None,
                            "status": "degraded" if reason else "healthy", "reason": reason})
        return out

    # -- routing --------------------------------------------------------------------------------
    def _forget_routes(self) -> None:
        """The plugin set changed: routes are rebuilt on their next use."""
        self._callers.clear()
        self._runs.clear()
        self._accruers = None

    def _locked(self, fn: Any) -> Any:
        """``fn`` called under the manager's lock (live bookkeeping)."""
        lock = self._lock

        def locked(*args: Any) -> Any:
            with lock:
                return fn(*args)
        return locked

    def _caller(self, venue: str, hook: str) -> Any:
        key = (venue, hook)
        caller = self._callers.get(key)
        if caller is None:
            obj = self.venue(venue)
            impls = [i for i in getattr(self.pm.hook, hook).get_hookimpls() if i.plugin is obj]
            if not impls:
                op = next((o for o, h in OPERATION_HOOKS.items() if h == hook), hook)
                raise UnsupportedOperationError(venue, op, self._infos[venue].operations)
            others = [p for n, p in self._venues.items() if n != venue]
            caller = Route(self.pm, hook, others, self._core, self._keys[venue])
            self._callers[key] = caller
        return caller

    def _encode_call(self, timestamp: Any, step: Any, recipient: str) -> Any:
        """``VenueContext.encode_call``: the ``encode_call`` hook of the step's venue only (None if it has none)."""
        obj = self.venue(step.venue)
        if not any(i.plugin is obj for i in self.pm.hook.encode_call.get_hookimpls()):
            return None
        others = [p for n, p in self._venues.items() if n != step.venue]
        caller = self.pm.subset_hook_caller("encode_call", remove_plugins=others)
        return caller(timestamp=timestamp, instruction=step, recipient=recipient)

    def estimate_notional(self, timestamp: datetime | str, instruction: Any) -> Decimal | None:
        """The USD notional the venue estimates for ``instruction`` (``estimate_notional`` hook), None when it has
        none or the venue does not say."""
        instr = parse_instruction(instruction)
        with self._exec_lock:
            return self._estimate_notional(to_utc(timestamp), instr)

    def _estimate_notional(self, timestamp: Any, instruction: Any) -> Decimal | None:
        try:
            caller = self._caller(instruction.venue, "estimate_notional")
        except UnsupportedOperationError:
            return None
        result: Decimal | None = caller(timestamp=timestamp, instruction=instruction)
        return result

    # -- time -----------------------------------------------------------------------------------
    @library_context
    def advance_to(self, timestamp: datetime | str) -> list[ExecutionDeltas]:
        """Move the run's clock to ``timestamp`` and let every venue accrue; return the effects (also recorded
        in ``execution_history``).

        Backtest: funding, interest, rebases, resting-order fills and liquidations in (previous, timestamp].
        Live: the fills of resting orders this manager placed, since they were last reported (the venues are
        asked now; ``execute`` never polls, so instructions pay no extra round trips).
        A venue whose ``accrue`` fails is reported and taken out (see the class); the others accrue.
        """
        ts = to_utc(timestamp)
        if self.ledger is not None:
            with self._lock:
                return self._advance(ts, ts.value)
        with self._poll_lock:  # live: one poll at a time, instructions keep running meanwhile
            with self._lock:
                previous = self._step_clock(ts, ts.value, True)
            return [] if previous is None else self._accrue(previous, ts, ts.value)

    def _step_clock(self, ts: Any, ts_ns: int, poll_live: bool = False) -> Any:
        """Move the clock to ``ts``; the ``previous`` time the venues accrue from, or None when nothing accrues."""
        prev = self.clock.advance(ts_ns)
        last = self._now[0]
        self._now = (ts, ts_ns)
        if self.execution_mode != "backtest":
            if not poll_live:
                return None
            return ts if prev is None else last if last is not _NO_TIME and last.value == prev else from_ns(prev)
        if prev is None or prev == ts_ns:
            return None
        return last if last is not _NO_TIME and last.value == prev else from_ns(prev)

    def _advance_locked(self, ts: Any, ts_ns: int) -> list[ExecutionDeltas]:
        """:meth:`advance_to` of a backtest for a UTC ``pd.Timestamp`` ``ts`` of ``ts_ns``, called in the library's
        Decimal context (the backtest runner's steps)."""
        with self._lock:
            return self._advance(ts, ts_ns)

    def _advance(self, ts: Any, ts_ns: int) -> list[ExecutionDeltas]:
        previous = self._step_clock(ts, ts_ns)
        return [] if previous is None else self._accrue(previous, ts, ts_ns)

    def _accrue_calls(self) -> list[tuple[str | None, list[Any], Any]]:
        """One ``accrue`` call per implementation, in pluggy's order, each with every wrapper around it:
        (venue or None for a host plugin's own implementation, the implementations to run, and the plain function
        with its argument names when no wrapper surrounds it: called directly, without pluggy's machinery)."""
        calls = self._accruers
        if calls is None:
            impls = self.pm.hook.accrue.get_hookimpls()
            venue_of = {id(obj): name for name, obj in self._venues.items()}
            wrappers = [i for i in impls if i.wrapper or i.hookwrapper]
            plain = [i for i in impls if not (i.wrapper or i.hookwrapper)]
            calls = self._accruers = [
                (venue_of.get(id(i.plugin)), [i, *wrappers], None if wrappers else (i.function, tuple(i.argnames)))
                for i in reversed(plain)]
        return calls

    def _accrue(self, previous: Any, ts: Any, ts_ns: int) -> list[ExecutionDeltas]:
        """Every venue's ``accrue``, each in its own ledger transaction (backtest): a venue that raises or returns
        junk (not a list of its own well-formed deltas inside its key namespaces) is taken out, changing nothing."""
        effects: list[ExecutionDeltas] = []
        kwargs = {"previous": previous, "timestamp": ts}
        ledger = self.ledger
        hookexec = self.pm._hookexec
        # the list is replaced, never changed, when the plugin set changes (a venue taken out below): no copy
        for venue, impls, direct in self._accrue_calls():
            if ledger is not None:
                ledger.begin()
            try:
                if direct is not None:  # pluggy's call of one plain implementation: its non-None result in a list
                    fn, names = direct
                    res = fn(previous, ts) if names == _ACCRUE_ARGS else fn(*[kwargs[a] for a in names])
                    got = self._accrued(venue, [res]) if res is not None else []
                else:
                    got = self._accrued(venue, hookexec("accrue", impls, kwargs, False))  # type: ignore[arg-type]
                if ledger is not None:
                    for d in got:
                        if d.positions:
                            ledger.apply(d.positions)
            except BaseException as exc:
                if ledger is not None:
                    ledger.rollback()
                if venue is None or not isinstance(exc, Exception):
                    raise
                with self._lock:
                    self._accrue_failed(venue, ts_ns, exc)
                continue
            if ledger is not None:
                ledger.commit()
            elif venue in self._degraded:
                with self._lock:
                    self._degraded.pop(venue, None)
                    self._set_health(self._venues.get(venue), "healthy", None)
            effects.extend(got)
        if effects:
            with self._lock:
                for d in effects:
                    self.execution_history.add_accrual(ts_ns, d)
        return effects

    def _accrued(self, venue: str | None, results: list[Any]) -> list[ExecutionDeltas]:
        """The deltas of one ``accrue`` call, checked: a list of ExecutionDeltas of ``venue`` with Decimal positions
        inside its key namespaces (VenueContractError otherwise)."""
        out: list[ExecutionDeltas] = []
        keys = self._keys.get(venue) if venue is not None else None
        for res in results:
            if not res:
                continue
            if type(res) is not list and type(res) is not tuple:
                raise VenueContractError(f"accrue returned {type(res).__name__}, not a list of ExecutionDeltas")
            for d in res:
                check_accrual(d)
                if keys is not None:
                    if d.venue != venue:
                        raise VenueContractError(f"venue {venue!r} accrued deltas labelled {d.venue!r}")
                    keys.check(d.positions)
                out.append(d)
        return out

    def _accrue_failed(self, venue: str, ts_ns: int, exc: Exception) -> None:
        """A venue's ``accrue`` failed: a live read failure degrades it (retried at the next poll); anything else
        takes it out. Recorded in the history either way."""
        self.execution_history.append(HistoryRecord.failure(ts_ns, venue, "accrue", None, exc))
        if self.ledger is None and isinstance(exc, LiveExecutionError):
            reason = failure_reason("accrue", exc)
            log.warning("venue %s is degraded: %s", venue, reason)
            self._degraded[venue] = reason
            self._set_health(self._venues.get(venue), "degraded", reason)
            return
        self._fail_venue(venue, "accrue", exc)

    # -- execution -------------------------------------------------------------------------------
    def execute(self, timestamp: datetime | str,
                instruction: InstructionBase | Mapping[str, Any] | str) -> ExecutionDeltas:
        """Execute one instruction at ``timestamp`` (aware) and return its deltas.

        Raises a typed :class:`~basis_core.errors.BasisError`; a failed instruction changes nothing
        and is recorded in ``execution_history`` with ``success=False``.
        """
        ts: Any
        instr: Any
        # the library's Decimal context (numeric.library_context, inlined: one frame less on every instruction)
        prev: Any = _getcontext()
        if prev.prec < PRECISION:
            try:
                _setcontext(_numeric_thread.ctx)
            except AttributeError:
                _setcontext(_thread_context())
        else:
            prev = None
        lock = self._exec_lock  # backtest: the manager's lock; live: none (venue calls run concurrently)
        lock.acquire()
        try:
            try:
                now = self._now
                if timestamp is now[0]:  # the clock's own timestamp object again: its ns are known
                    ts, ts_ns = timestamp, now[1]
                else:
                    ts = timestamp if (type(timestamp) is timeutil._PD_TIMESTAMP
                                       and timestamp.tzinfo is timeutil._PD_UTC) else to_utc(timestamp)  # type: ignore[union-attr]
                    ts_ns = ts.value
                instr = instruction if type(instruction) in _MODEL_TYPES else parse_instruction(instruction)  # type: ignore[arg-type]
            except BasisError as exc:
                core_op = _core_operation(instruction)
                if core_op == "paired":  # a saga over ordinary instructions (basis_core.paired)
                    from basis_core.paired.saga import execute_paired
                    return execute_paired(self, timestamp, instruction)
                if core_op == "move":  # a timed transfer between venues (basis_core.transit)
                    from basis_core.transit.desk import execute_move
                    return execute_move(self, timestamp, instruction)
                self._record_early_failure(timestamp, instruction, exc)
                raise
            except OverflowError:  # a UTC Timestamp (not in nanoseconds) outside the nanosecond range
                try:
                    to_utc(timestamp)
                    err = ClockError("timestamp: outside the supported range")
                except ClockError as e:
                    err = e
                self._record_early_failure(None, instruction, err)
                raise err from None
            if ts_ns != self.clock.now_ns:
                try:
                    if self.ledger is not None:
                        self._advance(ts, ts_ns)
                    else:
                        with self._lock:
                            self._step_clock(ts, ts_ns)
                except BasisError as exc:
                    self._record_early_failure(ts, instr, exc)
                    raise
            cid = instr.client_id
            if cid is not None:
                done = self._done.get((instr.venue, cid))
                if done is not None:
                    if done[0] != instr:
                        dup = DuplicateClientIdError(
                            "client_id", f"{cid!r} was already used for a different instruction on {instr.venue!r}")
                        self._record_early_failure(ts, instr, dup)
                        raise dup
                    return done[1]
            op = instr.operation
            if self._min_corridor is not None and self.ledger is None and op != "cancel_order":
                self._check_corridor_live(ts, instr)
            if op == "atomic" and (self.execution_mode == "backtest" or instr.venue == "atomic"):
                result = self._execute_atomic(ts, instr)
            elif self._min_corridor is not None and self.ledger is not None:
                result = self._execute_guarded(ts, instr)
            elif op == "swap" and instr.venue == ROUTER_VENUE:
                result = self._execute_routed(ts, instr)
            else:
                run = self._runs.get((instr.venue, op))
                result = run(ts, instr) if run is not None else self._route(ts, instr)
            if cid is not None:
                done_by_id = self._done
                done_by_id[(instr.venue, cid)] = (instr, result)
                # with a history limit (a long live or paper run) the results remembered by client id are bounded
                # too: the latest max(limit, DONE_KEPT_MIN); older ids are the venue's journal's to answer
                limit = self.settings.history_limit
                if limit is not None and len(done_by_id) > max(limit, DONE_KEPT_MIN):
                    del done_by_id[next(iter(done_by_id))]  # the oldest (dicts keep insertion order)
            return result
        finally:
            lock.release()
            if prev is not None:
                _setcontext(prev)

    def _route(self, ts: Any, instr: Any) -> ExecutionDeltas:
        run = self._runs.get((instr.venue, instr.operation))
        if run is None:
            try:
                run = self._caller(instr.venue, OPERATION_HOOKS[instr.operation]).runner()
            except BasisError as exc:
                self._record_early_failure(ts, instr, exc)
                raise
            self._runs[(instr.venue, instr.operation)] = run
        return run(ts, instr)  # type: ignore[no-any-return]

    def _execute_routed(self, ts: Any, instr: Any) -> ExecutionDeltas:
        """A swap with ``venue: "auto"``: split across the installed AMM venues' pools and executed as one
        atomic bundle (:mod:`basis_core.best_execution.router`)."""
        try:
            run = prepare_routed(self, ts, instr)
        except BaseException as exc:
            self._record_failure(ts, instr, exc)
            raise
        return run()  # type: ignore[no-any-return]  # the bundle records its own failure

    def _execute_atomic(self, ts: Any, bundle: Atomic) -> ExecutionDeltas:
        """Backtest (or core-run) atomic bundle: every step and the post-condition, or nothing."""
        ledger = self.ledger
        if ledger is None:
            raise UnsupportedOperationError(bundle.venue, "atomic")
        parts: list[Mapping[str, Decimal]] = []
        fees: list[Mapping[str, Decimal]] = []
        pnl: dict[str, Decimal] = {}
        self._pending_history.append([])
        ledger.begin()
        try:
            fl = bundle.flash_loan
            wallet = None
            if fl is not None:
                lender = self.venue_info(fl.venue)
                premium = lender.flash_loan_premium
                if premium is None:
                    raise UnsupportedOperationError(fl.venue, "flash_loan")
                wallet = instrument_key("ethereum", "wallet", fl.asset)
                ledger.apply({wallet: fl.amount})
                parts.append({wallet: fl.amount})
            for i, step in enumerate(bundle.steps):
                try:
                    d = self._route(ts, step)
                except BasisError as exc:
                    if hasattr(exc, "field"):
                        exc.field = f"steps.{i}.{exc.field}"  # type: ignore[attr-defined]
                        exc.args = (f"{exc.field}: {exc.reason}",)  # type: ignore[attr-defined]
                    raise
                parts.append(d.positions)
                fees.append(d.fees)
                for k, v in d.pnl.items():
                    pnl[k] = pnl.get(k, Decimal(0)) + v
            if fl is not None and wallet is not None:
                fee = fl.amount * premium  # type: ignore[operator]
                repay = {wallet: -(fl.amount + fee)}
                ledger.apply(repay, field="flash_loan.amount")
                parts.append(repay)
                fees.append({wallet: -fee})
                snap = self.data_provider.get_data(ts) if self.data_provider else None
                if snap is not None:
                    from basis_core.data.prices import usd_price
                    pnl["flash_loan_fee"] = pnl.get("flash_loan_fee", Decimal(0)) - fee * usd_price(snap, fl.asset)
            if bundle.min_health_factor is not None:
                bal = self.get_balances(ts, bundle.health_factor_venue)
                hf = bal.get(f"{bundle.health_factor_venue}:metric:health_factor")
                if hf is None or hf < bundle.min_health_factor:
                    raise HealthFactorError("min_health_factor",
                                            f"health factor after the bundle is {hf}, below {bundle.min_health_factor}")
        except BaseException as exc:
            ledger.rollback()
            self._pending_history.pop()
            self._record_failure(ts, bundle, exc)
            raise
        ledger.commit()
        bundle_no = next(self._bundles)
        for step_ts, step in self._pending_history.pop():
            self._record_success(step_ts, step, bundle_no)
        result = ExecutionDeltas(
            venue=bundle.venue, operation="atomic", timestamp=ts, positions=merge_positions(*parts),
            fees=merge_positions(*fees), status="filled", client_id=bundle.client_id, pnl=pnl,
            details={"steps": len(bundle.steps)},
        )
        self.execution_history.add_deltas(ts.value, result, bundle_no)
        return result

    def _execute_guarded(self, ts: Any, instr: Any) -> ExecutionDeltas:
        """Backtest with ``min_corridor_move``: the instruction runs in a transaction and is rolled back (a
        CorridorError naming the leg) when it leaves an ETH move smaller than the bound that liquidates a leg and
        narrower than before (an instruction that widens a too-narrow corridor is allowed)."""
        from basis_core.risk.corridor import corridor
        from basis_core.risk.guard import refusal

        ledger = self.ledger
        assert ledger is not None and self._min_corridor is not None
        bound = self._min_corridor
        before = corridor(self, ts, drivers=("eth",), tol=_GUARD_TOL).eth_move
        self._pending_history.append([])
        ledger.begin()
        try:
            result = self._route(ts, instr)
            err = refusal(before, corridor(self, ts, drivers=("eth",), tol=_GUARD_TOL), bound, instr.operation, False)
            if err is not None:
                raise err
        except BaseException as exc:
            ledger.rollback()
            self._pending_history.pop()
            self._record_failure(ts, instr, exc)
            raise
        ledger.commit()
        for step_ts, step in self._pending_history.pop():
            self._record_success(step_ts, step)
        return result

    def _check_corridor_live(self, ts: Any, instr: Any) -> None:
        """Live with ``min_corridor_move``, before anything is sent: the corridor as if ``instr`` filled now at the
        market (its venue's ``risk_state`` projects it, :attr:`basis_core.risk.Shock.pending`) against the corridor
        now; CorridorError naming the leg (recorded, nothing sent) when a smaller ETH move than the bound would
        liquidate a leg and the instruction narrows the corridor. Any instruction kind: each venue projects the
        instructions addressed to it (:func:`basis_core.risk.guard.pending_for`: paired legs, bundle steps, the
        source of a move)."""
        from basis_core.risk.corridor import corridor
        from basis_core.risk.guard import refusal

        bound = self._min_corridor
        assert bound is not None
        before = corridor(self, ts, drivers=("eth",), tol=_GUARD_TOL).eth_move
        after = corridor(self, ts, drivers=("eth",), tol=_GUARD_TOL, pending=instr)
        err = refusal(before, after, bound, instr.operation, True)
        if err is not None:
            self._record_early_failure(ts, instr, err)
            raise err

    # -- queries ---------------------------------------------------------------------------------
    @library_context
    def get_balances(self, timestamp: datetime | str, venue: str, options: Any = None) -> dict[str, Decimal]:
        """The venue's balances and metrics (``get_balances`` hook)."""
        ts = to_utc(timestamp)
        with self._exec_lock:  # backtest: never while an instruction writes the ledger
            result = self._caller(venue, "get_balances")(timestamp=ts, instruction=options)
        if result is None:
            raise VenueContractError(f"venue {venue!r} returned None from get_balances")
        return result  # type: ignore[no-any-return]

    @library_context
    def risk_state(self, timestamp: datetime | str, venue: str, shock: Any = None) -> list[Any] | None:
        """The venue's legs' liquidation risk under ``shock`` (``risk_state`` hook; a
        :class:`basis_core.risk.Shock`, None: now); UnsupportedOperationError when the venue does not report it."""
        ts = to_utc(timestamp)
        if shock is not None and getattr(shock, "tokens", False) is None:  # the declarations in force travel along
            shock = shock.with_(tokens=self._token_rules())
        with self._exec_lock:
            return self._caller(venue, "risk_state")(timestamp=ts, instruction=shock)  # type: ignore[no-any-return]

    def _token_rules(self) -> Mapping[str, Any]:
        """The token price declarations in force: the data provider's (its venues' and the installed ones), else
        the installed venues' and this manager's plugins'."""
        from basis_core.data.prices import collect_token_prices, installed_token_prices, token_prices_of

        if self.data_provider is not None:
            return token_prices_of(self.data_provider)
        return {**installed_token_prices(), **collect_token_prices(self.pm)}

    @library_context
    def quote(self, timestamp: datetime | str, instruction: Any) -> ExecutionDeltas:
        """Quote a swap without executing it."""
        ts = to_utc(timestamp)
        instr = parse_instruction(instruction)
        with self._exec_lock:
            if instr.operation == "swap" and instr.venue == ROUTER_VENUE:
                return quote_routed(self, ts, instr)
            result = self._caller(instr.venue, "quote_swap")(timestamp=ts, instruction=instr)
        if result is None:
            raise VenueContractError(f"venue {instr.venue!r} returned None from quote_swap")
        return result  # type: ignore[no-any-return]

    def get_execution_status(self) -> dict[str, Any]:
        """The run's status: mode, clock, execution counts, and per venue its ``get_execution_status()`` with
        ``status`` ("healthy", "degraded" or "failed") and the ``reason`` when not healthy (failed venues too)."""
        with self._lock:
            ok = self.execution_history.successes()
            n = len(self.execution_history)
            venues = {name: self._venue_status(name) for name in sorted({*self._venues, *self._unavailable})}
            return {
                "execution_mode": self.execution_mode,
                "venues": venues,
                "executions": n,
                "succeeded": ok,
                "failed": n - ok,
                "clock": None if self.clock.now_ns is None else from_ns(self.clock.now_ns).isoformat(),
            }

    def _venue_status(self, name: str) -> dict[str, Any]:
        """One venue's status dict; the manager's verdict (failed / degraded and why) overrides the venue's."""
        obj = self._venues.get(name) or self._failed_objs.get(name)
        base: dict[str, Any] = {"venue": name, "execution_mode": self.execution_mode, "active_orders": 0}
        reason = self._unavailable.get(name) or self._degraded.get(name)
        if obj is not None:
            try:
                got = obj.get_execution_status()
                base.update(got if isinstance(got, Mapping) else {})
            except Exception as exc:
                reason = reason or failure_reason("get_execution_status", exc)
        status = "failed" if name in self._unavailable else "degraded" if reason else "healthy"
        base.update(status=status, reason=reason)
        return base

    # -- history (called by the wrappers) ------------------------------------------------------------
    def _record_success(self, timestamp: Any, result: ExecutionDeltas, bundle: int | None = None) -> None:
        if self._pending_history:
            self._pending_history[-1].append((timestamp, result))
            return
        now = self._now
        self._add_history(now[1] if timestamp is now[0] else timestamp.value, result, bundle)
        v = self._venues.get(result.venue)
        if v is not None:
            v.orders_executed += 1
            v.last_execution_timestamp = timestamp

    def _report_effect(self, timestamp: Any, result: ExecutionDeltas) -> None:
        """``VenueContext.report``: a venue's effect outside an instruction (a live order adopted at start-up)
        enters the history and the venue's statistics like an execution."""
        ts = to_utc(timestamp)
        with self._lock:
            self.execution_history.add_deltas(ts.value, result)
            v = self._venues.get(result.venue)
            if v is not None:
                v.orders_executed += 1
                v.last_execution_timestamp = ts

    def _record_failure(self, timestamp: Any, instruction: Any, exc: BaseException) -> None:
        if self._pending_history:
            return
        venue = getattr(instruction, "venue", "?")
        rec = HistoryRecord.failure(timestamp.value, venue, getattr(instruction, "operation", "?"),
                                    getattr(instruction, "client_id", None), exc)
        self.execution_history.append(rec)
        v = self._venues.get(venue)
        if v is not None:
            v.orders_failed += 1
            v.last_execution_timestamp = timestamp

    def _record_early_failure(self, timestamp: Any, instruction: Any, exc: BaseException) -> None:
        """A failure before routing (parse, clock, unknown venue)."""
        if self._pending_history:
            return
        try:
            ts_ns = to_utc(timestamp).value
        except Exception:
            ts_ns = self.clock.now_ns or 0
        try:
            if isinstance(instruction, Mapping):
                venue, op = instruction.get("venue", "?"), instruction.get("operation", "?")
                cid = instruction.get("client_id")
            else:
                venue = getattr(instruction, "venue", "?")
                op = getattr(instruction, "operation", "?")
                cid = getattr(instruction, "client_id", None)
        except Exception:  # a hostile mapping: record what is known
            venue, op, cid = "?", "?", None
        self.execution_history.append(HistoryRecord.failure(ts_ns, _label(venue), _label(op),
                                                            None if cid is None else _label(cid), exc))

    def __repr__(self) -> str:
        return f"<ExecutionInterfaceManager mode={self.execution_mode} venues={sorted(self._venues)}>"


__all__ = ["ExecutionInterfaceManager", "InstructionValidationError"]
