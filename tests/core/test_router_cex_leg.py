"""An optional CEX leg in a routed swap (backtest): with ``allow_cex`` the router may put part of the swap on a CEX's
spot book (the ``quote_spot`` hook: the simulator's price and slippage model), net of the taker fee, spending the
venue's spot balance; the split runs all or nothing on the ledger, and the deltas say what went to the CEX."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider
from basis_core.errors import InstructionError, InsufficientFundsError
from basis_core.instructions import Swap

T0 = "2025-02-01T00:00:00Z"
D = Decimal
BALANCES = {"ethereum:wallet:USDT": "20000000", "ethereum:wallet:ETH": "10", "binance:spot:USDT": "5000000"}


def _manager(market: DataProvider, balances: dict[str, str] | None = None) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"initial_balances": BALANCES if balances is None else balances,
                                      "venues": ["uniswap", "binance"]}, market, "backtest")


def _routed(amount: str, **extra: Any) -> dict[str, Any]:
    return {"operation": "swap", "venue": "auto", "token_in": "USDT", "token_out": "WETH", "amount_in": amount,
            **extra}


def test_quote_spot_prices_the_order_the_simulator_then_fills(market: DataProvider) -> None:
    m = _manager(market)
    q = m.venue("binance").quote_spot(pd.Timestamp(T0), Swap(venue="binance", token_in="USDT", token_out="ETH",
                                                             amount_in=D("250000")))
    assert q.status == "quoted" and not q.positions
    det = q.details
    assert det["symbol"] == "ETH/USDT" and det["side"] == "buy" and det["amount_in"] <= D("250000")
    assert det["amount"] % D("0.0001") == 0  # on the market's step
    # one more step would not fit the budget (the largest order that does)
    assert (det["amount"] + D("0.0001")) * det["price"] > D("250000")
    fill = m.execute(T0, det["spot_trade"])
    assert fill.fill_price == det["price"]
    assert dict(fill.positions) == det["positions"]
    assert fill.positions["binance:spot:ETH"] == det["amount_out"]
    sell = m.venue("binance").quote_spot(pd.Timestamp(T0), Swap(venue="binance", token_in="ETH", token_out="USDT",
                                                                amount_in=D("1.00005")))
    assert sell.details["side"] == "sell" and sell.details["amount"] == D("1.0000")


def test_a_large_routed_swap_puts_a_leg_on_the_cex_when_allowed(market: DataProvider) -> None:
    m = _manager(market)
    before = m.ledger.balances  # type: ignore[union-attr]
    without = _manager(market).quote(T0, _routed("3000000"))
    assert "binance" not in {leg["venue"] for leg in without.details["legs"]}  # default: no CEX leg
    d = m.execute(T0, _routed("3000000", allow_cex=["binance"], client_id="route-1"))
    cex = [leg for leg in d.details["legs"] if leg.get("kind") == "cex"]
    assert d.client_id == "route-1" and d.status == "filled"
    assert len(cex) == 1 and cex[0]["venue"] == "binance" and cex[0]["symbol"] == "ETH/USDT"
    assert d.details["cex_amount_in"] == cex[0]["amount_in"] > 0
    assert d.details["cex_amount_out"] == cex[0]["amount_out"] == d.positions["binance:spot:ETH"]
    # the chain legs spend the wallet, the CEX leg its spot balance (at most its share), fee net
    chain_in = sum(leg["amount_in"] for leg in d.details["legs"] if leg.get("kind") != "cex")
    assert d.positions["ethereum:wallet:USDT"] == -chain_in
    assert -cex[0]["amount_in"] <= d.positions["binance:spot:USDT"] < 0
    assert d.details["amount_out"] == d.positions["ethereum:wallet:WETH"] + d.positions["binance:spot:ETH"]
    after = m.ledger.balances  # type: ignore[union-attr]
    for key, change in d.positions.items():
        assert after[key] - D(before.get(key, 0)) == change
    # net of gas and fees, the split with the CEX leg pays more than the on-chain split alone
    assert d.details["net_amount_out"] > without.details["net_amount_out"]


def test_the_cex_leg_spends_at_most_the_venues_balance(market: DataProvider) -> None:
    m = _manager(market, {**BALANCES, "binance:spot:USDT": "200000"})
    d = m.quote(T0, _routed("10000000", allow_cex=["binance"]))
    cex = [leg for leg in d.details["legs"] if leg.get("kind") == "cex"]
    # ... and, cheaper at the margin than the pools at this size, it takes nearly all of it
    assert cex and D("190000") <= cex[0]["spent"] <= D("200000")


def test_the_split_with_a_cex_leg_is_all_or_nothing_on_the_ledger(market: DataProvider) -> None:
    m = _manager(market, {**BALANCES, "ethereum:wallet:ETH": "0.0001"})  # no gas for the chain legs
    before = m.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(InsufficientFundsError):
        m.execute(T0, _routed("3000000", allow_cex=["binance"]))
    assert m.ledger.balances == before  # type: ignore[union-attr]


@pytest.mark.parametrize(("instruction", "field"), [
    (_routed("1000000", allow_cex=["uniswap"]), "allow_cex"),  # not a CEX with a spot book
    (_routed("1000000", allow_cex=["nosuchvenue"]), "allow_cex"),
    ({**_routed("1000000", allow_cex=["binance"]), "venue": "uniswap"}, "allow_cex"),  # only a routed swap
])
def test_a_cex_leg_that_cannot_exist_is_refused_naming_the_field(market: DataProvider, instruction: dict[str, Any],
                                                                  field: str) -> None:
    m = _manager(market)
    before = m.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(InstructionError) as info:
        m.execute(T0, instruction)
    assert info.value.field == field
    assert m.ledger.balances == before  # type: ignore[union-attr]


def test_a_long_client_id_still_names_the_cex_order(market: DataProvider) -> None:
    m = _manager(market)
    d = m.execute(T0, _routed("3000000", allow_cex=["binance"], client_id="r" * 64))
    assert d.client_id == "r" * 64 and d.details["cex_amount_in"] > 0
