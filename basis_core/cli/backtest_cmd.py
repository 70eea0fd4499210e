"""``basis backtest``, ``basis execute`` and ``basis scenario validate``.

- ``basis backtest [SCENARIO.yaml] [--data DIR] [--out DIR] [--json] [--strategy REF [--param K=V]]
  [--fail-on-error]``: run a scenario (default: the bundled one on the synthetic market), show progress on
  stderr (a bar on a terminal, else a line with rate and ETA every ``--progress-every`` seconds), then the
  summary table (or the summary as JSON), and write the report files into ``--out`` (checked first).
- ``basis execute --mode backtest --at TIMESTAMP 'INSTRUCTION-JSON'``: one instruction's deltas as JSON.
- ``basis scenario validate FILE``: check a scenario file (errors name the line and the field).
"""

from __future__ import annotations

import json
import os
import sys
import time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from basis_core.errors import BasisError

DEFAULT_OUT = Path("backtest-report")


class HistoryFormat(StrEnum):
    """File format of history and executions."""

    parquet = "parquet"
    csv = "csv"


def check_venue_config(sc: Any) -> None:
    """Raise :class:`~basis_core.errors.ConfigError` for a ``venue_config`` key an installed venue does not
    declare (the check its manager makes at configure, made before any data is read); venues not installed are
    left to the run, which reports them."""
    from basis_core.discovery import discover_venues
    from basis_core.interfaces import check_settings_keys

    if not sc.venue_config:
        return
    for v in discover_venues(names=list(sc.venue_config)).loaded:
        known = getattr(v.plugin_class, "settings_options", None)
        if isinstance(known, frozenset):
            check_settings_keys(v.name, sc.venue_config.get(v.name) or {}, known)


def _err(msg: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/bold red] {escape(msg)}",
                                                                markup=True)


