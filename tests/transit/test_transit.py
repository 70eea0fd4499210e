"""Capital in transit (backtest): a move between venues debits the source at once, sits under its own
``transit:`` key (valued, earning nothing), and arrives at the destination as an event exactly the route's time
later, less the route's fee; bad input is a typed error naming the field and changes nothing."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.data.provider import DataProvider
from basis_core.data.synthetic import SyntheticSpec, synthetic_market
from basis_core.errors import ConfigError, InstructionError, InstructionValidationError, InsufficientFundsError
from basis_core.transit import in_transit

D = Decimal
T0 = pd.Timestamp("2025-01-02T00:00:00Z")


@functools.cache
def market() -> DataProvider:
    return synthetic_market(SyntheticSpec(start="2025-01-01T00:00:00Z", hours=72))


def manager(**settings: Any) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"venues": ["binance", "aave"], "initial_balances": {
        "binance:futures:USDT": "5000", "ethereum:wallet:USDT": "20000"}, **settings},
        data_provider=market(), execution_mode="backtest")


def move(amount: str = "10000", source: str = "ethereum:wallet:USDT", dest: str = "binance:futures:USDT",
         **kw: Any) -> dict[str, Any]:
    return {"operation": "move", "asset": "USDT", "amount": amount, "source": source, "destination": dest, **kw}


def test_collateral_sent_to_the_exchange_waits_the_modelled_time_then_arrives_as_an_event() -> None:
    m = manager()
    d = m.execute(T0, move(client_id="top-up-1"))
    wait = 60 + 6 * 12  # deposit: credited after 6 confirmations x 12 s + 60 s
    assert d.status == "requested" and d.details["seconds"] == wait
    assert d.positions == {"ethereum:wallet:USDT": D(-10000), "transit:ethereum-binance:USDT": D(10000)}
    (pending,) = in_transit(m)
    assert pending["arrives_at"] == T0 + pd.Timedelta(seconds=wait) and pending["destination"] == "binance:futures:USDT"
    assert m.advance_to(T0 + pd.Timedelta(seconds=wait - 1)) == []  # not yet: the margin is not there
    assert m.ledger.balance("binance:futures:USDT") == 5000  # type: ignore[union-attr]
    (arrival,) = m.advance_to(T0 + pd.Timedelta(hours=1))
    assert arrival.operation == "arrival" and arrival.timestamp == T0 + pd.Timedelta(seconds=wait)
    assert m.ledger.balance("binance:futures:USDT") == 15000 and in_transit(m) == []  # type: ignore[union-attr]
    assert m.ledger.balance("transit:ethereum-binance:USDT") == 0  # type: ignore[union-attr]
    assert [r.operation for r in m.execution_history][-2:] == ["move", "arrival"]


def test_a_withdrawal_pays_the_route_fee_and_routes_can_be_configured() -> None:
    m = manager(transit_routes={"binance:futures->ethereum:wallet": {"processing_seconds": 3600, "confirmations": 0,
                                                                     "fee": {"USDT": "2.5"}}})
    d = m.execute(T0, move("1000", "binance:futures:USDT", "ethereum:wallet:USDT"))
    assert d.positions == {"binance:futures:USDT": D(-1000), "transit:binance-ethereum:USDT": D("997.5")}
    assert d.fees == {"binance:futures:USDT": D("-2.5")} and d.pnl == {"trading_fees": D("-2.5")}
    assert d.details["arrives_at"] == (T0 + pd.Timedelta(hours=1)).isoformat()
    with pytest.raises(ConfigError, match=r"transit_routes\.bad"):
        manager(transit_routes={"bad": {}}).execute(T0, move())


def test_margin_in_use_cannot_leave_the_exchange() -> None:
    m = manager()
    m.execute(T0, {"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT", "side": "sell",
                   "amount": "20"})  # ~3,300 USDT of initial margin at 20x
    free = m.get_balances(T0, "binance")["binance:metric:available:USDT"]
    before = dict(m.ledger.balances)  # type: ignore[union-attr]
    with pytest.raises(InsufficientFundsError) as e:
        m.execute(T0, move(str(free + 1), "binance:futures:USDT", "ethereum:wallet:USDT"))
    assert e.value.field == "amount" and m.ledger.balances == before  # type: ignore[union-attr]


def test_the_pre_trade_corridor_check_refuses_a_move_that_strips_a_margin_wallet() -> None:
    """As live (tests/risk/test_corridor_guard_live_kinds.py): a move out of a margin wallet that leaves a smaller
    ETH move than ``min_corridor_move`` liquidating its perps is refused naming the wallet; nothing changes."""
    from basis_core.errors import CorridorError

    m = manager(min_corridor_move="0.2")
    m.execute(T0, {"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT", "side": "sell",
                   "amount": "4"})  # 5,000 USDT behind a 4 ETH short: a rise of well over 20 % liquidates it
    before = dict(m.ledger.balances)  # type: ignore[union-attr]
    with pytest.raises(CorridorError) as e:
        m.execute(T0, move("3500", "binance:futures:USDT", "ethereum:wallet:USDT"))
    assert e.value.field == "binance:futures:USDT" and "min_corridor_move" in e.value.reason
    assert m.ledger.balances == before and in_transit(m) == []  # type: ignore[union-attr]
    assert not m.execution_history[-1].success
    assert m.execute(T0, move("500", "binance:futures:USDT", "ethereum:wallet:USDT")).status == "requested"


@pytest.mark.parametrize(("over", "field"), [
    ({"destination": "ethereum:wallet:USDC"}, "destination"),
    ({"destination": "ethereum:wallet:USDT", "source": "ethereum:wallet:USDT"}, "destination"),
    ({"destination": "aave:supplied:USDT"}, "destination"),
    ({"amount": "-1"}, "amount"),
    ({"amount": "0.5", "source": "binance:futures:USDT", "destination": "ethereum:wallet:USDT"}, "amount"),
])
def test_bad_moves_name_the_field_and_change_nothing(over: dict[str, Any], field: str) -> None:
    m = manager()
    before = dict(m.ledger.balances)  # type: ignore[union-attr]
    with pytest.raises(InstructionValidationError) as e:
        m.execute(T0, {**move(), **over})
    assert e.value.field == field
    assert m.ledger.balances == before and in_transit(m) == []  # type: ignore[union-attr]


def test_a_staking_withdrawal_queue_is_capital_in_transit_too() -> None:
    """Lido's and EtherFi's withdrawal queues, each with the time its venue says the request can be claimed."""
    m = ExecutionInterfaceManager({"venues": ["lido", "etherfi"], "initial_balances": {"ethereum:wallet:ETH": "20"}},
                                  data_provider=market(), execution_mode="backtest")
    m.execute(T0, {"venue": "lido", "operation": "stake", "asset": "ETH", "amount": "10"})
    m.execute(T0, {"venue": "etherfi", "operation": "stake", "asset": "ETH", "amount": "5", "receive": "eETH"})
    d = m.execute(T0, {"venue": "lido", "operation": "unstake", "asset": "stETH", "amount": "5"})
    e = m.execute(T0, {"venue": "etherfi", "operation": "unstake", "action": "request", "asset": "eETH",
                       "amount": "2"})
    queued, queued_etherfi = sorted(in_transit(m, T0, queues=True), key=lambda q: q["source"], reverse=True)
    assert queued["source"] == f"lido:withdrawal:{d.details['request_id']}" and queued["arrives_at"] > T0
    assert queued_etherfi["source"] == f"etherfi:withdrawal:{e.details['request_id']}"
    assert queued_etherfi["arrives_at"] > T0
    assert queued["claimable"] is False and queued_etherfi["claimable"] is False  # the same view as live
    (ready,) = [q for q in in_transit(m, queued["arrives_at"], queues=True) if q["source"] == queued["source"]]
    assert ready["claimable"] is True
    claim = {"venue": "lido", "operation": "unstake", "action": "claim", "request_id": d.details["request_id"]}
    with pytest.raises(InstructionError, match="not finalised"):  # not before the queue lets it
        m.execute(queued["arrives_at"] - pd.Timedelta(seconds=1), claim)
    m.execute(queued["arrives_at"], claim)
    assert [q["source"] for q in in_transit(m, queued["arrives_at"], queues=True)] == [queued_etherfi["source"]]
