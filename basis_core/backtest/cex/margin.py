"""Margin arithmetic for linear perpetuals (pure functions).

Tiers (Binance "leverage brackets"): a position of notional ``N`` falls in the tier with
``floor <= N < cap``; its maintenance margin is ``N x mmr - cum`` where ``cum`` (the maintenance
amount) makes the function continuous across tiers; its leverage may not exceed the tier's
``max_leverage``. Initial margin is ``N / leverage``. An account (one margin wallet, cross margin) is
liquidatable when its margin balance (wallet + unrealised PnL) is below its total maintenance margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One bracket: notional in ``[floor, cap)`` (``cap`` None = unbounded), max leverage, maintenance
    margin rate ``mmr`` and maintenance amount ``cum`` (quote units)."""

    floor: Decimal
    cap: Decimal | None
    max_leverage: Decimal
    mmr: Decimal
    cum: Decimal


def build_tiers(rows: Sequence[tuple[Decimal | int | str | None, Decimal | int | str, Decimal | int | str]]
                ) -> tuple[MarginTier, ...]:
    """Tiers from ``(cap, max_leverage, mmr)`` rows in increasing cap order (last cap may be None).

    The maintenance amounts are derived: ``cum_i = cum_{i-1} + floor_i x (mmr_i - mmr_{i-1})``.
    Raises ValueError for unordered caps, a cap after an unbounded tier, or non-positive values.
    """
    if not rows:
        raise ValueError("at least one margin tier is required")
    tiers: list[MarginTier] = []
    floor = ZERO
    cum = ZERO
    prev_mmr = ZERO
    for i, (cap, lev, mmr) in enumerate(rows):
        cap_d = None if cap is None else Decimal(cap)
        lev_d, mmr_d = Decimal(lev), Decimal(mmr)
        if lev_d < 1 or not (ZERO < mmr_d < 1):
            raise ValueError(f"tier {i}: max_leverage must be >= 1 and 0 < mmr < 1")
        if tiers and tiers[-1].cap is None:
            raise ValueError(f"tier {i}: follows an unbounded tier")
        if cap_d is not None and cap_d <= floor:
            raise ValueError(f"tier {i}: cap {cap_d} must exceed the floor {floor}")
        cum = cum + floor * (mmr_d - prev_mmr)
        tiers.append(MarginTier(floor, cap_d, lev_d, mmr_d, cum))
        if cap_d is not None:
            floor = cap_d
        prev_mmr = mmr_d
    return tuple(tiers)


def tier_for(tiers: Sequence[MarginTier], notional: Decimal) -> MarginTier:
    """The tier containing ``notional`` (the last tier beyond every cap)."""
    for t in tiers:
        if t.cap is None or notional < t.cap:
            return t
    return tiers[-1]


def maintenance_margin(tiers: Sequence[MarginTier], notional: Decimal) -> Decimal:
    """Maintenance margin of a position of absolute ``notional`` (quote units)."""
    if notional == 0:
        return ZERO
    t = tiers[0]
    if t.cap is not None and notional >= t.cap:
        t = tier_for(tiers, notional)
    return notional * t.mmr - t.cum


def initial_margin(notional: Decimal, leverage: Decimal) -> Decimal:
    """Initial margin ``notional / leverage``."""
    return notional / leverage


def max_leverage(tiers: Sequence[MarginTier], notional: Decimal) -> Decimal:
    """Highest leverage allowed for a position of absolute ``notional``."""
    return tier_for(tiers, notional).max_leverage


def is_liquidatable(margin_balance: Decimal, maintenance: Decimal) -> bool:
    """True when the margin balance is below the maintenance margin (and there is something to hold)."""
    return maintenance > 0 and margin_balance < maintenance
