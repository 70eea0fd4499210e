"""Core benchmarks (issue 3). Prints one JSON object.

- manager_orders_per_s: validation + routing + ledger apply through the manager, trivial venue (target >= 250,000/s)
- get_data_us: DataProvider.get_data as-of lookup incl. one value (target <= 5 us)
- import_discover_s: `import basis_core` + discovering all venues in backtest mode, fresh process (target <= 0.5 s),
  and whether ccxt / web3 were imported (must be false)
- history_mb_per_100k: memory added by 100,000 execution-history records (target <= 100 MB)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from decimal import Decimal
from typing import Any

import pandas as pd
from _common import best_rate

from basis_core import CEXExecutionInterface, ExecutionDeltas, ExecutionInterfaceManager, hookimpl
from basis_core.data import synthetic_market
from basis_core.instructions import SpotTrade


class Trivial(CEXExecutionInterface):
    """Fills at a constant price: measures the framework, not a venue."""

    name = "trivial"
    PRICE = Decimal(3000)

    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        a = instruction.amount
        return ExecutionDeltas("trivial", "spot_trade", timestamp,
                               {"trivial:spot:ETH": a, "trivial:spot:USDT": -a * self.PRICE})


def bench_manager() -> float:
    m = ExecutionInterfaceManager({"initial_balances": {"trivial:spot:USDT": "1e12"}}, synthetic_market(hours=48),
                                  "backtest", autoload=False, plugins=[Trivial])
    ins = SpotTrade(venue="trivial", symbol="ETH/USDT", side="buy", amount=Decimal("0.001"))
    ts = pd.Timestamp("2025-01-01T01:00:00Z")
    ex = m.execute

    def run(n: int) -> None:
        for _ in range(n):
            ex(ts, ins)
    return best_rate(run, 20000)


def bench_get_data() -> float:
    p = synthetic_market()
    t0 = p.start_ns
    stamps = [t0 + i * 997_000_000_123 for i in range(1000)]
    get = p.get_data

    def run(n: int) -> None:
        for i in range(n):
            get(stamps[i % 1000]).get("perp:binance:ETH/USDT:USDT")
    rate = best_rate(run, 100000)
    return 1e6 / rate


def bench_import() -> dict[str, Any]:
    code = ("import time,sys;t=time.perf_counter();import basis_core;"
            "from basis_core.discovery import discover_venues;r=discover_venues();"
            "import json;print(json.dumps({'s':time.perf_counter()-t,'venues':[v.name for v in r.loaded],"
            "'ccxt':'ccxt' in sys.modules,'web3':'web3' in sys.modules}))")
    best: dict[str, Any] = {}
    for _ in range(3):
        out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                        check=True).stdout)
        if not best or out["s"] < best["s"]:
            best = out
    return best


def bench_history_memory() -> float:
    m = ExecutionInterfaceManager({"initial_balances": {"trivial:spot:USDT": "1e12"}}, synthetic_market(hours=48),
                                  "backtest", autoload=False, plugins=[Trivial])
    ins = SpotTrade(venue="trivial", symbol="ETH/USDT", side="buy", amount=Decimal("0.001"))
    ts = pd.Timestamp("2025-01-01T01:00:00Z")
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(100_000):
        m.execute(ts, ins)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(m.execution_history) == 100_000
    return (after - before) / 1e6


def main() -> None:
    imp = bench_import()
    out = {
        "manager_orders_per_s": round(bench_manager()),
        "manager_orders_per_s_target": 250_000,
        "get_data_us": round(bench_get_data(), 3),
        "get_data_us_target": 5,
        "import_discover_s": round(imp["s"], 3),
        "import_discover_s_target": 0.5,
        "venues_discovered": imp["venues"],
        "ccxt_imported": imp["ccxt"],
        "web3_imported": imp["web3"],
        "history_mb_per_100k": round(bench_history_memory(), 1),
        "history_mb_target": 100,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
