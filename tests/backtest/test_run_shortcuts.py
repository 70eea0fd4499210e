"""The runner's shortcuts change no result: the executions frame built on first access equals the frame of the
history, the summary read from its summary columns equals the summary of the full frame, a pickled result carries
the frame, and the garbage collector's frozen objects are as the host had them after a run."""

from __future__ import annotations

import gc
import pickle
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from basis_core.backtest.executions import executions_frame
from basis_core.backtest.runner import frozen_heap, run, summarize
from basis_core.backtest.strategies import Strategy
from basis_core.data.synthetic import synthetic_market


class Alternate(Strategy):
    """A spot market order every step (buy, sell, ...) and a perp short every third step (held at funding times)."""

    name = "alternate"

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def step(self, manager: Any, ts: Any) -> None:
        self.n += 1
        side = "buy" if self.n % 2 else "sell"
        manager.execute(ts, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": side,
                             "amount": "0.01"})
        if self.n % 3 == 0:
            manager.execute(ts, {"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT",
                                 "side": "sell", "amount": "0.02"})


@pytest.fixture(scope="module")
def result() -> Any:
    scenario = {"name": "shortcuts", "venues": ["binance"],
                "initial_balances": {"binance:spot:USDT": "100000", "binance:spot:ETH": "10",
                                     "binance:futures:USDT": "50000"},
                "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-01T09:00:00Z", "step": "1min"}}
    return run(scenario, data_provider=synthetic_market(seed=3, hours=60), strategies=[Alternate()])


def test_executions_built_on_first_access_equal_the_history_frame(result: Any) -> None:
    history = result.manager.execution_history
    owners = {i: "alternate" for i, r in enumerate(history) if r.operation in ("spot_trade", "perp_trade")}
    ex = result.executions
    assert result.executions is ex  # built once
    assert len(ex) == len(history) and (ex["operation"] == "funding").any()
    pd.testing.assert_frame_equal(ex, executions_frame(history, owners), check_exact=True)


def test_summary_read_from_the_summary_columns_equals_the_full_frame_summary(result: Any) -> None:
    full = summarize(result, provider_name=result.summary["market"], venues=result.summary["venues"],
                     notes=result.summary["notes"], pnl_by_strategy=result.summary["pnl_by_strategy"])
    got = {k: v for k, v in result.summary.items() if k != "runtime"}
    assert got == {k: v for k, v in full.items() if k != "runtime"}
    assert got["executions"] > 300 and got["pnl_by_strategy"]["alternate"] != 0


def test_the_summary_scan_of_the_stored_records_equals_the_scan_of_the_records(result: Any) -> None:
    """The summary columns, strategy events and accruals read from the log's stored form (its execution records
    decoded in place) equal those of the same records read one by one as HistoryRecords."""
    from basis_core.backtest.executions import scan_history

    history = result.manager.execution_history
    owners = {i: "alternate" for i, r in enumerate(history) if r.operation in ("spot_trade", "perp_trade")}
    steps = [int(t) for t in result.equity.index.asi8]
    fast = scan_history(history, owners, steps, full=False, end=len(history))
    plain = scan_history(list(history), owners, steps, full=False)
    assert {r.operation for r in history} >= {"spot_trade", "perp_trade", "funding"}
    pd.testing.assert_frame_equal(fast[0], plain[0], check_exact=True)
    assert fast[1] == plain[1] and len(fast[1]) == len(owners)
    assert fast[2] == plain[2] and fast[2]


def test_a_pickled_result_carries_the_executions_frame(result: Any) -> None:
    back = pickle.loads(pickle.dumps(result))
    assert back.manager is None
    pd.testing.assert_frame_equal(back.executions, result.executions, check_exact=True)
    assert back.end_equity == result.end_equity and isinstance(back.end_equity, Decimal)


