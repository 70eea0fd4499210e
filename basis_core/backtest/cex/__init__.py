"""The generic CEX simulator shared by CEX venue plugins (spot + linear perpetuals).

- :mod:`.spec`: :class:`CexSpec` / :class:`SymbolSpec` (a venue described as data) and its configuration.
- pure math: :mod:`.pnl` (position, realised / unrealised PnL), :mod:`.margin` (tiers, initial and
  maintenance margin), :mod:`.funding`, :mod:`.fees`, :mod:`.slippage`.
- shared by backtest and live: :mod:`.market` (precomputed per-symbol data), :mod:`.validation`
  (filters -> typed errors), :mod:`.fills` (deltas from a fill).
- backtest: :mod:`.engine` (:class:`CexSimulator`), :mod:`.venue` (:class:`CexVenue`, the hooks).
"""

from __future__ import annotations

from basis_core.backtest.cex.engine import CexSimulator
from basis_core.backtest.cex.fees import FeeRates
from basis_core.backtest.cex.margin import MarginTier, build_tiers
from basis_core.backtest.cex.market import Market, build_markets
from basis_core.backtest.cex.slippage import SlippageModel
from basis_core.backtest.cex.spec import CexSpec, FeeSchedule, SymbolSpec, perp, spot
from basis_core.backtest.cex.state import PerpPosition, PerpTotals, RestingOrder
from basis_core.backtest.cex.venue import CexVenue, OrdersView

__all__ = [
    "CexSimulator", "CexSpec", "CexVenue", "FeeRates", "FeeSchedule", "MarginTier", "Market", "OrdersView",
    "PerpPosition", "PerpTotals", "RestingOrder", "SlippageModel", "SymbolSpec", "build_markets", "build_tiers",
    "perp", "spot",
]
