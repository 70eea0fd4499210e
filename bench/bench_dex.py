"""DEX benchmarks (issue 6). Prints one JSON object; best of 5 runs each.

Pool quotes (the venues' quote math on a pool state: the contracts' integer output plus the fee and the
no-impact output that price impact is measured against):
- v2_quote_per_s: Uniswap v2 (target >= 200,000/s)
- v3_single_tick_quote_per_s: Uniswap v3, a swap inside one initialised range (target >= 50,000/s)
- curve_2coin_quote_per_s: Curve 2pool, cached marginal rate (target >= 50,000/s)
Full quote hooks (``quote_swap``: routing, units, Decimal deltas and details), for information:
- *_quote_hook_per_s
Through the manager (parse-free model instruction, routing, wrappers, ledger, history), alternating
buy / sell so the pool stays near the market:
- manager_swap_v3_per_s (the default WETH/USDC route, v3 0.05 %), manager_swap_v2_per_s (target >= 50,000/s)
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pandas as pd
from _common import best_rate

from basis_core import ExecutionInterfaceManager
from basis_core.data import synthetic_market
from basis_core.instructions import Swap

TS = pd.Timestamp("2025-01-01T10:00:00Z")


def _manager() -> ExecutionInterfaceManager:
    from basis_venue_curve.venue import CurveVenue
    from basis_venue_uniswap.venue import UniswapVenue

    bal = {"ethereum:wallet:WETH": "1e9", "ethereum:wallet:USDC": "1e12", "ethereum:wallet:USDT": "1e12",
           "ethereum:wallet:ETH": "1e9"}
    return ExecutionInterfaceManager({"initial_balances": bal}, synthetic_market(hours=48), "backtest",
                                     autoload=False, plugins=[UniswapVenue, CurveVenue])


def bench() -> dict[str, Any]:
    m = _manager()
    uni, crv = m.venue("uniswap").backend, m.venue("curve").backend
    out: dict[str, Any] = {}

    v2, v3 = uni.spec("v2:WETH/USDC"), uni.spec("v3:WETH/USDC:500")
    st2, st3 = uni.pool_state(TS, v2.id), uni.pool_state(TS, v3.id)
    lo, hi, _ = st3.external
    assert st3.pool.liquidity > 0 and lo < st3.pool.tick < hi
    math = uni._swap_math

    def q2(n: int) -> None:
        for _ in range(n):
            math(v2, st2, "WETH", 10**18, False)

    def q3(n: int) -> None:
        for _ in range(n):
            math(v3, st3, "WETH", 10**18, False)  # 1 WETH stays inside the external range: one step

    c_state = crv.pool_state(TS, "2pool")
    c_math = crv.swap_math

    def qc(n: int) -> None:
        for _ in range(n):
            c_math(c_state, 0, 1, 10_000 * 10**6, False)

    out["v2_quote_per_s"] = round(best_rate(q2, 100_000))
    out["v3_single_tick_quote_per_s"] = round(best_rate(q3, 30_000))
    out["curve_2coin_quote_per_s"] = round(best_rate(qc, 30_000))

    def hook(backend: Any, ins: Swap) -> Any:
        def run(n: int) -> None:
            for _ in range(n):
                backend.swap(TS, ins, True)
        return run

    for label, backend, ins in (
        ("v2", uni, Swap(venue="uniswap", token_in="WETH", token_out="USDC", amount_in=Decimal(1), pool=v2.id)),
        ("v3", uni, Swap(venue="uniswap", token_in="WETH", token_out="USDC", amount_in=Decimal(1), pool=v3.id)),
        ("curve", crv, Swap(venue="curve", token_in="USDC", token_out="USDT", amount_in=Decimal(10_000), pool="2pool")),
    ):
        out[f"{label}_quote_hook_per_s"] = round(best_rate(hook(backend, ins), 20_000))

    for label, pool in (("v3", None), ("v2", v2.id)):
        mm = _manager()
        sell = Swap(venue="uniswap", token_in="WETH", token_out="USDC", amount_in=Decimal("0.01"), pool=pool)
        buy = Swap(venue="uniswap", token_in="USDC", token_out="WETH", amount_in=Decimal("17"), pool=pool)
        ex = mm.execute

        def run(n: int, ex: Any = ex, sell: Swap = sell, buy: Swap = buy) -> None:
            for _ in range(n // 2):
                ex(TS, sell)
                ex(TS, buy)
        out[f"manager_swap_{label}_per_s"] = round(best_rate(run, 20_000))

    targets = {"v2_quote_per_s": 200_000, "v3_single_tick_quote_per_s": 50_000, "curve_2coin_quote_per_s": 50_000,
               "manager_swap_v2_per_s": 50_000, "manager_swap_v3_per_s": 50_000}
    out["targets_met"] = {k: out[k] >= v for k, v in targets.items()}
    return out


if __name__ == "__main__":
    print(json.dumps(bench()))
