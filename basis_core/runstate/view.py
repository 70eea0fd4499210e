"""What ``basis status STATE_DIR`` shows, as a Python API: :func:`read_status` and :func:`read_history`.

Both open the state folder's files **read-only** (SQLite ``mode=ro``): reading never changes the store or the
journal and never blocks the running writer. From the run-state store (:mod:`basis_core.runstate.store`): the
latest step's positions by venue valued in USD, PnL since start split as the backtest report splits it, health
factor / LTV / margin ratios, open orders, recent failures; from the live journal (``journal.sqlite``, when the
folder has one): intents still in doubt (no terminal outcome) and recent rejections; from ``basis run``'s
``state.json``: exposures left unhedged and the runner's recent events. Given a manager
(``read_status(..., manager=m)``) the venues are asked too (``venues_now``: each venue's balances now, or why it
could not answer).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from basis_core.backtest.attribution import COMPONENTS
from basis_core.errors import BasisError, ConfigError, RunStateError
from basis_core.runstate.store import FORMAT, JOURNAL_FILE, STORE_FILE, store_path
from basis_core.timeutil import from_ns

log = logging.getLogger(__name__)

#: failures shown by default
RECENT = 20
#: ``basis run``'s own state file in a state folder (:mod:`basis_core.run.state`): unhedged exposures and events
RUNNER_STATE_FILE = "state.json"


@dataclass
class Position:
    """One balance of the latest step: ``amount`` in the asset's units (perps: signed base units), its USD
    ``value`` (perps: unrealised PnL) and USD ``exposure`` (perps: size x mark)."""

    key: str
    kind: str
    asset: str
    amount: Decimal
    value_usd: Decimal
    exposure_usd: Decimal


@dataclass
class VenueBook:
    """A venue's positions of the latest step and their total USD value."""

    venue: str
    value_usd: Decimal
    positions: list[Position]


