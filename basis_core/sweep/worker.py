"""What runs in a worker: one variant from plain data to plain data.

:func:`run_variant` takes a task (the variant's resolved scenario as plain data, its key and index) and
returns a record: ``status`` ``"ok"`` with the backtest's ``summary`` (JSON-ready) and the ``metrics`` taken
from it, or ``"failed"`` with the ``error``. Nothing live crosses processes (no manager, no frames), so the
same function serves a process pool and Ray. A worker keeps the last market it built (a sweep's variants
usually share one), which is exactly what :func:`~basis_core.backtest.runner.build_market` would build again.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
import traceback
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

#: summary entries that are not results of the strategy (they change from run to run)
NOT_METRICS: frozenset[str] = frozenset({"runtime"})

_market_cache: dict[str, Any] = {}


def metrics_of(summary: Mapping[str, Any], prefix: str = "") -> dict[str, float | None]:
    """The numbers of a backtest summary, flattened with dotted names (``return``, ``max_drawdown``,
    ``components.funding`` ...): every int / float (not bool) and every None (a metric that is undefined for
    this run, e.g. a Sharpe ratio without volatility) at any depth of nested mappings. Lists, strings and
    the ``runtime`` block are left out."""
    out: dict[str, float | None] = {}
    for k, v in summary.items():
        name = f"{prefix}{k}"
        if not prefix and k in NOT_METRICS:
            continue
        if isinstance(v, bool):
            continue
        if isinstance(v, int | float):
            out[name] = float(v)
        elif v is None:
            out[name] = None
        elif isinstance(v, Mapping):
            out.update(metrics_of(v, f"{name}."))
    return out


def _market(scenario: Any) -> Any:
    """The scenario's market, reused while consecutive variants share it (keyed by what build_market reads)."""
    from basis_core.backtest.runner import build_market
    from basis_core.sweep.spec import to_plain

    period = scenario.period
    key = json.dumps([to_plain(scenario.market), to_plain(period.start), to_plain(period.end)], default=str)
    provider = _market_cache.get(key)
    if provider is None:
        _market_cache.clear()
        provider = build_market(scenario)
        _market_cache[key] = provider
    return provider


def init_worker(quiet: bool = True) -> None:
    """Pool initializer: the driver handles Ctrl-C (workers ignore SIGINT and are stopped by the driver);
    ``quiet`` keeps the library's warnings of every variant out of the terminal (they are in its summary)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if quiet:
        logging.getLogger("basis_core").setLevel(logging.ERROR)


def run_variant(task: Mapping[str, Any]) -> dict[str, Any]:
    """Run one variant. ``task``: ``key``, ``index``, ``scenario`` (plain data), optional ``report_dir`` (write
    the variant's full report there). Returns a plain record (see the module docstring); never raises for a
    failing variant. ``seconds`` / ``cpu_seconds``: wall and CPU time of the variant in the worker."""
    from basis_core.backtest.runner import run
    from basis_core.backtest.scenario import load_scenario

    t0, c0 = time.perf_counter(), time.process_time()
    rec: dict[str, Any] = {"key": task["key"], "index": task["index"]}
    try:
        sc = load_scenario(task["scenario"])
        result = run(sc, data_provider=_market(sc))
        if getattr(result, "interrupted", False):
            raise KeyboardInterrupt
        summary = json.loads(json.dumps(result.summary, default=str, allow_nan=True))
        if task.get("report_dir"):
            from basis_core.backtest.report import write_report

            write_report(result, task["report_dir"])
        rec.update(status="ok", summary=summary, metrics=metrics_of(summary), error=None)
    except Exception as exc:  # a failing variant is a result, not a crash of the sweep
        rec.update(status="failed", summary=None, metrics={}, error=f"{type(exc).__name__}: {exc}",
                   error_type=type(exc).__name__, traceback=traceback.format_exc(limit=20))
    rec["seconds"] = round(time.perf_counter() - t0, 4)
    rec["cpu_seconds"] = round(time.process_time() - c0, 4)
    return rec


def same_metrics(a: Mapping[str, float | None], b: Mapping[str, float | None]) -> bool:
    """Exactly equal metrics (NaN equals NaN, None equals None)."""
    if a.keys() != b.keys():
        return False
    for k, x in a.items():
        y = b[k]
        if x is None or y is None:
            if x is not y:
                return False
        elif not (x == y or (math.isnan(x) and math.isnan(y))):
            return False
    return True


__all__ = ["NOT_METRICS", "init_worker", "metrics_of", "run_variant", "same_metrics"]
