"""Built-in backtest strategies, written only against the public manager API (they double as examples).

- ``cash_and_carry``: long spot, short perp, rebalanced to stay delta-neutral (Binance and / or Hyperliquid).
- ``staked_basis``: ETH staked via Lido to wstETH, supplied to Aave, hedged with a perp short.
- ``leveraged_staking_loop``: wstETH looped on Aave through an atomic flash-loan bundle to a target LTV,
  with a de-leverage rule.
- ``restaked_basis``: ETH restaked via EtherFi to weETH, collateral on Aave or Morpho, WETH borrowed and restaked,
  the net ETH exposure hedged with a perp short.

Each strategy's parameters are one pydantic model (``<Strategy>.Params``) whose field descriptions are
the documentation (``basis_core.backtest.strategies.describe()`` prints them).
"""

from __future__ import annotations

from typing import Any

from basis_core.backtest.strategies.base import Strategy, StrategyParams
from basis_core.backtest.strategies.cash_and_carry import CashAndCarry
from basis_core.backtest.strategies.leveraged_staking_loop import LeveragedStakingLoop
from basis_core.backtest.strategies.restaked_basis import RestakedBasis
from basis_core.backtest.strategies.staked_basis import StakedBasis

#: strategy name -> class
STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (CashAndCarry, StakedBasis, LeveragedStakingLoop, RestakedBasis)
}


def describe() -> dict[str, list[dict[str, Any]]]:
    """Every strategy's parameters: name, type, default, description."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, cls in STRATEGIES.items():
        rows = []
        for fname, f in cls.Params.model_fields.items():
            rows.append({"name": fname, "type": getattr(f.annotation, "__name__", str(f.annotation)),
                         "default": None if f.is_required() else f.get_default(call_default_factory=True),
                         "description": f.description or ""})
        out[name] = rows
    return out


__all__ = ["STRATEGIES", "CashAndCarry", "LeveragedStakingLoop", "RestakedBasis", "StakedBasis", "Strategy",
           "StrategyParams", "describe"]
