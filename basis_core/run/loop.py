"""The paper / live run loop: a backtest scenario's strategies on the wall clock (``basis run``).

Each step (``period.step`` apart, on the run's clock, :mod:`basis_core.run.clock`):

1. the step is marked in flight in ``state.json``;
2. the first step runs the pre-flight (:mod:`basis_core.run.preflight`): every leg of every strategy is checked
   and every missing piece is reported at once (:class:`~basis_core.errors.PreflightError`, the run stops)
   before anything is sent; later steps check the market data the legs read (missing or stale: the step is
   skipped, recorded, and the run goes on: nothing is traded on stale data);
3. the scenario's scheduled instructions that fell due run;
4. ``manager.advance_to(ts)``: fills of resting orders, funding, interest since the last step;
5. the first step calls each strategy's ``start``; every step each strategy's ``step``. Strategies get a
   :class:`~basis_core.run.proxy.RunManager` (deterministic client ids, instruction log);
6. the step is recorded (``on_step`` and the run-state store when installed), the paper ledger and each
   strategy's :meth:`~basis_core.backtest.strategies.base.Strategy.state_dict` are saved, and ``state.json`` says
   the step is done.

Modes: ``paper``: a backtest-mode manager (the backtest's venue simulators fill on the market data), its ledger
saved in the state folder; no credentials. ``live``: a live manager (credentials from the environment / secrets
file as usual) whose journal is the state folder's ``journal.sqlite``; both have the run's market data as their
``data_provider``.

Stopping: :meth:`Runner.request_stop` (the CLI calls it on SIGINT / SIGTERM) lets the step in flight finish, then
the journal is flushed and the state saved. A process killed outright (SIGKILL, power loss) leaves the step in
flight marked: a restart on the same folder resumes it (live: replays it from the instruction log, nothing sent
twice; paper: redoes it from the ledger saved at the end of the step before). Strategies continue from their saved
state without re-opening legs.

Clock jumps: when the clock is a whole step or more past the step due (the machine slept), the missed steps are
not run blindly: ``gap_policy="skip"`` (default) runs one step now and logs how many were skipped;
``"catch_up"`` runs up to ``max_catch_up`` missed steps back to back (more are skipped). Either way it is an event
in ``state.json``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from basis_core.backtest.scenario import Scenario, load_scenario
from basis_core.errors import BasisError, ConfigError, MarketDataError, PreflightError, RunResumeError
from basis_core.history import HistoryLog
from basis_core.run import preflight
from basis_core.run.clock import GapPolicy, RunClock, SystemClock, next_step
from basis_core.run.proxy import RunManager
from basis_core.run.state import INSTRUCTIONS_FILE, JOURNAL_FILE, MAX_EVENTS, InstructionLog, StateFolder, fingerprint
from basis_core.timeutil import from_ns

log = logging.getLogger(__name__)

RunMode = Literal["paper", "live"]
#: what a finished :meth:`Runner.run` reports in ``status``
RunStatus = Literal["finished", "stopped", "failed"]
#: execution-history records a run keeps in memory when ``history_limit`` is not set (the manager's setting or
#: :class:`Runner`'s argument): older ones are dropped once the run-state store has attributed and stored them
RUN_HISTORY_LIMIT = 1000


@dataclass
class StepReport:
    """What one step did (passed to ``on_step``)."""

    step: int
    ts_ns: int
    executed: int
    failures: list[str]
    skipped_before: int = 0
    replayed: bool = False
    #: seconds spent on the step's work: market data check, schedule, ``advance_to``, strategies (and pre-flight)
    work_seconds: float = 0.0
    #: seconds spent saving and recording it: state files, paper ledger, run-state store
    book_seconds: float = 0.0


@dataclass
class RunResult:
    """How a run ended: ``status`` (``finished``: the step limit or ``until`` reached; ``stopped``: asked to stop;
    ``failed``: an error stopped it, in ``error``), steps done in all runs of the folder and in this one, grid
    steps skipped after clock jumps, unhedged exposures, the positions at the end, and the recent events."""

    status: RunStatus
    steps: int
    steps_this_run: int
    skipped_steps: int
    resumed: bool
    unhedged: list[str]
    positions: dict[str, Decimal]
    events: list[dict[str, Any]]
    state_dir: Path
    error: str | None = None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "steps": self.steps, "steps_this_run": self.steps_this_run,
                "skipped_steps": self.skipped_steps, "resumed": self.resumed, "unhedged": list(self.unhedged),
                "positions": {k: str(v) for k, v in sorted(self.positions.items())}, "events": self.events[-10:],
                "state_dir": str(self.state_dir), "error": self.error, "problems": list(self.problems)}


def scenario_fingerprint(sc: Scenario) -> str:
    """What identifies a scenario's run: its content (not the file it came from)."""
    return fingerprint(sc.model_dump(mode="json", exclude={"source_path"}))


