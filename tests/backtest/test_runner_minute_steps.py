"""Minute steps over hourly data: the shortcuts (the runner reuses a valuation while no series got a new row and
the ledger is unchanged; the CEX simulator caches balances and liquidation checks per mark row) change nothing.
A two-day 1-minute cash-and-carry run on the synthetic market equals, number for number, the same run with every
shortcut disabled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from basis_core.backtest.cex.engine import CexSimulator
from basis_core.backtest.runner import build_market, run
from basis_core.backtest.scenario import load_scenario
from basis_core.data.provider import DataProvider

SCENARIO = Path(__file__).resolve().parents[2] / "bench" / "scenarios" / "two_year_minute.yaml"


class NoEpochs(DataProvider):
    """The same market without ``row_epoch`` and never fresh: the runner values every step."""

    row_epoch = None  # type: ignore[assignment]
    fresh_until_ns = -1  # type: ignore[assignment]


def _scenario() -> Any:
    raw = yaml.safe_load(SCENARIO.read_text())
    raw["period"]["end"] = "2025-01-03T00:00:00Z"
    raw["strategies"][0]["params"]["margin_fraction"] = 0.1  # re-margins now and then: trades inside hours
    return load_scenario(raw)


def test_valuation_reuse_and_mark_row_caches_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = _scenario()
    market = build_market(sc)
    fast = run(sc, data_provider=market)
    assert fast.summary["steps"] == 2 * 1440 + 1 and fast.summary["executions"] > 2
    plain_market = NoEpochs(dict(market.items()), name=market.name)
    monkeypatch.setattr(CexSimulator, "_price_rows", lambda self, ts_ns: ts_ns)  # caches keyed by the time again
    slow = run(sc, data_provider=plain_market)
    assert fast.end_equity == slow.end_equity and fast.totals == slow.totals
    for name in ("equity", "pnl", "positions", "exposures", "risk"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(slow, name), check_exact=True)
    pd.testing.assert_frame_equal(fast.executions, slow.executions, check_exact=True)


def test_row_epoch_changes_exactly_when_a_series_gets_a_new_row() -> None:
    from decimal import Decimal

    from basis_core.data.series import Series

    p = DataProvider([Series("a", [0, 10, 20], {"close": [Decimal(1)] * 3}),
                      Series("b", [5, 20], {"close": [Decimal(1)] * 2})])
    assert [p.row_epoch(t) for t in (0, 4, 5, 9, 10, 19, 20, 99)] == [1, 1, 2, 2, 3, 3, 4, 4]
    p.add(Series("c", [7], {"close": [Decimal(1)]}))
    assert p.row_epoch(7) == 3


def test_row_epochs_are_the_row_epoch_of_each_time() -> None:
    from decimal import Decimal

    from basis_core.data.series import Series

    p = DataProvider([Series("a", [0, 10, 20], {"close": [Decimal(1)] * 3}),
                      Series("b", [5, 20], {"close": [Decimal(1)] * 2})])
    times = [-1, 0, 4, 5, 9, 10, 19, 20, 99]
    assert list(p.row_epochs(times)) == [p.row_epoch(t) for t in times] == [0, 1, 1, 2, 2, 3, 3, 4, 4]
    p.add(Series("c", [7], {"close": [Decimal(1)]}))  # the row times are built again
    assert list(p.row_epochs(times)) == [p.row_epoch(t) for t in times] == [0, 1, 1, 2, 3, 4, 4, 5, 5]
