"""The backtest ledger: atomic application, transactions, and the sum-of-deltas property."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basis_core import ExecutionInterfaceManager
from basis_core.backtest.ledger import Ledger
from basis_core.data import DataProvider, synthetic_market
from basis_core.errors import BasisError, InsufficientFundsError

D = Decimal


def test_apply_is_all_or_nothing() -> None:
    led = Ledger({"a:spot:X": "5", "a:spot:Y": "1"})
    with pytest.raises(InsufficientFundsError) as info:
        led.apply({"a:spot:X": D(-1), "a:spot:Y": D(-2)})
    assert info.value.key == "a:spot:Y"
    assert led.balances == {"a:spot:X": D(5), "a:spot:Y": D(1)}


def test_apply_inside_a_transaction_is_all_or_nothing_and_the_transaction_stays_usable() -> None:
    led = Ledger({"a:spot:X": "5", "a:spot:Y": "1"})
    with led.transaction():
        led.apply({"a:spot:Z": D(3)})
        with pytest.raises(InsufficientFundsError) as info:
            led.apply({"a:spot:X": D(-1), "a:spot:W": D(7), "a:spot:Y": D(-2)})
        assert info.value.key == "a:spot:Y"
        assert led.balances == {"a:spot:X": D(5), "a:spot:Y": D(1), "a:spot:Z": D(3)}
        led.apply({"a:spot:Y": D(-1)})
    assert led.balances == {"a:spot:X": D(5), "a:spot:Z": D(3)}


def test_signed_kinds_may_go_negative() -> None:
    led = Ledger()
    led.apply({"binance:perp:ETH/USDT:USDT": D(-2)})
    assert led.balance("binance:perp:ETH/USDT:USDT") == D(-2)


def test_nested_transactions_roll_back_balances_and_tables() -> None:
    led = Ledger({"a:spot:X": "10"})
    orders = led.table("a.orders")
    orders["o1"] = ("buy", D(1))
    with led.transaction():
        led.apply({"a:spot:X": D(-1)})
        try:
            with led.transaction():
                led.apply({"a:spot:X": D(-2)})
                orders["o2"] = ("sell", D(2))
                del orders["o1"]
                raise RuntimeError("inner fails")
        except RuntimeError:
            pass
        assert led.balance("a:spot:X") == D(9)
        assert orders.snapshot() == {"o1": ("buy", D(1))}
    assert led.balance("a:spot:X") == D(9)
    try:
        with led.transaction():
            orders["o3"] = ("buy", D(3))
            led.apply({"a:spot:X": D(-100)})
    except InsufficientFundsError:
        pass
    assert "o3" not in orders and led.balance("a:spot:X") == D(9)


_amounts = st.one_of(st.decimals(min_value=D("-2"), max_value=D("2"), places=3),
                     st.sampled_from([D("NaN"), D("Infinity"), D("1e40")]))
_instr = st.fixed_dictionaries({
    "venue": st.sampled_from(["paper", "paper2", "nosuch"]),
    "side": st.sampled_from(["buy", "sell", "hold"]),
    "amount": _amounts,
    "symbol": st.sampled_from(["ETH/USDT", "BTC/USDT", "DOGE/USDT", "ETHUSDT"]),
    "hours": st.integers(min_value=-1, max_value=5),
})

_MARKET: DataProvider | None = None


def _market() -> DataProvider:
    global _MARKET
    if _MARKET is None:
        _MARKET = synthetic_market(hours=24 * 40)
    return _MARKET


@settings(max_examples=60, deadline=None)
@given(st.lists(_instr, min_size=1, max_size=25))
def test_balances_always_equal_the_sum_of_successful_deltas(steps: list[dict[str, Any]]) -> None:
    initial = {"paper:spot:USDT": D(20000), "paper:spot:ETH": D(1), "paper2:spot:USDT": D(5000)}
    m = ExecutionInterfaceManager({"initial_balances": initial, "venues": ["paper", "paper2"]}, _market(), "backtest")
    t = 24 * 3600 * 10**9
    base_ns = _market().start_ns + t
    for s in steps:
        base_ns += s["hours"] * 3600 * 10**9
        ts = f"{__import__('pandas').Timestamp(base_ns, tz='UTC').isoformat()}"
        instr = {"operation": "spot_trade", "venue": s["venue"], "symbol": s["symbol"], "side": s["side"],
                 "amount": str(s["amount"])}
        try:
            m.execute(ts, instr)
        except BasisError:
            pass
    expected = dict(initial)
    for rec in m.execution_history:
        if rec.success:
            for k, v in rec.positions.items():
                expected[k] = expected.get(k, D(0)) + v
    assert m.ledger.balances == {k: v for k, v in expected.items() if v != 0}  # type: ignore[union-attr]
    assert all(v >= 0 for v in m.ledger.balances.values())  # type: ignore[union-attr]


def test_balances_with_a_prefix_are_the_non_zero_ones_of_those_keys_as_a_copy() -> None:
    ledger = Ledger({"wallet:ETH": "1", "aave:supplied:WETH": "2", "aave:debt:USDC": "0", "binance:spot:ETH": "3"})
    assert ledger.balances_with("aave:") == {"aave:supplied:WETH": Decimal(2)}
    assert ledger.balances_with(("wallet:", "aave:")) == {"wallet:ETH": Decimal(1), "aave:supplied:WETH": Decimal(2)}
    got = ledger.balances_with("binance:")
    got["binance:spot:ETH"] = Decimal(0)
    assert ledger.balance("binance:spot:ETH") == 3  # a copy: writing to it changes nothing
