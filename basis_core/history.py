"""The manager's execution history: compact records, absolute indices, optionally bounded.

Storage (issue 17: <= 1 KB kept per execution, <= 300 B per accrual record). Each record is one flat tuple and
its timestamp an entry of an ``array('q')`` (8 bytes, no int object); the deltas' dicts are not kept, their
Decimals are shared, not copied:

- an execution (it has ids, a fill, a bundle, fees or pnl): ``(shape id, client_id, order_id, fill_price,
  fill_amount, bundle, *position values, *fee values, *pnl values)``; what records of one kind share (venue,
  operation, status, the keys of their three maps) is a *shape*, stored once and referred to by a small int;
- an accrual (:meth:`HistoryLog.add_accrual`: funding, interest, staking, every step a position is held): a
  shape and its Decimals packed in one string, ``(shape id, "v1 v2 ...")`` (``str`` / ``Decimal`` round-trip
  exactly); about a third of the Decimals' size;
- a record with positions only (no fees, no pnl: the plainest venues' fills): ``(venue, operation, status,
  client_id, order_id, fill_price, fill_amount, bundle, *position keys, *their values)``: the strings are shared,
  nothing is looked up on the hot path;
- a failure or any record added with :meth:`HistoryLog.add`: a shape, the ids and fill, the error and its field.

Tuples of ints, strings, Decimals and None are untracked by the garbage collector after its first pass, so
millions of records do not slow collections down. Records are materialised (:class:`HistoryRecord` with fresh
maps) on access.

Indices are absolute (issue 15): record ``i`` is the ``i``-th recorded since the log was made, whatever was dropped
since. ``len(log)`` is the number ever recorded (:attr:`HistoryLog.end`); :attr:`HistoryLog.start` is the first
record still kept. :meth:`HistoryLog.trim` drops the oldest records down to :attr:`HistoryLog.limit`, never one
at or after the index its consumers have reached (``before``): ``basis run`` trims after each step, once the
run-state store attributed and stored the step's records. Reading a dropped record raises
:class:`~basis_core.errors.HistoryTrimmedError`; iteration and open slices (``log[:]``) cover the kept records.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, overload

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import MAX_VALUE_CHARS, HistoryTrimmedError, bounded
from basis_core.timeutil import from_ns

_EMPTY: Mapping[str, Decimal] = MappingProxyType({})
#: distinct record shapes kept for sharing; past this, a new shape is stored in its record (and dropped with it on
#: a trim): a plugin whose keys change every time, e.g. a new LP position id per deposit, cannot grow the table
MAX_SHAPES = 4096
#: head lengths of a shaped record: an accrual (its Decimals packed in one string), an execution (ids, fill,
#: bundle), any record (with the error and its field)
_PACKED, _FULL, _FAILED = 0, 5, 7
#: ``_Shape.head`` of an execution record (ids, fill, bundle at 1..5): what :meth:`HistoryLog.block` readers decode
EXECUTION_HEAD = _FULL
#: the latest records' sources (the deltas they were made from) kept for :meth:`HistoryLog.sources`: at least half
#: this many, at most this many (a consumer reading every step reads its records without materialising them)
TAIL = 16


class HistoryRecord:
    """One execution (or accrual) outcome. Dict-style access works too: ``record["success"]``."""

    __slots__ = (
        "bundle",
        "client_id",
        "error",
        "error_field",
        "fees",
        "fill_amount",
        "fill_price",
        "operation",
        "order_id",
        "pnl",
        "positions",
        "status",
        "success",
        "ts_ns",
        "venue",
    )

    def __init__(self, ts_ns: int, venue: str, operation: str, success: bool, status: str,
                 client_id: str | None = None, order_id: str | None = None,
                 positions: Mapping[str, Decimal] = _EMPTY, fees: Mapping[str, Decimal] = _EMPTY,
                 pnl: Mapping[str, Decimal] = _EMPTY, error: str | None = None,
                 error_field: str | None = None, fill_price: Decimal | None = None,
                 fill_amount: Decimal | None = None, bundle: int | None = None) -> None:
        self.ts_ns = ts_ns
        self.venue = venue
        self.operation = operation
        self.success = success
        self.status = status
        self.client_id = client_id
        self.order_id = order_id
        self.positions = positions
        self.fees = fees
        self.pnl = pnl
        self.error = error
        self.error_field = error_field
        self.fill_price = fill_price
        self.fill_amount = fill_amount
        self.bundle = bundle  # the atomic bundle (numbered per manager) this record is a step of, or is

    @classmethod
    def from_deltas(cls, ts_ns: int, d: ExecutionDeltas) -> HistoryRecord:
        # the deltas' maps are never mutated after they are returned: share them, copy nothing
        return cls(ts_ns, d.venue, d.operation, True, d.status, d.client_id, d.order_id,
                   d.positions, d.fees or _EMPTY, d.pnl or _EMPTY, None, None, d.fill_price, d.fill_amount)

    @classmethod
    def failure(cls, ts_ns: int, venue: str, operation: str, client_id: str | None,
                exc: BaseException) -> HistoryRecord:
        """The record of a failure; its error text and field are bounded (a long value is cut, saying its length)."""
        try:
            text = str(exc)
        except Exception:  # an exception whose __str__ fails
            text = "?"
        field = getattr(exc, "field", None)
        return cls(ts_ns, venue, operation, False, "failed", client_id, None,
                   error=bounded(f"{type(exc).__name__}: {text}"),
                   error_field=bounded(field, MAX_VALUE_CHARS) if type(field) is str else None)

    @property
    def timestamp(self) -> Any:
        return from_ns(self.ts_ns)

    def __getitem__(self, key: str) -> Any:
        if key == "timestamp":
            return self.timestamp
        return getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp.isoformat(), "venue": self.venue, "operation": self.operation,
            "success": self.success, "status": self.status, "client_id": self.client_id,
            "order_id": self.order_id, "positions": {k: str(v) for k, v in self.positions.items()},
            "fees": {k: str(v) for k, v in self.fees.items()}, "pnl": {k: str(v) for k, v in self.pnl.items()},
            "error": self.error, "error_field": self.error_field,
            "fill_price": None if self.fill_price is None else str(self.fill_price),
            "fill_amount": None if self.fill_amount is None else str(self.fill_amount),
            "bundle": self.bundle,
        }

    def __repr__(self) -> str:
        return (f"HistoryRecord({self.timestamp.isoformat()}, {self.venue}, {self.operation}, "
                f"success={self.success}, status={self.status})")


class _Shape:
    """What records of one kind share: venue, operation, success, status, the keys of their maps, and how many
    optional fields (:data:`_FULL`, :data:`_FAILED`) precede their values (``a``, ``b``, ``c``: where the
    positions, fees and pnl values start in a stored tuple)."""

    __slots__ = ("a", "b", "c", "fee_keys", "head", "operation", "pnl_keys", "pos_keys", "status", "success",
                 "venue")

    def __init__(self, venue: str, operation: str, success: bool, status: str, head: int,
                 pos_keys: tuple[str, ...], fee_keys: tuple[str, ...], pnl_keys: tuple[str, ...]) -> None:
        self.venue = venue
        self.operation = operation
        self.success = success
        self.status = status
        self.head = head
        self.pos_keys = pos_keys
        self.fee_keys = fee_keys
        self.pnl_keys = pnl_keys
        self.a = 1 + head
        self.b = self.a + len(pos_keys)
        self.c = self.b + len(fee_keys)


def _map(keys: tuple[str, ...], values: tuple[Any, ...]) -> Mapping[str, Decimal]:
    return dict(zip(keys, values, strict=True)) if keys else _EMPTY


class HistoryLog(Sequence[HistoryRecord]):
    """The manager's execution history: a sequence of :class:`HistoryRecord` with absolute indices (see the
    module docstring).

    :param limit: records :meth:`trim` keeps (None: all; :meth:`trim` then drops nothing unless told ``keep``).
    :param lock: the lock writers hold (the manager's); :meth:`trim` takes it so no record is lost to a
        concurrent append.
    """

    __slots__ = ("_failed", "_gen", "_lock", "_recs", "_shape_ids", "_shapes", "_start", "_tail", "_ts", "_views",
                 "limit")

    def __init__(self, limit: int | None = None, lock: Any = None) -> None:
        if limit is not None and (type(limit) is not int or limit < 0):
            raise ValueError(f"limit: must be a whole number >= 0 or None, got {limit!r}")
        self.limit = limit
        self._recs: list[tuple[Any, ...]] = []
        self._ts = array("q")
        self._start = 0  # absolute index of _recs[0]
        self._gen = 0  # odd while a trim moves records (readers retry)
        self._failed = 0  # failures ever recorded (kept or dropped)
        self._shape_ids: dict[tuple[Any, ...], int] = {}
        self._shapes: list[_Shape] = []
        self._lock = lock if lock is not None else threading.RLock()
        self._views: list[VenueHistory] = []  # per-venue views: indexed before a trim, cut after it
        #: (absolute index of the list's first entry, the sources of the latest records: their ExecutionDeltas, None
        #: for a record made otherwise). The list only grows; it is replaced, never cut (readers hold it safely).
        self._tail: tuple[int, list[ExecutionDeltas | None]] = (0, [])

    # -- writing -----------------------------------------------------------------------------------
    def _shape(self, key: tuple[Any, ...], venue: str, operation: str, success: bool, status: str, head: int,
               pos: Mapping[str, Any], fees: Mapping[str, Any], pnl: Mapping[str, Any]) -> int | _Shape:
        """The id of the shape of ``key`` (made on first use); past :data:`MAX_SHAPES` shapes, the shape itself."""
        with self._lock:
            sid = self._shape_ids.get(key)
            if sid is None:
                shape = _Shape(venue, operation, success, status, head, tuple(pos), tuple(fees), tuple(pnl))
                if len(self._shapes) >= MAX_SHAPES:
                    return shape
                sid = len(self._shapes)
                self._shapes.append(shape)
                self._shape_ids[key] = sid
            return sid

    def add_deltas(self, ts_ns: int, d: ExecutionDeltas, bundle: int | None = None) -> None:
        """Record a successful execution (or accrual) ``d`` at ``ts_ns`` (``bundle``: the atomic bundle it
        belongs to); its Decimals are shared, its maps are not kept."""
        # hot path (every execution): empty maps are never iterated; the shape key is one flat tuple
        pos = d.positions
        fees = d.fees
        pnl = d.pnl
        rec: tuple[Any, ...]
        if fees or pnl:
            fees = fees or _EMPTY
            pnl = pnl or _EMPTY
            key = (d.venue, d.operation, d.status, 5, *pos, None, *fees, None, *pnl)
            sid: int | _Shape | None = self._shape_ids.get(key)
            if sid is None:
                sid = self._shape(key, d.venue, d.operation, True, d.status, _FULL, pos, fees, pnl)
            rec = (sid, d.client_id, d.order_id, d.fill_price, d.fill_amount, bundle, *pos.values(), *fees.values(),
                   *pnl.values())
        elif len(pos) == 2:  # positions only: no shape to look up (two keys: a trade, a transfer)
            k1, k2 = pos
            rec = (d.venue, d.operation, d.status, d.client_id, d.order_id, d.fill_price, d.fill_amount, bundle,
                   k1, k2, pos[k1], pos[k2])
        else:
            rec = (d.venue, d.operation, d.status, d.client_id, d.order_id, d.fill_price, d.fill_amount, bundle,
                   *pos, *pos.values())
        self._ts.append(ts_ns)  # the time first: a record a reader can see has its time
        self._recs.append(rec)
        tail = self._tail[1]
        if len(tail) < TAIL:
            tail.append(d)
        else:
            self._shift_tail(d)

    def _shift_tail(self, d: ExecutionDeltas | None) -> None:
        """The tail is full: a new one with its newer half and ``d``."""
        start, tail = self._tail
        half = TAIL >> 1
        self._tail = (start + half, [*tail[half:], d])

    def add_accrual(self, ts_ns: int, d: ExecutionDeltas) -> None:
        """Record an accrual ``d`` (funding, interest, staking: one or a few per venue and step, off the order hot
        path) at ``ts_ns``: its Decimals are kept as one string (``str`` and ``Decimal`` round-trip exactly),
        about a third of their size. Deltas with ids or a fill, or a value that is not a Decimal, are recorded as
        :meth:`add_deltas` records them."""
        pos = d.positions
        fees = d.fees or _EMPTY
        pnl = d.pnl or _EMPTY
        if d.client_id is None and d.order_id is None and d.fill_price is None and d.fill_amount is None:
            vals = (*pos.values(), *fees.values(), *pnl.values())
            for v in vals:
                if type(v) is not Decimal:
                    break
            else:
                key = (d.venue, d.operation, d.status, 0, *pos, None, *fees, None, *pnl)
                sid: int | _Shape | None = self._shape_ids.get(key)
                if sid is None:
                    sid = self._shape(key, d.venue, d.operation, True, d.status, _PACKED, pos, fees, pnl)
                packed = " ".join(map(str, vals))
                self._ts.append(ts_ns)
                self._recs.append((sid, packed))
                tail = self._tail[1]
                if len(tail) < TAIL:
                    tail.append(d)
                else:
                    self._shift_tail(d)
                return
        self.add_deltas(ts_ns, d)

    def add(self, r: HistoryRecord) -> None:
        """Record ``r`` (any record: a failure, an adopted order ...)."""
        pos, fees, pnl = r.positions or _EMPTY, r.fees or _EMPTY, r.pnl or _EMPTY
        key = (r.venue, r.operation, r.status, 7, bool(r.success), None, *pos, None, *fees, None, *pnl)
        sid: int | _Shape | None = self._shape_ids.get(key)
        if sid is None:
            sid = self._shape(key, r.venue, r.operation, bool(r.success), r.status, _FAILED, pos, fees, pnl)
        if not r.success:
            self._failed += 1
        self._ts.append(r.ts_ns)
        self._recs.append((sid, r.client_id, r.order_id, r.fill_price, r.fill_amount, r.bundle, r.error,
                           r.error_field, *pos.values(), *fees.values(), *pnl.values()))
        tail = self._tail[1]
        if len(tail) < TAIL:
            tail.append(None)  # read back from its stored form
        else:
            self._shift_tail(None)

    append = add

    # -- bounds --------------------------------------------------------------------------------------
    @property
    def start(self) -> int:
        """Absolute index of the first record kept (0 until something was dropped)."""
        return self._start

    @property
    def end(self) -> int:
        """Absolute index the next record gets: how many were ever recorded (``len(log)``)."""
        return self._start + len(self._recs)

    def __len__(self) -> int:
        return self._start + len(self._recs)

    @property
    def kept(self) -> int:
        """How many records are kept in memory."""
        return len(self._recs)

    def trim(self, before: int | None = None, keep: int | None = None) -> int:
        """Drop the oldest records so that at most ``keep`` (default :attr:`limit`; None: nothing is dropped)
        remain, but never one at or after absolute index ``before`` (default: :attr:`end`): what the consumers
        have not taken yet stays. Returns how many were dropped."""
        keep = self.limit if keep is None else keep
        if keep is None:
            return 0
        if keep < 0:
            raise ValueError(f"keep: must be >= 0, got {keep}")
        with self._lock:
            end = self._start + len(self._recs)
            upto = end - keep if before is None else min(end - keep, before)
            n = upto - self._start
            if n <= 0:
                return 0
            for v in self._views:  # each view indexes its venue's records before they go (its counts stay whole)
                v._sync()
            self._gen += 1
            try:
                del self._ts[:n]
                del self._recs[:n]
                self._start += n
            finally:
                self._gen += 1
            for v in self._views:
                v._cut(self._start)
            return n

    # -- reading -------------------------------------------------------------------------------------
    def _trimmed(self, i: int) -> HistoryTrimmedError:
        return HistoryTrimmedError(i, self._start)

    def _venue(self, rec: tuple[Any, ...]) -> str:
        """The venue of a stored tuple."""
        head = rec[0]
        return head if type(head) is str else (head if type(head) is _Shape else self._shapes[head]).venue

    def _make(self, ts_ns: int, rec: tuple[Any, ...]) -> HistoryRecord:
        if type(rec[0]) is str:  # (venue, operation, status, ids, fill, bundle, *position keys, *their values)
            n = (len(rec) - 8) >> 1
            pos = dict(zip(rec[8:8 + n], rec[8 + n:], strict=False)) if n else _EMPTY
            return HistoryRecord(ts_ns, rec[0], rec[1], True, rec[2], rec[3], rec[4], pos, _EMPTY, _EMPTY, None, None,
                                 rec[5], rec[6], rec[7])
        s = rec[0] if type(rec[0]) is _Shape else self._shapes[rec[0]]
        head = s.head
        if head == _PACKED:
            vals = tuple(map(Decimal, rec[1].split(" "))) if rec[1] else ()
            a = len(s.pos_keys)
            b = a + len(s.fee_keys)
            return HistoryRecord(ts_ns, s.venue, s.operation, s.success, s.status, None, None,
                                 _map(s.pos_keys, vals[:a]), _map(s.fee_keys, vals[a:b]), _map(s.pnl_keys, vals[b:]))
        a, b, c = s.a, s.b, s.c
        pk, fk, nk = s.pos_keys, s.fee_keys, s.pnl_keys
        # the stored values of these keys, in their order (same lengths by construction: no strict check per record)
        pos = dict(zip(pk, rec[a:b], strict=False)) if pk else _EMPTY
        fees = dict(zip(fk, rec[b:c], strict=False)) if fk else _EMPTY
        pnl = dict(zip(nk, rec[c:], strict=False)) if nk else _EMPTY
        if head == _FULL:
            return HistoryRecord(ts_ns, s.venue, s.operation, s.success, s.status, rec[1], rec[2], pos, fees, pnl,
                                 None, None, rec[3], rec[4], rec[5])
        return HistoryRecord(ts_ns, s.venue, s.operation, s.success, s.status, rec[1], rec[2], pos, fees, pnl,
                             rec[6], rec[7], rec[3], rec[4], rec[5])

    def _get(self, i: int) -> tuple[int, tuple[Any, ...]]:
        """The stored time and tuple of absolute index ``i`` (consistent with a concurrent :meth:`trim`)."""
        while True:
            gen = self._gen
            start = self._start
            j = i - start
            try:
                got = (self._ts[j], self._recs[j]) if j >= 0 else None
            except IndexError:
                got = None
            if gen & 1 or gen != self._gen:
                continue  # a trim moved the records meanwhile: read again
            if got is None:
                if i < start:
                    raise self._trimmed(i)
                raise IndexError(f"history index {i} out of range (0..{start + len(self._recs) - 1})")
            return got

    def _record(self, i: int) -> HistoryRecord:
        return self._make(*self._get(i))

    @overload
    def __getitem__(self, i: int) -> HistoryRecord: ...

    @overload
    def __getitem__(self, i: slice) -> list[HistoryRecord]: ...

    def __getitem__(self, i: int | slice) -> HistoryRecord | list[HistoryRecord]:
        """``log[i]``: absolute index (negative: from the end); ``log[a:b]``: the records ``a`` to ``b``; an open
        start (``log[:b]``) begins at :attr:`start`. A dropped index raises :class:`HistoryTrimmedError`."""
        if isinstance(i, slice):
            while True:
                gen, start = self._gen, self._start
                n = start + len(self._recs)
                lo = i.start
                if lo is None and (i.step is None or i.step > 0):
                    lo = start
                rng = range(*slice(lo, i.stop, i.step).indices(n))
                if rng and min(rng[0], rng[-1]) < start:
                    if gen & 1 or gen != self._gen:
                        continue
                    raise self._trimmed(min(rng[0], rng[-1]))
                if not rng:
                    return []
                a, b = min(rng[0], rng[-1]) - start, max(rng[0], rng[-1]) + 1 - start
                recs, ts = self._recs[a:b], self._ts[a:b]
                if not gen & 1 and gen == self._gen:
                    break
            base = a + start
            return [self._make(ts[j - base], recs[j - base]) for j in rng]
        if i < 0:
            i += len(self)
            if i < 0:
                raise IndexError("history index out of range")
        return self._record(i)

    def __iter__(self) -> Iterator[HistoryRecord]:
        """The records kept, oldest first (records added while iterating are included)."""
        i = self._start
        while True:
            try:
                yield self._record(i)
            except IndexError:
                return
            i += 1

    def indexed(self, since: int | None = None) -> Iterator[tuple[int, HistoryRecord]]:
        """``(absolute index, record)`` of the records kept from ``since`` (default :attr:`start`) on."""
        i = self._start if since is None else since
        while True:
            try:
                yield i, self._record(i)
            except IndexError:
                return
            i += 1

    def _stored(self, since: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """``(absolute index, stored tuple)`` from ``since`` (at least :attr:`start`) to the end."""
        i = max(since, self._start)
        while True:
            try:
                yield i, self._get(i)[1]
            except HistoryTrimmedError:
                i = self._start
                continue
            except IndexError:
                return
            i += 1

    def scan(self, end: int | None = None) -> Iterator[tuple[int, int, _Shape | None, Any]]:
        """One pass over the records kept before absolute index ``end`` (None: all), for a reader that decodes them
        itself (the run's executions scan): ``(index, time in ns, shape, stored tuple)`` for a shaped execution
        record (a success with ids, fill and bundle at 1..5 and its values at ``shape.a`` / ``shape.b`` /
        ``shape.c``), ``(index, time in ns, None, HistoryRecord)`` for any other. The records are read as they were
        when the pass began."""
        start, recs, times, shapes = self.block(end)
        for j, rec in enumerate(recs):
            h = rec[0]
            if type(h) is int:
                shape = shapes[h]
                if shape.head == _FULL:
                    yield start + j, times[j], shape, rec
                    continue
            yield start + j, times[j], None, self._make(times[j], rec)

    def block(self, end: int | None = None) -> tuple[int, list[tuple[Any, ...]], array[int], list[_Shape]]:
        """The records kept before absolute index ``end`` (None: all) as stored, for a reader that decodes them by
        column (the run's executions scan): ``(absolute index of the first, stored tuples, their times in ns, the
        shapes their int heads refer to)``, read as they were at one moment (consistent with a concurrent
        :meth:`trim`). A stored tuple whose head is an int whose shape has ``head == 5`` is an execution: ids, fill
        and bundle at 1..5, its values at ``shape.a`` / ``shape.b`` / ``shape.c``; decode any other with
        :meth:`scan`'s rule (:meth:`_make`)."""
        while True:
            gen, start = self._gen, self._start
            stop = start + len(self._recs) if end is None else min(end, start + len(self._recs))
            recs, times = self._recs[:max(stop - start, 0)], self._ts[:max(stop - start, 0)]
            if not gen & 1 and gen == self._gen:
                break
        return start, recs, times, list(self._shapes)  # shapes only grow: every id in recs is in the copy

    def sources(self, since: int, end: int) -> list[tuple[int, Any]]:
        """``(time in ns, record)`` of the records ``since`` to ``end`` (absolute indices) for a consumer that reads
        them once and changes nothing (the PnL attribution): the latest successes as the ExecutionDeltas they were
        recorded from (their maps are the deltas' own: never write to them; every ExecutionDeltas is a success),
        the others as :class:`HistoryRecord`. Same values as ``log[since:end]``; a dropped index raises
        :class:`HistoryTrimmedError`."""
        first, tail = self._tail
        at: int | None
        if end - since == 1:  # one record (an order a step): its deltas straight from the tail when there
            j = since - first
            if 0 <= j < len(tail):
                src = tail[j]
                gen, start = self._gen, self._start
                if src is not None and start <= since and not gen & 1:
                    try:
                        at = self._ts[since - start]
                    except IndexError:
                        at = None
                    if at is not None and gen == self._gen:
                        return [(at, src)]
        out: list[tuple[int, Any]] = []
        for i in range(since, end):
            j = i - first
            src = tail[j] if 0 <= j < len(tail) else None
            if src is None:
                ts_ns, rec = self._get(i)
                out.append((ts_ns, self._make(ts_ns, rec)))
                continue
            gen, start = self._gen, self._start
            try:
                at = self._ts[i - start] if i >= start else None
            except IndexError:
                at = None
            if at is None or gen & 1 or gen != self._gen:  # dropped, or a trim moved the records meanwhile
                at = self._get(i)[0]
            ts_ns = at
            out.append((ts_ns, src))
        return out

    def __reversed__(self) -> Iterator[HistoryRecord]:
        for i in range(len(self) - 1, self._start - 1, -1):
            yield self._record(i)

    def successes(self) -> int:
        """How many records ever recorded (kept or dropped) are successes."""
        return len(self) - self._failed

    def __repr__(self) -> str:
        dropped = f", {self._start} dropped" if self._start else ""
        return f"HistoryLog({len(self)} records{dropped})"


class VenueHistory(Sequence[HistoryRecord]):
    """One venue's ``execution_history``: the records of a :class:`HistoryLog` whose venue is ``venue``, in order.

    A view, not a copy: it shares the manager's records (bounded the same way) and costs nothing per
    execution; new records are indexed on the next access (8 bytes per record). Indices are absolute within the
    venue's records like the log's: ``len`` counts every record of the venue; the ones the log dropped raise
    :class:`HistoryTrimmedError`.
    """

    __slots__ = ("_dropped", "_idx", "_lock", "_log", "_seen", "venue")

    def __init__(self, log: HistoryLog, venue: str) -> None:
        self._log = log
        self.venue = venue
        self._idx = array("q")  # absolute log indices of this venue's kept records
        self._seen = 0  # log records looked at so far (absolute)
        self._dropped = 0  # this venue's records the log dropped
        self._lock = threading.Lock()
        log._views.append(self)

    def _sync(self) -> tuple[int, array[int]]:
        log = self._log
        if self._seen < len(log):
            with self._lock:
                venue, idx = self.venue, self._idx
                for i, rec in log._stored(self._seen):
                    if log._venue(rec) == venue:
                        idx.append(i)
                    self._seen = i + 1
        return self._dropped, self._idx

    def _cut(self, start: int) -> None:
        """The log dropped the records before ``start``: forget their indices."""
        with self._lock:
            idx = self._idx
            if idx and idx[0] < start:
                cut = bisect_left(idx, start)
                del idx[:cut]
                self._dropped += cut
            self._seen = max(self._seen, start)

    def __len__(self) -> int:
        dropped, idx = self._sync()
        return dropped + len(idx)

    @overload
    def __getitem__(self, i: int) -> HistoryRecord: ...

    @overload
    def __getitem__(self, i: slice) -> list[HistoryRecord]: ...

    def __getitem__(self, i: int | slice) -> HistoryRecord | list[HistoryRecord]:
        dropped, idx = self._sync()
        n = dropped + len(idx)
        if isinstance(i, slice):
            lo = i.start
            if lo is None and (i.step is None or i.step > 0):
                lo = dropped
            rng = range(*slice(lo, i.stop, i.step).indices(n))
            if rng and min(rng[0], rng[-1]) < dropped:
                raise HistoryTrimmedError(min(rng[0], rng[-1]), dropped, self.venue)
            return [self._log._record(idx[j - dropped]) for j in rng]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("history index out of range")
        if i < dropped:
            raise HistoryTrimmedError(i, dropped, self.venue)
        return self._log._record(idx[i - dropped])

    def __iter__(self) -> Iterator[HistoryRecord]:
        _, idx = self._sync()
        for j in idx[:]:
            yield self._log._record(j)

    def __repr__(self) -> str:
        return f"VenueHistory({self.venue!r}, {len(self)} records)"
