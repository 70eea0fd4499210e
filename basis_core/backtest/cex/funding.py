"""Funding settlement (pure function).

At each settlement the account receives ``-(size x mark x rate)`` in the settle asset: a positive
rate means longs (``size > 0``) pay and shorts receive; the mark is the mark price at the settlement.
"""

from __future__ import annotations

from decimal import Decimal


def funding_payment(size: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    """Amount credited to the account (negative = paid) for one settlement."""
    return -(size * mark * rate)
