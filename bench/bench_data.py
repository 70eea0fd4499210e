"""Market-data benchmarks (issue 16). Prints one JSON object.

- import_discover_data_s: fresh process: ``import basis_core`` + discovering every venue + collecting every venue's
  data contribution (file loaders); CPU seconds of that process and wall seconds (target <= 0.5 s), and whether
  ccxt / web3 (and pandas) were imported (ccxt / web3 must be false)
- load_1m_year_s / load_1m_year_peak_mb: ``load_klines`` of one year of 1-minute candles (525,600 rows, ISO
  timestamps, 2-decimal prices) written to a temporary CSV; CPU seconds (best of 3), the tracemalloc peak and the
  peak RSS growth of a fresh process loading it (pyarrow's buffers included) (targets <= 2 s, <= 100 MB);
  retained_mb: memory the loaded series keeps
- get_data_1m_us: ``get_data(ts).get(series)`` on that series, 1000 scattered timestamps (target <= 5 us)
- synthetic_market_s: the default synthetic market with every installed venue's series (CPU seconds)
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from basis_core.data import DataProvider, synthetic_market
from basis_core.data.loaders import load_klines

ROWS = 525_600
CHILD = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import basis_core
from basis_core.discovery import discover_venues
from basis_core.data.contrib import Contributor, collect_files, data_plugin_manager
report = discover_venues()
pm = data_plugin_manager([(Contributor(v.name, v.distribution), v.plugin_class) for v in report.loaded])
files = collect_files(pm)
print(json.dumps({"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0,
                  "venues": [v.name for v in report.loaded], "file_kinds": len(files.loaders),
                  "ccxt": "ccxt" in sys.modules, "web3": "web3" in sys.modules, "pandas": "pandas" in sys.modules}))
"""


def bench_import() -> dict[str, Any]:
    runs = [json.loads(subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(5)]
    best = min(runs, key=lambda r: r["cpu_s"])
    return {"cpu_s": round(best["cpu_s"], 3), "wall_s_best": round(min(r["wall_s"] for r in runs), 3),
            "venues": best["venues"], "file_kinds": best["file_kinds"], "ccxt": best["ccxt"], "web3": best["web3"],
            "pandas": best["pandas"]}


def write_year(path: Path) -> None:
    rng = np.random.default_rng(0)
    close = np.round(3000 * np.exp(np.cumsum(rng.standard_normal(ROWS) * 0.0005)), 2)
    opens = np.concatenate([[close[0]], close[:-1]])
    t = pd.date_range("2025-01-01", periods=ROWS, freq="1min", tz="UTC")
    pd.DataFrame({"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "open": opens,
                  "high": np.maximum(opens, close) + 0.5, "low": np.minimum(opens, close) - 0.5, "close": close,
                  "volume": 1.25}).to_csv(path, index=False, float_format="%.2f")


def bench_load(path: Path) -> tuple[dict[str, Any], Any]:
    best = float("inf")
    for _ in range(3):
        gc.collect()
        c = time.process_time()
        s = load_klines(path, "perp:x:ETH/USDT:USDT", 60 * 10**9)
        best = min(best, time.process_time() - c)
        del s
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    s = load_klines(path, "perp:x:ETH/USDT:USDT", 60 * 10**9)
    gc.collect()
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rows": len(s), "cpu_s": round(best, 3), "peak_mb": round((peak - base) / 2**20, 1),
            "retained_mb": round((cur - base) / 2**20, 1)}, s


RSS_CHILD = """
import sys
import numpy, pandas, pyarrow, pyarrow.csv, pyarrow.compute
from basis_core.data.loaders import load_klines
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
before = status("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
s = load_klines(sys.argv[1], "perp:x:ETH/USDT:USDT", 60 * 10**9)
print(status("VmHWM:") - before)
"""


def bench_rss(path: Path) -> float:
    """Peak RSS growth (MB) of a fresh process loading the file (counts pyarrow's buffers too)."""
    out = subprocess.run([sys.executable, "-c", RSS_CHILD, str(path)], capture_output=True, text=True, check=True)
    return round(float(out.stdout), 1)


def bench_get(series: Any) -> float:
    p = DataProvider([series])
    t0 = series.first_ns
    stamps = [t0 + i * 31_536_000_000_000_000 // 1000 + 7 for i in range(1000)]
    get = p.get_data
    best = float("inf")
    for _ in range(5):
        c = time.process_time()
        for i in range(100_000):
            get(stamps[i % 1000]).get("perp:x:ETH/USDT:USDT")
        best = min(best, time.process_time() - c)
    return best / 100_000 * 1e6


def main() -> None:
    out: dict[str, Any] = {"import_discover_data": bench_import()}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x_ETHUSDT_perp_1m_2025.csv"
        write_year(path)
        out["load_1m_year"], series = bench_load(path)
        out["load_1m_year"]["peak_rss_growth_mb"] = bench_rss(path)
    out["get_data_1m_us"] = round(bench_get(series), 2)
    c = time.process_time()
    m = synthetic_market()
    out["synthetic_market_s"] = round(time.process_time() - c, 2)
    out["synthetic_series"] = len(m.names())
    out["targets"] = {"import_discover_data_s": 0.5, "load_1m_year_s": 2.0, "load_1m_year_mb": 100, "get_data_us": 5}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
