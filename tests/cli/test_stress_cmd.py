"""``basis stress``: the corridor of a position built from balances and instructions, and the legs under named
shocks; the numbers are the library's (basis_core.risk.corridor) for the same position."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from basis_core.cli import _register, app

AT = "2025-03-01T00:00:00Z"
POSITION = ["--balance", "ethereum:wallet:wstETH=10", "--balance", "ethereum:wallet:ETH=1",
            "--balance", "hyperliquid:perp-margin:USDC=3000",
            "-i", '{"venue":"aave","operation":"supply","asset":"wstETH","amount":"10"}',
            "-i", '{"venue":"aave","operation":"borrow","asset":"USDC","amount":"15000"}',
            "-i", '{"venue":"hyperliquid","operation":"perp_trade","symbol":"ETH/USDC:USDC","side":"sell",'
                  '"amount":"12"}', "--at", AT]


def invoke(*args: str) -> tuple[int, str, str]:
    _register()
    r = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_stress_prints_the_corridor_of_a_position_and_its_legs_under_shocks() -> None:
    code, out, _ = invoke("stress", *POSITION, "--shock", "eth-20", "--shock", "eth+20", "--json")
    assert code == 0
    got = json.loads(out)
    assert got["nearest_leg_down"] == "aave:account" and got["nearest_leg_up"] == "hyperliquid:perp-margin:USDC"
    assert Decimal("0.8") < Decimal(got["eth_down"]) < Decimal("0.9") < Decimal("1.1") < Decimal(got["eth_up"])
    liq = {n: {x["leg"]: x["liquidated"] for x in legs} for n, legs in got["shocks"].items()}
    assert liq == {"eth-20": {"aave:account": True, "hyperliquid:perp-margin:USDC": False},
                   "eth+20": {"aave:account": False, "hyperliquid:perp-margin:USDC": True}}
    code, table, _ = invoke("stress", *POSITION)
    assert code == 0 and "liquidates aave:account" in table and "LIQUIDATED" in table


def test_stress_refuses_an_unknown_shock_before_doing_anything() -> None:
    code, _, err = invoke("stress", *POSITION, "--shock", "meteor")
    assert code == 2 and "--shock: unknown meteor" in err
