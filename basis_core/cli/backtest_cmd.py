"""``basis backtest``, ``basis execute`` and ``basis scenario validate``.

- ``basis backtest [SCENARIO.yaml] [--data DIR] [--out DIR] [--json]``: run a scenario (default: the
  bundled one on the synthetic market), show a progress bar on stderr, then the summary table (or the
  summary as JSON), and write the report files into ``--out``.
- ``basis execute --mode backtest --at TIMESTAMP 'INSTRUCTION-JSON'``: one instruction's deltas as JSON.
- ``basis scenario validate FILE``: check a scenario file (errors name the line and the field).
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer

from basis_core.errors import BasisError

DEFAULT_OUT = Path("backtest-report")


def _err(msg: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/bold red] {msg}", markup=True)


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


def backtest(
    scenario: str | None = typer.Argument(None, help="scenario YAML file, or the name of a bundled scenario "
                                         "(default, cash_and_carry, staked_basis ...); default: 'default'",
                                         show_default=False),
    data: Path | None = typer.Option(None, "--data",
                                     help="directory of real market data files (../shared/data format)"),
    out: Path = typer.Option(DEFAULT_OUT, "--out",
                             help="directory for summary.json, history, equity.png, positions.png"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON (no table, no progress bar)"),
    fmt: str | None = typer.Option(None, "--format", help="history format: parquet or csv (default: the scenario's)"),
) -> None:
    """Run a backtest scenario and write its report."""
    from basis_core.backtest.report import report_extra_note, summary_table, write_report
    from basis_core.backtest.runner import run
    from basis_core.backtest.scenario import load_scenario, resolve_scenario

    if fmt is not None and fmt not in ("parquet", "csv"):
        raise typer.BadParameter("must be parquet or csv", param_hint="--format")
    try:
        sc = load_scenario(resolve_scenario(scenario))
        if data is not None and not data.is_dir():
            raise BasisError(f"--data: {data} is not a directory")
    except BasisError as exc:
        _err(str(exc))
        raise typer.Exit(2) from None

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    err_console = Console(stderr=True)
    show = not as_json and sys.stderr.isatty()
    progress = Progress(TextColumn("[bold]backtest[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("steps"), TimeElapsedColumn(), console=err_console, disable=not show,
                        transient=True)
    try:
        with progress:
            task = progress.add_task(sc.name, total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            result = run(sc, data_dir=data, progress=on_progress)
    except BasisError as exc:
        _err(str(exc))
        raise typer.Exit(1) from None
    if show:
        with err_console.status(f"writing the report to {out}/"):
            files = write_report(result, out, fmt=fmt)
    else:
        files = write_report(result, out, fmt=fmt)
    note = report_extra_note(parquet=(fmt or sc.report.history_format) == "parquet")
    if note:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[yellow]note:[/yellow] {note}")
    if as_json:
        payload = dict(result.summary)
        payload["files"] = {k: str(v) for k, v in files.items()}
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    console = Console()
    console.print(summary_table(result.summary))
    console.print(f"report: {out}/ ({', '.join(p.name for p in files.values())})")


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
