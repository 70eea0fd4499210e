"""``basis status STATE_DIR [--json] [--recent N] [--venues CONFIG] [--serve PORT [--refresh S]]``.

Shows a paper / live run's state folder (written by ``basis run``): the run, equity and PnL since start split as the
backtest report splits it, positions by venue valued in USD, health factor and margin ratios, open orders, intents in
doubt and recent failures (:func:`basis_core.runstate.read_status`). Reads the folder read-only.
``--venues CONFIG`` also asks the venues of that manager configuration for their balances now. ``--serve PORT``
serves the same as a read-only web page on 127.0.0.1 (``0``: any free port; the URL is printed) until Ctrl-C or
SIGTERM. Exit status: 0; 1 the folder could not be read; 2 it is not a state folder or bad usage.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from basis_core.errors import BasisError, RunStateError


def _err(msg: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/bold red] {escape(msg)}")


def _usd(x: Any) -> str:
    return f"{float(x):,.2f}"


def _amount(x: Any) -> str:
    """An amount with at most 8 decimals (the JSON output keeps every digit)."""
    text = f"{float(x):,.8f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def print_status(st: Any, console: Console) -> None:
    """The rich rendering of a :class:`~basis_core.runstate.view.RunStatus`."""
    from basis_core.backtest.report import COMPONENT_LABELS

    reason = escape(str((st.stopped or {}).get("reason")))
    state = "[green]running[/green]" if st.running else f"[red]stopped[/red] ({reason})"
    head = Table(title=f"run: {escape(st.scenario)} ({escape(st.mode)}) in {escape(st.state_dir)}",
                 title_justify="left", show_header=False)
    head.add_column("")
    head.add_column("", justify="right")
    head.add_row("state", state)
    head.add_row("started", str(st.started or ""))
    head.add_row("last step", str(st.last_step or "none yet"))
    head.add_row("steps / runs", f"{st.steps} / {st.runs}")
    head.add_row("start equity (USD)", _usd(st.start_equity))
    head.add_row("equity (USD)", _usd(st.equity))
    head.add_row("PnL since start (USD)", _usd(st.pnl_total))
    head.add_section()
    for c, v in st.pnl.items():
        if v or c in ("price", "funding", "trading_fees"):
            head.add_row(f"  {COMPONENT_LABELS.get(c, c)} (USD)", _usd(v))
    console.print(head)
    for msg in st.unhedged:
        console.print(f"[bold red]UNHEDGED:[/bold red] {escape(msg)}")

    pos = Table(title="positions by venue", title_justify="left")
    for col in ("venue", "position", "amount", "value (USD)", "exposure (USD)"):
        pos.add_column(col, justify="left" if col in ("venue", "position") else "right", overflow="fold")
    for book in st.venues:
        pos.add_row(f"[bold]{escape(book.venue)}[/bold]", "", "", f"[bold]{_usd(book.value_usd)}[/bold]", "")
        for p in book.positions:
            pos.add_row("", escape(p.key.partition(":")[2]), _amount(p.amount), _usd(p.value_usd),
                        _usd(p.exposure_usd))
    console.print(pos if st.venues else "no positions")
    for venue, why in sorted(st.errors.items()):
        console.print(f"[yellow]not read at the last step[/yellow] {escape(venue)}: {escape(why)}")

    if st.risk:
        risk = Table(title="health factor and margin ratio", title_justify="left")
        risk.add_column("metric")
        risk.add_column("value", justify="right")
        for k, v in sorted(st.risk.items()):
            risk.add_row(escape(k), f"{v:.4f}")
        console.print(risk)
    orders = Table(title=f"open orders ({len(st.open_orders)})", title_justify="left")
    cols = ("venue", "order_id", "client_id", "symbol", "side", "amount", "price", "filled")
    for col in cols:
        orders.add_column(col.replace("_", " "))
    for o in st.open_orders:
        orders.add_row(*(escape(str(o.get(k, "") or "")) for k in cols))
    console.print(orders if st.open_orders else "no open order")
    for d in st.in_doubt:
        console.print(f"[yellow]in doubt[/yellow] {escape(d['venue'])} {escape(d['operation'])} "
                      f"{escape(str(d['client_id']))}: {escape(d['status'])} since {escape(d['since'])}")
    if st.failures:
        fails = Table(title=f"recent failures ({len(st.failures)})", title_justify="left")
        for col in ("time", "venue", "operation", "error"):
            fails.add_column(col)
        for f in st.failures:
            fails.add_row(escape(f["timestamp"]), escape(str(f["venue"])), escape(str(f["operation"])),
                          escape(str(f["error"])))
        console.print(fails)
    else:
        console.print("no failure")
    if st.events:
        events = Table(title=f"runner events ({len(st.events)}, newest first)", title_justify="left")
        for col in ("time", "kind", "message"):
            events.add_column(col, overflow="fold")
        for e in st.events:
            events.add_row(escape(str(e["at"] or "")), escape(e["kind"]), escape(e["message"]))
        console.print(events)
    for venue, now in st.venues_now.items():
        if "error" in now:
            console.print(f"[red]venue {escape(venue)} not reachable[/red]: {escape(now['error'])}")
        else:
            console.print(f"venue {escape(venue)} now: " + escape(", ".join(f"{k}={v}" for k, v in
                                                                         now["balances"].items())))


def _serve(state_dir: Path, port: int, refresh: float, recent: int) -> None:
    from basis_core.runstate.web import StatusServer

    server = StatusServer(state_dir, port, refresh=refresh, recent=recent)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    typer.echo(f"serving the status of {state_dir} at {server.url} (read-only; Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        state_dir: Path = typer.Argument(..., help="the run's state folder (basis run --state-dir)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON for scripts"),
        recent: int = typer.Option(20, "--recent", min=1, help="how many recent failures to show"),
        venues: Path | None = typer.Option(None, "--venues", help="a manager configuration (YAML / TOML): also "
                                           "ask its venues for their balances now"),
        serve: int | None = typer.Option(None, "--serve", min=0, max=65535, help="serve a read-only web page on "
                                         "127.0.0.1:PORT (0: any free port) instead of printing"),
        refresh: float = typer.Option(5.0, "--refresh", min=0.5, help="seconds between the page's refreshes"),
    ) -> None:
        """Show a paper / live run's positions, PnL, risk, open orders and failures."""
        from basis_core.runstate.view import read_status

        try:
            manager = None
            if venues is not None:
                from basis_core.config import load_settings
                from basis_core.manager import ExecutionInterfaceManager

                # only balances are read: a private in-memory journal, never the run's journal file
                manager = ExecutionInterfaceManager(load_settings(venues, journal_path=":memory:"))
            st = read_status(state_dir, recent=recent, manager=manager)
        except RunStateError as exc:
            _err(str(exc))
            raise typer.Exit(2) from None
        except BasisError as exc:
            _err(f"{type(exc).__name__}: {exc}")
            raise typer.Exit(1) from None
        if serve is not None:
            _serve(state_dir, serve, refresh, recent)
            return
        if as_json:
            typer.echo(json.dumps(st.to_dict(), indent=2))
            return
        print_status(st, Console())
