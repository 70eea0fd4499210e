"""The append-only execution journal of live mode (SQLite, stdlib ``sqlite3``).

Every live operation that changes something at a venue writes an **intent** row before the request
is sent (with the deterministic venue client id it will carry) and **outcome** rows after. Rows are
never updated or deleted (triggers refuse it), so the journal is the audit trail of what was sent.

Schema (``PRAGMA user_version = 2``; a version-1 file gains the ``owner`` column when opened), one table
``journal``:

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
``owner``          TEXT      ``pid:start`` of the process that wrote the row (who works on the intent)
=================  ========  =====================================================================

Outcome statuses: ``done`` (the venue holds the order / did the operation; payload has ``deltas``),
``rejected`` (definitively refused: nothing exists), ``absent`` (verified absent at the venue after
the request could no longer land: nothing exists) are terminal; ``unknown`` (an ambiguous failure,
not resolved yet) is not. An intent is **pending** while no terminal outcome follows its latest intent
row; :meth:`ExecutionJournal.pending` lists them for reconciliation.

**Claims** (:meth:`ExecutionJournal.claim`): looking a key up and writing its intent is ONE SQLite write
transaction (``BEGIN IMMEDIATE``), so of several threads or processes sharing a journal file with the same
client id exactly one writes the intent and sends; the others find that intent. While its writer works on
it (a thread of this process holding it, or another live process that wrote the key's latest row), a claim
waits for its outcome instead of sending or resolving it; an intent whose writer died (a crash) is handed
to the claimer, who resolves it (looks the order up / resumes the transaction) before anything is sent.

On-chain intents (:mod:`basis_core.live.chain_intents`) add outcome rows of status ``unknown`` for every
signed transaction (``event: "signed"``: label, hash, nonce, raw signed bytes, fields) committed BEFORE
the transaction is broadcast.

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
deferred transaction never blocks another writer of the process). Several processes may share one file:
a writer waits up to 30 s for another's lock, and claims are atomic across them (see Claims above).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
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

from basis_core.errors import AmbiguousOutcomeError, ConfigError
from basis_core.live.secrets import Redactor

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2

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
    payload TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT ''
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


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_json_default)  # stateless: shared


def dumps(obj: Any) -> str:
    """Canonical JSON (sorted keys, Decimals as strings)."""
    return _ENCODER.encode(obj)


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
    owner: str = ""

    @cached_property
    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.payload_text)
        return out

    @classmethod
    def _new(cls, seq: int, written_ns: int, venue: str, kind: str, intent_id: str, venue_client_id: str,
             operation: str, status: str, fp: str, payload_text: str, owner: str) -> JournalRow:
        """The row of these values without the frozen dataclass's per-field ``__init__`` (a row per write)."""
        row = object.__new__(cls)
        object.__setattr__(row, "__dict__", {
            "seq": seq, "written_ns": written_ns, "venue": venue, "kind": kind, "intent_id": intent_id,
            "venue_client_id": venue_client_id, "operation": operation, "status": status, "fingerprint": fp,
            "payload_text": payload_text, "owner": owner})
        return row


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


def _start_time(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks since boot, Linux ``/proc``), "" when unknown: with the pid
    it names a process run, so a reused pid is not mistaken for the writer of a row."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2:].split()[19].decode()
    except (OSError, ValueError, IndexError):
        return ""


_OWNER = f"{os.getpid()}:{_start_time(os.getpid())}"


def _new_owner() -> None:
    """A forked child is another process run: its own ``pid:start``."""
    global _OWNER
    pid = os.getpid()
    _OWNER = f"{pid}:{_start_time(pid)}"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_owner)


def this_owner() -> str:
    """The ``owner`` written on this process's rows: ``pid:start`` (a forked child's own, set when it forks)."""
    return _OWNER


