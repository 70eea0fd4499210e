"""Router benchmark (issue 19). Prints one JSON object.

- ``decision_5_pools_us``: the split search alone over 5 pools (USDT -> WETH: Uniswap v2 and the v3 0.01 / 0.05
  / 0.3 / 1 % tiers), :func:`basis_core.best_execution.split.modelled_split` (search on constant-product models
  fitted to 2 exact quotes per pool, exact water-filling from there: the router's search where a pool is only
  reachable through its hooks) over the pools' exact integer math as quote functions (the contracts' v2
  formula, the v3 swap loop): median of 200 decisions, each for a different size. ``_exact_search``: the same
  with :func:`~basis_core.best_execution.split.best_split` (every grid point quoted exactly).
- ``decision_5_pools_via_hooks_us``: the whole decision as the manager makes it for ``venue: "auto"`` (default
  settings; target <= 1,000 us): each venue's ``swap_pool_models`` hook gives its pools' pure models, the exact
  search (``best_split``) runs on their integer math, and each chosen leg and the best single pool are verified
  once through ``quote_swap``: median of 50,
  each for a different size at one timestamp (``_cpu_us``: the same decisions' CPU time, which a loaded
  machine's wait for a core does not inflate). ``_quotes_only`` / ``_quotes_only_exact_search``: the same through
  ``swap_pools`` + ``quote_swap`` alone (``venue_config.auto.pool_models: false``, the path of a plugin without
  models; the modelled and the exact search).
- ``curve_set``: the same three decisions for DAI -> USDT over the 5 pools of issue 19's target (Uniswap v2
  10M, the v3 0.01 % (20M, +/-0.2 %), 0.05 % (15M, +/-1 %) and 0.3 % (5M, +/-5 %) tiers, Curve 3pool at 20M),
  and ``identical_to_exact_search``: for how many of the 50 sizes the
  default decision's amounts equal the exact search's through ``quote_swap`` alone.
- ``table``: output improvement of the routed split over the best single pool for 10k .. 10M USD, net of gas at
  the market's gas price, on the same 5 pools. Depths: the Uniswap plugin's default virtual pools (WETH/USDT v2
  20M, v3 0.05 % 50M +/-10 %, v3 0.3 % 30M +/-30 %) plus a 0.01 % (20M, +/-2 %) and a 1 % tier (5M, +/-60 %),
  all scaled by one factor fitted so that the best single pool's all-in cost (fee + impact) of a 1M USD buy
  equals the real ETH_USDT cost of ``execution_costs_lookup.json`` (13 bps) when the shared data is present
  (else the factor is 1 and ``calibration`` says so); the fit's 10k / 100k costs are printed beside the real ones.
- ``quotes_per_decision[_via_hooks][_exact_search]``: distinct exact quotes one decision asked (median).
- ``batching_gas`` (with ``--anvil``): a routed 3-leg split (60k USDC -> WETH over Uniswap v2 and two v3 tiers)
  on anvil with the real contracts, its legs sent one by one vs as one transaction through our executor, from
  the same chain state (the world and the measurement of tests/live/test_router_live.py).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from basis_core import ExecutionInterfaceManager
from basis_core.best_execution.router import plan_route
from basis_core.best_execution.split import Curve, best_split, modelled_split
from basis_core.data import synthetic_market
from basis_core.instructions import Swap

TS = pd.Timestamp("2025-01-01T10:00:00Z")
POOLS: dict[str, dict[str, str]] = {
    "v2:WETH/USDT": {"tvl_usd": "20000000"},
    "v3:WETH/USDT:100": {"tvl_usd": "20000000", "range_pct": "0.02"},
    "v3:WETH/USDT:500": {"tvl_usd": "50000000", "range_pct": "0.10"},
    "v3:WETH/USDT:3000": {"tvl_usd": "30000000", "range_pct": "0.30"},
    "v3:WETH/USDT:10000": {"tvl_usd": "5000000", "range_pct": "0.60"},
}
SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000)
DATA = Path(os.environ.get("BASIS_SHARED_DATA", "/work/shared/data")) / "execution_costs_lookup.json"
MARKET = synthetic_market(hours=48)


#: issue 19's 5-pool target with a Curve pool: DAI -> USDT over Uniswap v2, three v3 tiers and Curve 3pool
CURVE_SET_POOLS: dict[str, dict[str, str]] = {
    "v2:DAI/USDT": {"tvl_usd": "10000000"},
    "v3:DAI/USDT:100": {"tvl_usd": "20000000", "range_pct": "0.002"},
    "v3:DAI/USDT:500": {"tvl_usd": "15000000", "range_pct": "0.01"},
    "v3:DAI/USDT:3000": {"tvl_usd": "5000000", "range_pct": "0.05"},
}
#: Curve 3pool at a depth where it shares the larger trades with the v3 tiers
CURVE_SET_3POOL = {"3pool": {"tvl_usd": "20000000"}}


def _manager(scale: Decimal, search: str = "auto", pool_models: bool = True) -> ExecutionInterfaceManager:
    pools = {pid: {**cfg, "tvl_usd": str(Decimal(cfg["tvl_usd"]) * scale)} for pid, cfg in POOLS.items()}
    return ExecutionInterfaceManager({"venues": ["uniswap"], "venue_config": {
        "uniswap": {"pools": pools}, "auto": {"search": search, "pool_models": pool_models}}}, MARKET, "backtest")


def _curve_manager(search: str = "auto", pool_models: bool = True) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"venues": ["uniswap", "curve"], "venue_config": {
        "uniswap": {"pools": CURVE_SET_POOLS}, "curve": {"pools": CURVE_SET_3POOL},
        "auto": {"search": search, "pool_models": pool_models}}},
        MARKET, "backtest")


def _decisions(m: ExecutionInterfaceManager, swap: Any, n: int = 50) -> tuple[float, float, list[Any]]:
    """Median wall and CPU (this process's, ``time.process_time``: what a loaded machine's waiting for a core
    does not inflate) microseconds of ``n`` routing decisions (sizes 1M + 45k i), and their plans."""
    times, cpu, plans = [], [], []
    for i in range(n):
        ins = swap(1_000_000 + 45_000 * i)
        c, t = time.process_time(), time.perf_counter()
        plan = plan_route(m, TS, ins)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        plans.append(plan)
    return round(statistics.median(times) * 1e6, 1), round(statistics.median(cpu) * 1e6, 1), plans


def _hook_quotes(plan: Any) -> int:
    return sum(len(p.quotes) for p in plan.pools)


def _buy(usd: int) -> Swap:
    return Swap(venue="auto", token_in="USDT", token_out="WETH", amount_in=Decimal(usd))


def _best_single_cost_bps(m: ExecutionInterfaceManager, usd: int) -> Decimal:
    """All-in cost (fee + impact, before gas) of the best single pool, in bps of the market's no-fee output."""
    plan = plan_route(m, TS, _buy(usd))
    assert plan.split.single is not None
    p, total = plan.pools[plan.split.single], sum(plan.split.amounts)
    d = p.quotes.get(total)
    if d is not None:
        ref, out = d.details["reference_prices"], Decimal(d.details["amount_out"])
    else:  # from the pool's model (exactly its quote_swap)
        assert p.model is not None
        ref, out = p.model.reference_prices, Decimal(p.model.quote(total) or 0).scaleb(-p.decimals_out)
    fair = Decimal(usd) * ref["USDT"] / ref["WETH"]
    return (fair - out) / fair * 10_000


