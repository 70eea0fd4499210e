"""Binance limit orders in backtest: resting, held balances, fills through later bars (maker, at the
limit), post-only / IOC, cancel and modify, and rollback. Expected values are closed forms."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from basis_venue_binance.venue import BinanceVenue

from basis_core import ExecutionInterfaceManager
from basis_core.backtest.cex.testing import at, candles, market, settlements
from basis_core.errors import InstructionError, InsufficientFundsError, MarginError, OrderNotFoundError

T0 = "2025-01-01T00:00:00Z"
MAKER_SPOT = D("0.001")
MAKER_PERP = D("0.0002")

# bar i closes at T0 + i h: (open, high, low, close)
ETH_BARS: list[Any] = [
    "3000",
    ("3000", "3010", "2990", "3005"),   # 1h
    ("3005", "3006", "2940", "2990"),   # 2h: low 2940
    ("2990", "3100", "2980", "3090"),   # 3h: high 3100
    ("3090", "3095", "3080", "3085"),   # 4h
] + ["3085"] * 20


def make(balances: dict[str, str]) -> ExecutionInterfaceManager:
    mk = market(
        candles("spot:ETH/USDT", T0, ETH_BARS),
        candles("perp:binance:ETH/USDT:USDT", T0, ETH_BARS),
        settlements("funding:binance:ETH/USDT:USDT", T0, ["0"] * 4, 8),
    )
    return ExecutionInterfaceManager({"initial_balances": balances}, mk, "backtest", autoload=False,
                                     plugins=[BinanceVenue])


def limit(side: str, amount: str, price: str, symbol: str = "ETH/USDT", **kw: Any) -> dict[str, Any]:
    op = "perp_trade" if ":" in symbol else "spot_trade"
    return {"operation": op, "venue": "binance", "symbol": symbol, "side": side, "amount": amount,
            "order_type": "limit", "price": price, **kw}


def test_limit_buy_rests_holds_quote_and_fills_at_limit_as_maker() -> None:
    m = make({"binance:spot:USDT": "10000"})
    d = m.execute(at(0), limit("buy", "2", "2950", client_id="b1"))
    assert d.status == "open" and d.positions == {}
    venue = m.venue("binance")
    assert list(venue.current_orders) == [d.order_id]
    assert m.get_balances(at(0), "binance")["binance:metric:locked:USDT"] == D(5900)
    # the held 5,900 USDT cannot be spent or moved
    with pytest.raises(InsufficientFundsError):
        m.execute(at(0), {"operation": "spot_trade", "venue": "binance", "symbol": "ETH/USDT", "side": "buy",
                          "amount": "1.5"})
    with pytest.raises(InsufficientFundsError):
        m.execute(at(0), {"operation": "transfer", "venue": "binance", "asset": "USDT", "amount": "4101",
                          "from_account": "spot", "to_account": "futures"})
    assert m.advance_to(at(1)) == []  # low 2990 > 2950: still resting
    fills = m.advance_to(at(2))          # low 2940 <= 2950
    (f,) = fills
    assert f.status == "filled" and f.fill_price == D(2950) and f.order_id == d.order_id and f.client_id == "b1"
    assert f.details["liquidity"] == "maker"
    assert f.positions == {"binance:spot:ETH": D(2) - D(2) * MAKER_SPOT, "binance:spot:USDT": D(-5900)}
    assert len(venue.current_orders) == 0
    bal = m.get_balances(at(2), "binance")
    assert bal["binance:spot:USDT"] == D(4100) and bal["binance:spot:ETH"] == D("1.998")
    assert "binance:metric:locked:USDT" not in bal
    assert m.execution_history[-1].operation == "spot_trade" and m.execution_history[-1].success


def test_limit_sell_fills_on_the_bar_high() -> None:
    m = make({"binance:spot:ETH": "1"})
    m.execute(at(0), limit("sell", "1", "3099.99"))
    assert m.advance_to(at(2)) == []
    (f,) = m.advance_to(at(4))  # bar 3h high 3100
    assert f.fill_price == D("3099.99") and f.timestamp == at(3)
    assert f.positions == {"binance:spot:ETH": D(-1), "binance:spot:USDT": D("3099.99") * (1 - MAKER_SPOT)}


def test_only_bars_closing_after_the_order_can_fill_it() -> None:
    m = make({"binance:spot:USDT": "10000"})
    m.execute(at(2), limit("buy", "1", "2945"))  # bar 2h (low 2940) is already closed
    assert m.advance_to(at(6)) == []
    assert len(m.venue("binance").current_orders) == 1


def test_post_only_ioc_and_marketable_limits() -> None:
    m = make({"binance:spot:USDT": "10000"})
    with pytest.raises(InstructionError) as ei:
        m.execute(at(0), limit("buy", "1", "3000", post_only=True))
    assert ei.value.field == "post_only"
    d = m.execute(at(0), limit("buy", "1", "2999", time_in_force="IOC"))
    assert d.status == "cancelled" and d.positions == {} and len(m.venue("binance").current_orders) == 0
    # marketable: taker at the slipped price (3001.5) capped by the limit
    d = m.execute(at(0), limit("buy", "1", "3001"))
    assert d.fill_price == D(3001) and d.details["liquidity"] == "taker"
    assert d.positions == {"binance:spot:ETH": D("0.999"), "binance:spot:USDT": D(-3001)}
    d = m.execute(at(0), limit("buy", "1", "3100", time_in_force="FOK"))
    assert d.fill_price == D("3001.5")


def test_cancel_by_id_and_client_id_releases_the_hold() -> None:
    m = make({"binance:spot:USDT": "10000"})
    a = m.execute(at(0), limit("buy", "1", "2900"))
    m.execute(at(0), limit("buy", "1", "2800", client_id="mine"))
    c = m.execute(at(0), {"operation": "cancel_order", "venue": "binance", "order_id": a.order_id})
    assert c.status == "cancelled" and c.order_id == a.order_id
    c2 = m.execute(at(0), {"operation": "cancel_order", "venue": "binance", "order_id": "mine"})
    assert c2.details["order_client_id"] == "mine"
    assert len(m.venue("binance").current_orders) == 0
    assert "binance:metric:locked:USDT" not in m.get_balances(at(0), "binance")
    with pytest.raises(OrderNotFoundError) as ei:
        m.execute(at(0), {"operation": "cancel_order", "venue": "binance", "order_id": "mine"})
    assert ei.value.field == "order_id"
    assert m.advance_to(at(5)) == []


def test_modify_price_and_amount_then_modify_to_marketable() -> None:
    m = make({"binance:spot:USDT": "10000"})
    a = m.execute(at(0), limit("buy", "1", "2900"))
    d = m.execute(at(0), {"operation": "modify_order", "venue": "binance", "order_id": a.order_id,
                          "price": "2920", "amount": "2"})
    assert d.status == "modified"
    assert m.get_balances(at(0), "binance")["binance:metric:locked:USDT"] == D(5840)
    with pytest.raises(InstructionError) as ei:
        m.execute(at(0), {"operation": "modify_order", "venue": "binance", "order_id": a.order_id, "price": "2920.001"})
    assert ei.value.field == "price"
    d = m.execute(at(0), {"operation": "modify_order", "venue": "binance", "order_id": a.order_id, "price": "3005"})
    assert d.status == "filled" and d.fill_price == D("3001.5") and d.order_id == a.order_id
    assert len(m.venue("binance").current_orders) == 0


def test_a_refused_order_leaves_no_trace() -> None:
    m = make({"binance:spot:USDT": "1000"})
    with pytest.raises(InsufficientFundsError):
        m.execute(at(0), limit("buy", "1", "2900"))
    assert len(m.venue("binance").current_orders) == 0
    assert m.ledger is not None and len(m.ledger.table("binance.locks")) == 0


def test_resting_perp_order_reserves_margin_and_fills_as_maker() -> None:
    m = make({"binance:futures:USDT": "1000"})
    d = m.execute(at(0), limit("sell", "1", "3099.50", symbol="ETH/USDT:USDT", leverage="10"))
    assert d.status == "open"
    bal = m.get_balances(at(0), "binance")
    assert bal["binance:metric:initial_margin:USDT"] == D("309.95")
    with pytest.raises(MarginError):  # 3 more ETH at 10x would need 929.85 of the 690.05 free
        m.execute(at(0), limit("sell", "3", "3099.50", symbol="ETH/USDT:USDT"))
    (f,) = m.advance_to(at(4))
    assert f.fill_price == D("3099.50") and f.details["liquidity"] == "maker"
    fee = D("3099.50") * MAKER_PERP
    assert f.positions == {"binance:perp:ETH/USDT:USDT": D(-1), "binance:futures:USDT": -fee}
    bal = m.get_balances(at(4), "binance")
    assert bal["binance:metric:entry_price:ETH/USDT:USDT"] == D("3099.50")
    assert bal["binance:metric:unrealised_pnl:ETH/USDT:USDT"] == D("3099.50") - D(3085)
    assert bal["binance:metric:initial_margin:USDT"] == D("308.5")


def test_modify_a_resting_perp_order_moves_its_margin() -> None:
    m = make({"binance:futures:USDT": "1000"})
    a = m.execute(at(0), limit("buy", "1", "2800", symbol="ETH/USDT:USDT", leverage="10"))
    assert m.get_balances(at(0), "binance")["binance:metric:initial_margin:USDT"] == D(280)
    m.execute(at(0), {"operation": "modify_order", "venue": "binance", "order_id": a.order_id, "price": "2500",
                      "amount": "2"})
    assert m.get_balances(at(0), "binance")["binance:metric:initial_margin:USDT"] == D(500)
    status = m.venue("binance").get_execution_status()
    assert status["open_orders"] == 1 and status["orders_executed"] == 2


def test_max_notional_risk_limit_uses_the_venue_estimate() -> None:
    from basis_core.errors import RiskLimitError
    mk = market(candles("spot:ETH/USDT", T0, ETH_BARS))
    m = ExecutionInterfaceManager({"initial_balances": {"binance:spot:USDT": "1e6"}, "max_notional": "5000"}, mk,
                                  "backtest", autoload=False, plugins=[BinanceVenue])
    m.execute(at(0), limit("buy", "1", "2900"))
    with pytest.raises(RiskLimitError):
        m.execute(at(0), limit("buy", "2", "2900"))  # 5,800 USD at the limit price
    with pytest.raises(RiskLimitError):
        m.execute(at(0), {"operation": "spot_trade", "venue": "binance", "symbol": "ETH/USDT", "side": "buy",
                          "amount": "1.7"})  # 5,100 USD at the as-of price
