"""``basis sweep``: run many variants of a scenario and rank them.

``basis sweep [SCENARIO] --grid KEY=V1,V2 [--grid ...] [--random N --seed S] [--backend local|ray|serial]
[--address ray://HOST:10001|auto] [--workers N] [--out DIR] [--rank METRIC] [--reports] [--retry-failed]
[--data DIR] [--hash-data] [--json]``

Progress (rate, ETA) goes to stderr: a bar on a terminal, a log line every 30 s otherwise. The table, the
ranking and the picture go to ``--out``; re-running the same command resumes (finished variants are read
back, not recomputed). Exit status: 0 all variants ran, 1 some failed (each reported with its error),
2 a malformed sweep (nothing ran), 130 interrupted (the finished variants are saved).
"""

from __future__ import annotations

import json
import logging
import math
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from basis_core.cli.backtest_cmd import _err
from basis_core.errors import BasisError

DEFAULT_OUT = Path("sweep-report")
TOP = 10


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.6g}"
    return "" if v is None else str(v)


def _ranking_table(ranked: Any, metric: str | None, keys: list[str], top: int) -> Any:
    from rich.table import Table

    name = metric.lstrip("-") if metric else None
    t = Table(title=f"top {min(top, len(ranked))} of {len(ranked)} variants"
                    + (f" by {metric}" if metric else ""), title_justify="left")
    cols = ["rank", "variant", *keys]
    extra = [c for c in (name, "return", "max_drawdown", "pnl") if c and c in ranked.columns and c not in cols]
    cols += list(dict.fromkeys(extra))
    for c in [*cols, "status"]:
        t.add_column(c, justify="right" if c not in ("status",) else "left")
    for _, row in ranked.head(top).iterrows():
        t.add_row(*(_fmt(row[c]) for c in cols), row["status"])
    return t


def sweep(
    scenario: str | None = typer.Argument(None, help="scenario YAML file or bundled scenario name (default: "
                                         "'default')", show_default=False),
    grid: list[str] = typer.Option([], "--grid", help="KEY=V1,V2,...: a dotted path into the scenario and its "
                                   "values (repeatable; every combination is a variant), e.g. "
                                   "strategies.cash_and_carry.params.margin_fraction=0.2,0.3"),
    random: int | None = typer.Option(None, "--random", help="run N distinct grid points drawn at random"),
    seed: int = typer.Option(0, "--seed", help="seed of --random (same seed, same variants)"),
    backend: str = typer.Option("local", "--backend", help="local (process pool), ray, or serial"),
    address: str | None = typer.Option(None, "--address", help="Ray cluster: auto, or ray://HOST:10001"),
    workers: int | None = typer.Option(None, "--workers", help="worker processes / Ray CPUs (default: all CPUs)"),
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="directory for records, results.parquet/csv, ranking.csv, "
                             "sweep.png (re-running resumes)"),
    rank_by: str | None = typer.Option(None, "--rank", help="ranking metric, a column of the table ('-name': "
                                       "lower is better); default: sharpe, else annualised_return"),
    reports: bool = typer.Option(False, "--reports", help="write every variant's full report to OUT/reports/KEY"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="run variants again that failed before"),
    data: Path | None = typer.Option(None, "--data", help="run every variant on real market data files"),
    hash_data: bool = typer.Option(False, "--hash-data", help="key variants by the data files' SHA-256 (default: "
                                   "their names, sizes and modification times)"),
    as_json: bool = typer.Option(False, "--json", help="print the outcome as JSON (no table, no progress bar)"),
) -> None:
    """Run a parameter sweep of a scenario on a process pool (or Ray) and rank the variants."""
    from rich.console import Console

    from basis_core.sweep import SweepInterrupted
    from basis_core.sweep import sweep as run_sweep
    from basis_core.sweep.progress import LogProgress, RichProgress

    tty = not as_json and sys.stderr.isatty()
    logging.getLogger("basis_core.sweep").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)  # a terminated sweep stops like Ctrl-C, finished variants kept
    try:
        bar = RichProgress(f"sweep {scenario or 'default'}") if tty else None
        try:
            if bar is not None:
                with bar:
                    outcome = run_sweep(scenario, grid, random=random, seed=seed, backend=backend, address=address,
                                        workers=workers, out=out, rank_by=rank_by, reports=reports,
                                        retry_failed=retry_failed, data_dir=data, hash_data=hash_data,
                                        progress=bar)
            else:
                outcome = run_sweep(scenario, grid, random=random, seed=seed, backend=backend, address=address,
                                    workers=workers, out=out, rank_by=rank_by, reports=reports,
                                    retry_failed=retry_failed, data_dir=data, hash_data=hash_data,
                                    progress=LogProgress())
        except SweepInterrupted as stop:
            o = stop.outcome
            _err(f"interrupted: {len(o.table)} variants finished and saved in {out}/; run the same command again "
                 "to resume")
            raise typer.Exit(130) from None
        except BasisError as exc:
            _err(str(exc))
            raise typer.Exit(2) from None
    finally:
        signal.signal(signal.SIGTERM, previous)

    failed = outcome.table[outcome.table["status"] != "ok"]
    if as_json:
        payload = {
            "variants": len(outcome.table), "computed": outcome.computed, "reused": outcome.reused,
            "failed": outcome.failed, "metric": outcome.metric, "keys": outcome.keys,
            "files": {k: str(p) for k, p in outcome.files.items()},
            "failures": [{"variant": int(r["variant"]), "key": r["key"], "error": r["error"]}
                         for _, r in failed.iterrows()],
            "ranking": json.loads(outcome.ranking.head(TOP).to_json(orient="records")),
        }
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        console = Console()
        console.print(_ranking_table(outcome.ranking, outcome.metric, outcome.keys, TOP))
        console.print(f"{len(outcome.table)} variants: {outcome.computed} run now, {outcome.reused} from an earlier "
                      f"run, {outcome.failed} failed", markup=False)
        if outcome.picture_note:
            console.print(f"note: {outcome.picture_note}", markup=False)
        console.print(f"results: {out}/ ({', '.join(p.name for p in outcome.files.values())}); a variant's full "
                      f"report: basis backtest {out}/variants/KEY.yaml --out DIR", markup=False)
    if outcome.failed:
        for _, r in failed.iterrows():
            _err(f"variant {int(r['variant'])} ({r['key']}) failed: {r['error']}")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Register ``sweep`` on ``app``."""
    app.command("sweep")(sweep)
