"""``basis stress``: the joint risk corridor of a position or a scenario's state, and every leg under named shocks.

- ``basis stress --balance K=V ... --instruction JSON ...``: a fresh backtest manager (synthetic market, or
  ``--data DIR``) executes the instructions at ``--at``, then the corridor of that position is printed;
- ``basis stress SCENARIO [--at TIMESTAMP]``: the scenario runs (backtest) until ``--at`` (default: its end) and the
  corridor of its final state is printed.

Then one row per leg and shock (``--shock NAME``, repeatable; default: a standard set; ``--list-shocks`` shows
them all): the health each venue reports under it, ``LIQUIDATED`` below 1. ``--json`` prints it all as JSON.
Exit status 1 when an instruction or the scenario fails (a typed error), 2 on bad usage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from basis_core.cli.backtest_cmd import _err, _parse_balances
from basis_core.errors import BasisError

DEFAULT_SHOCKS = ("eth-10", "eth-20", "eth-30", "eth+20", "eth+30", "depeg-5", "funding-flip", "borrow-spike", "crash")


def _pct(factor: Any) -> str:
    return "-" if factor is None else f"{(float(factor) - 1):+.1%}"


def _position(instructions: list[str], balances: dict[str, Any], at: str | None, data: Path | None,
              seed: int) -> tuple[Any, Any]:
    from basis_core.manager import ExecutionInterfaceManager
    from basis_core.timeutil import from_ns, to_utc

    if data is not None:
        from basis_core.data.loaders import load_data_dir
        provider = load_data_dir(data)
    else:
        from basis_core.data.synthetic import synthetic_market
        provider = synthetic_market(seed=seed)
    ts = to_utc(at) if at is not None else from_ns(provider.start_ns)
    m = ExecutionInterfaceManager({"execution_mode": "backtest", "initial_balances": balances},
                                  data_provider=provider, execution_mode="backtest")
    for ins in instructions:
        m.execute(ts, ins)
    return m, ts


def _scenario_state(scenario: str, at: str | None, data: Path | None) -> tuple[Any, Any]:
    from basis_core.backtest.runner import _scenario_source, run
    from basis_core.backtest.scenario import load_scenario
    from basis_core.cli.backtest_cmd import _with_period

    src = _scenario_source(scenario)
    sc = load_scenario(src) if not hasattr(src, "period") else src
    if at is not None:
        sc = _with_period(sc, None, at)
    result = run(sc, data_dir=data)
    assert result.manager is not None
    return result.manager, result.equity.index[-1]


def stress(
    scenario: str | None = typer.Argument(None, help="scenario (file or bundled name) whose final state to stress; "
                                          "omit to stress the position built by --balance / --instruction",
                                          show_default=False),
    instruction: list[str] = typer.Option([], "--instruction", "-i",
                                          help="instruction JSON executed at --at (repeatable)"),
    balance: list[str] = typer.Option([], "--balance", help="initial balance KEY=AMOUNT (repeatable)"),
    at: str | None = typer.Option(None, "--at", help="timestamp (position: when it is opened; scenario: the "
                                                     "last step)"),
    shock: list[str] = typer.Option([], "--shock", help="named shock (repeatable; see --list-shocks)"),
    list_shocks: bool = typer.Option(False, "--list-shocks", help="print the named shocks and exit"),
    data: Path | None = typer.Option(None, "--data", help="real market data directory (default: synthetic)"),
    seed: int = typer.Option(7, "--seed", help="seed of the synthetic market"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Print the joint risk corridor (the moves that liquidate each leg) and every leg under named shocks."""
    from basis_core.risk.corridor import corridor
    from basis_core.risk.corridor import stress as run_stress
    from basis_core.risk.shocks import NAMED_SHOCKS

    if list_shocks:
        for name, shk in NAMED_SHOCKS.items():
            typer.echo(f"{name}: {json.dumps(shk.to_dict())}")
        return
    names = list(shock) or list(DEFAULT_SHOCKS)
    unknown = [n for n in names if n not in NAMED_SHOCKS]
    if unknown:
        _err(f"--shock: unknown {', '.join(unknown)}; known: {', '.join(NAMED_SHOCKS)}")
        raise typer.Exit(2)
    if scenario is not None and instruction:
        _err("give a SCENARIO or --instruction, not both")
        raise typer.Exit(2)
    try:
        if scenario is not None:
            m, ts = _scenario_state(scenario, at, data)
        else:
            m, ts = _position(list(instruction), _parse_balances(balance), at, data, seed)
        c = corridor(m, ts)
        shocked = run_stress(m, ts, {n: NAMED_SHOCKS[n] for n in names})
    except BasisError as exc:
        _err(f"{type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    if as_json:
        out = c.to_dict()
        out["shocks"] = {n: [{"venue": s.venue, "leg": s.leg, "health": None if s.health is None else str(s.health),
                              "liquidated": s.liquidatable} for s in legs] for n, legs in shocked.items()}
        typer.echo(json.dumps(out, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title=f"risk corridor at {ts}", title_justify="left")
    for col in ("leg", "health", "ETH down", "liquidation below", "ETH up", "liquidation above", "LST depeg",
                f"funding APR ({c.horizon_hours} h)", f"borrow APR ({c.horizon_hours} h)"):
        t.add_column(col)
    for leg in c.legs:
        t.add_row(leg.leg, "-" if leg.health is None else f"{float(leg.health):.4f}", _pct(leg.eth_down),
                  ", ".join(f"{k} {float(v):,.2f}" for k, v in leg.liquidation_down.items()) or "-",
                  _pct(leg.eth_up), ", ".join(f"{k} {float(v):,.2f}" for k, v in leg.liquidation_up.items()) or "-",
                  ", ".join(f"{k} {_pct(v)}" for k, v in leg.depeg.items()) or "-",
                  "-" if leg.funding_apr is None else f"{float(leg.funding_apr):+.1%}",
                  "-" if leg.borrow_apr is None else f"{float(leg.borrow_apr):.1%}")
    console.print(t)
    move = c.eth_move
    console.print(f"joint: ETH {_pct(c.eth_down)} liquidates {c.nearest_leg_down or 'nothing'}; "
                  f"ETH {_pct(c.eth_up)} liquidates {c.nearest_leg_up or 'nothing'}; "
                  f"smallest liquidating move {'none' if move is None else f'{float(move):.1%}'}")
    st = Table(title="legs under named shocks (health; < 1 is liquidated)", title_justify="left")
    st.add_column("shock")
    legs = [leg.leg for leg in c.legs]
    for name in legs:
        st.add_column(name)
    for name, states in shocked.items():
        by_leg = {x.leg: x for x in states}
        cells = []
        for leg_name in legs:
            x = by_leg.get(leg_name)
            if x is None or x.health is None:
                cells.append("-")
            else:
                cells.append(("LIQUIDATED " if x.liquidatable else "") + f"{float(x.health):.4f}")
        st.add_row(name, *cells)
    console.print(st)


def register(app: typer.Typer) -> None:
    """Register ``stress`` on ``app``."""
    app.command("stress")(stress)
