"""The README's proof: a staked basis that borrows its hedge's margin, through a 30 % ETH drop. With the corridor it
is warned and de-levers in time (USDT moved back from the exchange, a timed transfer, then repaid); without it, the
same book is liquidated by Aave. Synthetic crash here; the real early-August 2024 sell-off when ../shared/data is
present (marker ``realdata``). And capital in transit: a transfer too slow for the warning ends in liquidation."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from basis_core.backtest.runner import BacktestResult, run
from basis_core.data.provider import DataProvider
from basis_core.data.synthetic import SyntheticSpec, synthetic_market
from basis_core.risk.scenarios import eth_crash

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("corridor_staked_basis", ROOT / "examples" / "corridor_staked_basis.py")
assert _spec is not None and _spec.loader is not None
example = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = example  # pydantic resolves the params' annotations through the module
_spec.loader.exec_module(example)

BALANCES = {"ethereum:wallet:ETH": "100", "binance:futures:USDT": "30000"}


def scenario(start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"name": "corridor-proof", "period": {"start": start, "end": end, "step": "1h"},
            "venues": ["binance", "aave", "lido"], "initial_balances": BALANCES, **extra}


@functools.cache
def crash() -> DataProvider:
    base = synthetic_market(SyntheticSpec(start="2025-01-01T00:00:00Z", hours=24 * 5))
    return eth_crash(base, "2025-01-02T12:00:00Z", "0.3", hours=24)


def backtest(use_corridor: bool, **extra: Any) -> BacktestResult:
    s = example.CorridorStakedBasis({"use_corridor": use_corridor})
    return run(scenario("2025-01-02T00:00:00Z", "2025-01-04T12:00:00Z", **extra), data_provider=crash(),
               strategies=[s], corridor=use_corridor)  # recorded where it is read (the warned run)


def liquidations(r: BacktestResult) -> list[str]:
    ex = r.executions
    return list(ex[ex["operation"] == "liquidation"]["venue"])


@functools.cache
def both() -> tuple[BacktestResult, BacktestResult]:
    return backtest(True), backtest(False)


def test_with_the_corridor_the_book_is_warned_and_de_levers_before_the_drop_liquidates_it() -> None:
    warned, blind = both()
    assert liquidations(blind) == ["aave"] and blind.totals["liquidation"] < 0
    assert liquidations(warned) == [] and warned.totals["liquidation"] == 0
    notes = warned.summary["notes"]
    assert any("corridor warning" in n and "aave:account" in n for n in notes)
    assert any("repaid" in n for n in notes)
    assert warned.end_equity > blind.end_equity
    down = 1 - warned.risk["corridor:eth_down"].dropna()  # the drop that liquidates the first leg
    assert down.min() < 0.12 < down.iloc[0]  # it narrowed to the warning, then widened again
    assert down.iloc[-1] > 0.2


def test_the_repayment_waits_for_the_transfer_and_its_fee_is_in_the_pnl() -> None:
    warned, _ = both()
    ex = warned.executions
    moves = ex[ex["operation"] == "move"]
    back = moves.iloc[-1]  # the de-levering transfer: exchange -> wallet
    assert back["positions"].startswith('{"binance:futures:USDT": "-')
    arrival = ex[(ex["operation"] == "arrival") & (ex["order_id"] == back["order_id"])].iloc[0]
    repay = ex[ex["operation"] == "repay"].iloc[0]
    assert repay["timestamp"] >= arrival["timestamp"] >= back["timestamp"] + pd.Timedelta(seconds=744)
    assert back["pnl_trading_fees"] == -1.0  # the route's 1 USDT withdrawal fee


def test_a_transfer_slower_than_the_warning_arrives_too_late_and_the_pnl_shows_it() -> None:
    warned, _ = both()
    # the same scenario, but withdrawals from the exchange take 12 hours to process
    slow = backtest(True, settings={"transit_routes": {"binance:futures->ethereum:wallet":
                                                           {"processing_seconds": 43_200}}})
    assert liquidations(slow) == ["aave"]
    assert any("corridor warning" in n for n in slow.summary["notes"])
    assert slow.end_equity < warned.end_equity


REAL = next((p for p in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data") if p.is_dir()),
            None)


@pytest.mark.realdata
def test_the_real_august_2024_sell_off() -> None:
    if REAL is None:
        pytest.skip("real market data (../shared/data) not found")
    from basis_core.data.loaders import load_data_dir

    market = load_data_dir(REAL)
    sc = scenario("2024-08-01T00:00:00Z", "2024-08-09T00:00:00Z")
    out = {use: run(sc, data_provider=market, strategies=[example.CorridorStakedBasis({"use_corridor": use})],
                    corridor=use) for use in (True, False)}
    assert liquidations(out[False]) == ["aave"] and liquidations(out[True]) == []
    assert out[True].end_equity > out[False].end_equity