def build_manager(sc: Scenario, mode: RunMode, provider: Any, state_dir: Path, *,
                  config: Mapping[str, Any] | None = None, plugins: Iterable[Any] = (),
                  autoload: bool | None = None) -> Any:
    """The run's manager: paper: the backtest's (simulated venues, the scenario's balances); live: a live one with
    the scenario's venues and venue settings, the environment's credentials, the folder's journal."""
    from basis_core.backtest.runner import make_manager
    from basis_core.manager import ExecutionInterfaceManager

    if mode == "paper":
        return make_manager(sc, provider, plugins=plugins, autoload=autoload)
    cfg: dict[str, Any] = {"venue_config": {k: dict(v) for k, v in sc.venue_config.items()},
                           "journal_path": str(state_dir / JOURNAL_FILE)}
    if sc.venues is not None:
        cfg["venues"] = list(sc.venues)
    if sc.max_notional is not None:
        cfg["max_notional"] = sc.max_notional
    for k, v in (config or {}).items():
        if k == "venue_config":
            for venue, opts in v.items():
                cfg["venue_config"].setdefault(venue, {}).update(opts)
        else:
            cfg[k] = v
    return ExecutionInterfaceManager(cfg, data_provider=provider, execution_mode="live", plugins=plugins,
                                     autoload=autoload)


