"""Drives a backtest-mode manager through a scenario's built-in strategies (by default ``cash_and_carry``) step
by step, as the backtest runner does, recording every step in a run-state store (what ``basis run`` does on the
wall clock).

Also a script (the crash test runs it in a child process and kills it):
``python carry_steps.py STATE_DIR HOURS`` records HOURS steps, printing each step's number.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pandas as pd

from basis_core.backtest.runner import build_market, make_manager
from basis_core.backtest.scenario import Scenario, load_scenario
from basis_core.backtest.strategies.loader import load_strategy
from basis_core.numeric import LIBRARY_CONTEXT
from basis_core.runstate import RunStateStore, StepRecord
from basis_core.timeutil import from_ns

START = "2025-03-01T00:00:00Z"
H = 3_600_000_000_000


def carry_scenario(hours: int, **extra: Any) -> Scenario:
    """The built-in carry on Binance over ``hours`` hourly steps of the synthetic market."""
    return load_scenario({
        "name": "carry-state", "market": {"source": "synthetic", "seed": 11},
        "period": {"start": START, "end": (pd.Timestamp(START) + pd.Timedelta(hours=hours - 1)).isoformat(),
                   "step": "1h"},
        "venues": ["binance"],
        "strategies": [{"name": "cash_and_carry", "required": True,
                        "params": {"legs": [{"spot_venue": "binance", "perp_venue": "binance"}],
                                   "capital": 50000, "margin_fraction": 0.3},
                        "balances": {"binance:spot:USDT": 50000}}],
        **extra,
    })


def default_scenario(hours: int) -> Scenario:
    """The bundled default scenario (carry on Binance, staked basis and a leveraged staking loop on Lido, Aave,
    Uniswap and Hyperliquid) over ``hours`` hourly steps."""
    import yaml

    from basis_core.backtest.scenario import _Loader, bundled_scenarios

    data = yaml.load(Path(bundled_scenarios()["default"]).read_text(), Loader=_Loader)  # exact Decimals
    data["period"] = {"start": START, "step": "1h",
                      "end": (pd.Timestamp(START) + pd.Timedelta(hours=hours - 1)).isoformat()}
    for spec in data["strategies"]:
        spec["required"] = True
    return load_scenario(data)


class CarryRun:
    """A manager, the strategies and the market of a scenario (:func:`carry_scenario`), stepped by :meth:`steps`."""

    def __init__(self, sc: Scenario, config: dict[str, Any] | None = None) -> None:
        self.scenario = sc
        self.provider = build_market(sc)
        if config:
            from basis_core.manager import ExecutionInterfaceManager

            self.manager = ExecutionInterfaceManager(
                {"execution_mode": "backtest", "venues": list(sc.venues or []), **config},
                data_provider=self.provider, execution_mode="backtest")
        else:
            self.manager = make_manager(sc, self.provider)
        ledger = self.manager.ledger
        assert ledger is not None
        self.strategies = []
        for spec in sc.strategies:  # as the backtest runner does: each with its own capital
            cls = load_strategy(spec.name)
            strategy = cls(cls.Params.model_validate(spec.params))
            assert strategy.prepare(self.manager) is None, spec.name
            for key, amount in spec.balances.items():
                ledger.set_balance(key, ledger.balance(key) + amount)
            self.strategies.append(strategy)
        step = int(sc.period.step.value)
        start = sc.period.start
        end = sc.period.end
        assert start is not None and end is not None
        self.times = list(range(start.value, end.value + 1, step))
        self.started = False

    def begin(self, store: RunStateStore, **meta: Any) -> Any:
        ts = from_ns(self.times[0])
        self.manager.advance_to(ts)
        return store.start(self.manager, ts, self.provider.get_data(self.times[0]), mode="paper",
                           scenario=self.scenario.name, meta=meta)

    def steps(self, store: RunStateStore, times: list[int] | None = None,
              before_record: Callable[[Any, Any], None] | None = None) -> Iterator[StepRecord]:
        """One step per time: advance the clock, let the strategy act, record the step."""
        for ts_ns in self.times if times is None else times:
            ts = from_ns(ts_ns)
            self.manager.advance_to(ts)
            for strategy in self.strategies:
                if not self.started:
                    strategy.start(self.manager, ts)
                strategy.step(self.manager, ts)
            self.started = True
            if before_record is not None:
                before_record(self.manager, ts)
            yield store.record_step(self.manager, ts, self.provider.get_data(ts_ns))


def equity_total(rec: StepRecord) -> Decimal:
    """The sum of the positions' USD values (exact: the library's 60 digits)."""
    with localcontext(LIBRARY_CONTEXT):
        return sum((v for _, v, _ in rec.positions.values()), Decimal(0))


if __name__ == "__main__":
    state_dir, hours = Path(sys.argv[1]), int(sys.argv[2])
    run = CarryRun(carry_scenario(hours))
    store = RunStateStore(state_dir)
    run.begin(store)
    for rec in run.steps(store):
        print(rec.seq, flush=True)
