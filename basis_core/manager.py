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
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from basis_core import hookspecs
from basis_core.backtest.clock import Clock
from basis_core.backtest.ledger import Ledger
from basis_core.config import BasisSettings, ExecutionMode, load_settings
from basis_core.data.provider import DataProvider
from basis_core.deltas import ExecutionDeltas, instrument_key, merge_positions
from basis_core.discovery import DiscoveryReport, LoadedVenue, discover_venues
from basis_core.errors import (
    BasisError,
    ConfigError,
    DuplicateClientIdError,
    HealthFactorError,
    InstructionValidationError,
    UnknownVenueError,
    UnsupportedOperationError,
    VenueContractError,
)
from basis_core.history import HistoryLog, HistoryRecord
from basis_core.hookspecs import OPERATION_HOOKS
from basis_core.instructions import MODELS, Atomic, InstructionBase, parse_instruction
from basis_core.interfaces import VenueContext, VenueInfo
from basis_core.numeric import library_context
from basis_core.routing import HookRegistry, Route
from basis_core.timeutil import from_ns, is_utc_timestamp, to_utc
from basis_core.wrappers import CoreWrapper, check_accrual

log = logging.getLogger(__name__)

_CORE_PLUGIN = "basis_core.core"
_MODEL_TYPES = frozenset(MODELS.values())