def _calibrate() -> tuple[Decimal, dict[str, Any]]:
    if not DATA.exists():
        return Decimal(1), {"source": "none (shared data absent): plugin default depths, scale 1"}
    real = json.loads(DATA.read_text())["ETH_USDT"]
    target = {k: Decimal(statistics.median(v.values())) for k, v in real.items()}
    lo, hi = Decimal("0.05"), Decimal(20)
    for _ in range(18):  # cost falls as depth grows: bisect the scale on the 1M cost (log scale)
        mid = (lo * hi).sqrt()
        if _best_single_cost_bps(_manager(mid), 1_000_000) > target["1m"]:
            lo = mid
        else:
            hi = mid
    scale = ((lo * hi).sqrt()).quantize(Decimal("0.001"))
    m = _manager(scale)
    fit = {k: str(_best_single_cost_bps(m, n).quantize(Decimal("0.1")))
           for k, n in (("10k", 10_000), ("100k", 100_000), ("1m", 1_000_000))}
    return scale, {"source": str(DATA.name), "real_cost_bps": {k: str(v) for k, v in target.items()},
                   "model_cost_bps": fit, "depth_scale": str(scale)}


def _pure_curves(m: ExecutionInterfaceManager) -> tuple[list[Curve], int]:
    """The 5 pools' exact integer math on their anchored states, as the split's quote functions (USDT in)."""
    from basis_venue_uniswap import v2_math
    from basis_venue_uniswap.sim import V2State

    uni = m.venue("uniswap").backend
    curves = []
    for pid in POOLS:
        spec = uni.spec(pid)
        st = uni.pool_state(TS, pid)
        zero_for_one = spec.token0 == "USDT"
        if isinstance(st, V2State):
            r_in, r_out = (st.reserve0, st.reserve1) if zero_for_one else (st.reserve1, st.reserve0)
            curves.append(Curve(pid, lambda x, r_in=r_in, r_out=r_out, fee=spec.fee: v2_math.get_amount_out(
                x, r_in, r_out, fee), 0))
        else:
            pool = st.pool

            def q(x: int, pool: Any = pool, z: bool = zero_for_one) -> int | None:
                try:
                    return pool.quote_exact_input(z, x)
                except ValueError:
                    return None
            curves.append(Curve(pid, q, 0))
    return curves, 6


