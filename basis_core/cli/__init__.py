"""The ``basis`` command line (typer + rich). Each command group lives in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(name="basis", help="basis-core: execution layer for basis / delta-neutral trading.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)


@app.callback()
def _root() -> None:
    """basis-core: execution layer for basis / delta-neutral trading."""


def _register() -> None:
    from basis_core.cli import backtest_cmd, emulate_cmd, new_venue_cmd, sweep_cmd, venues_cmd

    for mod in (venues_cmd, backtest_cmd, emulate_cmd, new_venue_cmd, sweep_cmd):
        mod.register(app)


def main() -> None:
    """Console-script entry point."""
    _register()
    app()
