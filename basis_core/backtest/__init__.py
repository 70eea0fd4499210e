"""Backtesting: the ledger and clock (used by the manager), scenarios, the runner and reports.

``basis_core.backtest.run(scenario) -> BacktestResult`` runs a scenario (a path, a YAML text, a dict
or a :class:`~basis_core.backtest.scenario.Scenario`). Heavy modules load lazily.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BacktestResult", "Scenario", "load_scenario", "run"]


def __getattr__(name: str) -> Any:
    if name in ("run", "BacktestResult"):
        from basis_core.backtest import runner

        return getattr(runner, name)
    if name in ("Scenario", "load_scenario"):
        from basis_core.backtest import scenario

        return getattr(scenario, name)
    raise AttributeError(f"module 'basis_core.backtest' has no attribute {name!r}")
