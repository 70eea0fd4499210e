"""The ``basis`` command line (typer + rich). Each command group lives in its own module.

Global options: ``--version``, ``-h`` / ``--help``, ``-v`` (info; ``-vv`` debug) or ``--log-level LEVEL``
(the library's log records go to stderr through one handler), ``--install-completion`` /
``--show-completion`` (bash, zsh, fish, PowerShell).

Exit status of every command: 0 success; 1 the operation failed (a typed error, reported on stderr);
2 bad usage (unknown option, invalid value or scenario); 3 ``backtest --fail-on-error`` saw failed
instructions; 4 ``run`` left an exposure unhedged; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import logging
from enum import StrEnum

import typer

app = typer.Typer(name="basis", help="basis-execution: execution layer for basis / delta-neutral trading.",
                  no_args_is_help=True, add_completion=True, pretty_exceptions_show_locals=False,
                  context_settings={"help_option_names": ["-h", "--help"]})


class LogLevel(StrEnum):
    """Log levels of ``--log-level``."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


_HANDLER_NAME = "basis-cli"


def configure_logging(level: int) -> logging.Handler:
    """One stderr handler on the ``basis_core`` logger at ``level`` (replaces the one a previous call set)."""
    logger = logging.getLogger("basis_core")
    for h in list(logger.handlers):
        if h.get_name() == _HANDLER_NAME:
            logger.removeHandler(h)
    handler = logging.StreamHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler


def _version(value: bool) -> None:
    if value:
        from basis_core import DISTRIBUTION, __version__

        typer.echo(f"basis ({DISTRIBUTION}) {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="print the version and exit"),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="more log output: -v info, -vv debug"),
    log_level: LogLevel | None = typer.Option(None, "--log-level", case_sensitive=False,
                                              help="log level (overrides -v); default: warning"),
) -> None:
    """basis-execution: execution layer for basis / delta-neutral trading."""
    if log_level is not None:
        level = getattr(logging, log_level.value.upper())
    else:
        level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    configure_logging(level)


def _register() -> None:
    from basis_core.cli import backtest_cmd, emulate_cmd, new_venue_cmd, run_cmd, status_cmd, sweep_cmd, venues_cmd

    for mod in (venues_cmd, backtest_cmd, emulate_cmd, new_venue_cmd, sweep_cmd, status_cmd, run_cmd):
        mod.register(app)
    from basis_core.cli import stress_cmd
    stress_cmd.register(app)


def main() -> None:
    """Console-script entry point."""
    _register()
    app()
