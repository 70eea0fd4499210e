"""Hyperliquid live mode through the MANAGER: the real ccxt client against the signer-recovering emulator.

Expected deltas are closed forms from the emulator's marks and Hyperliquid's base-tier fees (perp taker
0.045 %, maker 0.015 % in USDC; spot taker 0.07 % in the received token); order counts are read from the
emulator's book (``orders_for_cloid``), so "exactly one order per client id" is checked independently.

No test depends on timing: the client's timeout (30 s) and the landing window (2 s, the plugin's default) are
generous, so an ordinary request never times out or expires on a loaded machine (either would add a request to
what the tests count); a timeout path times out one chosen request (``times_out``) that the emulator holds until
an event orders its landing.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from basis_venue_hyperliquid.client import cloid_from_client_id
from basis_venue_hyperliquid.live import hyperliquid_cloid
from basis_venue_hyperliquid.testing import HyperliquidEmulator
from eth_account import Account

from basis_core import ExecutionInterfaceManager
from basis_core.errors import (
    AuthenticationError,
    ConfigError,
    InstructionError,
    InsufficientFundsError,
    MarginError,
    RetryableError,
)
from basis_core.testing.client_timeout import time_out_next
from basis_core.testing.http_emulator import Fault
from basis_core.testing.orders import trade

D = Decimal
TS = "2025-06-01T00:00:00Z"
PERP, SPOT = "ETH/USDC:USDC", "ETH/USDC"
PERP_TAKER, PERP_MAKER, SPOT_TAKER = D("0.00045"), D("0.00015"), D("0.0007")
MASTER_KEY = "0x" + hashlib.sha256(b"basis-live-hl-master").hexdigest()
AGENT_KEY = "0x" + hashlib.sha256(b"basis-live-hl-agent").hexdigest()
MASTER = Account.from_key(MASTER_KEY).address
AGENT = Account.from_key(AGENT_KEY).address


class Crash(BaseException):
    """The process dies right after the request went out."""


@pytest.fixture
def emu() -> Iterator[HyperliquidEmulator]:
    with HyperliquidEmulator(MASTER, agents=[AGENT], perp_usdc=D(10_000), spot_balances={"USDC": D(5000)},
                             marks={"ETH": "3000", "BTC": "100000"}) as e:
        yield e


def config(emu: HyperliquidEmulator, journal: Path | None, key: str = MASTER_KEY, **venue: Any) -> dict[str, Any]:
    v = {"private_key": key, "wallet_address": MASTER, "base_url": emu.base_url, "enable_rate_limit": False,
         "timeout_ms": 30_000, "landing_window_ms": 2000, "clock_margin_ms": 100, **venue}
    return {"venues": ["hyperliquid"], "retry_delay_seconds": 0, "journal_path": str(journal) if journal else None,
            "venue_config": {"hyperliquid": v}}


@pytest.fixture
def make(emu: HyperliquidEmulator, tmp_path: Path) -> Callable[..., ExecutionInterfaceManager]:
    def _make(**venue: Any) -> ExecutionInterfaceManager:
        return ExecutionInterfaceManager(config=config(emu, tmp_path / "journal.sqlite", **venue),
                                         execution_mode="live")
    return _make


@pytest.fixture
def m(make: Callable[..., ExecutionInterfaceManager]) -> ExecutionInterfaceManager:
    return make()


def perp(side: str, amount: str, cid: str, **kw: Any) -> dict[str, Any]:
    return trade("hyperliquid", "perp_trade", PERP, side, amount, client_id=cid, **kw)


def spot(side: str, amount: str, cid: str, **kw: Any) -> dict[str, Any]:
    return trade("hyperliquid", "spot_trade", SPOT, side, amount, client_id=cid, **kw)


def times_out(m: ExecutionInterfaceManager, action: str) -> None:
    """The next ``/exchange`` request of ``action`` type times out at the client (0.1 s): the emulator must hold it
    (``Fault("delay", until=...)``), so the timeout is certain."""
    time_out_next(m.venue("hyperliquid").backend.client,
                  lambda method, url, body: url.endswith("/exchange") and f'"type":"{action}"' in body)


def accepted(emu: HyperliquidEmulator, cid: str) -> list[dict[str, Any]]:
    """Orders the venue accepted under the client id's cloid (rejected attempts excluded)."""
    return [o for o in emu.orders_for_cloid(hyperliquid_cloid(cid)) if not o["status"].endswith("Rejected")]


