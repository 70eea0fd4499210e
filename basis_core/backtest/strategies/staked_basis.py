"""Staked basis: ETH staked via Lido to wstETH, supplied to Aave, hedged with a perp short.

The book earns the staking yield (wstETH's exchange rate grows) plus Aave's supply rate on wstETH
plus perp funding (shorts receive it when positive), and is neutral to the ETH price: the short is
sized to the ETH value of the wstETH held (``amount x rate``) and re-sized when it drifts beyond
``rebalance_band`` (the rate grows, interest accrues). The hedge's collateral is the perp venue's
margin balance given in the scenario's initial balances (on-chain and exchange accounts cannot move
cash to each other in one instruction); when the collateral ratio falls below ``min_margin_ratio`` the
hedge is cut to restore it (de-risk) and the cut is reported. Written only against the public manager API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from basis_core.backtest.strategies.base import Strategy, StrategyParams, log, round_down
from basis_core.backtest.strategies.cash_and_carry import VENUE_DEFAULTS


class StakedBasisParams(StrategyParams):
    """Parameters of ``staked_basis``."""

    eth_amount: Decimal | None = Field(None, gt=0, description="ETH to stake (default: all of ethereum:wallet:ETH)")
    keep_eth: Decimal = Field(Decimal("0.05"), ge=0, description="ETH left in the wallet for gas")
    lido_venue: str = Field("lido", description="staking venue")
    lst: str = Field("wstETH", description="token received from staking (its exchange rate is lst:<token>)")
    aave_venue: str | None = Field("aave", description="lending venue to supply the LST to (null: keep it)")
    hedge_venue: str | None = Field(None, description="perp venue (default: binance, else hyperliquid)")
    hedge_symbol: str | None = Field(None, description="perp symbol (default: the venue's ETH perp)")
    hedge_ratio: Decimal = Field(Decimal(1), ge=0, le=2, description="short size / ETH value of the LST held")
    rebalance_band: Decimal = Field(Decimal("0.02"), gt=0, description="re-size the short beyond this relative drift")
    min_margin_ratio: Decimal = Field(Decimal("0.15"), gt=0, description="cut the hedge below this collateral ratio")
    margin_key: str | None = Field(None, description="ledger key of the hedge collateral (default by venue)")
    size_decimals: int = Field(3, ge=0, le=8, description="perp sizes are rounded down to this many decimals")
    check_every: int = Field(1, ge=1, description="check the rules every N steps")
    max_hedge_failures: int = Field(3, ge=1, description="stop managing after this many failed hedge trades in "
                                                         "a row (the report notes it)")


class StakedBasis(Strategy):
    """ETH -> Lido (wstETH) -> Aave supply, hedged with a perp short."""

    name = "staked_basis"
    Params = StakedBasisParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.lst_held = Decimal(0)
        self.perp_qty = Decimal(0)
        self.entry = Decimal(0)
        self.hedge_venue = ""
        self.hedge_symbol = ""
        self.margin_key = ""
        self.hedge_cuts = 0
        self.hedge_failures = 0
        self.stopped = False
        self._n = 0

    def prepare(self, manager: Any) -> str | None:
        p: StakedBasisParams = self.params
        have = self.installed(manager)
        venue = p.hedge_venue
        if venue is None:
            venue = next((v for v in ("binance", "hyperliquid") if "perp_trade" in have.get(v, set())), None)
            if venue is None:
                return "no perp venue installed for the hedge (binance or hyperliquid)"
        needs: dict[str, set[str]] = {p.lido_venue: {"stake"}, venue: {"perp_trade"}}
        if p.aave_venue:
            needs.setdefault(p.aave_venue, set()).add("supply")
        reason = self.missing_ops(manager, needs)
        if reason:
            return reason
        d = VENUE_DEFAULTS.get(venue, VENUE_DEFAULTS["binance"])
        self.hedge_venue = venue
        self.hedge_symbol = p.hedge_symbol or d["perp_symbol"]
        settle = self.hedge_symbol.rsplit(":", 1)[-1]
        self.margin_key = p.margin_key or f"{venue}:{d['margin_kind']}:{settle}"
        return None

    def _rate(self, manager: Any, ts: Any) -> Decimal:
        return manager.data_provider.get_data(ts).get(f"lst:{self.params.lst}", "rate")  # type: ignore[no-any-return]

    def _mark(self, manager: Any, ts: Any) -> Decimal:
        return manager.data_provider.get_data(ts).get(  # type: ignore[no-any-return]
            f"perp:{self.hedge_venue}:{self.hedge_symbol}")

    def start(self, manager: Any, ts: Any) -> None:
        p: StakedBasisParams = self.params
        amount = p.eth_amount
        if amount is None:
            wallet = manager.get_balances(ts, p.lido_venue).get("ethereum:wallet:ETH", Decimal(0))
            amount = wallet - p.keep_eth
        if amount <= 0:
            return
        # hedge first: if the short cannot be opened, nothing is staked (no unhedged ETH left behind)
        if p.hedge_ratio > 0 and self._perp(manager, ts, -amount * p.hedge_ratio) is None:
            self._stop(ts, "the hedge could not be opened; nothing staked")
            return
        d = self.try_execute(manager, ts, {"venue": p.lido_venue, "operation": "stake", "asset": "ETH",
                                           "amount": str(amount), "receive": p.lst})
        if d is None:
            self._perp(manager, ts, -self.perp_qty)
            self._stop(ts, "staking failed; the hedge was closed")
            return
        got = round_down(sum((v for k, v in d.positions.items() if k.endswith(f":{p.lst}") and v > 0), Decimal(0)), 18)
        self.lst_held = got
        if p.aave_venue and got > 0:
            s = self.try_execute(manager, ts, {"venue": p.aave_venue, "operation": "supply", "asset": p.lst,
                                               "amount": str(got)})
            if s is None:
                self.notes.append(f"supplying {p.lst} to {p.aave_venue} failed at {ts.isoformat()}; it stays in "
                                  "the wallet (hedged)")
        self._hedge(manager, ts)

    def _stop(self, ts: Any, why: str) -> None:
        self.stopped = True
        note = f"stopped at {ts.isoformat()}: {why}"
        self.notes.append(note)
        log.warning("%s: %s", self.name, note)

    def _lst_eth_value(self, manager: Any, ts: Any) -> Decimal:
        p: StakedBasisParams = self.params
        held = self.lst_held
        if p.aave_venue:
            held = manager.get_balances(ts, p.aave_venue).get(f"{p.aave_venue}:supplied:{p.lst}", held)
        return held * self._rate(manager, ts)  # type: ignore[no-any-return]

    def _perp(self, manager: Any, ts: Any, signed: Decimal) -> Any:
        """Trade ``signed`` base units of the hedge perp; the deltas, or None."""
        amount = round_down(abs(signed), self.params.size_decimals)
        if amount <= 0:
            return None
        d = self.try_execute(manager, ts, {"venue": self.hedge_venue, "operation": "perp_trade",
                                           "symbol": self.hedge_symbol, "side": "buy" if signed > 0 else "sell",
                                           "amount": str(amount)})
        if d is None:
            self.hedge_failures += 1
            if self.hedge_failures >= self.params.max_hedge_failures and not self.stopped:
                self._stop(ts, f"{self.hedge_failures} hedge trades in a row failed; positions left as they are")
            return None
        self.hedge_failures = 0
        filled = d.positions.get(f"{self.hedge_venue}:perp:{self.hedge_symbol}", Decimal(0))
        price = d.fill_price or self._mark(manager, ts)
        new = self.perp_qty + filled
        if new != 0 and (self.perp_qty == 0 or (self.perp_qty < 0) == (filled < 0)):
            self.entry = (self.entry * abs(self.perp_qty) + price * abs(filled)) / abs(new)
        self.perp_qty = new
        return d

    def _hedge(self, manager: Any, ts: Any) -> None:
        target = -self._lst_eth_value(manager, ts) * self.params.hedge_ratio
        self._perp(manager, ts, target - self.perp_qty)

    def step(self, manager: Any, ts: Any) -> None:
        p: StakedBasisParams = self.params
        self._n += 1
        if (self._n - 1) % p.check_every or self.lst_held <= 0 or self.stopped:
            return
        mark = self._mark(manager, ts)
        if self.perp_qty < 0:
            bal = manager.get_balances(ts, self.hedge_venue)
            upnl = bal.get(f"{self.hedge_venue}:metric:unrealised_pnl:{self.hedge_symbol}")
            if upnl is None:
                upnl = self.perp_qty * (mark - self.entry)
            equity = bal.get(self.margin_key, Decimal(0)) + upnl
            notional = -self.perp_qty * mark
            if equity / notional < p.min_margin_ratio:
                # de-risk: cut the short so that equity / notional is back at twice the minimum
                keep = max(equity / (2 * p.min_margin_ratio) / mark, Decimal(0))
                self.hedge_cuts += 1
                self.notes.append(f"hedge cut to {keep:.3f} at {ts.isoformat()}: collateral ratio "
                                  f"{equity / notional:.3f} below {p.min_margin_ratio}")
                self._perp(manager, ts, -self.perp_qty - keep)
                return
        target = -self._lst_eth_value(manager, ts) * p.hedge_ratio
        if target != 0 and abs(self.perp_qty - target) > p.rebalance_band * abs(target):
            self._perp(manager, ts, target - self.perp_qty)


__all__ = ["StakedBasis", "StakedBasisParams"]
