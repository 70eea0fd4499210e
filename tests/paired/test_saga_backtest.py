"""Paired execution in backtest: every leg failure point ends hedged or flat within the legging budget.

Failures are real venue refusals, placed at each point of the saga by funding the accounts so that exactly the
wanted number of slices fit: the lead's spot account (Binance USDT) or the hedge's margin (Hyperliquid USDC at 20x).
The legging invariant is checked independently from the execution history (tests/paired/legging.py).
"""

from __future__ import annotations

import functools
import importlib.util
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.data.provider import DataProvider
from basis_core.data.synthetic import synthetic_market
from basis_core.errors import InstructionValidationError, InsufficientFundsError, UnknownOperationError

_spec = importlib.util.spec_from_file_location("legging", Path(__file__).with_name("legging.py"))
assert _spec is not None and _spec.loader is not None
legging = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(legging)
legging_profile = legging.legging_profile

D = Decimal
TS = "2025-01-02T00:00:00Z"
BUDGET = D(10_000)  # 2.5 ETH slices at ~3094 USD
SPOT_KEY, PERP_KEY = "binance:spot:ETH", "hyperliquid:perp:ETH/USDC:USDC"


@functools.cache
def market() -> DataProvider:
    return synthetic_market()  # one seeded market for the module (read-only)


def manager(usdt: str = "100000", usdc: str = "50000", **extra: Any) -> ExecutionInterfaceManager:
    bal = {"binance:spot:USDT": usdt, "hyperliquid:perp-margin:USDC": usdc, **extra}
    return ExecutionInterfaceManager({"venues": ["binance", "hyperliquid", "aave"], "initial_balances": bal},
                                     data_provider=market(), execution_mode="backtest")


def basis(amount: str = "10", **over: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "operation": "paired", "client_id": "basis-1",
        "legs": [{"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy", "amount": amount},
                 {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC", "side": "sell",
                  "amount": amount}],
        "budget": {"max_unhedged_notional": str(BUDGET), "max_unhedged_seconds": "5"},
        "latency": {"default_ms": 250}}
    p.update(over)
    return p


def assert_within_budget(m: ExecutionInterfaceManager, seconds: str = "5") -> Decimal:
    usd, secs, net = legging_profile(m.execution_history)
    assert usd <= BUDGET and secs <= D(seconds)
    return net


def test_all_legs_fill_in_slices_within_the_budget_and_each_fill_sizes_the_hedge() -> None:
    m = manager()
    d = m.execute(TS, basis())
    assert d.status == "filled" and d.details["slices"] == 4 and d.details["reason"] is None
    legs = d.details["legs"]
    assert [x["role"] for x in legs] == ["lead", "hedge"] * 4
    for lead, hedge in zip(legs[::2], legs[1::2], strict=True):  # the hedge is the base received net of the fee
        assert D(hedge["amount"]) == D(lead["fill_amount"]) * (1 - D("0.001"))
        assert hedge["at"] > lead["at"]  # 250 ms later, at the market of that time
    b, h = m.get_balances(TS, "binance"), m.get_balances(TS, "hyperliquid")
    assert b[SPOT_KEY] == -h[PERP_KEY] == D("9.99") == d.fill_amount
    assert assert_within_budget(m) == 0
    assert d.positions[SPOT_KEY] == D("9.99") and d.positions[PERP_KEY] == D("-9.99")


@pytest.mark.parametrize(("usdt", "usdc", "failed_role", "failed_slice"), [
    ("16000", "50000", "lead", 2),   # the lead's USDT covers two slices
    ("100000", "300", "hedge", 0),   # the hedge margin covers none
    ("100000", "1000", "hedge", 2),  # the hedge margin covers two slices
])
def test_a_failing_leg_unwinds_everything_filled_and_reports_the_cost(usdt: str, usdc: str, failed_role: str,
                                                                      failed_slice: int) -> None:
    m = manager(usdt, usdc)
    d = m.execute(TS, basis())
    assert d.status == "unwound" and failed_role in d.details["reason"]
    failed = [x for x in d.details["legs"] if x["status"] == "failed"]
    assert [(x["role"], x["slice"]) for x in failed] == [(failed_role, failed_slice)]
    b, h = m.get_balances(TS, "binance"), m.get_balances(TS, "hyperliquid")
    assert b.get(SPOT_KEY, 0) == 0 and h.get(PERP_KEY, 0) == 0  # flat on both venues
    assert assert_within_budget(m) == 0
    unwinds = [x for x in d.details["legs"] if x["role"] == "unwind"]
    assert len(unwinds) == len([x for x in d.details["legs"] if x["role"] != "unwind" and x["status"] != "failed"])
    # the cost is what the round trips took out of the books: USDT and USDC lost, valued at 1
    lost = (D(usdt) - b["binance:spot:USDT"]) + (D(usdc) - h["hyperliquid:perp-margin:USDC"])
    assert d.details["unwind_cost_usd"] == lost > 0
    assert d.positions == {k: v for k, v in {"binance:spot:USDT": b["binance:spot:USDT"] - D(usdt),
                                             "hyperliquid:perp-margin:USDC":
                                                 h["hyperliquid:perp-margin:USDC"] - D(usdc)}.items() if v}


def test_keep_hedged_unwinds_only_the_slice_in_flight() -> None:
    m = manager("100000", "1000")
    d = m.execute(TS, basis(on_failure="keep_hedged"))
    assert d.status == "partially_filled" and d.fill_amount == D("4.995")
    b, h = m.get_balances(TS, "binance"), m.get_balances(TS, "hyperliquid")
    assert b[SPOT_KEY] == -h[PERP_KEY] == D("4.995")  # two slices, hedged
    assert assert_within_budget(m) == 0


