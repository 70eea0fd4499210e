"""Execution deltas and instrument keys.

An :class:`ExecutionDeltas` is the exact net change an instruction caused: ``positions`` maps
instrument keys (``venue:kind:asset``) to signed ``Decimal`` changes with fees and gas included,
``fees`` is the fee / gas part of it (for reporting), and ``pnl`` attributes the USD value of
non-price effects (fees, slippage, funding, interest, gas ...) for reports.

Instrument keys (contract): ``binance:spot:USDT``, ``binance:perp:ETH/USDT:USDT`` (signed base units),
``binance:futures:USDT`` (margin wallet), ``hyperliquid:perp:ETH/USDC:USDC``, ``ethereum:wallet:WETH``,
``aave:supplied:wstETH``, ``aave:debt:WETH``, ``uniswap:lp:<pool>``, ``curve:lp:<pool>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

#: Well-known keys of ``ExecutionDeltas.pnl`` (USD value, signed: + is a gain to the account).
PNL_COMPONENTS = (
    "trading_fees",
    "slippage",
    "price_impact",
    "gas",
    "funding",
    "lending_interest",
    "borrow_interest",
    "staking_yield",
    "liquidation",
    "flash_loan_fee",
)

#: Kinds whose balances may be negative (signed positions). Everything else is an asset balance.
SIGNED_KINDS = frozenset({"perp", "metric"})


def instrument_key(venue: str, kind: str, asset: str) -> str:
    """``venue:kind:asset``; the asset may itself contain ``:`` (perp symbols)."""
    return f"{venue}:{kind}:{asset}"


def split_key(key: str) -> tuple[str, str, str]:
    """Inverse of :func:`instrument_key`: ``(venue, kind, asset)``; raises ValueError for a malformed key."""
    venue, sep, rest = key.partition(":")
    kind, sep2, asset = rest.partition(":")
    if not (sep and sep2 and venue and kind and asset):
        raise ValueError(f"instrument key {key!r} is not of the form venue:kind:asset")
    return venue, kind, asset


_EMPTY: Mapping[str, Any] = {}


@dataclass(slots=True)
class ExecutionDeltas:
    """What one instruction (or one accrual) changed.

    ``positions``: instrument key -> signed Decimal change (fees and gas included).
    ``fees``: instrument key -> the part of ``positions`` that is fee or gas (negative = paid).
    ``pnl``: component (see :data:`PNL_COMPONENTS`) -> signed USD value.
    ``status``: ``filled`` | ``partially_filled`` | ``open`` | ``cancelled`` | ``modified`` |
    ``settled`` | ``accrued`` | ``liquidated`` | ``quoted`` | ``requested`` | ``claimed``.

    Treat instances as immutable (not frozen only because frozen dataclasses are slow to build).
    """

    venue: str
    operation: str
    timestamp: datetime
    positions: Mapping[str, Decimal]
    fees: Mapping[str, Decimal] = field(default_factory=dict)
    status: str = "filled"
    client_id: str | None = None
    order_id: str | None = None
    fill_price: Decimal | None = None
    fill_amount: Decimal | None = None
    pnl: Mapping[str, Decimal] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (Decimals as strings, timestamp ISO 8601)."""

        def dec(m: Mapping[str, Any]) -> dict[str, Any]:
            return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in m.items()}

        return {
            "venue": self.venue,
            "operation": self.operation,
            "timestamp": self.timestamp.isoformat(),
            "status": self.status,
            "client_id": self.client_id,
            "order_id": self.order_id,
            "fill_price": None if self.fill_price is None else str(self.fill_price),
            "fill_amount": None if self.fill_amount is None else str(self.fill_amount),
            "positions": dec(self.positions),
            "fees": dec(self.fees),
            "pnl": dec(self.pnl),
            "details": {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.details.items()},
        }


def merge_positions(*parts: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Sum several position maps key by key, dropping exact zeros."""
    out: dict[str, Decimal] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, Decimal(0)) + v
    return {k: v for k, v in out.items() if v != 0}