# ------------------------------------------------------------------------------------------------ round trips
def test_perp_market_open_flip_and_deltas(m: ExecutionInterfaceManager, emu: HyperliquidEmulator) -> None:
    d = m.execute(TS, perp("buy", "0.5", "h-open"))
    fee = D("0.5") * 3000 * PERP_TAKER
    assert d.status == "filled" and d.fill_price == 3000 and d.fill_amount == D("0.5")
    assert d.positions == {"hyperliquid:perp:ETH/USDC:USDC": D("0.5"), "hyperliquid:perp-margin:USDC": -fee}
    assert emu.position("ETH") == (D("0.5"), D(3000)) and emu.perp_usdc() == D(10_000) - fee
    (o,) = accepted(emu, "h-open")
    assert d.order_id == str(o["oid"]) and o["cloid"] == cloid_from_client_id("h-open")
    emu.set_mark("ETH", "3100")
    flip = m.execute(TS, perp("sell", "1", "h-flip"))
    fee2, realised = D(1) * 3100 * PERP_TAKER, D("0.5") * 100
    assert flip.positions == {"hyperliquid:perp:ETH/USDC:USDC": D(-1),
                              "hyperliquid:perp-margin:USDC": realised - fee2}
    bal = m.get_balances(TS, "hyperliquid")
    assert bal["hyperliquid:perp:ETH/USDC:USDC"] == D("-0.5")
    assert bal["hyperliquid:perp-margin:USDC"] == emu.perp_usdc() == D(10_000) - fee + realised - fee2


def test_spot_market_buy_fee_in_received_token(m: ExecutionInterfaceManager, emu: HyperliquidEmulator) -> None:
    d = m.execute(TS, spot("buy", "0.5", "h-spot"))
    fee = D("0.5") * SPOT_TAKER
    assert d.positions == {"hyperliquid:spot:ETH": D("0.5") - fee, "hyperliquid:spot:USDC": D(-1500)}
    assert d.fees == {"hyperliquid:spot:ETH": -fee} and d.details["fee_asset"] == "ETH"
    assert emu.spot_balance("ETH") == D("0.5") - fee
    bal = m.get_balances(TS, "hyperliquid")
    assert bal["hyperliquid:spot:ETH"] == D("0.5") - fee and bal["hyperliquid:spot:USDC"] == D(3500)


def test_limit_rests_modify_then_maker_fill_and_cancel(m: ExecutionInterfaceManager, emu: HyperliquidEmulator) -> None:
    r = m.execute(TS, perp("buy", "0.1", "h-lim", order_type="limit", price="2900", post_only=True))
    assert r.status == "open" and r.positions == {}
    mod = m.execute(TS, {"venue": "hyperliquid", "operation": "modify_order", "order_id": "h-lim", "price": "2950",
                         "amount": "0.2"})
    assert mod.status == "modified" and mod.order_id != r.order_id  # Hyperliquid gives it a new oid
    live = [o for o in accepted(emu, "h-lim") if o["status"] == "open"]
    assert [(o["limitPx"], o["origSz"], o["tif"]) for o in live] == [("2950.0", "0.2", "Alo")]
    emu.set_mark("ETH", "2940")  # crosses: maker fill at 2950
    assert m.get_balances(TS, "hyperliquid")["hyperliquid:perp:ETH/USDC:USDC"] == D("0.2")
    assert emu.perp_usdc() == D(10_000) - D("0.2") * 2950 * PERP_MAKER
    (fill,) = m.advance_to(TS)  # the modified order's maker fill, reported once, as the venue made it
    assert (fill.operation, fill.status, fill.order_id, fill.fill_amount, fill.fill_price) == (
        "perp_trade", "filled", mod.order_id, D("0.2"), D(2950))
    assert fill.positions == {"hyperliquid:perp:ETH/USDC:USDC": D("0.2"),
                              "hyperliquid:perp-margin:USDC": -D("0.2") * 2950 * PERP_MAKER}
    assert m.advance_to(TS) == [] and m.execution_history[-1].status == "filled"
    assert m.venue("hyperliquid").current_orders.snapshot() == {}
    rest = m.execute(TS, perp("sell", "0.1", "h-lim2", order_type="limit", price="3500"))
    (o,) = m.venue("hyperliquid").current_orders.snapshot().values()  # asks the venue
    assert (o.order_id, o.side, o.amount, o.price, o.status) == (rest.order_id, "sell", D("0.1"), D(3500), "open")
    c = m.execute(TS, {"venue": "hyperliquid", "operation": "cancel_order", "order_id": "h-lim2"})
    assert c.status == "cancelled"
    assert [o["status"] for o in accepted(emu, "h-lim2")] == ["canceled"]


