"""Compact execution-history records (slots; maps shared with the deltas) so 100,000 of them stay small."""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, overload

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import MAX_VALUE_CHARS, bounded
from basis_core.timeutil import from_ns

_EMPTY: Mapping[str, Decimal] = MappingProxyType({})


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


class HistoryLog(Sequence[HistoryRecord]):
    """The manager's execution history: a sequence of :class:`HistoryRecord`.

    Stored in two flat lists so a run with millions of records does not slow the garbage collector
    down: ``_atoms`` holds one tuple of atoms per record (ints, strings, Decimals, None), which the
    collector stops tracking at its first pass; ``_maps`` holds each record's positions, fees and pnl
    maps, three per record (a tuple holding a dict would stay tracked forever and make every full
    collection walk the whole history). Records are built on access (``log[-1].success``, iteration,
    slices).
    """

    __slots__ = ("_atoms", "_maps")

    def __init__(self) -> None:
        self._atoms: list[tuple[Any, ...]] = []
        self._maps: list[Mapping[str, Decimal]] = []

    def add_deltas(self, ts_ns: int, d: ExecutionDeltas, bundle: int | None = None) -> None:
        """Record a successful execution (or accrual) ``d`` at ``ts_ns`` (``bundle``: the atomic bundle it
        belongs to); its maps are shared, not copied."""
        # maps first: a record whose atoms are visible (another thread reading) has its maps
        self._maps += (d.positions, d.fees or _EMPTY, d.pnl or _EMPTY)
        self._atoms.append((ts_ns, d.venue, d.operation, True, d.status, d.client_id, d.order_id, None, None,
                            d.fill_price, d.fill_amount, bundle))

    def add(self, r: HistoryRecord) -> None:
        self._maps += (r.positions, r.fees, r.pnl)
        self._atoms.append((r.ts_ns, r.venue, r.operation, r.success, r.status, r.client_id, r.order_id, r.error,
                            r.error_field, r.fill_price, r.fill_amount, r.bundle))

    append = add

    def _record(self, i: int) -> HistoryRecord:
        ts_ns, venue, op, ok, status, cid, oid, err, err_field, price, amount, bundle = self._atoms[i]
        j = 3 * i
        maps = self._maps
        return HistoryRecord(ts_ns, venue, op, ok, status, cid, oid, maps[j], maps[j + 1], maps[j + 2], err,
                             err_field, price, amount, bundle)

    def __len__(self) -> int:
        return len(self._atoms)

    @overload
    def __getitem__(self, i: int) -> HistoryRecord: ...

    @overload
    def __getitem__(self, i: slice) -> list[HistoryRecord]: ...

    def __getitem__(self, i: int | slice) -> HistoryRecord | list[HistoryRecord]:
        n = len(self._atoms)
        if isinstance(i, slice):
            return [self._record(j) for j in range(*i.indices(n))]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("history index out of range")
        return self._record(i)

    def __iter__(self) -> Iterator[HistoryRecord]:
        for i in range(len(self._atoms)):
            yield self._record(i)

    def successes(self) -> int:
        """How many records are successes."""
        return sum(1 for a in self._atoms if a[3])

    def __repr__(self) -> str:
        return f"HistoryLog({len(self._atoms)} records)"


class VenueHistory(Sequence[HistoryRecord]):
    """One venue's ``execution_history``: the records of a :class:`HistoryLog` whose venue is ``venue``, in order.

    A view, not a copy: it shares the manager's records (bounded the same way) and costs nothing per
    execution; the positions of new records are indexed on the next access (8 bytes per record).
    """

    __slots__ = ("_idx", "_lock", "_log", "_seen", "venue")

    def __init__(self, log: HistoryLog, venue: str) -> None:
        self._log = log
        self.venue = venue
        self._idx = array("q")
        self._seen = 0
        self._lock = threading.Lock()

    def _sync(self) -> array[int]:
        atoms = self._log._atoms
        n = len(atoms)
        if self._seen < n:
            with self._lock:
                venue, idx = self.venue, self._idx
                for i in range(self._seen, n):
                    if atoms[i][1] == venue:
                        idx.append(i)
                self._seen = max(self._seen, n)
        return self._idx

    def __len__(self) -> int:
        return len(self._sync())

    @overload
    def __getitem__(self, i: int) -> HistoryRecord: ...

    @overload
    def __getitem__(self, i: slice) -> list[HistoryRecord]: ...

    def __getitem__(self, i: int | slice) -> HistoryRecord | list[HistoryRecord]:
        idx = self._sync()
        if isinstance(i, slice):
            return [self._log._record(j) for j in idx[i]]
        return self._log._record(idx[i])

    def __iter__(self) -> Iterator[HistoryRecord]:
        idx = self._sync()
        for j in idx[:]:
            yield self._log._record(j)

    def __repr__(self) -> str:
        return f"VenueHistory({self.venue!r}, {len(self)} records)"
