"""``basis new-venue NAME [--kind cex|dex|onchain] [--dest DIR]``: generate a venue plugin distribution.

The template is the copier template shipped in ``basis_core/templates/venue`` (rendered offline from
that local directory). The generated project has ``pyproject.toml`` with the ``basis_core.venues`` entry
point, the hooks of the chosen kind, a backtest simulator that passes the conformance kit, and tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import typer

from basis_core.errors import ConfigError

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "venue"
KINDS = ("cex", "dex", "onchain")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
Kind = Literal["cex", "dex", "onchain"]


def generate_venue(name: str, kind: str = "cex", dest: str | Path | None = None,
                   description: str | None = None) -> Path:
    """Render the venue template for ``name`` into ``dest`` (default ``./basis-venue-<name>``); return it.

    Raises :class:`ConfigError` for a bad name or kind, an existing non-empty destination, or a missing copier.
    """
    if not NAME_RE.match(name):
        raise ConfigError(f"name: {name!r} must match [a-z][a-z0-9_]{{0,39}} (lowercase, digits, underscores)")
    if kind not in KINDS:
        raise ConfigError(f"kind: {kind!r} must be one of {', '.join(KINDS)}")
    target = Path(dest) if dest is not None else Path.cwd() / f"basis-venue-{name.replace('_', '-')}"
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"dest: {target} exists and is not empty")
    try:
        from copier import run_copy
    except ImportError:  # pragma: no cover - copier is a test / dev dependency
        raise ConfigError("copier is not installed: pip install copier") from None
    data: dict[str, str] = {"name": name, "kind": kind}
    if description:
        data["description"] = description
    run_copy(str(TEMPLATE_DIR), str(target), data=data, defaults=True, quiet=True, overwrite=False,
             unsafe=False, skip_tasks=True)
    return target


def register(app: typer.Typer) -> None:
    """Register ``basis new-venue`` on ``app``."""

    @app.command("new-venue")
    def new_venue(
        name: str = typer.Argument(..., help="venue id: the entry-point name and the `venue` of instructions"),
        kind: str = typer.Option("cex", "--kind", help="cex | dex | onchain"),
        dest: Path | None = typer.Option(None, "--dest", help="directory to create (default ./basis-venue-NAME)"),
        description: str | None = typer.Option(None, "--description", help="one line describing the venue"),
    ) -> None:
        """Generate a venue plugin distribution that passes the conformance kit."""
        try:
            out = generate_venue(name, kind, dest, description)
        except ConfigError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"created {out}\nnext: pip install -e {out} && pytest {out}")
