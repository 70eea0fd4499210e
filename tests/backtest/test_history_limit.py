"""A backtest keeps its whole execution history (the report's executions and per-strategy PnL read it) unless the
scenario sets ``history_limit``: then attributed records past the limit are dropped as the run goes, and the PnL,
equity and the executions kept are exactly those of the same run keeping everything."""

from __future__ import annotations

from typing import Any

import pytest

from basis_core.backtest.runner import BacktestResult, run
from basis_core.data.synthetic import synthetic_market


def carry(**extra: Any) -> dict[str, Any]:
    return {"name": "carry", "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-06T00:00:00Z", "step": "1h"},
            "venues": ["binance"],
            "strategies": [{"name": "cash_and_carry", "required": True,
                            "params": {"legs": [{"spot_venue": "binance", "perp_venue": "binance"}],
                                       "capital": 100_000, "margin_fraction": "0.3", "delta_band": "0.0001"},
                            "balances": {"binance:spot:USDT": 100_000}}], **extra}


@pytest.fixture(scope="module")
def runs() -> tuple[BacktestResult, BacktestResult]:
    market = synthetic_market(hours=24 * 6, start="2025-01-01T00:00:00Z", seed=5)
    return run(carry(), data_provider=market), run(carry(settings={"history_limit": 3}), data_provider=market)


def test_a_backtest_keeps_everything_by_default(runs: tuple[BacktestResult, BacktestResult]) -> None:
    full, _ = runs
    assert full.manager is not None and full.manager.execution_history.start == 0
    assert len(full.executions) == len(full.manager.execution_history) > 10
    assert full.summary["pnl_by_strategy"]


def test_history_limit_drops_attributed_records_and_changes_no_number(
        runs: tuple[BacktestResult, BacktestResult]) -> None:
    full, bounded = runs
    assert bounded.manager is not None
    hist = bounded.manager.execution_history
    assert hist.start > 0 and hist.kept <= 3 + 2  # the last step's records and the strategy's finish
    assert bounded.totals == full.totals and bounded.end_equity == full.end_equity
    assert bounded.equity.equals(full.equity)
    assert bounded.executions.reset_index(drop=True).equals(
        full.executions.iloc[hist.start:].reset_index(drop=True))
    assert not bounded.summary["pnl_by_strategy"]
    assert any("history_limit 3" in n for n in bounded.summary["notes"])
