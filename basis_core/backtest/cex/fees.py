"""Fee models (pure): maker / taker rates per market type and the asset the fee is charged in.

Fee asset rules: ``received`` (spot: the asset the order receives, Binance without BNB and
Hyperliquid spot), ``quote`` (always the quote asset), ``settle`` (perps: the margin asset).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

FeeAssetRule = Literal["received", "quote", "settle"]


@dataclass(frozen=True, slots=True)
class FeeRates:
    """Maker / taker fee rates as fractions of the traded value (0.001 = 10 bps)."""

    maker: Decimal
    taker: Decimal

    def rate(self, maker: bool) -> Decimal:
        return self.maker if maker else self.taker


def fee_asset(rule: FeeAssetRule, side: str, base: str, quote: str, settle: str | None = None) -> str:
    """The asset a fill's fee is charged in under ``rule`` (``side`` is ``buy`` | ``sell``)."""
    if rule == "received":
        return base if side == "buy" else quote
    if rule == "quote":
        return quote
    if settle is None:
        raise ValueError("the 'settle' fee rule needs a settle asset")
    return settle


def fee_amount(amount: Decimal, price: Decimal, rate: Decimal, in_base: bool) -> Decimal:
    """Fee of a fill of ``amount`` base units at ``price``: ``amount x rate`` in base units when
    ``in_base`` (spot buy charged in the received base asset), else ``amount x price x rate`` in quote."""
    return amount * rate if in_base else amount * price * rate
