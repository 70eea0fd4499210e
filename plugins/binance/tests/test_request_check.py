"""The hand-built Binance order request proves itself against the installed ccxt, or ccxt sends the order.

ccxt is a range (``>=4.4.97,<5``): the plugin builds Binance's new-order request itself (skipping ccxt's
unified order building) only for order kinds whose request it has proven equal to the one the installed
ccxt's ``create_order_request`` builds, once per kind and client. A ccxt that builds something else (here a
ccxt that adds Binance's ``selfTradePreventionMode``, as a future version might) gets its own
``create_order`` used for that kind. Everything goes through the manager, the real ccxt client and the
signature-checking emulator; what was sent is read from the emulator's request log.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from basis_venue_binance.live import order_kind, order_request
from basis_venue_binance.testing.emulator import BinanceEmulator

from basis_core import ExecutionInterfaceManager
from basis_core.instructions import parse_instruction
from basis_core.testing.orders import trade

D = Decimal
API_KEY = "check-test-key-0a1b2c3d4e5f60718293a4b5"
API_SECRET = "check-test-SECRET-5f4e3d2c1b0a99887766554433221100"
TS = "2025-06-01T00:00:00Z"
SPOT, PERP = "ETH/USDT", "ETH/USDT:USDT"
SPOT_ORDER, PERP_ORDER = "/api/v3/order", "/fapi/v1/order"


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(API_KEY, API_SECRET, spot_balances={"USDT": D(100_000), "ETH": D(10)},
                         futures_balances={"USDT": D(50_000)}, prices={"ETHUSDT": D(3000)}) as e:
        yield e


@pytest.fixture
def m(emu: BinanceEmulator) -> ExecutionInterfaceManager:
    venue = {"api_key": API_KEY, "api_secret": API_SECRET, "base_url": emu.base_url, "enable_rate_limit": False}
    return ExecutionInterfaceManager(config={"venues": ["binance"], "retry_delay_seconds": 0,
                                             "venue_config": {"binance": venue}}, execution_mode="live")


def spot(cid: str, side: str, amount: str, **kw: Any) -> dict[str, Any]:
    return trade("binance", "spot_trade", SPOT, side, amount, client_id=cid, **kw)


def perp(cid: str, side: str, amount: str, **kw: Any) -> dict[str, Any]:
    return trade("binance", "perp_trade", PERP, side, amount, client_id=cid, **kw)


def spy_on_checks(m: ExecutionInterfaceManager, extra: dict[str, str] | None = None) -> Counter[str]:
    """Count the backend's calls of ccxt's ``create_order_request`` by symbol; with ``extra``, the client
    behaves like a ccxt whose spot requests carry those fields too (in its check and in its own
    ``create_order``, which builds its request with the same method)."""
    client = m.venue("binance").backend.client
    real = client.create_order_request
    calls: Counter[str] = Counter()

    def create_order_request(symbol: str, *args: Any, **kwargs: Any) -> Any:
        calls[symbol] += 1
        req = real(symbol, *args, **kwargs)
        return {**req, **extra} if extra and symbol == SPOT else req

    client.create_order_request = create_order_request
    return calls


EVERY_KIND = [  # one order of each kind the request builder distinguishes, each one accepted by the venue
    spot("k-spot-market", "buy", "0.5"),
    spot("k-spot-gtc", "buy", "0.1", order_type="limit", price="2900"),
    spot("k-spot-ioc", "buy", "0.1", order_type="limit", price="3100", time_in_force="IOC"),
    spot("k-spot-fok", "buy", "0.1", order_type="limit", price="3100", time_in_force="FOK"),
    spot("k-spot-post", "buy", "0.1", order_type="limit", price="2900", post_only=True),
    perp("k-perp-market", "sell", "0.3"),
    perp("k-perp-reduce", "buy", "0.1", reduce_only=True),
    perp("k-perp-gtc", "buy", "0.1", order_type="limit", price="2900"),
    perp("k-perp-fok", "buy", "0.1", order_type="limit", price="3100", time_in_force="FOK"),
    perp("k-perp-post", "sell", "0.1", order_type="limit", price="3100", post_only=True),
]


def test_every_order_kind_proves_its_request_once_and_then_sends_it_hand_built(
        m: ExecutionInterfaceManager, emu: BinanceEmulator) -> None:
    calls = spy_on_checks(m)
    backend = m.venue("binance").backend
    for ins in EVERY_KIND:
        d = m.execute(TS, ins)
        assert d.status in ("filled", "open"), (ins["client_id"], d.status)
    kinds = {order_kind(i["symbol"] == PERP, parse_instruction(i)) for i in EVERY_KIND}
    assert len(kinds) == len(EVERY_KIND) and backend.request_checks == dict.fromkeys(kinds, True)
    assert calls == {SPOT: 5, PERP: 5}
    # what went out is the hand-built request, field for field (nothing ccxt would add on its own)
    for ins in EVERY_KIND:
        sent = [p for p in emu.requests_for("POST", PERP_ORDER if ins["symbol"] == PERP else SPOT_ORDER)
                if p.get("newClientOrderId") == ins["client_id"]]
        built = order_request("ETHUSDT", ins["symbol"] == PERP, parse_instruction(ins), ins["client_id"])
        assert [{k: v for k, v in p.items() if k not in ("timestamp", "recvWindow")} for p in sent] == [built]
    # a second order of a proven kind is not checked again
    m.execute(TS, spot("k-spot-market-2", "buy", "0.2"))
    assert calls == {SPOT: 5, PERP: 5}


def test_a_kind_whose_ccxt_request_differs_goes_through_ccxt_create_order(
        m: ExecutionInterfaceManager, emu: BinanceEmulator, caplog: pytest.LogCaptureFixture) -> None:
    calls = spy_on_checks(m, extra={"selfTradePreventionMode": "EXPIRE_TAKER"})
    backend = m.venue("binance").backend
    with caplog.at_level(logging.WARNING, logger="basis_venue_binance"):
        first = m.execute(TS, spot("f-1", "buy", "0.5"))
        second = m.execute(TS, spot("f-2", "buy", "0.5"))
        hedge = m.execute(TS, perp("f-3", "sell", "0.3"))
    fee = D("0.5") * D("0.001")  # spot fee in the received ETH, as on the hand-built path
    for d in (first, second):
        assert d.status == "filled" and d.fill_price == 3000 and d.fill_amount == D("0.5")
        assert d.positions == {"binance:spot:ETH": D("0.5") - fee, "binance:spot:USDT": D(-1500)}
    assert emu.spot_balance("ETH") == (D(11) - 2 * fee, 0)
    # ccxt's own request went out for the spot market kind, both times; the kind was checked once
    sent = emu.requests_for("POST", SPOT_ORDER)
    assert [(p["newClientOrderId"], p.get("selfTradePreventionMode")) for p in sent] == [
        ("f-1", "EXPIRE_TAKER"), ("f-2", "EXPIRE_TAKER")]
    spot_kind = order_kind(False, parse_instruction(spot("x", "buy", "1")))
    perp_kind = order_kind(True, parse_instruction(perp("x", "sell", "1")))
    assert backend.request_checks == {spot_kind: False, perp_kind: True}
    # one check for the spot kind, plus the request ccxt's create_order built for each of the two orders
    assert calls == {SPOT: 3, PERP: 1}
    # the perp kind, where ccxt agrees, still goes hand-built; the venue holds one order per client id
    assert hedge.status == "filled" and hedge.positions["binance:perp:ETH/USDT:USDT"] == D("-0.3")
    assert "selfTradePreventionMode" not in emu.requests_for("POST", PERP_ORDER)[0]
    assert all(len(emu.orders_for_client_id(c)) == 1 for c in ("f-1", "f-2", "f-3"))
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and r.name.startswith("basis_venue_binance")]
    assert len(warnings) == 1 and "selfTradePreventionMode" in warnings[0] and "create_order" in warnings[0]
    assert API_SECRET not in caplog.text
