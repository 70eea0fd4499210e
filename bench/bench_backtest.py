"""Backtest benchmark (issue 8): the bundled default scenario end to end. Prints one JSON object.

- default_scenario_s: wall time of ``basis_core.backtest.run`` on the default scenario (one year,
  hourly = 8761 steps, every installed venue; target < 10 s), best of ``--repeat`` runs; includes
  generating the synthetic market and building the result frames.
- steps_per_second: steps / wall time of that run; default_scenario_cpu_s: its process CPU time (steadier on a
  shared machine).
- phases: market generation, the step loop (+ frames), report files (summary, parquet, two charts).
- strategies: which strategies ran (the others' venues are not installed).
Run: ``.venv/bin/python bench/bench_backtest.py [--repeat N] [--report]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from typing import Any

from basis_core.backtest.report import write_report
from basis_core.backtest.runner import build_market, run
from basis_core.backtest.scenario import default_scenario_path, load_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--report", action="store_true", help="also time writing the report files")
    args = ap.parse_args()

    sc = load_scenario(default_scenario_path())
    best: dict[str, Any] | None = None
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        market = build_market(sc)
        t1 = time.perf_counter()
        result = run(sc, data_provider=market)
        t2, c2 = time.perf_counter(), time.process_time()
        total = t2 - t0
        if best is None or total < best["default_scenario_s"]:
            best = {"default_scenario_s": round(total, 3), "default_scenario_cpu_s": round(c2 - c0, 3),
                    "market_s": round(t1 - t0, 3), "run_s": round(t2 - t1, 3), "result": result}
    assert best is not None
    result = best.pop("result")
    steps = result.summary["steps"]
    out: dict[str, Any] = {
        "benchmark": "backtest_default_scenario",
        **best,
        "steps": steps,
        "steps_per_second": round(steps / best["default_scenario_s"], 1),
        "target_s": 10.0,
        "within_target": best["default_scenario_s"] < 10.0,
        "venues": result.summary["venues"],
        "strategies": {s["name"]: ("ran" if s["active"] else f"skipped: {s['reason']}")
                       for s in result.summary["strategies"]},
        "executions": result.summary["executions"],
        "accruals": result.summary["accruals"],
    }
    if args.report:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            write_report(result, tmp)
            out["report_s"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