class ExecutionInterfaceManager:
    """Routes instructions to venue plugins; one instance per run (no global state).

    :param config: BasisSettings, a dict, a YAML / TOML path, or None (environment, prefix ``BASIS_``).
    :param data_provider: market data for backtests (the synthetic market when None in backtest mode).
    :param execution_mode: ``"backtest"`` | ``"live"``; default from ``BASIS_EXECUTION_MODE``.
    :param autoload: discover venues through entry points (default from config, True).
    :param plugins: venue plugin objects or classes to register by hand (host apps, tests).
    :param ledger: a backtest ledger to use (default: a new one with ``config.initial_balances``).
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
        self._clock_ts: Any = None  # the timestamp object of the clock's time (reused as the next `previous`)
        self._max_notional: Decimal | None = self.settings.max_notional
        self.execution_history = HistoryLog()
        self._add_history = self.execution_history.add_deltas
        self._pending_history: list[list[tuple[Any, ...]]] = []
        self._bundles = itertools.count(1)  # numbers of atomic bundles (history records carry them)
        self._done: dict[tuple[str, str], tuple[Any, ExecutionDeltas]] = {}
        self._callers: dict[tuple[str, str], Route] = {}
        self._runs: dict[tuple[str, str], Any] = {}  # (venue, operation) -> Route.runner()
        self._venues: dict[str, Any] = {}
        self._venue_dists: dict[str, LoadedVenue] = {}

        self.pm = HookRegistry(hookspecs.PROJECT, on_change=self._forget_routes)
        self.pm.add_hookspecs(hookspecs)
        self._core = CoreWrapper(self)
        self.pm.register(self._core, name=_CORE_PLUGIN)
        self.context = VenueContext(self.execution_mode, self.settings, self.data_provider, self.ledger, self.clock,
                                    report=self._report_effect)
        self.pm.hook.configure.call_historic(kwargs={"context": self.context})

        self.discovery = DiscoveryReport()
        if self.settings.autoload if autoload is None else autoload:
            self.discovery = discover_venues(self.settings.venues, self.settings.blocked_venues)
            for rec in self.discovery.loaded:
                self._venue_dists[rec.name] = rec
                self.register(rec.plugin_class, name=rec.name)
        for p in plugins:
            self.register(p)
        self.pm.check_pending()

    # -- registration -------------------------------------------------------------------------
    def register(self, plugin: Any, name: str | None = None) -> Any:
        """Register a venue plugin object (or class, instantiated here) under its venue name."""
        obj = plugin() if isinstance(plugin, type) else plugin
        venue = name or getattr(obj, "name", None)
        if not venue:
            raise ConfigError("plugin: a venue plugin needs a `name`")
        if venue in self.settings.blocked_venues:
            log.info("venue %s is blocked by configuration", venue)
            return None
        if self.settings.venues is not None and venue not in self.settings.venues:
            log.info("venue %s is not in the allow-list", venue)
            return None
        if venue in self._venues:
            raise ConfigError(f"venue: {venue!r} is already registered")
        self.pm.register(obj, name=venue)
        self._venues[venue] = obj
        return obj

    def unregister(self, name: str) -> None:
        obj = self._venues.pop(name)
        self.pm.unregister(obj)

    def venue(self, name: str) -> Any:
        """The registered plugin object of venue ``name`` (UnknownVenueError otherwise)."""
        try:
            return self._venues[name]
        except KeyError:
            raise UnknownVenueError(name, self._venues) from None

    def venues(self) -> list[dict[str, Any]]:
        """Installed venues: name, distribution, version, kind, operations."""
        out = []
        for name, obj in sorted(self._venues.items()):
            info: VenueInfo = obj.venue_info()
            rec = self._venue_dists.get(name)
            out.append({**info.to_dict(), "distribution": rec.distribution if rec else None,
                        "version": rec.version if rec else None})
        return out

    # -- routing --------------------------------------------------------------------------------
    def _forget_routes(self) -> None:
        """The plugin set changed: routes are rebuilt on their next use."""
        self._callers.clear()
        self._runs.clear()

    def _caller(self, venue: str, hook: str) -> Any:
        key = (venue, hook)
        caller = self._callers.get(key)
        if caller is None:
            obj = self.venue(venue)
            impls = [i for i in getattr(self.pm.hook, hook).get_hookimpls() if i.plugin is obj]
            if not impls:
                op = next((o for o, h in OPERATION_HOOKS.items() if h == hook), hook)
                raise UnsupportedOperationError(venue, op, obj.venue_info().operations)
            others = [p for n, p in self._venues.items() if n != venue]
            caller = Route(self.pm, hook, others, self._core)
            self._callers[key] = caller
        return caller

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
        """
        ts = to_utc(timestamp)
        return self._advance(ts, ts.value, poll_live=True)

    def _advance(self, ts: Any, ts_ns: int, poll_live: bool = False) -> list[ExecutionDeltas]:
        prev = self.clock.advance(ts_ns)
        last, self._clock_ts = self._clock_ts, ts
        if self.execution_mode != "backtest":
            if not poll_live:
                return []
            previous = ts if prev is None else last if last is not None and last.value == prev else from_ns(prev)
        elif prev is None or prev == ts_ns:
            return []
        else:
            previous = last if last is not None and last.value == prev else from_ns(prev)
        effects: list[ExecutionDeltas] = []
        for res in self.pm.hook.accrue(previous=previous, timestamp=ts):
            if res:
                effects.extend(res)
        for d in effects:
            check_accrual(d)
        ledger = self.ledger
        for d in effects:
            if ledger is not None and d.positions:
                ledger.apply(d.positions)
            self.execution_history.add_deltas(ts_ns, d)
        return effects

    # -- execution -------------------------------------------------------------------------------
    @library_context
    def execute(self, timestamp: datetime | str,
                instruction: InstructionBase | Mapping[str, Any] | str) -> ExecutionDeltas:
        """Execute one instruction at ``timestamp`` (aware) and return its deltas.

        Raises a typed :class:`~basis_core.errors.BasisError`; a failed instruction changes nothing
        and is recorded in ``execution_history`` with ``success=False``.
        """
        ts: Any
        instr: Any
        try:
            ts = timestamp if is_utc_timestamp(timestamp) else to_utc(timestamp)
            instr = instruction if type(instruction) in _MODEL_TYPES else parse_instruction(instruction)  # type: ignore[arg-type]
        except BasisError as exc:
            self._record_early_failure(timestamp, instruction, exc)
            raise
        ts_ns = ts.value
        if ts_ns != self.clock.now_ns:
            try:
                self._advance(ts, ts_ns)
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
        if instr.operation == "atomic" and (self.execution_mode == "backtest" or instr.venue == "atomic"):
            result = self._execute_atomic(ts, instr)
        else:
            run = self._runs.get((instr.venue, instr.operation))
            result = run(ts, instr) if run is not None else self._route(ts, instr)
        if cid is not None:
            self._done[(instr.venue, cid)] = (instr, result)
        return result

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
                lender = self.venue(fl.venue).venue_info()
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

    # -- queries ---------------------------------------------------------------------------------
    @library_context
    def get_balances(self, timestamp: datetime | str, venue: str, options: Any = None) -> dict[str, Decimal]:
        """The venue's balances and metrics (``get_balances`` hook)."""
        ts = to_utc(timestamp)
        result = self._caller(venue, "get_balances")(timestamp=ts, instruction=options)
        if result is None:
            raise VenueContractError(f"venue {venue!r} returned None from get_balances")
        return result  # type: ignore[no-any-return]

    @library_context
    def quote(self, timestamp: datetime | str, instruction: Any) -> ExecutionDeltas:
        """Quote a swap without executing it."""
        ts = to_utc(timestamp)
        instr = parse_instruction(instruction)
        result = self._caller(instr.venue, "quote_swap")(timestamp=ts, instruction=instr)
        if result is None:
            raise VenueContractError(f"venue {instr.venue!r} returned None from quote_swap")
        return result  # type: ignore[no-any-return]

    def get_execution_status(self) -> dict[str, Any]:
        ok = self.execution_history.successes()
        return {
            "execution_mode": self.execution_mode,
            "venues": {n: v.get_execution_status() for n, v in sorted(self._venues.items())},
            "executions": len(self.execution_history),
            "succeeded": ok,
            "failed": len(self.execution_history) - ok,
            "clock": None if self.clock.now_ns is None else from_ns(self.clock.now_ns).isoformat(),
        }

    # -- history (called by the wrappers) ------------------------------------------------------------
    def _record_success(self, timestamp: Any, result: ExecutionDeltas, bundle: int | None = None) -> None:
        if self._pending_history:
            self._pending_history[-1].append((timestamp, result))
            return
        self._add_history(timestamp.value, result, bundle)
        v = self._venues.get(result.venue)
        if v is not None:
            v.orders_executed += 1
            v.last_execution_timestamp = timestamp

    def _report_effect(self, timestamp: Any, result: ExecutionDeltas) -> None:
        """``VenueContext.report``: a venue's effect outside an instruction (a live order adopted at start-up)
        enters the history and the venue's statistics like an execution."""
        ts = to_utc(timestamp)
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
        except BasisError:
            ts_ns = self.clock.now_ns or 0
        if isinstance(instruction, Mapping):
            venue, op = instruction.get("venue", "?"), instruction.get("operation", "?")
            cid = instruction.get("client_id")
        else:
            venue = getattr(instruction, "venue", "?")
            op = getattr(instruction, "operation", "?")
            cid = getattr(instruction, "client_id", None)
        self.execution_history.append(HistoryRecord.failure(ts_ns, str(venue), str(op), cid, exc))

    def __repr__(self) -> str:
        return f"<ExecutionInterfaceManager mode={self.execution_mode} venues={sorted(self._venues)}>"


__all__ = ["ExecutionInterfaceManager", "InstructionValidationError"]