def bench() -> dict[str, Any]:
    scale, calibration = _calibrate()
    m = _manager(scale)
    out: dict[str, Any] = {"calibration": calibration}

    curves, dec = _pure_curves(m)
    for name, method in (("", modelled_split), ("_exact_search", best_split)):
        times, quotes = [], []
        for i in range(200):
            total = (1_000_000 + 45_000 * i) * 10**dec
            t = time.perf_counter()
            split = method(total, curves)
            times.append(time.perf_counter() - t)
            assert split is not None
            quotes.append(split.quotes)
        out[f"decision_5_pools{name}_us"] = round(statistics.median(times) * 1e6, 1)
        out[f"quotes_per_decision{name}"] = statistics.median(quotes)

    for name, search, models in (("", "auto", True), ("_quotes_only", "model", False),
                                 ("_quotes_only_exact_search", "exact", False)):
        us, cpu, plans = _decisions(_manager(scale, search, models), _buy)
        out[f"decision_5_pools_via_hooks{name}_us"] = us
        out[f"decision_5_pools_via_hooks{name}_cpu_us"] = cpu
        out[f"hook_quotes_per_decision{name}"] = statistics.median(_hook_quotes(p) for p in plans)

    def dai_usdt(usd: int) -> Swap:
        return Swap(venue="auto", token_in="DAI", token_out="USDT", amount_in=Decimal(usd))
    curve_set: dict[str, Any] = {"pools": [*CURVE_SET_POOLS, "curve:3pool"]}
    runs = {}
    for name, search, models in (("", "auto", True), ("_quotes_only", "model", False),
                                 ("_quotes_only_exact_search", "exact", False)):
        us, cpu, plans = _decisions(_curve_manager(search, models), dai_usdt)
        runs[name] = plans
        curve_set[f"decision_us{name}"] = us
        curve_set[f"decision_cpu_us{name}"] = cpu
        curve_set[f"hook_quotes_per_decision{name}"] = statistics.median(_hook_quotes(p) for p in plans)
        if models:
            curve_set["model_quotes_per_decision"] = statistics.median(p.split.quotes for p in plans)
            curve_set["searched_on"] = sorted({p.searched_on for p in plans})
            curve_set["pools_used"] = sorted({len(p.split.used) for p in plans})
    same = sum(a.split.amounts == b.split.amounts
               for a, b in zip(runs[""], runs["_quotes_only_exact_search"], strict=True))
    curve_set["identical_to_exact_search"] = f"{same}/{len(runs[''])}"
    out["curve_set"] = curve_set

    table = []
    for usd in SIZES:
        d = m.quote(TS, _buy(usd)).details
        single = d["best_single"]
        eth_usd = m.data_provider.get_data(TS).get("oracle:ETH/USD", "price")  # type: ignore[union-attr]
        gain_usd = d["output_gain"] * eth_usd
        table.append({
            "size_usd": usd, "pools_used": len(d["legs"]),
            "split": {leg["pool"]: str((leg["amount_in"] / usd * 100).quantize(Decimal("0.1"))) for leg in d["legs"]},
            "best_single_pool": single["pool"],
            "gain_usd": str(gain_usd.quantize(Decimal("0.01"))),
            "gain_bps": str((d["output_gain"] / single["net_amount_out"] * 10_000).quantize(Decimal("0.01"))),
            "impact_saved_bps": str(d["impact_saved_bps"]),
            "gas_usd": str((d["gas_cost_eth"] * eth_usd).quantize(Decimal("0.01"))),
        })
    out["table"] = table
    out["gas_price_gwei"] = str(m.data_provider.get_data(TS).get("gas", "gas_price_gwei"))  # type: ignore[union-attr]
    out["load_average_1m"] = round(os.getloadavg()[0], 2)
    return out


def batching() -> dict[str, Any]:
    """Gas of a split's legs one by one vs as one executor bundle, on a fresh anvil node."""
    import importlib.util
    import sys

    from basis_core.testing.anvil import start_anvil

    path = Path(__file__).resolve().parents[1] / "tests" / "live" / "test_router_live.py"
    spec = importlib.util.spec_from_file_location("router_live_world", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    node = start_anvil()
    try:
        legs, single, batched = mod.batching_gas(mod.build_world(node.url), node)
    finally:
        node.stop()
    return {"legs": legs, "one_by_one": single, "bundled": batched, "saved": single - batched,
            "saved_pct": round((single - batched) / single * 100, 2)}


if __name__ == "__main__":
    import sys

    result = bench()
    if "--anvil" in sys.argv[1:]:
        result["batching_gas"] = batching()
    print(json.dumps(result, indent=1))