def test_funding_the_venue_books_comes_back_from_advance_to(m: ExecutionInterfaceManager,
                                                             emu: HyperliquidEmulator) -> None:
    m.execute(TS, perp("buy", "0.2", "hf-long"))
    before = emu.perp_usdc()
    emu.apply_funding("ETH", "0.0001")  # the long pays 0.2 x 3000 x 0.0001
    assert emu.perp_usdc() == before - D("0.06")
    (f,) = m.advance_to(TS)
    assert (f.operation, f.positions, f.pnl) == (
        "funding", {"hyperliquid:perp-margin:USDC": -D("0.06")}, {"funding": -D("0.06")})
    assert f.details["payments"]["ETH/USDC:USDC"]["rate"] == D("0.0001")
    assert m.advance_to(TS) == []


def test_ioc_that_cannot_match_is_cancelled_and_fok_is_refused(m: ExecutionInterfaceManager,
                                                               emu: HyperliquidEmulator) -> None:
    d = m.execute(TS, perp("buy", "0.1", "h-ioc", order_type="limit", price="2900", time_in_force="IOC"))
    assert d.status == "cancelled" and d.positions == {} and accepted(emu, "h-ioc") == []
    with pytest.raises(InstructionError) as ei:
        m.execute(TS, perp("buy", "0.1", "h-fok", order_type="limit", price="3100", time_in_force="FOK"))
    assert ei.value.field == "time_in_force" and emu.orders_for_cloid(hyperliquid_cloid("h-fok")) == []


def test_reduce_only_is_clamped_to_the_position(m: ExecutionInterfaceManager, emu: HyperliquidEmulator) -> None:
    m.execute(TS, perp("buy", "0.3", "h-ro-open"))
    d = m.execute(TS, perp("sell", "0.5", "h-ro", reduce_only=True))
    assert d.status == "filled" and d.fill_amount == D("0.3") and emu.positions == {}
    assert d.positions["hyperliquid:perp:ETH/USDC:USDC"] == D("-0.3")
    with pytest.raises(InstructionError) as ei:
        m.execute(TS, perp("sell", "0.1", "h-ro2", reduce_only=True))
    assert ei.value.field == "reduce_only" and accepted(emu, "h-ro2") == []


def test_transfers_and_rejections(m: ExecutionInterfaceManager, emu: HyperliquidEmulator) -> None:
    t = m.execute(TS, {"venue": "hyperliquid", "operation": "transfer", "asset": "USDC", "amount": "100",
                       "from_account": "spot", "to_account": "perp"})
    assert t.positions == {"hyperliquid:spot:USDC": D(-100), "hyperliquid:perp-margin:USDC": D(100)}
    assert emu.spot_balance("USDC") == D(4900) and emu.perp_usdc() == D(10_100)
    with pytest.raises(InsufficientFundsError) as ei:
        m.execute(TS, {"venue": "hyperliquid", "operation": "transfer", "asset": "USDC", "amount": "99999",
                       "from_account": "spot", "to_account": "perp"})
    assert ei.value.key == "hyperliquid:spot:USDC"
    with pytest.raises(MarginError):
        m.execute(TS, perp("buy", "80", "h-big"))  # 240,000 notional at 20x needs 12,000 USDC
    with pytest.raises(InsufficientFundsError):
        m.execute(TS, spot("sell", "1", "h-nospot"))
    with pytest.raises(InstructionError) as e2:  # post-only that would take
        m.execute(TS, perp("buy", "0.1", "h-po", order_type="limit", price="3010", post_only=True))
    assert e2.value.field == "post_only"
    assert emu.positions == {}


