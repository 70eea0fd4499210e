"""Instruction dicts for venue tests (what a host passes to ``manager.execute``)."""

from __future__ import annotations

from typing import Any


def trade(venue: str, operation: str, symbol: str, side: str, amount: str, **fields: Any) -> dict[str, Any]:
    """A ``spot_trade`` / ``perp_trade`` instruction dict with ``fields`` (``client_id``, ``order_type``,
    ``price``, ...) added as given."""
    return {"venue": venue, "operation": operation, "symbol": symbol, "side": side, "amount": amount, **fields}
