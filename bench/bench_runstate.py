"""Cost and memory of the run-state store (issue 15 item 4). Prints one JSON object.

A backtest-mode manager steps the built-in ``cash_and_carry`` (Binance spot + perp) hour by hour on the synthetic
market, and every step is recorded with ``RunStateStore.record_step`` (as ``basis run`` does):

- ``record_step_us_median`` / ``record_step_us_p99``: wall time of one ``record_step`` (valuation, attribution,
  risk, open orders, one SQLite transaction), measured step by step;
- ``store_held_kib_at_1k`` / ``store_held_kib_at_end``: what the store object holds (a deep size of everything
  reachable from it, leaving out the manager, the market and the manager's history it only refers to) after step
  1,000 and after the last step: flat means equal (allocation tracebacks cannot tell: CPython's free lists hand
  the store's freed dicts to the manager's history records);
- ``process_rss_mib_1k_to_end``: the whole process's resident memory, for context (the manager's own history grows
  by one record per funding settlement and trade: ``history_records_1k_to_end``);
- ``file_bytes_per_step``: the store file's size per step;
- ``read_status_ms``: ``basis_core.runstate.view.read_status`` of the finished folder.
Run: ``.venv/bin/python bench/bench_runstate.py [--steps N]`` (default 10,000).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import pandas as pd

from basis_core.backtest.runner import build_market, make_manager
from basis_core.backtest.scenario import load_scenario
from basis_core.backtest.strategies.loader import load_strategy
from basis_core.runstate import RunStateStore
from basis_core.runstate.view import read_status
from basis_core.timeutil import from_ns

START = "2024-01-01T00:00:00Z"


def _rss() -> int:
    """Resident memory of this process (bytes; Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def deep_size(obj: Any, skip: set[int]) -> int:
    """Bytes of ``obj`` and everything reachable from it through containers and attributes, each object once,
    leaving out the objects in ``skip`` (by id) and modules, classes and functions."""
    seen = set(skip)
    todo = [obj]
    total = 0
    while todo:
        o = todo.pop()
        if id(o) in seen or isinstance(o, type | types.ModuleType | types.FunctionType | types.MethodType):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o, 0)
        if isinstance(o, dict):
            todo.extend(o.keys())
            todo.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset):
            todo.extend(o)
        if hasattr(o, "__dict__"):
            todo.append(vars(o))
        for slot in getattr(type(o), "__slots__", ()):
            if hasattr(o, slot):
                todo.append(getattr(o, slot))
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10_000)
    steps = ap.parse_args().steps
    sc = load_scenario({
        "name": "bench-runstate", "market": {"source": "synthetic", "seed": 3}, "venues": ["binance"],
        "period": {"start": START, "end": (pd.Timestamp(START) + pd.Timedelta(hours=steps - 1)).isoformat(),
                   "step": "1h"},
        "strategies": [{"name": "cash_and_carry", "params": {"legs": [{"spot_venue": "binance",
                                                                        "perp_venue": "binance"}]},
                        "balances": {"binance:spot:USDT": 100000}}]})
    provider = build_market(sc)
    manager = make_manager(sc, provider)
    spec = sc.strategies[0]
    cls = load_strategy(spec.name)
    strat = cls(cls.Params.model_validate(spec.params))
    assert strat.prepare(manager) is None
    assert manager.ledger is not None
    manager.ledger.set_balance("binance:spot:USDT", spec.balances["binance:spot:USDT"])
    assert sc.period.start is not None
    times = [sc.period.start.value + i * 3_600_000_000_000 for i in range(steps)]
    with tempfile.TemporaryDirectory() as d:
        store = RunStateStore(d)
        manager.advance_to(from_ns(times[0]))
        store.start(manager, from_ns(times[0]), provider.get_data(times[0]), mode="paper", scenario=sc.name)
        skip = {id(manager), id(provider), id(manager.execution_history), id(manager.settings), id(store._db)}
        cost: list[float] = []
        held_1k = rss_1k = 0
        records_1k = 0
        for i, t in enumerate(times):
            ts = from_ns(t)
            manager.advance_to(ts)
            if i == 0:
                strat.start(manager, ts)
            strat.step(manager, ts)
            snap = provider.get_data(t)
            t0 = time.perf_counter()
            store.record_step(manager, ts, snap)
            cost.append(time.perf_counter() - t0)
            if i == min(999, steps // 10):
                held_1k, rss_1k = deep_size(store, skip), _rss()
                records_1k = len(manager.execution_history)
        held_end, rss_end = deep_size(store, skip), _rss()
        store.stop(from_ns(times[-1]))
        store.close()
        size = (Path(d) / "runstate.sqlite").stat().st_size
        t0 = time.perf_counter()
        read_status(d)
        read_ms = (time.perf_counter() - t0) * 1000
    cost.sort()
    print(json.dumps({
        "steps": steps,
        "record_step_us_median": round(statistics.median(cost) * 1e6, 1),
        "record_step_us_p99": round(cost[int(len(cost) * 0.99)] * 1e6, 1),
        "store_held_kib_at_1k": round(held_1k / 1024, 1),
        "store_held_kib_at_end": round(held_end / 1024, 1),
        "process_rss_mib_1k_to_end": [round(rss_1k / 2**20, 1), round(rss_end / 2**20, 1)],
        "history_records_1k_to_end": [records_1k, len(manager.execution_history)],
        "file_bytes_per_step": round(size / steps),
        "read_status_ms": round(read_ms, 1),
        "note": "wall time per call, step by step, on a shared machine (the p99 includes SQLite's WAL checkpoints)",
    }, indent=1))


if __name__ == "__main__":
    main()
