"""Paired execution live: the real ccxt clients against the Binance and Hyperliquid emulators (signature-checking,
with fault injection), one manager holding both venues and one journal.

Order counts are read from the emulators' own books (one order per client id, independently of the code under
test); positions from the emulators' balances. Every failure point ends hedged or flat; a crash mid-saga (a child
process killed with SIGKILL) resumes from the journal without a duplicate leg.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from basis_venue_binance.testing.emulator import BinanceEmulator
from basis_venue_hyperliquid.live import hyperliquid_cloid
from basis_venue_hyperliquid.testing import HyperliquidEmulator
from eth_account import Account

from basis_core import ExecutionInterfaceManager
from basis_core.errors import InsufficientFundsError
from basis_core.testing.crash import kill_at_crash_point
from basis_core.testing.http_emulator import Fault

D = Decimal
TS = "2025-06-01T00:00:00Z"
API_KEY = "paired-test-key-6b1f0c3e9d2a4b7c8e5f"
API_SECRET = "paired-test-SECRET-9f8e7d6c5b4a3928"
HL_KEY = "0x" + hashlib.sha256(b"basis-paired-hl-master").hexdigest()
HL_ADDR = Account.from_key(HL_KEY).address
SPOT_FEE = D("0.001")


@pytest.fixture
def bn() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(API_KEY, API_SECRET, spot_balances={"USDT": D(100_000)},
                         futures_balances={"USDT": D(0)}, prices={"ETHUSDT": D(3000)}) as e:
        yield e


def hl_emulator(usdc: str = "10000") -> HyperliquidEmulator:
    return HyperliquidEmulator(HL_ADDR, perp_usdc=D(usdc), marks={"ETH": "3000"})


@pytest.fixture
def hl() -> Iterator[HyperliquidEmulator]:
    with hl_emulator() as e:
        yield e


def config(bn: BinanceEmulator, hl: HyperliquidEmulator, journal: Path) -> dict[str, Any]:
    return {"venues": ["binance", "hyperliquid"], "retry_delay_seconds": 0, "journal_path": str(journal),
            "venue_config": {
                "binance": bn.venue_config(),
                "hyperliquid": {"private_key": HL_KEY, "wallet_address": HL_ADDR, "base_url": hl.base_url,
                                "enable_rate_limit": False, "timeout_ms": 30_000, "landing_window_ms": 2000,
                                "clock_margin_ms": 100}}}


def paired(cid: str, amount: str = "2", seconds: str = "30", budget: str = "10000", **over: Any) -> dict[str, Any]:
    return {"operation": "paired", "client_id": cid,
            "legs": [{"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy",
                      "amount": amount},
                     {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC", "side": "sell",
                      "amount": amount}],
            "budget": {"max_unhedged_notional": budget, "max_unhedged_seconds": seconds}, **over}


def eth_held(bn: BinanceEmulator) -> Decimal:
    return sum(bn.spot_balance("ETH"), D(0))


def binance_orders(bn: BinanceEmulator, cid: str) -> int:
    return len(bn.orders_for_client_id(cid))


def hl_orders(hl: HyperliquidEmulator, cid: str) -> int:
    return len([o for o in hl.orders_for_cloid(hyperliquid_cloid(cid)) if not o["status"].endswith("Rejected")])


def test_both_legs_fill_live_in_two_slices(bn: BinanceEmulator, hl: HyperliquidEmulator, tmp_path: Path) -> None:
    m = ExecutionInterfaceManager(config=config(bn, hl, tmp_path / "j.sqlite"), execution_mode="live")
    d = m.execute(TS, paired("live-ok", amount="3", budget="5000"))
    assert d.status == "filled" and d.details["slices"] == 2
    net = D(3) * (1 - SPOT_FEE)
    assert eth_held(bn) == net and hl.position("ETH")[0] == -net
    for cid in ("live-ok.0.0", "live-ok.1.0"):
        assert binance_orders(bn, cid) == 1
    for cid in ("live-ok.0.1", "live-ok.1.1"):
        assert hl_orders(hl, cid) == 1


def test_a_rejected_hedge_unwinds_the_lead_at_the_venue(bn: BinanceEmulator, tmp_path: Path) -> None:
    hl = hl_emulator("50")  # 50 USDC cannot margin a 6,000 USD short at 20x
    hl.start()
    try:
        m = ExecutionInterfaceManager(config=config(bn, hl, tmp_path / "j.sqlite"), execution_mode="live")
        d = m.execute(TS, paired("live-rej"))
        assert d.status == "unwound" and "hedge leg" in d.details["reason"]
        assert eth_held(bn) == 0 and hl.position("ETH")[0] == 0  # flat at both venues
        assert binance_orders(bn, "live-rej.0.0") == 1 and binance_orders(bn, "live-rej.0.0u") == 1
        assert hl_orders(hl, "live-rej.0.1") == 0
        usdt = sum(bn.spot_balance("USDT"), D(0))
        assert d.details["unwind_cost_usd"] == D(100_000) - usdt > 0  # fees of the round trip
    finally:
        hl.stop()


@pytest.mark.parametrize("fault", [
    Fault("http_429"),                  # refused, nothing happened: re-sent
    Fault("http_5xx"),                  # status unknown to the client: looked up by client id, then re-sent
    Fault("drop_after_accept"),         # the order exists but the answer is lost: adopted, never re-sent
])
def test_hedge_faults_end_hedged_with_exactly_one_hedge_order(bn: BinanceEmulator, hl: HyperliquidEmulator,
                                                              tmp_path: Path, fault: Fault) -> None:
    hl.faults.inject("POST /exchange:order", fault)
    m = ExecutionInterfaceManager(config=config(bn, hl, tmp_path / "j.sqlite"), execution_mode="live")
    d = m.execute(TS, paired("live-f"))
    assert d.status == "filled"
    assert hl_orders(hl, "live-f.0.1") == 1 and binance_orders(bn, "live-f.0.0") == 1
    assert eth_held(bn) == -hl.position("ETH")[0] == D(2) * (1 - SPOT_FEE)


def test_a_lead_whose_answer_is_lost_is_adopted_then_unwound_once(bn: BinanceEmulator, tmp_path: Path) -> None:
    hl = hl_emulator("50")
    hl.start()
    try:
        bn.faults.inject("POST /api/v3/order", Fault("http_5xx"))  # hits the lead: resolved by lookup
        m = ExecutionInterfaceManager(config=config(bn, hl, tmp_path / "j.sqlite"), execution_mode="live")
        d = m.execute(TS, paired("live-u"))
        assert d.status == "unwound" and eth_held(bn) == 0
        assert binance_orders(bn, "live-u.0.0") == 1 and binance_orders(bn, "live-u.0.0u") == 1
    finally:
        hl.stop()


def test_a_zero_time_budget_unwinds_before_the_hedge_is_sent(bn: BinanceEmulator, hl: HyperliquidEmulator,
                                                             tmp_path: Path) -> None:
    m = ExecutionInterfaceManager(config=config(bn, hl, tmp_path / "j.sqlite"), execution_mode="live")
    d = m.execute(TS, paired("live-t", seconds="0"))
    assert d.status == "unwound" and "legging budget" in d.details["reason"]
    assert hl_orders(hl, "live-t.0.1") == 0 and eth_held(bn) == 0


def test_a_lead_the_venue_refuses_raises_and_nothing_is_left(bn: BinanceEmulator, hl: HyperliquidEmulator,
                                                             tmp_path: Path) -> None:
    m = ExecutionInterfaceManager(config=config(bn, hl, tmp_path / "j.sqlite"), execution_mode="live")
    with pytest.raises(InsufficientFundsError):
        m.execute(TS, paired("live-big", amount="40", budget="200000"))  # 120,000 USDT needed, 100,000 held
    assert eth_held(bn) == 0 and hl.position("ETH")[0] == 0 and hl_orders(hl, "live-big.0.1") == 0


@pytest.mark.parametrize("crash_after", [1, 2])
def test_a_crash_mid_saga_resumes_from_the_journal_without_a_duplicate_leg(
        bn: BinanceEmulator, hl: HyperliquidEmulator, tmp_path: Path, crash_after: int) -> None:
    journal = tmp_path / "j.sqlite"
    cfg = config(bn, hl, journal)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"config": cfg, "ts": TS, "paired": paired("crash"), "crash_after": crash_after}))
    kill_at_crash_point(Path(__file__).with_name("saga_child.py"), spec, Path(__file__).resolve().parents[2])
    assert binance_orders(bn, "crash.0.0") == 1 and hl_orders(hl, "crash.0.1") == crash_after - 1

    m = ExecutionInterfaceManager(config=cfg, execution_mode="live")  # a new process's manager, same journal
    d = m.execute(TS, paired("crash"))
    assert d.status == "filled"
    assert binance_orders(bn, "crash.0.0") == 1 and hl_orders(hl, "crash.0.1") == 1  # no leg sent twice
    assert eth_held(bn) == -hl.position("ETH")[0] == D(2) * (1 - SPOT_FEE)


def test_the_live_corridor_is_read_from_the_venue(bn: BinanceEmulator, hl: HyperliquidEmulator,
                                                  tmp_path: Path) -> None:
    """Live, the corridor uses the venue's own state: the hedged short's liquidation price equals the closed form
    from the emulator's wallet and position (Hyperliquid ETH: maintenance 2 % of the notional)."""
    from basis_core.risk.corridor import corridor

    m = ExecutionInterfaceManager(config=config(bn, hl, tmp_path / "j.sqlite"), execution_mode="live")
    m.execute(TS, paired("live-risk"))
    c = corridor(m, TS, drivers=("eth",))
    (leg,) = [x for x in c.legs if x.venue == "hyperliquid"]
    size, entry = hl.position("ETH")
    wallet = hl.perp_usdc()
    closed_form = (wallet - size * entry) / (-size * (1 + D("0.02")))  # wallet + |s|(entry - p) = |s| p 2 %
    assert abs(leg.liquidation_up["perp:hyperliquid:ETH/USDC:USDC"] / closed_form - 1) < D("1e-9")
    assert c.nearest_leg_up == "hyperliquid:perp-margin:USDC" and c.eth_down is None