def test_a_lead_that_cannot_fill_at_all_raises_its_own_error_and_changes_nothing() -> None:
    m = manager("1000")
    before = dict(m.ledger.balances)  # type: ignore[union-attr]
    with pytest.raises(InsufficientFundsError) as e:
        m.execute(TS, basis())
    assert e.value.field == "amount" and m.ledger.balances == before  # type: ignore[union-attr]


def test_latency_beyond_the_time_budget_unwinds_the_lead_before_the_hedge_is_sent() -> None:
    m = manager()
    d = m.execute(TS, basis(latency={"default_ms": 6000}))
    assert d.status == "unwound" and "legging budget" in d.details["reason"]
    assert [x["role"] for x in d.details["legs"]] == ["lead", "hedge", "unwind"]
    assert d.details["legs"][1]["status"] == "failed"  # never sent
    assert m.get_balances(TS, "hyperliquid").get(PERP_KEY, 0) == 0
    assert m.get_balances(TS, "binance").get(SPOT_KEY, 0) == 0
    usd, secs, net = legging_profile(m.execution_history)
    assert net == 0 and usd <= BUDGET and secs <= 12  # the unwind itself travels one latency back


def test_latency_moves_the_saga_clock_and_fills_at_the_later_market() -> None:
    m = manager()
    d = m.execute(TS, basis("2", latency={"between": {"binance->hyperliquid": 3_600_000}},
                            budget={"max_unhedged_notional": "10000", "max_unhedged_seconds": "7200"}))
    _lead, hedge = d.details["legs"]
    assert hedge["at"] == "2025-01-02T01:00:00+00:00"
    mark_then = m.data_provider.get_data("2025-01-02T01:00:00Z").get("perp:hyperliquid:ETH/USDC:USDC")
    mark_now = m.data_provider.get_data(TS).get("perp:hyperliquid:ETH/USDC:USDC")
    assert mark_then != mark_now
    slip = D(hedge["fill_price"]) / mark_then
    assert D("0.999") < slip <= 1  # a sell fills at the later mark less slippage


def test_borrow_on_aave_then_sell_on_a_cex_unwinds_with_a_repay() -> None:
    m = manager(**{"ethereum:wallet:wstETH": "20", "ethereum:wallet:ETH": "1", "binance:spot:ETH": "3"})
    m.execute(TS, {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "20"})
    p = {"operation": "paired", "client_id": "short-1",
         "legs": [{"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "sell", "amount": "5"},
                  {"venue": "aave", "operation": "borrow", "asset": "WETH", "amount": "5"}],
         "budget": {"max_unhedged_notional": "50000", "max_unhedged_seconds": "60"},
         "latency": {"default_ms": 12_000}}
    d = m.execute(TS, p)  # the borrow is the lead (rank 0); the sale of 5 ETH then fails: 3 ETH held
    assert [x["role"] for x in d.details["legs"]] == ["lead", "hedge", "unwind"]
    assert d.details["legs"][0]["operation"] == "borrow" and d.details["legs"][2]["operation"] == "repay"
    assert d.status == "unwound"
    aave = m.get_balances(TS, "aave")
    # 24 s of interest stay owed (the repay returns what was borrowed); the CEX's ETH is untouched
    assert 0 <= aave.get("aave:debt:WETH", 0) < D("1e-6") and m.ledger.balance("binance:spot:ETH") == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(("over", "field"), [
    ({"legs": []}, "legs"),
    ({"budget": {"max_unhedged_notional": "-1"}}, "budget.max_unhedged_notional"),
    ({"latency": {"default_ms": -5}}, "latency.default_ms"),
    ({"rank": [0]}, "rank"),
    ({"on_failure": "pray"}, "on_failure"),
])
def test_bad_input_is_a_typed_error_naming_the_field_and_nothing_changes(over: dict[str, Any], field: str) -> None:
    m = manager()
    before, n = dict(m.ledger.balances), len(m.execution_history)  # type: ignore[union-attr]
    with pytest.raises(InstructionValidationError) as e:
        m.execute(TS, basis(**over))
    assert e.value.field == field
    assert m.ledger.balances == before and len(m.execution_history) == n  # type: ignore[union-attr]


@pytest.mark.parametrize(("leg", "field"), [
    ({"venue": "nowhere"}, "legs.1.venue"),
    ({"symbol": "DOGE/USDC:USDC"}, "legs.1.symbol"),
    ({"client_id": "mine"}, "legs.1.client_id"),
    ({"amount": "0"}, "legs.1.amount"),
    ({"order_type": "limit", "price": "3000"}, "legs.1.time_in_force"),
])
def test_a_bad_leg_is_named_and_nothing_is_sent(leg: dict[str, Any], field: str) -> None:
    m = manager()
    p = basis()
    p["legs"][1].update(leg)
    before = dict(m.ledger.balances)  # type: ignore[union-attr]
    with pytest.raises(InstructionValidationError) as e:
        m.execute(TS, p)
    assert e.value.field == field and m.ledger.balances == before  # type: ignore[union-attr]


def test_a_stake_leg_has_no_compensation_and_is_refused() -> None:
    p = basis()
    p["legs"][0] = {"venue": "lido", "operation": "stake", "amount": "1"}
    with pytest.raises((InstructionValidationError, UnknownOperationError)) as e:
        manager().execute(TS, p)
    assert e.value.field.startswith("legs.0")
