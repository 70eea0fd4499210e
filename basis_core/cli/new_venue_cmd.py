"""``basis new-venue NAME [--kind cex|amm|lending|staking] [--dest DIR]``: generate a venue plugin distribution.

The template in ``basis_core/templates/venue/template`` is rendered with Jinja2 (a core dependency: no copier
needed, works after a plain ``pip install``): paths and ``*.jinja`` files are rendered with ``name``, ``kind``,
``description``, ``package`` and ``class_name``; a file that renders empty is not written (kind-specific files).
The generated project holds no absolute path. It has ``pyproject.toml`` with the ``basis_core.venues`` entry
point, the hooks of the chosen kind, a backtest on the core's building blocks that passes the conformance kit,
a market-data contribution, and tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import typer

from basis_core.errors import ConfigError

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "venue" / "template"
KINDS = ("cex", "amm", "lending", "staking")
#: earlier kind names, still accepted
KIND_ALIASES = {"dex": "amm", "onchain": "lending"}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
Kind = Literal["cex", "amm", "lending", "staking"]


def template_context(name: str, kind: str, description: str | None = None) -> dict[str, str]:
    """The variables the template sees."""
    kind = KIND_ALIASES.get(kind, kind)
    return {"name": name, "kind": kind, "package": f"basis_venue_{name}",
            "class_name": name.replace("_", " ").title().replace(" ", "") + "Venue",
            "description": description or f"{name} venue plugin for basis-core ({kind})"}


def generate_venue(name: str, kind: str = "cex", dest: str | Path | None = None,
                   description: str | None = None) -> Path:
    """Render the venue template for ``name`` into ``dest`` (default ``./basis-venue-<name>``); return it.

    Raises :class:`ConfigError` for a bad name or kind, or an existing non-empty destination.
    """
    import jinja2

    if not NAME_RE.match(name):
        raise ConfigError(f"name: {name!r} must match [a-z][a-z0-9_]{{0,39}} (lowercase, digits, underscores)")
    if KIND_ALIASES.get(kind, kind) not in KINDS:
        raise ConfigError(f"kind: {kind!r} must be one of {', '.join(KINDS)}")
    target = Path(dest) if dest is not None else Path.cwd() / f"basis-venue-{name.replace('_', '-')}"
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"dest: {target} exists and is not empty")
    ctx = template_context(name, kind, description)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    files: dict[Path, str | bytes] = {}
    for src in sorted(TEMPLATE_DIR.rglob("*")):
        if src.is_dir() or "__pycache__" in src.parts:
            continue
        rel = env.from_string(str(src.relative_to(TEMPLATE_DIR))).render(ctx)
        if src.suffix == ".jinja":
            text = env.from_string(src.read_text()).render(ctx)
            if not text.strip():
                continue  # a file of another kind
            files[Path(rel[: -len(".jinja")])] = text
        else:
            files[Path(rel)] = src.read_bytes()
    for rel_path, content in files.items():
        out = target / rel_path
        out.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            out.write_bytes(content)
        else:
            out.write_text(content)
    return target



def register(app: typer.Typer) -> None:
    """Register ``basis new-venue`` on ``app``."""

    @app.command("new-venue")
    def new_venue(
        name: str = typer.Argument(..., help="venue id: the entry-point name and the `venue` of instructions"),
        kind: str = typer.Option("cex", "--kind", help="cex | amm | lending | staking (dex / onchain: earlier names)"),
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
