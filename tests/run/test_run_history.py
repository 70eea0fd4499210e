"""A long ``basis run`` keeps its execution history bounded (issue 15, "memory flat over 10,000 steps"): after each
step the records the run-state store has attributed and stored are dropped past ``history_limit``, and nothing is
counted twice or skipped: the stored PnL, equity, failures and positions are those of a run that kept everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from basis_core.backtest.scenario import Scenario, load_scenario
from basis_core.data.provider import DataProvider
from basis_core.data.synthetic import synthetic_market
from basis_core.errors import HistoryTrimmedError
from basis_core.run import RUN_HISTORY_LIMIT, ManualClock, Runner, StepReport
from basis_core.runstate.view import read_status
from basis_core.timeutil import to_ns

START = "2025-01-01T00:00:00Z"
STEPS = 96


def carry() -> Scenario:
    return load_scenario({
        "name": "carry", "period": {"start": START, "end": "2025-01-05T00:00:00Z", "step": "1h"},
        "venues": ["binance"],
        "strategies": [{"name": "cash_and_carry", "required": True,
                        "params": {"legs": [{"spot_venue": "binance", "perp_venue": "binance"}], "capital": 100_000,
                                   "margin_fraction": "0.3", "delta_band": "0.0001"},
                        "balances": {"binance:spot:USDT": 100_000}}]})


@pytest.fixture(scope="module")
def market() -> DataProvider:
    return synthetic_market(hours=24 * 5, start=START, seed=5)


def paper_run(market: DataProvider, state: Path, **kw: Any) -> Runner:
    runner = Runner(carry(), mode="paper", state_dir=state, data_provider=market, clock=ManualClock(to_ns(START)),
                    steps=STEPS, **kw)
    assert runner.run().status == "finished"
    return runner


@pytest.fixture(scope="module")
def kept_all(market: DataProvider, tmp_path_factory: pytest.TempPathFactory) -> tuple[Runner, Path]:
    state = tmp_path_factory.mktemp("all")
    return paper_run(market, state, history_limit=10**9), state


def test_a_bounded_run_drops_stored_records_and_reports_the_same_pnl(market: DataProvider, tmp_path: Path,
                                                                      kept_all: tuple[Runner, Path]) -> None:
    kept: list[tuple[int, int]] = []
    runner: Runner | None = None

    def on_step(r: StepReport) -> None:
        assert runner is not None and runner.manager is not None
        h = runner.manager.execution_history
        kept.append((h.start, h.kept))

    runner = Runner(carry(), mode="paper", state_dir=tmp_path, data_provider=market,
                    clock=ManualClock(to_ns(START)), steps=STEPS, history_limit=2, on_step=on_step)
    assert runner.run().status == "finished"
    full, full_state = kept_all
    bounded, whole = runner.manager.execution_history, full.manager.execution_history
    # funding, interest and rebalancing trades went on: the bounded run dropped most of them, step after step
    assert len(bounded) == len(whole) > 10 and whole.start == 0
    assert bounded.start == len(bounded) - 2 and bounded.kept == 2
    assert all(k <= 2 for _, k in kept) and kept[-1][0] > kept[len(kept) // 2][0] > 0
    with pytest.raises(HistoryTrimmedError):
        bounded[0]
    assert [r.to_dict() for r in bounded] == [r.to_dict() for r in whole[bounded.start:]]
    # everything dropped had been attributed and stored: the stored run is the same to the last Decimal
    a, b = read_status(tmp_path), read_status(full_state)
    assert (a.steps, a.equity, a.pnl, a.start_equity) == (b.steps, b.equity, b.pnl, b.start_equity)
    assert a.pnl["funding"] != 0 and a.pnl["trading_fees"] != 0
    assert a.failures == b.failures
    assert runner.manager.ledger.balances == full.manager.ledger.balances


def test_a_run_keeps_a_bounded_history_by_default(market: DataProvider, tmp_path: Path) -> None:
    runner = Runner(carry(), mode="paper", state_dir=tmp_path, data_provider=market, clock=ManualClock(to_ns(START)),
                    steps=2)
    runner.run()
    assert runner.manager.execution_history.limit == RUN_HISTORY_LIMIT