def owner_alive(owner: str) -> bool:
    """Whether the process that wrote ``owner`` (``pid:start``) still runs (on this host; an unparsable owner
    counts as dead)."""
    pid_s, _, start = owner.partition(":")
    try:
        pid = int(pid_s)
    except ValueError:
        return False
    if pid == os.getpid():
        return owner == this_owner()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not start or _start_time(pid) in ("", start)


class _Inflight:
    """A key a thread of this process works on; ``event`` (created by the first thread that waits for it, under
    ``_INFLIGHT_LOCK``) is set when it is released."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event: threading.Event | None = None


#: keys being worked on by a thread of this process: (file, venue, intent id) -> its slot
_INFLIGHT: dict[tuple[str, str, str], _Inflight] = {}
_INFLIGHT_LOCK = threading.Lock()


@dataclass
class Claim:
    """What :meth:`ExecutionJournal.claim` found and took.

    ``intent``: the intent row written by this claim (send it), or None. ``prior``: the key's state before
    (None if never journaled); when ``intent`` is None it is ``done`` (return its deltas), a pending intent
    handed to this claimer (``owned``: resolve it, then claim again), or an intent of another instruction
    (fingerprint differs: a duplicate client id). An owned claim must be :meth:`release` d (``finally``).
    """

    intent: JournalRow | None
    prior: IntentState | None
    owned: bool
    _key: tuple[str, str, str] | None = field(default=None, repr=False)

    def release(self) -> None:
        """Let other threads of this process claim the key again."""
        key, self._key = self._key, None
        if key is not None:
            _release(key)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _release(key: tuple[str, str, str]) -> None:
    """Let other threads of this process claim ``key`` again (wakes those waiting for it)."""
    with _INFLIGHT_LOCK:
        slot = _INFLIGHT.pop(key, None)
    if slot is not None and slot.event is not None:
        slot.event.set()


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
        if self.due is not None:  # a commit is due (it is taken under the journal's lock after ``due`` is cleared, so
            return                # it also commits what the caller wrote before this check): nothing to add
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
    :param readonly: open an existing journal file for reading only (``basis status``): nothing is created or
        written; a missing file or one that is not a journal is a ``ConfigError``.
    """

    def __init__(self, path: str | Path | None = None, *, redactor: Redactor | None = None,
                 synchronous: Literal["NORMAL", "FULL"] = "NORMAL", readonly: bool = False) -> None:
        self.path = None if path is None or str(path) == ":memory:" else Path(path)
        self.redactor = redactor or Redactor()
        self._lock = threading.RLock()
        if synchronous not in ("NORMAL", "FULL"):
            raise ConfigError(f"journal synchronous: expected NORMAL or FULL, got {synchronous!r}")
        target = ":memory:" if self.path is None else str(self.path)
        if readonly:
            self._open_readonly()
            return
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
            if version not in (0, 1, SCHEMA_VERSION):
                raise ConfigError(f"journal_path: {self.path} has schema version {version}, "
                                  f"this basis-core writes {SCHEMA_VERSION}")
            if version == 0:  # new file: create the schema (an existing journal is opened read-only until used)
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            elif version == 1:  # adds the owner column (rows of version 1 have no known owner: a dead one)
                self._db.execute("BEGIN IMMEDIATE")
                if self._db.execute("PRAGMA user_version").fetchone()[0] == 1:
                    self._db.execute("ALTER TABLE journal ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
                    self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                self._db.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"journal_path: {target} is not a usable SQLite journal: {e}") from None
        self._flusher = _Flusher(self._db, self._lock, DEFER_SECONDS)
        self._file_key = str(self.path.resolve()) if self.path is not None else f"memory:{id(self)}"
        self._finalizer = weakref.finalize(self, _finalize, self._db, self._lock, self._flusher)

    def _open_readonly(self) -> None:
        if self.path is None or not self.path.is_file():
            raise ConfigError(f"journal_path: {self.path} does not exist")
        try:
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False, timeout=30.0)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (1, SCHEMA_VERSION):
                raise ConfigError(f"journal_path: {self.path} is not an execution journal (schema {version})")
            if version == 1:  # read like version 2: rows of version 1 have no known owner
                self._COLS = self._COLS.replace(", owner", ", '' AS owner")
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"journal_path: {self.path} is not a usable SQLite journal: {e}") from None
        self._flusher = _Flusher(self._db, self._lock, DEFER_SECONDS)
        self._file_key = str(self.path.resolve())
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
        owner = this_owner()
        with self._lock:
            if defer and not db.in_transaction:
                db.execute("BEGIN")
            cur = db.execute(
                "INSERT INTO journal (written_ns, venue, kind, intent_id, venue_client_id, operation, status,"
                " fingerprint, payload, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, venue, kind, intent_id, venue_client_id, operation, status, fp, text, owner),
            )
            if not defer and db.in_transaction:
                db.execute("COMMIT")  # also commits any deferred outcome before it
            seq = int(cur.lastrowid or 0)
        if defer:
            self._flusher.schedule()
        return JournalRow._new(seq, now, venue, kind, intent_id, venue_client_id, operation, status, fp, text, owner)

    def record_intent(self, venue: str, intent_id: str, venue_client_id: str, operation: str,
                      payload: Mapping[str, Any] | str, fp: str) -> JournalRow:
        """Write an intent (before sending) and return its row; committed (with any deferred outcome) when
        this returns. ``payload``: a JSON-able mapping or its JSON text."""
        return self._insert(venue, "intent", intent_id, venue_client_id, operation, "sending", fp, payload)

    def claim(self, venue: str, intent_id: str, venue_client_id: str, operation: str,
              payload: Mapping[str, Any] | str, fp: str, *, new_intent: bool = True,
              wait_s: float = 120.0) -> Claim:
        """Atomically look ``(venue, intent_id)`` up and, when nothing blocks it, write its intent (see the module
        docstring): one ``BEGIN IMMEDIATE`` transaction, so threads and processes sharing the file never both
        send. Never journaled or ended without effect (``absent`` / ``rejected``) and same instruction: a new
        intent is written and returned (``new_intent=False``: nothing is written, ``intent`` is None). ``done``:
        returned as ``prior``. Pending: while a thread of this process or another live process works on it,
        waits up to ``wait_s`` seconds for it to end (then AmbiguousOutcomeError; ``wait_s=0`` returns an
        unowned claim at once); else it is handed over (``owned``, an ``unknown`` outcome ``taken_over`` is
        written) for the caller to resolve. Fingerprint differs: returned unowned (a duplicate client id)."""
        key = (self._file_key, venue, intent_id)
        deadline = time.monotonic() + wait_s
        poll = 0.005
        while True:
            with _INFLIGHT_LOCK:
                held = _INFLIGHT.get(key)
                if held is None:
                    _INFLIGHT[key] = _Inflight()
                    busy = None
                else:
                    busy = held.event
                    if busy is None:
                        busy = held.event = threading.Event()
            if busy is not None:  # another thread of this process works on the key: wait for it
                left = deadline - time.monotonic()
                if left <= 0 or not busy.wait(left):
                    return self._blocked(venue, intent_id, "another thread of this process", wait_s)
                continue
            try:
                result = self._claim_once(venue, intent_id, venue_client_id, operation, payload, fp, new_intent)
            except BaseException:
                _release(key)
                raise
            if isinstance(result, Claim):
                if result.owned:
                    result._key = key
                else:
                    _release(key)
                return result
            _release(key)
            left = deadline - time.monotonic()
            if left <= 0:
                return self._blocked(venue, intent_id, f"process {result.partition(':')[0]}", wait_s)
            time.sleep(min(poll, left))
            poll = min(poll * 2, 0.2)

    def _blocked(self, venue: str, intent_id: str, who: str, wait_s: float) -> Claim:
        if wait_s <= 0:
            return Claim(None, self.state(venue, intent_id), False)
        raise AmbiguousOutcomeError(
            f"{venue}: {intent_id!r} is being executed by {who}; its outcome is not known after {wait_s:g} s: "
            "nothing was sent, ask again later")

    def _claim_once(self, venue: str, intent_id: str, venue_client_id: str, operation: str,
                    payload: Mapping[str, Any] | str, fp: str, new_intent: bool) -> Claim | str:
        """One claim attempt in one write transaction; a live foreign owner's ``pid:start`` when blocked."""
        text = payload if isinstance(payload, str) else dumps(payload)
        if self.redactor and self.redactor.contains_secret(text):
            log.warning("a journal payload of %s %s contained a secret value; it was masked", venue, operation)
            text = self.redactor.redact(text)
        db = self._db
        with self._lock:
            if not db.in_transaction:  # (an open transaction holds a deferred outcome: it already has the lock)
                db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute(self._BY_KEY, (venue, intent_id)).fetchall()
                prior = self._state_of(rows) if rows else None
                if prior is not None and prior.intent.fingerprint != fp:
                    return Claim(None, prior, False)
                if prior is not None and prior.status == "done":
                    return Claim(None, prior, False)
                if prior is None or not prior.pending:
                    if not new_intent:
                        return Claim(None, prior, False)
                    row = self._write(venue, "intent", intent_id, venue_client_id, operation, "sending", fp, text)
                    return Claim(row, prior, True)
                owner = str(rows[0][10])
                if owner != this_owner() and owner_alive(owner):
                    return owner
                took = self._write(venue, "outcome", intent_id, prior.intent.venue_client_id, prior.intent.operation,
                                   "unknown", prior.intent.fingerprint,
                                   dumps({"event": "taken_over", "from": owner or "unknown"}))
                return Claim(None, IntentState(prior.intent, took), True)
            finally:
                db.execute("COMMIT")

    def _write(self, venue: str, kind: str, intent_id: str, venue_client_id: str, operation: str, status: str,
               fp: str, text: str) -> JournalRow:
        now = time.time_ns()
        owner = this_owner()
        cur = self._db.execute(
            "INSERT INTO journal (written_ns, venue, kind, intent_id, venue_client_id, operation, status,"
            " fingerprint, payload, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now, venue, kind, intent_id, venue_client_id, operation, status, fp, text, owner))
        return JournalRow._new(int(cur.lastrowid or 0), now, venue, kind, intent_id, venue_client_id, operation, status,
                               fp, text, owner)

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
        return JournalRow._new(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])

    _COLS = "seq, written_ns, venue, kind, intent_id, venue_client_id, operation, status, fingerprint, payload, owner"
    #: the rows of one (venue, intent id), newest first (claims; a journal that claims has the owner column)
    _BY_KEY = f"SELECT {_COLS} FROM journal WHERE venue=? AND intent_id=? ORDER BY seq DESC"

    def state(self, venue: str, intent_id: str) -> IntentState | None:
        """The latest intent of ``(venue, intent_id)`` and its last outcome, or None if never journaled."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS} FROM journal WHERE venue=? AND intent_id=? ORDER BY seq DESC",
                (venue, intent_id)).fetchall()
        return self._state_of(rows)

    def rows_of(self, venue: str, intent_id: str) -> list[JournalRow]:
        """The rows of the latest intent of ``(venue, intent_id)``: that intent, then its outcomes (oldest first)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS} FROM journal WHERE venue=? AND intent_id=? ORDER BY seq DESC",
                (venue, intent_id)).fetchall()
        out: list[JournalRow] = []
        for r in rows:
            out.append(self._row(r))
            if r[3] == "intent":
                return out[::-1]
        return []

    def _state_of(self, rows: list[tuple[Any, ...]]) -> IntentState | None:
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
