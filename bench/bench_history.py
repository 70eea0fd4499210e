"""Memory the execution history keeps (issue 17: <= 1 KB per execution kept, <= 300 B per accrual step). Prints
one JSON object.

Cases, each through a backtest manager (the venues' simulators, exactly what a backtest records):

- ``spot_execution`` / ``perp_execution``: ``--executions`` (default 100,000) Binance market orders (0.01 ETH, buy
  and sell alternately, at one timestamp: no funding record in between; a record's time costs 8 bytes whatever it
  is);
- ``accrual_step``: a book holding an Aave supply and debt, a Binance perp short and a Hyperliquid perp short,
  advanced ``--accrual-steps`` (default 100,000) 1-minute steps: Aave interest every step, Hyperliquid funding
  hourly, Binance funding every 8 hours.

Per case: ``history_bytes_per_record`` / ``history_bytes_per_step``: what dropping every record frees
(``HistoryLog.trim(keep=0)``, measured with tracemalloc, after ``gc.collect()``): the records' tuples, their
Decimals, strings and timestamps, nothing else; ``traced_growth_per_record``: everything the run added meanwhile,
for context (ledger, caches). Targets: 1,000 B per execution, 300 B per accrual step.

Run: ``.venv/bin/python bench/bench_history.py [--executions N] [--accrual-steps N]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import tracemalloc
from decimal import Decimal
from typing import Any

from basis_core.backtest.runner import make_manager
from basis_core.backtest.scenario import load_scenario
from basis_core.data.synthetic import synthetic_market
from basis_core.timeutil import from_ns

T0 = 1_735_689_600_000_000_000  # 2025-01-01T00:00:00Z
MINUTE = 60_000_000_000


def _manager(venues: list[str], balances: dict[str, str], hours: int) -> Any:
    sc = load_scenario({"name": "bench", "venues": venues, "initial_balances": balances,
                        "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z", "step": "1h"}})
    return make_manager(sc, synthetic_market(seed=7, hours=hours))


def _kept_bytes(m: Any, n_before: int) -> tuple[float, int]:
    """Bytes freed by dropping the records made after ``n_before`` (tracing on), and how many they were."""
    hist = m.execution_history
    hist.trim(before=n_before, keep=0)  # what came before the measured part goes first, unmeasured
    n = hist.kept
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    hist.trim(keep=0)
    gc.collect()
    return before - tracemalloc.get_traced_memory()[0], n


def executions(kind: str, n: int) -> dict[str, Any]:
    m = _manager(["binance"], {"binance:spot:USDT": "100000000", "binance:spot:ETH": "10000",
                               "binance:futures:USDT": "100000000"}, n // 60 + 49)
    if kind == "spot":
        ins = [{"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": s,
                "amount": Decimal("0.01")} for s in ("buy", "sell")]
    else:
        ins = [{"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT", "side": s,
                "amount": Decimal("0.01")} for s in ("buy", "sell")]
    m.execute(from_ns(T0), ins[0])  # the venue's first-use caches, outside the measure
    n0 = len(m.execution_history)
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    ts = from_ns(T0 + MINUTE)
    for i in range(n):
        m.execute(ts, ins[i % 2])
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - start
    kept, count = _kept_bytes(m, n0)
    tracemalloc.stop()
    assert count == n
    return {"records": count, "history_bytes_per_record": round(kept / count),
            "traced_growth_per_record": round(growth / count), "target_bytes": 1000}


def accruals(steps: int) -> dict[str, Any]:
    m = _manager(["aave", "binance", "hyperliquid"],
                 {"ethereum:wallet:USDC": "1000000", "ethereum:wallet:ETH": "10", "binance:futures:USDT": "1000000",
                  "hyperliquid:perp-margin:USDC": "1000000"}, steps // 60 + 49)
    ts = from_ns(T0)
    for ins in ({"venue": "aave", "operation": "supply", "asset": "USDC", "amount": "100000"},
                {"venue": "aave", "operation": "borrow", "asset": "WETH", "amount": "1"},
                {"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT", "side": "sell",
                 "amount": "1"},
                {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC", "side": "sell",
                 "amount": "1"}):
        m.execute(ts, ins)
    m.advance_to(from_ns(T0 + MINUTE))
    n0 = len(m.execution_history)
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    for i in range(steps):
        m.advance_to(from_ns(T0 + (i + 2) * MINUTE))
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - start
    ops: dict[str, int] = {}
    for r in m.execution_history[n0:]:
        ops[f"{r.venue} {r.operation}"] = ops.get(f"{r.venue} {r.operation}", 0) + 1
    kept, count = _kept_bytes(m, n0)
    tracemalloc.stop()
    return {"steps": steps, "records": count, "records_by_kind": ops,
            "history_bytes_per_step": round(kept / steps), "history_bytes_per_record": round(kept / count),
            "traced_growth_per_step": round(growth / steps), "target_bytes_per_step": 300}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--executions", type=int, default=100_000)
    ap.add_argument("--accrual-steps", type=int, default=100_000)
    args = ap.parse_args()
    out = {
        "benchmark": "history_memory",
        "measure": "tracemalloc: bytes freed by dropping the records (HistoryLog.trim(keep=0)) after gc.collect()",
        "spot_execution": executions("spot", args.executions),
        "perp_execution": executions("perp", args.executions),
        "accrual_step": accruals(args.accrual_steps),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
