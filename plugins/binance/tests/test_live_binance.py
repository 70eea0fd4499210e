"""Binance live mode through the MANAGER: the real ccxt client against the signature-checking emulator.

Expected deltas are closed forms from the emulator's configured prices and Binance's fee schedule
(spot 0.1 % charged in the received asset; USD-M taker 0.05 %, maker 0.02 % in USDT), and every
order count is read from the emulator's own book (``orders_for_client_id``), never from the code
under test. Fault tests assert the invariant of issue 5: after the instruction returns or raises, the
venue holds exactly one order for the client id (none for a definitive rejection).

No test depends on timing: the client's timeout (30 s) and the recvWindow (2 s) are generous, so an ordinary
request never times out or arrives too late on a loaded machine (either would add a request to what the tests
count); a timeout path times out one chosen request (``times_out``) that the emulator holds until an event orders
its landing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from basis_venue_binance.live import BinanceLiveBackend, binance_client_id
from basis_venue_binance.testing.emulator import TIMEOUT_1007, BinanceEmulator

from basis_core import ExecutionInterfaceManager
from basis_core.errors import (
    AmbiguousOutcomeError,
    AuthenticationError,
    ConfigError,
    DuplicateClientIdError,
    InstructionError,
    InsufficientFundsError,
    MarginError,
    OrderNotFoundError,
    RetryableError,
    RiskLimitError,
)
from basis_core.live.journal import ExecutionJournal
from basis_core.testing.client_timeout import time_out_next
from basis_core.testing.http_emulator import Fault
from basis_core.testing.orders import trade

D = Decimal
API_KEY = "live-test-key-6b1f0c3e9d2a4b7c8e5f1a0b"
API_SECRET = "live-test-SECRET-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
TS = "2025-06-01T00:00:00Z"
SPOT, PERP = "ETH/USDT", "ETH/USDT:USDT"
SPOT_FEE, PERP_TAKER, PERP_MAKER = D("0.001"), D("0.0005"), D("0.0002")
RECV_MS, MARGIN_MS = 2000, 100  # the landing window of a sent request: 2.1 s


class Crash(BaseException):
    """The process dies right after the request went out (nothing may catch it)."""


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(API_KEY, API_SECRET, spot_balances={"USDT": D(100_000), "ETH": D(10)},
                         futures_balances={"USDT": D(50_000)}, prices={"ETHUSDT": D(3000), "BTCUSDT": D(60_000)}) as e:
        yield e


def config(emu: BinanceEmulator, journal: Path | None, **over: Any) -> dict[str, Any]:
    venue = {"api_key": API_KEY, "api_secret": API_SECRET, "base_url": emu.base_url, "enable_rate_limit": False,
             "timeout_ms": 30_000, "recv_window_ms": RECV_MS, "clock_margin_ms": MARGIN_MS}
    venue.update(over.pop("venue", {}))
    return {"venues": ["binance"], "retry_delay_seconds": 0, "journal_path": str(journal) if journal else None,
            "venue_config": {"binance": venue}, **over}


@pytest.fixture
def make(emu: BinanceEmulator, tmp_path: Path) -> Callable[..., ExecutionInterfaceManager]:
    def _make(**over: Any) -> ExecutionInterfaceManager:
        return ExecutionInterfaceManager(config=config(emu, tmp_path / "journal.sqlite", **over),
                                         execution_mode="live")
    return _make


@pytest.fixture
def m(make: Callable[..., ExecutionInterfaceManager]) -> ExecutionInterfaceManager:
    return make()


def spot(side: str, amount: str, cid: str | None = None, **kw: Any) -> dict[str, Any]:
    return trade("binance", "spot_trade", SPOT, side, amount, **kw, **({"client_id": cid} if cid else {}))


def perp(side: str, amount: str, cid: str | None = None, **kw: Any) -> dict[str, Any]:
    return trade("binance", "perp_trade", PERP, side, amount, **kw, **({"client_id": cid} if cid else {}))


def n_orders(emu: BinanceEmulator, cid: str) -> int:
    return len(emu.orders_for_client_id(cid))


def times_out(m: ExecutionInterfaceManager, method: str, path: str) -> None:
    """The next ``method path`` request times out at the client (0.1 s): the emulator must hold it
    (``Fault("delay", until=...)``), so the timeout is certain."""
    time_out_next(m.venue("binance").backend.client,
                  lambda verb, url, body: verb == method and urlsplit(url).path == path)


# ------------------------------------------------------------------------------------------------ round trips
def test_spot_market_buy_and_sell_deltas_match_the_venue(m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    buy = m.execute(TS, spot("buy", "0.5", "s-buy"))
    fee = D("0.5") * SPOT_FEE  # in ETH, the received asset
    assert buy.status == "filled" and buy.fill_price == 3000 and buy.fill_amount == D("0.5")
    assert buy.positions == {"binance:spot:ETH": D("0.5") - fee, "binance:spot:USDT": D(-1500)}
    assert buy.fees == {"binance:spot:ETH": -fee} and buy.pnl["trading_fees"] == -fee * 3000
    assert emu.spot_balance("ETH") == (D(10) + D("0.5") - fee, 0) and emu.spot_balance("USDT") == (D(98_500), 0)
    (o,) = emu.orders_for_client_id("s-buy")
    assert buy.order_id == str(o.order_id)
    emu.set_price("ETHUSDT", D(3200))
    sell = m.execute(TS, spot("sell", "1", "s-sell"))
    assert sell.positions == {"binance:spot:ETH": D(-1), "binance:spot:USDT": D(3200) - D(3200) * SPOT_FEE}
    assert sell.fees == {"binance:spot:USDT": -D("3.2")}
    h = m.execution_history[-1]
    assert h.success and h.client_id == "s-sell" and h.order_id == sell.order_id


def test_spot_limit_post_only_rests_modify_cancel(m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    rest = m.execute(TS, spot("buy", "0.1", "lim-1", order_type="limit", price="2900", post_only=True))
    assert rest.status == "open" and rest.positions == {}
    (o,) = emu.orders_for_client_id("lim-1")
    assert (o.type, o.price, o.status) == ("LIMIT_MAKER", D(2900), "NEW")
    mod = m.execute(TS, {"venue": "binance", "operation": "modify_order", "order_id": "lim-1", "price": "2800"})
    assert mod.status == "modified" and mod.details["price"] == D(2800)
    old, new = emu.orders_for_client_id("lim-1")  # cancel-replace: same client id, still post-only
    assert (old.status, new.status, new.price, new.type) == ("CANCELED", "NEW", D(2800), "LIMIT_MAKER")
    assert emu.spot_balance("USDT") == (D(100_000) - D(280), D(280))
    c = m.execute(TS, {"venue": "binance", "operation": "cancel_order", "order_id": "lim-1"})
    assert c.status == "cancelled" and c.order_id == str(new.order_id)
    assert emu.orders_for_client_id("lim-1")[-1].status == "CANCELED" and emu.spot_balance("USDT") == (D(100_000), 0)
    with pytest.raises(OrderNotFoundError):
        m.execute(TS, {"venue": "binance", "operation": "cancel_order", "order_id": "lim-1", "client_id": "c2"})


def test_resting_limit_fill_is_reported_when_modified_into_the_market(m: ExecutionInterfaceManager,
                                                                      emu: BinanceEmulator) -> None:
    m.execute(TS, perp("sell", "0.2", "pl-1", order_type="limit", price="3100"))
    d = m.execute(TS, {"venue": "binance", "operation": "modify_order", "order_id": "pl-1", "symbol": PERP,
                       "price": "2990"})  # now marketable: fills at the mark as taker
    fee = D("0.2") * 3000 * PERP_TAKER
    assert d.status == "filled" and d.operation == "modify_order"
    assert d.positions == {"binance:perp:ETH/USDT:USDT": D("-0.2"), "binance:futures:USDT": -fee}
    assert emu.position("ETHUSDT").amount == D("-0.2")


def test_resting_fills_come_back_from_advance_to_as_the_venue_made_them(m: ExecutionInterfaceManager,
                                                                         emu: BinanceEmulator) -> None:
    """A resting spot buy fills in two parts at the venue; each ``advance_to`` reports what is new (maker fee
    in the received ETH), the history shows both, and the parts sum to the venue's balance changes."""
    eth0, usdt0 = emu.spot_balance("ETH")[0], sum(emu.spot_balance("USDT"))
    rest = m.execute(TS, spot("buy", "0.5", "rest-1", order_type="limit", price="2900"))
    assert rest.status == "open" and m.advance_to(TS) == []  # nothing filled yet: nothing to report
    emu.fill_order("rest-1", D("0.2"))
    (first,) = m.advance_to(TS)
    maker = SPOT_FEE  # the spot maker rate equals the taker rate on the base tier
    assert (first.operation, first.status, first.order_id, first.client_id) == (
        "spot_trade", "partially_filled", rest.order_id, "rest-1")
    assert first.fill_amount == D("0.2") and first.fill_price == 2900 and first.details["resting"] is True
    assert first.positions == {"binance:spot:ETH": D("0.2") - D("0.2") * maker, "binance:spot:USDT": -D(580)}
    assert m.advance_to(TS) == []  # reported once
    emu.fill_order("rest-1")
    (second,) = m.advance_to(TS)
    assert second.status == "filled" and second.fill_amount == D("0.3")
    assert second.positions == {"binance:spot:ETH": D("0.3") - D("0.3") * maker, "binance:spot:USDT": -D(870)}
    total = {k: first.positions.get(k, 0) + second.positions.get(k, 0) for k in second.positions}
    assert total == {"binance:spot:ETH": emu.spot_balance("ETH")[0] - eth0,
                     "binance:spot:USDT": sum(emu.spot_balance("USDT")) - usdt0}
    assert [(r.operation, r.status) for r in m.execution_history] == [
        ("spot_trade", "open"), ("spot_trade", "partially_filled"), ("spot_trade", "filled")]
    assert m.venue("binance").backend.open_orders == {} and m.advance_to(TS) == []


