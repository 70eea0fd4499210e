"""Buy the dip: a user strategy for ``basis backtest``, written against the documented strategy base.

Every step it looks back ``lookback`` rows of the spot candles visible at the step (never later ones) and,
when the close has fallen ``drop`` below the highest close of that window, buys ``clip_usd`` worth of the
base asset, rounded to the venue's amount step and skipped below its minimum order. A position is sold
when the close recovers ``take_profit`` above its average cost.

Run it::

    basis backtest --strategy examples/buy_the_dip.py:BuyTheDip --param drop=0.03
    basis backtest examples/buy_the_dip.yaml          # the same from a scenario file
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from basis_core.backtest.strategies import Strategy, StrategyParams


class BuyTheDip(Strategy):
    """Buy fixed USD clips after a drop from the recent high; sell everything at a profit target."""

    name = "buy_the_dip"

    class Params(StrategyParams):
        venue: str = Field("binance", description="spot venue")
        symbol: str = Field("ETH/USDT", description="spot market")
        series: str = Field("spot:ETH/USDT", description="market data series of its candles")
        lookback: int = Field(24, ge=2, description="rows of history the recent high is taken over")
        drop: Decimal = Field(Decimal("0.05"), gt=0, lt=1, description="buy when the close is this far below the high")
        clip_usd: Decimal = Field(Decimal(1000), gt=0, description="quote spent per buy")
        take_profit: Decimal = Field(Decimal("0.04"), gt=0, description="sell all this far above the average cost")

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.amount = Decimal(0)
        self.cost = Decimal(0)

    def prepare(self, manager: Any) -> str | None:
        return self.missing_ops(manager, {self.params.venue: ["spot_trade"]})

    def step(self, manager: Any, ts: Any) -> None:
        p = self.params
        closes = self.history(manager, ts, p.series, n=p.lookback).column("close")
        if len(closes) < p.lookback:
            return  # not enough history yet
        close = closes[-1]
        rules = self.rules(manager, p.venue, p.symbol)
        if self.amount > 0 and close >= self.cost / self.amount * (1 + p.take_profit):
            amount = self.conform_amount(rules, self.amount, close)
            if amount > 0 and self.try_execute(manager, ts, {"venue": p.venue, "operation": "spot_trade",
                                                             "symbol": p.symbol, "side": "sell",
                                                             "amount": str(amount)}):
                self.cost -= self.cost * amount / self.amount
                self.amount -= amount
            return
        if close <= max(closes) * (1 - p.drop):
            quote = p.symbol.split("/")[1]
            cash = manager.get_balances(ts, p.venue).get(f"{p.venue}:spot:{quote}", Decimal(0))
            spend = min(p.clip_usd, cash * Decimal("0.99"))  # keep 1% for fees and slippage
            amount = self.conform_amount(rules, spend / close, close)
            if amount <= 0:
                return
            d = self.try_execute(manager, ts, {"venue": p.venue, "operation": "spot_trade", "symbol": p.symbol,
                                               "side": "buy", "amount": str(amount)})
            if d is not None:
                base = p.symbol.split("/")[0]
                got = sum((v for k, v in d.positions.items() if k.endswith(f":{base}")), Decimal(0))
                self.amount += got
                self.cost += amount * (d.fill_price or close)
