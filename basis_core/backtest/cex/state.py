"""Immutable records (frozen dataclasses, named tuples) the simulator keeps in ledger tables
(so a failed instruction rolls them back)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """An open limit order. ``lock_key`` / ``lock_amount``: the balance it holds (spot: quote for a buy,
    base for a sell) or the initial margin it reserves on its margin wallet (perp; 0 if reduce-only).
    ``seq``: placement sequence (fill priority within one bar)."""

    order_id: str
    client_id: str | None
    symbol: str
    perp: bool
    side: str
    amount: Decimal
    price: Decimal
    time_in_force: str
    post_only: bool
    reduce_only: bool
    leverage: Decimal | None
    created_ns: int
    seq: int
    lock_key: str
    lock_amount: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


class PerpPosition(NamedTuple):
    """An open perp position: signed ``size`` (base units), ``cost`` = |size| x average entry price
    (quote units), ``leverage`` used for its initial margin, and the realised PnL and trading fees
    (negative) accumulated since it opened (folded into :class:`PerpTotals` when it closes)."""

    size: Decimal
    cost: Decimal
    leverage: Decimal
    realised: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)


class PerpTotals(NamedTuple):
    """Cumulative per-symbol results of closed positions and settlements (quote units, + = gain):
    realised PnL, trading fees paid (negative), funding received, liquidation fees paid (negative)."""

    realised: Decimal
    fees: Decimal
    funding: Decimal
    liquidation: Decimal


ZERO = Decimal(0)
EMPTY_TOTALS = PerpTotals(ZERO, ZERO, ZERO, ZERO)
