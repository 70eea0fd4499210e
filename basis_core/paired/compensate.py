"""Compensating actions of saga legs (pure functions): the instruction that undoes what a filled leg did.

=================  ====================================================================================
leg                compensation
=================  ====================================================================================
spot buy           spot sell of the base actually received (net of a fee charged in the base asset)
spot sell          spot buy of the amount sold
perp buy / sell    the opposite side, same filled amount, ``reduce_only``
borrow             repay the amount borrowed
repay              borrow the amount repaid
supply             withdraw the amount supplied
withdraw           supply the amount withdrawn
swap               swap the amount received back into the token given
=================  ====================================================================================

Every compensation is a market order (or an on-chain action): an unwind must not rest.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas

_ZERO = Decimal(0)


def filled_quantity(leg: Any, d: ExecutionDeltas) -> Decimal:
    """The quantity a leg moved, in the units of its ``amount`` (base units; a swap's token_in): what sizes the
    next leg. A spot buy counts the base it received net of fees (what is actually held and can be hedged)."""
    op = leg.operation
    if op == "spot_trade" and leg.side == "buy":
        got = _received(d, leg.venue, leg.base)
        if got is not None:
            return got
    if op == "swap":
        spent = _ZERO
        for k, v in d.positions.items():
            if k.endswith(f":{leg.token_in}") and v < 0:
                spent -= v
        return spent if spent else leg.amount_in  # type: ignore[no-any-return]
    if d.fill_amount is not None:
        return abs(d.fill_amount)
    if d.status in ("filled", "partially_filled"):
        return leg.amount  # type: ignore[no-any-return]
    return _ZERO


def _received(d: ExecutionDeltas, venue: str, asset: str) -> Decimal | None:
    """The positive change of ``asset`` on the venue's own keys (spot accounts), if any."""
    got = None
    for k, v in d.positions.items():
        if k.startswith(f"{venue}:") and k.endswith(f":{asset}") and ":perp:" not in k and v > 0:
            got = (got or _ZERO) + v
    return got


def compensation(leg: Any, d: ExecutionDeltas, client_id: str | None) -> dict[str, Any] | None:
    """The instruction (a dict) undoing the filled leg ``leg`` whose deltas are ``d``; None when nothing filled."""
    qty = filled_quantity(leg, d)
    if qty <= 0:
        return None
    base: dict[str, Any] = {"venue": leg.venue}
    if client_id is not None:
        base["client_id"] = client_id
    op = leg.operation
    if op in ("spot_trade", "perp_trade"):
        out = {**base, "operation": op, "symbol": leg.symbol, "side": "sell" if leg.side == "buy" else "buy",
               "amount": str(qty)}
        if op == "perp_trade":
            out["reduce_only"] = True
        return out
    if op == "swap":
        received = _ZERO
        for k, v in d.positions.items():
            if k.endswith(f":{leg.token_out}") and v > 0:
                received += v
        amount_out = d.details.get("amount_out") if d.details else None
        if not received and amount_out is not None:
            received = Decimal(str(amount_out))
        if received <= 0:
            return None
        out = {**base, "operation": "swap", "token_in": leg.token_out, "token_out": leg.token_in,
               "amount_in": str(received)}
        if leg.pool is not None:
            out["pool"] = leg.pool
        return out
    inverse = {"borrow": "repay", "repay": "borrow", "supply": "withdraw", "withdraw": "supply"}[op]
    return {**base, "operation": inverse, "asset": leg.asset, "amount": str(qty)}


__all__ = ["compensation", "filled_quantity"]
