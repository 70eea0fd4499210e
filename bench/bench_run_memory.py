"""Memory of a long ``basis run --mode paper`` (issue 15: "memory flat over 10,000 steps"). Prints one JSON object.

Runs a bundled scenario (default: ``default``: cash-and-carry on Binance, staked basis and the leveraged staking
loop on Lido / Aave / Uniswap hedged on Hyperliquid: funding and interest accrue every step) in paper mode on the
synthetic hourly market, ``--steps`` steps (default 10,000) on a :class:`~basis_core.run.ManualClock` (bar by bar,
nothing waits), with the run-state store, as ``basis run`` does. Each case runs in its own process:

- ``bounded``: the run's default ``history_limit`` (:data:`basis_core.run.RUN_HISTORY_LIMIT` records kept);
- ``unbounded``: ``history_limit`` large enough to keep every record (what the run did before it was bounded).

Per case: the process's resident memory (``rss_mb``, ``/proc/self/status``) and the Python heap
(``tracemalloc_mb``: tracemalloc's current traced size, tracing from the first step on; it slows the run down)
at step 1, 1,000, ``steps - 1,000`` and ``steps``; ``first_1000_growth`` and ``last_1000_growth`` of both (MB), the
history's records ever made and kept. Flat means the last 1,000 steps grow by about nothing. Python's allocator
rarely returns memory to the OS, so RSS can only stay flat or grow; the heap figure shows what is live.

Run: ``.venv/bin/python bench/bench_run_memory.py [--steps N] [--scenario NAME] [--cases bounded,unbounded]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

START = "2025-01-01T00:00:00Z"


def rss_mb() -> float:
    """Resident set size of this process (Linux ``/proc``), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_case(case: str, steps: int, scenario: str) -> dict[str, Any]:
    from basis_core.backtest.scenario import bundled_scenarios, load_scenario
    from basis_core.data.synthetic import synthetic_market
    from basis_core.run import RUN_HISTORY_LIMIT, ManualClock, Runner, StepReport
    from basis_core.timeutil import to_ns

    logging.disable(logging.WARNING)
    sc = load_scenario(bundled_scenarios()[scenario])
    market = synthetic_market(hours=steps + 48, start=START, seed=7)
    marks = {1, 1000, steps - 1000, steps}
    rss: dict[int, float] = {}
    heap: dict[int, float] = {}

    def on_step(r: StepReport) -> None:
        n = r.step + 1
        if n == 1:
            tracemalloc.start()
        if n in marks:
            rss[n] = rss_mb()
            heap[n] = tracemalloc.get_traced_memory()[0] / 1e6

    limit = None if case == "bounded" else 10**12
    with tempfile.TemporaryDirectory() as d:
        runner = Runner(sc, mode="paper", state_dir=d, data_provider=market, clock=ManualClock(to_ns(START)),
                        steps=steps, on_step=on_step, history_limit=limit)
        result = runner.run()
    tracemalloc.stop()
    hist = runner.manager.execution_history
    first, last = steps - 1000, steps

    def growth(d: dict[int, float], a: int, b: int) -> float:
        return round(d[b] - d[a], 2)

    return {
        "steps": result.steps, "status": result.status,
        "history_limit": hist.limit if case == "bounded" else "all", "default_limit": RUN_HISTORY_LIMIT,
        "history_records_made": len(hist), "history_records_kept": hist.kept,
        "rss_mb": {str(k): round(v, 1) for k, v in sorted(rss.items())},
        "tracemalloc_mb": {str(k): round(v, 2) for k, v in sorted(heap.items())},
        "rss_first_1000_growth_mb": growth(rss, 1, 1000), "rss_last_1000_growth_mb": growth(rss, first, last),
        "heap_first_1000_growth_mb": growth(heap, 1, 1000), "heap_last_1000_growth_mb": growth(heap, first, last),
        "heap_growth_per_step_after_1000_bytes": round((heap[last] - heap[1000]) * 1e6 / (last - 1000)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--scenario", default="default")
    ap.add_argument("--cases", default="bounded,unbounded")
    ap.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case in this process
    args = ap.parse_args()
    if args.steps < 2000:
        ap.error("--steps: at least 2000 (first and last 1,000 steps)")
    if args.case:
        print(json.dumps(one_case(args.case, args.steps, args.scenario)))
        return
    out: dict[str, Any] = {"benchmark": "run_memory", "mode": "paper", "scenario": args.scenario,
                           "steps": args.steps, "market": "synthetic hourly, seed 7", "clock": "ManualClock"}
    for case in args.cases.split(","):
        got = subprocess.run([sys.executable, __file__, "--case", case, "--steps", str(args.steps), "--scenario",
                              args.scenario], capture_output=True, text=True, check=True)
        out[case] = json.loads(got.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
