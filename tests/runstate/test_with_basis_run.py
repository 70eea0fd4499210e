"""What ``basis run`` (paper mode, :class:`basis_core.run.Runner`) leaves in its state folder is what ``basis status``
shows: the PnL split of a run stopped and resumed is the uninterrupted backtest's, to the last digit."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from basis_core.backtest.runner import run
from basis_core.backtest.scenario import Scenario, load_scenario
from basis_core.data.provider import DataProvider
from basis_core.data.synthetic import synthetic_market
from basis_core.run import ManualClock, Runner
from basis_core.runstate.view import read_history, read_status
from basis_core.timeutil import to_ns

START = "2025-01-01T00:00:00Z"
HOUR = 3_600_000_000_000
STEPS = 12


def carry() -> Scenario:
    return load_scenario({
        "name": "carry", "period": {"start": START, "end": "2025-01-01T11:00:00Z", "step": "1h"},
        "venues": ["binance"],
        "strategies": [{"name": "cash_and_carry", "required": True,
                        "params": {"legs": [{"spot_venue": "binance", "perp_venue": "binance"}], "capital": 60000},
                        "balances": {"binance:spot:USDT": 60000}}]})


@pytest.fixture(scope="module")
def market(carry: ModuleType) -> DataProvider:
    """The synthetic market (``carry``: skipped without the Binance venue)."""
    return synthetic_market(hours=24 * 2, start=START, seed=5)


def paper(market: DataProvider, state: Path, steps: int, at_hour: int) -> Runner:
    return Runner(carry(), mode="paper", state_dir=state, data_provider=market,
                  clock=ManualClock(to_ns(START) + at_hour * HOUR), steps=steps)


def test_a_paper_run_stopped_and_resumed_shows_the_backtests_pnl(market: DataProvider, tmp_path: Path) -> None:
    backtest = run(carry(), data_provider=market)
    assert paper(market, tmp_path, 5, 0).run().status == "finished"
    first = read_status(tmp_path)
    assert (first.steps, first.running, first.stopped["reason"]) == (5, False, "finished")
    resumed = paper(market, tmp_path, STEPS - 5, 5).run()  # a new process on the same folder
    assert (resumed.status, resumed.steps, resumed.resumed) == ("finished", STEPS, True)
    st = read_status(tmp_path)
    assert (st.steps, st.runs) == (STEPS, 2)
    assert st.pnl == backtest.totals and st.equity == backtest.end_equity
    assert st.start_equity == backtest.start_equity
    assert read_history(tmp_path)["equity"].tolist() == backtest.equity["equity"].tolist()
    positions = {p.key: p.amount for b in st.venues for p in b.positions}
    assert positions == {k: v for k, v in backtest.manager.ledger.balances.items() if v and ":metric:" not in k}
