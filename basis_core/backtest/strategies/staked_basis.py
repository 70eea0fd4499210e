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

from basis_core.backtest.strategies.base import Leg, LendingBook, Strategy, StrategyParams, log, round_down
from basis_core.backtest.strategies.hedge import PerpHedge, pick_perp_venue


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
        self.hedge: PerpHedge | None = None
        self.book: LendingBook | None = None
        self.stopped = False
        self._n = 0

    def prepare(self, manager: Any) -> str | None:
        p: StakedBasisParams = self.params
        venue = pick_perp_venue(self, manager, p.hedge_venue)
        if venue is None:
            return "no perp venue installed for the hedge (binance or hyperliquid)"
        needs: dict[str, set[str]] = {p.lido_venue: {"stake"}, venue: {"perp_trade"}}
        if p.aave_venue:
            needs.setdefault(p.aave_venue, set()).add("supply")
        reason = self.missing_ops(manager, needs)
        if reason:
            return reason
        self.hedge = PerpHedge(self, venue, p.hedge_symbol, p.margin_key, p.size_decimals, p.max_hedge_failures)
        self.book = LendingBook(p.aave_venue) if p.aave_venue else None
        return None

    def required_legs(self, manager: Any) -> list[Leg]:
        """The stake (ETH in the wallet, the LST rate), the Aave supply (the reserve's indices) and the hedge."""
        p: StakedBasisParams = self.params
        hedge = self.hedge
        assert hedge is not None
        eth = {"ethereum:wallet:ETH": p.eth_amount + p.keep_eth} if p.eth_amount is not None else {}
        out = [Leg(p.lido_venue, ("stake",), None, (f"lst:{p.lst}.rate",), eth)]
        if p.aave_venue:
            out.append(Leg(p.aave_venue, ("supply",), None, (f"aave:{p.lst}.liquidity_index",)))
        out.append(Leg(hedge.venue, ("perp_trade",), hedge.symbol, (f"perp:{hedge.venue}:{hedge.symbol}",)))
        return out

    @property
    def perp_qty(self) -> Decimal:
        return self.hedge.qty if self.hedge is not None else Decimal(0)

    def _rate(self, manager: Any, ts: Any) -> Decimal:
        return self.market(manager, ts).get(f"lst:{self.params.lst}", "rate")  # type: ignore[no-any-return]

    def _stop(self, ts: Any, why: str) -> None:
        self.stopped = True
        note = f"stopped at {ts.isoformat()}: {why}"
        self.notes.append(note)
        log.warning("%s: %s", self.name, note)

    def start(self, manager: Any, ts: Any) -> None:
        p: StakedBasisParams = self.params
        hedge = self.hedge
        assert hedge is not None
        amount = p.eth_amount
        if amount is None:
            wallet = manager.get_balances(ts, p.lido_venue).get("ethereum:wallet:ETH", Decimal(0))
            amount = wallet - p.keep_eth
        if amount <= 0:
            return
        # hedge first: if the short cannot be opened, nothing is staked (no unhedged ETH left behind)
        if p.hedge_ratio > 0 and hedge.trade(manager, ts, -amount * p.hedge_ratio) is None:
            self._stop(ts, "the hedge could not be opened; nothing staked")
            return
        d = self.try_execute(manager, ts, {"venue": p.lido_venue, "operation": "stake", "asset": "ETH",
                                           "amount": str(amount), "receive": p.lst})
        if d is None:
            hedge.trade(manager, ts, -hedge.qty)
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
            elif self.book is not None:
                self.book.record(manager, ts, s.positions)
        hedge.resize(manager, ts, self._target(manager, ts), Decimal(0))

    def _lst_eth_value(self, manager: Any, ts: Any) -> Decimal:
        p: StakedBasisParams = self.params
        held = self.lst_held
        if self.book is not None and self.book.scaled:
            # our own supply with its interest (the Aave account may be shared with other strategies)
            held = self.book.amount(manager, ts, "supplied", p.lst)
        return held * self._rate(manager, ts)  # type: ignore[no-any-return]

    def _target(self, manager: Any, ts: Any) -> Decimal:
        return -self._lst_eth_value(manager, ts) * self.params.hedge_ratio  # type: ignore[no-any-return]

    def step(self, manager: Any, ts: Any) -> None:
        p: StakedBasisParams = self.params
        self._n += 1
        hedge = self.hedge
        if (self._n - 1) % p.check_every or self.lst_held <= 0 or self.stopped or hedge is None:
            return
        why = hedge.manage(manager, ts, lambda: self._target(manager, ts), p.min_margin_ratio, p.rebalance_band)
        if why is not None:
            self._stop(ts, why)


__all__ = ["StakedBasis", "StakedBasisParams"]
