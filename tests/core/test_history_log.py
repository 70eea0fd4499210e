"""The manager's execution history (issues 15 and 17): compact storage that reads back exactly what was recorded,
absolute indices that survive dropping old records, and a clear error for a dropped record."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pandas as pd
import pytest

from basis_core import ExecutionDeltas
from basis_core.errors import ConfigError, HistoryTrimmedError, InstructionError
from basis_core.history import HistoryLog, HistoryRecord, VenueHistory
from basis_core.manager import ExecutionInterfaceManager

TS = pd.Timestamp("2025-01-01T00:00:00Z")


def fill(i: int, venue: str = "binance") -> ExecutionDeltas:
    """A spot fill as the CEX simulator reports it: ids, fill, fees and pnl."""
    return ExecutionDeltas(venue, "spot_trade", TS, {f"{venue}:spot:ETH": D(i), f"{venue}:spot:USDT": D(-3000 * i)},
                           {f"{venue}:spot:USDT": D("-0.3")}, "filled", f"c{i}", str(i), D("3000.5"), D(i),
                           {"trading_fees": D("-0.3"), "slippage": D("-0.01")})


def funding(i: int) -> ExecutionDeltas:
    """An accrual: positions and pnl only."""
    return ExecutionDeltas("binance", "funding", TS, {"binance:futures:USDT": D(i)}, status="settled",
                           pnl={"funding": D(i)})


def balance_move(i: int) -> ExecutionDeltas:
    """The plainest record: positions only (a trivial venue's fill, an interest accrual)."""
    return ExecutionDeltas("aave", "interest", TS, {"aave:supplied:USDC": D(i), "aave:debt:WETH": D(-i)},
                           status="accrued")


def bare_fill(i: int) -> ExecutionDeltas:
    """A fill with ids and a price but no fees or pnl (a plain venue's)."""
    return ExecutionDeltas("trivial", "spot_trade", TS, {"trivial:spot:ETH": D(i), "trivial:spot:USDT": D(-3 * i)},
                           client_id=f"c{i}", order_id=str(i), fill_price=D(3), fill_amount=D(i))


def as_dict(r: Any) -> dict[str, Any]:
    return r.to_dict()


@pytest.mark.parametrize("make", [fill, funding, balance_move, bare_fill])
def test_a_record_reads_back_exactly_what_the_deltas_said(make: Any) -> None:
    log = HistoryLog()
    d = make(7)
    log.add_deltas(TS.value, d, 3)
    assert as_dict(log[0]) == {**as_dict(HistoryRecord.from_deltas(TS.value, d)), "bundle": 3}
    assert dict(log[0].positions) == dict(d.positions) and dict(log[0].pnl) == dict(d.pnl)
    assert log[0]["success"] is True and log[0]["timestamp"] == TS


def aave_interest(i: int) -> ExecutionDeltas:
    """Interest on a supply and a debt: Decimals with trailing zeros, exponents and signed zeros."""
    return ExecutionDeltas("aave", "interest", TS, {"aave:supplied:USDC": D("0.541439") * i,
                                                    "aave:debt:WETH": D("0.000003082196529456")},
                           status="accrued", pnl={"lending_interest": D("0.54143800"), "borrow_interest": D("-0E-18"),
                                                  "staking_yield": D("1E+3")})


def digits(m: Any) -> list[tuple[str, Any]]:
    return [(k, v.as_tuple()) for k, v in m.items()]


@pytest.mark.parametrize("make", [funding, balance_move, aave_interest])
def test_an_accrual_reads_back_the_same_decimals_digit_for_digit(make: Any) -> None:
    log = HistoryLog()
    d = make(3)
    log.add_accrual(TS.value, d)
    r = log[0]
    assert as_dict(r) == as_dict(HistoryRecord.from_deltas(TS.value, d))
    assert digits(r.positions) == digits(d.positions) and digits(r.pnl) == digits(d.pnl)


def test_an_accrual_with_a_value_that_is_not_a_decimal_keeps_it_as_it_is() -> None:
    log = HistoryLog()
    log.add_accrual(TS.value, ExecutionDeltas("aave", "interest", TS, {"aave:supplied:USDC": D(1)},
                                              status="accrued", pnl={"lending_interest": 0}))
    assert type(log[0].pnl["lending_interest"]) is int


def test_bundles_failures_and_added_records_keep_every_field() -> None:
    log = HistoryLog()
    log.add_deltas(TS.value, fill(1), 4)
    failed = HistoryRecord.failure(TS.value + 1, "binance", "perp_trade", "cid-9",
                                   InstructionError("amount", "must be positive"))
    log.add(failed)
    adopted = HistoryRecord(TS.value + 2, "hyperliquid", "perp_trade", True, "filled", "x", "77",
                            {"hyperliquid:perp:ETH/USDC:USDC": D("0.5")}, fill_price=D("3001"), fill_amount=D("0.5"))
    log.append(adopted)
    assert log[0].bundle == 4
    assert as_dict(log[1]) == as_dict(failed) and log[1].error_field == "amount" and not log[1].success
    assert as_dict(log[2]) == as_dict(adopted)
    assert (len(log), log.successes()) == (3, 2)


def test_shapes_past_the_shared_table_live_and_go_with_their_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """A venue whose keys change on every record (a new position id each time): past MAX_SHAPES the table stops
    growing, each new shape is kept by its record and dropped with it, and every record reads back whole."""
    import basis_core.history as history

    monkeypatch.setattr(history, "MAX_SHAPES", 3)

    def lp(i: int) -> ExecutionDeltas:
        return ExecutionDeltas("uniswap", "add_liquidity", TS, {f"uniswap:lp:ETH-USDC-{i}": D(1)}, status="filled",
                               fees={"uniswap:wallet:ETH": D("-0.001")}, pnl={"gas": D(-i)})

    log = HistoryLog(limit=2)
    for i in range(10):
        log.add_deltas(TS.value + i, lp(i), None)
    log.add_deltas(TS.value, fill(1), None)  # a shape first seen past the limit: not shared either
    log.add_accrual(TS.value, aave_interest(1))
    assert len(log._shapes) == 3 and len(log._shape_ids) == 3
    assert [as_dict(r) for r in log[8:10]] == [as_dict(HistoryRecord.from_deltas(TS.value + i, lp(i)))
                                               for i in (8, 9)]
    assert as_dict(log[10]) == as_dict(HistoryRecord.from_deltas(TS.value, fill(1)))
    assert as_dict(log[11]) == as_dict(HistoryRecord.from_deltas(TS.value, aave_interest(1)))
    assert len(VenueHistory(log, "uniswap")) == 10 and [r.venue for r in log[:]][-2:] == ["binance", "aave"]
    assert [as_dict(r) for i, _, shape, r in log.scan() if shape is None and i >= 3] == [as_dict(r) for r in log[3:]]
    assert log.trim() == 10 and len(log._shapes) == 3 and log.kept == 2  # the dropped records took their shapes
    assert [r.venue for r in log] == ["binance", "aave"]


def test_indices_stay_absolute_after_old_records_are_dropped() -> None:
    log = HistoryLog(limit=3)
    for i in range(10):
        log.add_deltas(TS.value + i, fill(i), None)
    assert log.trim() == 7
    assert (log.start, log.end, len(log), log.kept) == (7, 10, 10, 3)
    assert [r.order_id for r in log] == ["7", "8", "9"]
    assert [r.order_id for r in log[8:]] == ["8", "9"] and [r.order_id for r in log[:]] == ["7", "8", "9"]
    assert log[-1].order_id == "9" and log[7].order_id == "7"
    assert [(i, r.order_id) for i, r in log.indexed()] == [(7, "7"), (8, "8"), (9, "9")]
    assert log.successes() == 10  # dropped records still count


def test_reading_a_dropped_record_is_a_clear_error_not_another_record() -> None:
    log = HistoryLog(limit=2)
    for i in range(5):
        log.add_deltas(TS.value, fill(i), None)
    log.trim()
    with pytest.raises(HistoryTrimmedError, match=r"history index 1: .*dropped records 0\.\.2.*first kept is 3") as e:
        log[1]
    assert (e.value.index, e.value.start) == (1, 3)
    with pytest.raises(HistoryTrimmedError):
        log[2:]
    with pytest.raises(HistoryTrimmedError):
        log[-5]
    with pytest.raises(IndexError):
        log[5]


def test_trim_never_drops_what_a_consumer_has_not_taken() -> None:
    log = HistoryLog(limit=1)
    for i in range(6):
        log.add_deltas(TS.value, funding(i), None)
    assert log.trim(before=2) == 2  # the consumer reached index 2: 0 and 1 may go, the rest stays
    assert (log.start, log.kept) == (2, 4)
    assert log.trim(before=2) == 0
    assert log.trim(before=100) == 3 and log.start == 5
    assert HistoryLog().trim() == 0  # no limit: nothing is dropped unless told how many to keep
    assert HistoryLog().trim(keep=0) == 0


def test_a_venues_view_counts_its_records_across_drops() -> None:
    log = HistoryLog(limit=2)
    ours, theirs = VenueHistory(log, "binance"), VenueHistory(log, "okx")
    for i in range(6):
        log.add_deltas(TS.value, fill(i, "binance" if i % 2 else "okx"), None)
    assert [r.order_id for r in ours] == ["1", "3", "5"]
    log.add_deltas(TS.value, fill(6, "okx"), None)
    log.trim()  # keeps 5 and 6
    assert (len(ours), len(theirs)) == (3, 4)
    assert [r.order_id for r in ours] == ["5"] and ours[-1].order_id == "5" and ours[2].order_id == "5"
    assert [r.order_id for r in theirs[3:]] == ["6"]
    with pytest.raises(HistoryTrimmedError, match="venue 'binance'"):
        ours[0]


def test_the_manager_takes_history_limit_from_its_settings() -> None:
    m = ExecutionInterfaceManager({"history_limit": 50}, execution_mode="backtest", autoload=False)
    assert m.execution_history.limit == 50
    assert ExecutionInterfaceManager(None, execution_mode="backtest", autoload=False).execution_history.limit is None
    with pytest.raises(ConfigError, match="history_limit"):
        ExecutionInterfaceManager({"history_limit": -1}, execution_mode="backtest", autoload=False)


def test_sources_give_the_latest_records_as_their_deltas_and_the_rest_as_records() -> None:
    """``sources`` (the PnL attribution's read): the deltas a recent success was made from, a HistoryRecord for a
    failure and for a record past the tail, the same values as ``log[i]`` either way; dropped: the clear error."""
    from basis_core.history import TAIL

    log = HistoryLog()
    made = []
    for i in range(3 * TAIL):
        d = [fill, funding, balance_move, bare_fill][i % 4](i + 1)
        if i % 4 == 1:
            log.add_accrual(TS.value + i, d)
        else:
            log.add_deltas(TS.value + i, d)
        made.append(d)
        if i == 5:
            log.add(HistoryRecord.failure(TS.value + i, "binance", "spot_trade", "c", InstructionError("amount", "x")))
            made.append(None)
    got = log.sources(0, len(log))
    assert len(got) == len(log)
    fresh = 0
    for i, ((ts_ns, src), d) in enumerate(zip(got, made, strict=True)):
        rec = log[i]
        assert ts_ns == rec.ts_ns
        if isinstance(src, ExecutionDeltas):
            fresh += 1
            assert src is d and rec.success
        else:
            assert isinstance(src, HistoryRecord) and src.to_dict() == rec.to_dict()
        for name in ("positions", "fees", "pnl"):
            assert dict(getattr(src, name) or {}) == dict(getattr(rec, name))
        assert (src.fill_price, src.operation, src.venue) == (rec.fill_price, rec.operation, rec.venue)
    assert TAIL // 2 <= fresh <= TAIL  # the latest ones only: memory stays bounded
    for i, (ts_ns, src) in enumerate(got):  # one at a time (the runner's common case) gives the same
        [(one_ts, one)] = log.sources(i, i + 1)
        assert one_ts == ts_ns and (one is src if isinstance(src, ExecutionDeltas) else one.to_dict() == src.to_dict())
    assert isinstance(got[5 + 1][1], HistoryRecord) and not got[5 + 1][1].success
    assert log.sources(len(log), len(log)) == []
    log.trim(keep=3)
    assert [s[0] for s in log.sources(len(log) - 3, len(log))] == [r.ts_ns for r in log[len(log) - 3:]]
    with pytest.raises(HistoryTrimmedError):
        log.sources(0, len(log))


def test_scan_decodes_execution_records_and_materialises_the_others() -> None:
    log = HistoryLog()
    log.add_deltas(TS.value, fill(1), 4)
    log.add_accrual(TS.value + 1, funding(2))
    log.add_deltas(TS.value + 2, balance_move(3))
    log.add(HistoryRecord.failure(TS.value + 3, "binance", "spot_trade", None, InstructionError("amount", "x")))
    log.add_deltas(TS.value + 4, fill(5))
    log.trim(keep=4)
    got = list(log.scan())
    assert [g[0] for g in got] == [1, 2, 3, 4] and [g[1] for g in got] == [TS.value + i for i in range(1, 5)]
    assert [g[2] is None for g in got] == [True, True, True, False]
    shape, rec = got[-1][2:]
    assert shape is not None and (shape.venue, shape.operation, shape.success) == ("binance", "spot_trade", True)
    assert dict(zip(shape.pnl_keys, rec[shape.c:], strict=True)) == dict(fill(5).pnl)
    assert dict(zip(shape.pos_keys, rec[shape.a:shape.b], strict=True)) == dict(fill(5).positions)
    assert rec[1:6] == ("c5", "5", D("3000.5"), D(5), None)
    assert [r.to_dict() for _, _, s, r in got[:3]] == [r.to_dict() for r in log[1:4]]
    assert [g[0] for g in log.scan(end=3)] == [1, 2]
