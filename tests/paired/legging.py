"""An independent check of the legging invariant, read from the manager's execution history (not from the saga's
own bookkeeping): replaying every successful record in order, the net ETH exposure over the venues (spot ETH,
perps, on-chain ETH-family wallets minus debts) never exceeds the notional budget, and is never non-zero for longer
than the time budget."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

ETH = {"ETH", "WETH"}


def eth_delta(positions: Any) -> Decimal:
    out = Decimal(0)
    for k, v in (positions.items() if hasattr(positions, "items") else positions):
        _venue, kind, asset = k.split(":", 2)
        base = asset.split("/")[0] if kind == "perp" else asset
        if base not in ETH or kind == "metric":
            continue
        out += -v if kind == "debt" else v
    return out


def legging_profile(history: Any, start: int = 0, price: Decimal | None = None) -> tuple[Decimal, Decimal, Decimal]:
    """(largest unhedged USD notional, longest unhedged seconds, final net ETH) over the records from ``start``:
    unhedged = |net ETH| x the fill price of the record that made it (or ``price``)."""
    net = Decimal(0)
    worst_usd = Decimal(0)
    worst_s = Decimal(0)
    since: int | None = None
    for rec in list(history)[start:]:
        if not rec.success or rec.operation == "atomic":
            continue
        d = eth_delta(rec.positions)
        if not d:
            continue
        net += d
        px = rec.fill_price or price or Decimal(0)
        if abs(net) > Decimal("1e-9"):
            worst_usd = max(worst_usd, abs(net) * px)
            if since is None:
                since = rec.ts_ns
            worst_s = max(worst_s, Decimal(rec.ts_ns - since) / Decimal(10**9))
        else:
            if since is not None:
                worst_s = max(worst_s, Decimal(rec.ts_ns - since) / Decimal(10**9))
            since = None
    return worst_usd, worst_s, net
