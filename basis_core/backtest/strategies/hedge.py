"""A perp short that hedges an ETH exposure: sizing, re-sizing within a band, collateral check.

Used by ``staked_basis`` and (optionally) ``leveraged_staking_loop``. Public manager API only: the
perp trades go through ``manager.execute``, the collateral is read with ``manager.get_balances``
(the venue's ``unrealised_pnl:<symbol>`` metric when it reports one).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from basis_core.backtest.strategies.base import Strategy, round_to

#: per perp venue: the ETH perp and the kind of its margin wallet key
PERP_DEFAULTS: dict[str, tuple[str, str]] = {
    "binance": ("ETH/USDT:USDT", "futures"),
    "hyperliquid": ("ETH/USDC:USDC", "perp-margin"),
}


def pick_perp_venue(strategy: Strategy, manager: Any, preferred: str | None) -> str | None:
    """``preferred``, or the first installed of binance / hyperliquid with perp trading."""
    if preferred is not None:
        return preferred
    have = strategy.installed(manager)
    return next((v for v in PERP_DEFAULTS if "perp_trade" in have.get(v, set())), None)


class PerpHedge:
    """State of one hedge: ``qty`` (signed base units this strategy holds), own average ``entry``."""

    def __init__(self, owner: Strategy, venue: str, symbol: str | None = None, margin_key: str | None = None,
                 size_decimals: int = 3, max_failures: int = 3) -> None:
        default_symbol, margin_kind = PERP_DEFAULTS.get(venue, PERP_DEFAULTS["binance"])
        self.owner = owner
        self.venue = venue
        self.symbol = symbol or default_symbol
        self.settle = self.symbol.rsplit(":", 1)[-1]
        self.margin_key = margin_key or f"{venue}:{margin_kind}:{self.settle}"
        self.key = f"{venue}:perp:{self.symbol}"
        self.size_decimals = size_decimals
        self._unit: Decimal | None = None
        self.max_failures = max_failures
        self.qty = Decimal(0)
        self.entry = Decimal(0)
        self.failures = 0
        self.cuts = 0

    def unit(self, manager: Any) -> Decimal:
        """Order-size unit: ``10**-size_decimals`` or the venue's amount step (venue_info rules) if coarser."""
        if self._unit is None:
            self._unit = self.owner.size_unit(manager, self.size_decimals, (self.venue, self.symbol))
        return self._unit

    def mark(self, manager: Any, ts: Any) -> Decimal:
        return self.owner.market(manager, ts).get(f"perp:{self.venue}:{self.symbol}")  # type: ignore[no-any-return]

    def trade(self, manager: Any, ts: Any, signed: Decimal) -> Any:
        """Trade ``signed`` base units (rounded down to the size step); the deltas, or None."""
        amount = round_to(abs(signed), self.unit(manager))
        if amount <= 0:
            return None
        d = self.owner.try_execute(manager, ts, {"venue": self.venue, "operation": "perp_trade",
                                                 "symbol": self.symbol, "side": "buy" if signed > 0 else "sell",
                                                 "amount": str(amount)})
        if d is None:
            self.failures += 1
            return None
        self.failures = 0
        filled = d.positions.get(self.key, Decimal(0))
        price = d.fill_price or self.mark(manager, ts)
        new = self.qty + filled
        if new != 0 and (self.qty == 0 or (self.qty < 0) == (filled < 0)):
            self.entry = (self.entry * abs(self.qty) + price * abs(filled)) / abs(new)
        elif new != 0 and (new < 0) != (self.qty < 0):
            self.entry = price
        self.qty = new
        return d

    @property
    def failed_too_often(self) -> bool:
        return self.failures >= self.max_failures

    def resize(self, manager: Any, ts: Any, target: Decimal, band: Decimal) -> Any:
        """Trade to ``target`` (signed) when the position drifted beyond ``band`` (relative)."""
        if target == 0 and self.qty == 0:
            return None
        if target != 0 and abs(self.qty - target) <= band * abs(target):
            return None
        return self.trade(manager, ts, target - self.qty)

    def equity(self, manager: Any, ts: Any) -> Decimal:
        """Margin wallet + unrealised PnL of the hedge (settle units)."""
        bal = manager.get_balances(ts, self.venue)
        upnl = bal.get(f"{self.venue}:metric:unrealised_pnl:{self.symbol}")
        if upnl is None:
            upnl = self.qty * (self.mark(manager, ts) - self.entry) if self.qty else Decimal(0)
        return bal.get(self.margin_key, Decimal(0)) + upnl  # type: ignore[no-any-return]

    def collateral_ratio(self, manager: Any, ts: Any) -> Decimal | None:
        """(margin wallet + unrealised PnL) / notional of the venue's position in the symbol (the margin
        account is shared: cross margin, other strategies may hedge there too); None when flat."""
        if self.qty == 0:
            return None
        size = manager.get_balances(ts, self.venue).get(self.key, self.qty)
        if size == 0:
            return None
        return self.equity(manager, ts) / (abs(size) * self.mark(manager, ts))

    def capped(self, manager: Any, ts: Any, target: Decimal, min_ratio: Decimal) -> Decimal:
        """``target`` limited to what the collateral carries at twice ``min_ratio`` (after a cut, the hedge
        does not grow back beyond its collateral)."""
        cap = max(self.equity(manager, ts), Decimal(0)) / (2 * min_ratio * self.mark(manager, ts))
        return max(min(target, cap), -cap)

    def derisk(self, manager: Any, ts: Any, min_ratio: Decimal) -> str | None:
        """Below ``min_ratio``, cut the position so the ratio is back at twice the minimum; a note, or None."""
        ratio = self.collateral_ratio(manager, ts)
        if ratio is None or ratio >= min_ratio:
            return None
        keep = round_to(abs(self.qty) * ratio / (2 * min_ratio), self.unit(manager))
        self.cuts += 1
        sign = -1 if self.qty < 0 else 1
        self.trade(manager, ts, sign * keep - self.qty)
        return (f"hedge cut to {keep} at {ts.isoformat()}: collateral ratio {ratio:.3f} below {min_ratio} "
                "(the position is now partly unhedged)")

    def manage(self, manager: Any, ts: Any, target: Callable[[], Decimal], min_ratio: Decimal,
               band: Decimal) -> str | None:
        """One step of hedge management: :meth:`derisk` below ``min_ratio`` (its note added to the owner's notes),
        else :meth:`resize` toward ``target()`` :meth:`capped` by the collateral, within ``band``. The reason to stop
        managing when too many hedge trades failed in a row, else None."""
        note = self.derisk(manager, ts, min_ratio)
        if note is not None:
            self.owner.notes.append(note)
        else:
            self.resize(manager, ts, self.capped(manager, ts, target(), min_ratio), band)
        if self.failed_too_often:
            return f"{self.failures} hedge trades in a row failed; positions left as they are"
        return None


__all__ = ["PERP_DEFAULTS", "PerpHedge", "pick_perp_venue"]
