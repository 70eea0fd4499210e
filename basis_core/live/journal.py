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
loss at the price of an fsync per row.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
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
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
    """One row of the journal (``payload`` decoded)."""

    seq: int
    written_ns: int
    venue: str
    kind: Literal["intent", "outcome"]
    intent_id: str
    venue_client_id: str
    operation: str
    status: str
    fingerprint: str
    payload: dict[str, Any]


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
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"journal_path: {target} is not a usable SQLite journal: {e}") from None

    # -- writing --------------------------------------------------------------------------------
    def _insert(self, venue: str, kind: str, intent_id: str, venue_client_id: str, operation: str,
                status: str, fp: str, payload: Mapping[str, Any]) -> int:
        text = dumps(payload)
        if self.redactor.contains_secret(text):
            log.warning("a journal payload of %s %s contained a secret value; it was masked", venue, operation)
            text = self.redactor.redact(text)
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO journal (written_ns, venue, kind, intent_id, venue_client_id, operation, status,"
                " fingerprint, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time_ns(), venue, kind, intent_id, venue_client_id, operation, status, fp, text),
            )
            return int(cur.lastrowid or 0)

    def record_intent(self, venue: str, intent_id: str, venue_client_id: str, operation: str,
                      payload: Mapping[str, Any], fp: str) -> int:
        """Write an intent (before sending); returns its ``seq``. Committed when this returns."""
        return self._insert(venue, "intent", intent_id, venue_client_id, operation, "sending", fp, payload)

    def record_outcome(self, intent: JournalRow, status: str, payload: Mapping[str, Any]) -> int:
        """Write an outcome of ``intent`` (``done`` / ``rejected`` / ``absent`` / ``unknown``)."""
        if status not in OUTCOME_STATUSES:
            raise ValueError(f"unknown outcome status {status!r}")
        return self._insert(intent.venue, "outcome", intent.intent_id, intent.venue_client_id, intent.operation,
                            status, intent.fingerprint, payload)

    # -- reading --------------------------------------------------------------------------------
    @staticmethod
    def _row(r: tuple[Any, ...]) -> JournalRow:
        return JournalRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]))

    _COLS = "seq, written_ns, venue, kind, intent_id, venue_client_id, operation, status, fingerprint, payload"

    def state(self, venue: str, intent_id: str) -> IntentState | None:
        """The latest intent of ``(venue, intent_id)`` and its last outcome, or None if never journaled."""
        with self._lock:
            r = self._db.execute(
                f"SELECT {self._COLS} FROM journal WHERE venue=? AND intent_id=? AND kind='intent'"
                " ORDER BY seq DESC LIMIT 1", (venue, intent_id)).fetchone()
            if r is None:
                return None
            intent = self._row(r)
            o = self._db.execute(
                f"SELECT {self._COLS} FROM journal WHERE venue=? AND intent_id=? AND kind='outcome' AND seq>?"
                " ORDER BY seq DESC LIMIT 1", (venue, intent_id, intent.seq)).fetchone()
        return IntentState(intent, self._row(o) if o is not None else None)

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
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"ExecutionJournal({str(self.path) if self.path else ':memory:'})"
