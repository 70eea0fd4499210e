"""Sweep benchmark (issue 21). Prints one JSON object.

- speedup: 16 one-year variants of the default scenario (cash-and-carry margin fraction x staked-basis ETH
  amount, 4 x 4), run by ``basis_core.sweep`` serially in this process (``backend="serial"``) and on the
  local process pool (``workers``, default 2); ``speedup = serial_s / local_s`` (target >= 1.7 on 2 cores).
  The tables must be equal.
- overhead: three-month variants, ``--short`` (4) and twice as many, run as a plain loop of
  ``basis_core.backtest.run`` on one shared market and as a sweep on a one-worker pool (warm fork server;
  resolving, hashing, every variant's YAML and record, the table, ranking and picture). The per-variant cost
  is the slope between the two sizes (fixed costs such as starting the pool and drawing the picture cancel);
  ``overhead_per_variant_pct = (sweep slope - loop slope) / loop slope`` (target <= 5 %). Also given: the
  sweep's fixed cost, and the per-variant cost against a loop that builds each variant's market as
  ``basis backtest`` does (negative: the worker's market reuse saves more than the machinery costs).
  Given in wall time and in CPU time (this process's plus each variant's in its worker, as the worker
  measured it): on a loaded machine the CPU figures are the steadier ones.
- machinery: the sweep's own per-variant work timed apart from any backtest (see :func:`machinery`), and
  its share of a three-month backtest's CPU time.
- load: the 1-minute load average before and after each part (the machine is shared: read the figures
  with it).
Run: ``.venv/bin/python bench/bench_sweep.py [--workers 2] [--variants 16] [--short 8]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

import basis_core.sweep
from basis_core.backtest.runner import build_market, run
from basis_core.backtest.scenario import default_scenario_path, load_scenario
from basis_core.sweep.spec import apply_overrides, scenario_plain

MF = "strategies.cash_and_carry.params.margin_fraction"
ETH = "strategies.staked_basis.params.eth_amount"
SHORT_END = "2025-04-01"


def _grid(n: int) -> dict[str, list[Any]]:
    mf = ["0.2", "0.25", "0.3", "0.35", "0.4", "0.45", "0.5", "0.55"]
    eth = [10, 15, 20, 25, 30, 35, 40, 45]
    side = max(1, round(n ** 0.5))
    return {MF: mf[:side], ETH: eth[: max(1, n // side)]}


def _autogroup() -> bool | None:
    """Linux groups a session's processes for CPU fairness (autogroup): on a busy machine the sweep's workers
    then share one session's slice, and the speedup shows only when the machine is otherwise quiet."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return None


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def speedup(workers: int, variants: int) -> dict[str, Any]:
    grid = _grid(variants)
    load0 = _load()
    t0 = time.perf_counter()
    serial = basis_core.sweep.run("default", grid, backend="serial")
    t1 = time.perf_counter()
    load1 = _load()
    with tempfile.TemporaryDirectory() as tmp:
        local = basis_core.sweep.run("default", grid, workers=workers, out=tmp)
    t2 = time.perf_counter()
    pd.testing.assert_frame_equal(serial, local)
    return {"variants": len(serial), "period": "one year hourly (8761 steps)", "workers": workers,
            "serial_s": round(t1 - t0, 2), "local_s": round(t2 - t1, 2),
            "speedup": round((t1 - t0) / (t2 - t1), 3), "target": 1.7,
            "load_1min": [load0, load1, _load()]}


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _timed_sweep(values: list[str], workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds: this process's plus every variant's in its worker)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), _cpu()
        table = basis_core.sweep.run("default", {MF: values, "period.end": [SHORT_END]}, workers=workers, out=tmp)
        took, cpu = time.perf_counter() - t0, _cpu() - c0
        cpu += sum(json.loads(p.read_text())["cpu_seconds"] for p in Path(tmp, "variants").glob("*.json"))
    assert set(table["status"]) == {"ok"} and len(table) == len(values)
    return took, cpu


def _timed_loop(scenarios: list[Any], market: Any | None) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), _cpu()
    for sc in scenarios:
        run(sc, data_provider=market) if market is not None else run(sc)
    return time.perf_counter() - t0, _cpu() - c0