@dataclass
class RunStatus:
    """The state of a run folder (see the module docstring). USD amounts are exact Decimals."""

    state_dir: str
    scenario: str
    mode: str
    running: bool
    runs: int
    steps: int
    started: datetime | None
    last_step: datetime | None
    start_equity: Decimal
    equity: Decimal
    pnl: dict[str, Decimal]
    step_pnl: dict[str, Decimal]
    venues: list[VenueBook]
    risk: dict[str, float]
    open_orders: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    in_doubt: list[dict[str, Any]]
    errors: dict[str, str]
    stopped: dict[str, Any] | None
    meta: dict[str, Any]
    venues_now: dict[str, Any] = field(default_factory=dict)
    #: exposures the run left unhedged (``basis run``'s ``state.json``): say them loudly
    unhedged: list[str] = field(default_factory=list)
    #: the runner's recent events (clock jumps, unhedged legs, stale data ...), newest first
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pnl_total(self) -> Decimal:
        """Equity minus start equity (= the sum of :attr:`pnl`)."""
        return sum(self.pnl.values(), Decimal(0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (Decimals as strings, times ISO 8601)."""
        out = asdict(self)
        out["pnl_total"] = self.pnl_total
        return json.loads(json.dumps(out, default=_json_default))


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, datetime):
        return o.isoformat()
    return str(o)


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)


def open_store(state_dir: str | Path) -> sqlite3.Connection:
    """A read-only connection to the folder's run-state store.

    :raises RunStateError: the folder does not exist, holds no store, or the file is not one.
    """
    d = Path(state_dir)
    if not d.is_dir():
        raise RunStateError(f"state_dir: {d} is not a folder")
    path = store_path(d)
    if not path.is_file():
        raise RunStateError(f"state_dir: {d} is not a run state folder (it has no {STORE_FILE}: `basis run` "
                            "writes one into its state folder)")
    try:
        db = _connect(path)
        fmt = db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
    except sqlite3.DatabaseError as e:
        raise RunStateError(f"state_dir: {path} is not a run-state store: {e}") from None
    if fmt is None or fmt[0] != FORMAT:
        db.close()
        raise RunStateError(f"state_dir: {path} is not a run-state store")
    return db


def _venue_books(positions: Mapping[str, list[str]]) -> list[VenueBook]:
    books: dict[str, VenueBook] = {}
    for key, (amount, value, exposure) in sorted(positions.items()):
        venue, _, rest = key.partition(":")
        kind, _, asset = rest.partition(":")
        book = books.setdefault(venue, VenueBook(venue, Decimal(0), []))
        p = Position(key, kind, asset, Decimal(amount), Decimal(value), Decimal(exposure))
        book.positions.append(p)
        book.value_usd += p.value_usd
    return list(books.values())


def _journal_view(state_dir: Path, meta: Mapping[str, Any], recent: int) -> tuple[list[dict[str, Any]],
                                                                                  list[dict[str, Any]]]:
    """(intents in doubt, recent rejections) of the folder's live journal; empty without one."""
    from basis_core.live.journal import ExecutionJournal

    path = Path(meta.get("journal_path") or state_dir / JOURNAL_FILE)
    if not path.is_absolute():
        path = state_dir / path
    if not path.is_file():
        return [], []
    try:
        journal = ExecutionJournal(path, readonly=True)
    except ConfigError as exc:
        log.warning("journal not read: %s", exc)
        return [], []
    try:
        doubt = [{"venue": st.intent.venue, "operation": st.intent.operation, "client_id": st.intent.venue_client_id,
                  "status": st.status, "since": from_ns(st.intent.written_ns).isoformat()}
                 for st in journal.pending()]
        rows = journal._db.execute(
            "SELECT written_ns, venue, operation, venue_client_id, payload FROM journal WHERE kind='outcome' AND "
            "status='rejected' ORDER BY seq DESC LIMIT ?", (recent,)).fetchall()
    finally:
        journal.close()
    rejected = []
    for written_ns, venue, operation, cid, payload in rows:
        try:
            error = json.loads(payload).get("error")
        except (ValueError, AttributeError):
            error = None
        rejected.append({"timestamp": from_ns(written_ns).isoformat(), "venue": venue, "operation": operation,
                         "client_id": cid, "error": str(error) if error is not None else "rejected",
                         "source": "journal"})
    return doubt, rejected


def read_status(state_dir: str | Path, *, recent: int = RECENT, manager: Any = None) -> RunStatus:
    """The status of a run folder (read-only; see the module docstring).

    :param recent: how many of the latest failures to list.
    :param manager: ask these venues for their balances now (``venues_now``); a venue that cannot answer is
        listed with the reason.
    :raises RunStateError: not a run state folder.
    """
    d = Path(state_dir)
    db = open_store(d)
    try:
        runs = db.execute("SELECT run, started_ns, mode, scenario, owner, start_equity, meta FROM runs "
                          "ORDER BY run").fetchall()
        n_steps = db.execute("SELECT count(*) FROM steps").fetchone()[0]
        last = db.execute("SELECT ts_ns, equity, pnl, step_pnl, positions, risk, open_orders, errors FROM steps "
                          "ORDER BY seq DESC LIMIT 1").fetchone()
        fails = db.execute("SELECT ts_ns, venue, operation, message, payload FROM events WHERE kind='failure' "
                           "ORDER BY seq DESC LIMIT ?", (recent,)).fetchall()
        stop = db.execute("SELECT run, ts_ns, message, payload FROM events WHERE kind='stop' "
                          "ORDER BY seq DESC LIMIT 1").fetchone()
    except sqlite3.DatabaseError as e:
        raise RunStateError(f"state_dir: {store_path(d)} cannot be read: {e}") from None
    finally:
        db.close()
    from basis_core.live.journal import owner_alive

    first, latest = (runs[0], runs[-1]) if runs else (None, None)
    meta = json.loads(latest[6]) if latest else {}
    stopped = None
    if stop is not None and latest is not None and stop[0] == latest[0]:
        stopped = {"at": from_ns(stop[1]).isoformat(), "reason": stop[2], **json.loads(stop[3])}
    running = latest is not None and stopped is None and owner_alive(latest[4])
    if latest is not None and stopped is None and not running:
        stopped = {"at": None, "reason": "unknown: the run's process is gone without stopping (killed?)"}
    start_equity = Decimal(first[5]) if first else Decimal(0)
    failures = []
    for ts_ns, venue, operation, message, payload in fails:
        row = json.loads(payload)
        failures.append({"timestamp": from_ns(ts_ns).isoformat(), "venue": venue, "operation": operation,
                         "client_id": row.get("client_id"), "field": row.get("field"), "error": message,
                         "source": "history"})
    in_doubt, rejected = _journal_view(d, meta, recent)
    failures = sorted(failures + rejected, key=lambda f: f["timestamp"], reverse=True)[:recent]
    if last is not None:
        ts_ns, equity, pnl, step_pnl, positions, risk, orders, errors = last
        pnl_d = {c: Decimal(v) for c, v in json.loads(pnl).items()}
        status = RunStatus(
            str(d), latest[3] if latest else "", latest[2] if latest else "", running, len(runs), n_steps,
            from_ns(first[1]) if first else None, from_ns(ts_ns), start_equity,
            Decimal(equity), {c: pnl_d.get(c, Decimal(0)) for c in COMPONENTS},
            {c: Decimal(v) for c, v in json.loads(step_pnl).items()}, _venue_books(json.loads(positions)),
            json.loads(risk), json.loads(orders), failures, in_doubt, json.loads(errors), stopped, meta)
    else:
        status = RunStatus(
            str(d), latest[3] if latest else "", latest[2] if latest else "", running, len(runs), 0,
            from_ns(first[1]) if first else None, None, start_equity, start_equity,
            {c: Decimal(0) for c in COMPONENTS}, {}, [], {}, [], failures, in_doubt, {}, stopped, meta)
    status.unhedged, status.events = _runner_view(d, recent)
    if manager is not None:
        status.venues_now = venues_now(manager)
    red = _redactor(manager)
    if red:  # a second line of defence: what the run wrote carries no secret; mask any the environment knows
        for name in ("failures", "in_doubt", "events", "unhedged", "errors", "meta", "open_orders", "stopped",
                     "venues_now"):
            setattr(status, name, _redact(getattr(status, name), red))
    return status


def _redactor(manager: Any) -> Any:
    """A redactor of the venue credentials this process knows (the environment's ``BASIS_VENUE_CONFIG__...``,
    a ``secrets_file``, the given manager's settings)."""
    from basis_core.config import load_settings
    from basis_core.live.secrets import Redactor, secret_values

    red = Redactor()
    sources = [manager.settings] if manager is not None else []
    try:
        sources.append(load_settings())
    except BasisError:
        pass
    for settings in sources:
        for name in sorted(settings.venue_config or {}):
            try:
                red.add(*secret_values(settings.venue(name)))
            except (BasisError, OSError, ValueError):
                continue
    return red


def _redact(value: Any, red: Any) -> Any:
    if isinstance(value, str):
        return red.redact(value)
    if isinstance(value, dict):
        return {k: _redact(v, red) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, red) for v in value]
    return value


def _runner_view(state_dir: Path, recent: int) -> tuple[list[str], list[dict[str, Any]]]:
    """(unhedged exposures, recent events) from ``basis run``'s ``state.json`` (replaced atomically: always whole);
    empty without one."""
    path = state_dir / RUNNER_STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], []
    except (OSError, ValueError) as exc:
        log.warning("%s not read: %s", path, exc)
        return [], []
    if not isinstance(data, dict):
        return [], []
    unhedged = [str(u) for u in data.get("unhedged") or []]
    events = []
    for e in reversed(data.get("events") or []):
        if isinstance(e, dict):
            wall = e.get("wall_ns")
            events.append({"kind": str(e.get("kind", "")), "message": str(e.get("message", "")),
                           "at": from_ns(int(wall)).isoformat(timespec="seconds") if isinstance(wall, int) else None})
    return unhedged, events[:recent]


