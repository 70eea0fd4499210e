"""``basis venues``: installed venue plugins (name, distribution, version, kind, operations) and failures.

A venue that fails to import, construct, configure or describe itself is listed as failed with the reason;
the command still exits 0 (the other venues work) and says how many failed.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command("venues")
    def venues(as_json: bool = typer.Option(False, "--json", help="print JSON for scripts")) -> None:
        """List installed venue plugins."""
        from basis_core.data.provider import DataProvider
        from basis_core.manager import ExecutionInterfaceManager

        m = ExecutionInterfaceManager(data_provider=DataProvider(), execution_mode="backtest")
        rows = m.venues()
        failed = m.discovery.to_dict()["failed"]
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
            console.print(f"[red]failed ({f['stage']})[/red] "
                          + escape(f"{f['name']} ({f['distribution']}): {f['error']}"), highlight=False)
        if failed:
            console.print(f"{len(failed)} venue(s) failed and are unavailable; the {len(rows)} listed above work.")
        for name in m.discovery.missing:
            console.print(f"[yellow]not installed[/yellow] {name}: pip install basis-venue-{name}")