def test_transfer_whose_answer_was_lost_is_found_in_the_ledger_and_adopted(m: ExecutionInterfaceManager,
                                                                            emu: HyperliquidEmulator) -> None:
    emu.faults.inject("POST /exchange:usdClassTransfer", Fault("drop_after_accept"))
    t = m.execute(TS, {"venue": "hyperliquid", "operation": "transfer", "asset": "USDC", "amount": "100",
                       "from_account": "spot", "to_account": "perp", "client_id": "ht-1"})
    (booked,) = emu.account().ledger
    assert t.order_id == booked["hash"] and t.details["adopted"] is True
    assert emu.spot_balance("USDC") == D(4900) and emu.perp_usdc() == D(10_100)  # moved once
    assert t.positions == {"hyperliquid:spot:USDC": D(-100), "hyperliquid:perp-margin:USDC": D(100)}


def test_orders_carry_no_builder_and_no_builder_approval(m: ExecutionInterfaceManager,
                                                         emu: HyperliquidEmulator) -> None:
    m.execute(TS, perp("buy", "0.1", "b-1"))
    m.execute(TS, spot("buy", "0.01", "b-2"))
    m.execute(TS, perp("buy", "0.1", "b-3", order_type="limit", price="2900"))
    assert emu.builder_fields() == []
    kinds = {r.type for r in emu.exchange_log}
    assert "approveBuilderFee" not in kinds and "setReferrer" not in kinds and "order" in kinds
    assert all("builder" not in r.action for r in emu.exchange_log)


def test_client_id_that_is_a_cloid_is_sent_as_is(m: ExecutionInterfaceManager, emu: HyperliquidEmulator) -> None:
    cloid = "0x" + "AB" * 16
    d = m.execute(TS, perp("buy", "0.1", cloid))
    assert d.details["venue_client_id"] == cloid.lower() and len(emu.orders_for_cloid(cloid)) == 1


def test_startup_makes_only_the_calls_it_needs(make: Callable[..., ExecutionInterfaceManager],
                                               emu: HyperliquidEmulator) -> None:
    m = make(rate_limit_ms=1)
    m.get_balances(TS, "hyperliquid")
    assert [r.route for r in emu.request_log] == [
        "POST /info:spotMeta", "POST /info:spotMetaAndAssetCtxs", "POST /info:metaAndAssetCtxs",
        "POST /info:clearinghouseState", "POST /info:spotClearinghouseState"]  # nothing sent to /exchange
    assert m.venue("hyperliquid").backend.client.rateLimit == 1


# ------------------------------------------------------------------------------------------------ credentials
def test_agent_key_trades_wrong_key_is_an_authentication_error(emu: HyperliquidEmulator, tmp_path: Path) -> None:
    agent = ExecutionInterfaceManager(config=config(emu, tmp_path / "a.sqlite", key=AGENT_KEY), execution_mode="live")
    assert agent.execute(TS, perp("buy", "0.1", "ag-1")).status == "filled"
    wrong_key = "0x" + hashlib.sha256(b"not-registered").hexdigest()
    bad = ExecutionInterfaceManager(config=config(emu, tmp_path / "b.sqlite", key=wrong_key), execution_mode="live")
    with pytest.raises(AuthenticationError) as ei:
        bad.execute(TS, perp("buy", "0.1", "bad-1"))
    assert emu.orders_for_cloid(hyperliquid_cloid("bad-1")) == []
    assert wrong_key not in str(ei.value) and wrong_key[2:] not in str(ei.value)


def test_missing_or_malformed_key_is_a_config_error(emu: HyperliquidEmulator) -> None:
    cfg = config(emu, None)
    del cfg["venue_config"]["hyperliquid"]["private_key"]
    with pytest.raises(ConfigError, match="private_key"):
        ExecutionInterfaceManager(config=cfg, execution_mode="live")
    with pytest.raises(ConfigError, match="64 hex") as ei:
        ExecutionInterfaceManager(config=config(emu, None, key="0xnot-a-key-but-a-secret-value"), execution_mode="live")
    assert "not-a-key-but-a-secret-value" not in str(ei.value)


