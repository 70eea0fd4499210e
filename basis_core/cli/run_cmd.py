"""``basis run SCENARIO --mode paper|live --state DIR``: a scenario's strategies on the wall clock.

Options: ``--data`` (market data: ``live`` = the venues' live reads, the default; or a replayed path: a market CSV,
a data directory, ``synthetic``), ``--steps N`` / ``--until TS`` (when to stop; default: run until stopped),
``--max-age D`` (a value older than D on the run's clock, live or replayed, is stale: its steps are skipped;
default 60s), ``--start TS --speed N`` (an accelerated clock, to follow ``basis emulate --replay ... --speed N
--start TS``),
``--gap skip|catch-up`` (after the clock jumped past whole steps), ``--json`` (the final state as JSON).

SIGINT / SIGTERM finish the step in flight, flush the journal, save the state and print it (a second signal
interrupts at once). Running again with the same ``--state`` resumes.

Exit status: 0 finished or stopped cleanly; 1 a typed error stopped the run (pre-flight problems are listed);
2 bad usage; 4 an exposure was left unhedged (logged and in the state).
"""

from __future__ import annotations

import json
import signal
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from basis_core.errors import BasisError
from basis_core.live.market_data import DEFAULT_MAX_AGE

EXIT_UNHEDGED = 4


class Mode(StrEnum):
    """``basis run`` modes."""

    paper = "paper"
    live = "live"


class Gap(StrEnum):
    """What to do with whole steps missed after the clock jumped forward."""

    skip = "skip"
    catch_up = "catch-up"


def market_data(source: str, scenario: Any, mode: str, max_age: str | None = DEFAULT_MAX_AGE) -> Any:
    """The run's market data: ``live`` (the venues' live reads, :func:`basis_core.data.live.live_data_provider`; a
    venue that cannot be read leaves its values to age: the steps that need them are skipped as stale), or a
    replayed path (:func:`basis_core.testing.replay.load_replay`). Either way a value older than ``max_age`` (run
    clock time; None: no bound) is stale: a file's rows age once they stop as a venue's values do."""
    if source == "live":
        from basis_core.data.live import live_data_provider

        return live_data_provider(scenario, mode=mode, on_venue_error="skip", max_age=max_age)
    from basis_core.testing.replay import load_replay

    return load_replay(source, max_age=max_age)


def _print(result: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    console.print(f"run {result.status}: {result.steps} step(s) done ({result.steps_this_run} in this process"
                  f"{', resumed' if result.resumed else ''}), {result.skipped_steps} skipped; state in "
                  f"{result.state_dir}")
    table = Table("position", "amount")
    for k, v in sorted(result.positions.items()):
        table.add_row(k, str(v))
    console.print(table)
    for msg in result.unhedged:
        console.print(f"[bold red]UNHEDGED:[/bold red] {msg}", markup=True)
    if result.error:
        console.print(f"[bold red]error:[/bold red] {result.error}", markup=True)
        for p in result.problems:
            console.print(f"  - {p}")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        scenario: str = typer.Argument(..., help="scenario file or bundled scenario name (as basis backtest)"),
        mode: Mode = typer.Option(..., "--mode", help="paper: simulated fills on live data; live: real orders"),
        state: Path = typer.Option(..., "--state", help="state folder (created; an earlier run's folder resumes)"),
        data: str = typer.Option("live", "--data", help="market data: live, or a replayed path (market CSV, data "
                                                        "directory, 'synthetic')"),
        max_age: str = typer.Option(DEFAULT_MAX_AGE, "--max-age", help="market data older than this (run clock) is "
                                    "stale: its steps are skipped; 'none': no bound"),
        steps: int | None = typer.Option(None, "--steps", min=1, help="stop after N steps in this process"),
        until: str | None = typer.Option(None, "--until", help="stop before the first step after this time (UTC)"),
        start: str | None = typer.Option(None, "--start", help="accelerated clock: start at this time (UTC)"),
        speed: float = typer.Option(1.0, "--speed", min=0.0, help="with --start: clock seconds per wall second"),
        gap: Gap = typer.Option(Gap.skip, "--gap", help="whole steps missed after a clock jump: skip or catch-up"),
        as_json: bool = typer.Option(False, "--json", help="print the final state as JSON"),
    ) -> None:
        """Run SCENARIO's strategies in paper or live mode on the wall clock, one step every period.step."""
        from basis_core.backtest.runner import _scenario_source
        from basis_core.backtest.scenario import Scenario, load_scenario
        from basis_core.run.clock import ScaledClock, SystemClock
        from basis_core.run.loop import Runner
        from basis_core.timeutil import to_ns

        try:
            src = _scenario_source(scenario)
            sc = src if isinstance(src, Scenario) else load_scenario(src)
        except BasisError as exc:
            raise typer.BadParameter(str(exc), param_hint="SCENARIO") from None
        try:
            clock = ScaledClock(to_ns(start), speed) if start is not None else SystemClock()
            provider = market_data(data, sc, mode.value, None if max_age.lower() == "none" else max_age)
            runner = Runner(sc, mode=mode.value, state_dir=state, data_provider=provider, clock=clock, steps=steps,
                            until=until, gap_policy="catch_up" if gap is Gap.catch_up else "skip")
        except (BasisError, ValueError) as exc:
            from basis_core.cli.backtest_cmd import _err

            _err(f"{type(exc).__name__}: {exc}")
            raise typer.Exit(1) from None

        def stop(signum: int, _frame: Any) -> None:
            runner.request_stop(f"signal {signal.Signals(signum).name}")
            signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            result = runner.run()
        except BasisError as exc:
            from basis_core.cli.backtest_cmd import _err

            _err(f"{type(exc).__name__}: {exc}")
            raise typer.Exit(1) from None
        _print(result, as_json)
        if result.status == "failed":
            raise typer.Exit(1)
        if result.unhedged:
            raise typer.Exit(EXIT_UNHEDGED)
