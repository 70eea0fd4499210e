"""The run-state store of a paper / live run: one SQLite file, ``STATE_DIR/runstate.sqlite``, written once per step.

The runner's calls (one each)::

    from basis_core.runstate import RunStateStore

    store = RunStateStore(state_dir)                       # creates the folder and the file if needed
    run = store.start(manager, now, snapshot, mode="paper", scenario="cash_and_carry", meta={...})
    while running:
        manager.advance_to(now); strategies step ...
        store.record_step(manager, now, snapshot)          # snapshot = the step's market snapshot (or None)
    store.stop(now, reason="finished")                     # or "interrupted", "error: ..."
    store.close()

:meth:`RunStateStore.start` on a folder that already holds steps **resumes**: PnL since start continues from the
last step written (its cumulative components, equity, perp cost bases), the start equity stays the first run's, and
``run.resumed`` is True. Each :meth:`RunStateStore.record_step` stores, in one transaction:

- the step's time, equity (USD, exact) and PnL since start split as the backtest report splits it (``price``,
  ``funding``, ``staking_yield``, ``lending_interest``, ``borrow_interest``, ``trading_fees``, ``slippage``,
  ``price_impact``, ``gas``, ``liquidation``, ``flash_loan_fee``), computed by the backtest's own
  :class:`~basis_core.backtest.attribution.PnlAttribution` (same valuation, same components, adding up exactly to
  equity minus start equity), and this step's part of it;
- positions by instrument key with their amount and USD value / exposure (grouped by venue when read);
- risk: each venue's health factor, LTV and margin ratio (:func:`basis_core.backtest.metrics.risk_metrics`, as the
  backtest samples them);
- open orders of every venue (``current_orders``), and the venues that could not answer (live: every venue's
  balances and open orders are asked concurrently, so a step costs about one venue round trip, not one per venue);
- failures: every failed execution-history record since the previous step, as an ``events`` row.

Storage (schema ``PRAGMA user_version = 1``; tables ``meta``, ``runs``, ``steps``, ``events``, append-only: rows are
only inserted): WAL journal with ``synchronous=NORMAL``, one transaction per call, so a process killed at any
moment (SIGKILL) leaves a readable store holding every step committed before it; a reader never blocks the writer.
The writer keeps O(1) memory whatever the run's length (no rows are kept; only the attribution's running state).

Secrets never reach the store: values come from balances, orders and history records (which carry none), and every
text written passes a :class:`~basis_core.live.secrets.Redactor` of the manager's venue credentials;
``SecretStr`` values in ``meta`` are masked.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from basis_core.backtest.attribution import COMPONENTS, PnlAttribution
from basis_core.backtest.metrics import risk_metrics
from basis_core.errors import RunStateError
from basis_core.live.journal import this_owner
from basis_core.live.secrets import MASK, Redactor, secret_values
from basis_core.numeric import library_context
from basis_core.runstate.collect import StepBalances, book_balances, open_orders, risk_venues, venue_names
from basis_core.timeutil import from_ns, to_utc

log = logging.getLogger(__name__)

#: the store's file name inside a state folder
STORE_FILE = "runstate.sqlite"
#: the live journal's file name inside a state folder (``journal_path`` of the run's manager)
JOURNAL_FILE = "journal.sqlite"
#: ``meta.format`` of a run-state store
FORMAT = "basis-runstate"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY,
    started_ns INTEGER NOT NULL,      -- the run's clock (UTC ns) at start
    written_ns INTEGER NOT NULL,      -- wall clock when the row was written
    mode TEXT NOT NULL,
    scenario TEXT NOT NULL,
    owner TEXT NOT NULL,              -- pid:start of the writing process (basis_core.live.journal.this_owner)
    resumed INTEGER NOT NULL,         -- 1: continued the PnL of an earlier run of this folder
    start_equity TEXT NOT NULL,       -- USD, exact: the first run's equity before anything happened
    meta TEXT NOT NULL                -- JSON
);
CREATE TABLE IF NOT EXISTS steps (
    seq INTEGER PRIMARY KEY,
    run INTEGER NOT NULL,
    ts_ns INTEGER NOT NULL,           -- the step's time (UTC ns)
    written_ns INTEGER NOT NULL,
    equity TEXT NOT NULL,             -- USD, exact
    pnl TEXT NOT NULL,                -- JSON: component -> cumulative USD since start (exact strings)
    step_pnl TEXT NOT NULL,           -- JSON: component -> USD of this step (non-zero ones)
    positions TEXT NOT NULL,          -- JSON: key -> [amount, value_usd, exposure_usd]
    risk TEXT NOT NULL,               -- JSON: "<venue>:health_factor" ... -> float
    open_orders TEXT NOT NULL,        -- JSON: list of orders (venue, order_id, symbol, side, amount, price ...)
    errors TEXT NOT NULL,             -- JSON: venue -> why it could not be read this step
    state TEXT NOT NULL               -- JSON: PnlAttribution.state() (what a resumed run continues from)
);
CREATE INDEX IF NOT EXISTS steps_by_time ON steps (ts_ns);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    run INTEGER NOT NULL,
    ts_ns INTEGER NOT NULL,
    written_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,               -- failure | stop
    venue TEXT NOT NULL,
    operation TEXT NOT NULL,
    message TEXT NOT NULL,
    payload TEXT NOT NULL             -- JSON
);
CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, seq);
"""