def test_frozen_heap_leaves_the_hosts_frozen_objects_as_they_were() -> None:
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    gc.freeze()  # the host froze its own objects: a run neither adds to them nor unfreezes them
    try:
        frozen = gc.get_freeze_count()
        with frozen_heap():
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_the_summary_scan_converts_repeated_and_signed_zero_values_as_the_record_scan() -> None:
    """The stored-form scan converts each PnL value once per value: repeated values, equal values of other
    exponents and a negative zero after a zero come out as ``float`` of each record's own value."""
    import math
    from datetime import UTC, datetime

    from basis_core.backtest.executions import scan_history
    from basis_core.deltas import ExecutionDeltas
    from basis_core.history import HistoryLog

    log = HistoryLog()
    fees = ["-0.5", "-0.5", "-0.50", "0", "-0", "-0", "0.1"]
    for i, fee in enumerate(fees):
        log.add_deltas(1_000 + i, ExecutionDeltas(
            "binance", "spot_trade", datetime(2025, 1, 1, tzinfo=UTC),
            {"binance:spot:ETH": Decimal("0.01"), "binance:spot:USDT": Decimal("-33")},
            fees={"binance:spot:USDT": Decimal(fee)}, fill_price=Decimal(3300), fill_amount=Decimal("0.01"),
            pnl={"trading_fees": Decimal(fee), "slippage": Decimal("-0.01")}))
    owners = dict.fromkeys(range(len(fees)), "s")
    steps = [1_000 + i for i in range(len(fees))]
    fast = scan_history(log, owners, steps, full=False, end=len(log))
    plain = scan_history(list(log), owners, steps, full=False)
    pd.testing.assert_frame_equal(fast[0], plain[0], check_exact=True)
    assert fast[1] == plain[1] and len(fast[1]) == len(fees)
    got = fast[0]["pnl_trading_fees"].tolist()
    assert got == [float(Decimal(f)) for f in fees]
    assert [math.copysign(1, v) for v in got] == [math.copysign(1, float(Decimal(f))) for f in fees]


def test_the_scan_reads_the_steps_pnl_floats_only_where_every_record_of_a_kind_has_them() -> None:
    """StepPnlFloats: a component is read from the steps when every record of the kind has it nonzero, else from
    the records (a zero: its sign is the record's); staking yield always from the records."""
    from datetime import UTC, datetime

    from basis_core.backtest.executions import StepPnlFloats, scan_history
    from basis_core.deltas import PNL_COMPONENTS, ExecutionDeltas
    from basis_core.history import HistoryLog

    log = HistoryLog()
    for i in range(4):
        for op in ("spot_trade", "perp_trade"):
            log.add_deltas(1_000 + i, ExecutionDeltas(
                "binance", op, datetime(2025, 1, 1, tzinfo=UTC), {"binance:spot:ETH": Decimal("0.01")},
                fill_price=Decimal(3300), fill_amount=Decimal("0.01"),
                pnl={"trading_fees": Decimal("-0") if i == 3 else Decimal("-0.5"), "slippage": Decimal("-0.01"),
                     "staking_yield": Decimal("0.25")}))
    fees, slip, lst = (PNL_COMPONENTS.index(c) for c in ("trading_fees", "slippage", "staking_yield"))
    rows = np.zeros((7, len(PNL_COMPONENTS)))
    rows[:, fees], rows[:, slip], rows[:, lst] = 7.0, 9.0, 5.0  # marks: where the scan read the steps
    rows[6, fees] = 0.0  # the last spot trade's fee is Decimal("-0"): the step has 0.0
    # every record but the last perp trade (index 7) came from a one-record step
    got = scan_history(log, full=False, end=len(log), step_pnl=StepPnlFloats(range(7), rows))[0]
    want = scan_history(list(log), full=False)[0]
    spot, perp = got[got["operation"] == "spot_trade"], got[got["operation"] == "perp_trade"]
    assert spot["pnl_slippage"].tolist() == [9.0] * 4  # every spot trade from the steps
    assert spot["pnl_trading_fees"].tolist() == [-0.5, -0.5, -0.5, -0.0]  # a zero among them: from the records
    assert str(spot["pnl_trading_fees"].iloc[-1]) == "-0.0"
    assert got["pnl_staking_yield"].tolist() == want["pnl_staking_yield"].tolist() == [0.25] * 8
    pd.testing.assert_frame_equal(perp, want[want["operation"] == "perp_trade"], check_exact=True)  # not all had it