def venues_now(manager: Any) -> dict[str, Any]:
    """Each venue's balances now, asked of the venue (``{"balances": {...}}``), or ``{"error": why}``."""
    import pandas as pd

    now = pd.Timestamp.now(tz="UTC")
    out: dict[str, Any] = {}
    for v in sorted(x["name"] for x in manager.venues()):
        try:
            got = manager.get_balances(now, v)
            out[v] = {"balances": {k: str(x) for k, x in sorted(got.items()) if x}}
        except BasisError as exc:
            out[v] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def _sampled(state_dir: str | Path, columns: str, max_points: int) -> list[tuple[Any, ...]]:
    """``columns`` of at most about ``max_points`` steps, evenly spaced, first and last kept (oldest first)."""
    db = open_store(state_dir)
    try:
        n = db.execute("SELECT count(*) FROM steps").fetchone()[0]
        every = max(1, -(-n // max_points)) if n else 1
        return db.execute(f"SELECT ts_ns, {columns} FROM steps WHERE (seq - 1) % ? = 0 OR "
                          "seq = (SELECT max(seq) FROM steps) ORDER BY seq", (every,)).fetchall()
    finally:
        db.close()


def _index(rows: list[tuple[Any, ...]]) -> Any:
    import pandas as pd

    return pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], unit="ns", utc=True), name="timestamp")


def read_history(state_dir: str | Path, max_points: int = 2000) -> Any:
    """Equity and cumulative PnL components per step (a pandas frame indexed by the step's UTC time, floats in
    USD), at most about ``max_points`` rows, evenly spaced (first and last kept): what the status page charts."""
    import pandas as pd

    rows = _sampled(state_dir, "equity, pnl", max_points)
    data = []
    for _, equity, pnl in rows:
        p = json.loads(pnl)
        data.append([float(equity), *(float(p.get(c, 0)) for c in COMPONENTS)])
    return pd.DataFrame(data, index=_index(rows), columns=["equity", *COMPONENTS])


def read_risk_history(state_dir: str | Path, max_points: int = 2000) -> Any:
    """Risk per step, sampled like :func:`read_history`: ``leverage`` and ``net_delta`` (shares of equity, from
    the positions' USD exposures, :func:`basis_core.backtest.metrics.exposure_shares`) and the venues' health
    factor, LTV and margin ratios (``<venue>:health_factor`` ...; NaN where a venue reported none)."""
    import pandas as pd

    from basis_core.backtest.metrics import exposure_shares

    rows = _sampled(state_dir, "equity, positions, risk", max_points)
    index = _index(rows)
    exposures = pd.DataFrame([{k: float(v[2]) for k, v in json.loads(pos).items()} for _, _, pos, _ in rows],
                             index=index).fillna(0.0)
    equity = pd.Series([float(e) for _, e, _, _ in rows], index=index)
    metrics = pd.DataFrame([json.loads(r) for _, _, _, r in rows], index=index)
    shares = exposure_shares(exposures, equity) if len(exposures.columns) else pd.DataFrame(index=index)
    return pd.concat([shares, metrics], axis=1)


__all__ = ["RECENT", "Position", "RunStatus", "VenueBook", "open_store", "read_history", "read_risk_history",
           "read_status", "venues_now"]
