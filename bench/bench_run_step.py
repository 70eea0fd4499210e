"""Cost of one ``basis_core.backtest.run`` step (issue 17). Prints one JSON object.

- ``empty_step_us``: a run with no instruction (the runner's own loop: clock, valuation, frames), 1-minute steps
  over the hourly synthetic market with Binance installed and no balance (59 of 60 steps see no new row and reuse
  the valuation); target <= 8 us. ``empty_step_us_new_row_every_step``: hourly steps, a new row every step.
- ``order_step_us``: the same run with a strategy placing one spot market order per step (buy / sell
  alternately, bar by bar: each order at a new timestamp).
- ``manager_order_us``: the same orders through ``manager.execute`` directly, one per new 1-minute timestamp
  (``advance_to`` included): the manager path; target: ``order_step_us <= 2 x manager_order_us``.
- ``manager_same_ts_order_us``: the same orders all at one timestamp (no clock advance between them).
- ``history_bytes_per_execution``: retained memory of the manager's history per execution record.
Times are this process's CPU time, the best of ``--repeat`` runs (a shared machine inflates wall time).
Run: ``.venv/bin/python bench/bench_run_step.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc
from decimal import Decimal
from typing import Any

from basis_core.backtest.runner import make_manager, run
from basis_core.backtest.scenario import load_scenario
from basis_core.backtest.strategies import Strategy
from basis_core.data.synthetic import synthetic_market
from basis_core.timeutil import from_ns


class Alternate(Strategy):
    """One 0.01 ETH spot market order per step, buy then sell."""

    name = "alternate"

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def step(self, manager: Any, ts: Any) -> None:
        side = "buy" if self.n % 2 == 0 else "sell"
        self.n += 1
        manager.execute(ts, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": side,
                             "amount": Decimal("0.01")})  # the manager path's instruction exactly


def _scenario(steps: int, balances: dict[str, str]) -> dict[str, Any]:
    end = from_ns(1_735_689_600_000_000_000 + (steps - 1) * 60_000_000_000).isoformat()
    return {"name": "bench", "venues": ["binance"], "initial_balances": balances,
            "period": {"start": "2025-01-01T00:00:00Z", "end": end, "step": "1min"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    steps = args.steps
    market = synthetic_market(seed=7, hours=steps // 60 + 49)
    cash = {"binance:spot:USDT": "1000000", "binance:spot:ETH": "100"}

    def timed(fn: Any) -> float:
        best = float("inf")
        for _ in range(args.repeat):
            gc.collect()
            t0 = time.process_time()  # CPU time of this process: robust to other work on a shared machine
            fn()
            best = min(best, time.process_time() - t0)
        return best

    empty = timed(lambda: run(_scenario(steps, {}), data_provider=market))
    # every step a new row (hourly steps over the hourly market): no valuation to reuse
    hourly_steps = min(steps, 5000)
    hourly_market = synthetic_market(seed=7, hours=hourly_steps + 49)
    hourly = {**_scenario(hourly_steps, {}), "period": {"start": "2025-01-01T00:00:00Z",
                                                        "end": from_ns(1_735_689_600_000_000_000 + (hourly_steps - 1)
                                                                       * 3_600_000_000_000).isoformat(),
                                                        "step": "1h"}}
    empty_new_rows = timed(lambda: run(hourly, data_provider=hourly_market))
    with_orders = timed(lambda: run(_scenario(steps, cash), data_provider=market, strategies=[Alternate()]))

    sc = load_scenario(_scenario(steps, cash))
    t_first = 1_735_689_600_000_000_000

    def manager_path(same_ts: bool) -> None:
        m = make_manager(sc, market)
        for i in range(steps):
            ts = from_ns(t_first if same_ts else t_first + i * 60_000_000_000)
            m.execute(ts, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT",
                           "side": "buy" if i % 2 == 0 else "sell", "amount": Decimal("0.01")})

    bar = timed(lambda: manager_path(False))
    same = timed(lambda: manager_path(True))

    m = make_manager(sc, market)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    n_hist = 5_000
    for i in range(n_hist):
        m.execute(from_ns(t_first), {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT",
                                     "side": "buy" if i % 2 == 0 else "sell", "amount": Decimal("0.01")})
    per_exec = (tracemalloc.get_traced_memory()[0] - before) / n_hist
    tracemalloc.stop()

    out = {
        "benchmark": "backtest_run_step",
        "steps": steps,
        "clock": f"process CPU time, best of {args.repeat}",
        "empty_step_us": round(empty / steps * 1e6, 2),
        "empty_target_us": 8.0,
        "empty_step_us_new_row_every_step": round(empty_new_rows / hourly_steps * 1e6, 2),
        "order_step_us": round(with_orders / steps * 1e6, 2),
        "manager_order_us": round(bar / steps * 1e6, 2),
        "manager_same_ts_order_us": round(same / steps * 1e6, 2),
        "order_step_over_manager": round(with_orders / bar, 2),
        "order_target_ratio": 2.0,
        "manager_orders_per_second_bar_by_bar": round(steps / bar),
        "manager_orders_per_second_same_timestamp": round(steps / same),
        "history_bytes_per_execution_incl_ledger": round(per_exec),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
