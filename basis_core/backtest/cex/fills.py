"""Delta building from one fill (price, amount, fee, fee asset), shared by backtest and live.

Conventions (all exact ``Decimal``):
- spot buy of ``a`` at ``p``: base ``+a``, quote ``-a x p``; spot sell: base ``-a``, quote ``+a x p``; the
  fee is then subtracted from the balance of the asset it is charged in.
- perp fill of signed ``q`` at ``p``: position key ``+q``; margin wallet ``+realised - fee``.
- ``pnl`` (USD, quotes are USD stablecoins): ``trading_fees = -fee x (USD price of the fee asset)`` with
  the base valued at the reference price (the fill price when none), ``slippage = (ref - p) x q`` for a
  signed quantity ``q`` (a cost is negative). Hence, valued at the reference price, the account
  changes by exactly ``trading_fees + slippage``.
"""

from __future__ import annotations

from decimal import Decimal

from basis_core.backtest.cex.market import Market

Positions = dict[str, Decimal]


def spot_fill(m: Market, buy: bool, amount: Decimal, price: Decimal, fee: Decimal, fee_asset: str,
              reference: Decimal | None = None) -> tuple[Positions, Positions, Positions]:
    """``(positions, fees, pnl)`` of a spot fill; ``fee_asset`` is the asset the venue charged."""
    value = amount * price
    if buy:
        positions = {m.base_key: amount, m.quote_key: -value}
    else:
        positions = {m.base_key: -amount, m.quote_key: value}
    ref = price if reference is None else reference
    pnl: Positions = {}
    if fee:
        if fee_asset == m.base:
            fee_key, fee_usd = m.base_key, fee * ref
        elif fee_asset == m.quote:
            fee_key, fee_usd = m.quote_key, fee
        else:  # a third asset (e.g. BNB): the caller values it; recorded in its own key
            fee_key = f"{m.quote_key.rsplit(':', 1)[0]}:{fee_asset}"
            fee_usd = Decimal(0)
        positions[fee_key] = positions.get(fee_key, Decimal(0)) - fee
        fees = {fee_key: -fee}
        pnl["trading_fees"] = -fee_usd
    else:
        fees = {}
    if reference is not None and reference != price:
        pnl["slippage"] = (reference - price) * amount if buy else (price - reference) * amount
    return positions, fees, pnl


def perp_fill(m: Market, qty: Decimal, price: Decimal, fee: Decimal, realised: Decimal,
              reference: Decimal | None = None) -> tuple[Positions, Positions, Positions]:
    """``(positions, fees, pnl)`` of a perp fill of signed ``qty``; ``realised`` from
    :func:`basis_core.backtest.cex.pnl.apply_fill`; fee in the settle asset."""
    positions = {m.perp_key: qty, m.margin_key: realised - fee}
    pnl: Positions = {"trading_fees": -fee}
    if reference is not None and reference != price:
        pnl["slippage"] = (reference - price) * qty
    return positions, {m.margin_key: -fee}, pnl
