"""Liquidation risk of a CEX's margin wallets under a shock (pure functions over the venue's own balances).

The same rule the engine liquidates by (:mod:`basis_core.backtest.cex.engine`): a cross-margin wallet is
liquidated when its margin balance (wallet + unrealised PnL) falls below the sum of its positions' maintenance
margins (:func:`~basis_core.backtest.cex.margin.maintenance_margin`, the venue's tiers). Under a
:class:`~basis_core.risk.Shock` every mark moves by the shock's factor of the perp's base asset, and a funding shock
pays ``-size x mark x funding_apr x hours / 8760`` into the wallet (positive rate: longs pay).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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


def project_perp_trade(venue: str, balances: Mapping[str, Any], trade: Any, notional: Any,
                       margin_key: str) -> dict[str, Any]:
    """``balances`` as if the perp ``trade`` (side, amount, symbol) filled now at the mark ``notional / amount``
    (its USD notional from the venue's ``estimate_notional``; fees left out): the size moves, the entry price
    blends (or stays when the trade reduces, re-starts at the mark when it flips) and the PnL a reduction
    realises lands in the wallet. The balances unchanged when the venue gives no notional."""
    if not notional or not trade.amount:
        return dict(balances)
    out = dict(balances)
    sym = trade.symbol
    mark = Decimal(notional) / trade.amount
    size0 = Decimal(out.get(f"{venue}:perp:{sym}", _ZERO))
    entry0 = Decimal(out.get(f"{venue}:metric:entry_price:{sym}", mark))
    delta = trade.amount if trade.side == "buy" else -trade.amount
    size = size0 + delta
    if size0 == 0 or (size0 > 0) == (delta > 0):
        entry = (size0 * entry0 + delta * mark) / size
        realised = _ZERO
    else:
        closed = min(abs(delta), abs(size0))
        realised = closed * (mark - entry0) * (1 if size0 > 0 else -1)
        entry = entry0 if abs(delta) <= abs(size0) else mark
    out[f"{venue}:perp:{sym}"] = size
    out[f"{venue}:metric:entry_price:{sym}"] = entry
    out[f"{venue}:metric:mark_price:{sym}"] = mark
    asset = margin_key.rsplit(":", 1)[1]
    mb = f"{venue}:metric:margin_balance:{asset}"
    if mb in out and f"{venue}:metric:unrealised_pnl:{asset}" in out:
        out[mb] = Decimal(out[mb]) + realised
    else:
        out[margin_key] = Decimal(out.get(margin_key, _ZERO)) + realised
    return out


def project_wallet(venue: str, balances: Mapping[str, Any], margin_key: str, delta: Decimal) -> dict[str, Any]:
    """``balances`` with ``delta`` added to the margin wallet ``margin_key`` (its margin balance metric too)."""
    out = dict(balances)
    asset = margin_key.rsplit(":", 1)[1]
    out[margin_key] = Decimal(out.get(margin_key, _ZERO)) + delta
    mb = f"{venue}:metric:margin_balance:{asset}"
    if mb in out:
        out[mb] = Decimal(out[mb]) + delta
    return out


def project_pending(venue: str, balances: Mapping[str, Any], ins: Any, markets: Mapping[str, Any], spec: Any,
                    notional: Callable[[Any], Any]) -> dict[str, Any]:
    """``balances`` as if ``ins`` (an instruction for this venue) were done now: a perp trade
    (:func:`project_perp_trade`), a transfer into / out of a margin wallet, a ``move`` out of one; spot trades and
    anything else leave the margin wallets as they are."""
    op = getattr(ins, "operation", None)
    if op == "perp_trade" and ins.symbol in markets:
        return project_perp_trade(venue, balances, ins, notional(ins), markets[ins.symbol].margin_key)
    margin_keys = {m.margin_key for m in markets.values()}
    if op == "transfer":
        out = dict(balances)
        for account, sign in ((ins.from_account, -1), (ins.to_account, 1)):
            if spec.accounts.get(account) == "margin":
                key = f"{venue}:{spec.margin_kind}:{ins.asset}"
                if key in margin_keys:
                    out = project_wallet(venue, out, key, sign * ins.amount)
        return out
    if op == "move" and ins.source in margin_keys:
        return project_wallet(venue, balances, ins.source, -ins.amount)
    return dict(balances)


def _wallet(venue: str, key: str, balances: Mapping[str, Any]) -> Decimal:
    """The wallet balance without unrealised PnL: ``margin_balance - unrealised_pnl`` of the margin asset when the
    venue reports them (live backends may report the margin balance under the key), else the key's balance."""
    asset = key.rsplit(":", 1)[1]
    mb = balances.get(f"{venue}:metric:margin_balance:{asset}")
    upnl = balances.get(f"{venue}:metric:unrealised_pnl:{asset}")
    if mb is not None and upnl is not None:
        return Decimal(mb) - Decimal(upnl)
    return Decimal(balances.get(key, _ZERO))


__all__ = ["cex_risk", "project_pending", "project_perp_trade", "project_wallet", "wallet_risk"]
