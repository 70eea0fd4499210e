"""The append-only execution journal of live mode (SQLite, stdlib ``sqlite3``).

Every live operation that changes something at a venue writes an **intent** row before the request
is sent (with the deterministic venue client id it will carry) and **outcome** rows after. Rows are
never updated or deleted (triggers refuse it), so the journal is the audit trail of what was sent.

Schema (``PRAGMA user_version = 1``), one table ``journal``:

=================  ========  =====================================================================
column             type      meaning
=================  ========  =====================================================================
``seq``            INTEGER   primary key, increasing (the order rows were written in)
``written_ns``     INTEGER   wall clock (UTC ns since the epoch) when the row was written
``venue``          TEXT      venue id (``binance``, ``hyperliquid``)
``kind``           TEXT      ``intent`` | ``outcome``
``intent_id``      TEXT      the intent's key within the venue (the venue client id for orders)
``venue_client_id`` TEXT     client id sent to the venue (``newClientOrderId`` / ``cloid``)
``operation``      TEXT      ``spot_trade``, ``perp_trade``, ``cancel_order``, ``modify_order``, ...
``status``         TEXT      intent: ``sending``; outcome: see :data:`TERMINAL` / ``unknown``
``fingerprint``    TEXT      sha256 of the canonical instruction (same client id, other order: error)
``payload``        TEXT      JSON: intent = instruction + request; outcome = order / deltas / error
=================  ========  =====================================================================

Outcome statuses: ``done`` (the venue holds the order / did the operation; payload has ``deltas``),
``rejected`` (definitively refused: nothing exists), ``absent`` (verified absent at the venue after
the request could no longer land: nothing exists) are terminal; ``unknown`` (an ambiguous failure,
not resolved yet) is not. An intent is **pending** while no terminal outcome follows its latest intent
row; :meth:`ExecutionJournal.pending` lists them for reconciliation.

Secrets never reach the journal: payloads are built from instructions and venue answers, and every
payload is passed through a :class:`~basis_core.live.secrets.Redactor` before it is written.

Durability: WAL with ``synchronous=NORMAL`` by default; a committed row survives a crash of the
process (the case the journal is for); ``synchronous="FULL"`` also survives an OS crash or power
loss at the price of an fsync per row. Every intent is committed before its request is sent. The
``done`` outcome of an order may be written with ``defer=True``: it is committed together with the
next intent (one commit per order instead of two), or by a background flusher at most
:data:`DEFER_SECONDS` later, by :meth:`ExecutionJournal.flush`, on close or at interpreter exit.
A crash can therefore lose only outcomes not yet committed; their intents are then pending and
reconciliation re-derives them from the venue by client id, so nothing is sent twice. Within a
process, :meth:`ExecutionJournal.shared` hands every user of one file the same connection (a
deferred transaction never blocks another writer of the process); one journal file should not be
written by two processes at once (a writer waits up to 30 s for the other's lock). Once a connection
has written, it keeps the file's intent keys in memory, so looking up a new client id costs no query.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from basis_core.errors import ConfigError
from basis_core.live.secrets import Redactor

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: Outcome statuses after which an intent is no longer pending.
TERMINAL = frozenset({"done", "rejected", "absent"})
OUTCOME_STATUSES = frozenset({"done", "rejected", "absent", "unknown"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,  -- rows are never deleted, so rowids only grow (no AUTOINCREMENT bookkeeping)
    written_ns INTEGER NOT NULL,
    venue TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('intent', 'outcome')),
    intent_id TEXT NOT NULL,
    venue_client_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    status TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_intent ON journal (venue, intent_id, seq);
CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the execution journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the execution journal is append-only'); END;
"""


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    return str(o)


def dumps(obj: Any) -> str:
    """Canonical JSON (sorted keys, Decimals as strings)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def fingerprint(obj: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of ``obj`` (an instruction dict)."""
    return hashlib.sha256(dumps(obj).encode()).hexdigest()


@dataclass(frozen=True)
class JournalRow:
    """One row of the journal; ``payload`` is decoded from ``payload_text`` on first use."""

    seq: int
    written_ns: int
    venue: str
    kind: Literal["intent", "outcome"]
    intent_id: str
    venue_client_id: str
    operation: str
    status: str
    fingerprint: str
    payload_text: str = field(repr=False)

    @cached_property
    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.payload_text)
        return out


@dataclass(frozen=True)
class IntentState:
    """The latest intent of a key and what is known of it (``outcome`` is the last outcome row after it)."""

    intent: JournalRow
    outcome: JournalRow | None

    @property
    def status(self) -> str:
        """``sending`` (no outcome yet) or the last outcome's status."""
        return self.outcome.status if self.outcome is not None else "sending"

    @property
    def pending(self) -> bool:
        return self.status not in TERMINAL


_SHARED: weakref.WeakValueDictionary[str, ExecutionJournal] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()

