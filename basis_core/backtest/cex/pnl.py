"""Perpetual position arithmetic (pure functions, exact ``Decimal``).

A position is ``(size, cost)``: ``size`` signed base units (long > 0), ``cost`` the absolute entry
notional in quote units (``|size| x average entry price``). Keeping the cost basis instead of the
average price keeps every update O(1) and exact: a full close realises exactly
``exit notional - entry notional``; a partial close removes ``cost x closed / |size|`` from the
basis (the only division, rounded to :data:`BASIS_QUANTUM` = 10^-24 quote units so the sums that
follow stay exact), and the same rounded amount is used for the realised PnL, so basis + realised
PnL is always conserved to the last digit. They compute in the library's 60-digit context
(:mod:`basis_core.numeric`) whatever the caller's.
"""

from __future__ import annotations

from decimal import Decimal

from basis_core.numeric import library_context

ZERO = Decimal(0)
#: resolution of the basis removed by a partial close (quote units)
BASIS_QUANTUM = Decimal("1e-24")


@library_context
def apply_fill(size: Decimal, cost: Decimal, qty: Decimal, price: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Apply a fill of signed ``qty`` base units at ``price`` to the position ``(size, cost)``.

    :return: ``(new_size, new_cost, realised_pnl)``; realised PnL in quote units (+ = profit), non-zero
        only when the fill reduces or flips the position. Flipping realises the whole closed part and
        opens the remainder at ``price``.
    """
    if size == 0 or (size > 0) == (qty > 0):
        return size + qty, cost + abs(qty) * price, ZERO
    abs_size = -size if size < 0 else size
    abs_q = -qty if qty < 0 else qty
    if abs_q < abs_size:
        removed = (cost * abs_q / abs_size).quantize(BASIS_QUANTUM)
        exit_value = abs_q * price
        realised = exit_value - removed if size > 0 else removed - exit_value
        return size + qty, cost - removed, realised
    exit_value = abs_size * price
    realised = exit_value - cost if size > 0 else cost - exit_value
    return size + qty, (abs_q - abs_size) * price, realised


@library_context
def unrealised_pnl(size: Decimal, cost: Decimal, mark: Decimal) -> Decimal:
    """Unrealised PnL of ``(size, cost)`` at ``mark`` (quote units, + = profit)."""
    if size > 0:
        return size * mark - cost
    if size < 0:
        return cost + size * mark
    return ZERO


@library_context
def entry_price(size: Decimal, cost: Decimal) -> Decimal:
    """Average entry price ``cost / |size|`` (0 for a flat position)."""
    if size == 0:
        return ZERO
    return cost / abs(size)


def signed_cost(size: Decimal, cost: Decimal) -> Decimal:
    """The cost basis with the position's sign (``size x entry price``)."""
    return cost if size > 0 else -cost
