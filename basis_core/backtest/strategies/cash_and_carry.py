"""Cash-and-carry basis: long spot, short the perpetual, rebalanced to stay delta-neutral.

Per leg: part of the capital is posted as perp collateral (moved from the spot account to the perp
margin account with a ``transfer`` when both legs are on one venue), the rest buys spot; the perp is
shorted for exactly the spot amount received. Each check the strategy
- re-hedges when ``|spot + perp|`` drifts beyond ``delta_band`` of the spot size,
- keeps the collateral near its target ratio (collateral equity / short notional): when the short has
  lost and the ratio falls below ``target x margin_low``, it sells spot, moves the cash to the margin
  account and buys back the same amount of perp; above ``target x margin_high`` it does the reverse.
  Legs across two venues cannot move cash, so a low ratio there shrinks both legs instead (de-risk).
Funding (shorts receive it when positive) accrues on the perp venue; fees and slippage come from the
venues' own models. What a margin wallet held before the strategy started is not its collateral (live: the
account's other funds), so a leg deploys its capital alike in backtest, paper and live. Written only against
the public manager API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

from basis_core.backtest.strategies.base import Leg, Strategy, StrategyParams, log, round_down, round_to

#: per perp venue: the spot market used by default, and the account names of the transfer
VENUE_DEFAULTS: dict[str, dict[str, str]] = {
    "binance": {"spot_symbol": "ETH/USDT", "perp_symbol": "ETH/USDT:USDT", "spot_account": "spot",
                "margin_account": "futures", "margin_kind": "futures"},
    "hyperliquid": {"spot_symbol": "ETH/USDC", "perp_symbol": "ETH/USDC:USDC", "spot_account": "spot",
                    "margin_account": "perp", "margin_kind": "perp-margin"},
}


class CarryLeg(StrategyParams):
    """One spot / perp pair."""

    spot_venue: str = Field("binance", description="venue of the long spot leg")
    spot_symbol: str | None = Field(None, description="spot market (default: the perp venue's ETH market)")
    perp_venue: str = Field("binance", description="venue of the short perp leg")
    perp_symbol: str | None = Field(None, description="linear perp (default ETH/USDT:USDT or ETH/USDC:USDC)")
    capital: Decimal | None = Field(None, gt=0, description="quote units to deploy (default: the strategy's capital)")
    margin_account: str | None = Field(None, description="perp margin account name of the venue's transfer")
    margin_key: str | None = Field(None, description="ledger key of the perp collateral (default by venue)")


class CashAndCarryParams(StrategyParams):
    """Parameters of ``cash_and_carry`` (amounts in the quote asset, USDT / USDC)."""

    legs: list[CarryLeg] = Field(
        default_factory=list,
        description="spot / perp pairs; empty = one same-venue leg per installed perp venue (binance, hyperliquid)")
    capital: Decimal = Field(Decimal(50_000), gt=0, description="quote units deployed per leg (spot + collateral)")
    margin_fraction: Decimal = Field(Decimal("0.3"), gt=0, lt=1,
                                     description="share of a leg's capital posted as perp collateral")
    delta_band: Decimal = Field(Decimal("0.01"), gt=0,
                                description="re-hedge when abs(spot + perp) exceeds this fraction of the spot size")
    margin_low: Decimal = Field(Decimal("0.6"), gt=0, lt=1,
                                description="top up collateral below this multiple of the target ratio")
    margin_high: Decimal = Field(Decimal("1.6"), gt=1,
                                 description="release collateral above this multiple of the target ratio")
    check_every: int = Field(1, ge=1, description="check the rebalancing rules every N steps")
    size_decimals: int = Field(3, ge=0, le=8, description="order sizes are rounded down to this many decimals, or to "
                               "the venues' amount step (venue_info rules) where that is coarser")
    fee_buffer: Decimal = Field(Decimal("0.002"), ge=0, lt=1,
                                description="cash kept aside for fees and slippage when buying spot (on top of "
                                            "what the venue holds for a market buy: its rules' market_buy_hold)")
    min_trade_usd: Decimal = Field(Decimal(25), ge=0,
                                   description="skip orders below this notional (venues' minimum order values)")
    max_hedge_failures: int = Field(3, ge=1, description="stop managing a leg after this many failed re-hedges "
                                                         "in a row (the report notes it)")
    min_rebalance: Decimal = Field(Decimal("0.01"), ge=0, lt=1,
                                   description="move collateral only in chunks of at least this share of capital")

    @model_validator(mode="after")
    def _check(self) -> CashAndCarryParams:
        for leg in self.legs:
            for v in (leg.spot_venue, leg.perp_venue):
                if not v:
                    raise ValueError("legs: venue names must not be empty")
        return self


class _Leg:
    """Runtime state of one leg (what this strategy holds: the venues may hold more)."""

    def __init__(self, spec: CarryLeg, capital: Decimal) -> None:
        d = VENUE_DEFAULTS.get(spec.perp_venue, VENUE_DEFAULTS["binance"])
        self.spot_venue = spec.spot_venue
        self.perp_venue = spec.perp_venue
        self.spot_symbol = spec.spot_symbol or d["spot_symbol"]
        self.perp_symbol = spec.perp_symbol or d["perp_symbol"]
        self.base, self.quote = self.spot_symbol.split("/")
        self.settle = self.perp_symbol.rsplit(":", 1)[-1]
        self.capital = spec.capital or capital
        self.same_venue = spec.spot_venue == spec.perp_venue
        #: order-size unit of both legs (set by prepare from the venues' rules)
        self.unit = Decimal("0.001")
        #: what the spot venue holds beyond the price for a market buy (its rules' ``market_buy_hold``)
        self.buy_hold = Decimal(0)
        #: what the margin wallet held at start that is not this leg's collateral (live: the account's other funds)
        self.margin_base = Decimal(0)
        #: the account already held a position in the perp at start: the venue's unrealised PnL is not this leg's
        self.shared_perp = False
        self.spot_account = d["spot_account"]
        self.margin_account = spec.margin_account or d["margin_account"]
        self.margin_key = spec.margin_key or f"{spec.perp_venue}:{d['margin_kind']}:{self.settle}"
        self.spot_key = f"{spec.spot_venue}:spot:{self.base}"
        self.perp_key = f"{spec.perp_venue}:perp:{self.perp_symbol}"
        self.spot_qty = Decimal(0)      # base units this leg holds
        self.perp_qty = Decimal(0)      # signed base units (short < 0)
        self.entry = Decimal(0)         # average entry of the short (own bookkeeping)
        self.target_ratio = Decimal(0)
        self.disabled = False
        self.hedge_failures = 0

    def on_perp_fill(self, signed: Decimal, price: Decimal) -> None:
        new = self.perp_qty + signed
        if self.perp_qty == 0 or (self.perp_qty < 0) == (signed < 0):
            total = abs(self.perp_qty) + abs(signed)
            self.entry = (self.entry * abs(self.perp_qty) + price * abs(signed)) / total if total else price
        elif new != 0 and (new < 0) != (self.perp_qty < 0):
            self.entry = price
        self.perp_qty = new


class CashAndCarry(Strategy):
    """Long spot / short perp basis trade, delta-neutral, collateral kept near its target ratio."""

    name = "cash_and_carry"
    Params = CashAndCarryParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.legs: list[_Leg] = []
        self._n = 0

    def prepare(self, manager: Any) -> str | None:
        p: CashAndCarryParams = self.params
        specs = list(p.legs)
        if not specs:
            have = self.installed(manager)
            for venue in ("binance", "hyperliquid"):
                if venue in have and {"spot_trade", "perp_trade"} <= have[venue]:
                    specs.append(CarryLeg.model_validate({"spot_venue": venue, "perp_venue": venue}))
            if not specs:
                return "no installed venue offers both spot_trade and perp_trade (binance, hyperliquid)"
        for spec in specs:
            needs: dict[str, set[str]] = {spec.spot_venue: {"spot_trade"}}
            needs.setdefault(spec.perp_venue, set()).add("perp_trade")
            if spec.spot_venue == spec.perp_venue:
                needs[spec.perp_venue].add("transfer")
            reason = self.missing_ops(manager, needs)
            if reason:
                return reason
        self.legs = [_Leg(s, p.capital) for s in specs]
        for leg in self.legs:  # the venues' amount steps (venue_info rules), never finer than size_decimals
            leg.unit = self.size_unit(manager, p.size_decimals, (leg.spot_venue, leg.spot_symbol),
                                      (leg.perp_venue, leg.perp_symbol))
            rules = self.rules(manager, leg.spot_venue, leg.spot_symbol)
            leg.buy_hold = rules.market_buy_hold if rules is not None else Decimal(0)
        return None

    def _buy_size(self, leg: _Leg, cash: Decimal, px: Decimal) -> Decimal:
        """The spot amount ``cash`` buys at ``px``: what the venue holds for the order (``buy_hold``) and the
        ``fee_buffer`` fit in it, so the same buy is accepted in backtest, paper and live."""
        return round_to(cash / (px * (1 + self.params.fee_buffer + leg.buy_hold)), leg.unit)

    def required_legs(self, manager: Any) -> list[Leg]:
        """Per pair: the spot leg (spot_trade, the spot price, the quote cash it buys with) and the perp leg
        (perp_trade and, on one venue, transfer; the mark; across venues the collateral already posted)."""
        p: CashAndCarryParams = self.params
        out: list[Leg] = []
        for leg in self.legs:
            margin = leg.capital * p.margin_fraction
            spot_cash = leg.capital if leg.same_venue else leg.capital - margin
            out.append(Leg(leg.spot_venue, ("spot_trade",), leg.spot_symbol, (f"spot:{leg.spot_symbol}",),
                           {f"{leg.spot_venue}:spot:{leg.quote}": spot_cash}))
            ops = ("perp_trade", "transfer") if leg.same_venue else ("perp_trade",)
            out.append(Leg(leg.perp_venue, ops, leg.perp_symbol, (f"perp:{leg.perp_venue}:{leg.perp_symbol}",),
                           {} if leg.same_venue else {leg.margin_key: margin}))
        return out

    # -- market data (as of ts: no look-ahead) ---------------------------------------------------------
    def _spot(self, manager: Any, ts: Any, symbol: str) -> Decimal:
        return self.market(manager, ts).get(f"spot:{symbol}")  # type: ignore[no-any-return]

    def _mark(self, manager: Any, ts: Any, venue: str, symbol: str) -> Decimal:
        return self.market(manager, ts).get(f"perp:{venue}:{symbol}")  # type: ignore[no-any-return]

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self, manager: Any, ts: Any) -> None:
        p: CashAndCarryParams = self.params
        # every price first: missing market data raises here, before anything is sent
        prices = [(self._spot(manager, ts, leg.spot_symbol), self._mark(manager, ts, leg.perp_venue, leg.perp_symbol))
                  for leg in self.legs]
        for leg, (px, _) in zip(self.legs, prices, strict=True):
            margin = leg.capital * p.margin_fraction
            spot_cash = leg.capital - margin
            leg.target_ratio = margin / spot_cash
            # what the wallet holds beyond the collateral (read after the transfer: a replayed start, after a
            # crash, finds the collateral already moved and the transfer adopted)
            moved = self._transfer(manager, ts, leg, margin, to_margin=True) if leg.same_venue else None
            if leg.same_venue and moved is None:
                continue
            wallet = manager.get_balances(ts, leg.perp_venue).get(leg.margin_key, Decimal(0))
            posted = moved.positions.get(leg.margin_key, Decimal(0)) if moved is not None else margin
            leg.margin_base = max(wallet - posted, Decimal(0))
            qty = self._buy_size(leg, spot_cash, px)
            if qty > 0 and self._buy_spot(manager, ts, leg, qty) is not None:
                if self._hedge(manager, ts, leg) is None and leg.perp_qty == 0:
                    # the short cannot be opened: do not keep an unhedged long; unwind the leg and give it up
                    self._sell_spot(manager, ts, leg, leg.spot_qty)
                    if leg.same_venue:
                        free = manager.get_balances(ts, leg.perp_venue).get(leg.margin_key, Decimal(0))
                        self._transfer(manager, ts, leg, free - leg.margin_base, to_margin=False)
                    self._give_up(leg, ts, "the perp short could not be opened")
                    if leg.spot_qty * px >= p.min_trade_usd:
                        self.report_unhedged(ts, f"{leg.spot_qty} {leg.base} long on {leg.spot_venue} without its "
                                                 f"{leg.perp_venue} short (the unwind sale failed)")
            # a position in the perp beyond this leg's is the account's: its unrealised PnL is not the leg's
            held = manager.get_balances(ts, leg.perp_venue).get(leg.perp_key, Decimal(0))
            leg.shared_perp = held != leg.perp_qty

    def _give_up(self, leg: _Leg, ts: Any, why: str) -> None:
        leg.disabled = True
        note = (f"leg {leg.spot_venue} {leg.spot_symbol} / {leg.perp_venue} {leg.perp_symbol} stopped at "
                f"{ts.isoformat()}: {why}")
        self.notes.append(note)
        log.warning("%s: %s", self.name, note)

    def step(self, manager: Any, ts: Any) -> None:
        p: CashAndCarryParams = self.params
        self._n += 1
        if (self._n - 1) % p.check_every:
            return
        for leg in self.legs:
            if leg.spot_qty <= 0 or leg.disabled:
                continue
            self._rebalance_margin(manager, ts, leg)
            drift = leg.spot_qty + leg.perp_qty
            if abs(drift) > p.delta_band * leg.spot_qty:
                if self._hedge(manager, ts, leg) is None:
                    leg.hedge_failures += 1
                    if leg.hedge_failures >= p.max_hedge_failures:
                        self._give_up(leg, ts, f"{leg.hedge_failures} re-hedges in a row failed; "
                                               "positions left as they are")
                        self.report_unhedged(ts, f"{leg.spot_venue} {leg.spot_symbol} / {leg.perp_venue} "
                                                 f"{leg.perp_symbol}: spot {leg.spot_qty}, perp {leg.perp_qty}")
                else:
                    leg.hedge_failures = 0

    # -- actions ---------------------------------------------------------------------------------------
    def _transfer(self, manager: Any, ts: Any, leg: _Leg, amount: Decimal, *, to_margin: bool) -> Any:
        amount = round_down(amount, 6)
        if amount <= 0:
            return None
        src, dst = (leg.spot_account, leg.margin_account) if to_margin else (leg.margin_account, leg.spot_account)
        return self.try_execute(manager, ts, {
            "venue": leg.perp_venue, "operation": "transfer", "asset": leg.settle, "amount": str(amount),
            "from_account": src, "to_account": dst})

    def _small(self, manager: Any, ts: Any, leg: _Leg, qty: Decimal) -> bool:
        return qty <= 0 or qty * self._spot(manager, ts, leg.spot_symbol) < self.params.min_trade_usd

    def _buy_spot(self, manager: Any, ts: Any, leg: _Leg, qty: Decimal) -> Any:
        if self._small(manager, ts, leg, qty):
            return None
        d = self.try_execute(manager, ts, {"venue": leg.spot_venue, "operation": "spot_trade",
                                           "symbol": leg.spot_symbol, "side": "buy", "amount": str(qty)})
        if d is not None:
            leg.spot_qty += d.positions.get(leg.spot_key, Decimal(0))
        return d

    def _sell_spot(self, manager: Any, ts: Any, leg: _Leg, qty: Decimal) -> Any:
        qty = min(qty, round_to(leg.spot_qty, leg.unit))
        if self._small(manager, ts, leg, qty):
            return None
        d = self.try_execute(manager, ts, {"venue": leg.spot_venue, "operation": "spot_trade",
                                           "symbol": leg.spot_symbol, "side": "sell", "amount": str(qty)})
        if d is not None:
            leg.spot_qty += d.positions.get(leg.spot_key, Decimal(0))
        return d

    def _perp(self, manager: Any, ts: Any, leg: _Leg, signed: Decimal, reduce_only: bool = False) -> Any:
        amount = round_to(abs(signed), leg.unit)
        if amount <= 0 or amount * self._mark(manager, ts, leg.perp_venue, leg.perp_symbol) < self.params.min_trade_usd:
            return None
        instr: dict[str, Any] = {"venue": leg.perp_venue, "operation": "perp_trade", "symbol": leg.perp_symbol,
                                 "side": "buy" if signed > 0 else "sell", "amount": str(amount)}
        if reduce_only:
            instr["reduce_only"] = True
        d = self.try_execute(manager, ts, instr)
        if d is not None:
            filled = d.positions.get(leg.perp_key, Decimal(0))
            price = d.fill_price if d.fill_price is not None else self._mark(manager, ts, leg.perp_venue,
                                                                             leg.perp_symbol)
            leg.on_perp_fill(filled, price)
        return d

    def _hedge(self, manager: Any, ts: Any, leg: _Leg) -> Any:
        """Trade the perp so that it offsets the spot held; the deltas, or None (failed / nothing to do)."""
        gap = -(leg.spot_qty + leg.perp_qty)
        if gap == 0:
            return None
        return self._perp(manager, ts, leg, gap, reduce_only=gap > 0 and leg.perp_qty < 0 and -gap >= leg.perp_qty)

    def _margin_equity(self, bal: dict[str, Decimal], leg: _Leg, mark: Decimal) -> Decimal:
        wallet = bal.get(leg.margin_key, Decimal(0)) - leg.margin_base  # this leg's collateral only
        upnl = None if leg.shared_perp else bal.get(f"{leg.perp_venue}:metric:unrealised_pnl:{leg.perp_symbol}")
        if upnl is None:
            upnl = leg.perp_qty * (mark - leg.entry)
        return wallet + upnl  # type: ignore[no-any-return]

    def _rebalance_margin(self, manager: Any, ts: Any, leg: _Leg) -> None:
        p: CashAndCarryParams = self.params
        if leg.perp_qty >= 0:
            return
        mark = self._mark(manager, ts, leg.perp_venue, leg.perp_symbol)
        notional = -leg.perp_qty * mark
        bal = manager.get_balances(ts, leg.perp_venue)
        equity = self._margin_equity(bal, leg, mark)
        ratio = equity / notional
        t = leg.target_ratio
        if ratio < t * p.margin_low:
            px = self._spot(manager, ts, leg.spot_symbol)
            if leg.same_venue:
                # sell x spot, move the cash to the margin account, buy back x perp: (E + xp)/(N - xp) = t
                value = (t * notional - equity) / (1 + t)
            else:
                # de-risk: shrink both legs so that E / (N - xp) = t
                value = notional - equity / t
            if value < p.min_rebalance * leg.capital:
                return
            qty = round_to(value / px, leg.unit)
            d = self._sell_spot(manager, ts, leg, qty)
            if d is None:
                return
            if leg.same_venue:
                proceeds = d.positions.get(f"{leg.spot_venue}:spot:{leg.quote}", Decimal(0))
                self._transfer(manager, ts, leg, proceeds, to_margin=True)
            self._hedge(manager, ts, leg)
        elif ratio > t * p.margin_high and leg.same_venue:
            value = (equity - t * notional) / (1 + t)
            free = bal.get(f"{leg.perp_venue}:metric:available:{leg.settle}")
            if free is None:  # a venue without the metric: leave the initial margin of the short in place
                free = bal.get(leg.margin_key, Decimal(0)) - notional * t / 2
            value = min(value, free * Decimal("0.99"))
            if value < max(p.min_rebalance * leg.capital, p.min_trade_usd):
                return
            if self._transfer(manager, ts, leg, value, to_margin=False) is None:
                return
            px = self._spot(manager, ts, leg.spot_symbol)
            qty = self._buy_size(leg, value, px)
            if qty > 0:
                self._buy_spot(manager, ts, leg, qty)
                self._hedge(manager, ts, leg)


__all__ = ["CarryLeg", "CashAndCarry", "CashAndCarryParams"]
