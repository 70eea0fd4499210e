"""The real ccxt Hyperliquid client against the local emulator (signatures recovered, faults injected).

Expected numbers are computed here from the venue's published rules (fee rates, fill at mark,
weighted entry, realized PnL), never read back from the emulator's own arithmetic.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from basis_venue_hyperliquid.client import cloid_from_client_id, make_hyperliquid_client, validate_cloid
from basis_venue_hyperliquid.testing import HyperliquidEmulator
from eth_account import Account

from basis_core.errors import InstructionError
from basis_core.live.ccxt_context import keep_decimal_context
from basis_core.testing.client_timeout import time_out_next
from basis_core.testing.http_emulator import Fault

ETH_PERP = "ETH/USDC:USDC"
ETH_SPOT = "ETH/USDC"
PERP_TAKER = Decimal("0.00045")  # Hyperliquid base tier, from the venue's fee schedule
PERP_MAKER = Decimal("0.00015")
SPOT_TAKER = Decimal("0.0007")
SPOT_MAKER = Decimal("0.0004")
PERP_USDC = Decimal("10000")
SPOT_USDC = Decimal("5000")


def _key(label: str) -> str:
    return "0x" + hashlib.sha256(label.encode()).hexdigest()


MASTER_KEY = _key("hyperliquid-test-master")
AGENT_KEY = _key("hyperliquid-test-agent")
MASTER = Account.from_key(MASTER_KEY).address
AGENT = Account.from_key(AGENT_KEY).address


@pytest.fixture
def emu() -> Iterator[HyperliquidEmulator]:
    with HyperliquidEmulator(
        MASTER,
        agents=[AGENT],
        perp_usdc=PERP_USDC,
        spot_balances={"USDC": SPOT_USDC},
        marks={"ETH": "3000", "BTC": "100000"},
    ) as server:
        yield server


def _client(emu: HyperliquidEmulator, key: str = MASTER_KEY, **kw: Any) -> ccxt.hyperliquid:
    return make_hyperliquid_client(MASTER, key, base_url=emu.base_url, enable_rate_limit=False, **kw)


@pytest.fixture
def client(emu: HyperliquidEmulator) -> ccxt.hyperliquid:
    c = _client(emu)
    c.load_markets()
    return c


def _d(x: object) -> Decimal:
    return Decimal(str(x))


# ---------------------------------------------------------------------------------------------
# markets, cloid helpers
# ---------------------------------------------------------------------------------------------


def test_load_markets_gives_unified_perp_and_spot_symbols(emu: HyperliquidEmulator) -> None:
    c = _client(emu)
    markets = c.load_markets()
    assert markets[ETH_PERP]["id"] == "1" and markets[ETH_PERP]["swap"] is True
    assert markets[ETH_PERP]["precision"]["amount"] == 0.0001  # szDecimals 4
    # wrapped ETH is "UETH" on Hyperliquid; ccxt maps it to ETH; spot asset id = 10000 + pair index
    assert markets[ETH_SPOT]["id"] == "@1" and markets[ETH_SPOT]["baseId"] == "10001"
    assert markets[ETH_SPOT]["spot"] is True and markets[ETH_SPOT]["baseName"] == "UETH"
    assert markets["BTC/USDC:USDC"]["id"] == "0"
    # the factory's options: three /info calls, and nothing sent to /exchange (no builder / referrer)
    routes = [r.route for r in emu.request_log]
    assert routes == ["POST /info:spotMeta", "POST /info:spotMetaAndAssetCtxs", "POST /info:metaAndAssetCtxs"]


def test_cloid_helpers() -> None:
    cloid = cloid_from_client_id("basis-order-1")
    assert cloid == "0x" + hashlib.sha256(b"basis-order-1").hexdigest()[:32]
    assert cloid_from_client_id("basis-order-1") == cloid != cloid_from_client_id("basis-order-2")
    assert validate_cloid(cloid) == cloid
    assert validate_cloid("0x" + "AB" * 16) == "0x" + "ab" * 16
    for bad in ("0x123", "ab" * 17, "0x" + "g" * 32, "0x" + "a" * 33, ""):
        with pytest.raises(InstructionError) as ei:
            validate_cloid(bad)
        assert ei.value.field == "client_id"
    with pytest.raises(InstructionError):
        cloid_from_client_id("")


# ---------------------------------------------------------------------------------------------
# perps
# ---------------------------------------------------------------------------------------------


def test_perp_market_long_then_flip_short_fill_at_mark_with_taker_fee(
    emu: HyperliquidEmulator, client: ccxt.hyperliquid
) -> None:
    buy = client.create_order(
        ETH_PERP, "market", "buy", 0.5, 3000, {"clientOrderId": cloid_from_client_id("a")}
    )
    assert _d(buy["average"]) == Decimal("3000") and _d(buy["filled"]) == Decimal("0.5")
    fee1 = Decimal("0.5") * 3000 * PERP_TAKER
    assert emu.perp_usdc() == PERP_USDC - fee1
    assert emu.position("ETH") == (Decimal("0.5"), Decimal("3000"))

    emu.set_mark("ETH", "3100")
    sell = client.create_order(ETH_PERP, "market", "sell", 1.0, 3100)
    assert _d(sell["average"]) == Decimal("3100")
    pnl = Decimal("0.5") * (3100 - 3000)
    fee2 = Decimal("1.0") * 3100 * PERP_TAKER
    assert emu.perp_usdc() == PERP_USDC - fee1 + pnl - fee2
    (pos,) = client.fetch_positions([ETH_PERP])
    assert pos["side"] == "short" and _d(pos["contracts"]) == Decimal("0.5")
    assert _d(pos["entryPrice"]) == Decimal("3100") and _d(pos["unrealizedPnl"]) == 0
    # leverage 20 (default): initial margin = 0.5 * 3100 / 20
    assert _d(pos["initialMargin"]) == Decimal("0.5") * 3100 / 20

    emu.set_mark("ETH", "3000")
    (pos,) = client.fetch_positions([ETH_PERP])
    assert _d(pos["unrealizedPnl"]) == Decimal("0.5") * (3100 - 3000)  # short gains when price falls
    trades = client.fetch_my_trades(ETH_PERP)
    assert [(t["side"], _d(t["amount"]), _d(t["fee"]["cost"])) for t in trades] == [
        ("buy", Decimal("0.5"), fee1),
        ("sell", Decimal("1"), fee2),
    ]
    assert [t["info"]["dir"] for t in trades] == ["Open Long", "Long > Short"]


def test_limit_rests_then_fetch_and_cancel_by_cloid(
    emu: HyperliquidEmulator, client: ccxt.hyperliquid
) -> None:
    cloid = cloid_from_client_id("rest-1")
    placed = client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900, {"clientOrderId": cloid})
    assert placed["clientOrderId"] == cloid and placed["id"] is not None
    got = client.fetch_order(None, ETH_PERP, {"clientOrderId": cloid})
    assert (got["status"], got["id"], got["side"], _d(got["price"]), _d(got["remaining"])) == (
        "open",
        placed["id"],
        "buy",
        Decimal("2900"),
        Decimal("0.1"),
    )
    assert [o["clientOrderId"] for o in client.fetch_open_orders(ETH_PERP)] == [cloid]
    # the resting order reserves margin (0.1 * 2900 / 20) out of what can be withdrawn
    bal = client.fetch_balance()
    assert _d(bal["USDC"]["total"]) == PERP_USDC
    assert _d(bal["info"]["withdrawable"]) == PERP_USDC - Decimal("0.1") * 2900 / 20

    client.cancel_order(None, ETH_PERP, {"clientOrderId": cloid})
    assert client.fetch_order(None, ETH_PERP, {"clientOrderId": cloid})["status"] == "canceled"
    assert client.fetch_open_orders(ETH_PERP) == []
    with pytest.raises(ccxt.OrderNotFound):  # cancelling again: the venue's per-cancel error
        client.cancel_order(None, ETH_PERP, {"clientOrderId": cloid})
    with pytest.raises(ccxt.OrderNotFound):  # {"status":"unknownOid"}
        client.fetch_order(None, ETH_PERP, {"clientOrderId": cloid_from_client_id("never-sent")})
    assert [o["status"] for o in emu.orders_for_cloid(cloid)] == ["canceled"]


def test_resting_limit_fills_at_its_price_as_maker_when_mark_crosses(
    emu: HyperliquidEmulator, client: ccxt.hyperliquid
) -> None:
    cloid = cloid_from_client_id("maker-1")
    client.create_order(ETH_PERP, "limit", "buy", 0.2, 2950, {"clientOrderId": cloid})
    assert emu.set_mark("ETH", "2960") == []  # not crossed yet
    assert len(emu.set_mark("ETH", "2940")) == 1
    got = client.fetch_order(None, ETH_PERP, {"clientOrderId": cloid})
    assert got["status"] == "closed" and _d(got["filled"]) == Decimal("0.2")
    assert emu.position("ETH") == (Decimal("0.2"), Decimal("2950"))
    assert emu.perp_usdc() == PERP_USDC - Decimal("0.2") * 2950 * PERP_MAKER
    (trade,) = client.fetch_my_trades(ETH_PERP)
    assert trade["takerOrMaker"] == "maker" and _d(trade["price"]) == Decimal("2950")


def test_edit_order_is_batch_modify(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    cloid = cloid_from_client_id("edit-1")
    placed = client.create_order(ETH_PERP, "limit", "sell", 0.1, 3100, {"clientOrderId": cloid})
    edited = client.edit_order(placed["id"], ETH_PERP, "limit", "sell", 0.2, 3200, {"clientOrderId": cloid})
    assert edited["id"] != placed["id"]  # Hyperliquid gives the modified order a new oid
    assert emu.exchange_log[-1].type == "batchModify"
    (open_order,) = client.fetch_open_orders(ETH_PERP)
    assert (open_order["id"], _d(open_order["price"]), _d(open_order["amount"])) == (
        edited["id"],
        Decimal("3200"),
        Decimal("0.2"),
    )
    assert client.fetch_order(placed["id"], ETH_PERP)["status"] == "canceled"
    assert sorted(o["status"] for o in emu.orders_for_cloid(cloid)) == ["canceled", "open"]


def test_rejections_come_back_as_ccxt_errors(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    ro = cloid_from_client_id("ro-1")
    with pytest.raises(ccxt.InvalidOrder, match="Reduce only order would increase position"):
        client.create_order(ETH_PERP, "market", "sell", 0.1, 3000, {"reduceOnly": True, "clientOrderId": ro})
    assert [o["status"] for o in emu.orders_for_cloid(ro)] == ["reduceOnlyRejected"]
    assert client.fetch_order(None, ETH_PERP, {"clientOrderId": ro})["status"] == "rejected"
    with pytest.raises(ccxt.InvalidOrder, match="Post only order would have immediately matched"):
        client.create_order(ETH_PERP, "limit", "buy", 0.1, 3010, {"postOnly": True})
    with pytest.raises(ccxt.InvalidOrder, match="could not immediately match"):
        client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900, {"timeInForce": "IOC"})
    with pytest.raises(ccxt.InvalidOrder, match="minimum value of \\$10"):
        client.create_order(ETH_PERP, "limit", "buy", 0.003, 2900)
    with pytest.raises(ccxt.InsufficientFunds, match="Insufficient margin"):  # 70 ETH at 20x needs 10,500
        client.create_order(ETH_PERP, "market", "buy", 70, 3000)
    with pytest.raises(ccxt.InsufficientFunds, match="Insufficient spot balance"):
        client.create_order(ETH_SPOT, "market", "sell", 1, 3000)
    assert emu.positions == {} and emu.perp_usdc() == PERP_USDC


def test_reduce_only_closes_and_is_clamped_to_the_position(
    emu: HyperliquidEmulator, client: ccxt.hyperliquid
) -> None:
    client.create_order(ETH_PERP, "market", "buy", 0.3, 3000)
    out = client.create_order(ETH_PERP, "market", "sell", 0.5, 3000, {"reduceOnly": True})
    assert _d(out["filled"]) == Decimal("0.3")
    assert emu.positions == {}
    assert emu.perp_usdc() == PERP_USDC - 2 * (Decimal("0.3") * 3000 * PERP_TAKER)


def test_duplicate_cloid_is_refused(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    cloid = cloid_from_client_id("dup-1")
    client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900, {"clientOrderId": cloid})
    with pytest.raises(ccxt.ExchangeError, match="Duplicate cloid"):
        client.create_order(ETH_PERP, "limit", "buy", 0.1, 2800, {"clientOrderId": cloid})
    assert len(emu.orders_for_cloid(cloid)) == 1


def test_set_leverage_changes_margin(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    client.set_leverage(5, ETH_PERP)
    client.create_order(ETH_PERP, "market", "buy", 0.5, 3000)
    (pos,) = client.fetch_positions([ETH_PERP])
    assert _d(pos["leverage"]) == 5 and _d(pos["initialMargin"]) == Decimal("0.5") * 3000 / 5
    with pytest.raises(ccxt.ExchangeError, match="Invalid leverage"):
        client.set_leverage(50, ETH_PERP)  # ETH max leverage is 25


# ---------------------------------------------------------------------------------------------
# spot, balances, transfers
# ---------------------------------------------------------------------------------------------


def test_spot_fees_in_received_token_and_balances(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    client.create_order(ETH_SPOT, "market", "buy", 0.5, 3000)
    eth = Decimal("0.5") * (1 - SPOT_TAKER)
    usdc = SPOT_USDC - Decimal("0.5") * 3000
    spot = client.fetch_balance({"type": "spot"})
    assert _d(spot["ETH"]["total"]) == eth and _d(spot["USDC"]["total"]) == usdc
    emu.set_mark("ETH", "3200")
    client.create_order(ETH_SPOT, "market", "sell", 0.4, 3200)
    usdc += Decimal("0.4") * 3200 * (1 - SPOT_TAKER)
    eth -= Decimal("0.4")
    spot = client.fetch_balance({"type": "spot"})
    assert _d(spot["ETH"]["total"]) == eth and _d(spot["USDC"]["total"]) == usdc
    # a resting spot buy holds its quote
    client.create_order(ETH_SPOT, "limit", "buy", 0.1, 3000)
    spot = client.fetch_balance({"type": "spot"})
    assert _d(spot["USDC"]["used"]) == Decimal("300") and _d(spot["USDC"]["free"]) == usdc - 300
    perp = client.fetch_balance()
    assert _d(perp["USDC"]["total"]) == PERP_USDC and _d(perp["USDC"]["used"]) == 0


def test_spot_post_only_rests_then_fills_as_maker(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    cloid = cloid_from_client_id("spot-alo")
    client.create_order(ETH_SPOT, "limit", "buy", 0.1, 2950, {"postOnly": True, "clientOrderId": cloid})
    assert client.fetch_order(None, ETH_SPOT, {"clientOrderId": cloid})["status"] == "open"
    emu.set_mark("ETH", "2940")  # the perp and the UETH pair both trade off the ETH mark
    got = client.fetch_order(None, ETH_SPOT, {"clientOrderId": cloid})
    assert (got["status"], got["symbol"]) == ("closed", ETH_SPOT)
    assert emu.spot_balance("ETH") == Decimal("0.1") * (1 - SPOT_MAKER)
    assert emu.spot_balance("USDC") == SPOT_USDC - Decimal("0.1") * 2950
    (fill,) = emu.fills()
    assert (fill["coin"], fill["feeToken"], fill["crossed"]) == ("@1", "UETH", False)


def test_usd_class_transfer_both_ways(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    client.transfer("USDC", 100, "spot", "swap")
    client.transfer("USDC", 40.5, "swap", "spot")
    assert emu.spot_balance("USDC") == SPOT_USDC - 100 + Decimal("40.5")
    assert emu.perp_usdc() == PERP_USDC + 100 - Decimal("40.5")
    assert _d(client.fetch_balance()["USDC"]["total"]) == PERP_USDC + Decimal("59.5")
    with pytest.raises(ccxt.InsufficientFunds):
        client.transfer("USDC", 1_000_000, "spot", "swap")
    record = emu.exchange_log[-1]
    assert record.type == "usdClassTransfer" and record.signer == MASTER.lower()


# ---------------------------------------------------------------------------------------------
# signing
# ---------------------------------------------------------------------------------------------


def test_agent_key_trades_for_master_but_cannot_transfer(emu: HyperliquidEmulator) -> None:
    agent = _client(emu, AGENT_KEY)
    agent.load_markets()
    agent.create_order(ETH_PERP, "market", "buy", 0.1, 3000)
    assert emu.exchange_log[-1].signer == AGENT.lower()
    assert emu.position("ETH", MASTER)[0] == Decimal("0.1")
    with pytest.raises(ccxt.ExchangeError, match="Must deposit before performing actions"):
        agent.transfer("USDC", 10, "spot", "swap")
    assert emu.spot_balance("USDC") == SPOT_USDC


def test_wrong_key_is_an_unknown_signer(emu: HyperliquidEmulator) -> None:
    wrong_key = _key("not-registered")
    wrong = _client(emu, wrong_key)
    wrong.load_markets()
    with pytest.raises(ccxt.InvalidOrder) as ei:  # ccxt maps "User or API Wallet " to InvalidOrder
        wrong.create_order(ETH_PERP, "limit", "buy", 0.1, 2900)
    expected = Account.from_key(wrong_key).address.lower()  # recovery gives exactly the signing key's address
    assert f"User or API Wallet {expected} does not exist." in str(ei.value)
    assert emu.orders == {}


def test_testnet_signature_does_not_verify_on_mainnet(emu: HyperliquidEmulator) -> None:
    testnet_client = _client(emu, testnet=True)
    testnet_client.load_markets()
    with pytest.raises(ccxt.InvalidOrder, match="User or API Wallet"):
        testnet_client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900)
    assert emu.exchange_log[-1].signer not in (MASTER.lower(), AGENT.lower())
    with pytest.raises(ccxt.ExchangeError, match="hyperliquidChain"):
        testnet_client.transfer("USDC", 10, "spot", "swap")


def test_testnet_emulator_accepts_testnet_client() -> None:
    with HyperliquidEmulator(MASTER, perp_usdc=1000, testnet=True) as server:
        c = make_hyperliquid_client(
            MASTER, MASTER_KEY, base_url=server.base_url, enable_rate_limit=False, testnet=True
        )
        c.load_markets()
        c.create_order(ETH_PERP, "limit", "buy", 0.1, 2900)
        c.transfer("USDC", 10, "swap", "spot")
        assert [r.signer for r in server.exchange_log] == [MASTER.lower()] * 2


def test_reused_and_stale_nonces_are_rejected(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    fixed = emu.now_ms()
    client.incrementing_nonce = lambda: fixed  # type: ignore[method-assign]
    client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900)
    with pytest.raises(ccxt.ExchangeError, match=f"Invalid nonce: duplicate nonce {fixed}"):
        client.create_order(ETH_PERP, "limit", "buy", 0.1, 2800)
    client.incrementing_nonce = lambda: fixed - 3 * 86_400_000  # type: ignore[method-assign]
    with pytest.raises(ccxt.ExchangeError, match="Invalid nonce: nonce too low"):
        client.create_order(ETH_PERP, "limit", "buy", 0.1, 2800)
    assert len(emu.orders) == 1


def test_no_builder_field_and_no_builder_approval(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    client.create_order(ETH_PERP, "market", "buy", 0.1, 3000)
    client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900)
    client.create_order(ETH_SPOT, "market", "buy", 0.01, 3000)
    kinds = [r.type for r in emu.exchange_log]
    assert kinds == ["order", "order", "order"]
    assert emu.builder_fields() == []
    assert all("builder" not in r.params for r in emu.request_log)


def test_stock_ccxt_client_would_attach_a_builder(emu: HyperliquidEmulator) -> None:
    """Control: plain ccxt approves a builder fee and attaches ``builder``; the emulator refuses it."""
    stock = ccxt.hyperliquid(
        {
            "walletAddress": MASTER,
            "privateKey": MASTER_KEY,
            "enableRateLimit": False,
            "options": {"fetchMarkets": {"types": ["spot", "swap"]}, "enableUnifiedMargin": False},
        }
    )
    stock.urls["api"] = {"public": emu.base_url, "private": emu.base_url}
    keep_decimal_context(stock)  # ccxt's rounding would change this thread's Decimal context (the suite's guard)
    stock.load_markets()
    with pytest.raises(ccxt.ExchangeError, match="Builder fee has not been approved"):
        stock.create_order(ETH_PERP, "limit", "buy", 0.1, 2900)
    kinds = [r.type for r in emu.exchange_log]
    assert "approveBuilderFee" in kinds and "setReferrer" in kinds
    assert len(emu.builder_fields()) == 1 and emu.orders == {}


# ---------------------------------------------------------------------------------------------
# faults
# ---------------------------------------------------------------------------------------------


def test_drop_after_accept_order_exists_client_sees_network_error(
    emu: HyperliquidEmulator, client: ccxt.hyperliquid
) -> None:
    cloid = cloid_from_client_id("drop-1")
    emu.faults.inject("POST /exchange:order", Fault("drop_after_accept"))
    with pytest.raises(ccxt.NetworkError):
        client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900, {"clientOrderId": cloid})
    assert [o["status"] for o in emu.orders_for_cloid(cloid)] == ["open"]  # placed exactly once
    assert client.fetch_order(None, ETH_PERP, {"clientOrderId": cloid})["status"] == "open"


def test_http_429_and_418_and_5xx_place_nothing(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    cases = [
        (Fault("http_429"), ccxt.RateLimitExceeded),
        (Fault("http_418"), ccxt.DDoSProtection),
        (Fault("http_5xx", status=503), ccxt.ExchangeNotAvailable),
        (Fault("http_5xx", status=502), ccxt.ExchangeNotAvailable),
    ]
    for fault, exc in cases:
        emu.faults.inject("POST /exchange:order", fault)
        with pytest.raises(exc):
            client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900)
        assert isinstance(exc("x"), ccxt.NetworkError)  # all in ccxt's "outcome may be unknown" family
    assert emu.orders == {}
    assert client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900)["id"] is not None  # faults used up


def _order_times_out(emu: HyperliquidEmulator, c: ccxt.hyperliquid,
                     cloid: str) -> tuple[threading.Event, threading.Event]:
    """A limit order the emulator holds until ``release`` is set (``landed``: then handled) and the client gives
    up on after 0.1 s (every other request keeps the generous default timeout): the timeout is certain, however
    loaded the machine."""
    release, landed = threading.Event(), threading.Event()
    emu.faults.inject("POST /exchange:order", Fault("delay", until=release, handled=landed))
    time_out_next(c, lambda method, url, body: '"type":"order"' in body)
    with pytest.raises(ccxt.RequestTimeout):
        c.create_order(ETH_PERP, "limit", "buy", 0.1, 2900, {"clientOrderId": cloid})
    return release, landed


def test_delay_past_client_timeout_then_order_lands(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    cloid = cloid_from_client_id("slow-1")
    release, landed = _order_times_out(emu, client, cloid)
    assert emu.orders_for_cloid(cloid) == []  # still held
    release.set()
    assert landed.wait(60)
    assert [o["status"] for o in emu.orders_for_cloid(cloid)] == ["open"]


@pytest.mark.parametrize(("fault", "placed", "exc"), [
    (Fault("http_5xx_after_place", status=502), 1, ccxt.ExchangeNotAvailable),
    (Fault("reset_before_place"), 0, ccxt.NetworkError),
    (Fault("reset_after_place"), 1, ccxt.NetworkError),
], ids=["502-after-place", "reset-before", "reset-after"])
def test_unknown_outcome_faults_before_and_after_placing(emu: HyperliquidEmulator, client: ccxt.hyperliquid,
                                                         fault: Fault, placed: int, exc: type[Exception]) -> None:
    cloid = cloid_from_client_id("unknown-1")
    emu.faults.inject("POST /exchange:order", fault)
    with pytest.raises(exc):
        client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900, {"clientOrderId": cloid})
    assert len(emu.orders_for_cloid(cloid)) == placed


def _expiring_order(client: ccxt.hyperliquid, expires: int | None) -> dict[str, Any]:
    """A signed order request (not sent) whose signature covers ``expires`` (None: no expiresAfter)."""
    action = {"type": "order", "grouping": "na",
              "orders": [{"a": 1, "b": True, "p": "2900", "s": "0.1", "r": False, "t": {"limit": {"tif": "Gtc"}}}]}
    nonce = client.incrementing_nonce()
    req: dict[str, Any] = {"action": action, "nonce": nonce,
                           "signature": client.sign_l1_action(action, nonce, None, expires)}
    if expires is not None:
        req["expiresAfter"] = expires
    return req


def _post(emu: HyperliquidEmulator, obj: object) -> Any:
    req = urllib.request.Request(emu.base_url + "/exchange", data=json.dumps(obj).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def test_expires_after_is_covered_by_the_signature(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    later = int(time.time() * 1000) + 60_000
    for tampered in ({**_expiring_order(client, later), "expiresAfter": later + 1000},  # moved later
                     {k: v for k, v in _expiring_order(client, later).items() if k != "expiresAfter"},  # dropped
                     {**_expiring_order(client, None), "expiresAfter": later}):  # added to an unexpiring one
        err = _post(emu, tampered)
        assert err["status"] == "err" and err["response"].startswith("User or API Wallet 0x")  # another signer
    assert emu.orders == {}
    ok = _post(emu, _expiring_order(client, later))
    assert "resting" in ok["response"]["data"]["statuses"][0] and len(emu.orders) == 1


def test_an_action_past_its_expires_after_is_refused_and_its_nonce_stays_unused(
        emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    past = int(time.time() * 1000) - 1
    req = _expiring_order(client, past)
    err = _post(emu, req)
    assert err["status"] == "err" and err["response"].startswith("Action expired")
    assert emu.orders == {}
    again = {**req, "expiresAfter": past + 120_000}
    again["signature"] = client.sign_l1_action(req["action"], req["nonce"], None, past + 120_000)
    assert "resting" in _post(emu, again)["response"]["data"]["statuses"][0]  # same nonce: it was not used


def test_client_signs_and_sends_expires_after_on_every_l1_action(emu: HyperliquidEmulator) -> None:
    c = _client(emu, expires_after_ms=30_000)
    c.load_markets()
    cloid = cloid_from_client_id("exp-1")
    before = int(time.time() * 1000)
    c.create_order(ETH_PERP, "limit", "buy", 0.1, 2900, {"clientOrderId": cloid})
    c.cancel_order(None, ETH_PERP, {"clientOrderId": cloid})
    c.set_leverage(5, ETH_PERP)
    c.transfer("USDC", 10, "spot", "swap")  # user-signed: cannot carry expiresAfter
    after = int(time.time() * 1000)
    sent = {r.params["type"]: r.params.get("expiresAfter") for r in emu.request_log if r.path == "/exchange"}
    assert sent["usdClassTransfer"] is None
    for kind in ("order", "cancelByCloid", "updateLeverage"):
        assert before + 30_000 <= int(sent[kind]) <= after + 30_000  # type: ignore[arg-type]
    assert [r.response["status"] for r in emu.exchange_log] == ["ok"] * 4  # every signature verified
    assert c.last_expires_after == int(sent["updateLeverage"])  # type: ignore[arg-type]


def test_a_request_delayed_past_its_expires_after_never_lands(emu: HyperliquidEmulator) -> None:
    c = _client(emu, expires_after_ms=300)
    c.load_markets()
    cloid = cloid_from_client_id("late-exp")
    release, landed = _order_times_out(emu, c, cloid)
    while time.time() * 1000 <= c.last_expires_after:  # released only once its expiresAfter has passed
        time.sleep(0.01)
    release.set()
    assert landed.wait(60)
    (late,) = emu.exchange_log
    assert late.response["response"].startswith("Action expired") and emu.orders_for_cloid(cloid) == []


def test_venue_error_and_clock_skew_faults(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    emu.faults.inject(
        "POST /exchange:order",
        Fault("venue_error", status=200, payload={"status": "err", "response": "Emulated outage."}),
    )
    with pytest.raises(ccxt.ExchangeError, match="Emulated outage"):
        client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900)
    # the venue's clock 3 days ahead: the client's fresh nonce is now too old
    emu.faults.inject("POST /exchange:order", Fault("clock_skew", skew_ms=3 * 86_400_000))
    with pytest.raises(ccxt.ExchangeError, match="Invalid nonce: nonce too low"):
        client.create_order(ETH_PERP, "limit", "buy", 0.1, 2900)
    assert emu.orders == {}


# ---------------------------------------------------------------------------------------------
# more of the venue's surface
# ---------------------------------------------------------------------------------------------


def test_funding_open_orders_variants_and_fills_by_time(
    emu: HyperliquidEmulator, client: ccxt.hyperliquid
) -> None:
    client.create_order(ETH_PERP, "market", "buy", 0.5, 3000)
    emu.apply_funding("ETH", "0.0001")  # positive rate: the long pays szi * mark * rate
    paid = Decimal("0.5") * 3000 * Decimal("0.0001")
    assert emu.perp_usdc() == PERP_USDC - Decimal("0.5") * 3000 * PERP_TAKER - paid
    (pos,) = client.fetch_positions([ETH_PERP])
    assert _d(pos["info"]["position"]["cumFunding"]["sinceOpen"]) == paid
    (hist,) = client.fetch_funding_history(ETH_PERP, 0)  # userFunding, through ccxt
    assert _d(hist["info"]["delta"]["usdc"]) == -paid and _d(hist["info"]["delta"]["szi"]) == Decimal("0.5")
    assert client.publicPostInfo({"type": "userFunding", "user": client.walletAddress,
                                  "startTime": hist["timestamp"] + 1}) == []

    cloid = cloid_from_client_id("oo-1")
    client.create_order(ETH_PERP, "limit", "sell", 0.1, 3100, {"clientOrderId": cloid})
    plain = client.fetch_open_orders(ETH_PERP, params={"method": "openOrders"})
    assert [(o["clientOrderId"], o["side"], _d(o["price"])) for o in plain] == [
        (cloid, "sell", Decimal("3100"))
    ]
    assert emu.request_log[-1].route == "POST /info:openOrders"

    fee = client.fetch_trading_fee(ETH_PERP)
    assert (_d(fee["taker"]), _d(fee["maker"])) == (PERP_TAKER, PERP_MAKER)

    trades = client.fetch_my_trades(ETH_PERP, since=0)
    assert emu.request_log[-1].route == "POST /info:userFillsByTime"
    assert [_d(t["amount"]) for t in trades] == [Decimal("0.5")]


def test_price_band_and_raw_protocol_errors(emu: HyperliquidEmulator, client: ccxt.hyperliquid) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="80% away from the reference price"):
        client.create_order(ETH_PERP, "limit", "buy", 0.1, 500)

    def post(path: str, obj: object) -> tuple[int, bytes]:
        req = urllib.request.Request(
            emu.base_url + path, data=json.dumps(obj).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    assert post("/info", {"type": "noSuchType"}) == (
        422,
        b"Failed to deserialize the JSON body into the target type",
    )

    def signed_order(px: str, sz: str) -> dict[str, object]:
        action = {
            "type": "order",
            "orders": [{"a": 1, "b": True, "p": px, "s": sz, "r": False, "t": {"limit": {"tif": "Gtc"}}}],
            "grouping": "na",
        }
        nonce = client.incrementing_nonce()
        return {"action": action, "nonce": nonce, "signature": client.sign_l1_action(action, nonce)}

    # ETH has szDecimals 4: prices take at most 5 significant figures and 6 - 4 = 2 decimals
    for px, sz, message in [
        ("2900.55", "0.1", "Price must be divisible by tick size. asset=1"),
        ("290.123", "0.1", "Price must be divisible by tick size. asset=1"),
        ("2900", "0.00001", "Order has invalid size. asset=1"),
        ("2900", "0", "Order has zero size. asset=1"),
    ]:
        status, body = post("/exchange", signed_order(px, sz))
        assert status == 200
        assert json.loads(body) == {
            "status": "ok",
            "response": {"type": "order", "data": {"statuses": [{"error": message}]}},
        }
    status, body = post("/exchange", signed_order("2900.5", "0.1"))  # 5 significant figures, 1 decimal: valid
    assert json.loads(body)["response"]["data"]["statuses"][0]["resting"]["oid"] > 0

    bad = signed_order("2900", "0.1")
    bad["signature"] = {"r": "0x00", "s": "0x00", "v": 27}
    assert json.loads(post("/exchange", bad)[1]) == {"status": "err", "response": "Unable to recover signer."}
    tampered = signed_order("2900", "0.1")
    tampered["action"]["orders"][0]["p"] = "2800"  # type: ignore[index]
    err = json.loads(post("/exchange", tampered)[1])
    assert err["status"] == "err" and err["response"].startswith("User or API Wallet 0x")
