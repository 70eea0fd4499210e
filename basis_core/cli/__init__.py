"""The ``basis`` command line (typer + rich). Each command group lives in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(name="basis", help="basis-execution: execution layer for basis / delta-neutral trading.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)


def _show_version(value: bool) -> None:
    if value:
        from basis_core import DISTRIBUTION, __version__

        typer.echo(f"{DISTRIBUTION} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                       help="print the installed basis-execution version and exit")) -> None:
    """basis-execution: execution layer for basis / delta-neutral trading."""


def _register() -> None:
    from basis_core.cli import backtest_cmd, emulate_cmd, new_venue_cmd, venues_cmd

    for mod in (venues_cmd, backtest_cmd, emulate_cmd, new_venue_cmd):
        mod.register(app)


def main() -> None:
    """Console-script entry point."""
    _register()
    app()