class Runner:
    """Runs a scenario's strategies in paper or live mode (see the module docstring).

    :param scenario: a :class:`Scenario`, a path, a bundled scenario's name, or a dict.
    :param mode: ``"paper"`` or ``"live"``.
    :param state_dir: the run's state folder (created; a folder of an earlier run of this scenario and mode resumes).
    :param data_provider: the market data (answers ``get_data(ts)`` like the backtest's provider): the live data
        provider, or any :class:`~basis_core.data.provider.DataProvider` (a replayed path).
    :param clock: the run's clock (default: the wall clock).
    :param steps: stop after this many steps in this process (None: no limit).
    :param until: stop before the first step after this time (UTC ns or anything :func:`to_utc` reads).
    :param gap_policy: ``"skip"`` or ``"catch_up"`` whole steps missed after a clock jump.
    :param max_catch_up: at most this many missed steps are caught up (``catch_up``).
    :param on_step: called with a :class:`StepReport` after each step (one call per step).
    :param config: extra manager settings (live: e.g. ``retry_delay_seconds``; ``venue_config`` merged per venue).
    :param manager: a ready manager (host apps, tests): used instead of building one.
    :param record: write the run-state store (:mod:`basis_core.runstate`).
    :param durable_log: fsync the state files and the instruction log (default: in live mode), so they survive an
        OS crash or a power loss too; a killed process loses nothing either way (files are replaced atomically).
    :param history_limit: execution-history records kept in memory (default: the manager's ``history_limit``
        setting, else :data:`RUN_HISTORY_LIMIT`); after each step the older ones are dropped once the step's
        consumers (this loop, the run-state store) have taken them, so memory stays flat however long it runs.
    """

    def __init__(self, scenario: Scenario | str | Path | Mapping[str, Any], *, mode: RunMode,
                 state_dir: str | Path, data_provider: Any, clock: RunClock | None = None,
                 steps: int | None = None, until: Any = None, gap_policy: GapPolicy = "skip",
                 max_catch_up: int = 3, on_step: Callable[[StepReport], None] | None = None,
                 config: Mapping[str, Any] | None = None, manager: Any = None, plugins: Iterable[Any] = (),
                 autoload: bool | None = None, record: bool = True, durable_log: bool | None = None,
                 history_limit: int | None = None) -> None:
        from basis_core.backtest.runner import _scenario_source
        from basis_core.timeutil import to_utc

        if mode not in ("paper", "live"):
            raise ConfigError(f"mode: must be 'paper' or 'live', got {mode!r}")
        if gap_policy not in ("skip", "catch_up"):
            raise ConfigError(f"gap_policy: must be 'skip' or 'catch_up', got {gap_policy!r}")
        if data_provider is None:
            raise ConfigError("data_provider: a run needs market data (the live data provider, or a replayed path)")
        if isinstance(scenario, str | Path) and not isinstance(scenario, Scenario):
            scenario = _scenario_source(scenario)
        self.scenario: Scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.mode: RunMode = mode
        self._durable = durable_log if durable_log is not None else mode == "live"
        self.folder = StateFolder(state_dir, durable=self._durable)
        self.provider = data_provider
        self.clock: RunClock = clock or SystemClock()
        self.max_steps = steps
        self.until_ns = None if until is None else (until if isinstance(until, int) else to_utc(until).value)
        self.gap_policy: GapPolicy = gap_policy
        self.max_catch_up = max_catch_up
        self.on_step = on_step
        self.step_ns = int(self.scenario.period.step.value)
        self._config = dict(config or {})
        self._manager = manager
        self._plugins = list(plugins)
        self._autoload = autoload
        self._record = record
        if history_limit is not None and (type(history_limit) is not int or history_limit < 0):
            raise ConfigError(f"history_limit: must be a whole number >= 0, got {history_limit!r}")
        self._history_limit = history_limit
        self._stop = threading.Event()
        self._stop_reason = ""
        self.manager: Any = None

    # -- control ----------------------------------------------------------------------------------
    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop after the step in flight (safe from a signal handler or another thread)."""
        self._stop_reason = self._stop_reason or reason
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the run ----------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run until the step limit, ``until``, a stop request or an error; the state is saved in every case."""
        from basis_core.backtest.runner import _labels, _strategies

        sc = self.scenario
        run_id, resumed = self.folder.claim(sc.name, scenario_fingerprint(sc), self.mode)
        state = self.folder.load_state() or {}
        if not resumed or not state:
            state = {"run_id": run_id, "mode": self.mode, "scenario": sc.name, "steps": 0, "started": False,
                     "in_flight": None, "next_due_ns": None, "last_step_ns": None, "strategies": {},
                     "unhedged": [], "events": [], "skipped_steps": 0, "schedule_done": 0, "status": "running"}
        manager = self._manager or build_manager(sc, self.mode, self.provider, self.folder.path,
                                                 config=self._config, plugins=self._plugins, autoload=self._autoload)
        self.manager = manager
        self._bound_history(manager)
        capital: list[dict[str, Decimal]] = []
        active, _status = _strategies(sc, manager, capital)
        labels = _labels(active)
        ilog = InstructionLog(self.folder.file(INSTRUCTIONS_FILE), durable=self._durable)
        proxy = RunManager(manager, run_id, ilog)
        replay_step: int | None = None
        if resumed and state.get("started"):
            saved = state.get("strategies", {})
            for s, label in zip(active, labels, strict=True):
                if label in saved:
                    s.load_state_dict(saved[label])
        if self.mode == "paper" and resumed and manager.ledger is not None:
            self.folder.load_ledger(manager.ledger)
            if state.get("last_step_ns") is not None:  # the clock where it stopped: the next step accrues the gap
                manager.advance_to(from_ns(state["last_step_ns"]))
        if state.get("in_flight") is not None:
            if self.mode == "live":
                replay_step = int(state["in_flight"])
                self._event(state, "resume", f"step {replay_step} was in flight when the last process ended: "
                                             "it is replayed from the instruction log")
            else:
                self._event(state, "resume", f"step {state['in_flight']} was in flight when the last process ended: "
                                             "it is redone from the ledger of the step before")
        state["status"] = "running"
        state["pid_started_ns"] = time.time_ns()
        recorder = self._recorder(manager, state, resumed)
        done_here = 0
        status: RunStatus = "finished"
        error: str | None = None
        problems: list[str] = []
        due = state.get("next_due_ns")
        try:
            while True:
                if self._stop.is_set():
                    status = "stopped"
                    break
                if self.max_steps is not None and done_here >= self.max_steps:
                    break
                now = self.clock.now()
                if due is None:
                    due = now - now % 1000  # whole microseconds (what datetimes and the stores keep)
                plan = next_step(int(due), now, self.step_ns, self.gap_policy, self.max_catch_up)
                if self.until_ns is not None and plan.at_ns > self.until_ns:
                    break
                if plan.skipped:
                    state["skipped_steps"] = state.get("skipped_steps", 0) + plan.skipped
                    self._event(state, "clock_jump",
                                f"the clock jumped {(now - int(due)) / 1e9:.0f} s past the step due at "
                                f"{from_ns(int(due)).isoformat()}: {plan.skipped} step(s) skipped, running one at "
                                f"{from_ns(plan.at_ns).isoformat()}", level=logging.WARNING)
                if not self.clock.wait_until(plan.at_ns, self._stop):
                    status = "stopped"
                    break
                if self.clock.now() >= plan.at_ns + self.step_ns:  # the clock jumped during the wait: plan again
                    due = plan.at_ns
                    continue
                ts_ns = max(plan.at_ns, self.clock.now() // 1000 * 1000)
                step_no = int(state["steps"])
                due = plan.at_ns + self.step_ns
                self._step(manager, proxy, ilog, active, labels, state, step_no, ts_ns,
                           replay_step == step_no, plan.skipped, recorder, due)
                replay_step = None
                done_here += 1
        except PreflightError as exc:
            status, error = "failed", str(exc)
            problems = [str(p) for p in exc.problems]
            self._event(state, "preflight", error, level=logging.ERROR)
        except BasisError as exc:
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            self._event(state, "error", error, level=logging.ERROR)
        except BaseException as exc:  # an unexpected error or KeyboardInterrupt: save what is known, re-raise
            state["status"] = "failed"
            self._event(state, "error", f"{type(exc).__name__}: {exc}", level=logging.ERROR)
            self._finish(manager, ilog, state, recorder, f"error: {type(exc).__name__}")
            raise
        if status == "stopped":
            self._event(state, "stop", f"stopped: {self._stop_reason or 'stop requested'}")
        state["status"] = status
        positions = self._positions(manager, state)
        self._finish(manager, ilog, state, recorder, status if error is None else f"error: {error}")
        return RunResult(status, int(state["steps"]), done_here, int(state.get("skipped_steps", 0)), resumed,
                         list(state.get("unhedged", [])), positions, list(state.get("events", [])),
                         self.folder.path, error, problems)

    # -- one step ---------------------------------------------------------------------------------
    def _step(self, manager: Any, proxy: RunManager, ilog: InstructionLog, active: list[Any], labels: list[str],
              state: dict[str, Any], step_no: int, ts_ns: int, replay: bool, skipped: int, recorder: Any,
              next_due: int) -> None:
        ts = from_ns(ts_ns)
        t0 = time.perf_counter()
        state["in_flight"] = step_no
        if self.mode == "live":  # live: a restart replays this step from the instruction log; paper: redoes it
            self.folder.save_state(state)
        t1 = time.perf_counter()
        proxy.begin_step(step_no, ilog.of_step(step_no) if replay else None)
        failures: list[str] = []
        h0 = len(manager.execution_history)
        if not state.get("started") and not proxy.replaying:  # before anything is sent: every leg ready, or every
            # problem at once (a replayed first step passed it before it sent what the log holds)
            preflight.require(manager, list(zip(labels, active, strict=True)), ts)
        stale = self._market_problems(manager, active, ts) if state.get("started") else []
        if stale:
            for msg in stale:
                failures.append(msg)
            self._event(state, "market_data", f"step {step_no} at {ts.isoformat()} skipped: " + "; ".join(stale),
                        level=logging.WARNING)
        else:
            self._schedule(proxy, state, ts_ns, failures)
            try:
                manager.advance_to(ts)
            except BasisError as exc:
                failures.append(f"advance_to: {type(exc).__name__}: {exc}")
            for i, (s, label) in enumerate(zip(active, labels, strict=True)):
                proxy.act_as(str(i))
                try:
                    if not state.get("started"):
                        s.start(proxy, ts)
                    s.step(proxy, ts)
                except (BasisError, ArithmeticError) as exc:
                    failures.append(f"{label}: {type(exc).__name__}: {exc}")
                    self._event(state, "strategy", f"step {step_no}: {label} failed: {type(exc).__name__}: {exc}",
                                level=logging.WARNING)
            state["started"] = True
            if replay:
                for row in proxy.unreplayed():
                    self._unhedged(state, f"step {step_no} (replayed): {row['client_id']} "
                                          f"{(row.get('instruction') or {}).get('operation')} went out before the "
                                          "restart and the strategy did not ask for it again")
        t2 = time.perf_counter()
        for s, label in zip(active, labels, strict=True):
            for msg in s.unhedged:
                if f"{label}: {msg}" not in state["unhedged"]:
                    self._unhedged(state, f"{label}: {msg}")
            state["strategies"][label] = s.state_dict()
        for rec in manager.execution_history[h0:]:
            if not rec.success:
                failures.append(f"{rec.venue} {rec.operation}: {rec.error}")
        if self.mode == "paper" and manager.ledger is not None:
            self.folder.save_ledger(manager.ledger)
        state["steps"] = step_no + 1
        state["last_step_ns"] = ts_ns
        state["in_flight"] = None
        state["next_due_ns"] = next_due
        state["last_failures"] = failures[-20:]
        self.folder.save_state(state)
        self._recorded(recorder, manager, ts, state, None if stale else self.provider.get_data(ts))
        self._trim_history(manager, recorder)
        report = StepReport(step_no, ts_ns, proxy.sent, failures, skipped, replay, work_seconds=t2 - t1,
                            book_seconds=(t1 - t0) + (time.perf_counter() - t2))
        if self.on_step is not None:
            self.on_step(report)

    def _market_problems(self, manager: Any, active: list[Any], ts: Any) -> list[str]:
        """Missing or stale market data the strategies' legs read at ``ts`` (nothing is traded on it)."""
        refs: set[str] = set()
        for s in active:
            try:
                for leg in s.required_legs(manager):
                    refs.update(leg.series)
            except (BasisError, AssertionError):
                continue
        try:
            snap = self.provider.get_data(ts)
        except MarketDataError as exc:
            return [f"{type(exc).__name__}: {exc}"]
        out = []
        for ref in sorted(refs):
            series, _, column = ref.partition(".")
            try:
                snap.get(series, column or "close")
            except MarketDataError as exc:
                out.append(f"{ref}: {type(exc).__name__}: {exc}")
        return out

    def _schedule(self, proxy: RunManager, state: dict[str, Any], ts_ns: int, failures: list[str]) -> None:
        """The scenario's scheduled instructions due by ``ts_ns`` (ones due before the run began are skipped)."""
        items = self.scenario.schedule
        i = int(state.get("schedule_done", 0))
        proxy.act_as("s")
        while i < len(items) and items[i].at.value <= ts_ns:
            item = items[i]
            i += 1
            if not state.get("started") and item.at.value < ts_ns - self.step_ns:
                self._event(state, "schedule", f"instruction at {item.at.isoformat()} is before the run began: "
                                               "skipped")
                continue
            try:
                proxy.execute(from_ns(ts_ns), item.instruction)
            except BasisError as exc:
                failures.append(f"schedule {item.at.isoformat()}: {type(exc).__name__}: {exc}")
        state["schedule_done"] = i

    # -- bookkeeping ------------------------------------------------------------------------------
    def _bound_history(self, manager: Any) -> None:
        """Bound the manager's execution history (``history_limit``; see :mod:`basis_core.history`)."""
        hist = manager.execution_history
        if isinstance(hist, HistoryLog):
            if self._history_limit is not None:
                hist.limit = self._history_limit
            elif hist.limit is None:
                hist.limit = RUN_HISTORY_LIMIT

    @staticmethod
    def _trim_history(manager: Any, recorder: Any) -> None:
        """After a step: drop the history records past the limit that this loop and the run-state store took
        (a store whose step failed to record keeps its records until it records one)."""
        hist = manager.execution_history
        if isinstance(hist, HistoryLog):
            hist.trim(before=len(hist) if recorder is None else recorder.history_taken)

    def _event(self, state: dict[str, Any], kind: str, message: str, level: int = logging.INFO) -> None:
        log.log(level, "%s", message)
        events = state.setdefault("events", [])
        events.append({"kind": kind, "message": message, "wall_ns": time.time_ns()})
        del events[:-MAX_EVENTS]

    def _unhedged(self, state: dict[str, Any], message: str) -> None:
        state.setdefault("unhedged", []).append(message)
        self._event(state, "unhedged", message, level=logging.ERROR)

    def _positions(self, manager: Any, state: dict[str, Any]) -> dict[str, Decimal]:
        """Balances now: the paper ledger, or every live venue's ``get_balances`` (venues that fail are noted)."""
        if manager.ledger is not None:
            return dict(manager.ledger.balances)
        out: dict[str, Decimal] = {}
        ts = from_ns(max(self.clock.now(), manager.clock.now_ns or 0))
        for v in manager.venues():
            try:
                for k, val in manager.get_balances(ts, v["name"]).items():
                    if ":metric:" not in k and val:
                        out[k] = val
            except BasisError as exc:
                self._event(state, "balances", f"{v['name']}: balances cannot be read: {exc}")
        return out

    def _recorder(self, manager: Any, state: dict[str, Any], resumed: bool) -> Any:
        """The run-state store ``basis status`` reads (:mod:`basis_core.runstate`), started (or resumed) now; None
        when not wanted or when it cannot start (an event says why: the run goes on without it)."""
        if not self._record:
            return None
        from basis_core.runstate import RunStateStore

        try:
            store = RunStateStore(self.folder.path)
        except BasisError as exc:
            self._event(state, "record", f"no run-state store: {exc}", level=logging.WARNING)
            return None
        now = from_ns(max(self.clock.now() // 1000 * 1000, manager.clock.now_ns or 0))
        try:
            store.start(manager, now, mode=self.mode, scenario=self.scenario.name,
                        meta={"state_dir": str(self.folder.path), "step": str(self.scenario.period.step),
                              "run_id": state.get("run_id"), "resumed": resumed})
        except BasisError as exc:
            store.close()
            self._event(state, "record", f"the run-state store could not start: {exc}", level=logging.WARNING)
            return None
        return store

    def _recorded(self, recorder: Any, manager: Any, ts: Any, state: dict[str, Any], snapshot: Any) -> None:
        """Write the step to the run-state store (a failure to write is an event, never a stop)."""
        if recorder is None:
            return
        try:
            recorder.record_step(manager, ts, snapshot)
        except BasisError as exc:
            self._event(state, "record", f"the run-state store could not record the step: {exc}",
                        level=logging.WARNING)

    def _finish(self, manager: Any, ilog: InstructionLog, state: dict[str, Any], recorder: Any, reason: str) -> None:
        """Flush the live journal, close the logs, save the state (every way out of :meth:`run`)."""
        if self.mode == "live":
            journal = self.folder.file(JOURNAL_FILE)
            if journal.exists():
                try:
                    from basis_core.live.journal import ExecutionJournal

                    ExecutionJournal.shared(journal).flush()
                except Exception as exc:
                    log.warning("journal flush failed: %s", exc)
        ilog.close()
        if recorder is not None:
            try:
                recorder.stop(reason=reason, final={"steps": state.get("steps"), "unhedged": state.get("unhedged", []),
                                                    "skipped_steps": state.get("skipped_steps", 0)})
                recorder.close()
            except BasisError as exc:
                log.warning("run-state store: %s", exc)
        self.folder.save_state(state)


def check_folder(state_dir: str | Path) -> dict[str, Any] | None:
    """The saved state of a run folder (None when there is none); :class:`RunResumeError` when unreadable."""
    return StateFolder(state_dir).load_state()


__all__ = [
    "RUN_HISTORY_LIMIT",
    "RunMode",
    "RunResult",
    "RunResumeError",
    "Runner",
    "StepReport",
    "build_manager",
    "check_folder",
    "scenario_fingerprint",
]
