"""``basis emulate <venue> [--port N] [--json] [--replay FILE --speed N [--start ISO]]``: run a venue's local
emulator in the foreground, optionally replaying a price path (marks, funding) on an accelerated clock.

The emulator is found by importing ``basis_venue_<venue>.testing.emulator`` at run time (the core never
imports a plugin at module level) and taking its :class:`~basis_core.testing.http_emulator.EmulatorServer`
subclass. It gets fresh random **demo** credentials, printed with a ready ``venue_config`` snippet:
they only open this emulator, never a real account, and no real secret is ever read or printed.

Construction: a class method ``with_defaults(<credential params>, port=...)`` when the emulator has one
(its demo balances and prices); otherwise the constructor, given demo credentials by parameter name
(``api_key`` / ``api_secret``; ``master`` = the address of a random demo private key) and
``port``, plus demo balances for the well-known parameters ``perp_usdc`` / ``spot_balances``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import secrets
import sys
from decimal import Decimal
from typing import Any

import typer

#: Demo balances for emulators built through their constructor (parameter name -> value).
DEMO_BALANCES: dict[str, Any] = {
    "perp_usdc": Decimal(10_000),
    "spot_balances": {"USDC": Decimal(10_000), "ETH": Decimal(2)},
}


def find_emulator_class(venue: str) -> type:
    """The EmulatorServer subclass of ``basis_venue_<venue>.testing.emulator`` (typer.BadParameter if none)."""
    from basis_core.testing.http_emulator import EmulatorServer

    modname = f"basis_venue_{venue.replace('-', '_')}.testing.emulator"
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError as e:
        raise typer.BadParameter(
            f"no emulator for {venue!r} ({modname} is not importable: {e.msg}); "
            f"install the plugin: pip install basis-venue-{venue}", param_hint="VENUE") from None
    classes = [c for c in vars(mod).values()
               if isinstance(c, type) and issubclass(c, EmulatorServer) and c is not EmulatorServer
               and c.__module__ == mod.__name__]
    if len(classes) != 1:
        raise typer.BadParameter(f"{modname} defines {len(classes)} emulator classes; expected one",
                                 param_hint="VENUE")
    return classes[0]


def demo_credentials(params: list[str]) -> dict[str, str]:
    """Random demo credentials for the credential parameters among ``params``."""
    creds: dict[str, str] = {}
    if "api_key" in params:
        creds["api_key"] = "demo-" + secrets.token_hex(16)
    if "api_secret" in params:
        creds["api_secret"] = "demo-" + secrets.token_hex(24)
    if "master" in params or "private_key" in params:
        from eth_account import Account

        acct = Account.create()
        creds["private_key"] = "0x" + bytes(acct.key).hex()
        creds["wallet_address"] = str(acct.address)
    return creds


def build_emulator(venue: str, port: int) -> tuple[Any, dict[str, str]]:
    """An emulator of ``venue`` listening on ``port`` (0: ephemeral), not started, and its demo credentials."""
    cls = find_emulator_class(venue)
    factory = getattr(cls, "with_defaults", None)
    target = factory if callable(factory) else cls
    params = [p for p in inspect.signature(target).parameters if p not in ("self", "cls")]
    creds = demo_credentials(params)
    kwargs: dict[str, Any] = {}
    for p in params:
        if p in ("api_key", "api_secret", "private_key"):
            kwargs[p] = creds[p]
        elif p == "master":
            kwargs[p] = creds["wallet_address"]
        elif p == "port":
            kwargs[p] = port
        elif target is cls and p in DEMO_BALANCES:
            kwargs[p] = DEMO_BALANCES[p]
    return target(**kwargs), creds


def attach_replay(server: Any, venue: str, sources: list[str], speed: float, start: str | None) -> dict[str, Any]:
    """Make ``server`` follow the price path of ``sources`` (:func:`basis_core.testing.replay.load_replay`);
    returns what it follows (for the printed details). typer.BadParameter for an emulator that cannot replay
    or a source that cannot be read."""
    from basis_core.errors import BasisError
    from basis_core.testing.replay import load_replay
    from basis_core.timeutil import from_ns

    cannot = typer.BadParameter(f"the {venue} emulator cannot replay a price path", param_hint="--replay")
    if not callable(getattr(server, "attach_replay", None)):
        raise cannot
    try:
        rep = server.attach_replay(load_replay(sources), speed=speed, start=start)
    except NotImplementedError:  # an EmulatorServer that names no series to follow (replay_wanted)
        raise cannot from None
    except (BasisError, ValueError) as e:
        raise typer.BadParameter(str(e), param_hint="--replay") from None
    return {"speed": speed, "start": from_ns(rep.clock.start_ns).isoformat(),
            "end": from_ns(rep.end_ns).isoformat(), "series": sorted({f.series.name for f in rep.feeds})}


def register(app: typer.Typer) -> None:
    @app.command("emulate")
    def emulate(
        venue: str = typer.Argument(..., help="venue id, e.g. binance or hyperliquid"),
        port: int = typer.Option(0, "--port", min=0, max=65535, help="port on 127.0.0.1 (0: pick a free one)"),
        as_json: bool = typer.Option(False, "--json", help="print the connection details as one JSON line"),
        replay: list[str] = typer.Option(
            [], "--replay", help="replay a price path: a market CSV, a data directory, a klines / funding CSV, or "
                                 "'synthetic' (repeatable)"),
        speed: float = typer.Option(1.0, "--speed", min=0.0,
                                    help="with --replay: path seconds per wall second (3600: an hour a second)"),
        start: str | None = typer.Option(None, "--start", help="with --replay: path time to start at (ISO UTC)"),
    ) -> None:
        """Run a local, signature-checking emulator of VENUE in the foreground (Ctrl-C to stop)."""
        from basis_core.testing.http_emulator import serve_forever_cli

        server, creds = build_emulator(venue, port)
        replay_info = attach_replay(server, venue, replay, speed, start) if replay else None
        try:
            url = server.start()
        except OSError as e:
            raise typer.BadParameter(f"cannot listen on 127.0.0.1:{port}: {e.strerror}", param_hint="--port") from None
        cfg: dict[str, Any] = {**creds, "base_url": url, "enable_rate_limit": False}
        if as_json:
            extra = {"replay": replay_info} if replay_info else {}
            typer.echo(json.dumps({"venue": venue, "base_url": url, "port": server.port, "demo": True,
                                   "venue_config": {venue: cfg}, **extra}))
        else:
            typer.echo(f"basis emulate {venue}: serving on {url} (Ctrl-C to stop)")
            if replay_info:
                typer.echo(f"replaying {', '.join(replay_info['series'])} from {replay_info['start']} at "
                           f"{replay_info['speed']:g}x")
            typer.echo("demo credentials: they open this emulator only, never a real account")
            typer.echo("venue_config:")
            typer.echo(f"  {venue}:")
            for k, v in cfg.items():
                typer.echo(f"    {k}: {json.dumps(v)}")
        sys.stdout.flush()
        serve_forever_cli(server)  # start() is idempotent; stops the server on Ctrl-C
