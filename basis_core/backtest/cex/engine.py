"""``CexSimulator``: the backtest backend of a centralised exchange (spot + linear perpetuals).

Parameterised by a :class:`~basis_core.backtest.cex.spec.CexSpec`; all state lives in ledger tables
named ``<venue>.<table>`` so a failed instruction rolls everything back: ``orders`` (order id ->
:class:`RestingOrder`), ``client_ids`` (client id -> order id), ``locks`` (balance key -> amount held
by resting orders; on a margin wallet: initial margin reserved by resting perp orders),
``positions`` (symbol -> :class:`PerpPosition`, open positions only), ``leverage`` (symbol -> leverage),
``perp_totals`` (symbol -> :class:`PerpTotals`).

Market model
- Reference price: the as-of close of ``spot:<symbol>`` (spot) or ``perp:<venue>:<symbol>`` (perp mark).
- Market orders fill in full at the reference price moved by the slippage model, as taker: by default
  half-spread + square-root impact from the visible candle's volume and volatility
  (:mod:`basis_core.backtest.cex.impact`), the notional buckets on a series without high / low / quote volume
  or with ``slippage_model: buckets``.
- Limit orders: marketable ones (buy limit >= reference, sell limit <= reference) fill at once as taker
  at the slipped price capped by the limit; post-only ones are refused instead; IOC / FOK ones that are
  not marketable are cancelled; GTC ones rest, holding their balance (spot) or initial margin (perp).
  A resting order fills in full at its limit price, as maker, in the first bar whose close time is in
  ``(previous, timestamp]`` of an accrual and whose low (buy) / high (sell) reaches the limit (the
  close when the series has no high / low).
- Funding: for every row of ``funding:<venue>:<symbol>`` in ``(previous, timestamp]``, an open position
  receives ``-(size x mark x rate)`` into its margin wallet (mark = as-of close at the settlement).
- Liquidation (cross margin per margin wallet): at every accrual point (each close of the mark of an
  open position, each settlement, each resting fill, and the accrual's end) when wallet + unrealised
  PnL < total maintenance margin at any price of the mark bars closed in the step (each position at its
  adverse extreme: a long at the bar's low, a short at its high), every position of that wallet is closed
  (one position: at its liquidation price, or the bar's open past it; several: at their extremes), a liquidation
  fee (``fees.liquidation`` x notional, at most what is left) is charged, resting perp orders of the
  wallet are cancelled; a shortfall below zero is absorbed (insurance fund) and reported in ``details``.
  A funding payment the margin wallet cannot cover (asset balances never go negative; possible with a
  large unrealised profit) first closes the wallet's positions at the mark as taker, then is paid.
Events inside one accrual are processed in time order (fills before funding at equal times).
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from basis_core.backtest.cex.fills import perp_fill, spot_fill
from basis_core.backtest.cex.funding import funding_payment
from basis_core.backtest.cex.impact import impact_rate, parkinson_sigma, price_increment, window_stats
from basis_core.backtest.cex.margin import is_liquidatable, maintenance_margin, tier_for
from basis_core.backtest.cex.market import Market, build_markets, trade_notional
from basis_core.backtest.cex.pnl import apply_fill, entry_price, unrealised_pnl
from basis_core.backtest.cex.slippage import fill_price
from basis_core.backtest.cex.spec import CexSpec
from basis_core.backtest.cex.spot_quote import quote_spot, spot_market
from basis_core.backtest.cex.state import EMPTY_TOTALS, PerpPosition, PerpTotals, RestingOrder
from basis_core.backtest.cex.validation import (
    account_key,
    check_amount,
    check_notional,
    check_price,
    check_time_in_force,
    market_for,
)
from basis_core.backtest.ledger import Ledger
from basis_core.data.provider import DataProvider
from basis_core.data.series import Series
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import (
    ConfigError,
    DuplicateClientIdError,
    InstructionError,
    InsufficientFundsError,
    MarginError,
    MarketDataError,
    OrderNotFoundError,
)
from basis_core.timeutil import from_ns

ZERO = Decimal(0)
_UNSET: Any = object()
#: the metric names of :meth:`CexSimulator.get_balances`, in the order of :meth:`CexSimulator._metric_keys`
_METRICS = ("entry_price", "mark_price", "notional", "unrealised_pnl", "leverage", "initial_margin",
            "maintenance_margin", "maintenance_rate", "realised_pnl", "trading_fees", "funding", "liquidation_fees",
            "margin_balance", "unrealised_pnl", "initial_margin", "maintenance_margin", "available", "margin_ratio")
_EMPTY: Mapping[str, Decimal] = {}


class CexSimulator:
    """Backtest backend: one per venue instance (see the module docstring for the market model)."""

    def __init__(self, spec: CexSpec, ledger: Ledger, data: DataProvider) -> None:
        if ledger is None or data is None:
            raise ConfigError(f"{spec.venue}: the backtest backend needs a ledger and a data provider")
        self.spec = spec
        self.venue = v = spec.venue
        self.ledger = ledger
        self.data = data
        self._balances_cache: tuple[tuple[Any, int, bool], dict[str, Decimal]] | None = None
        self._metric_key_cache: dict[str, tuple[str, ...]] = {}
        self.markets: dict[str, Market] = build_markets(spec)
        self.orders = ledger.table(f"{v}.orders")
        self._orders = self.orders.data  # read-only view of the resting orders
        self.client_ids = ledger.table(f"{v}.client_ids")
        self.locks = ledger.table(f"{v}.locks")
        self._held = self.locks.data  # read-only view of the held balances
        self.positions = ledger.table(f"{v}.positions")
        self._open = self.positions.data  # read-only view of the open positions (writes go through the table)
        self.leverage = ledger.table(f"{v}.leverage")
        self.totals = ledger.table(f"{v}.perp_totals")
        #: "symbol@settlement ns" -> (symbol, settlement ns, size, mark, rate): funding settled on a rate the data
        #: may still revise (a live series' predicted rate); corrected to the final rate once it comes
        self.provisional = ledger.table(f"{v}.funding_provisional")
        self._provisional = self.provisional.data  # read-only view
        self._ids = itertools.count(1)
        self._series: dict[str, Series] = {}
        self._px: dict[str, tuple[int, Decimal, int]] = {}  # symbol -> (ts ns, as-of close, its row) of the last ask
        self._candles: dict[str, tuple[int, tuple[Decimal, Decimal] | None]] = {}  # symbol -> (candle, stats)
        self._sigmas: dict[str, dict[int, Decimal]] = {}  # symbol -> candle -> Parkinson sigma (window > 1)
        self._impact_memo: tuple[Any, float, float, Decimal, Decimal] | None = None  # the last candle's model inputs
        self._src: dict[str, tuple[Sequence[int], Sequence[Decimal], Series]] = {}
        self._funding: dict[str, Series | None] = {}
        self._cursors: dict[str, tuple[int, int]] = {}
        self._liq_rate = spec.fees.liquidation
        self._safe: tuple[int, Any] | None = None  # (ledger version, mark rows) of the last liquidation check passed

    # -- market data ------------------------------------------------------------------------------
    def series(self, m: Market) -> Series:
        """The price series of ``m`` (resolved once): spot templates in order, or the perp mark series."""
        s = self._series.get(m.symbol)
        if s is None:
            names = ([self.spec.mark_series] if m.is_perp else list(self.spec.spot_series))
            names = [n.format(venue=self.venue, symbol=m.symbol) for n in names]
            for n in names:
                s = self.data.find(n)
                if s is not None:
                    break
            if s is None:
                raise MarketDataError(f"{self.venue}: no price series for {m.symbol} (tried {', '.join(names)})")
            self._series[m.symbol] = s
        return s

    def price(self, m: Market, ts_ns: int) -> Decimal:
        """As-of close of ``m``'s series at ``ts_ns`` (cached per symbol for the last time asked)."""
        sym = m.symbol
        c = self._px.get(sym)
        if c is not None and c[0] == ts_ns:
            return c[1]
        src = self._src.get(sym)
        if src is None:
            s = self.series(m)
            src = self._src[sym] = (s.times, s.columns["close"], s)
        i = bisect_right(src[0], ts_ns) - 1
        if i < 0 or i == len(src[0]) - 1:
            i = src[2].index_at(ts_ns)  # the typed errors: before the first row, or stale past the last
        px = src[1][i]
        self._px[sym] = (ts_ns, px, i)
        return px

    def slippage_rate(self, m: Market, notional: Decimal, ts_ns: int, ref: Decimal) -> Decimal:
        """The slippage of a market order of ``notional`` (quote units) on ``m`` at ``ts_ns`` as a fraction of the
        reference price ``ref``: the square-root model on the candle visible at ``ts_ns`` when the market has
        one and its price series has high, low and quote volume, else the bucket model."""
        imp = m.impact
        if imp is not None:
            stats = self._candle_stats(m, ts_ns)
            if stats is not None:
                sigma, volume = stats
                key = (m.symbol, sigma, volume, ref)
                memo = self._impact_memo
                if memo is None or memo[0] != key:  # per candle (and reference price): the model's floats
                    s = m.spec
                    half = imp.half_spread(ref, price_increment(ref, s.tick, s.price_sig_figs, s.price_max_decimals))
                    memo = self._impact_memo = (key, float(imp.coefficient) * float(sigma), float(volume), half,
                                                imp.cap)
                return impact_rate(notional, memo[1], memo[2], memo[3], memo[4])
        return m.slippage.rate(notional)

    def _candle_stats(self, m: Market, ts_ns: int) -> tuple[Decimal, Decimal] | None:
        """``(sigma, quote volume)`` of the candle(s) of ``m``'s price series visible at ``ts_ns`` (memoised per
        candle), or None when the series lacks high, low or quote volume, the candle is malformed or nothing traded
        in it (then the bucket model prices the order)."""
        sym = m.symbol
        src = self._src.get(sym)
        if src is None:
            self.price(m, ts_ns)
            src = self._src[sym]
        times, _closes, series = src
        i = bisect_right(times, ts_ns) - 1
        memo = self._candles.get(sym)
        if memo is not None and memo[0] == i:
            return memo[1]
        cols = series.columns
        highs, lows, vols = cols.get("high"), cols.get("low"), cols.get("quote_volume")
        stats: tuple[Decimal, Decimal] | None = None
        if highs is not None and lows is not None and vols is not None and i >= 0:
            window = m.impact.window if m.impact is not None else 1
            sigma_of = None
            if window > 1:
                sig = self._sigmas.setdefault(sym, {})
                if len(sig) > 4 * window:
                    sig.clear()

                def sigma_of(j: int) -> Decimal:
                    v = sig.get(j)
                    if v is None:
                        v = sig[j] = parkinson_sigma(highs[j], lows[j])
                    return v
            try:
                stats = window_stats(highs, lows, vols, i, window, sigma_of)
            except ValueError:  # a malformed candle (low <= 0 or high < low): the bucket model prices it
                stats = None
            if stats is not None and not stats[1] > 0:  # nothing traded (a file's first row, at its open): no
                stats = None  # liquidity measured, the bucket model prices it
        self._candles[sym] = (i, stats)
        return stats

    def funding_series(self, m: Market) -> Series | None:
        """The funding series of perp ``m`` (None when absent and not required)."""
        if m.symbol in self._funding:
            return self._funding[m.symbol]
        name = self.spec.funding_series.format(venue=self.venue, symbol=m.symbol)
        s = self.data.find(name)
        if s is None and self.spec.require_funding_data:
            raise MarketDataError(f"{self.venue}: no funding series {name!r} for {m.symbol}; a perp position needs "
                                  f"it (set venue_config.{self.venue}.require_funding_data: false to trade without)")
        self._funding[m.symbol] = s
        return s

    def _market(self, symbol: str, perp: bool) -> Market:
        m = self.markets.get(symbol)
        if m is None or m.is_perp != perp:
            return market_for(self.markets, self.venue, symbol, perp)
        return m

    def _next_id(self) -> str:
        return str(next(self._ids))

    # -- spot -------------------------------------------------------------------------------------
    def spot_trade(self, ts: Any, ins: Any) -> ExecutionDeltas:
        m = self._market(ins.symbol, False)
        ref = self.price(m, ts.value)
        amount = ins.amount
        buy = ins.side == "buy"
        check_amount(m, amount)
        if ins.order_type == "market":
            check_notional(m, amount, ref)
            if buy and self.spec.market_slippage:
                self._check_market_buy_hold(m, amount, ref)
            px = fill_price(ref, self.slippage_rate(m, amount * ref, ts.value, ref), buy)
            return self._spot_taker(ts, m, buy, amount, px, ref, ins.client_id, self._next_id(), "spot_trade")
        limit = ins.price
        check_price(m, limit)
        check_notional(m, amount, limit)
        check_time_in_force(self.venue, self.spec.time_in_force, ins)
        return self._limit(ts, m, ins, buy, amount, limit, ref, None)

    def quote_spot(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """The ``quote_spot`` hook: a market order spending at most ``ins.amount_in`` of ``ins.token_in``, priced
        as :meth:`spot_trade` fills it now (reference price and slippage model); nothing changes."""
        m, buy = spot_market(self.markets, self.venue, ins.token_in, ins.token_out)
        ref = self.price(m, ts.value)
        return quote_spot(self.venue, m, buy, ins.amount_in, ts, ref,
                          lambda a: fill_price(ref, self.slippage_rate(m, a * ref, ts.value, ref), buy))

    def _spot_taker(self, ts: Any, m: Market, buy: bool, amount: Decimal, px: Decimal, ref: Decimal,
                    client_id: str | None, order_id: str, op: str) -> ExecutionDeltas:
        if self._held:  # some balance is held by resting orders
            key = m.quote_key if buy else m.base_key
            self._check_available(key, amount * px if buy else amount)
        rate = m.fee_rates.taker
        if buy and m.fee_in_received:
            fee, fee_asset = amount * rate, m.base
        else:
            fee, fee_asset = amount * px * rate, m.quote
        positions, fees, pnl = spot_fill(m, buy, amount, px, fee, fee_asset, ref)
        return ExecutionDeltas(self.venue, op, ts, positions, fees, "filled", client_id, order_id, px, amount, pnl,
                               {"liquidity": "taker", "fee_asset": fee_asset, "reference_price": ref,
                                "reference_prices": {m.base: ref}})

    def _check_market_buy_hold(self, m: Market, amount: Decimal, ref: Decimal) -> None:
        """A venue whose market orders are limits ``market_slippage`` through the reference holds the quote at that
        limit when a buy is placed: refuse it (InsufficientFundsError on ``amount``) when that much is not free."""
        ms = self.spec.market_slippage
        self._check_hold(m.quote_key, amount * ref * (1 + ms), (
            f"a market buy of {amount} {m.base} holds amount x price x (1 + {ms}) when placed (the venue's market "
            f"orders are limits {ms} through the price; venue_config.{self.venue}.market_slippage); buy less"))

    def _check_hold(self, key: str, hold: Decimal, why: str) -> None:
        """InsufficientFundsError on ``amount`` (saying ``why``) when ``hold`` of ``key`` is not free."""
        free = self.ledger.balance(key) - self.locks.get(key, ZERO)
        if hold > free:
            raise InsufficientFundsError(key, hold, free, note=why)

    def _check_available(self, key: str, needed: Decimal) -> None:
        held = self.locks.get(key)
        if held:
            available = self.ledger.balance(key) - held
            if needed > available:
                raise InsufficientFundsError(key, needed, available)

    # -- limit orders (spot and perp) ---------------------------------------------------------------
    def _limit(self, ts: Any, m: Market, ins: Any, buy: bool, amount: Decimal, limit: Decimal, ref: Decimal,
               perp_ctx: tuple[PerpPosition | None, Decimal] | None) -> ExecutionDeltas:
        """A limit order: refuse (post-only crossing), fill as taker (marketable), cancel (IOC / FOK) or rest."""
        marketable = limit >= ref if buy else limit <= ref
        op = ins.operation
        if marketable:
            if ins.post_only:
                raise InstructionError("post_only", f"a post-only {ins.side} at {limit} would immediately match "
                                                    f"(reference price {ref}); it was refused")
            px = fill_price(ref, self.slippage_rate(m, amount * ref, ts.value, ref), buy)
            px = min(px, limit) if buy else max(px, limit)
            if perp_ctx is None:
                if buy:  # venues check (and hold) amount x limit of the quote when placed, even if it fills at once
                    self._check_hold(m.quote_key, amount * limit, "a limit buy holds amount x limit when placed, "
                                                                 "even when it fills at once")
                return self._spot_taker(ts, m, buy, amount, px, ref, ins.client_id, self._next_id(), op)
            pos, lev = perp_ctx
            qty = amount if buy else -amount
            return self._perp_execute(ts, m, pos, qty, px, ref, lev, ins.client_id, self._next_id(), op,
                                      False, ins.leverage is not None)
        if ins.time_in_force != "GTC":
            return ExecutionDeltas(self.venue, op, ts, {}, {}, "cancelled", ins.client_id, self._next_id(),
                                   details={"reason": f"{ins.time_in_force} limit {ins.side} at {limit} not "
                                                      f"marketable (reference price {ref})"})
        rest_lev = perp_ctx[1] if perp_ctx is not None else None
        order = self._rest(ts.value, m, ins.side, amount, limit, ins.time_in_force, ins.post_only,
                           bool(getattr(ins, "reduce_only", False)), rest_lev, ins.client_id, self._next_id(), None)
        return ExecutionDeltas(self.venue, op, ts, {}, {}, "open", ins.client_id, order.order_id,
                               details={"price": limit, "amount": amount, "side": ins.side, "symbol": m.symbol})

    def _rest(self, ts_ns: int, m: Market, side: str, amount: Decimal, price: Decimal, tif: str, post_only: bool,
              reduce_only: bool, lev: Decimal | None, client_id: str | None, order_id: str,
              seq: int | None) -> RestingOrder:
        """Store a resting order after holding its balance / reserving its margin."""
        if client_id is not None:
            other = self.client_ids.get(client_id)
            if other is not None:
                raise DuplicateClientIdError("client_id", f"{client_id!r} is already used by open order {other}")
        buy = side == "buy"
        if m.is_perp:
            key = m.margin_key
            lock = ZERO if reduce_only else amount * price / lev  # type: ignore[operator]
            if lock:
                wallet, upnl, im, _mm = self._account(m.margin_key, ts_ns, {})
                free = wallet + upnl - im
                if lock > free:
                    raise MarginError("amount", f"insufficient margin on {key}: the order needs {lock} of initial "
                                                f"margin, {free} is free")
        else:
            key = m.quote_key if buy else m.base_key
            lock = amount * price if buy else amount
            held = self.locks.get(key, ZERO)
            available = self.ledger.balance(key) - held
            if lock > available:
                raise InsufficientFundsError(key, lock, available)
        if lock:
            self.locks[key] = self.locks.get(key, ZERO) + lock
        order = RestingOrder(order_id, client_id, m.symbol, m.is_perp, side, amount, price, tif, post_only,
                             reduce_only, lev, ts_ns, int(order_id) if seq is None else seq, key, lock)
        self.orders[order_id] = order
        if client_id is not None:
            self.client_ids[client_id] = order_id
        return order

    def _remove_order(self, o: RestingOrder) -> None:
        del self.orders[o.order_id]
        if o.client_id is not None and self.client_ids.get(o.client_id) == o.order_id:
            del self.client_ids[o.client_id]
        if o.lock_amount:
            left = self.locks[o.lock_key] - o.lock_amount
            if left:
                self.locks[o.lock_key] = left
            else:
                del self.locks[o.lock_key]

    def _find_order(self, order_id: str, symbol: str | None) -> RestingOrder:
        o = self.orders.get(order_id)
        if o is None:
            oid = self.client_ids.get(order_id)
            o = None if oid is None else self.orders.get(oid)
        if o is None or (symbol is not None and o.symbol != symbol):
            raise OrderNotFoundError("order_id", f"no open order {order_id!r} on {self.venue}"
                                                 + (f" for {symbol}" if symbol else ""))
        return o

    def cancel_order(self, ts: Any, ins: Any) -> ExecutionDeltas:
        o = self._find_order(ins.order_id, ins.symbol)
        self._remove_order(o)
        return ExecutionDeltas(self.venue, "cancel_order", ts, {}, {}, "cancelled", ins.client_id, o.order_id,
                               details={"symbol": o.symbol, "side": o.side, "amount": o.amount, "price": o.price,
                                        "order_client_id": o.client_id})

    def modify_order(self, ts: Any, ins: Any) -> ExecutionDeltas:
        o = self._find_order(ins.order_id, ins.symbol)
        m = self.markets[o.symbol]
        amount = o.amount if ins.amount is None else ins.amount
        price = o.price if ins.price is None else ins.price
        check_amount(m, amount)
        check_price(m, price)
        if not o.reduce_only:
            check_notional(m, amount, price)
        ts_ns = ts.value
        ref = self.price(m, ts_ns)
        buy = o.side == "buy"
        marketable = price >= ref if buy else price <= ref
        if marketable and o.post_only:
            raise InstructionError("price", f"the post-only order would immediately match at {price} "
                                            f"(reference price {ref}); not modified")
        self._remove_order(o)
        if marketable:
            px = fill_price(ref, self.slippage_rate(m, amount * ref, ts.value, ref), buy)
            px = min(px, price) if buy else max(px, price)
            if not m.is_perp:
                return self._spot_taker(ts, m, buy, amount, px, ref, o.client_id, o.order_id, "modify_order")
            pos = self.positions.get(m.symbol)
            qty = amount if buy else -amount
            if o.reduce_only:
                qty = self._reduce_only_qty(m, pos, qty)
            lev = o.leverage or self._leverage(m, pos)
            return self._perp_execute(ts, m, pos, qty, px, ref, lev, o.client_id, o.order_id, "modify_order",
                                      False)
        new = self._rest(ts_ns, m, o.side, amount, price, o.time_in_force, o.post_only, o.reduce_only, o.leverage,
                         o.client_id, o.order_id, o.seq)
        return ExecutionDeltas(self.venue, "modify_order", ts, {}, {}, "modified", ins.client_id, new.order_id,
                               details={"symbol": m.symbol, "amount": amount, "price": price})

    # -- perpetuals ---------------------------------------------------------------------------------
    def _leverage(self, m: Market, pos: PerpPosition | None) -> Decimal:
        if pos is not None:
            return pos.leverage
        lev: Decimal | None = self.leverage.get(m.symbol)
        return m.default_leverage if lev is None else lev

    def _reduce_only_qty(self, m: Market, pos: PerpPosition | None, qty: Decimal) -> Decimal:
        size = ZERO if pos is None else pos.size
        if size == 0 or (size > 0) == (qty > 0):
            raise InstructionError("reduce_only", f"a reduce-only {'buy' if qty > 0 else 'sell'} of {abs(qty)} would "
                                                  f"increase the {m.symbol} position ({size})")
        if abs(qty) > abs(size):
            if not self.spec.reduce_only_clamp:
                raise InstructionError("amount", f"reduce-only amount {abs(qty)} exceeds the {m.symbol} position "
                                                 f"size {abs(size)}")
            qty = -size
        return qty

    def perp_trade(self, ts: Any, ins: Any) -> ExecutionDeltas:
        symbol = ins.symbol
        m = self._market(symbol, True)
        ts_ns = ts.value
        mark = self.price(m, ts_ns)
        if symbol not in self._funding:
            self.funding_series(m)
        amount = ins.amount
        buy = ins.side == "buy"
        pos = self._open.get(symbol)
        check_amount(m, amount)
        qty = amount if buy else -amount
        reduce_only = ins.reduce_only
        if reduce_only:
            qty = self._reduce_only_qty(m, pos, qty)
            amount = abs(qty)
        limit = ins.price
        if limit is not None:
            check_price(m, limit)
            check_time_in_force(self.venue, self.spec.time_in_force, ins)
        if not reduce_only:
            check_notional(m, amount, mark if limit is None else limit)
        lev = ins.leverage
        if lev is None:
            lev = self._leverage(m, pos)
        else:
            if lev > m.spec.max_leverage:
                raise MarginError("leverage", f"{lev}x exceeds the maximum {m.spec.max_leverage}x for {symbol}")
            if self.leverage.get(symbol) != lev:
                self.leverage[symbol] = lev
            if pos is not None and pos.leverage != lev:
                pos = pos._replace(leverage=lev)
                self.positions[symbol] = pos
        if ins.order_type == "market":
            px = fill_price(mark, self.slippage_rate(m, amount * mark, ts_ns, mark), buy)
            return self._perp_execute(ts, m, pos, qty, px, mark, lev, ins.client_id, self._next_id(), "perp_trade",
                                      False, ins.leverage is not None)
        return self._limit(ts, m, ins, buy, amount, limit, mark, (pos, lev))

    def _perp_execute(self, ts: Any, m: Market, pos: PerpPosition | None, qty: Decimal, px: Decimal,
                      ref: Decimal | None, lev: Decimal, client_id: str | None, order_id: str, op: str,
                      maker: bool, force_check: bool = False, check: bool = True,
                      pending: Mapping[str, Decimal] = _EMPTY, resting: bool = False) -> ExecutionDeltas:
        """Fill signed ``qty`` at ``px``: O(1) position update (running size and cost basis), margin check
        when the exposure grows (or ``force_check``, e.g. after a leverage change)."""
        symbol = m.symbol
        if pos is None:
            size = cost = ZERO
        else:
            size, cost = pos.size, pos.cost
        new_size, new_cost, realised = apply_fill(size, cost, qty, px)
        abs_qty = -qty if qty < 0 else qty
        fee = abs_qty * px * (m.fee_rates.maker if maker else m.fee_rates.taker)
        if check and (force_check or (new_size and (not size or (size > 0) != (new_size > 0)
                                                    or abs(new_size) > abs(size)))):
            self._check_margin(m, new_size, new_cost, lev, realised - fee, ts.value, pending)
        if pos is None:
            self.positions[symbol] = PerpPosition(new_size, new_cost, lev, realised, -fee)
        elif new_size:
            self.positions[symbol] = PerpPosition(new_size, new_cost, lev, pos.realised + realised, pos.fees - fee)
        else:
            del self.positions[symbol]
            t = self.totals.get(symbol, EMPTY_TOTALS)
            self.totals[symbol] = PerpTotals(t.realised + pos.realised + realised, t.fees + pos.fees - fee,
                                             t.funding, t.liquidation)
        positions, fees, pnl = perp_fill(m, qty, px, fee, realised, ref)
        r = px if ref is None else ref
        if not realised and (size == 0 or (size > 0) == (qty > 0)):
            per_unit = r - px  # new units valued at the reference price
        else:  # change of unrealised PnL at the reference price, per unit traded
            per_unit = (unrealised_pnl(new_size, new_cost, r) - unrealised_pnl(size, cost, r)) / qty
        details: dict[str, Any] = {"liquidity": "maker" if maker else "taker", "realised_pnl": realised,
                                   "reference_price": ref, "position": new_size,
                                   "reference_prices": {m.perp_key: per_unit}}
        if resting:
            details["resting"] = True
        return ExecutionDeltas(self.venue, op, ts, positions, fees, "filled", client_id, order_id, px, abs_qty, pnl,
                               details)

    def _check_margin(self, m: Market, new_size: Decimal, new_cost: Decimal, lev: Decimal, wallet_change: Decimal,
                      ts_ns: int, pending: Mapping[str, Decimal]) -> None:
        """MarginError unless margin balance >= initial margin (positions at ``lev`` / their leverage plus
        resting orders) after the fill, and ``lev`` within the tier of the new notional."""
        mark = self.price(m, ts_ns)
        if new_size > 0:
            notional = new_size * mark
            upnl = notional - new_cost
        else:
            notional = -new_size * mark
            upnl = new_cost - notional
        tier = m.tiers[0]
        if tier.cap is not None and notional >= tier.cap:
            tier = tier_for(m.tiers, notional)
        if lev > tier.max_leverage:
            raise MarginError("leverage", f"{lev}x exceeds the {tier.max_leverage}x allowed for a {m.symbol} position "
                                          f"of {notional} {m.quote} notional")
        key = m.margin_key
        equity = self.ledger.balance(key) + wallet_change + upnl
        if pending:
            equity += pending.get(key, ZERO)
        held = self._held.get(key, ZERO)
        positions = self._open
        n = len(positions)
        if n > 1 or (n == 1 and m.symbol not in positions):
            _w, o_upnl, o_im, _mm = self._account(key, ts_ns, _EMPTY, skip=m.symbol)
            equity += o_upnl
            held = o_im  # includes the resting orders' margin
        if (equity - held) * lev < notional:
            im = held + notional / lev
            raise MarginError("amount", f"insufficient margin on {key}: initial margin {im} exceeds the "
                                        f"margin balance {equity} after the order")

    def _account(self, margin_key: str, ts_ns: int, pending: Mapping[str, Decimal],
                 skip: str | None = None) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """``(wallet, unrealised PnL, initial margin incl. resting orders, maintenance margin)`` of one
        margin wallet at ``ts_ns`` (``skip``: leave one symbol out; ``pending``: unapplied changes)."""
        wallet = self.ledger.balance(margin_key) + pending.get(margin_key, ZERO)
        upnl = ZERO
        im = self.locks.get(margin_key, ZERO)
        mm = ZERO
        markets = self.markets
        for sym, p in self.positions.items():
            pm = markets[sym]
            if sym == skip or pm.margin_key != margin_key:
                continue
            mark = self.price(pm, ts_ns)
            notional = abs(p.size) * mark
            upnl += unrealised_pnl(p.size, p.cost, mark)
            im += notional / p.leverage
            mm += maintenance_margin(pm.tiers, notional)
        return wallet, upnl, im, mm

    # -- transfers ----------------------------------------------------------------------------------
    def transfer(self, ts: Any, ins: Any) -> ExecutionDeltas:
        src = account_key(self.spec, ins.from_account, ins.asset, "from_account")
        dst = account_key(self.spec, ins.to_account, ins.asset, "to_account")
        if src == dst:
            raise InstructionError("to_account", f"{ins.to_account!r} is the same account as {ins.from_account!r}")
        available = self.transferable(src, ts.value)
        if ins.amount > available:
            raise InsufficientFundsError(src, ins.amount, available)
        return ExecutionDeltas(self.venue, "transfer", ts, {src: -ins.amount, dst: ins.amount}, {}, "filled",
                               ins.client_id, self._next_id(), details={"from": src, "to": dst})

    def transferable(self, key: str, ts_ns: int) -> Decimal:
        """What can leave ``key``: a spot balance minus what resting orders hold; a margin wallet
        ``min(wallet, wallet + min(unrealised PnL, 0) - initial margin)``, never below 0."""
        if key.startswith(f"{self.venue}:{self.spec.margin_kind}:"):
            wallet, upnl, im, _mm = self._account(key, ts_ns, _EMPTY)
            free = wallet + min(upnl, ZERO) - im
            return max(min(wallet, free), ZERO)
        return max(self.ledger.balance(key) - self.locks.get(key, ZERO), ZERO)

    # -- accrual ------------------------------------------------------------------------------------
    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        """Resting-order fills, funding settlements and liquidations in ``(previous, timestamp]``.

        Events are processed in time order; at each event time (resting-order fill checks, funding
        settlements, closes of the marks of open positions): resting fills (placement order), then the
        funding settlements (one deltas per margin wallet and settlement time, per-symbol detail in
        ``details["payments"]``), then the liquidation check; finally a liquidation check at ``timestamp``.
        """
        if not self._open and not self._orders and not self._provisional:  # nothing rests, nothing is open, nothing
            return None  # to correct: nothing to accrue (the hot path)
        orders = self.orders
        positions = self.positions
        n_orders = len(orders)
        prev_ns = previous.value
        ts_ns = timestamp.value
        events: list[tuple[int, int, int, str, int]] = []
        perp_syms: Any = self._open
        if n_orders:
            for oid, o in orders.items():
                s = self.series(self.markets[o.symbol])
                r = s.range_between(prev_ns, ts_ns)
                if not r:
                    continue
                cols = s.columns
                if o.side == "buy":
                    col = cols.get("low") or cols["close"]
                    hit = next((i for i in r if col[i] <= o.price), None)
                else:
                    col = cols.get("high") or cols["close"]
                    hit = next((i for i in r if col[i] >= o.price), None)
                if hit is not None:
                    events.append((s.times[hit], 0, o.seq, oid, hit))
            perp_syms = set(perp_syms)
            perp_syms.update(o.symbol for o in orders.values() if o.perp)
        cursors = self._cursors
        funding = self._funding
        fund: list[tuple[int, str, int]] = []  # (settlement ns, symbol, funding row) in the step
        for sym in perp_syms:
            fs = funding.get(sym, _UNSET)
            if fs is _UNSET:
                fs = self.funding_series(self.markets[sym])
            if fs is None:
                continue
            times = fs.times
            c = cursors.get(sym)
            i = c[1] if c is not None and c[0] == prev_ns else bisect_right(times, prev_ns)
            if i < len(times) and times[i] <= ts_ns:
                j = bisect_right(times, ts_ns, i)
                if j == i + 1:  # the usual case: one settlement in the step
                    fund.append((times[i], sym, i))
                else:
                    fund.extend((times[k], sym, k) for k in range(i, j))
                i = j
            cursors[sym] = (ts_ns, i)
        open_positions = self._open
        if open_positions:
            # mark bars closing strictly inside the step are accrual points too (liquidation checks)
            checks: set[int] = set()
            src_of = self._src
            px_of = self._px
            for sym in open_positions:
                src = src_of.get(sym)
                if src is None:
                    self.price(self.markets[sym], ts_ns)
                    src = src_of[sym]
                times = src[0]
                asked = px_of.get(sym)  # the row asked at ``previous`` (the last step's final check): no bisect
                lo = asked[2] + 1 if asked is not None and asked[0] == prev_ns else bisect_right(times, prev_ns)
                if lo < len(times) and times[lo] < ts_ns:
                    checks.update(times[lo:bisect_left(times, ts_ns, lo)])
            if checks:
                events.extend((t, 2, 0, "", 0) for t in checks)
        out: list[ExecutionDeltas] = []
        pending: dict[str, Decimal] = {}
        last_t = None
        if fund:
            if len(fund) > 1:
                fund.sort()
            t = fund[0][0]
            if not events and fund[-1][0] == t:  # the usual step: every settlement at one time, nothing else
                stamp = timestamp if t == ts_ns else from_ns(t)
                self._settle_funding(stamp, t, fund, pending, out)
                if len(positions):
                    self._liquidate_if_needed(stamp, t, pending, out, prev_ns)
                last_t = t
            else:
                events.extend((t, 1, 0, sym, i) for t, sym, i in fund)
        if events:
            if len(events) > 1:
                events.sort()
            n = len(events)
            k = 0
            while k < n:
                t = events[k][0]
                stamp = timestamp if t == ts_ns else from_ns(t)
                batch: list[tuple[int, str, int]] = []
                while k < n and events[k][0] == t:
                    _t, kind, _seq, key, idx = events[k]
                    if kind == 0:
                        o = orders.get(key)
                        if o is not None:
                            self._fill_resting(stamp, o, pending, out)
                    elif kind == 1:
                        batch.append((t, key, idx))
                    k += 1
                if batch:
                    self._settle_funding(stamp, t, batch, pending, out)
                if len(positions):
                    self._liquidate_if_needed(stamp, t, pending, out, prev_ns)
                last_t = t
        if self._provisional:
            self._correct_funding(timestamp, pending, out)
        if last_t != ts_ns and len(positions):
            if events or fund:
                self._liquidate_if_needed(timestamp, ts_ns, pending, out, prev_ns)
            else:
                # the same ledger and the same mark rows as a check that passed: the same verdict. (A row is first
                # checked at its adverse extremes, later at its close, which lies between them: a pass stays a pass.)
                safe = (self.ledger.version, self._price_rows(ts_ns))
                if safe != self._safe or not isinstance(safe[1], tuple):
                    self._liquidate_if_needed(timestamp, ts_ns, pending, out, prev_ns)
                    self._safe = None if out else safe
        return out or None

    def _fill_resting(self, stamp: Any, o: RestingOrder, pending: dict[str, Decimal],
                      out: list[ExecutionDeltas]) -> None:
        m = self.markets[o.symbol]
        self._remove_order(o)
        buy = o.side == "buy"
        if not m.is_perp:
            rate = m.fee_rates.maker
            if buy and m.fee_in_received:
                fee, fee_asset = o.amount * rate, m.base
            else:
                fee, fee_asset = o.amount * o.price * rate, m.quote
            positions, fees, pnl = spot_fill(m, buy, o.amount, o.price, fee, fee_asset)
            for k, v in positions.items():
                pending[k] = pending.get(k, ZERO) + v
            out.append(ExecutionDeltas(self.venue, "spot_trade", stamp, positions, fees, "filled", o.client_id,
                                       o.order_id, o.price, o.amount, pnl,
                                       {"liquidity": "maker", "fee_asset": fee_asset, "resting": True}))
            return
        pos = self.positions.get(m.symbol)
        qty = o.amount if buy else -o.amount
        if o.reduce_only:
            size = ZERO if pos is None else pos.size
            if size == 0 or (size > 0) == buy:
                out.append(ExecutionDeltas(self.venue, "perp_trade", stamp, {}, {}, "cancelled", o.client_id,
                                           o.order_id, details={"reason": "reduce-only order would increase the "
                                                                          "position; expired"}))
                return
            if abs(qty) > abs(size):
                qty = -size
        lev = o.leverage or self._leverage(m, pos)
        d = self._perp_execute(stamp, m, pos, qty, o.price, None, lev, o.client_id, o.order_id, "perp_trade",
                               True, check=False, resting=True)
        for k, v in d.positions.items():
            pending[k] = pending.get(k, ZERO) + v
        out.append(d)

    def _settle_funding(self, stamp: Any, t_ns: int, batch: list[tuple[int, str, int]],
                        pending: dict[str, Decimal], out: list[ExecutionDeltas]) -> None:
        """Settle the funding rows ``batch`` ((``t_ns``, symbol, row index), in symbol order): one deltas per
        wallet."""
        by_wallet: dict[str, tuple[list[Decimal], dict[str, dict[str, Decimal]]]] = {}
        open_positions = self._open
        markets = self.markets
        funding = self._funding
        totals = self.totals
        totals_now = totals.data
        px_of = self._px
        src_of = self._src
        for _t, symbol, idx in batch:
            pos = open_positions.get(symbol)
            if pos is None:
                continue
            m = markets[symbol]
            fs = funding[symbol]
            assert fs is not None
            rate = fs.columns["rate"][idx]
            c = px_of.get(symbol)
            if c is not None and c[0] == t_ns:
                mark = c[1]
            else:  # self.price(m, t_ns), inlined for a series already read and a row that is not its last
                src = src_of.get(symbol)
                if src is None:
                    mark = self.price(m, t_ns)
                else:
                    times = src[0]
                    i = bisect_right(times, t_ns) - 1
                    if i < 0 or i == len(times) - 1:
                        mark = self.price(m, t_ns)
                    else:
                        mark = src[1][i]
                        px_of[symbol] = (t_ns, mark, i)
            size = pos.size
            pay = -(size * mark * rate)  # funding_payment(size, mark, rate), inlined (the hot path)
            final = getattr(fs, "final_ns", None)
            if final is not None and t_ns > final:  # a predicted rate: corrected once the venue settles it
                self.provisional[f"{symbol}@{t_ns}"] = (symbol, t_ns, size, mark, rate)
            t = totals_now.get(symbol, EMPTY_TOTALS)
            totals[symbol] = PerpTotals(t.realised, t.fees, t.funding + pay, t.liquidation)
            key = m.margin_key
            entry = by_wallet.get(key)
            if entry is None:
                entry = by_wallet[key] = ([ZERO], {})
            entry[0][0] += pay
            entry[1][symbol] = {"size": size, "mark": mark, "rate": rate, "payment": pay}
        for key, (total, payments) in by_wallet.items():
            amount = total[0]
            details: dict[str, Any] = {"payments": payments}
            if amount < 0 and self.ledger.balance(key) + pending.get(key, ZERO) + amount < 0:
                # the wallet cannot pay (possible with a large unrealised profit): the wallet's positions are
                # closed at the mark first, as taker, and the payment is taken from the realised result
                balance, mm = self._health(t_ns, pending).get(key, (ZERO, ZERO))
                self._liquidate(stamp, key, t_ns, balance, mm, pending, out, self.spec.fees.perp.taker,
                                "funding payment exceeds the margin wallet")
                wallet = self.ledger.balance(key) + pending.get(key, ZERO)
                if wallet + amount < 0:
                    details["insurance_fund_shortfall"] = -(wallet + amount)
                    amount = -wallet
            pending[key] = pending.get(key, ZERO) + amount
            out.append(ExecutionDeltas(self.venue, "funding", stamp, {key: amount}, {}, "settled",
                                       pnl={"funding": amount}, details=details))

    def _correct_funding(self, stamp: Any, pending: dict[str, Decimal], out: list[ExecutionDeltas]) -> None:
        """Book the difference between the rate a provisional settlement used and the rate the data now says the
        venue settled at (a final row at that time): one ``funding`` deltas per wallet, ``details["correction"]``,
        per symbol the size and mark of the settlement, the settled and the predicted rate. Settlements whose rate
        is not final yet wait; one whose row is gone (the venue settled at another time) is dropped."""
        by_wallet: dict[str, tuple[list[Decimal], dict[str, dict[str, Any]]]] = {}
        totals = self.totals
        for key, (symbol, t_ns, size, mark, rate) in self.provisional.items():
            fs = self._funding.get(symbol) or self.funding_series(self.markets[symbol])
            if fs is not None and t_ns > getattr(fs, "final_ns", t_ns):
                continue
            del self.provisional[key]
            if fs is None:
                continue
            i = bisect_right(fs.times, t_ns) - 1
            settled = fs.columns["rate"][i] if i >= 0 and fs.times[i] == t_ns else rate
            if settled == rate:
                continue
            diff = funding_payment(size, mark, settled) - funding_payment(size, mark, rate)
            m = self.markets[symbol]
            tot = totals.get(symbol, EMPTY_TOTALS)
            totals[symbol] = PerpTotals(tot.realised, tot.fees, tot.funding + diff, tot.liquidation)
            entry = by_wallet.setdefault(m.margin_key, ([ZERO], {}))
            entry[0][0] += diff
            entry[1][symbol] = {"size": size, "mark": mark, "rate": settled, "predicted_rate": rate,
                                "settlement": from_ns(t_ns).isoformat(), "payment": diff}
        for wallet_key, (total, payments) in by_wallet.items():
            amount = total[0]
            details: dict[str, Any] = {"payments": payments, "correction": True}
            wallet = self.ledger.balance(wallet_key) + pending.get(wallet_key, ZERO)
            if wallet + amount < 0:  # balances never go negative: the rest is the insurance fund's
                details["insurance_fund_shortfall"] = -(wallet + amount)
                amount = -wallet
            pending[wallet_key] = pending.get(wallet_key, ZERO) + amount
            out.append(ExecutionDeltas(self.venue, "funding", stamp, {wallet_key: amount}, {}, "settled",
                                       pnl={"funding": amount}, details=details))

    def _health(self, t_ns: int, pending: Mapping[str, Decimal],
                marks: Mapping[str, Decimal] | None = None) -> dict[str, list[Decimal]]:
        """Per margin wallet with open positions: ``[margin balance, maintenance margin]`` at ``t_ns`` (at the
        given ``marks`` by symbol, else the as-of closes)."""
        out: dict[str, list[Decimal]] = {}
        markets = self.markets
        price = self.price
        for sym, p in self._open.items():
            m = markets[sym]
            mark = marks[sym] if marks is not None and sym in marks else price(m, t_ns)
            size = p.size
            acc = out.get(m.margin_key)
            if acc is None:
                key = m.margin_key
                acc = out[key] = [self.ledger.balance(key) + pending.get(key, ZERO), ZERO]
            if size > 0:
                notional = size * mark
                acc[0] += notional - p.cost
            else:
                notional = -size * mark
                acc[0] += p.cost - notional
            tier = m.tiers[0]
            if tier.cap is not None and notional >= tier.cap:
                tier = tier_for(m.tiers, notional)
            acc[1] += notional * tier.mmr - tier.cum
        return out

    def _bar(self, m: Market, t_ns: int, since_ns: int) -> tuple[Decimal, Decimal, Decimal]:
        """``(open, low, high)`` of the mark bar visible at ``t_ns`` if it closed after ``since_ns`` (the close
        for missing columns, and three times the close for a bar already checked before ``since_ns``)."""
        close = self.price(m, t_ns)
        times, _closes, series = self._src[m.symbol]
        i = bisect_right(times, t_ns) - 1
        if times[i] <= since_ns:
            return close, close, close
        cols = series.columns
        return (cols["open"][i] if "open" in cols else close, cols["low"][i] if "low" in cols else close,
                cols["high"][i] if "high" in cols else close)

    def _liquidate_if_needed(self, stamp: Any, t_ns: int, pending: dict[str, Decimal],
                             out: list[ExecutionDeltas], since_ns: int) -> None:
        """Liquidate the wallets whose margin balance fell below maintenance at any price of the mark's bar:
        each position is checked at its adverse extreme (a long at the bar's low, a short at its high), so a
        wick that crosses the liquidation price liquidates even when the close is back. A wallet with one
        position is closed at its liquidation price (where margin balance = maintenance margin; the bar's open
        when it gapped beyond), clamped into the bar; a wallet with several at their adverse extremes. Only bars
        that closed after ``since_ns`` (the accrual's start) count their extremes: a position is never liquidated
        by a price from before the step it was checked in.

        The check itself (every step with open positions) is :meth:`_health` at the positions' adverse extremes;
        only a wallet found liquidatable goes on to :meth:`_liquidate_wallets` (the same health, then the
        liquidation prices)."""
        markets = self.markets
        src_of = self._src
        px_of = self._px
        adverse: dict[str, Decimal] = {}
        for sym, p in self._open.items():
            c = px_of.get(sym)
            if c is None or c[0] != t_ns:
                self.price(markets[sym], t_ns)
                c = px_of[sym]
            i = c[2]
            times, _closes, series = src_of[sym]
            if times[i] <= since_ns:  # the bar was checked before this step: its close
                adverse[sym] = c[1]
            else:  # the adverse extreme: a long at the bar's low, a short at its high (the close without them)
                col = series.columns.get("low" if p.size > 0 else "high")
                adverse[sym] = c[1] if col is None else col[i]
        for bal, mm in self._health(t_ns, pending, adverse).values():
            if is_liquidatable(bal, mm):
                self._liquidate_wallets(stamp, t_ns, pending, out, since_ns)
                return

    def _liquidate_wallets(self, stamp: Any, t_ns: int, pending: dict[str, Decimal],
                           out: list[ExecutionDeltas], since_ns: int) -> None:
        """Liquidate every wallet :meth:`_liquidate_if_needed` describes as liquidatable (the same health)."""
        bars = {sym: self._bar(self.markets[sym], t_ns, since_ns) for sym in self._open}
        adverse = {sym: (bars[sym][1] if p.size > 0 else bars[sym][2]) for sym, p in self._open.items()}
        for key, (balance, mm) in self._health(t_ns, pending, adverse).items():
            if not is_liquidatable(balance, mm):
                continue
            syms = [sym for sym in self._open if self.markets[sym].margin_key == key]
            prices = {sym: adverse[sym] for sym in syms}
            if len(syms) == 1:
                prices[syms[0]] = self._liquidation_price(syms[0], key, t_ns, pending, bars[syms[0]])
            self._liquidate(stamp, key, t_ns, balance, mm, pending, out, prices=prices)

    def _liquidation_price(self, sym: str, key: str, t_ns: int, pending: Mapping[str, Decimal],
                           bar: tuple[Decimal, Decimal, Decimal]) -> Decimal:
        """The mark at which the only position of wallet ``key`` reaches its maintenance margin, at the bar's
        open if the bar opened beyond it, clamped into ``[low, high]``."""
        p = self._open[sym]
        m = self.markets[sym]
        wallet = self.ledger.balance(key) + pending.get(key, ZERO)
        size = abs(p.size)
        open_, low, high = bar
        tier = tier_for(m.tiers, size * (high if p.size < 0 else low))
        if p.size > 0:  # wallet + size x px - cost = size x px x mmr - cum
            px = (p.cost - wallet - tier.cum) / (size * (1 - tier.mmr))
            px = min(px, open_)
        else:  # wallet + cost - size x px = size x px x mmr - cum
            px = (wallet + p.cost + tier.cum) / (size * (1 + tier.mmr))
            px = max(px, open_)
        return min(max(px, low), high)

    def _liquidate(self, stamp: Any, key: str, t_ns: int, balance: Decimal, mm: Decimal,
                   pending: dict[str, Decimal], out: list[ExecutionDeltas], rate: Decimal | None = None,
                   reason: str = "margin balance below maintenance margin",
                   prices: Mapping[str, Decimal] | None = None) -> None:
        """Close every position of margin wallet ``key`` at the mark (or at ``prices`` by symbol), charge the
        liquidation fee (``rate`` of the notional, default ``fees.liquidation``, at most what is left)."""
        wallet = self.ledger.balance(key) + pending.get(key, ZERO)
        positions: dict[str, Decimal] = {}
        realised_total = ZERO
        notional_total = ZERO
        closed: dict[str, Any] = {}
        for sym, p in self.positions.items():
            m = self.markets[sym]
            if m.margin_key != key:
                continue
            mark = prices[sym] if prices is not None and sym in prices else self.price(m, t_ns)
            _s, _c, realised = apply_fill(p.size, p.cost, -p.size, mark)
            realised_total += realised
            notional_total += abs(p.size) * mark
            positions[m.perp_key] = -p.size
            closed[sym] = {"size": p.size, "mark": mark, "entry_price": entry_price(p.size, p.cost),
                           "realised_pnl": realised}
            del self.positions[sym]
            tot = self.totals.get(sym, EMPTY_TOTALS)
            self.totals[sym] = PerpTotals(tot.realised + p.realised + realised, tot.fees + p.fees, tot.funding,
                                          tot.liquidation)
        after = wallet + realised_total
        fee = min(notional_total * (self._liq_rate if rate is None else rate), max(after, ZERO))
        change = realised_total - fee
        shortfall = ZERO
        if wallet + change < 0:
            shortfall = -(wallet + change)
            change = -wallet
        positions[key] = change
        pending[key] = pending.get(key, ZERO) + change
        loss = change - realised_total  # = -fee (+ any shortfall the insurance fund absorbed)
        if fee and closed:
            first = next(iter(closed))
            tot = self.totals[first]
            self.totals[first] = PerpTotals(tot.realised, tot.fees, tot.funding, tot.liquidation - fee)
        cancelled = [o.order_id for o in self.orders.values() if o.perp and o.lock_key == key]
        for oid in cancelled:
            self._remove_order(self.orders[oid])
        out.append(ExecutionDeltas(
            self.venue, "liquidation", stamp, positions, {key: -fee} if fee else {}, "liquidated",
            pnl={"liquidation": loss},
            details={"reason": reason, "margin_balance": balance, "maintenance_margin": mm, "closed": closed,
                     "liquidation_fee": fee, "insurance_fund_shortfall": shortfall,
                     "cancelled_orders": cancelled}))

    # -- queries ------------------------------------------------------------------------------------
    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        if ins.operation == "modify_order":
            o = self.orders.get(ins.order_id)
            if o is None:
                return None
            return (ins.amount or o.amount) * (ins.price or o.price)  # type: ignore[no-any-return]
        return trade_notional(self.markets, ins, lambda m: self.price(m, ts.value))

    def get_balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Balances of the venue's keys plus metrics ``<venue>:metric:<name>:<symbol | asset>``:
        per open position ``entry_price``, ``mark_price``, ``notional``, ``unrealised_pnl``, ``leverage``,
        ``initial_margin``, ``maintenance_margin``; per traded perp ``realised_pnl``, ``funding``,
        ``trading_fees``, ``liquidation_fees`` (cumulative); per margin asset ``margin_balance``,
        ``unrealised_pnl``, ``initial_margin``, ``maintenance_margin``, ``available``, ``margin_ratio``
        (maintenance / margin balance); per held spot asset ``locked``. Options: ``{"include_metrics": False}``."""
        metrics = options is None or not (isinstance(options, Mapping) and not options.get("include_metrics", True))
        ts_ns = ts.value
        key = (self._price_rows(ts_ns), self.ledger.version, metrics)
        cached = self._balances_cache
        if cached is not None and cached[0] == key:
            return dict(cached[1])  # nothing changed since: the same answer (a copy: callers may mutate it)
        out = self._balances_now(ts_ns, metrics)
        self._balances_cache = (key, out)
        return dict(out)

    def _price_rows(self, ts_ns: int) -> Any:
        """What the balances' prices depend on at ``ts_ns``: the as-of row of every open position's mark, or
        ``ts_ns`` itself when a row is a series' last (its staleness depends on the time) or a series is unread."""
        open_positions = self._open
        if not open_positions:
            return ()
        rows = []
        src_of = self._src
        for sym in open_positions:
            src = src_of.get(sym)
            if src is None:
                return ts_ns
            times = src[0]
            i = bisect_right(times, ts_ns) - 1
            if i < 0 or i == len(times) - 1:
                return ts_ns
            rows.append(i)
        return tuple(rows)

    def _metric_keys(self, name: str) -> tuple[str, ...]:
        """The metric keys of one symbol or asset (built once): per position ``entry_price`` .. ``maintenance_rate``,
        per symbol ``realised_pnl`` .. ``liquidation_fees``, per margin asset ``margin_balance`` .. ``margin_ratio``
        (see :meth:`get_balances`)."""
        keys = self._metric_key_cache.get(name)
        if keys is None:
            mk = f"{self.venue}:metric:"
            keys = self._metric_key_cache[name] = tuple(f"{mk}{metric}:{name}" for metric in _METRICS)
        return keys

    def _balances_now(self, ts_ns: int, metrics: bool) -> dict[str, Decimal]:
        v = self.venue
        prefix = f"{v}:"
        out = self.ledger.balances_with(prefix)
        if not metrics:
            return out
        mk = f"{v}:metric:"
        positions = self._open
        metric_keys = self._metric_keys
        for sym, p in positions.items():
            m = self.markets[sym]
            mark = self.price(m, ts_ns)
            notional = abs(p.size) * mark
            tier = tier_for(m.tiers, notional)
            (k_entry, k_mark, k_notional, k_upnl, k_lev, k_im, k_mm, k_rate, *_rest) = metric_keys(sym)
            out[k_entry] = entry_price(p.size, p.cost)
            out[k_mark] = mark
            out[k_notional] = notional
            out[k_upnl] = unrealised_pnl(p.size, p.cost, mark)
            out[k_lev] = p.leverage
            out[k_im] = notional / p.leverage
            out[k_mm] = notional * tier.mmr - tier.cum if notional else ZERO  # maintenance_margin(m.tiers, notional)
            out[k_rate] = tier.mmr
        totals = self.totals.data
        for sym in (set(totals) | set(positions)) if totals or positions else ():
            t = totals.get(sym, EMPTY_TOTALS)
            p = positions.get(sym)
            keys = metric_keys(sym)
            out[keys[8]] = t.realised + (p.realised if p is not None else ZERO)
            out[keys[9]] = t.fees + (p.fees if p is not None else ZERO)
            out[keys[10]] = t.funding
            out[keys[11]] = t.liquidation
        balance_of = self.ledger.balance
        margin_prefix = f"{v}:{self.spec.margin_kind}:"  # (no attribute for it: the instance's dict has 29 keys, and
        # an instance past 30 loses CPython's shared-key dict, making every attribute read of the engine slower)
        for asset in self.spec.margin_assets:
            key = margin_prefix + asset
            if not balance_of(key) and not (positions and any(self.markets[s].margin_key == key for s in positions)):
                continue
            wallet, upnl, im, mm = self._account(key, ts_ns, _EMPTY)
            balance = wallet + upnl
            keys = metric_keys(asset)
            out[keys[12]] = balance
            out[keys[13]] = upnl
            out[keys[14]] = im
            out[keys[15]] = mm
            out[keys[16]] = max(min(wallet, wallet + min(upnl, ZERO) - im), ZERO)  # transferable(key, ts_ns)
            out[keys[17]] = mm / balance if balance > 0 else (Decimal(0) if not mm else Decimal(1))
        for key, held in self._held.items():  # read only: no write below
            if held and not key.startswith(margin_prefix):
                out[f"{mk}locked:{key.rsplit(':', 1)[1]}"] = held
        return out
