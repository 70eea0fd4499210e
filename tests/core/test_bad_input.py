"""Bad input: every malformed or impossible instruction gets a typed error naming the field; nothing changes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.errors import (
    ClockError,
    InstructionError,
    InstructionValidationError,
    InsufficientFundsError,
    MarketDataError,
    UnknownOperationError,
    UnknownVenueError,
)

T0 = "2025-02-01T00:00:00Z"
GOOD = {"operation": "spot_trade", "venue": "paper", "symbol": "ETH/USDT", "side": "buy", "amount": "1"}


def _with(**changes: Any) -> dict[str, Any]:
    d = dict(GOOD)
    for k, v in changes.items():
        if v is None:
            d.pop(k)
        else:
            d[k] = v
    return d


def _assert_refused(m: ExecutionInterfaceManager, instr: Any, err: type[Exception], field: str, ts: Any = T0) -> None:
    before = m.ledger.balances  # type: ignore[union-attr]
    n = len(m.execution_history)
    with pytest.raises(err) as info:
        m.execute(ts, instr)
    assert getattr(info.value, "field", None) == field or field in str(info.value)
    assert m.ledger.balances == before  # type: ignore[union-attr]
    assert len(m.execution_history) == n + 1
    assert m.execution_history[-1]["success"] is False


@pytest.mark.parametrize("amount", ["0", "-1", "NaN", "Infinity", "-Infinity", "1e30", "abc", "sNaN"])
def test_bad_amounts_are_refused_naming_amount(manager: ExecutionInterfaceManager, amount: str) -> None:
    _assert_refused(manager, _with(amount=amount), InstructionValidationError, "amount")


def test_float_nan_amount_is_refused(manager: ExecutionInterfaceManager) -> None:
    _assert_refused(manager, _with(amount=float("nan")), InstructionValidationError, "amount")


def test_unknown_venue_lists_installed_venues_and_the_pip_name(manager: ExecutionInterfaceManager) -> None:
    with pytest.raises(UnknownVenueError) as info:
        manager.execute(T0, _with(venue="kraken"))
    msg = str(info.value)
    assert info.value.field == "venue"
    assert "paper" in msg and "paper2" in msg and "pip install basis-venue-kraken" in msg
    assert manager.execution_history[-1].success is False


def test_unknown_operation_is_named(manager: ExecutionInterfaceManager) -> None:
    _assert_refused(manager, _with(operation="teleport"), UnknownOperationError, "operation")


def test_missing_operation_is_named(manager: ExecutionInterfaceManager) -> None:
    _assert_refused(manager, _with(operation=None), InstructionValidationError, "operation")


@pytest.mark.parametrize("field", ["symbol", "side", "amount", "venue"])
def test_missing_fields_are_named(manager: ExecutionInterfaceManager, field: str) -> None:
    _assert_refused(manager, _with(**{field: None}), InstructionValidationError, field)


@pytest.mark.parametrize(("field", "value"), [
    ("side", "long"), ("amount", [1]), ("order_type", "stop"), ("post_only", "maybe"), ("client_id", "has space")])
def test_mistyped_fields_are_named(manager: ExecutionInterfaceManager, field: str, value: Any) -> None:
    _assert_refused(manager, _with(**{field: value}), InstructionValidationError, field)


def test_extra_fields_are_refused(manager: ExecutionInterfaceManager) -> None:
    _assert_refused(manager, _with(leverage="5"), InstructionValidationError, "leverage")


@pytest.mark.parametrize("symbol", ["ETHUSDT", "eth/usdt", "ETH-USDT", "ETH/USDT:USDT", "ETH/"])
def test_spot_symbols_in_the_wrong_form_are_refused(manager: ExecutionInterfaceManager, symbol: str) -> None:
    _assert_refused(manager, _with(symbol=symbol), InstructionValidationError, "symbol")


def test_perp_symbol_must_have_a_settle_currency(manager: ExecutionInterfaceManager) -> None:
    instr = {"operation": "perp_trade", "venue": "paper", "symbol": "ETH/USDT", "side": "buy", "amount": "1"}
    _assert_refused(manager, instr, InstructionValidationError, "symbol")


def test_limit_order_without_price_names_price(manager: ExecutionInterfaceManager) -> None:
    _assert_refused(manager, _with(order_type="limit"), InstructionValidationError, "price")


def test_not_json_is_refused(manager: ExecutionInterfaceManager) -> None:
    _assert_refused(manager, "{not json", InstructionValidationError, "instruction")


@pytest.mark.parametrize("ts", ["2025-02-01T00:00:00", datetime(2025, 2, 1)])
def test_timestamps_without_timezone_are_refused(manager: ExecutionInterfaceManager, ts: Any) -> None:
    _assert_refused(manager, GOOD, ClockError, "timestamp", ts=ts)


def test_a_clock_going_backwards_is_refused(manager: ExecutionInterfaceManager) -> None:
    manager.execute("2025-03-01T00:00:00Z", GOOD)
    _assert_refused(manager, GOOD, ClockError, "timestamp", ts="2025-02-28T23:59:59Z")


def test_data_before_the_first_row_is_refused(manager: ExecutionInterfaceManager) -> None:
    before = manager.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(MarketDataError):
        manager.execute("2024-12-31T23:00:00Z", GOOD)
    assert manager.ledger.balances == before  # type: ignore[union-attr]


def test_overdraft_is_refused_and_names_the_balance(manager: ExecutionInterfaceManager) -> None:
    _assert_refused(manager, _with(amount="1000"), InsufficientFundsError, "amount")
    assert "paper:spot:USDT" in manager.execution_history[-1].error  # type: ignore[operator]


def test_a_symbol_the_venue_does_not_list_is_refused(manager: ExecutionInterfaceManager) -> None:
    _assert_refused(manager, _with(symbol="DOGE/USDT"), InstructionError, "symbol")


def test_a_good_instruction_after_bad_ones_still_executes(manager: ExecutionInterfaceManager) -> None:
    for bad in (_with(amount="0"), _with(venue="nope"), _with(symbol="X")):
        with pytest.raises(InstructionError):
            manager.execute(T0, bad)
    d = manager.execute(T0, GOOD)
    assert d.positions["paper:spot:ETH"] == Decimal(1)
    assert manager.ledger.balance("paper:spot:ETH") == Decimal(1)  # type: ignore[union-attr]