def _json_default(o: Any) -> Any:
    if isinstance(o, SecretStr):
        return MASK
    if isinstance(o, Decimal):
        return str(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    return str(o)


def store_path(state_dir: str | Path) -> Path:
    """The store file of a state folder."""
    return Path(state_dir) / STORE_FILE


@dataclass(frozen=True)
class RunInfo:
    """What :meth:`RunStateStore.start` began: the run's number in the folder, whether it resumed an earlier
    run's PnL, and the start equity (USD, the first run's)."""

    run: int
    resumed: bool
    start_equity: Decimal
    started: datetime


@dataclass(frozen=True)
class StepRecord:
    """What :meth:`RunStateStore.record_step` stored (Decimals exact; USD)."""

    seq: int
    timestamp: datetime
    equity: Decimal
    pnl: dict[str, Decimal]
    step_pnl: dict[str, Decimal]
    positions: dict[str, tuple[Decimal, Decimal, Decimal]]
    risk: dict[str, float]
    open_orders: list[dict[str, Any]]
    failures: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def pnl_total(self) -> Decimal:
        return sum(self.pnl.values(), Decimal(0))


def _manager_redactor(manager: Any) -> Redactor:
    settings = manager.settings
    names = {v["name"] for v in manager.venues()} | set(settings.venue_config or {})
    red = Redactor()
    for name in sorted(names):
        try:
            red.add(*secret_values(settings.venue(name)))
        except Exception:  # an unreadable secrets file: the venue itself reported it; nothing of it is written
            continue
    return red


class RunStateStore:
    """Writer of a state folder's run-state store (see the module docstring). One writer per folder at a time;
    readers (:func:`basis_core.runstate.read_status`, ``basis status``) may read while it writes.

    :param state_dir: the run's state folder (created if missing).
    """

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = store_path(self.state_dir)
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunStateError(f"state_dir: cannot create {self.state_dir}: {e.strerror}") from None
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                if self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    raise RunStateError(f"state_dir: {self.path} is an SQLite file of something else, not a "
                                        "run-state store")
                self._db.executescript(_SCHEMA)  # idempotent (IF NOT EXISTS)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?), ('created_ns', ?)",
                                 (FORMAT, str(time.time_ns())))
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise RunStateError(f"state_dir: {self.path} has store schema {version}; this basis-core writes "
                                    f"{SCHEMA_VERSION}")
            fmt = self._db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            if fmt is None or fmt[0] != FORMAT:
                raise RunStateError(f"state_dir: {self.path} is not a basis run-state store")
        except sqlite3.DatabaseError as e:
            raise RunStateError(f"state_dir: {self.path} is not a usable run-state store: {e}") from None
        self._run: int | None = None
        self._attribution: PnlAttribution | None = None
        self._redactor = Redactor()
        self._risk_venues: list[str] = []
        self._executor: ThreadPoolExecutor | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    @library_context
    def start(self, manager: Any, timestamp: datetime | str, snapshot: Any = None, *, mode: str | None = None,
              scenario: str = "", meta: Mapping[str, Any] | None = None) -> RunInfo:
        """Begin (or resume) the run: value the book now as the start (a fresh folder) or continue the PnL of the
        folder's last step (a resumed run). Execution history already in ``manager`` is not attributed.

        :param manager: the run's manager (backtest ledger for paper mode, live venues for live mode).
        :param timestamp: the run's time now (aware UTC).
        :param snapshot: the market snapshot at ``timestamp`` (default: ``manager.data_provider.get_data``).
        :param mode: ``paper`` | ``live`` | ``backtest`` (default: the manager's execution mode).
        :param scenario: the scenario's name, for the status view.
        :param meta: anything JSON-able the status view should show (scenario path, step, strategies ...);
            ``SecretStr`` values are masked and the venues' credentials redacted.
        """
        if self._run is not None:
            raise RunStateError("start: the run has already started; call stop() first")
        ts = to_utc(timestamp)
        provider = manager.data_provider
        if provider is None:
            raise RunStateError("start: the manager has no data_provider: the run state values the book from market "
                                "data")
        snap = provider.get_data(ts) if snapshot is None else snapshot
        self._redactor = _manager_redactor(manager)
        self._risk_venues = risk_venues(manager)
        attribution = PnlAttribution(provider, None, manager.execution_history)
        last = self._db.execute("SELECT state FROM steps ORDER BY seq DESC LIMIT 1").fetchone()
        first = self._db.execute("SELECT start_equity FROM runs ORDER BY run LIMIT 1").fetchone()
        answers = StepBalances(manager, ts)
        attribution.valuer.balances_of = answers
        if manager.ledger is None and last is None:  # live: ask the venues at once
            answers.prefetch(venue_names(manager), self._pool())
        if last is not None:
            attribution.restore(json.loads(last[0]))
            resumed = True
            start_equity = attribution.start_equity
        elif first is not None:  # an earlier run stopped before its first step: start over from its start equity
            start_equity = Decimal(first[0])
            attribution.start(snap, book_balances(manager, answers))
            attribution.start_equity = attribution.prev_equity = start_equity
            resumed = True
        else:
            start_equity = attribution.start(snap, book_balances(manager, answers))
            resumed = False
        meta_text = self._redactor.redact(json.dumps(dict(meta or {}), default=_json_default, sort_keys=True))
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute(
                "INSERT INTO runs (started_ns, written_ns, mode, scenario, owner, resumed, start_equity, meta)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ts.value, time.time_ns(), mode or manager.execution_mode, self._redactor.redact(scenario),
                 this_owner(), int(resumed), str(start_equity), meta_text))
        self._run = cur.lastrowid
        self._attribution = attribution
        assert self._run is not None
        return RunInfo(self._run, resumed, start_equity, ts)

    @property
    def history_taken(self) -> int:
        """The absolute index of the first execution-history record not yet attributed and stored (records before
        it may be dropped from memory: :meth:`basis_core.history.HistoryLog.trim`); 0 before :meth:`start`."""
        return 0 if self._attribution is None else self._attribution.hist_i

    @library_context
    def record_step(self, manager: Any, timestamp: datetime | str, snapshot: Any = None) -> StepRecord:
        """Value the book at ``timestamp``, attribute the PnL since the previous step and store the step (one
        transaction). Call it once per step, after the strategies acted.

        :param snapshot: the step's market snapshot (default: ``manager.data_provider.get_data(timestamp)``).
        :raises RunStateError: before :meth:`start`.
        """
        attribution = self._attribution
        if attribution is None or self._run is None:
            raise RunStateError("record_step: call start() first")
        ts = to_utc(timestamp)
        snap = manager.data_provider.get_data(ts) if snapshot is None else snapshot
        answers = StepBalances(manager, ts)
        attribution.valuer.balances_of = answers
        history = manager.execution_history
        first_new = attribution.hist_i
        pool = None
        if manager.ledger is None:  # live: the venues' balances are venue calls: ask them all at once
            pool = self._pool()
            answers.prefetch(venue_names(manager), pool)
        balances = book_balances(manager, answers, attribution.prev_balances)
        out = attribution.step(snap, balances)
        failures = [rec for rec in history[first_new:attribution.hist_i] if not rec.success]
        risk: dict[str, float] = {}
        for venue in self._risk_venues:
            got = answers.get(venue)
            if got is not None:
                risk.update(risk_metrics(got))
        orders, order_errors = open_orders(manager, pool)
        kept = " (the last step's are kept)" if manager.ledger is None else ""
        errors = {k: f"balances not read{kept}: {v}" for k, v in answers.errors.items()}
        for k, v in order_errors.items():
            errors[k] = "; ".join(filter(None, (errors.get(k), f"open orders not read: {v}")))
        val = out.valuation
        positions = {k: (Decimal(balances[k]), val.values.get(k, Decimal(0)), val.exposures.get(k, Decimal(0)))
                     for k in sorted(balances) if balances[k] and ":metric:" not in k}
        step_pnl = {} if out.components is None else {
            c: v for c, v in zip(COMPONENTS, out.components, strict=True) if v}
        if out.components is None and out.price:
            step_pnl = {"price": out.price}
        pnl = attribution.totals
        red = self._redactor.redact
        fail_rows = [{"venue": r.venue, "operation": r.operation, "status": r.status, "client_id": r.client_id,
                      "error": r.error, "field": r.error_field, "timestamp": from_ns(r.ts_ns).isoformat()}
                     for r in failures]
        now_ns = time.time_ns()
        dump = json.dumps
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute(
                "INSERT INTO steps (run, ts_ns, written_ns, equity, pnl, step_pnl, positions, risk, open_orders,"
                " errors, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self._run, ts.value, now_ns, str(val.equity),
                 dump({c: str(v) for c, v in pnl.items()}), dump({c: str(v) for c, v in step_pnl.items()}),
                 dump({k: [str(a), str(v), str(e)] for k, (a, v, e) in positions.items()}),
                 dump(risk), red(dump(orders, default=_json_default)), red(dump(errors)),
                 dump(attribution.state())))
            for r, row in zip(failures, fail_rows, strict=True):
                self._db.execute(
                    "INSERT INTO events (run, ts_ns, written_ns, kind, venue, operation, message, payload)"
                    " VALUES (?, ?, ?, 'failure', ?, ?, ?, ?)",
                    (self._run, r.ts_ns, now_ns, red(str(r.venue)), red(str(r.operation)), red(r.error or r.status),
                     red(dump(row, default=_json_default))))
        assert cur.lastrowid is not None
        return StepRecord(cur.lastrowid, ts, val.equity, pnl, step_pnl, positions, risk, orders,
                          fail_rows, errors)

    def stop(self, timestamp: datetime | str | None = None, reason: str = "finished",
             final: Mapping[str, Any] | None = None) -> None:
        """Mark the run stopped (``reason``: ``finished``, ``interrupted``, ``error: ...``) with anything ``final``
        the status view should show. A run killed without :meth:`stop` reads as ``unknown`` (not running)."""
        if self._run is None:
            return
        ts_ns = to_utc(timestamp).value if timestamp is not None else time.time_ns()
        red = self._redactor.redact
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO events (run, ts_ns, written_ns, kind, venue, operation, message, payload)"
                " VALUES (?, ?, ?, 'stop', '', '', ?, ?)",
                (self._run, ts_ns, time.time_ns(), red(reason),
                 red(json.dumps(dict(final or {}), default=_json_default, sort_keys=True))))
        self._run = None
        self._attribution = None

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="runstate")
        return self._executor

    def close(self) -> None:
        """Close the file (a started run is not marked stopped: call :meth:`stop` first)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._db.close()

    def __enter__(self) -> RunStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStateStore({str(self.state_dir)!r})"


__all__ = ["FORMAT", "JOURNAL_FILE", "STORE_FILE", "RunInfo", "RunStateStore", "StepRecord", "store_path"]
