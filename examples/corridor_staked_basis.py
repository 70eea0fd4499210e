"""A staked basis that borrows its hedge's margin, and watches the joint risk corridor.

The book: ETH staked with Lido (wstETH), supplied to Aave; USDT borrowed against it at ``target_ltv`` and moved to
the exchange's futures wallet (a timed transfer, :mod:`basis_core.transit`) as the margin of a perp short that
hedges the wstETH. Delta neutral, but not liquidation neutral: an ETH drop lowers the Aave health factor (the
collateral falls, the USDT debt does not) while the short's profit piles up on the exchange.

With ``use_corridor`` the strategy reads the corridor (:func:`basis_core.risk.corridor.corridor`) every step; when
an ETH drop smaller than ``warn_move`` would liquidate a leg it de-levers: it moves free USDT from the exchange back
to the wallet (the route's modelled time and fee) and repays Aave when it arrives, until a drop of ``restore_move``
is needed to liquidate. Without it, the same book rides the drop into Aave's liquidation.

Run: ``basis backtest --strategy examples/corridor_staked_basis.py:CorridorStakedBasis`` with balances
``ethereum:wallet:ETH`` and ``binance:futures:USDT`` (see README "Proof: the risk corridor").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from basis_core.backtest.strategies.base import Strategy, StrategyParams, round_down
from basis_core.backtest.strategies.hedge import PerpHedge
from basis_core.risk.corridor import corridor
from basis_core.transit import in_transit


class CorridorStakedBasisParams(StrategyParams):
    """Parameters of ``corridor_staked_basis``."""

    eth_amount: Decimal | None = Field(None, gt=0, description="ETH to stake (default: the wallet less keep_eth)")
    keep_eth: Decimal = Field(Decimal("0.5"), ge=0, description="ETH kept for gas")
    target_ltv: Decimal = Field(Decimal("0.6"), gt=0, lt=1, description="USDT borrowed / collateral value")
    debt_asset: str = "USDT"
    hedge_venue: str = "binance"
    hedge_symbol: str = "ETH/USDT:USDT"
    margin_key: str = "binance:futures:USDT"
    rebalance_band: Decimal = Field(Decimal("0.02"), gt=0)
    use_corridor: bool = Field(True, description="watch the risk corridor and de-lever when it narrows")
    warn_move: Decimal = Field(Decimal("0.12"), gt=0, lt=1, description="de-lever when a smaller ETH drop "
                                                                         "liquidates a leg")
    restore_move: Decimal = Field(Decimal("0.4"), gt=0, lt=1, description="de-lever until this drop is needed")


class CorridorStakedBasis(Strategy):
    """wstETH on Aave, USDT borrowed as the margin of a perp short; de-levers on the corridor's warning."""

    name = "corridor_staked_basis"
    Params = CorridorStakedBasisParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.hedge: PerpHedge | None = None
        self.lst_held = Decimal(0)
        self.warnings: list[tuple[Any, Decimal]] = []
        self.repaid = Decimal(0)

    def prepare(self, manager: Any) -> str | None:
        p = self.params
        reason = self.missing_ops(manager, {"lido": {"stake"}, "aave": {"supply", "borrow", "repay"},
                                            p.hedge_venue: {"perp_trade"}})
        if reason:
            return reason
        self.hedge = PerpHedge(self, p.hedge_venue, p.hedge_symbol, p.margin_key)
        return None

    def _rate(self, manager: Any, ts: Any) -> Decimal:
        return self.market(manager, ts).get("lst:wstETH", "rate")  # type: ignore[no-any-return]

    def start(self, manager: Any, ts: Any) -> None:
        p = self.params
        assert self.hedge is not None
        amount = p.eth_amount
        if amount is None:
            amount = manager.get_balances(ts, "lido").get("ethereum:wallet:ETH", Decimal(0)) - p.keep_eth
        staked = manager.execute(ts, {"venue": "lido", "operation": "stake", "asset": "ETH", "amount": str(amount),
                                      "receive": "wstETH"})
        self.lst_held = round_down(staked.positions["ethereum:wallet:wstETH"], 18)
        manager.execute(ts, {"venue": "aave", "operation": "supply", "asset": "wstETH",
                             "amount": str(self.lst_held)})
        self.hedge.trade(manager, ts, -self.lst_held * self._rate(manager, ts))
        aave = manager.get_balances(ts, "aave")
        debt = round_down(aave["aave:metric:collateral_usd"] * p.target_ltv, 2)
        manager.execute(ts, {"venue": "aave", "operation": "borrow", "asset": p.debt_asset, "amount": str(debt)})
        manager.execute(ts, {"operation": "move", "asset": p.debt_asset, "amount": str(debt),
                             "source": f"ethereum:wallet:{p.debt_asset}", "destination": p.margin_key})

    def step(self, manager: Any, ts: Any) -> None:
        p = self.params
        hedge = self.hedge
        assert hedge is not None
        aave = manager.get_balances(ts, "aave")
        held = aave.get("aave:supplied:wstETH", Decimal(0))
        if held > 0:
            hedge.resize(manager, ts, -held * self._rate(manager, ts), p.rebalance_band)
        cash = manager.get_balances(ts, "aave").get(f"ethereum:wallet:{p.debt_asset}", Decimal(0))
        debt = aave.get(f"aave:debt:{p.debt_asset}", Decimal(0))
        if cash > 0 and debt > 0:  # a transfer arrived: repay with it
            pay = min(cash, debt)
            if self.try_execute(manager, ts, {"venue": "aave", "operation": "repay", "asset": p.debt_asset,
                                              "amount": str(pay)}) is not None:
                self.repaid += pay
                self.notes.append(f"{ts.isoformat()}: repaid {pay:.2f} {p.debt_asset} on aave")
        if not p.use_corridor or debt <= 0 or any(t["source"] == p.margin_key for t in in_transit(manager)):
            return
        c = corridor(manager, ts, drivers=("eth",), tol=Decimal("1e-4"))
        if c.eth_down is None or 1 - c.eth_down >= p.warn_move:
            return
        move = 1 - c.eth_down
        self.warnings.append((ts, move))
        # de-lever: the debt at which a drop of restore_move is needed (health factor 1 / (1 - restore_move))
        lt = aave["aave:metric:liquidation_threshold"]
        target = aave["aave:metric:collateral_usd"] * lt * (1 - p.restore_move)
        need = debt - target
        free = manager.get_balances(ts, p.hedge_venue).get(f"{p.hedge_venue}:metric:available:{p.debt_asset}",
                                                           Decimal(0))
        amount = round_down(min(need, free * Decimal("0.95")), 2)
        if amount <= 0:
            self.notes.append(f"{ts.isoformat()}: corridor warning ({move:.1%} to liquidation of "
                              f"{c.nearest_leg_down}) but no free {p.debt_asset} on {p.hedge_venue}")
            return
        d = self.try_execute(manager, ts, {"operation": "move", "asset": p.debt_asset, "amount": str(amount),
                                           "source": p.margin_key, "destination": f"ethereum:wallet:{p.debt_asset}"})
        if d is not None:
            self.notes.append(f"{ts.isoformat()}: corridor warning: an ETH drop of {move:.1%} liquidates "
                              f"{c.nearest_leg_down}; moving {amount} {p.debt_asset} to repay, arrives "
                              f"{d.details['arrives_at']}")


__all__ = ["CorridorStakedBasis", "CorridorStakedBasisParams"]
