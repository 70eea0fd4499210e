"""Order validation against a venue's filters, shared by backtest and live (pure; raises typed errors).

Each check raises :class:`~basis_core.errors.InstructionError` naming the field: ``symbol`` (not listed,
or the wrong market type), ``amount`` (below the minimum, off the step size, below the minimum
notional), ``price`` (off the tick / significant-figure rule). Nothing is applied by a check.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from basis_core.backtest.cex.market import Market
from basis_core.backtest.cex.spec import CexSpec
from basis_core.errors import InstructionError


def market_for(markets: Mapping[str, Market], venue: str, symbol: str, perp: bool) -> Market:
    """The listed market of ``symbol`` (spot when ``perp`` is False); InstructionError('symbol') otherwise."""
    m = markets.get(symbol)
    if m is None or m.is_perp != perp:
        kind = "perpetual" if perp else "spot"
        listed = ", ".join(s for s, mk in markets.items() if mk.is_perp == perp) or "none"
        raise InstructionError("symbol", f"{symbol} is not a {kind} market listed on {venue} (listed: {listed})")
    return m


def check_amount(m: Market, amount: Decimal, field: str = "amount") -> None:
    """``amount`` at least the minimum and a multiple of the step size."""
    s = m.spec
    if amount < s.min_amount:
        raise InstructionError(field, f"{amount} is below the minimum amount {s.min_amount} for {m.symbol}")
    if amount % s.step:
        raise InstructionError(field, f"{amount} is not a multiple of the step size {s.step} for {m.symbol}")


def check_price(m: Market, price: Decimal, field: str = "price") -> None:
    """``price`` on the tick (or within Hyperliquid's 5-significant-figure / max-decimals rule)."""
    s = m.spec
    if s.tick is not None and price % s.tick:
        raise InstructionError(field, f"{price} is not a multiple of the tick size {s.tick} for {m.symbol}")
    if s.price_sig_figs is not None:
        t = price.normalize().as_tuple()
        exp = int(t.exponent)
        if exp < 0:
            if len(t.digits) > s.price_sig_figs:
                raise InstructionError(field, f"{price} has more than {s.price_sig_figs} significant figures "
                                              f"(allowed for {m.symbol} unless the price is an integer)")
            if s.price_max_decimals is not None and -exp > s.price_max_decimals:
                raise InstructionError(field, f"{price} has more than {s.price_max_decimals} decimals "
                                              f"(allowed for {m.symbol})")


def check_notional(m: Market, amount: Decimal, price: Decimal, field: str = "amount") -> None:
    """``amount x price`` at least the symbol's minimum notional."""
    mn = m.spec.min_notional
    if mn and amount * price < mn:
        raise InstructionError(field, f"notional {amount * price} {m.quote} is below the minimum notional "
                                      f"{mn} {m.quote} for {m.symbol}")


def validate_order(m: Market, amount: Decimal, limit_price: Decimal | None, reference_price: Decimal | None,
                   reduce_only: bool = False) -> None:
    """All filters of one order: amount (minimum, step), limit price (tick), notional at the limit price
    or else the reference price (skipped for reduce-only orders and when no price is known)."""
    check_amount(m, amount)
    if limit_price is not None:
        check_price(m, limit_price)
    if not reduce_only:
        px = limit_price if limit_price is not None else reference_price
        if px is not None:
            check_notional(m, amount, px)


def check_time_in_force(venue: str, supported: tuple[str, ...], ins: Any) -> None:
    """A limit order's ``time_in_force`` is one the venue takes."""
    if ins.order_type == "limit" and ins.time_in_force not in supported:
        raise InstructionError("time_in_force", f"{venue} has no {ins.time_in_force} orders (it takes "
                                                f"{', '.join(supported)}, or post_only)")


def account_kind(spec: CexSpec, account: str, field: str) -> str:
    """The kind (``spot`` / ``margin``) of transfer account ``account``; InstructionError(``field``) when unknown."""
    kind = spec.accounts.get(account)
    if kind is None:
        raise InstructionError(field, f"unknown {spec.venue} account {account!r} "
                                      f"(known: {', '.join(sorted(spec.accounts))})")
    return str(kind)


def account_key(spec: CexSpec, account: str, asset: str, field: str) -> str:
    """The balance key of ``asset`` in transfer account ``account``: InstructionError(``field``) for an unknown
    account, InstructionError('asset') for a margin account and an asset that is not a margin asset."""
    if account_kind(spec, account, field) == "margin":
        if asset not in spec.margin_assets:
            raise InstructionError("asset", f"{asset} is not a margin asset of {spec.venue} "
                                            f"(margin assets: {', '.join(spec.margin_assets)})")
        return f"{spec.venue}:{spec.margin_kind}:{asset}"
    return f"{spec.venue}:{spec.spot_kind}:{asset}"

