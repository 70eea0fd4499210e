"""Restaked basis: ETH restaked via EtherFi to weETH, posted as collateral on a lending venue (Aave, or Morpho Blue
when installed and chosen), WETH borrowed against it and restaked again, the net ETH exposure hedged with a perp.

The book earns the restaking yield of the weETH held (its exchange rate grows), minus the WETH borrow rate on the
debt, plus perp funding (shorts receive it when positive), and is neutral to the ETH price: the short is sized to
the net ETH value of the book (weETH collateral x rate - WETH debt) and re-sized when it drifts beyond
``rebalance_band``. The hedge's collateral is the perp venue's margin balance from the scenario's initial balances.
When the lending position's health factor falls below ``min_health_factor`` the strategy stops adding risk and
says so (unwinding would need a swap or the withdrawal queue). Written only against the public manager API: the
venues are parameters, and Aave's and Morpho's instructions differ only in Morpho's ``market``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from basis_core.backtest.strategies.base import Strategy, StrategyParams, log, round_down
from basis_core.backtest.strategies.hedge import PerpHedge, pick_perp_venue


class RestakedBasisParams(StrategyParams):
    """Parameters of ``restaked_basis``."""

    eth_amount: Decimal | None = Field(None, gt=0, description="ETH to restake (default: all of ethereum:wallet:ETH)")
    keep_eth: Decimal = Field(Decimal("0.05"), ge=0, description="ETH left in the wallet for gas")
    staking_venue: str = Field("etherfi", description="restaking venue (stakes ETH / WETH for the LST)")
    lst: str = Field("weETH", description="token received from restaking (its exchange rate is lst:<token>)")
    lending_venue: Literal["aave", "morpho"] = Field("aave", description="where the LST is collateral: aave or "
                                                                         "morpho (Morpho Blue, when installed)")
    morpho_market: str = Field("weETH/WETH-94.5", description="Morpho Blue market (alias) of the collateral")
    e_mode_category: int | None = Field(1, ge=0, le=255, description="Aave e-mode (1 = ETH-correlated)")
    borrow_asset: str = Field("WETH", description="asset borrowed against the LST")
    target_ltv: Decimal = Field(Decimal("0.5"), ge=0, lt=1, description="debt value / collateral value to borrow "
                                                                         "up to (0: no borrowing)")
    restake_borrowed: bool = Field(True, description="restake the borrowed WETH into more collateral (one loop)")
    min_health_factor: Decimal = Field(Decimal("1.15"), gt=1, description="below this, add no more risk (noted)")
    hedge_venue: str | None = Field(None, description="perp venue (default: binance, else hyperliquid)")
    hedge_symbol: str | None = Field(None, description="perp symbol (default: the venue's ETH perp)")
    hedge_ratio: Decimal = Field(Decimal(1), ge=0, le=2, description="short size / net ETH value of the book")
    rebalance_band: Decimal = Field(Decimal("0.02"), gt=0, description="re-size the short beyond this relative drift")
    min_margin_ratio: Decimal = Field(Decimal("0.15"), gt=0, description="cut the hedge below this collateral ratio")
    margin_key: str | None = Field(None, description="ledger key of the hedge collateral (default by venue)")
    size_decimals: int = Field(3, ge=0, le=8, description="perp sizes are rounded down to this many decimals")
    amount_decimals: int = Field(6, ge=0, le=18, description="on-chain amounts are rounded down to this many decimals")
    check_every: int = Field(1, ge=1, description="check the rules every N steps")
    max_hedge_failures: int = Field(3, ge=1, description="stop managing after this many failed hedge trades in a row")


class RestakedBasis(Strategy):
    """ETH -> weETH -> collateral (Aave / Morpho) -> borrow WETH -> restake -> perp hedge."""

    name = "restaked_basis"
    Params = RestakedBasisParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.hedge: PerpHedge | None = None
        self.started = False
        self.stopped = False
        self.risk_capped = False
        self._n = 0

    # -- set-up ------------------------------------------------------------------------------------------
    def prepare(self, manager: Any) -> str | None:
        p: RestakedBasisParams = self.params
        venue = pick_perp_venue(self, manager, p.hedge_venue)
        if venue is None:
            return "no perp venue installed for the hedge (binance or hyperliquid)"
        needs: dict[str, set[str]] = {p.staking_venue: {"stake"}, p.lending_venue: {"supply"}, venue: {"perp_trade"}}
        if p.target_ltv > 0:
            needs[p.lending_venue].add("borrow")
        reason = self.missing_ops(manager, needs)
        if reason:
            return reason
        self.hedge = PerpHedge(self, venue, p.hedge_symbol, p.margin_key, p.size_decimals, p.max_hedge_failures)
        return None

    def _lending(self, instruction: dict[str, Any]) -> dict[str, Any]:
        p: RestakedBasisParams = self.params
        out = {"venue": p.lending_venue, **instruction}
        if p.lending_venue == "morpho":
            out["market"] = p.morpho_market
        elif p.e_mode_category is not None:
            out["e_mode_category"] = p.e_mode_category
        return out

    def _stop(self, ts: Any, why: str) -> None:
        self.stopped = True
        self.notes.append(f"stopped at {ts.isoformat()}: {why}")
        log.warning("%s: %s", self.name, self.notes[-1])

    # -- the book ----------------------------------------------------------------------------------------
    def _rate(self, manager: Any, ts: Any) -> Decimal:
        return manager.data_provider.get_data(ts).get(f"lst:{self.params.lst}", "rate")  # type: ignore[no-any-return]

    def book(self, manager: Any, ts: Any) -> tuple[Decimal, Decimal, Decimal | None]:
        """(LST collateral, debt in the borrow asset, health factor or None) of the lending account."""
        p: RestakedBasisParams = self.params
        bal = manager.get_balances(ts, p.lending_venue)
        kind = "collateral" if p.lending_venue == "morpho" else "supplied"
        coll = bal.get(f"{p.lending_venue}:{kind}:{p.lst}", Decimal(0))
        debt = bal.get(f"{p.lending_venue}:debt:{p.borrow_asset}", Decimal(0))
        hf = bal.get(f"{p.lending_venue}:metric:health_factor")
        return coll, debt, hf

    def net_eth(self, manager: Any, ts: Any) -> Decimal:
        """ETH value of the book: LST collateral x rate - debt (+ LST still in the wallet)."""
        coll, debt, _ = self.book(manager, ts)
        wallet = manager.get_balances(ts, self.params.staking_venue).get(f"ethereum:wallet:{self.params.lst}",
                                                                         Decimal(0))
        return (coll + wallet) * self._rate(manager, ts) - debt  # type: ignore[no-any-return]

    def _target(self, manager: Any, ts: Any) -> Decimal:
        return -self.net_eth(manager, ts) * self.params.hedge_ratio  # type: ignore[no-any-return]

    def _restake_and_post(self, manager: Any, ts: Any, asset: str, amount: Decimal) -> Decimal | None:
        """Stake ``amount`` of ETH / WETH for the LST and post it as collateral; the LST posted, or None."""
        p: RestakedBasisParams = self.params
        d = self.try_execute(manager, ts, {"venue": p.staking_venue, "operation": "stake", "asset": asset,
                                           "amount": str(amount), "receive": p.lst})
        if d is None:
            return None
        got = round_down(sum((v for k, v in d.positions.items() if k == f"ethereum:wallet:{p.lst}"), Decimal(0)),
                         18)
        if got <= 0:
            return None
        if self.try_execute(manager, ts, self._lending({"operation": "supply", "asset": p.lst,
                                                        "amount": str(got)})) is None:
            self.notes.append(f"posting {got} {p.lst} on {p.lending_venue} failed at {ts.isoformat()}; it stays in "
                              "the wallet (hedged)")
        return got

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self, manager: Any, ts: Any) -> None:
        p: RestakedBasisParams = self.params
        hedge = self.hedge
        assert hedge is not None
        amount = p.eth_amount
        if amount is None:
            wallet = manager.get_balances(ts, p.staking_venue).get("ethereum:wallet:ETH", Decimal(0))
            amount = round_down(wallet - p.keep_eth, p.amount_decimals)
        if amount <= 0:
            return
        # hedge first: if the short cannot be opened, nothing is restaked (no unhedged ETH left behind)
        if p.hedge_ratio > 0 and hedge.trade(manager, ts, -amount * p.hedge_ratio) is None:
            self._stop(ts, "the hedge could not be opened; nothing restaked")
            return
        if self._restake_and_post(manager, ts, "ETH", amount) is None:
            hedge.trade(manager, ts, -hedge.qty)
            self._stop(ts, "restaking failed; the hedge was closed")
            return
        self.started = True
        coll, debt, _ = self.book(manager, ts)
        borrow = round_down(coll * self._rate(manager, ts) * p.target_ltv - debt, p.amount_decimals)
        if borrow > 0:
            d = self.try_execute(manager, ts, self._lending({"operation": "borrow", "asset": p.borrow_asset,
                                                             "amount": str(borrow)}))
            if d is None:
                self.notes.append(f"borrowing {borrow} {p.borrow_asset} on {p.lending_venue} failed at "
                                  f"{ts.isoformat()}; the book is unlevered")
            elif p.restake_borrowed:
                self._restake_and_post(manager, ts, p.borrow_asset, borrow)
        hedge.resize(manager, ts, self._target(manager, ts), Decimal(0))

    def step(self, manager: Any, ts: Any) -> None:
        p: RestakedBasisParams = self.params
        self._n += 1
        hedge = self.hedge
        if (self._n - 1) % p.check_every or not self.started or self.stopped or hedge is None:
            return
        _, _, hf = self.book(manager, ts)
        if hf is not None and hf < p.min_health_factor and not self.risk_capped:
            self.risk_capped = True
            self.notes.append(f"health factor {hf:.4f} below {p.min_health_factor} at {ts.isoformat()} on "
                              f"{p.lending_venue}: no more risk is added (the hedge is still managed)")
        why = hedge.manage(manager, ts, lambda: self._target(manager, ts), p.min_margin_ratio, p.rebalance_band)
        if why is not None:
            self._stop(ts, why)


__all__ = ["RestakedBasis", "RestakedBasisParams"]
