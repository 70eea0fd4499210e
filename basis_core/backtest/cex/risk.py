"""Liquidation risk of a CEX's margin wallets under a shock (pure functions over the venue's own balances).

The same rule the engine liquidates by (:mod:`basis_core.backtest.cex.engine`): a cross-margin wallet is
liquidated when its margin balance (wallet + unrealised PnL) falls below the sum of its positions' maintenance
margins (:func:`~basis_core.backtest.cex.margin.maintenance_margin`, the venue's tiers). Under a
:class:`~basis_core.risk.Shock` every mark moves by the shock's factor of the perp's base asset, and a funding shock
pays ``-size x mark x funding_apr x hours / 8760`` into the wallet (positive rate: longs pay).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from basis_core.backtest.cex.margin import MarginTier, maintenance_margin
from basis_core.risk.shocks import HOURS_PER_YEAR, LegRisk, Shock

_ZERO = Decimal(0)


def wallet_risk(venue: str, wallet_key: str, wallet: Decimal,
                positions: Sequence[tuple[str, Decimal, Decimal, Decimal, Sequence[MarginTier]]],
                shock: Shock) -> LegRisk:
    """Health of one margin wallet: ``positions`` are ``(symbol, signed size, entry price, mark, tiers)``."""
    balance = wallet
    mm = _ZERO
    reference: dict[str, Decimal] = {}
    for symbol, size, entry, mark, tiers in positions:
        shocked = mark * shock.price_factor(symbol.split("/")[0])
        reference[f"perp:{venue}:{symbol}"] = shocked
        balance += size * (shocked - entry)
        if shock.funding_apr is not None and shock.hours:
            balance -= size * shocked * shock.funding_apr * shock.hours / HOURS_PER_YEAR
        mm += maintenance_margin(tiers, abs(size) * shocked)
    health = balance / mm if mm > 0 else None
    return LegRisk(venue, wallet_key, "perp_margin", health, reference,
                   {"margin_balance": balance, "maintenance_margin": mm, "wallet": wallet})


def cex_risk(venue: str, balances: Mapping[str, Any], tiers_of: Mapping[str, Sequence[MarginTier]],
             margin_key_of: Mapping[str, str], shock: Shock) -> list[LegRisk]:
    """Every margin wallet with open perps, from the venue's ``get_balances`` (perp keys, ``entry_price`` and
    ``mark_price`` metrics, wallet balances)."""
    by_wallet: dict[str, list[tuple[str, Decimal, Decimal, Decimal, Sequence[MarginTier]]]] = {}
    prefix = f"{venue}:perp:"
    for key, size in balances.items():
        if not key.startswith(prefix) or not size:
            continue
        symbol = key[len(prefix):]
        entry = balances.get(f"{venue}:metric:entry_price:{symbol}")
        mark = balances.get(f"{venue}:metric:mark_price:{symbol}")
        if mark is None and balances.get(f"{venue}:metric:notional:{symbol}") is not None:
            mark = Decimal(balances[f"{venue}:metric:notional:{symbol}"]) / abs(Decimal(size))  # live backends
        if entry is None or mark is None or symbol not in tiers_of:
            continue
        by_wallet.setdefault(margin_key_of[symbol], []).append(
            (symbol, Decimal(size), Decimal(entry), Decimal(mark), tiers_of[symbol]))
    return [wallet_risk(venue, key, _wallet(venue, key, balances), pos, shock)
            for key, pos in sorted(by_wallet.items())]


def _wallet(venue: str, key: str, balances: Mapping[str, Any]) -> Decimal:
    """The wallet balance without unrealised PnL: ``margin_balance - unrealised_pnl`` of the margin asset when the
    venue reports them (live backends may report the margin balance under the key), else the key's balance."""
    asset = key.rsplit(":", 1)[1]
    mb = balances.get(f"{venue}:metric:margin_balance:{asset}")
    upnl = balances.get(f"{venue}:metric:unrealised_pnl:{asset}")
    if mb is not None and upnl is not None:
        return Decimal(mb) - Decimal(upnl)
    return Decimal(balances.get(key, _ZERO))


__all__ = ["cex_risk", "wallet_risk"]
