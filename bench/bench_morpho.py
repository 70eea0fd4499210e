"""Morpho venue benchmarks (issue 18). Prints one JSON object.

- morpho_supply_per_s / morpho_borrow_per_s: Supply (wstETH collateral) and Borrow (WETH, the contract's share
  math and health check every time) through the manager in backtest, gas charged (target >= 100,000/s, the Aave
  figure); all at one timestamp.
- morpho_year_hourly_accrual_s: one year of hourly clock steps (8,760 ``advance_to``) with a wstETH / WETH position:
  Adaptive Curve IRM accrual, interest on supply and debt and a liquidation check at every step (target <= 0.2 s).
Rates are best of ``--repeat`` runs in process CPU time. Run: ``.venv/bin/python bench/bench_morpho.py``.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any

import pandas as pd
from _common import best_rate_fresh, year_accrual_seconds
from basis_venue_morpho.venue import MorphoVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data import synthetic_market
from basis_core.instructions import Borrow, Supply

TS = pd.Timestamp("2025-01-03T00:00:00Z")
MARKET = synthetic_market(hours=24 * 30)
YEAR_MARKET = synthetic_market()
ALIAS = "wstETH/WETH-94.5"


def manager(market: Any = MARKET) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager(
        {"initial_balances": {"ethereum:wallet:ETH": "1e9", "ethereum:wallet:wstETH": "1e9",
                              "ethereum:wallet:WETH": "1e6"}}, market, "backtest", autoload=False,
        plugins=[MorphoVenue])


def rate(ins: Any, n: int, repeat: int) -> float:
    def make() -> Any:
        m = manager()
        m.execute(TS, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "1000", "market": ALIAS})
        ex = m.execute

        def loop(n: int) -> None:
            for _ in range(n):
                ex(TS, ins)
        return loop

    return best_rate_fresh(make, n, repeat)


def accrual(repeat: int) -> float:
    t0 = pd.Timestamp("2025-01-01T00:00:00Z")

    def opened() -> ExecutionInterfaceManager:
        m = manager(YEAR_MARKET)
        m.execute(t0, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "100", "market": ALIAS})
        m.execute(t0, {"venue": "morpho", "operation": "borrow", "asset": "WETH", "amount": "80"})
        m.execute(t0, {"venue": "morpho", "operation": "supply", "asset": "WETH", "amount": "50", "market": ALIAS})
        return m

    return year_accrual_seconds(opened, repeat,
                                lambda m: m.ledger is not None and m.ledger.balance("morpho:debt:WETH") > 80)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sup = Supply(venue="morpho", asset="wstETH", amount=Decimal("0.01"), market=ALIAS)
    bor = Borrow(venue="morpho", asset="WETH", amount=Decimal("0.001"))
    out: dict[str, Any] = {"benchmark": "morpho"}
    out["morpho_supply_per_s"] = round(rate(sup, 20_000, args.repeat))
    out["morpho_borrow_per_s"] = round(rate(bor, 20_000, args.repeat))
    out["morpho_ops_target_per_s"] = 100_000
    out["morpho_year_hourly_accrual_s"] = round(accrual(max(3, args.repeat)), 4)
    out["morpho_year_hourly_accrual_target_s"] = 0.2
    out["within_target"] = (out["morpho_supply_per_s"] >= 100_000 and out["morpho_borrow_per_s"] >= 100_000
                            and out["morpho_year_hourly_accrual_s"] <= 0.2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
