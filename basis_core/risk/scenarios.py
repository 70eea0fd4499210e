"""Synthetic stress paths on top of a market: an ETH crash of a given size, for backtests of the corridor.

:func:`eth_crash` returns a new :class:`~basis_core.data.provider.DataProvider` in which every ETH-denominated price
series (spot and perp candles ``*ETH/*``, the ``oracle:ETH/USD`` price) is multiplied, from ``start`` on, by a factor
that falls linearly from 1 to ``1 - drop`` over ``hours`` and stays there; funding, rates, LST exchange rates and
everything else are unchanged. Same input, same output.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from basis_core.data.provider import DataProvider
from basis_core.data.series import Series

PRICE_COLUMNS = frozenset({"open", "high", "low", "close", "price"})


def is_eth_price(name: str) -> bool:
    """Whether series ``name`` is an ETH price (moved by an ETH shock)."""
    return (("ETH/" in name and not name.startswith("funding:")) or name == "oracle:ETH/USD") and \
        not name.startswith(("lst:", "aave:"))


def eth_crash(provider: DataProvider, start: Any, drop: Decimal | str | float, hours: int = 24) -> DataProvider:
    """``provider`` with ETH prices falling by ``drop`` (0.3 = 30 %) linearly over ``hours`` from ``start``."""
    t0 = pd.Timestamp(start).tz_convert("UTC") if pd.Timestamp(start).tzinfo else pd.Timestamp(start, tz="UTC")
    d = Decimal(str(drop))
    if not Decimal(0) < d < Decimal(1):
        raise ValueError(f"drop: must be in (0, 1), got {drop}")
    span = Decimal(hours * 3_600_000_000_000)
    out = []
    for name, sr in provider.items():
        if not is_eth_price(name):
            out.append(sr)
            continue
        factors = [Decimal(1) if t <= t0.value else
                   1 - d * min(Decimal(t - t0.value) / span, Decimal(1)) for t in sr.times]
        cols = {c: ([(v * f).quantize(Decimal("0.01")) for v, f in zip(vals, factors, strict=True)]
                    if c in PRICE_COLUMNS else list(vals)) for c, vals in sr.columns.items()}
        out.append(Series(name, list(sr.times), cols))
    return DataProvider(out, aliases=provider.aliases, name=f"{provider.name} + ETH -{d:.0%} from {t0.isoformat()}")


__all__ = ["eth_crash", "is_eth_price"]