def _parse_balances(items: list[str]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for item in items:
        key, sep, amount = item.rpartition("=")
        if not sep or key.count(":") < 2:
            raise typer.BadParameter(f"{item!r}: expected KEY=AMOUNT, e.g. binance:spot:USDT=10000",
                                     param_hint="--balance")
        try:
            out[key.strip()] = Decimal(amount.strip())
        except InvalidOperation:
            raise typer.BadParameter(f"{item!r}: {amount!r} is not a number", param_hint="--balance") from None
    return out


def _parse_params(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values read as YAML (numbers stay exact Decimals, like scenario files)."""
    import yaml

    from basis_core.backtest.scenario import _Loader

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r}: expected KEY=VALUE, e.g. capital=50000", param_hint="--param")
        try:
            out[key.strip()] = yaml.load(value, Loader=_Loader)  # a SafeLoader subclass
        except yaml.YAMLError:
            raise typer.BadParameter(f"{item!r}: {value!r} is not a value", param_hint="--param") from None
    return out


def _check_out(out: Path) -> None:
    """``--out`` must be a writable directory (created if missing): checked before the run, not after it."""
    if out.exists() and not out.is_dir():
        raise BasisError(f"--out: {out} exists and is not a directory")
    probe_dir = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not os.access(probe_dir, os.W_OK):
        raise BasisError(f"--out: {probe_dir} is not writable")


class _LineProgress:
    """Progress as periodic log lines (stderr is not a terminal): steps done, rate and ETA, every ``every`` s."""

    def __init__(self, name: str, every: float = 10.0) -> None:
        self.name = name
        self.every = every
        self.t0 = time.monotonic()
        self.last = self.t0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every and done < total:
            return
        self.last = now
        elapsed = now - self.t0
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("nan")
        typer.echo(f"backtest {self.name}: {done}/{total} steps ({done / total:.0%}), {rate:,.0f} steps/s, "
                   f"elapsed {elapsed:.0f} s, ETA {eta:.0f} s", err=True)


def _with_period(sc: Any, start: str | None, end: str | None) -> Any:
    """``sc`` with its period's start / end replaced (``--start`` / ``--end``); a bad date is a ScenarioError."""
    from basis_core.backtest.scenario import load_scenario

    merged = sc.model_dump(exclude={"source_path"})
    for key, value in (("start", start), ("end", end)):
        if value is not None:
            merged["period"][key] = value
    return load_scenario(merged).model_copy(update={"source_path": sc.source_path})


def backtest(
    scenario: str | None = typer.Argument(None, help="scenario YAML file, or the name of a bundled scenario "
                                         "(default, cash_and_carry, staked_basis ...); default: 'default'",
                                         show_default=False),
    data: Path | None = typer.Option(None, "--data",
                                     help="directory of real market data files (../shared/data format)"),
    out: Path = typer.Option(DEFAULT_OUT, "--out",
                             help="directory for summary.json, history, executions, equity.png, positions.png, "
                                  "report.html"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON (no table, no progress bar)"),
    fmt: HistoryFormat | None = typer.Option(None, "--format", help="history format (default: the scenario's)"),
    strategy: str | None = typer.Option(
        None, "--strategy", help="run this strategy instead of the scenario's: path/to/file.py:ClassName, "
                                 "package.module:ClassName, an installed entry point or a built-in name"),
    param: list[str] = typer.Option([], "--param", help="parameter of --strategy, KEY=VALUE (repeatable)"),
    balance: list[str] = typer.Option([], "--balance", help="initial balance KEY=AMOUNT added to the scenario's "
                                                            "(repeatable), e.g. binance:spot:USDT=10000"),
    fail_on_error: bool = typer.Option(False, "--fail-on-error",
                                       help="exit with status 3 when any instruction failed (report still written)"),
    html: bool = typer.Option(True, "--html/--no-html", help="write report.html (needs plotly)"),
    progress_every: float = typer.Option(10.0, "--progress-every", min=0.1,
                                         help="seconds between progress lines when stderr is not a terminal"),
    start: str | None = typer.Option(None, "--start", help="first step instead of the scenario's, e.g. 2025-03-01"),
    end: str | None = typer.Option(None, "--end", help="last step instead of the scenario's, e.g. 2025-01-08 "
                                                      "(a short run of the default scenario)"),
    corridor: bool = typer.Option(False, "--corridor", help="record the joint risk corridor (ETH moves that "
                                                            "liquidate a leg) and chart it in the report"),
) -> None:
    """Run a backtest scenario and write its report.

    Exit status: 0 ok; 1 the run failed; 2 bad usage or an invalid scenario; 3 instructions failed and
    --fail-on-error was given; 130 interrupted (Ctrl-C: the partial report is written).
    """
    from basis_core.backtest.report import report_extra_note, summary_table, write_report
    from basis_core.backtest.runner import run
    from basis_core.backtest.scenario import load_scenario, resolve_scenario

    if param and strategy is None:
        raise typer.BadParameter("--param needs --strategy", param_hint="--param")
    params = _parse_params(param)
    extra = _parse_balances(balance)
    try:
        _check_out(out)
        sc = load_scenario(resolve_scenario(scenario))
        if extra:
            merged_balances = dict(sc.initial_balances)
            for k, v in extra.items():
                merged_balances[k] = merged_balances.get(k, Decimal(0)) + v
            sc = sc.model_copy(update={"initial_balances": merged_balances})
        if start is not None or end is not None:
            sc = _with_period(sc, start, end)
        if strategy is not None:
            from basis_core.backtest.strategies.loader import load_strategy

            cls = load_strategy(strategy)
            merged = sc.model_dump(exclude={"source_path"})
            merged["strategies"] = [{"name": strategy, "params": params}]
            try:
                cls.Params.model_validate(params)
            except Exception as exc:
                raise BasisError(f"--param: {exc}") from None
            sc = load_scenario(merged).model_copy(update={"source_path": sc.source_path})
        if data is not None and not data.is_dir():
            raise BasisError(f"--data: {data} is not a directory")
        check_venue_config(sc)
    except BasisError as exc:
        _err(str(exc))
        raise typer.Exit(2) from None

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    err_console = Console(stderr=True)
    tty = sys.stderr.isatty()
    show = not as_json and tty
    progress = Progress(TextColumn("[bold]backtest[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("steps"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), console=err_console,
                        disable=not show, transient=True)
    lines = None if tty else _LineProgress(sc.name, progress_every)
    try:
        with progress:
            task = progress.add_task(sc.name, total=None, rate="")
            t0 = time.monotonic()

            def on_progress(done: int, total: int) -> None:
                elapsed = time.monotonic() - t0
                rate = f"{done / elapsed:,.0f} steps/s" if elapsed > 0 else ""
                progress.update(task, completed=done, total=total, rate=rate)
                if lines is not None:
                    lines(done, total)

            result = run(sc, data_dir=data, progress=on_progress, corridor=corridor)
    except BasisError as exc:
        _err(str(exc))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        _err("interrupted before the first step: no report")
        raise typer.Exit(130) from None
    if show:
        with err_console.status(f"writing the report to {out}/"):
            files = write_report(result, out, fmt=fmt.value if fmt else None, html=html)
    else:
        files = write_report(result, out, fmt=fmt.value if fmt else None, html=html)
    if as_json:
        payload = dict(result.summary)
        payload["files"] = {k: str(v) for k, v in files.items()}
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        console = Console()
        console.print(summary_table(result.summary))
        console.print(f"report: {out}/ ({', '.join(p.name for p in files.values())})")
    note = report_extra_note(parquet=files["history"].suffix == ".csv" and (
        fmt.value if fmt else sc.report.history_format) == "parquet", html=html)
    if note:  # without the report extra: say in one line how to get the charts
        from rich.markup import escape

        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[yellow]note:[/yellow] {escape(note)}")
    if result.interrupted:
        _err(f"interrupted: partial report written to {out}/")
        raise typer.Exit(130)
    failed = result.summary.get("failures", {}).get("count", 0)
    if fail_on_error and failed:
        first = result.summary["failures"]["first"][0]
        _err(f"{failed} instruction(s) failed; first: {first['timestamp']} {first['venue']} {first['operation']}: "
             f"{first['error']}")
        raise typer.Exit(3)


def execute(
    instruction: str = typer.Argument(..., help="the instruction as JSON, e.g. "
                                      "'{\"venue\":\"binance\",\"operation\":\"spot_trade\",...}'"),
    mode: str = typer.Option("backtest", "--mode", help="execution mode (backtest)"),
    at: str | None = typer.Option(None, "--at", help="timestamp, e.g. 2025-03-01T12:00:00Z (default: market start)"),
    data: Path | None = typer.Option(None, "--data", help="real market data directory (default: synthetic market)"),
    seed: int = typer.Option(7, "--seed", help="seed of the synthetic market"),
    balance: list[str] = typer.Option([], "--balance",
                                      help="initial balance KEY=AMOUNT (repeatable), e.g. binance:spot:USDT=10000"),
) -> None:
    """Execute one instruction in a fresh backtest and print its deltas as JSON."""
    from basis_core.manager import ExecutionInterfaceManager
    from basis_core.timeutil import from_ns

    if mode != "backtest":
        _err("--mode: only 'backtest' is supported on the command line; live execution goes through the "
             "Python API with credentials configured")
        raise typer.Exit(2)
    balances = _parse_balances(balance)
    try:
        if data is not None:
            from basis_core.data.loaders import load_data_dir

            provider = load_data_dir(data)
        else:
            from basis_core.data.synthetic import synthetic_market

            provider = synthetic_market(seed=seed)
        ts: Any = at if at is not None else from_ns(provider.start_ns)
        m = ExecutionInterfaceManager({"execution_mode": "backtest", "initial_balances": balances},
                                      data_provider=provider, execution_mode="backtest")
        deltas = m.execute(ts, instruction)
    except BasisError as exc:
        payload = {"error": type(exc).__name__, "field": getattr(exc, "field", None),
                   "reason": getattr(exc, "reason", str(exc)), "message": str(exc)}
        typer.echo(json.dumps(payload, indent=2), err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(deltas.to_dict(), indent=2, default=str))


scenario_app = typer.Typer(help="Scenario files: validate, list strategies.", no_args_is_help=True)


@scenario_app.command("validate")
def validate(file: Path = typer.Argument(..., help="scenario YAML file")) -> None:
    """Validate a scenario file; errors name the line and the field."""
    from basis_core.backtest.scenario import load_scenario

    try:
        sc = load_scenario(file)
        check_venue_config(sc)
    except BasisError as exc:
        _err(str(exc))
        raise typer.Exit(1) from None
    p = sc.period
    what = [s.name for s in sc.strategies]
    typer.echo(f"ok: {file}: scenario {sc.name!r}, market {sc.market.source}"
               f"{f' (seed {sc.market.seed})' if sc.market.source == 'synthetic' else f' ({sc.market.data_dir})'}, "
               f"period {p.start.isoformat() if p.start is not None else 'market start'} .. "
               f"{p.end.isoformat() if p.end is not None else 'market end'} every {p.step}, "
               f"{len(sc.initial_balances)} balances, strategies: {', '.join(what) or 'none'}, "
               f"{len(sc.schedule)} scheduled instructions")


@scenario_app.command("strategies")
def strategies(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """The built-in strategies and their parameters."""
    from basis_core.backtest.strategies import describe

    desc = describe()
    if as_json:
        typer.echo(json.dumps(desc, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for name, rows in desc.items():
        t = Table(title=name, title_justify="left")
        for col in ("parameter", "default", "description"):
            t.add_column(col)
        for r in rows:
            t.add_row(r["name"], str(r["default"]), r["description"])
        console.print(t)


def register(app: typer.Typer) -> None:
    """Register ``backtest``, ``execute`` and the ``scenario`` group on ``app``."""
    app.command("backtest")(backtest)
    app.command("execute")(execute)
    app.add_typer(scenario_app, name="scenario")
