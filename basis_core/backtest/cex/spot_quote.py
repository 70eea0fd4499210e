"""A spot market order quoted in swap terms: how much ``token_out`` a CEX's spot book gives for ``amount_in`` of
``token_in`` (the ``quote_spot`` hook, asked by the core's router for an optional CEX leg). Pure; shared by the
backtest simulator (prices from its price + slippage model) and live backends (prices from the order book).

Sizing. A sell spends ``amount_in`` of the base rounded down to the market's step. A buy spends at most
``amount_in`` of the quote: the largest base amount on the step whose cost (average fill price x amount, plus
the fee when it is charged in the quote) fits, found by a fixed point on the cost then stepped down until it fits.
The fee is the market's taker rate in the asset the venue charges it (the received asset, or the quote).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Any

from basis_core.backtest.cex.fills import spot_fill
from basis_core.backtest.cex.market import Market
from basis_core.backtest.cex.validation import check_amount, check_notional
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import InstructionError

__all__ = ["book_price", "quote_spot", "spot_market"]

_ZERO = Decimal(0)


def spot_market(markets: Mapping[str, Market], venue: str, token_in: str, token_out: str) -> tuple[Market, bool]:
    """The spot market trading ``token_in`` for ``token_out`` and whether that is a buy of its base;
    InstructionError naming ``token_out`` when the venue lists none."""
    for m in markets.values():
        if m.is_perp:
            continue
        if m.base == token_out and m.quote == token_in:
            return m, True
        if m.base == token_in and m.quote == token_out:
            return m, False
    raise InstructionError("token_out", f"{venue} lists no spot market for {token_in}/{token_out}")


def _floor(amount: Decimal, step: Decimal) -> Decimal:
    return (amount / step).to_integral_value(rounding=ROUND_DOWN) * step


def quote_spot(venue: str, m: Market, buy: bool, amount_in: Decimal, ts: Any, reference: Decimal,
               avg_price: Callable[[Decimal], Decimal]) -> ExecutionDeltas:
    """The quote (status ``quoted``, no positions) of a market order spending at most ``amount_in`` of
    ``token_in`` on ``m``; ``avg_price(base amount)`` is the average fill price of that size.

    ``details``: ``symbol``, ``side``, ``amount`` (base), ``price`` (average fill), ``amount_in`` (spent, <= asked),
    ``amount_out`` (received, net of the fee), ``fee``, ``fee_asset``, ``reference_price``, ``key_in`` / ``key_out``
    (the balance keys spent / credited), ``positions`` / ``pnl`` (the would-be deltas) and ``spot_trade`` (the
    market order realising it, as an instruction dict). InstructionError naming ``amount_in`` when the size is
    below the market's minimum amount or notional (or beyond the book)."""
    step, rate = m.spec.step, m.fee_rates.taker
    fee_in_base = buy and m.fee_in_received
    if buy:
        per_unit = Decimal(1) if fee_in_base else 1 + rate

        def cost(a: Decimal) -> tuple[Decimal, Decimal]:
            px = avg_price(a)
            return a * px * per_unit, px

        amount = _floor(amount_in / (reference * per_unit), step)
        for _ in range(6):  # fixed point of amount x budget / cost(amount): the cost is near-linear
            if amount <= 0:
                break
            c, _ = cost(amount)
            nxt = _floor(amount * amount_in / c, step)
            if nxt == amount:
                break
            amount = nxt
        for _ in range(64):  # the rounding may leave it a step over the budget
            if amount <= 0:
                break
            c, price = cost(amount)
            if c <= amount_in:
                break
            amount -= step
        else:
            raise InstructionError("amount_in", f"{amount_in} {m.quote} cannot be sized on {venue} {m.symbol}")
    else:
        amount = _floor(amount_in, step)
    if amount <= 0:
        raise InstructionError("amount_in", f"{amount_in} is below one step ({step}) of {venue} {m.symbol}")
    check_amount(m, amount, "amount_in")
    price = avg_price(amount)
    check_notional(m, amount, price, "amount_in")
    fee = amount * rate if fee_in_base else amount * price * rate
    fee_asset = m.base if fee_in_base else m.quote
    positions, _, pnl = spot_fill(m, buy, amount, price, fee, fee_asset, reference)
    key_in, key_out = (m.quote_key, m.base_key) if buy else (m.base_key, m.quote_key)
    side = "buy" if buy else "sell"
    details = {
        "symbol": m.symbol, "side": side, "amount": amount, "price": price, "amount_in": -positions[key_in],
        "amount_out": positions[key_out], "fee": fee, "fee_asset": fee_asset, "reference_price": reference,
        "key_in": key_in, "key_out": key_out, "positions": positions, "pnl": pnl,
        "spot_trade": {"operation": "spot_trade", "venue": venue, "symbol": m.symbol, "side": side,
                       "amount": str(amount)},
    }
    return ExecutionDeltas(venue, "spot_trade", ts, {}, {}, "quoted", None, None, price, amount, {}, details)


def book_price(levels: Sequence[Sequence[Any]], what: str) -> Callable[[Decimal], Decimal]:
    """``avg_price(amount)`` walking an order book side (``[[price, amount], ...]``, best first, as ccxt gives
    it); InstructionError naming ``amount_in`` when the book is thinner than the amount (``what`` names it)."""
    book = [(Decimal(str(p)), Decimal(str(a))) for p, a, *_ in levels]

    def avg(amount: Decimal) -> Decimal:
        left, cost = amount, _ZERO
        for p, a in book:
            take = min(left, a)
            cost += take * p
            left -= take
            if left <= 0:
                return cost / amount
        raise InstructionError("amount_in", f"{amount} is beyond the depth of the {what} order book")
    return avg
