"""Compact execution-history records (slots, tuples) so 100,000 of them stay small."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.timeutil import from_ns


class HistoryRecord:
    """One execution (or accrual) outcome. Dict-style access works too: ``record["success"]``."""

    __slots__ = ("client_id", "error", "error_field", "fees", "operation", "order_id", "pnl", "positions",
                 "status", "success", "ts_ns", "venue")

    def __init__(self, ts_ns: int, venue: str, operation: str, success: bool, status: str,
                 client_id: str | None = None, order_id: str | None = None,
                 positions: tuple[tuple[str, Decimal], ...] = (), fees: tuple[tuple[str, Decimal], ...] = (),
                 pnl: tuple[tuple[str, Decimal], ...] = (), error: str | None = None,
                 error_field: str | None = None) -> None:
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

    @classmethod
    def from_deltas(cls, ts_ns: int, d: ExecutionDeltas) -> HistoryRecord:
        return cls(ts_ns, d.venue, d.operation, True, d.status, d.client_id, d.order_id,
                   tuple(d.positions.items()), tuple(d.fees.items()), tuple(d.pnl.items()))

    @classmethod
    def failure(cls, ts_ns: int, venue: str, operation: str, client_id: str | None, exc: BaseException) -> HistoryRecord:
        return cls(ts_ns, venue, operation, False, "failed", client_id, None, error=f"{type(exc).__name__}: {exc}",
                   error_field=getattr(exc, "field", None))

    @property
    def timestamp(self) -> Any:
        return from_ns(self.ts_ns)

    def __getitem__(self, key: str) -> Any:
        if key == "timestamp":
            return self.timestamp
        if key in ("positions", "fees", "pnl"):
            return dict(getattr(self, key))
        return getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp.isoformat(), "venue": self.venue, "operation": self.operation,
            "success": self.success, "status": self.status, "client_id": self.client_id,
            "order_id": self.order_id, "positions": {k: str(v) for k, v in self.positions},
            "fees": {k: str(v) for k, v in self.fees}, "pnl": {k: str(v) for k, v in self.pnl},
            "error": self.error, "error_field": self.error_field,
        }

    def __repr__(self) -> str:
        return (f"HistoryRecord({self.timestamp.isoformat()}, {self.venue}, {self.operation}, "
                f"success={self.success}, status={self.status})")
