"""Live orders that may still fill, and the part of their fills not reported yet (pure bookkeeping).

A live CEX backend remembers every order it placed, modified or adopted that was still open when its
instruction returned, with what has been reported of it so far (filled amount, positions, fees, PnL,
filled value). Each accrual (``manager.advance_to`` in live mode) asks the venue for the order's
cumulative fills, builds their deltas with the shared builders, and reports only the difference:
the new fills, so the deltas of one order over all calls sum to its cumulative deltas exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from basis_core.backtest.cex.market import Market
from basis_core.deltas import ExecutionDeltas, merge_positions

ZERO = Decimal(0)

__all__ = ["OpenOrder", "new_fills", "open_order"]


@dataclass(slots=True)
class OpenOrder:
    """An order that may still fill and what was reported of it (cumulative, venue units)."""

    market: Market
    order_id: str
    client_id: str | None
    operation: str
    filled: Decimal
    value: Decimal  # sum of filled quantity x price reported
    positions: dict[str, Decimal]
    fees: dict[str, Decimal]
    pnl: dict[str, Decimal]


def open_order(m: Market, d: ExecutionDeltas) -> OpenOrder:
    """The bookkeeping of an order whose (cumulative) deltas ``d`` were just reported."""
    filled = d.fill_amount or ZERO
    value = filled * d.fill_price if d.fill_price is not None else ZERO
    operation = d.operation if d.operation in ("spot_trade", "perp_trade") else (
        "perp_trade" if m.is_perp else "spot_trade")
    return OpenOrder(m, str(d.order_id), d.client_id, operation, filled, value, dict(d.positions), dict(d.fees),
                     dict(d.pnl))


def _minus(new: Mapping[str, Decimal], old: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``new - old`` key by key, exact zeros dropped."""
    return merge_positions(new, {k: -v for k, v in old.items()})


def new_fills(o: OpenOrder, cumulative: ExecutionDeltas, timestamp: Any,
              operation: str | None = None) -> ExecutionDeltas | None:
    """Deltas of the fills in ``cumulative`` (an order's deltas over all its fills) beyond what ``o`` has
    reported, or None when there are none; ``o`` is updated to include them. ``fill_amount`` /
    ``fill_price`` are the new quantity and its average price; ``details`` mark the fill ``resting``."""
    filled = cumulative.fill_amount or ZERO
    qty = filled - o.filled
    if qty <= 0:
        return None
    value = filled * cumulative.fill_price if cumulative.fill_price is not None else ZERO
    d = ExecutionDeltas(
        cumulative.venue, operation or o.operation, timestamp, _minus(cumulative.positions, o.positions),
        _minus(cumulative.fees, o.fees), cumulative.status, o.client_id, o.order_id, (value - o.value) / qty, qty,
        _minus(cumulative.pnl, o.pnl), {**cumulative.details, "resting": True, "order_filled": filled},
    )
    o.filled, o.value = filled, value
    o.positions, o.fees, o.pnl = dict(cumulative.positions), dict(cumulative.fees), dict(cumulative.pnl)
    return d