def test_an_advance_whose_venue_read_fails_reports_nothing_and_the_next_reports_it_all(
        m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    m.execute(TS, spot("buy", "0.3", "rf-1", order_type="limit", price="2900"))
    m.execute(TS, perp("sell", "0.2", "rf-2", order_type="limit", price="3100"))
    m.advance_to(TS)  # first accrual: takes over nothing (both are this process's own)
    emu.fill_order("rf-1")
    emu.fill_order("rf-2")
    emu.faults.inject("GET /fapi/v1/order", Fault("http_5xx", status=503, times=3))  # the perp lookup fails
    n = len(m.execution_history)
    assert m.advance_to(TS) == []  # not half-reported; the other venues would still have accrued
    (failure,) = m.execution_history[n:]
    assert not failure.success and failure.operation == "accrue" and "AmbiguousOutcomeError" in str(failure.error)
    status = m.get_execution_status()["venues"]["binance"]
    assert status["status"] == "degraded" and "AmbiguousOutcomeError" in status["reason"]
    fills = m.advance_to(TS)
    assert sorted((f.client_id, f.fill_amount) for f in fills) == [("rf-1", D("0.3")), ("rf-2", D("0.2"))]
    assert m.get_execution_status()["venues"]["binance"]["status"] == "healthy"


def test_a_partial_fill_before_a_cancel_is_still_reported(m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    m.execute(TS, perp("buy", "0.4", "rest-p", order_type="limit", price="2950"))
    emu.fill_order("rest-p", D("0.1"))
    m.execute(TS, {"venue": "binance", "operation": "cancel_order", "order_id": "rest-p", "symbol": PERP})
    (fill,) = m.advance_to(TS)
    assert fill.operation == "perp_trade" and fill.fill_amount == D("0.1")
    assert fill.positions == {"binance:perp:ETH/USDT:USDT": D("0.1"),
                              "binance:futures:USDT": -D("0.1") * 2950 * PERP_MAKER}
    assert emu.position("ETHUSDT").amount == D("0.1") and m.advance_to(TS) == []


def test_open_orders_and_order_status_come_from_the_venue(m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    s = m.execute(TS, spot("buy", "0.1", "oo-s", order_type="limit", price="2900"))
    p = m.execute(TS, perp("sell", "0.2", "oo-p", order_type="limit", price="3100"))
    venue = m.venue("binance")
    calls = len(emu.requests_for("GET", "/api/v3/openOrders")) + len(emu.requests_for("GET", "/fapi/v1/openOrders"))
    now = venue.current_orders.snapshot()
    assert len(emu.requests_for("GET", "/api/v3/openOrders")) + len(emu.requests_for(
        "GET", "/fapi/v1/openOrders")) - calls == len(venue.backend.markets)  # one call per listed market
    assert set(now) == {s.order_id, p.order_id} == {str(o.order_id) for o in emu.open_orders()}
    assert (now[p.order_id].symbol, now[p.order_id].side, now[p.order_id].amount, now[p.order_id].price) == (
        PERP, "sell", D("0.2"), D(3100))
    assert venue.get_execution_status()["open_orders"] == 2  # counted without asking the venue
    st = venue.backend.order_status(SPOT, client_id="oo-s")
    assert st is not None and (st.order_id, st.status, st.filled) == (s.order_id, "open", 0)
    emu.fill_order("oo-s")
    st = venue.backend.order_status(SPOT, order_id=s.order_id)
    assert st is not None and st.status == "closed" and st.filled == D("0.1") and len(st.fills) == 1
    assert set(venue.current_orders) == {p.order_id}
    assert venue.backend.order_status(PERP, client_id="never-sent") is None


def test_funding_the_venue_books_comes_back_from_advance_to(m: ExecutionInterfaceManager,
                                                             emu: BinanceEmulator) -> None:
    m.execute(TS, perp("sell", "0.5", "f-short"))
    wallet = emu.futures_wallet["USDT"]
    got = emu.apply_funding("ETHUSDT", D("0.0001"))  # positive rate: the short receives 0.5 x 3000 x 0.0001
    assert got == D("0.15") and emu.futures_wallet["USDT"] == wallet + D("0.15")
    (f,) = m.advance_to(TS)
    assert (f.operation, f.status, f.positions, f.pnl) == (
        "funding", "settled", {"binance:futures:USDT": D("0.15")}, {"funding": D("0.15")})
    assert f.details["payments"][PERP]["payment"] == D("0.15")
    assert m.advance_to(TS) == [] and m.execution_history[-1].operation == "funding"  # reported once


def test_funding_over_more_than_one_page_is_reported_once_each(m: ExecutionInterfaceManager,
                                                                emu: BinanceEmulator) -> None:
    """1,200 settlements span two 1,000-row income pages whose boundary repeats rows: the reported total is
    exactly the wallet's change at the venue."""
    m.execute(TS, perp("sell", "0.5", "f-many"))
    wallet = emu.futures_wallet["USDT"]
    for _ in range(1200):
        emu.apply_funding("ETHUSDT", D("0.0001"))
    got = m.advance_to(TS)
    assert len(emu.income) == 1200
    assert sum((f.positions["binance:futures:USDT"] for f in got), D(0)) == emu.futures_wallet["USDT"] - wallet
    assert m.advance_to(TS) == []


def test_ioc_that_cannot_match_is_cancelled(m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    d = m.execute(TS, spot("buy", "0.1", "ioc-1", order_type="limit", price="2900", time_in_force="IOC"))
    assert d.status == "cancelled" and d.positions == {}
    (o,) = emu.orders_for_client_id("ioc-1")
    assert o.status == "EXPIRED"


def test_spot_post_only_that_would_take_is_refused(m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    with pytest.raises(InstructionError) as ei:
        m.execute(TS, spot("buy", "0.1", "po-x", order_type="limit", price="3100", post_only=True))
    assert ei.value.field == "post_only" and n_orders(emu, "po-x") == 0
    assert m.execution_history[-1].success is False


def test_perp_leverage_open_then_reduce_only_close_realises_pnl(m: ExecutionInterfaceManager,
                                                                emu: BinanceEmulator) -> None:
    o = m.execute(TS, perp("buy", "0.5", "p-open", leverage="5"))
    fee1 = D("0.5") * 3000 * PERP_TAKER
    assert o.positions == {"binance:perp:ETH/USDT:USDT": D("0.5"), "binance:futures:USDT": -fee1}
    assert emu.leverage["ETHUSDT"] == 5 and emu.position("ETHUSDT").amount == D("0.5")
    emu.set_price("ETHUSDT", D(3100))
    c = m.execute(TS, perp("sell", "0.5", "p-close", reduce_only=True))
    fee2 = D("0.5") * 3100 * PERP_TAKER
    realised = D("0.5") * (3100 - 3000)
    assert c.positions == {"binance:perp:ETH/USDT:USDT": D("-0.5"), "binance:futures:USDT": realised - fee2}
    assert c.details["realised_pnl"] == realised and emu.futures_wallet["USDT"] == D(50_000) - fee1 + realised - fee2
    with pytest.raises(InstructionError) as ei:  # nothing left to reduce
        m.execute(TS, perp("sell", "0.1", "p-ro", reduce_only=True))
    assert ei.value.field == "reduce_only" and n_orders(emu, "p-ro") == 0


def test_perp_post_only_rests_then_maker_fill_is_in_the_balances(m: ExecutionInterfaceManager,
                                                                 emu: BinanceEmulator) -> None:
    r = m.execute(TS, perp("buy", "0.3", "gtx-1", order_type="limit", price="2950", post_only=True))
    assert r.status == "open" and emu.orders_for_client_id("gtx-1")[0].time_in_force == "GTX"
    emu.set_price("ETHUSDT", D(2940))  # crosses: maker fill at 2950
    bal = m.get_balances(TS, "binance")
    assert bal["binance:perp:ETH/USDT:USDT"] == D("0.3")
    assert bal["binance:futures:USDT"] == D(50_000) - D("0.3") * 2950 * PERP_MAKER


def test_transfers_both_ways_and_balances(m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    t = m.execute(TS, {"venue": "binance", "operation": "transfer", "asset": "USDT", "amount": "1000",
                       "from_account": "spot", "to_account": "futures"})
    assert t.positions == {"binance:spot:USDT": D(-1000), "binance:futures:USDT": D(1000)}
    back = m.execute(TS, {"venue": "binance", "operation": "transfer", "asset": "USDT", "amount": "250.5",
                          "from_account": "futures", "to_account": "spot"})
    assert back.positions == {"binance:futures:USDT": D("-250.5"), "binance:spot:USDT": D("250.5")}
    assert [x["type"] for x in emu.transfers] == ["MAIN_UMFUTURE", "UMFUTURE_MAIN"]
    bal = m.get_balances(TS, "binance")
    assert bal["binance:spot:USDT"] == D(100_000) - 1000 + D("250.5") == emu.spot_balance("USDT")[0]
    assert bal["binance:futures:USDT"] == D(50_000) + 1000 - D("250.5") == emu.futures_wallet["USDT"]
    assert bal["binance:spot:ETH"] == D(10)
    with pytest.raises(InsufficientFundsError) as ei:
        m.execute(TS, {"venue": "binance", "operation": "transfer", "asset": "USDT", "amount": "1000000",
                       "from_account": "spot", "to_account": "futures"})
    assert ei.value.key == "binance:spot:USDT"


def test_definitive_rejections_place_nothing(m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    with pytest.raises(InsufficientFundsError) as ei:
        m.execute(TS, spot("buy", "40", "too-big"))  # 120,000 USDT > 100,000
    assert ei.value.key == "binance:spot:USDT" and n_orders(emu, "too-big") == 0
    with pytest.raises(MarginError):
        m.execute(TS, perp("buy", "400", "too-big-p"))  # 1.2M notional at 20x needs 60,000 USDT
    assert n_orders(emu, "too-big-p") == 0
    with pytest.raises(InstructionError) as e2:  # the shared validation: Binance's step size, nothing sent
        m.execute(TS, spot("buy", "0.00001", "tiny"))
    assert e2.value.field == "amount"
    assert emu.orders == [] and len(emu.requests_for("POST", "/api/v3/order")) == 1


def test_long_client_ids_are_hashed_deterministically(m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    cid = "strategy-basis-eth/2025-06-01T00:00:00Z/leg-1-spot"  # 50 characters: too long for Binance
    d = m.execute(TS, spot("buy", "0.1", cid))
    vcid = binance_client_id(cid)
    assert vcid.startswith("bh-") and len(vcid) == 35 and d.details["venue_client_id"] == vcid
    assert n_orders(emu, vcid) == 1


def test_max_notional_applies_in_live_mode(make: Callable[..., ExecutionInterfaceManager],
                                           emu: BinanceEmulator) -> None:
    m = make(max_notional="1000")
    with pytest.raises(RiskLimitError):
        m.execute(TS, spot("buy", "0.5", "risky"))  # 0.5 x 3000 (the venue's last price) > 1000
    assert n_orders(emu, "risky") == 0
    assert m.execute(TS, spot("buy", "0.3", "fine")).status == "filled"


def test_startup_makes_only_the_calls_it_needs_and_limiter_follows_config(
        make: Callable[..., ExecutionInterfaceManager], emu: BinanceEmulator) -> None:
    m = make(venue={"enable_rate_limit": True, "rate_limit_ms": 1})
    m.get_balances(TS, "binance")
    assert [r.route for r in emu.request_log] == [
        "GET /api/v3/exchangeInfo", "GET /fapi/v1/exchangeInfo",  # no currencies, no margin pairs
        "GET /api/v3/account", "GET /fapi/v3/account"]
    client = m.venue("binance").backend.client
    assert client.enableRateLimit is True and client.rateLimit == 1 and client.options["maxRetriesOnFailure"] == 0


_ORDER_KINDS = [  # (instruction, ccxt create_order arguments: symbol, type, side, amount, price, params)
    (spot("buy", "0.5"), (SPOT, "market", "buy", "0.5", None, {})),
    (spot("sell", "1.25", order_type="limit", price="3100.5"), (SPOT, "limit", "sell", "1.25", "3100.5", {})),
    (spot("buy", "0.1", order_type="limit", price="2900", time_in_force="IOC"),
     (SPOT, "limit", "buy", "0.1", "2900", {"timeInForce": "IOC"})),
    (spot("buy", "0.1", order_type="limit", price="2900", post_only=True),
     (SPOT, "limit", "buy", "0.1", "2900", {"postOnly": True})),
    (perp("sell", "0.3"), (PERP, "market", "sell", "0.3", None, {})),
    (perp("sell", "0.3", reduce_only=True), (PERP, "market", "sell", "0.3", None, {"reduceOnly": True})),
    (perp("buy", "0.3", order_type="limit", price="2950", time_in_force="FOK"),
     (PERP, "limit", "buy", "0.3", "2950", {"timeInForce": "FOK"})),
    (perp("buy", "0.3", order_type="limit", price="2950", post_only=True),
     (PERP, "limit", "buy", "0.3", "2950", {"postOnly": True})),
]


@pytest.mark.parametrize(("instruction", "ccxt_args"), _ORDER_KINDS)
def test_order_request_is_the_one_ccxt_create_order_builds(m: ExecutionInterfaceManager, instruction: dict[str, Any],
                                                           ccxt_args: tuple[Any, ...]) -> None:
    """The request the backend signs and sends equals ccxt's own ``create_order_request`` (the oracle)."""
    from basis_venue_binance.live import order_request

    from basis_core.instructions import parse_instruction

    client = m.venue("binance").backend.client
    symbol, typ, side, amount, price, params = ccxt_args
    expected = client.create_order_request(symbol, typ, side, amount, price,
                                           {"newClientOrderId": "cid-1", **params})
    ins = parse_instruction(instruction)
    got = order_request(client.market(symbol)["id"], symbol == PERP, ins, "cid-1")
    assert got == {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in expected.items()}


# ------------------------------------------------------------------------------------------------ credentials
def test_missing_credentials_is_a_config_error_at_construction(emu: BinanceEmulator) -> None:
    cfg = config(emu, None)
    del cfg["venue_config"]["binance"]["api_secret"]
    with pytest.raises(ConfigError, match="api_secret"):
        ExecutionInterfaceManager(config=cfg, execution_mode="live")
    assert BinanceLiveBackend.credentials_problem(type("S", (), {"api_key": None, "api_secret": None})())


@pytest.mark.parametrize(("key", "secret"), [(API_KEY, "wrong-secret-000000000000"), ("wrong-key-000000", API_SECRET)],
                         ids=["wrong-secret", "wrong-key"])
def test_wrong_credentials_are_typed_authentication_errors(emu: BinanceEmulator, tmp_path: Path, key: str,
                                                           secret: str) -> None:
    cfg = config(emu, tmp_path / "j.sqlite", venue={"api_key": key, "api_secret": secret})
    m = ExecutionInterfaceManager(config=cfg, execution_mode="live")
    with pytest.raises(AuthenticationError) as ei:
        m.execute(TS, spot("buy", "0.1", "auth-1"))
    assert n_orders(emu, "auth-1") == 0 and API_SECRET not in str(ei.value) and secret not in str(ei.value)
    assert "1022" in str(ei.value) or "2015" in str(ei.value)
    with pytest.raises(AuthenticationError):
        m.get_balances(TS, "binance")


# ------------------------------------------------------------------------------------------------ faults
@pytest.mark.parametrize("path", ["/api/v3/order", "/fapi/v1/order"], ids=["spot", "perp"])
def test_dropped_answer_after_accept_is_adopted_not_resent(m: ExecutionInterfaceManager, emu: BinanceEmulator,
                                                           path: str) -> None:
    emu.faults.inject(f"POST {path}", Fault("drop_after_accept"))
    is_spot = path.startswith("/api/")
    ins = spot("buy", "0.5", "drop-1") if is_spot else perp("buy", "0.5", "drop-1")
    d = m.execute(TS, ins)
    (o,) = emu.orders_for_client_id("drop-1")
    assert o.status == "FILLED" and d.order_id == str(o.order_id) and d.details["adopted"] is True
    assert len(emu.requests_for("POST", path)) == 1  # looked up, never re-sent
    if is_spot:
        assert d.positions == {"binance:spot:ETH": D("0.5") - D("0.0005"), "binance:spot:USDT": D(-1500)}
    else:
        assert d.positions == {"binance:perp:ETH/USDT:USDT": D("0.5"), "binance:futures:USDT": -D("0.75")}


def test_timeout_then_late_landing_within_recv_window_is_adopted(m: ExecutionInterfaceManager,
                                                                 emu: BinanceEmulator) -> None:
    """The order request times out; the first lookup misses it; then it lands (within its recvWindow: 2 s); the
    lookup once the window has passed finds it and adopts it. The order of the three is forced by events: lookup 1
    handled -> the original taken -> lookup 2 answered."""
    first_lookup, landed = threading.Event(), threading.Event()
    emu.faults.inject("POST /api/v3/order", Fault("delay", until=first_lookup, handled=landed))
    emu.faults.inject("GET /api/v3/order", Fault("delay", handled=first_lookup))
    emu.faults.inject("GET /api/v3/order", Fault("delay", until=landed))
    times_out(m, "POST", "/api/v3/order")
    d = m.execute(TS, spot("buy", "0.2", "late-1"))
    assert n_orders(emu, "late-1") == 1 and d.details["adopted"] is True and d.status == "filled"
    assert len(emu.requests_for("POST", "/api/v3/order")) == 1 and len(emu.requests_for("GET", "/api/v3/order")) >= 2


def test_timeout_past_recv_window_is_rejected_by_venue_and_resent_once(m: ExecutionInterfaceManager,
                                                                        emu: BinanceEmulator) -> None:
    """The order request times out and the venue holds it until the re-send has been handled (after recvWindow +
    margin from its timestamp): it arrives too late, -1021, so the venue holds exactly one order."""
    resend_handled, late_answered = threading.Event(), threading.Event()
    emu.faults.inject("POST /api/v3/order", Fault("delay", until=resend_handled, handled=late_answered))
    emu.faults.inject("POST /api/v3/order", Fault("delay", handled=resend_handled))
    times_out(m, "POST", "/api/v3/order")
    d = m.execute(TS, spot("buy", "0.2", "late-2"))
    assert d.status == "filled" and d.details["adopted"] is False
    assert late_answered.wait(60)  # the held original, released by the re-send, has been answered
    assert n_orders(emu, "late-2") == 1
    posts = [r for r in emu.request_log if r.route == "POST /api/v3/order"]
    assert [r.status for r in posts] == [200, 400]  # the re-send, then the late original refused


@pytest.mark.parametrize("fault", [
    Fault("http_5xx", status=503), Fault("http_5xx", status=500), Fault("http_429"), Fault("http_418"),
    Fault("venue_error", status=503, payload={"code": -1007, "msg": "Timeout waiting for response from backend "
                                              "server. Send status unknown; execution status unknown."}),
    Fault("clock_skew", skew_ms=5_000),
], ids=["503", "500", "429", "418", "-1007", "clock_skew"])
def test_refused_or_unknown_then_verified_absent_is_sent_exactly_once(m: ExecutionInterfaceManager,
                                                                      emu: BinanceEmulator, fault: Fault) -> None:
    emu.faults.inject("POST /fapi/v1/order", fault)
    d = m.execute(TS, perp("sell", "0.1", "f-1"))
    assert d.status == "filled" and n_orders(emu, "f-1") == 1
    assert d.positions == {"binance:perp:ETH/USDT:USDT": D("-0.1"), "binance:futures:USDT": -D("0.15")}
    assert len(emu.requests_for("POST", "/fapi/v1/order")) == 2


def test_persistent_outage_gives_up_after_three_attempts_with_nothing_placed(
        m: ExecutionInterfaceManager, emu: BinanceEmulator, tmp_path: Path) -> None:
    emu.faults.inject("POST /api/v3/order", Fault("http_5xx", status=503, times=3))
    with pytest.raises(RetryableError, match="nothing was placed"):
        m.execute(TS, spot("buy", "0.1", "down-1"))
    assert n_orders(emu, "down-1") == 0 and len(emu.requests_for("POST", "/api/v3/order")) == 3
    assert ExecutionJournal(tmp_path / "journal.sqlite").pending() == []
    assert m.execute(TS, spot("buy", "0.1", "down-1")).status == "filled"  # retry later: one order
    assert n_orders(emu, "down-1") == 1


def test_lookup_impossible_leaves_intent_pending_and_a_retry_adopts(m: ExecutionInterfaceManager,
                                                                   emu: BinanceEmulator) -> None:
    emu.faults.inject("POST /api/v3/order", Fault("drop_after_accept"))
    emu.faults.inject("GET /api/v3/order", Fault("http_5xx", status=503, times=3))
    with pytest.raises(AmbiguousOutcomeError, match="pending"):
        m.execute(TS, spot("buy", "0.1", "amb-1"))
    assert n_orders(emu, "amb-1") == 1
    d = m.execute(TS, spot("buy", "0.1", "amb-1"))  # same client id: resolved by lookup, not re-sent
    assert d.details["adopted"] is True and n_orders(emu, "amb-1") == 1
    assert len(emu.requests_for("POST", "/api/v3/order")) == 1


def _transfer(cid: str, amount: str = "500") -> dict[str, Any]:
    return {"venue": "binance", "operation": "transfer", "asset": "USDT", "amount": amount, "from_account": "spot",
            "to_account": "futures", "client_id": cid}


def test_transfer_whose_answer_was_lost_is_found_in_the_history_and_adopted(m: ExecutionInterfaceManager,
                                                                             emu: BinanceEmulator) -> None:
    m.execute(TS, _transfer("tr-0"))  # an earlier identical transfer of ours: never adopted twice
    emu.faults.inject("POST /sapi/v1/asset/transfer", Fault("drop_after_accept"))
    d = m.execute(TS, _transfer("tr-1"))
    assert len(emu.transfers) == 2 and len(emu.requests_for("POST", "/sapi/v1/asset/transfer")) == 2
    assert d.order_id == str(emu.transfers[-1]["tranId"]) and d.details["adopted"] is True
    assert d.positions == {"binance:spot:USDT": D(-500), "binance:futures:USDT": D(500)}
    assert m.execute(TS, _transfer("tr-1")).order_id == d.order_id and len(emu.transfers) == 2  # from the journal


def test_transfer_that_never_landed_is_sent_once_more_after_the_landing_window(m: ExecutionInterfaceManager,
                                                                               emu: BinanceEmulator) -> None:
    emu.faults.inject("POST /sapi/v1/asset/transfer", Fault("venue_error", status=503, payload={
        "code": -1007, "msg": "Timeout waiting for response from backend server. Send status unknown; execution "
                              "status unknown."}))  # ambiguous, but nothing was booked
    d = m.execute(TS, _transfer("tr-2", "250"))  # looked up (absent), again after the landing window, re-sent
    assert [t["amount"] for t in emu.transfers] == [D(250)] and d.order_id == str(emu.transfers[0]["tranId"])
    assert len(emu.requests_for("POST", "/sapi/v1/asset/transfer")) == 2
    assert len(emu.requests_for("GET", "/sapi/v1/asset/transfer")) == 2  # before and after the landing window


def test_transfer_left_unknown_by_a_crash_is_adopted_at_restart(make: Callable[..., ExecutionInterfaceManager],
                                                                emu: BinanceEmulator) -> None:
    m1 = make()
    m1.get_balances(TS, "binance")
    _crash_after(m1, "/sapi/v1/asset/transfer")
    with pytest.raises(Crash):
        m1.execute(TS, _transfer("tr-3", "125"))
    m2 = make()
    m2.get_balances(TS, "binance")
    (adopted,) = m2.venue("binance").backend.reconciled
    assert adopted.operation == "transfer" and adopted.order_id == str(emu.transfers[-1]["tranId"])
    assert m2.execute(TS, _transfer("tr-3", "125")).order_id == adopted.order_id and len(emu.transfers) == 1


def test_a_transfer_by_hand_is_still_possible_to_settle(m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    """resolve_transfer stays for venues that cannot list transfers; here nothing is pending, so it says so."""
    with pytest.raises(OrderNotFoundError):
        m.venue("binance").backend.resolve_transfer("nothing-pending", happened=True)


# ------------------------------------------------------------------------------------------------ restart
def _crash_after(m: ExecutionInterfaceManager, path: str, method: str = "POST") -> None:
    client = m.venue("binance").backend.client
    real = client.fetch

    def fetch(url: str, meth: str = "GET", headers: Any = None, body: Any = None) -> Any:
        out = real(url, meth, headers, body)
        if meth == method and url.split("?")[0].endswith(path):
            raise Crash()
        return out

    client.fetch = fetch


def test_kill_after_send_then_new_manager_adopts_and_sends_nothing(make: Callable[..., ExecutionInterfaceManager],
                                                                   emu: BinanceEmulator) -> None:
    m1 = make()
    m1.get_balances(TS, "binance")  # backend up
    _crash_after(m1, "/fapi/v1/order")
    with pytest.raises(Crash):
        m1.execute(TS, perp("buy", "0.4", "crash-1"))
    assert n_orders(emu, "crash-1") == 1
    posts = len(emu.requests_for("POST", "/fapi/v1/order"))
    m2 = make()  # same journal: reconciles before serving anything
    bal = m2.get_balances(TS, "binance")
    backend = m2.venue("binance").backend
    (adopted,) = backend.reconciled
    assert adopted.client_id == "crash-1" and adopted.positions == {
        "binance:perp:ETH/USDT:USDT": D("0.4"), "binance:futures:USDT": -D("0.4") * 3000 * PERP_TAKER}
    assert bal["binance:perp:ETH/USDT:USDT"] == D("0.4")
    (shown,) = m2.execution_history  # the adopted order is in the new manager's history
    assert (shown.success, shown.client_id, shown.order_id, shown.operation) == (
        True, "crash-1", adopted.order_id, "perp_trade")
    assert m2.venue("binance").get_execution_status()["orders_executed"] == 1
    again = m2.execute(TS, perp("buy", "0.4", "crash-1"))  # the host re-submits: answered from the journal
    assert again.order_id == adopted.order_id and again.details["from_journal"] is True
    assert len(emu.requests_for("POST", "/fapi/v1/order")) == posts and n_orders(emu, "crash-1") == 1
    with pytest.raises(InstructionError, match="different"):  # same client id, other order: refused
        make().execute(TS, perp("buy", "0.5", "crash-1"))
    assert n_orders(emu, "crash-1") == 1


def test_a_restarted_manager_reports_fills_of_orders_an_earlier_one_left_resting(
        make: Callable[..., ExecutionInterfaceManager], emu: BinanceEmulator) -> None:
    m1 = make()
    rest = m1.execute(TS, spot("buy", "0.5", "er-1", order_type="limit", price="2900"))
    emu.fill_order("er-1", D("0.1"))
    (early,) = m1.advance_to(TS)  # the first process saw 0.1 filled
    assert early.fill_amount == D("0.1")
    emu.fill_order("er-1", D("0.15"))  # more fills while no process watches
    m2 = make()  # same journal
    (late,) = m2.advance_to(TS)
    assert (late.order_id, late.client_id, late.fill_amount, late.status) == (
        rest.order_id, "er-1", D("0.25"), "partially_filled")  # everything since what was reported at placement
    assert m2.advance_to(TS) == []


def test_kill_after_cancel_and_modify_then_restart_adopts_both(make: Callable[..., ExecutionInterfaceManager],
                                                               emu: BinanceEmulator) -> None:
    m1 = make()
    m1.execute(TS, perp("buy", "0.1", "rc-mod", order_type="limit", price="2900"))
    m1.execute(TS, perp("buy", "0.1", "rc-can", order_type="limit", price="2800"))
    modify = {"venue": "binance", "operation": "modify_order", "order_id": "rc-mod", "price": "2850",
              "client_id": "mod-1"}
    cancel = {"venue": "binance", "operation": "cancel_order", "order_id": "rc-can", "client_id": "can-1"}
    _crash_after(m1, "/fapi/v1/order", "PUT")
    with pytest.raises(Crash):
        m1.execute(TS, modify)
    _crash_after(m1, "/fapi/v1/order", "DELETE")
    with pytest.raises(Crash):
        m1.execute(TS, cancel)
    assert [o.price for o in emu.orders_for_client_id("rc-mod")] == [D(2850)]
    assert emu.orders_for_client_id("rc-can")[0].status == "CANCELED"
    n_put, n_del = len(emu.requests_for("PUT", "/fapi/v1/order")), len(emu.requests_for("DELETE", "/fapi/v1/order"))
    m2 = make()
    m2.get_balances(TS, "binance")
    done = {d.operation: d for d in m2.venue("binance").backend.reconciled}
    assert done["modify_order"].status == "modified" and done["cancel_order"].status == "cancelled"
    assert m2.execute(TS, modify).details["from_journal"] and m2.execute(TS, cancel).details["from_journal"]
    assert len(emu.requests_for("PUT", "/fapi/v1/order")) == n_put
    assert len(emu.requests_for("DELETE", "/fapi/v1/order")) == n_del


def test_kill_before_send_then_restart_marks_absent_and_sends_once(make: Callable[..., ExecutionInterfaceManager],
                                                                   emu: BinanceEmulator) -> None:
    m1 = make()
    client = m1.venue("binance").backend.client

    def dead(*a: Any, **k: Any) -> Any:
        raise Crash()

    client.fetch = dead  # dies after the intent is journaled, before anything is sent
    with pytest.raises(Crash):
        m1.execute(TS, spot("buy", "0.1", "pre-1"))
    assert n_orders(emu, "pre-1") == 0
    m2 = make()
    m2.get_balances(TS, "binance")
    assert m2.venue("binance").backend.reconciled == []
    assert m2.execute(TS, spot("buy", "0.1", "pre-1")).status == "filled" and n_orders(emu, "pre-1") == 1


# ------------------------------------------------------------------------------------------------ secrets
def test_secret_never_in_logs_reprs_errors_history_or_journal(make: Callable[..., ExecutionInterfaceManager],
                                                              emu: BinanceEmulator, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    m = make()
    m.execute(TS, spot("buy", "0.1", "sec-1"))
    emu.faults.inject("POST /api/v3/order", Fault("drop_after_accept"))
    m.execute(TS, spot("buy", "0.1", "sec-2"))
    errors = []
    for ins in (spot("buy", "100", "sec-3"), spot("buy", "0.1", "sec-4", order_type="limit", price="3100",
                                                  post_only=True)):
        with pytest.raises(InstructionError) as ei:
            m.execute(TS, ins)
        errors.append(ei.value)
    bad = ExecutionInterfaceManager(config=config(emu, tmp_path / "other.sqlite",
                                                  venue={"api_secret": "another-secret-value-123456"}),
                                    execution_mode="live")
    with pytest.raises(AuthenticationError) as auth:
        bad.execute(TS, spot("buy", "0.1", "sec-5"))
    errors.append(auth.value)
    backend = m.venue("binance").backend
    texts = [caplog.text, repr(m), repr(m.settings), repr(m.venue("binance")), repr(backend.client),
             repr(m.settings.venue_config), str(m.settings.model_dump()), repr(backend.settings),
             *(str(e) for e in errors), *(repr(e) for e in errors),
             *(str(h.to_dict()) for h in [*m.execution_history, *bad.execution_history]),
             (tmp_path / "journal.sqlite").read_bytes().decode("latin-1"), backend.journal.dump_text()]
    for t in texts:
        assert API_SECRET not in t and "another-secret-value-123456" not in t
    assert emu.api_key not in caplog.text


# ------------------------------------------------------------------------------------------------ fault matrix
#: (fault, whether the venue executed the request before the client saw the failure)
_MATRIX_FAULTS = {
    "5xx-after-place": (Fault("http_5xx_after_place", status=503), True),
    "-1007-after-place": (Fault("venue_error_after_place", status=503, payload=TIMEOUT_1007), True),
    "reset-after-place": (Fault("reset_after_place"), True),
    "reset-before-place": (Fault("reset_before_place"), False),
}  # 5xx / -1007 answered without placing, answers dropped: the tests above
#: (instruction, order path, venue status after one execution)
_MATRIX_ORDERS = {
    "spot-market": (spot("buy", "0.5"), "/api/v3/order", "FILLED"),
    "spot-limit": (spot("buy", "0.1", order_type="limit", price="2900"), "/api/v3/order", "NEW"),
    "perp-market": (perp("sell", "0.1"), "/fapi/v1/order", "FILLED"),
    "perp-limit": (perp("sell", "0.1", order_type="limit", price="3100"), "/fapi/v1/order", "NEW"),
}


@pytest.fixture
def mx(make: Callable[..., ExecutionInterfaceManager]) -> ExecutionInterfaceManager:
    """The matrix's manager: a 2 s recvWindow. With the module's 0.4 s, a loaded machine (the emulator shares this
    process's GIL) can deliver the signed request after its window: the venue then rightly refuses it unplaced,
    and a fault meant to strike *after* placing strikes a request that placed nothing."""
    return make(venue={"recv_window_ms": 2000})


@pytest.mark.parametrize("fault_id", list(_MATRIX_FAULTS))
@pytest.mark.parametrize("order_id", list(_MATRIX_ORDERS))
def test_fault_matrix_every_order_kind_executes_exactly_once(mx: ExecutionInterfaceManager, emu: BinanceEmulator,
                                                             fault_id: str, order_id: str) -> None:
    """Whatever the venue did before the failure, the venue ends with exactly one order and its effect once:
    an order that was placed is found by client id and adopted (never re-sent); one that was not is re-sent
    once, after the landing window."""
    fault, placed = _MATRIX_FAULTS[fault_id]
    ins, path, venue_status = _MATRIX_ORDERS[order_id]
    cid = f"mx-{order_id}-{fault_id}"
    emu.faults.inject(f"POST {path}", Fault(fault.kind, status=fault.status, payload=fault.payload))
    eth0, usdt0 = emu.spot_balance("ETH"), emu.spot_balance("USDT")
    d = mx.execute(TS, {**ins, "client_id": cid})
    (o,) = emu.orders_for_client_id(cid)
    assert o.status == venue_status and d.order_id == str(o.order_id) and d.details["adopted"] is placed
    assert len(emu.requests_for("POST", path)) == (1 if placed else 2)
    assert next(r.fault for r in emu.request_log if r.method == "POST" and r.path == path) == fault.kind
    if order_id == "spot-market":
        assert emu.spot_balance("ETH")[0] - eth0[0] == D("0.5") - D("0.5") * SPOT_FEE
        assert d.positions == {"binance:spot:ETH": D("0.5") - D("0.0005"), "binance:spot:USDT": D(-1500)}
    elif order_id == "spot-limit":
        assert emu.spot_balance("USDT") == (usdt0[0] - D(290), D(290)) and d.status == "open"
    elif order_id == "perp-market":
        assert emu.position("ETHUSDT").amount == D("-0.1")
        assert d.positions == {"binance:perp:ETH/USDT:USDT": D("-0.1"), "binance:futures:USDT": -D("0.15")}
    else:
        assert len(emu.open_orders("linear")) == 1 and d.status == "open" and emu.position("ETHUSDT").amount == 0


@pytest.mark.parametrize("fault_id", list(_MATRIX_FAULTS))
def test_fault_matrix_transfers_execute_exactly_once(mx: ExecutionInterfaceManager, emu: BinanceEmulator,
                                                     fault_id: str) -> None:
    fault, placed = _MATRIX_FAULTS[fault_id]
    emu.faults.inject("POST /sapi/v1/asset/transfer", Fault(fault.kind, status=fault.status, payload=fault.payload))
    d = mx.execute(TS, _transfer(f"mx-tr-{fault_id}", "300"))
    (t,) = emu.transfers
    assert d.order_id == str(t["tranId"]) and d.details["adopted"] is placed
    assert emu.spot_balance("USDT")[0] == D(100_000) - 300 and emu.futures_wallet["USDT"] == D(50_000) + 300
    assert len(emu.requests_for("POST", "/sapi/v1/asset/transfer")) == (1 if placed else 2)


# ----------------------------------------------------------------------------------------- one client id, many callers
def test_one_client_id_from_several_threads_places_one_order(make: Callable[..., ExecutionInterfaceManager],
                                                              emu: BinanceEmulator) -> None:
    """The journal lookup and the intent are one atomic claim: of six threads (three on one manager, three on
    their own managers, one journal file) exactly one sends; every thread gets that order's deltas."""
    shared = make()
    shared.execute(TS, spot("buy", "0.01", "warm-up"))  # the backend exists before the race
    others = [make() for _ in range(3)]
    for o in others:
        o.execute(TS, spot("buy", "0.01", "warm-up"))  # journaled: nothing sent
    barrier = threading.Barrier(6)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(mgr: ExecutionInterfaceManager) -> None:
        barrier.wait()
        try:
            results.append(mgr.execute(TS, spot("buy", "0.2", "one-order")))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(mgr,)) for mgr in [shared] * 3 + others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 6
    assert n_orders(emu, "one-order") == 1 and n_orders(emu, "warm-up") == 1
    assert len({r.order_id for r in results}) == 1


_PROCESS = """
import sys
from basis_core import ExecutionInterfaceManager
cfg = {"venues": ["binance"], "retry_delay_seconds": 0, "journal_path": sys.argv[1], "venue_config": {"binance": {
    "api_key": sys.argv[2], "api_secret": sys.argv[3], "base_url": sys.argv[4], "enable_rate_limit": False,
    "timeout_ms": 2000}}}
m = ExecutionInterfaceManager(config=cfg, execution_mode="live")
m.venue("binance").backend
print("ready", flush=True)
sys.stdin.readline()  # "go": both processes are connected
d = m.execute("2025-06-01T00:00:00Z", {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT",
                                       "side": "buy", "amount": "0.3", "client_id": "two-processes"})
print(d.order_id)
"""


def test_one_client_id_from_two_processes_places_one_order(emu: BinanceEmulator, tmp_path: Path) -> None:
    import subprocess
    import sys

    journal = tmp_path / "journal.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", _PROCESS, str(journal), API_KEY, API_SECRET, emu.base_url],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:  # both connected (ccxt imported, markets loaded) ...
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:  # ... then both go at once
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert n_orders(emu, "two-processes") == 1
    assert len({o[0].strip() for o in outs}) == 1


def test_a_long_run_keeps_a_bounded_memory_of_client_ids_and_the_journal_answers_older_ones(
        make: Callable[..., ExecutionInterfaceManager], emu: BinanceEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a ``history_limit`` (``basis run``) the manager remembers only the latest results by client id (memory
    flat however many orders); an older id sent again is answered from the journal: its first deltas, no order."""
    import basis_core.manager as manager_module

    monkeypatch.setattr(manager_module, "DONE_KEPT_MIN", 2)
    m = make(history_limit=0)
    first = m.execute(TS, spot("buy", "0.01", "bounded-1"))
    for i in (2, 3, 4):
        m.execute(TS, spot("buy", "0.01", f"bounded-{i}"))
    assert len(m._done) == 2  # the latest two only
    again = m.execute(TS, spot("buy", "0.01", "bounded-1"))
    assert (again.positions, again.fees, again.order_id) == (first.positions, first.fees, first.order_id)
    assert n_orders(emu, binance_client_id("bounded-1")) == 1
    with pytest.raises(DuplicateClientIdError):  # and a different instruction on the old id is still refused
        m.execute(TS, spot("sell", "0.01", "bounded-1"))