# ------------------------------------------------------------------------------------------------ faults
def test_dropped_answer_is_adopted_not_resent(m: ExecutionInterfaceManager, emu: HyperliquidEmulator) -> None:
    emu.faults.inject("POST /exchange:order", Fault("drop_after_accept"))
    d = m.execute(TS, perp("buy", "0.2", "hd-1"))
    (o,) = accepted(emu, "hd-1")
    assert d.details["adopted"] is True and d.order_id == str(o["oid"])
    assert d.positions == {"hyperliquid:perp:ETH/USDC:USDC": D("0.2"),
                           "hyperliquid:perp-margin:USDC": -D("0.2") * 3000 * PERP_TAKER}
    assert [r.type for r in emu.exchange_log].count("order") == 1


def test_timeout_then_landing_within_the_window_is_adopted_not_resent(m: ExecutionInterfaceManager,
                                                                       emu: HyperliquidEmulator) -> None:
    """The order request times out; the first lookup misses it; then it lands (before its expiresAfter: the
    window is 2 s); the lookup once the window has passed finds it and adopts it. The order of the three is
    forced by events: lookup 1 handled -> the original taken -> lookup 2 answered. (Landing after the window:
    test_a_request_delayed_past_expires_after_is_refused_and_resent_once.)"""
    first_lookup, landed = threading.Event(), threading.Event()
    emu.faults.inject("POST /exchange:order", Fault("delay", until=first_lookup, handled=landed))
    emu.faults.inject("POST /info:orderStatus", Fault("delay", handled=first_lookup))
    emu.faults.inject("POST /info:orderStatus", Fault("delay", until=landed))
    times_out(m, "order")
    d = m.execute(TS, perp("buy", "0.1", "hl-late"))
    (o,) = accepted(emu, "hl-late")
    assert d.status == "filled" and d.details["adopted"] is True and d.order_id == str(o["oid"])
    assert len(_order_requests(emu)) == 1 and emu.position("ETH")[0] == D("0.1")
    assert [r.route for r in emu.request_log].count("POST /info:orderStatus") >= 2


@pytest.mark.parametrize("fault", [
    Fault("http_5xx", status=502), Fault("http_429"), Fault("http_418"),
    Fault("venue_error", status=200, payload={"status": "err", "response": "Invalid nonce: duplicate nonce 1"}),
    Fault("clock_skew", skew_ms=3 * 86_400_000),
], ids=["502", "429", "418", "invalid-nonce", "clock-skew"])
def test_refused_or_unknown_is_sent_exactly_once(m: ExecutionInterfaceManager, emu: HyperliquidEmulator,
                                                 fault: Fault) -> None:
    emu.faults.inject("POST /exchange:order", fault)
    d = m.execute(TS, perp("sell", "0.1", "hf-1"))
    assert d.status == "filled" and len(accepted(emu, "hf-1")) == 1 and emu.position("ETH")[0] == D("-0.1")


def test_persistent_outage_gives_up_with_nothing_placed(m: ExecutionInterfaceManager,
                                                        emu: HyperliquidEmulator) -> None:
    emu.faults.inject("POST /exchange:order", Fault("http_5xx", status=503, times=3))
    with pytest.raises(RetryableError):
        m.execute(TS, perp("buy", "0.1", "hx-1"))
    assert emu.orders_for_cloid(hyperliquid_cloid("hx-1")) == [] and emu.positions == {}


def test_kill_after_send_then_restart_adopts_and_sends_nothing(make: Callable[..., ExecutionInterfaceManager],
                                                               emu: HyperliquidEmulator) -> None:
    m1 = make()
    m1.get_balances(TS, "hyperliquid")
    client = m1.venue("hyperliquid").backend.client
    real = client.fetch

    def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        out = real(url, method, headers, body)
        if url.endswith("/exchange") and '"type":"order"' in (body or ""):
            raise Crash()
        return out

    client.fetch = fetch
    with pytest.raises(Crash):
        m1.execute(TS, perp("buy", "0.3", "hk-1"))
    assert len(accepted(emu, "hk-1")) == 1
    n_exchange = len(emu.exchange_log)
    m2 = make()
    m2.get_balances(TS, "hyperliquid")
    (adopted,) = m2.venue("hyperliquid").backend.reconciled
    assert adopted.positions == {"hyperliquid:perp:ETH/USDC:USDC": D("0.3"),
                                 "hyperliquid:perp-margin:USDC": -D("0.3") * 3000 * PERP_TAKER}
    again = m2.execute(TS, perp("buy", "0.3", "hk-1"))
    assert again.order_id == adopted.order_id and len(emu.exchange_log) == n_exchange
    assert len(accepted(emu, "hk-1")) == 1 and emu.position("ETH")[0] == D("0.3")


