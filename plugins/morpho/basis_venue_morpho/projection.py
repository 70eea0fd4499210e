"""A market position as if pending instructions were done (the live pre-trade corridor check): supply / withdraw
of the market's collateral token move ``collateral``; borrow / repay of its loan token move the borrow shares (and
the market's totals) with Morpho's own share rounding (borrow: shares rounded up; repay: down). Supplying or
withdrawing the loan token (lending) changes no health and is left out.

An instruction naming a ``market`` (alias or id) applies to that market only; without one it applies to the
first market of the table whose collateral (supply / withdraw) or loan (borrow / repay) token is its asset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from basis_venue_morpho import math as mm


def _applies(change: Any, alias: str, market_hex: str, token: str, first: bool) -> bool:
    if change.asset != token:
        return False
    if change.market is not None:
        return change.market in (alias, market_hex, "0x" + market_hex.removeprefix("0x"))
    return first


def project_position(alias: str, market_hex: str, spec: Any, m: mm.Market, p: mm.Position, changes: Iterable[Any],
                     decimals: Mapping[str, int], first_for: Mapping[str, str]) -> tuple[mm.Market, mm.Position]:
    """``(m, p)`` after the :class:`basis_core.risk.guard.LendingChange` s that apply to this market (see the module
    docstring); ``first_for`` maps a token to the alias of the first market it is the collateral / loan of."""
    for c in changes:
        if c.collateral and _applies(c, alias, market_hex, spec.collateral,
                                     first_for.get("c:" + spec.collateral) == alias):
            units = int(Decimal(c.collateral).scaleb(decimals[spec.collateral]))
            p = p._replace(collateral=0 if c.withdraw_all else max(p.collateral + units, 0))
        elif c.withdraw_all and _applies(c, alias, market_hex, spec.collateral,
                                         first_for.get("c:" + spec.collateral) == alias):
            p = p._replace(collateral=0)
        if (c.debt or c.repay_all) and _applies(c, alias, market_hex, spec.loan,
                                                first_for.get("l:" + spec.loan) == alias):
            units = int(Decimal(abs(c.debt)).scaleb(decimals[spec.loan]))
            if c.repay_all:
                shares = p.borrow_shares
            elif c.debt > 0:
                shares = mm.to_shares_up(units, m.total_borrow_assets, m.total_borrow_shares)
            else:
                shares = min(mm.to_shares_down(units, m.total_borrow_assets, m.total_borrow_shares), p.borrow_shares)
            sign = 1 if c.debt > 0 and not c.repay_all else -1
            assets = units if sign > 0 else mm.to_assets_down(shares, m.total_borrow_assets, m.total_borrow_shares)
            p = p._replace(borrow_shares=p.borrow_shares + sign * shares)
            m = m._replace(total_borrow_assets=max(m.total_borrow_assets + sign * assets, 0),
                           total_borrow_shares=max(m.total_borrow_shares + sign * shares, 0))
    return m, p


__all__ = ["project_position"]
