"""Binance spot in backtest: fills, fees in the received asset, slippage buckets, validation, transfers.

Expected values are closed forms from the inputs (price path, documented fee / slippage defaults),
computed here independently of the simulator."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from basis_venue_binance.venue import BinanceVenue
from hypothesis import given, settings
from hypothesis import strategies as st

from basis_core import ExecutionInterfaceManager
from basis_core.backtest.cex.testing import at, candles, market, settlements
from basis_core.errors import InstructionError, InsufficientFundsError

T0 = "2025-01-01T00:00:00Z"
PX = D(3000)
TAKER = D("0.001")


def make(balances: dict[str, str], eth_rows: list[Any] | None = None, **venue_cfg: Any) -> ExecutionInterfaceManager:
    mk = market(
        candles("spot:ETH/USDT", T0, eth_rows or [PX] * 48),
        candles("spot:BTC/USDT", T0, ["60000"] * 48),
        candles("perp:binance:ETH/USDT:USDT", T0, [PX] * 48),
        settlements("funding:binance:ETH/USDT:USDT", T0, ["0.0001"] * 6, 8),
    )
    cfg = {"initial_balances": balances, "venue_config": {"binance": venue_cfg}}
    return ExecutionInterfaceManager(cfg, mk, "backtest", autoload=False, plugins=[BinanceVenue])


def trade(side: str, amount: str, symbol: str = "ETH/USDT", **kw: Any) -> dict[str, Any]:
    return {"operation": "spot_trade", "venue": "binance", "symbol": symbol, "side": side, "amount": amount, **kw}


def test_market_buy_closed_form() -> None:
    m = make({"binance:spot:USDT": "10000"})
    d = m.execute(at(1), trade("buy", "1.5"))
    fill = PX * (1 + D(5) / 10_000)  # notional 4,500 <= 10k: 5 bps
    assert d.fill_price == fill == D("3001.5")
    assert d.positions == {"binance:spot:ETH": D("1.5") - D("1.5") * TAKER, "binance:spot:USDT": -D("1.5") * fill}
    assert d.fees == {"binance:spot:ETH": -D("0.0015")}  # charged in the received asset
    assert d.pnl == {"trading_fees": -D("0.0015") * PX, "slippage": -D("1.5") * (fill - PX)}
    assert m.ledger is not None
    assert m.ledger.balance("binance:spot:USDT") == D("10000") - D("4502.25")
    assert m.ledger.balance("binance:spot:ETH") == D("1.4985")


def test_market_sell_fee_in_quote() -> None:
    m = make({"binance:spot:ETH": "3"})
    d = m.execute(at(1), trade("sell", "2"))
    fill = PX * (1 - D(5) / 10_000)
    proceeds = 2 * fill
    assert d.positions == {"binance:spot:ETH": D(-2), "binance:spot:USDT": proceeds - proceeds * TAKER}
    assert d.fees == {"binance:spot:USDT": -proceeds * TAKER}
    assert d.details["fee_asset"] == "USDT"


@pytest.mark.parametrize(("amount", "bps"), [("3", 5), ("5", 7), ("33.3333", 7), ("50", 13), ("333.3333", 13),
                                             ("400", 25)])
def test_slippage_buckets(amount: str, bps: int) -> None:
    """Documented default buckets: <=10k 5 bps, <=100k 7, <=1M 13, above 25 (notional at the reference)."""
    m = make({"binance:spot:USDT": "1e7"})
    d = m.execute(at(1), trade("buy", amount))
    assert d.fill_price == PX + PX * D(bps) / 10_000


@settings(max_examples=40, deadline=None)
@given(steps=st.integers(min_value=600, max_value=3_000_000), buy=st.booleans(),
       price=st.decimals(min_value=D("100"), max_value=D("9000"), places=2))
def test_value_change_is_minus_fee_and_slippage(steps: int, buy: bool, price: D) -> None:
    """Valued at the reference price, every fill changes the account by exactly -(fee + slippage cost)."""
    amount = D(steps) * D("0.0001")
    m = make({"binance:spot:USDT": "1e12", "binance:spot:ETH": "1e6"}, eth_rows=[price] * 4)
    before = m.ledger.balances  # type: ignore[union-attr]
    d = m.execute(at(1), trade("buy" if buy else "sell", str(amount)))
    after = m.ledger.balances  # type: ignore[union-attr]

    def value(b: dict[str, D]) -> D:
        return b.get("binance:spot:USDT", D(0)) + b.get("binance:spot:ETH", D(0)) * price

    notional = amount * price
    bps = 5 if notional <= 10_000 else 7 if notional <= 100_000 else 13 if notional <= 1_000_000 else 25
    slippage_cost = notional * bps / 10_000
    fee_usd = amount * TAKER * price if buy else (notional - slippage_cost) * TAKER
    assert value(after) - value(before) == -(fee_usd + slippage_cost)
    assert sum(d.pnl.values()) == -(fee_usd + slippage_cost)


def test_spot_round_trip_loses_two_fees_plus_slippage() -> None:
    m = make({"binance:spot:USDT": "10000", "binance:spot:ETH": "10"})
    m.execute(at(1), trade("buy", "1"))
    m.execute(at(1), trade("sell", "1"))
    bal = m.get_balances(at(1), "binance")
    value = bal["binance:spot:USDT"] + bal["binance:spot:ETH"] * PX
    buy_fill, sell_fill = PX * D("1.0005"), PX * D("0.9995")
    fees = D("0.001") * PX + sell_fill * TAKER  # 0.001 ETH at 3000, then 0.1% of the sale
    slippage = (buy_fill - PX) + (PX - sell_fill)
    assert value == D(10000) + 10 * PX - (fees + slippage)
    assert fees + slippage == D("8.9985")


def test_fee_override_from_settings() -> None:
    m = make({"binance:spot:USDT": "10000"}, fees={"spot_taker": "0.00075"},
             slippage={"spot": [[None, 0]]})
    d = m.execute(at(1), trade("buy", "2"))
    assert d.positions == {"binance:spot:ETH": D(2) - D(2) * D("0.00075"), "binance:spot:USDT": -2 * PX}
    assert "slippage" not in d.pnl


@pytest.mark.parametrize(("instr", "field", "needle"), [
    (trade("buy", "1", symbol="SOL/USDT"), "symbol", "not a spot market"),
    (trade("buy", "0.00005"), "amount", "below the minimum amount"),
    (trade("buy", "0.00015"), "amount", "step size"),
    (trade("buy", "0.001"), "amount", "minimum notional"),
    (trade("buy", "0.00008", symbol="BTC/USDT"), "amount", "minimum notional"),
    (trade("buy", "0.000015", symbol="BTC/USDT"), "amount", "step size"),
    (trade("buy", "1", order_type="limit", price="2900.005"), "price", "tick size"),
])
def test_invalid_orders_name_the_field_and_apply_nothing(instr: dict[str, Any], field: str, needle: str) -> None:
    m = make({"binance:spot:USDT": "10000"})
    before = m.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(InstructionError) as ei:
        m.execute(at(1), instr)
    assert ei.value.field == field and needle in ei.value.reason
    assert m.ledger.balances == before  # type: ignore[union-attr]
    assert len(m.venue("binance").current_orders) == 0
    rec = m.execution_history[-1]
    assert rec["success"] is False and rec["error_field"] == field


def test_insufficient_balance() -> None:
    m = make({"binance:spot:USDT": "100"})
    with pytest.raises(InsufficientFundsError) as ei:
        m.execute(at(1), trade("buy", "1"))
    assert ei.value.key == "binance:spot:USDT" and ei.value.field == "amount"
    with pytest.raises(InsufficientFundsError) as ei:
        m.execute(at(1), trade("sell", "1"))
    assert ei.value.key == "binance:spot:ETH"
    assert m.ledger.balances == {"binance:spot:USDT": D(100)}  # type: ignore[union-attr]


def test_transfers_between_spot_and_futures() -> None:
    m = make({"binance:spot:USDT": "1000"})
    d = m.execute(at(1), {"operation": "transfer", "venue": "binance", "asset": "USDT", "amount": "600",
                          "from_account": "spot", "to_account": "futures"})
    assert d.positions == {"binance:spot:USDT": D(-600), "binance:futures:USDT": D(600)}
    m.execute(at(1), {"operation": "transfer", "venue": "binance", "asset": "USDT", "amount": "100",
                      "from_account": "futures", "to_account": "spot"})
    bal = m.get_balances(at(1), "binance")
    assert bal["binance:spot:USDT"] == D(500) and bal["binance:futures:USDT"] == D(500)
    with pytest.raises(InsufficientFundsError):
        m.execute(at(1), {"operation": "transfer", "venue": "binance", "asset": "USDT", "amount": "501",
                          "from_account": "futures", "to_account": "spot"})
    with pytest.raises(InstructionError) as ei:
        m.execute(at(1), {"operation": "transfer", "venue": "binance", "asset": "USDT", "amount": "1",
                          "from_account": "margin", "to_account": "spot"})
    assert ei.value.field == "from_account"
    with pytest.raises(InstructionError) as ei:
        m.execute(at(1), {"operation": "transfer", "venue": "binance", "asset": "ETH", "amount": "1",
                          "from_account": "spot", "to_account": "futures"})
    assert ei.value.field == "asset"


def test_futures_transfer_keeps_initial_margin() -> None:
    """Out of the futures wallet only what the open position's initial margin does not need."""
    m = make({"binance:futures:USDT": "1000"}, slippage={"perp": [[None, 0]]})
    m.execute(at(1), {"operation": "perp_trade", "venue": "binance", "symbol": "ETH/USDT:USDT", "side": "buy",
                      "amount": "1", "leverage": "10"})
    fee = PX * D("0.0005")
    free = D(1000) - fee - PX / 10  # wallet - initial margin (no unrealised PnL at an unchanged mark)
    assert m.get_balances(at(1), "binance")["binance:metric:available:USDT"] == free
    with pytest.raises(InsufficientFundsError):
        m.execute(at(1), {"operation": "transfer", "venue": "binance", "asset": "USDT", "amount": str(free + D("0.01")),
                          "from_account": "futures", "to_account": "spot"})
    m.execute(at(1), {"operation": "transfer", "venue": "binance", "asset": "USDT", "amount": str(free),
                      "from_account": "futures", "to_account": "spot"})


def test_plugin_is_discovered_through_its_entry_point() -> None:
    m = ExecutionInterfaceManager({"venues": ["binance"]}, market(candles("spot:ETH/USDT", T0, [PX] * 3)),
                                  "backtest")
    (info,) = m.venues()
    assert info["name"] == "binance" and info["distribution"] == "basis-venue-binance"
    assert set(info["operations"]) == {"spot_trade", "perp_trade", "transfer", "cancel_order", "modify_order"}
    assert "ETH/USDT:USDT" in info["instruments"]