def test_private_key_never_in_logs_reprs_errors_history_or_journal(
        make: Callable[..., ExecutionInterfaceManager], emu: HyperliquidEmulator, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    m = make()
    m.execute(TS, perp("buy", "0.1", "sk-1"))
    emu.faults.inject("POST /exchange:order", Fault("drop_after_accept"))
    m.execute(TS, perp("buy", "0.1", "sk-2"))
    errs = []
    with pytest.raises(InstructionError) as e1:
        m.execute(TS, perp("buy", "0.5", "sk-3", reduce_only=True))  # long already: would increase
    errs.append(e1.value)
    wrong = "0x" + hashlib.sha256(b"wrong-key-for-secret-test").hexdigest()
    bad = ExecutionInterfaceManager(config=config(emu, tmp_path / "w.sqlite", key=wrong), execution_mode="live")
    with pytest.raises(AuthenticationError) as e2:
        bad.execute(TS, perp("buy", "0.1", "sk-4"))
    errs.append(e2.value)
    backend = m.venue("hyperliquid").backend
    texts = [caplog.text, repr(m), repr(m.settings), repr(m.venue("hyperliquid")), repr(backend.client),
             str(m.settings.model_dump()), *(str(e) for e in errs), *(repr(e) for e in errs),
             *(str(h.to_dict()) for h in [*m.execution_history, *bad.execution_history]),
             (tmp_path / "journal.sqlite").read_bytes().decode("latin-1"), backend.journal.dump_text()]
    for key in (MASTER_KEY, wrong):
        for t in texts:
            assert key[2:].lower() not in t.lower()


# ------------------------------------------------------------------------------------------------ fault matrix
#: (fault, whether the venue executed the request before the client saw the failure)
_MATRIX_FAULTS = {
    "5xx-after-place": (Fault("http_5xx_after_place", status=502), True),
    "reset-after-place": (Fault("reset_after_place"), True),
    "reset-before-place": (Fault("reset_before_place"), False),
}  # an answer dropped after placing: test_dropped_answer_*
#: (instruction, accepted order status at the venue after one execution)
_MATRIX_ORDERS = {
    "perp-market": (perp("sell", "0.1", ""), "filled"),
    "perp-limit": (perp("buy", "0.1", "", order_type="limit", price="2900"), "open"),
    "spot-market": (spot("buy", "0.5", ""), "filled"),
    "spot-limit": (spot("buy", "0.1", "", order_type="limit", price="2900"), "open"),
}


def _order_requests(emu: HyperliquidEmulator) -> list[Any]:
    return [r for r in emu.request_log if r.route == "POST /exchange:order"]


@pytest.mark.parametrize("fault_id", list(_MATRIX_FAULTS))
@pytest.mark.parametrize("order_id", list(_MATRIX_ORDERS))
def test_fault_matrix_every_order_kind_executes_exactly_once(m: ExecutionInterfaceManager,
                                                             emu: HyperliquidEmulator, fault_id: str,
                                                             order_id: str) -> None:
    """Exactly one order per client id, counted on the venue, and its effect once; the venue is told to
    accept reused cloids, so nothing rests on that (unconfirmed) refusal."""
    emu.unique_cloids = False
    fault, placed = _MATRIX_FAULTS[fault_id]
    ins, status = _MATRIX_ORDERS[order_id]
    cid = f"hmx-{order_id}-{fault_id}"
    emu.faults.inject("POST /exchange:order", Fault(fault.kind, status=fault.status))
    d = m.execute(TS, {**ins, "client_id": cid})
    (o,) = accepted(emu, cid)
    assert o["status"] == status and d.order_id == str(o["oid"]) and d.details["adopted"] is placed
    assert len(_order_requests(emu)) == (1 if placed else 2) and _order_requests(emu)[0].fault == fault.kind
    if order_id == "perp-market":
        assert emu.position("ETH")[0] == D("-0.1")
    elif order_id == "spot-market":
        assert emu.spot_balance("ETH") == D("0.5") - D("0.5") * SPOT_TAKER and emu.spot_balance("USDC") == D(3500)
    else:
        assert d.status == "open" and emu.positions == {} and emu.spot_balance("USDC") == D(5000)


@pytest.mark.parametrize("fault_id", list(_MATRIX_FAULTS))
def test_fault_matrix_transfers_execute_exactly_once(m: ExecutionInterfaceManager, emu: HyperliquidEmulator,
                                                     fault_id: str) -> None:
    fault, placed = _MATRIX_FAULTS[fault_id]
    emu.faults.inject("POST /exchange:usdClassTransfer", Fault(fault.kind, status=fault.status))
    t = m.execute(TS, {"venue": "hyperliquid", "operation": "transfer", "asset": "USDC", "amount": "100",
                       "from_account": "spot", "to_account": "perp", "client_id": f"hmx-tr-{fault_id}"})
    (booked,) = emu.account().ledger
    assert t.details["adopted"] is placed  # the venue's answer to a transfer carries no id; the ledger's has one
    assert t.order_id == (booked["hash"] if placed else None)
    assert emu.spot_balance("USDC") == D(4900) and emu.perp_usdc() == D(10_100)
    assert len([r for r in emu.request_log if r.route == "POST /exchange:usdClassTransfer"]) == (1 if placed else 2)


@pytest.mark.parametrize("order_id", ["perp-market", "spot-limit"])
def test_a_request_delayed_past_expires_after_is_refused_and_resent_once(m: ExecutionInterfaceManager,
                                                                         emu: HyperliquidEmulator,
                                                                         order_id: str) -> None:
    """The first request times out and is held by the venue until the re-send has been handled, so it arrives
    after its expiresAfter (signing + 2 s): the venue refuses it. The plugin found nothing by cloid after
    expiresAfter + margin, re-sent once, and the venue holds one order, though it would accept a reused cloid."""
    emu.unique_cloids = False
    ins, status = _MATRIX_ORDERS[order_id]
    cid = f"hexp-{order_id}"
    resend_handled, late_answered = threading.Event(), threading.Event()
    emu.faults.inject("POST /exchange:order", Fault("delay", until=resend_handled, handled=late_answered))
    emu.faults.inject("POST /exchange:order", Fault("delay", handled=resend_handled))
    times_out(m, "order")
    d = m.execute(TS, {**ins, "client_id": cid})
    assert d.details["adopted"] is False and d.status == ("filled" if status == "filled" else "open")
    assert late_answered.wait(60)  # the held original, released by the re-send, has been answered
    late, resent = sorted((r for r in emu.exchange_log if r.type == "order"), key=lambda r: r.nonce or 0)
    assert late.response == {"status": "err", "response": late.response["response"]}
    assert late.response["response"].startswith("Action expired")
    assert resent.response["status"] == "ok"
    (o,) = accepted(emu, cid)
    assert o["status"] == status and d.order_id == str(o["oid"])
    assert len(_order_requests(emu)) == 2


def _usd_transfer(cid: str) -> dict[str, Any]:
    return {"venue": "hyperliquid", "operation": "transfer", "asset": "USDC", "amount": "100", "from_account": "spot",
            "to_account": "perp", "client_id": cid}


def test_a_transfer_delayed_past_the_landing_window_is_resent_with_its_nonce_and_lands_once(
        m: ExecutionInterfaceManager, emu: HyperliquidEmulator) -> None:
    """Transfers are user-signed (no expiresAfter): the re-send reuses the first request's nonce, so when the
    late original arrives the venue refuses it as a duplicate nonce. The original times out and is held until the
    re-send has been handled (an event, not a sleep: on a loaded machine a 1.2 s delay let the original land
    first)."""
    resend_handled, late_answered = threading.Event(), threading.Event()
    emu.faults.inject("POST /exchange:usdClassTransfer", Fault("delay", until=resend_handled, handled=late_answered))
    emu.faults.inject("POST /exchange:usdClassTransfer", Fault("delay", handled=resend_handled))
    times_out(m, "usdClassTransfer")
    t = m.execute(TS, _usd_transfer("ht-late"))
    assert t.details["adopted"] is False
    assert late_answered.wait(60)  # the held original, released by the re-send, has been answered
    resent, late = [r for r in emu.exchange_log if r.type == "usdClassTransfer"]
    assert resent.nonce == late.nonce and resent.response["status"] == "ok"
    assert late.response == {"status": "err", "response": f"Invalid nonce: duplicate nonce {late.nonce}"}
    assert len(emu.account().ledger) == 1 and emu.spot_balance("USDC") == D(4900) and emu.perp_usdc() == D(10_100)


def test_a_resent_transfer_refused_for_its_nonce_is_found_and_adopted(m: ExecutionInterfaceManager,
                                                                      emu: HyperliquidEmulator) -> None:
    """The answer is lost and two ledger reads miss the transfer (stale): the re-send with the same nonce is
    refused ("duplicate nonce": the first one landed), which sends the plugin back to the ledger: adopted."""
    emu.faults.inject("POST /exchange:usdClassTransfer", Fault("drop_after_accept"))
    emu.faults.inject("POST /info:userNonFundingLedgerUpdates", Fault("venue_error", status=200, payload={}, times=2))
    t = m.execute(TS, _usd_transfer("ht-stale"))
    (booked,) = emu.account().ledger
    assert t.details["adopted"] is True and t.order_id == booked["hash"]
    first, resent = [r for r in emu.exchange_log if r.type == "usdClassTransfer"]
    assert first.nonce == resent.nonce and resent.response["response"].startswith("Invalid nonce: duplicate nonce")
    assert emu.spot_balance("USDC") == D(4900) and emu.perp_usdc() == D(10_100)


# ------------------------------------------------------------------------------------- the market-buy hold
def test_a_spot_market_buy_needs_mark_x_1_05_free_live_and_simulated_alike(m: ExecutionInterfaceManager,
                                                                           emu: HyperliquidEmulator) -> None:
    """ccxt sends a market buy as an IOC limit 5 % above the mark and the venue holds amount x limit of USDC: with
    5000 USDC at a mark of 3000, 1.6 ETH (4800 at the mark, 5040 held) is refused and 1.58 (4977 held) is not,
    by the emulator and by the backtest's simulator alike (the same typed error, naming the amount)."""
    from basis_venue_hyperliquid.venue import HyperliquidVenue

    from basis_core.backtest.cex.testing import candles, market

    sim = ExecutionInterfaceManager(
        {"initial_balances": {"hyperliquid:spot:USDC": "5000"}},
        market(candles("spot:ETH/USDC", TS, ["3000"] * 3)), "backtest", autoload=False, plugins=[HyperliquidVenue])
    assert sim.venue("hyperliquid").venue_info().rules[SPOT].market_buy_hold == D("0.05")  # what strategies size by
    with pytest.raises(InsufficientFundsError) as live_err:
        m.execute(TS, spot("buy", "1.6", "h-hold-live"))
    with pytest.raises(InsufficientFundsError) as sim_err:
        sim.execute(TS, spot("buy", "1.6", "h-hold-sim"))
    assert live_err.value.field == sim_err.value.field == "amount"
    assert sim_err.value.required == D("1.6") * 3000 * D("1.05") and "market_slippage" in str(sim_err.value)
    assert emu.spot_balance("USDC") == D(5000) and sim.ledger.balances == {"hyperliquid:spot:USDC": D(5000)}
    for mgr, tag in ((m, "live"), (sim, "sim")):  # a marketable limit buy holds amount x limit: 1.58 x 3200 > 5000
        with pytest.raises(InsufficientFundsError):
            mgr.execute(TS, spot("buy", "1.58", f"h-limit-{tag}", order_type="limit", price="3200"))
    assert emu.spot_balance("USDC") == D(5000) and sim.ledger.balances == {"hyperliquid:spot:USDC": D(5000)}
    assert m.execute(TS, spot("buy", "1.58", "h-hold-live-2")).status == "filled"
    assert sim.execute(TS, spot("buy", "1.58", "h-hold-sim-2")).status == "filled"
