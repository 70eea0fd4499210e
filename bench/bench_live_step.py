"""Step overhead of ``basis run`` in paper and live mode (issue 15). Prints one JSON object.

Per step, from :class:`basis_core.run.StepReport` (bar by bar: every step at its own new time, on a
:class:`~basis_core.run.ManualClock`, so no step waits):

- ``work_ms``: the step's work: the market data check of every leg, ``advance_to``, the strategies (data reads
  and instructions); target <= 50 ms per step;
- ``book_ms``: saving it: ``state.json`` (atomic, fsync'd) twice, the paper ledger, the instruction log, the
  run-state store (``basis status``).

Cases:

- ``paper_default``: the bundled default scenario (cash-and-carry on Binance, staked basis and the leveraged
  staking loop on Lido / Aave / Uniswap hedged on Hyperliquid: every strategy whose venues are installed), on the
  synthetic hourly market, ``--paper-steps`` steps (default 10,000); also ``rss_mb`` at step 100 and at the end
  (memory flat over the run: the process keeps no per-step rows);
- ``live_carry``: cash-and-carry on Binance and on Hyperliquid in live mode against the two emulators, each in
  its own process (``basis emulate <venue> --json``: real ccxt, real HTTP on 127.0.0.1, signatures checked),
  ``--live-steps`` steps; market data: a flat replayed path (the live data provider reads the same venues).
  On-chain legs (anvil) are not part of this case.

Run: ``.venv/bin/python bench/bench_live_step.py [--paper-steps N] [--live-steps N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from _common import emulator

from basis_core.backtest.scenario import bundled_scenarios, load_scenario
from basis_core.data.provider import DataProvider
from basis_core.data.series import Series
from basis_core.data.synthetic import synthetic_market
from basis_core.run import ManualClock, Runner, StepReport
from basis_core.timeutil import to_ns

START = "2025-01-01T00:00:00Z"
HOUR = 3_600_000_000_000


def rss_mb() -> float:
    """Resident set size of this process (Linux ``/proc``), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stats(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    return {"median": round(statistics.median(v) * 1000, 3), "p95": round(v[int(len(v) * 0.95)] * 1000, 3),
            "max": round(v[-1] * 1000, 3)}


def paper(steps: int) -> dict[str, Any]:
    sc = load_scenario(bundled_scenarios()["default"])
    market = synthetic_market(hours=steps + 48, start=START)
    work: list[float] = []  # floats only: the bench keeps nothing else per step
    book: list[float] = []
    first: list[float] = []
    sent = [0]
    rss: dict[str, float] = {}

    def on_step(r: StepReport) -> None:
        (first if r.step == 0 else work).append(r.work_seconds)  # step 0 opens every position: reported apart
        book.append(r.book_seconds)
        sent[0] += r.executed
        if r.step == 100:
            rss["step_100"] = rss_mb()

    with tempfile.TemporaryDirectory() as d:
        runner = Runner(sc, mode="paper", state_dir=d, data_provider=market, clock=ManualClock(to_ns(START)),
                        steps=steps, on_step=on_step)
        result = runner.run()
    rss["end"] = rss_mb()
    history = len(runner.manager.execution_history)
    return {"steps": result.steps, "status": result.status, "first_step_ms": round(first[0] * 1000, 3),
            "work_ms": _stats(work), "book_ms": _stats(book[1:]), "rss_mb": {k: round(v, 1) for k, v in rss.items()},
            "instructions": sent[0], "history_records": history,
            "history_records_kept": runner.manager.execution_history.kept,
            "note": "the run keeps the last history_limit execution-history records (basis_core.run."
                    "RUN_HISTORY_LIMIT) and no per-step rows: bench_run_memory.py measures memory over 10,000 steps"}


def _flat(prices: dict[str, Decimal], hours: int) -> DataProvider:
    times = [to_ns(START) + h * HOUR for h in range(hours)]
    series = [Series(k, times, {"close": [v] * hours}) for k, v in prices.items()]
    return DataProvider(series)


def live(steps: int) -> dict[str, Any]:
    with emulator("binance") as bn, emulator("hyperliquid") as hl:
        cfg = {"retry_delay_seconds": 0, "venue_config": {"binance": bn, "hyperliquid": hl}}
        sc = load_scenario({
            "name": "bench-live", "period": {"start": START, "step": "1h"}, "venues": ["binance", "hyperliquid"],
            "strategies": [{"name": "cash_and_carry", "params": {
                "legs": [{"spot_venue": "binance", "perp_venue": "binance", "capital": 2000},
                         {"spot_venue": "hyperliquid", "perp_venue": "hyperliquid", "capital": 2000}],
                "capital": 2000}}]})
        # the emulators' demo prices, held flat over the run
        from basis_venue_binance.client import make_binance_client  # type: ignore[import-not-found,unused-ignore]

        c = make_binance_client(bn["api_key"], bn["api_secret"], base_url=bn["base_url"], enable_rate_limit=False)
        spot = Decimal(str(c.fetch_ticker("ETH/USDT")["last"]))
        mark = Decimal(str(c.fetch_funding_rate("ETH/USDT:USDT")["markPrice"]))
        import urllib.request

        req = urllib.request.Request(hl["base_url"] + "/info", data=b'{"type": "allMids"}',
                                     headers={"Content-Type": "application/json"})
        mids = json.loads(urllib.request.urlopen(req, timeout=10).read())
        hl_px = Decimal(str(mids.get("ETH", spot)))
        market = _flat({"spot:ETH/USDT": spot, "perp:binance:ETH/USDT:USDT": mark, "spot:ETH/USDC": hl_px,
                        "perp:hyperliquid:ETH/USDC:USDC": hl_px}, steps + 4)
        reports: list[StepReport] = []
        with tempfile.TemporaryDirectory() as d:
            result = Runner(sc, mode="live", state_dir=d, data_provider=market, clock=ManualClock(to_ns(START)),
                            steps=steps, config=cfg, on_step=reports.append).run()
    work = [r.work_seconds for r in reports[1:]]
    book = [r.book_seconds for r in reports[1:]]
    return {"steps": result.steps, "status": result.status, "error": result.error,
            "first_step_ms": round(reports[0].work_seconds * 1000, 3) if reports else None,
            "work_ms": _stats(work) if work else None, "book_ms": _stats(book) if book else None,
            "instructions": sum(r.executed for r in reports), "unhedged": result.unhedged}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paper-steps", type=int, default=10_000)
    ap.add_argument("--live-steps", type=int, default=200)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    out = {"paper_default": paper(args.paper_steps), "live_carry": live(args.live_steps), "target_work_ms": 50}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
