"""Open-order bookkeeping of live mode: each report carries exactly the fills not reported before."""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd
from basis_venue_binance.spec import BINANCE_SPEC

from basis_core.backtest.cex.fills import spot_fill
from basis_core.backtest.cex.market import build_markets
from basis_core.deltas import ExecutionDeltas
from basis_core.live.resting import new_fills, open_order

T = pd.Timestamp("2025-06-01T00:00:00Z")
M = build_markets(BINANCE_SPEC)["ETH/USDT"]


def cumulative(fills: list[tuple[str, str]], status: str) -> ExecutionDeltas:
    """The order's deltas over all its fills (price, qty), built as the backend builds them."""
    pos: dict[str, D] = {}
    fees: dict[str, D] = {}
    for px, qty in fills:
        p, f, _ = spot_fill(M, True, D(qty), D(px), D(qty) * D("0.001"), "ETH")
        for k, v in p.items():
            pos[k] = pos.get(k, D(0)) + v
        for k, v in f.items():
            fees[k] = fees.get(k, D(0)) + v
    filled = sum((D(q) for _, q in fills), D(0))
    avg = sum((D(p) * D(q) for p, q in fills), D(0)) / filled if filled else None
    return ExecutionDeltas("binance", "spot_trade", T, pos, fees, status, "c1", "7", avg, filled or None)


def test_each_report_is_the_difference_and_the_reports_sum_to_the_whole() -> None:
    o = open_order(M, cumulative([("2900", "0.1")], "partially_filled"))
    assert new_fills(o, cumulative([("2900", "0.1")], "partially_filled"), T) is None  # nothing new
    second = new_fills(o, cumulative([("2900", "0.1"), ("2890", "0.3")], "partially_filled"), T)
    assert second is not None and second.fill_amount == D("0.3") and second.fill_price == D(2890)
    assert second.positions == {"binance:spot:ETH": D("0.3") - D("0.0003"), "binance:spot:USDT": -D(867)}
    assert second.fees == {"binance:spot:ETH": -D("0.0003")} and second.details["order_filled"] == D("0.4")
    third = new_fills(o, cumulative([("2900", "0.1"), ("2890", "0.3"), ("2880", "0.1")], "filled"), T)
    assert third is not None and third.status == "filled" and third.fill_amount == D("0.1")
    whole = cumulative([("2900", "0.1"), ("2890", "0.3"), ("2880", "0.1")], "filled").positions
    first = cumulative([("2900", "0.1")], "partially_filled").positions
    assert {k: first[k] + second.positions[k] + third.positions[k] for k in whole} == whole