#: Seconds after which a deferred outcome is committed by the background flusher at the latest.
DEFER_SECONDS = 0.05


class _Flusher:
    """Commits deferred outcomes at most ``delay`` seconds after they were written (a daemon thread,
    started on first use; sqlite3 releases the GIL while committing, so this overlaps the caller's
    next network wait). Holds no reference to the journal, so the journal can be collected."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock, delay: float) -> None:
        self.db, self.lock, self.delay = db, lock, delay
        self.cond = threading.Condition(threading.Lock())
        self.due: float | None = None
        self.stopped = False
        self.thread: threading.Thread | None = None

    def schedule(self) -> None:
        with self.cond:
            if self.due is not None or self.stopped:
                return
            self.due = time.monotonic() + self.delay
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="basis-journal-flush", daemon=True)
                self.thread.start()
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.stopped and self.due is None:
                    self.cond.wait()
                if self.stopped:
                    return
                assert self.due is not None
                left = self.due - time.monotonic()
                if left > 0:
                    self.cond.wait(left)
                    continue
                self.due = None
            with self.lock:
                try:
                    if self.db.in_transaction:
                        self.db.execute("COMMIT")
                except sqlite3.Error as e:  # pragma: no cover - the next intent commits it anyway
                    log.warning("journal: deferred commit failed: %s", e)

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify()


def _finalize(db: sqlite3.Connection, lock: threading.RLock, flusher: _Flusher) -> None:
    """Commit a deferred outcome and close (close(), garbage collection or interpreter exit)."""
    flusher.stop()
    with lock:
        try:
            if db.in_transaction:
                db.execute("COMMIT")
            db.close()
        except sqlite3.Error:  # pragma: no cover - closing at exit
            pass


class ExecutionJournal:
    """Append-only SQLite journal of live intents and outcomes.

    :param path: a file path, or ``None`` / ``":memory:"`` for an in-memory journal (lost with the
        process: no reconciliation across restarts).
    :param redactor: masks known secrets in every payload before it is written.
    :param synchronous: SQLite ``synchronous`` level, ``"NORMAL"`` (default, survives process crashes)
        or ``"FULL"`` (also survives OS crashes).
    """

    def __init__(self, path: str | Path | None = None, *, redactor: Redactor | None = None,
                 synchronous: Literal["NORMAL", "FULL"] = "NORMAL") -> None:
        self.path = None if path is None or str(path) == ":memory:" else Path(path)
        self.redactor = redactor or Redactor()
        self._lock = threading.RLock()
        if synchronous not in ("NORMAL", "FULL"):
            raise ConfigError(f"journal synchronous: expected NORMAL or FULL, got {synchronous!r}")
        target = ":memory:" if self.path is None else str(self.path)
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ConfigError(f"journal_path: cannot create {self.path.parent}: {e.strerror}") from None
        try:
            self._db = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=30.0)
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise ConfigError(f"journal_path: {self.path} has schema version {version}, "
                                  f"this basis-core writes {SCHEMA_VERSION}")
            if version == 0:  # new file: create the schema (an existing journal is opened read-only until used)
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"journal_path: {target} is not a usable SQLite journal: {e}") from None
        self._flusher = _Flusher(self._db, self._lock, DEFER_SECONDS)
        #: intent keys in the file, kept once this connection has written (one writer per file, see above)
        self._known: set[tuple[str, str]] | None = None
        self._finalizer = weakref.finalize(self, _finalize, self._db, self._lock, self._flusher)

    @classmethod
    def shared(cls, path: str | Path | None, *, redactor: Redactor | None = None) -> ExecutionJournal:
        """The process-wide journal of ``path`` (one connection per file; a new private one for None).

        ``redactor``'s secrets are added to the shared journal's redactor.
        """
        if path is None or str(path) == ":memory:":
            return cls(None, redactor=redactor)
        key = str(Path(path).resolve())
        with _SHARED_LOCK:
            j = _SHARED.get(key)
            if j is None or j._closed:
                j = cls(path, redactor=Redactor())
                _SHARED[key] = j
        if redactor is not None:
            j.redactor.merge(redactor)
        return j

    @property
    def _closed(self) -> bool:
        return not self._finalizer.alive

    # -- writing --------------------------------------------------------------------------------
    def _insert(self, venue: str, kind: str, intent_id: str, venue_client_id: str, operation: str,
                status: str, fp: str, payload: Mapping[str, Any] | str, defer: bool = False) -> JournalRow:
        text = payload if isinstance(payload, str) else dumps(payload)
        if self.redactor and self.redactor.contains_secret(text):
            log.warning("a journal payload of %s %s contained a secret value; it was masked", venue, operation)
            text = self.redactor.redact(text)
        now = time.time_ns()
        db = self._db
        with self._lock:
            if defer and not db.in_transaction:
                db.execute("BEGIN")
            cur = db.execute(
                "INSERT INTO journal (written_ns, venue, kind, intent_id, venue_client_id, operation, status,"
                " fingerprint, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, venue, kind, intent_id, venue_client_id, operation, status, fp, text),
            )
            if not defer and db.in_transaction:
                db.execute("COMMIT")  # also commits any deferred outcome before it
            seq = int(cur.lastrowid or 0)
        if defer:
            self._flusher.schedule()
        return JournalRow(seq, now, venue, kind, intent_id, venue_client_id, operation, status,  # type: ignore[arg-type]
                          fp, text)

    def record_intent(self, venue: str, intent_id: str, venue_client_id: str, operation: str,
                      payload: Mapping[str, Any] | str, fp: str) -> JournalRow:
        """Write an intent (before sending) and return its row; committed (with any deferred outcome) when
        this returns. ``payload``: a JSON-able mapping or its JSON text."""
        row = self._insert(venue, "intent", intent_id, venue_client_id, operation, "sending", fp, payload)
        with self._lock:
            if self._known is None:  # this connection writes: from now on it is the file's one writer
                self._known = set(self._db.execute("SELECT DISTINCT venue, intent_id FROM journal WHERE kind='intent'"))
            self._known.add((venue, intent_id))
        return row

    def record_outcome(self, intent: JournalRow, status: str, payload: Mapping[str, Any] | str,
                       defer: bool = False) -> JournalRow:
        """Write an outcome of ``intent`` (``done`` / ``rejected`` / ``absent`` / ``unknown``); with ``defer``
        it is committed by the next intent, :meth:`flush`, close or exit (see the module docstring)."""
        if status not in OUTCOME_STATUSES:
            raise ValueError(f"unknown outcome status {status!r}")
        return self._insert(intent.venue, "outcome", intent.intent_id, intent.venue_client_id, intent.operation,
                            status, intent.fingerprint, payload, defer)

    def flush(self) -> None:
        """Commit deferred outcomes now."""
        with self._lock:
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    # -- reading --------------------------------------------------------------------------------
    @staticmethod
    def _row(r: tuple[Any, ...]) -> JournalRow:
        return JournalRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])

    _COLS = "seq, written_ns, venue, kind, intent_id, venue_client_id, operation, status, fingerprint, payload"

    def state(self, venue: str, intent_id: str) -> IntentState | None:
        """The latest intent of ``(venue, intent_id)`` and its last outcome, or None if never journaled."""
        known = self._known
        if known is not None and (venue, intent_id) not in known:
            return None  # this connection is the writer and never wrote it (no query needed)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS} FROM journal WHERE venue=? AND intent_id=? ORDER BY seq DESC",
                (venue, intent_id)).fetchall()
        outcome = None
        for r in rows:  # newest first: outcomes after the latest intent, then that intent
            if r[3] == "intent":
                return IntentState(self._row(r), self._row(outcome) if outcome is not None else None)
            if outcome is None:
                outcome = r
        return None

    def pending(self, venue: str | None = None) -> list[IntentState]:
        """Intents without a terminal outcome (oldest first), optionally of one venue."""
        sql = (
            f"SELECT {self._COLS} FROM journal i WHERE kind='intent'"
            " AND seq = (SELECT MAX(seq) FROM journal WHERE kind='intent' AND venue=i.venue"
            " AND intent_id=i.intent_id)"
            " AND NOT EXISTS (SELECT 1 FROM journal o WHERE o.kind='outcome' AND o.venue=i.venue"
            " AND o.intent_id=i.intent_id AND o.seq>i.seq AND o.status IN ('done','rejected','absent'))"
        )
        args: tuple[Any, ...] = ()
        if venue is not None:
            sql += " AND venue=?"
            args = (venue,)
        with self._lock:
            rows = [self._row(r) for r in self._db.execute(sql + " ORDER BY seq", args).fetchall()]
        out = []
        for intent in rows:
            st = self.state(intent.venue, intent.intent_id)
            if st is not None:
                out.append(st)
        return out

    def rows(self, venue: str | None = None) -> list[JournalRow]:
        """Every row (oldest first), optionally of one venue."""
        with self._lock:
            if venue is None:
                cur = self._db.execute(f"SELECT {self._COLS} FROM journal ORDER BY seq")
            else:
                cur = self._db.execute(f"SELECT {self._COLS} FROM journal WHERE venue=? ORDER BY seq", (venue,))
            return [self._row(r) for r in cur.fetchall()]

    def dump_text(self) -> str:
        """All rows as raw text (what is on disk), for audits and secret scans."""
        with self._lock:
            return "\n".join("|".join(str(c) for c in r)
                             for r in self._db.execute("SELECT * FROM journal ORDER BY seq").fetchall())

    def close(self) -> None:
        """Commit deferred outcomes and close the connection."""
        self._finalizer()

    def __repr__(self) -> str:
        return f"ExecutionJournal({str(self.path) if self.path else ':memory:'})"
