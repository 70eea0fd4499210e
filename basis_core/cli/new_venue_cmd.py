"""CLI command module (placeholder until its feature lands): registers nothing yet."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Register this module's commands on app."""
