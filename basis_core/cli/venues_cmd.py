"""``basis venues``: installed venue plugins (name, distribution, version, kind, operations) and load failures."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command("venues")
    def venues(as_json: bool = typer.Option(False, "--json", help="print JSON for scripts")) -> None:
        """List installed venue plugins."""
        from basis_core.data.provider import DataProvider
        from basis_core.manager import ExecutionInterfaceManager

        m = ExecutionInterfaceManager(data_provider=DataProvider(), execution_mode="backtest")
        rows = m.venues()
        failed = [f.__dict__ for f in m.discovery.failed]
        if as_json:
            typer.echo(json.dumps({"venues": rows, "failed": failed, "missing": m.discovery.missing}, indent=2))
            return
        console = Console()
        table = Table(title="basis-execution venues")
        for col in ("venue", "distribution", "version", "kind", "operations"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["name"], str(r["distribution"]), str(r["version"]), r["kind"], ", ".join(r["operations"]))
        console.print(table)
        for f in failed:
            console.print(f"[red]failed to load[/red] {f['name']} ({f['distribution']}): {f['error']}")
        for name in m.discovery.missing:
            console.print(f"[yellow]not installed[/yellow] {name}: pip install basis-venue-{name}")