def overhead(n: int, repeat: int) -> dict[str, Any]:
    """Per-variant cost of the sweep over the bare backtest, as a slope: sweeps of ``n`` and ``2n`` variants
    (one worker) against plain loops of the same variants; fixed costs (the pool, table, picture) cancel."""
    base = scenario_plain(load_scenario(default_scenario_path()))
    values = [f"0.{20 + i:02d}" for i in range(2 * n)]
    scenarios = [load_scenario(apply_overrides(base, {MF: v, "period.end": SHORT_END})) for v in values]
    _timed_sweep(["0.3"], 1)  # warm up: imports, the fork server, matplotlib
    _timed_sweep(["0.3", "0.31"], 1)
    run(scenarios[0])
    load0 = _load()
    market = build_market(scenarios[0])
    runs: dict[str, list[tuple[float, float]]] = {"bare1": [], "bare2": [], "plain2": [], "sweep1": [], "sweep2": []}
    for _ in range(repeat):  # interleaved, the best of each kept: the machine is shared
        runs["bare1"].append(_timed_loop(scenarios[:n], market))
        runs["sweep1"].append(_timed_sweep(values[:n], 1))
        runs["bare2"].append(_timed_loop(scenarios, market))
        runs["sweep2"].append(_timed_sweep(values, 1))
        runs["plain2"].append(_timed_loop(scenarios, None))
    out: dict[str, Any] = {"variants": [n, 2 * n], "period": "three months hourly (2161 steps)", "repeat": repeat,
                           "target_pct": 5.0}
    for i, what in ((0, "wall"), (1, "cpu")):
        bare1, bare2, plain2, sweep1, sweep2 = (min(r[i] for r in runs[k])
                                                for k in ("bare1", "bare2", "plain2", "sweep1", "sweep2"))
        bare_slope, sweep_slope = (bare2 - bare1) / n, (sweep2 - sweep1) / n
        out[what] = {
            "bare_loop_shared_market_s": [round(bare1, 3), round(bare2, 3)],
            "bare_loop_own_market_s": round(plain2, 3),
            "sweep_1_worker_s": [round(sweep1, 3), round(sweep2, 3)],
            "backtest_s_per_variant": round(bare_slope, 3),
            "sweep_s_per_variant": round(sweep_slope, 3),
            "sweep_fixed_s": round(sweep1 - n * sweep_slope, 3),
            "overhead_per_variant_pct": round((sweep_slope - bare_slope) / bare_slope * 100, 2),
            "vs_basis_backtest_per_variant_pct": round((sweep_slope - plain2 / (2 * n)) / (plain2 / (2 * n)) * 100,
                                                       2),
        }
    out["load_1min"] = [load0, _load()]
    return out


def machinery(n: int = 50) -> dict[str, Any]:
    """The sweep's own work per variant, timed apart from the backtest (best of 3 passes over ``n`` variants):
    resolving (overrides, validation, key), the variant's YAML, the task and record across the process
    boundary (pickle both ways), the worker's validation and summary copy, the record written to disk."""
    import pickle

    from basis_core.backtest.scenario import load_scenario as load
    from basis_core.sweep.driver import resolve
    from basis_core.sweep.results import Store
    from basis_core.sweep.spec import dump_yaml
    from basis_core.sweep.worker import metrics_of

    base = scenario_plain(load(default_scenario_path()))
    overrides = [{MF: f"0.{20 + i % 60:02d}", ETH: 10 + i, "period.end": SHORT_END} for i in range(n)]
    sample = run(load(apply_overrides(base, overrides[0])))
    summary = json.loads(json.dumps(sample.summary, default=str))
    best = float("inf")
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(tmp)
            t0 = time.perf_counter()
            for v in resolve(base, overrides):
                assert v.scenario is not None
                store.write_text(f"variants/{v.key}.yaml", dump_yaml(v.scenario))
                task = pickle.loads(pickle.dumps({"key": v.key, "index": v.index, "scenario": v.scenario}))
                load(task["scenario"])
                s = json.loads(json.dumps(summary, default=str))
                rec = pickle.loads(pickle.dumps({"key": v.key, "index": v.index, "status": "ok", "summary": s,
                                                 "metrics": metrics_of(s)}))
                store.save(rec)
            best = min(best, (time.perf_counter() - t0) / n)
    return {"s_per_variant": round(best, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--variants", type=int, default=16)
    ap.add_argument("--short", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the overhead measurement (best kept)")
    ap.add_argument("--skip-speedup", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    args = ap.parse_args()
    out: dict[str, Any] = {"benchmark": "sweep", "cpus": len(os.sched_getaffinity(0)), "load_1min": _load(),
                           "sched_autogroup": _autogroup()}
    out["machinery"] = machinery()
    if not args.skip_overhead:
        out["overhead"] = overhead(args.short, args.repeat)
        per = out["overhead"]["cpu"]["backtest_s_per_variant"]
        out["machinery"]["pct_of_3_month_backtest_cpu"] = round(out["machinery"]["s_per_variant"] / per * 100, 2)
    if not args.skip_speedup:
        out["speedup"] = speedup(args.workers, args.variants)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
