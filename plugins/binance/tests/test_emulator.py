"""The Binance emulator through the REAL ccxt client (ccxt 4.5.90), plus the shared HTTP emulator base.

Expected numbers are closed forms written out by hand from the configured prices, fee rates and
filters (not read back from the emulator's own computations). Signature checks are also exercised
with a hand-signed request that does not go through ccxt.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt
import pytest
from basis_venue_binance.client import make_binance_client, rebase_urls
from basis_venue_binance.testing.emulator import TIMEOUT_1007, BinanceEmulator

from basis_core.testing.client_timeout import time_out_next
from basis_core.testing.http_emulator import EmulatorServer, Fault, FaultPlan, json_response

D = Decimal
E = TypeVar("E", bound=BaseException)
SPOT = "ETH/USDT"
PERP = "ETH/USDT:USDT"


API_KEY = "emulator-api-key-0123456789abcdef0123456789abcdef"
API_SECRET = "emulator-secret-fedcba9876543210fedcba9876543210"
SPOT_USDT = Decimal(100_000)
SPOT_ETH = Decimal(10)
FUTURES_USDT = Decimal(50_000)
ETH_PRICE = Decimal(3000)
BTC_PRICE = Decimal(60_000)


@pytest.fixture
def emulator() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(
        API_KEY,
        API_SECRET,
        spot_balances={"USDT": SPOT_USDT, "ETH": SPOT_ETH},
        futures_balances={"USDT": FUTURES_USDT},
        prices={"ETHUSDT": ETH_PRICE, "BTCUSDT": BTC_PRICE},
    ) as emu:
        yield emu


def _client(emu: BinanceEmulator, timeout_ms: int, secret: str = API_SECRET, key: str = API_KEY) -> Any:
    c = make_binance_client(
        key, secret, base_url=emu.base_url, timeout_ms=timeout_ms, enable_rate_limit=False
    )
    return c


@pytest.fixture
def client(emulator: BinanceEmulator) -> Any:
    """The real ccxt binance client, markets loaded, generous timeout."""
    c = _client(emulator, 5000)
    c.load_markets()
    return c


@pytest.fixture
def fast_client(emulator: BinanceEmulator) -> Any:
    """The real ccxt client for fault tests: a generous timeout (no ordinary request times out on a loaded
    machine); a timeout is made on one chosen request (``time_out_next``) that the emulator holds."""
    c = _client(emulator, 30_000)
    c.load_markets()
    return c


@pytest.fixture
def make_client(emulator: BinanceEmulator) -> Any:
    """Factory: ``make_client(secret=..., key=..., timeout_ms=...)`` without loading markets."""

    def make(secret: str = API_SECRET, key: str = API_KEY, timeout_ms: int = 5000) -> Any:
        return _client(emulator, timeout_ms, secret=secret, key=key)

    return make


# ------------------------------------------------------------------------------------------ markets
def test_load_markets_uses_two_calls_and_exposes_filters(emulator: BinanceEmulator, make_client: Any) -> None:
    c = make_client()
    markets = c.load_markets()
    assert {SPOT, "BTC/USDT", PERP, "BTC/USDT:USDT"} <= set(markets)
    assert [r.path for r in emulator.request_log] == ["/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo"]
    spot, perp = markets[SPOT], markets[PERP]
    assert spot["spot"] and perp["swap"] and perp["linear"] and perp["settle"] == "USDT"
    assert spot["precision"]["amount"] == 0.0001 and spot["precision"]["price"] == 0.01
    assert perp["precision"]["amount"] == 0.001 and perp["precision"]["price"] == 0.01
    assert spot["limits"]["cost"]["min"] == 5 and perp["limits"]["cost"]["min"] == 20


def test_public_time_and_tickers(client: Any) -> None:
    before = int(time.time() * 1000)
    t = client.fetch_time()
    assert before - 1000 <= t <= int(time.time() * 1000) + 1000
    assert client.fetch_ticker(SPOT)["last"] == 3000
    assert client.fetch_ticker(PERP)["symbol"] == PERP
    assert client.fetch_funding_rate(PERP)["markPrice"] == 3000


# ------------------------------------------------------------------------------------------ spot
def test_spot_market_buy_and_sell_fee_in_received_asset(client: Any, emulator: BinanceEmulator) -> None:
    buy = client.create_order(SPOT, "market", "buy", 0.5, None, {"clientOrderId": "buy-1"})
    assert buy["status"] == "closed" and buy["clientOrderId"] == "buy-1"
    (fill,) = buy["info"]["fills"]
    # 0.5 ETH at 3000, taker 0.1% charged in ETH (the asset received): 0.0005 ETH
    assert D(fill["price"]) == D(3000) and D(fill["qty"]) == D("0.5")
    assert D(fill["commission"]) == D("0.0005") and fill["commissionAsset"] == "ETH"
    assert D(buy["info"]["cummulativeQuoteQty"]) == D(1500)

    sell = client.create_order(SPOT, "market", "sell", 0.25, None)
    (fill,) = sell["info"]["fills"]
    # 0.25 ETH at 3000 = 750 USDT, fee 0.1% in USDT (received): 0.75
    assert D(fill["commission"]) == D("0.75") and fill["commissionAsset"] == "USDT"

    bal = client.fetch_balance()
    assert D(str(bal["ETH"]["free"])) == SPOT_ETH + D("0.5") - D("0.0005") - D("0.25")
    assert D(str(bal["USDT"]["free"])) == SPOT_USDT - D(1500) + D(750) - D("0.75")
    assert emulator.spot_balance("ETH") == (D("10.2495"), D(0))


def test_spot_limit_rests_then_fetch_by_client_id_then_cancel(client: Any, emulator: BinanceEmulator) -> None:
    o = client.create_order(SPOT, "limit", "buy", 0.1, 2900, {"clientOrderId": "lim-1"})
    assert o["status"] == "open" and o["filled"] == 0
    got = client.fetch_order(None, SPOT, {"clientOrderId": "lim-1"})
    assert got["id"] == o["id"] and got["status"] == "open" and got["price"] == 2900
    assert emulator.requests_for("GET", "/api/v3/order")[-1]["origClientOrderId"] == "lim-1"
    assert [x["id"] for x in client.fetch_open_orders(SPOT)] == [o["id"]]
    bal = client.fetch_balance()
    assert D(str(bal["USDT"]["used"])) == D(290)  # 0.1 x 2900 locked
    cancelled = client.cancel_order(None, SPOT, {"clientOrderId": "lim-1"})
    assert cancelled["status"] == "canceled"
    assert client.fetch_open_orders(SPOT) == []
    assert emulator.spot_balance("USDT") == (SPOT_USDT, D(0))
    with pytest.raises(ccxt.OrderNotFound):  # cancelling twice: -2011
        client.cancel_order(None, SPOT, {"clientOrderId": "lim-1"})


def test_spot_resting_limit_fills_as_maker_when_price_crosses(client: Any, emulator: BinanceEmulator) -> None:
    o = client.create_order(SPOT, "limit", "sell", 1, 3100, {"clientOrderId": "ask-1"})
    assert o["status"] == "open"
    emulator.set_price("ETHUSDT", D("3099.99"))
    assert client.fetch_order(o["id"], SPOT)["status"] == "open"
    emulator.set_price("ETHUSDT", D(3150))
    done = client.fetch_order(None, SPOT, {"clientOrderId": "ask-1"})
    assert done["status"] == "closed" and done["filled"] == 1 and done["average"] == 3100
    # filled at the limit 3100 (maker 0.1%): + 3100 - 3.1 USDT, - 1 ETH
    assert emulator.spot_balance("USDT") == (SPOT_USDT + D("3096.9"), D(0))
    assert emulator.spot_balance("ETH") == (SPOT_ETH - 1, D(0))
    (trade,) = client.fetch_my_trades(SPOT)
    assert trade["takerOrMaker"] == "maker" and trade["fee"]["currency"] == "USDT"


def test_partial_fill_then_cancel_all(client: Any, emulator: BinanceEmulator) -> None:
    client.create_order(SPOT, "limit", "buy", 1, 2900, {"clientOrderId": "part-s"})
    emulator.fill_order("part-s", D("0.4"))
    o = client.fetch_order(None, SPOT, {"clientOrderId": "part-s"})
    assert o["status"] == "open" and o["filled"] == 0.4 and o["remaining"] == 0.6
    # 0.4 bought at 2900 = 1160 paid; 0.6 x 2900 = 1740 still locked; maker fee 0.0004 ETH
    assert emulator.spot_balance("USDT") == (SPOT_USDT - D(1160) - D(1740), D(1740))
    assert emulator.spot_balance("ETH") == (SPOT_ETH + D("0.4") - D("0.0004"), D(0))
    cancelled = client.cancel_all_orders(SPOT)
    assert [c["clientOrderId"] for c in cancelled] != [] and cancelled[0]["status"] == "canceled"
    assert emulator.spot_balance("USDT") == (SPOT_USDT - D(1160), D(0))

    client.create_order(PERP, "limit", "sell", 2, 3100, {"clientOrderId": "part-p"})
    client.create_order(PERP, "limit", "sell", 1, 3300)
    emulator.fill_order("part-p", D("0.5"))
    assert emulator.position("ETHUSDT").amount == D("-0.5")
    client.cancel_all_orders(PERP)
    assert emulator.open_orders("linear") == []
    assert client.fetch_order(None, PERP, {"clientOrderId": "part-p"})["filled"] == 0.5


def test_spot_edit_is_cancel_replace(client: Any, emulator: BinanceEmulator) -> None:
    o = client.create_order(SPOT, "limit", "buy", 0.1, 2900, {"clientOrderId": "e-1"})
    e = client.edit_order(o["id"], SPOT, "limit", "buy", 0.2, 2950, {"clientOrderId": "e-2"})
    assert e["id"] != o["id"] and e["clientOrderId"] == "e-2" and e["price"] == 2950 and e["amount"] == 0.2
    assert emulator.orders_for_client_id("e-1")[0].status == "CANCELED"
    assert (
        emulator.requests_for("POST", "/api/v3/order/cancelReplace")[0]["cancelReplaceMode"]
        == "STOP_ON_FAILURE"
    )
    assert emulator.spot_balance("USDT") == (SPOT_USDT - D(590), D(590))  # 0.2 x 2950 now locked
    # replacing the cancelled order again: -2022 "Order cancel-replace failed.", which ccxt's spot
    # table maps to BadResponse (as against binance.com)
    with pytest.raises(ccxt.BadResponse, match="-2011"):
        client.edit_order(o["id"], SPOT, "limit", "buy", 0.2, 2950)


def test_spot_post_only_that_would_take_is_rejected(client: Any, emulator: BinanceEmulator) -> None:
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        client.create_order(SPOT, "limit", "buy", 0.1, 3100, {"postOnly": True})
    ok = client.create_order(SPOT, "limit", "buy", 0.1, 2900, {"postOnly": True})
    assert ok["info"]["type"] == "LIMIT_MAKER"
    assert emulator.open_orders("spot")[0].type == "LIMIT_MAKER"


def test_spot_quote_order_qty_and_lot_size_filters(client: Any, emulator: BinanceEmulator) -> None:
    # a market buy given a price is sent as quoteOrderQty = amount x price
    o = client.create_order(SPOT, "market", "buy", 0.1, 3000)
    assert emulator.requests_for("POST", "/api/v3/order")[-1]["quoteOrderQty"] == "300"
    assert o["filled"] == 0.1
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):  # 0.001 x 3000 = 3 < 5; -1013 is BadRequest
        client.create_order(SPOT, "market", "buy", 0.001, None)


# ------------------------------------------------------------------------------------------ perps
def test_user_trades_filter_by_order_id_from_id_and_limit_as_binance_does(client: Any) -> None:
    orders = [client.create_order(PERP, "market", "buy" if i % 2 else "sell", "0.01") for i in range(6)]
    everything = client.fapiPrivateGetUserTrades({"symbol": "ETHUSDT"})
    assert len(everything) == 6 and [int(t["id"]) for t in everything] == sorted(int(t["id"]) for t in everything)
    third = orders[2]["id"]
    only = client.fapiPrivateGetUserTrades({"symbol": "ETHUSDT", "orderId": third})
    assert [str(t["orderId"]) for t in only] == [third]
    ids = [int(t["id"]) for t in everything]
    assert [int(t["id"]) for t in client.fapiPrivateGetUserTrades({"symbol": "ETHUSDT", "limit": 2})] == ids[-2:]
    assert [int(t["id"]) for t in client.fapiPrivateGetUserTrades(
        {"symbol": "ETHUSDT", "fromId": ids[1], "limit": 3})] == ids[1:4]
    with pytest.raises(ccxt.BadRequest):
        client.fapiPrivateGetUserTrades({"symbol": "ETHUSDT", "limit": 1001})


def test_income_history_lists_funding_fees_filtered_as_binance_does(client: Any, emulator: BinanceEmulator) -> None:
    client.create_order(PERP, "market", "buy", "0.2")
    paid = emulator.apply_funding("ETHUSDT", D("0.0003"))  # the long pays 0.2 x 3000 x 0.0003
    assert paid == -D("0.18")
    (row,) = client.fetch_funding_history(PERP)  # GET /fapi/v1/income?incomeType=FUNDING_FEE through ccxt
    assert D(row["info"]["income"]) == paid and row["info"]["asset"] == "USDT"
    assert client.fapiPrivateGetIncome({"incomeType": "FUNDING_FEE", "startTime": row["timestamp"] + 1}) == []
    assert client.fapiPrivateGetIncome({"incomeType": "REALIZED_PNL"}) == []


def test_perp_long_then_flip_short_positions_and_wallet(client: Any, emulator: BinanceEmulator) -> None:
    long_ = client.create_order(PERP, "market", "buy", 1, None, {"clientOrderId": "p-long"})
    assert long_["status"] == "closed" and long_["average"] == 3000
    (pos,) = client.fetch_positions([PERP])
    assert pos["side"] == "long" and pos["contracts"] == 1 and pos["entryPrice"] == 3000
    emulator.set_price("ETHUSDT", D(3100))
    (pos,) = client.fetch_positions([PERP])
    assert pos["unrealizedPnl"] == 100  # 1 x (3100 - 3000)

    short = client.create_order(PERP, "market", "sell", 2, None, {"clientOrderId": "p-flip"})
    assert short["filled"] == 2
    (pos,) = client.fetch_positions([PERP])
    assert pos["side"] == "short" and pos["contracts"] == 1 and pos["entryPrice"] == 3100
    # wallet: + realised 100, - taker fees 0.05% x (3000 + 6200)
    wallet = FUTURES_USDT + 100 - D("1.5") - D("3.1")
    assert emulator.futures_wallet["USDT"] == wallet
    emulator.set_price("ETHUSDT", D(3000))
    bal = client.fetch_balance({"type": "swap"})
    # total = margin balance = wallet + unrealised (short 1 from 3100 at 3000: +100)
    assert D(str(bal["USDT"]["total"])) == wallet + 100
    # used = initial margin at default leverage 20: 3000 / 20
    assert D(str(bal["USDT"]["used"])) == D(150)
    assert emulator.requests_for("GET", "/fapi/v1/leverageBracket") and emulator.requests_for(
        "GET", "/fapi/v3/positionRisk"
    )


def test_perp_reduce_only(client: Any, emulator: BinanceEmulator) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):  # nothing to reduce
        client.create_order(PERP, "market", "sell", 1, None, {"reduceOnly": True})
    client.create_order(PERP, "market", "buy", 1, None)
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):  # would increase the long
        client.create_order(PERP, "market", "buy", 0.5, None, {"reduceOnly": True})
    closing = client.create_order(PERP, "market", "sell", 3, None, {"reduceOnly": True})
    assert closing["filled"] == 1  # cut to the position size
    assert emulator.position("ETHUSDT").amount == 0
    assert client.fetch_positions([PERP]) == []


def test_perp_limit_edit_with_put_then_maker_fill(client: Any, emulator: BinanceEmulator) -> None:
    o = client.create_order(PERP, "limit", "sell", 1, 3100, {"clientOrderId": "pl-1"})
    assert o["status"] == "open"
    e = client.edit_order(o["id"], PERP, "limit", "sell", 1, 3200)
    assert e["id"] == o["id"] and e["price"] == 3200
    assert len(emulator.requests_for("PUT", "/fapi/v1/order")) == 1
    assert [x["price"] for x in client.fetch_open_orders(PERP)] == [3200]
    emulator.set_price("ETHUSDT", D(3200))
    done = client.fetch_order(None, PERP, {"clientOrderId": "pl-1"})
    assert done["status"] == "closed" and done["average"] == 3200
    assert emulator.futures_wallet["USDT"] == FUTURES_USDT - D("0.64")  # maker 0.02% of 3200
    assert emulator.position("ETHUSDT").amount == -1


def test_perp_post_only_gtx_rejected_when_marketable(client: Any) -> None:
    with pytest.raises(ccxt.OrderNotFillable):
        client.create_order(PERP, "limit", "buy", 0.1, 3100, {"postOnly": True})
    ok = client.create_order(PERP, "limit", "buy", 0.1, 2900, {"postOnly": True})
    assert ok["info"]["timeInForce"] == "GTX" and ok["status"] == "open"


def test_perp_leverage_sets_initial_margin_and_v2_endpoints(client: Any, emulator: BinanceEmulator) -> None:
    client.set_leverage(10, PERP)
    client.create_order(PERP, "market", "buy", 1, None)
    bal = client.fetch_balance({"type": "swap"})
    assert D(str(bal["USDT"]["used"])) == D(300)  # 3000 / 10
    (pos,) = client.fetch_positions([PERP], {"useV2": True})
    assert pos["leverage"] == 10 and pos["marginMode"] == "cross"
    bal2 = client.fetch_balance({"type": "swap", "useV2": True})
    assert bal2["USDT"]["total"] == bal["USDT"]["total"]
    assert emulator.requests_for("GET", "/fapi/v2/account") and emulator.requests_for(
        "GET", "/fapi/v2/positionRisk"
    )
    with pytest.raises(ccxt.BadRequest):
        client.set_leverage(200, PERP)


def test_transfer_spot_to_swap_and_back(client: Any, emulator: BinanceEmulator) -> None:
    t = client.transfer("USDT", 1000, "spot", "swap")
    assert t["id"]
    assert emulator.requests_for("POST", "/sapi/v1/asset/transfer")[0]["type"] == "MAIN_UMFUTURE"
    assert D(str(client.fetch_balance()["USDT"]["free"])) == SPOT_USDT - 1000
    assert D(str(client.fetch_balance({"type": "swap"})["USDT"]["total"])) == FUTURES_USDT + 1000
    client.transfer("USDT", 400, "swap", "spot")
    assert emulator.requests_for("POST", "/sapi/v1/asset/transfer")[1]["type"] == "UMFUTURE_MAIN"
    assert emulator.spot_balance("USDT")[0] == SPOT_USDT - 600
    with pytest.raises(ccxt.InsufficientFunds):
        client.transfer("USDT", 1_000_000, "spot", "swap")


# ------------------------------------------------------------------------------------------ errors
def test_wrong_secret_and_wrong_key_are_authentication_errors(
    client: Any, make_client: Any, emulator: BinanceEmulator
) -> None:
    bad_secret = make_client(secret="not-the-secret")
    bad_secret.load_markets()
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        bad_secret.fetch_balance()
    bad_key = make_client(key="not-the-key")
    bad_key.load_markets()
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        bad_key.create_order(SPOT, "market", "buy", 0.1, None)
    assert emulator.orders == []


def test_hand_signed_request_and_tampered_body(emulator: BinanceEmulator) -> None:
    """Signature check against an independent signer (hmac + urllib, no ccxt)."""

    def post(body: str, signed_body: str) -> tuple[int, dict[str, Any]]:
        sig = hmac.new(API_SECRET.encode(), signed_body.encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(
            emulator.base_url + "/api/v3/order",
            data=f"{body}&signature={sig}".encode(),
            headers={"X-MBX-APIKEY": API_KEY, "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    ts = int(time.time() * 1000)
    good = f"symbol=ETHUSDT&side=BUY&type=MARKET&quantity=0.01&timestamp={ts}"
    status, body = post(good, good)
    assert status == 200 and body["status"] == "FILLED"
    tampered = good.replace("0.01", "0.02")
    status, body = post(tampered, good)
    assert (status, body["code"]) == (400, -1022)
    stale = f"symbol=ETHUSDT&side=BUY&type=MARKET&quantity=0.01&timestamp={ts - 6000}"
    status, body = post(stale, stale)  # default recvWindow 5000
    assert (status, body["code"]) == (400, -1021)
    assert len(emulator.orders) == 1


def test_duplicate_open_client_id(client: Any) -> None:
    client.create_order(SPOT, "limit", "buy", 0.1, 2000, {"clientOrderId": "dup"})
    with pytest.raises(ccxt.DuplicateOrderId):  # spot -2010 "Duplicate order sent."
        client.create_order(SPOT, "limit", "buy", 0.1, 2000, {"clientOrderId": "dup"})
    client.create_order(PERP, "limit", "buy", 0.1, 2000, {"clientOrderId": "dup"})  # other market: fine
    with pytest.raises(ccxt.DuplicateOrderId):  # futures -4116
        client.create_order(PERP, "limit", "buy", 0.1, 2000, {"clientOrderId": "dup"})
    client.cancel_order(None, SPOT, {"clientOrderId": "dup"})
    again = client.create_order(
        SPOT, "limit", "buy", 0.1, 2000, {"clientOrderId": "dup"}
    )  # only OPEN ids clash
    assert again["status"] == "open"
    # a lookup by client id finds the newest order with that id
    assert client.fetch_order(None, SPOT, {"clientOrderId": "dup"})["id"] == again["id"]


def test_insufficient_funds_spot_and_margin(client: Any, emulator: BinanceEmulator) -> None:
    with pytest.raises(ccxt.InsufficientFunds):  # 40 x 3000 > 100000 USDT
        client.create_order(SPOT, "market", "buy", 40, None)
    with pytest.raises(ccxt.InsufficientFunds):  # 11 ETH > 10
        client.create_order(SPOT, "limit", "sell", 11, 3500)
    with pytest.raises(ccxt.InsufficientFunds):  # 400 x 3000 / 20 = 60000 > 50000 margin
        client.create_order(PERP, "market", "buy", 400, None)
    client.create_order(PERP, "market", "buy", 300, None)  # 45000 margin + 450 fee: fits
    assert emulator.orders[-1].status == "FILLED"


def test_unknown_orders(client: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order("42", SPOT)
    with pytest.raises(ccxt.OrderNotFound):
        client.fetch_order(None, PERP, {"clientOrderId": "never"})
    with pytest.raises(ccxt.OrderNotFound):
        client.cancel_order("42", PERP)


def test_secret_never_logged_or_shown(client: Any, emulator: BinanceEmulator) -> None:
    client.create_order(SPOT, "market", "buy", 0.1, None)
    client.fetch_balance()
    text = repr(emulator) + repr(client) + str(client) + repr(emulator.request_log)
    assert API_SECRET not in text
    assert all("signature" not in r.params for r in emulator.request_log)


# ------------------------------------------------------------------------------------------ faults
def _perp_buy(c: Any, cid: str) -> Any:
    return c.create_order(PERP, "market", "buy", 0.01, None, {"clientOrderId": cid})


def test_fault_drop_after_accept_order_exists(fast_client: Any, emulator: BinanceEmulator) -> None:
    emulator.faults.inject("POST /fapi/v1/order", Fault("drop_after_accept"))
    with pytest.raises(ccxt.NetworkError):
        _perp_buy(fast_client, "drop-1")
    (o,) = emulator.orders_for_client_id("drop-1")
    assert o.status == "FILLED"
    # the client can find what happened by its id
    assert fast_client.fetch_order(None, PERP, {"clientOrderId": "drop-1"})["status"] == "closed"


@pytest.mark.parametrize(
    ("fault", "exc", "code"),
    [
        (Fault("http_429"), ccxt.DDoSProtection, "429"),
        (Fault("http_418"), ccxt.DDoSProtection, "418"),
        (Fault("http_5xx", status=503), ccxt.OperationFailed, "-1001"),
        (Fault("http_5xx", status=500), ccxt.OperationFailed, "-1001"),
        (
            Fault(
                "venue_error",
                status=503,
                payload={"code": -1007, "msg": "Timeout waiting for response from backend server."},
            ),
            ccxt.RequestTimeout,
            "-1007",
        ),
    ],
    ids=["429", "418", "503", "500", "venue_error_-1007"],
)
def test_fault_status_answers_without_touching_state(
    fast_client: Any, emulator: BinanceEmulator, fault: Fault, exc: type[Exception], code: str
) -> None:
    emulator.faults.inject("POST /fapi/v1/order", fault)
    with pytest.raises(exc, match=code) as info:
        _perp_buy(fast_client, "st-1")
    assert not isinstance(info.value, ccxt.ExchangeError)  # outcome-unknown family, not definitive
    assert emulator.orders == []
    assert _perp_buy(fast_client, "st-1")["status"] == "closed"  # applied once only


@pytest.mark.parametrize(
    ("fault", "exc", "code"),
    [
        (Fault("http_5xx_after_place", status=503), ccxt.OperationFailed, "-1001"),
        (Fault("http_5xx_after_place", status=500), ccxt.OperationFailed, "-1001"),
        (Fault("venue_error_after_place", status=503, payload=TIMEOUT_1007), ccxt.RequestTimeout, "-1007"),
    ],
    ids=["503", "500", "-1007"],
)
def test_fault_status_unknown_after_the_order_was_placed(
    fast_client: Any, emulator: BinanceEmulator, fault: Fault, exc: type[Exception], code: str
) -> None:
    """Binance documents 5xx and -1007 as "execution status unknown": here the order exists."""
    emulator.faults.inject("POST /fapi/v1/order", fault)
    with pytest.raises(exc, match=code) as info:
        _perp_buy(fast_client, "after-1")
    assert not isinstance(info.value, ccxt.ExchangeError)  # the same answer as the not-placed fault
    (o,) = emulator.orders_for_client_id("after-1")
    assert o.status == "FILLED" and emulator.position("ETHUSDT").amount == D("0.01")
    assert fast_client.fetch_order(None, PERP, {"clientOrderId": "after-1"})["status"] == "closed"


def _caused_by(exc: BaseException, kind: type[E]) -> E | None:
    """The first ``kind`` in the chain of causes / contexts / args of ``exc`` (requests nests them), or None."""
    seen: list[BaseException] = [exc]
    while seen:
        e = seen.pop()
        if isinstance(e, kind):
            return e
        seen += [x for x in (e.__cause__, e.__context__, *e.args) if isinstance(x, BaseException)]
    return None


@pytest.mark.parametrize(("kind", "placed"), [("reset_before_place", 0), ("reset_after_place", 1)],
                         ids=["before", "after"])
def test_fault_connection_reset(fast_client: Any, emulator: BinanceEmulator, kind: str, placed: int) -> None:
    emulator.faults.inject("POST /fapi/v1/order", Fault(kind))  # type: ignore[arg-type]
    with pytest.raises(ccxt.NetworkError) as info:
        _perp_buy(fast_client, "rst-1")
    reset = _caused_by(info.value, ConnectionResetError)  # a TCP RST (ECONNRESET), not a clean close (FIN)
    assert reset is not None and not isinstance(reset, http.client.RemoteDisconnected)
    assert reset.errno == errno.ECONNRESET
    assert len(emulator.orders_for_client_id("rst-1")) == placed
    (rec,) = [r for r in emulator.request_log if r.fault == kind]
    assert rec.status is None
    assert fast_client.fetch_balance()["USDT"]["free"] == float(SPOT_USDT)  # the client reconnects


def test_fault_delay_past_client_timeout(fast_client: Any, emulator: BinanceEmulator) -> None:
    release, landed = threading.Event(), threading.Event()
    emulator.faults.inject("POST /fapi/v1/order", Fault("delay", until=release, handled=landed))
    time_out_next(fast_client, lambda method, url, body: method == "POST" and urlsplit(url).path == "/fapi/v1/order")
    with pytest.raises(ccxt.RequestTimeout):  # held by the venue: a 0.1 s timeout is certain
        _perp_buy(fast_client, "slow-1")
    assert emulator.orders_for_client_id("slow-1") == []
    release.set()  # the request still reaches the matching engine after the client gave up
    assert landed.wait(60) and len(emulator.orders_for_client_id("slow-1")) == 1


@pytest.mark.parametrize("skew_ms", [-60_000, 60_000], ids=["server-behind", "server-ahead"])
def test_fault_clock_skew(fast_client: Any, emulator: BinanceEmulator, skew_ms: int) -> None:
    emulator.faults.inject("POST /fapi/v1/order", Fault("clock_skew", skew_ms=skew_ms))
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        _perp_buy(fast_client, "skew-1")
    assert emulator.orders == []
    emulator.clock_skew_ms = skew_ms  # persistent skew: the server time shows it
    before = int(time.time() * 1000)
    t = fast_client.fetch_time()
    assert before + skew_ms <= t <= int(time.time() * 1000) + skew_ms


def test_fault_times_and_wildcard_through_client(fast_client: Any, emulator: BinanceEmulator) -> None:
    emulator.faults.inject("*", Fault("http_429", times=2))
    for _ in range(2):
        with pytest.raises(ccxt.DDoSProtection):
            fast_client.fetch_balance()
    assert fast_client.fetch_balance()["USDT"]["free"] == float(SPOT_USDT)
    assert [r.fault for r in emulator.request_log[-3:]] == ["http_429", "http_429", None]


# ------------------------------------------------------------------------------------------ base + factory
def test_fault_plan_order_wildcard_and_clear() -> None:
    plan = FaultPlan()
    plan.inject("*", Fault("http_5xx"))
    plan.inject("GET /a", Fault("delay", times=2))
    plan.inject("GET /a", Fault("http_429"))
    taken = [plan.take("GET /a") for _ in range(5)]
    assert [f.kind if f else None for f in taken] == ["delay", "delay", "http_429", "http_5xx", None]
    plan.inject("GET /b", Fault("http_418", times=3))
    plan.clear()
    assert plan.take("GET /b") is None
    with pytest.raises(ValueError):
        Fault("nonsense")  # type: ignore[arg-type]


def test_emulator_base_threaded_and_stops_cleanly() -> None:
    class Echo(EmulatorServer):
        def handle(self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes) -> Any:
            return json_response(200, {"path": path, "q": query, "body": body.decode()})

    srv = Echo()
    with srv:
        url = srv.base_url
        results: list[dict[str, Any]] = []

        def call(i: int) -> None:
            with urllib.request.urlopen(f"{url}/p{i}?x={i}", timeout=5) as r:
                results.append(json.loads(r.read()))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r["path"] for r in results) == [f"/p{i}" for i in range(8)]
        assert len(srv.request_log) == 8
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/after", timeout=1)


def test_demo_emulator_serves_btc_market() -> None:
    with BinanceEmulator.with_defaults(API_KEY, API_SECRET) as emu:
        c = make_binance_client(API_KEY, API_SECRET, base_url=emu.base_url, enable_rate_limit=False)
        c.load_markets()
        o = c.create_order("BTC/USDT", "market", "sell", 0.5, None)
        # 0.5 BTC at 60000 = 30000 USDT, taker 0.1% in USDT = 30
        assert D(o["info"]["fills"][0]["commission"]) == D(30)
        assert c.fetch_balance()["USDT"]["free"] == 100_000 + 30_000 - 30


def test_client_factory_options_and_urls(emulator: BinanceEmulator) -> None:
    c = make_binance_client(API_KEY, API_SECRET, base_url=emulator.base_url + "/", timeout_ms=1234)
    assert c.timeout == 1234 and c.enableRateLimit is True
    assert c.options["fetchCurrencies"] is False and c.options["fetchMargins"] is False
    assert c.options["fetchMarkets"]["types"] == ["spot", "linear"] and c.options["maxRetriesOnFailure"] == 0
    assert c.urls["api"]["fapiPrivateV3"] == emulator.base_url + "/fapi/v3"
    assert c.urls["api"]["sapi"] == emulator.base_url + "/sapi/v1"
    assert all(u.startswith(emulator.base_url) for u in c.urls["api"].values())
    real = make_binance_client(API_KEY, API_SECRET)
    assert real.urls["api"]["private"] == "https://api.binance.com/api/v3"
    # the refined duplicate mapping is the same against the real URL
    assert real.get_exceptions_by_url("https://fapi.binance.com/fapi/v1/order", "exact")["-4116"] is (
        ccxt.DuplicateOrderId
    )
    assert rebase_urls({"a": "https://x.example/p/q"}, "http://h:1") == {"a": "http://h:1/p/q"}
    assert API_SECRET not in repr(c)
