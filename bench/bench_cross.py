"""Cross-venue benchmarks (issue 20). Prints one JSON object; CPU time of this process, best of 3.

- saga_pair_ms: one paired instruction (Binance spot buy + Hyperliquid perp short, one slice) through the manager,
  vs ``two_legs_ms``: the same two legs as two plain ``execute`` calls (the saga's own cost is the difference:
  checks, sizing, bookkeeping, the result);
- corridor_eth_ms: the joint corridor of a 3-venue book (Binance short, Hyperliquid long, Aave wstETH / USDC),
  ETH moves only, to 1e-5 (what ``run(..., corridor=True)`` records per sample); ``corridor_full_ms``: every
  driver (ETH both ways, depeg, funding, borrow) to 1e-10;
- risk_state_us: one ``risk_state`` call per venue of that book (the unit the corridor's bisection repeats).
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pandas as pd

from basis_core import ExecutionInterfaceManager
from basis_core.data import synthetic_market
from basis_core.risk import Shock
from basis_core.risk.corridor import corridor

TS = pd.Timestamp("2025-03-01T00:00:00Z")
MARKET = synthetic_market(hours=24 * 90)


def best_ms(make: Callable[[], Callable[[], Any]], n: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        fn = make()
        gc.collect()
        t = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - t) / n * 1000)
    return best


def manager(**balances: str) -> ExecutionInterfaceManager:
    bal = {"binance:spot:USDT": "1e9", "hyperliquid:perp-margin:USDC": "1e8", "binance:futures:USDT": "2000",
           "ethereum:wallet:wstETH": "10", "ethereum:wallet:ETH": "1", **balances}
    return ExecutionInterfaceManager({"venues": ["binance", "hyperliquid", "aave"], "initial_balances": bal},
                                     MARKET, "backtest")


def bench_saga() -> dict[str, float]:
    legs = [{"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy", "amount": "1"},
            {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC", "side": "sell",
             "amount": "0.999"}]

    def saga() -> Callable[[], Any]:
        m = manager()
        p = {"operation": "paired", "legs": legs, "budget": {"max_unhedged_notional": "1e6"}}
        return lambda: m.execute(TS, p)

    def plain() -> Callable[[], Any]:
        m = manager()

        def two() -> None:
            m.execute(TS, legs[0])
            m.execute(TS, legs[1])
        return two
    return {"saga_pair_ms": round(best_ms(saga, 300), 3), "two_legs_ms": round(best_ms(plain, 300), 3)}


def book() -> ExecutionInterfaceManager:
    m = manager()
    for ins in ({"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT", "side": "sell",
                 "amount": "3"},
                {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC", "side": "buy",
                 "amount": "3"},
                {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "10"},
                {"venue": "aave", "operation": "borrow", "asset": "USDC", "amount": "15000"}):
        m.execute(TS, ins)
    return m


def bench_corridor() -> dict[str, float]:
    m = book()
    shock = Shock(eth=Decimal("0.8"))
    out = {"corridor_eth_ms": best_ms(lambda: lambda: corridor(m, TS, drivers=("eth",), tol=Decimal("1e-5")), 20),
           "corridor_full_ms": best_ms(lambda: lambda: corridor(m, TS), 5)}
    for v in ("binance", "hyperliquid", "aave"):
        out[f"risk_state_us:{v}"] = best_ms(lambda v=v: lambda: m.risk_state(TS, v, shock), 500) * 1000  # type: ignore[misc]
    return {k: round(x, 3) for k, x in out.items()}


if __name__ == "__main__":
    print(json.dumps({**bench_saga(), **bench_corridor()}, indent=2))
