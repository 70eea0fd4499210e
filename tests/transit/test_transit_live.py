"""Capital in transit, live: the real ccxt clients against the Binance and Hyperliquid emulators joined by one
transfer network on a paused replay clock (moved by the tests: nothing waits in real time).

A move from Hyperliquid's perp account to Binance spot is a ``withdraw3`` to Binance's Arbitrum deposit address; it is
journaled before it is sent, pending (``in_transit``) until Binance credits the deposit, then an ``arrival`` event.
Exactly once: a crash between the journal and the request, a crash between the request and the arrival, and a lost
answer each end with one withdrawal at the venue. Fees are the emulator's own; bad input moves nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_binance.testing.emulator import BinanceEmulator
from basis_venue_hyperliquid.testing import HyperliquidEmulator
from eth_account import Account

from basis_core import ExecutionInterfaceManager
from basis_core.errors import InstructionError, InstructionValidationError, InsufficientFundsError
from basis_core.testing.crash import kill_at_crash_point
from basis_core.testing.http_emulator import Fault
from basis_core.testing.replay import ReplayClock
from basis_core.testing.transfer_network import TransferNetwork
from basis_core.transit import in_transit

D = Decimal
T0 = pd.Timestamp("2025-06-01T00:00:00Z")
API_KEY = "transit-test-key-5c2d8e1f0a9b7c6d"
API_SECRET = "transit-test-SECRET-1a2b3c4d5e6f7a8b"
HL_KEY = "0x" + hashlib.sha256(b"basis-transit-hl-master").hexdigest()
HL_ADDR = Account.from_key(HL_KEY).address
WITHDRAW_S, CONFIRMATIONS = 300, 12  # Hyperliquid's bridge; Binance's Arbitrum deposits (1 s blocks)


class World:
    """Two emulators on one network, a paused network clock and a journal file."""

    def __init__(self, tmp: Path) -> None:
        self.clock = ReplayClock(T0.isoformat(), speed=0)
        self.net = TransferNetwork(self.clock)
        self.bn = BinanceEmulator(API_KEY, API_SECRET, spot_balances={"USDT": D(50_000), "USDC": D(20_000)},
                                  prices={"ETHUSDT": D(3000), "BTCUSDT": D(60_000)})
        self.hl = HyperliquidEmulator(HL_ADDR, perp_usdc=D(10_000), marks={"ETH": "3000"})
        self.bn.attach_network(self.net)
        self.hl.attach_network(self.net)
        self.journal = tmp / "journal.sqlite"
        self.step = 0

    def config(self) -> dict[str, Any]:
        return {"venues": ["binance", "hyperliquid"], "retry_delay_seconds": 0, "journal_path": str(self.journal),
                "venue_config": {
                    "binance": self.bn.venue_config(),
                    "hyperliquid": {"private_key": HL_KEY, "wallet_address": HL_ADDR, "base_url": self.hl.base_url,
                                    "enable_rate_limit": False, "timeout_ms": 30_000, "landing_window_ms": 2000,
                                    "clock_margin_ms": 100}}}

    def manager(self) -> ExecutionInterfaceManager:
        return ExecutionInterfaceManager(config=self.config(), execution_mode="live")

    def later(self, seconds: int) -> pd.Timestamp:
        """Move the network clock on by ``seconds``; a fresh manager timestamp to poll at."""
        self.clock.seek(self.clock.now_ns() + seconds * 1_000_000_000)
        self.step += 1
        return T0 + pd.Timedelta(seconds=self.step)

    def withdrawals(self) -> list[Any]:
        return [r for r in self.hl.exchange_log if r.type == "withdraw3" and r.response.get("status") == "ok"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    w.bn.start()
    w.hl.start()
    try:
        yield w
    finally:
        w.bn.stop()
        w.hl.stop()


def move(amount: str = "1000", cid: str | None = "mv-1", **over: Any) -> dict[str, Any]:
    out = {"operation": "move", "asset": "USDC", "amount": amount, "source": "hyperliquid:perp-margin:USDC",
           "destination": "binance:spot:USDC", **over}
    if cid is not None:
        out["client_id"] = cid
    return out


def test_a_withdrawal_is_tracked_until_the_destination_credits_it(world: World) -> None:
    m = world.manager()
    d = m.execute(T0, move())
    (row,) = [r for r in world.hl.account().ledger if r["delta"]["type"] == "withdraw"]
    fee = D(row["delta"]["fee"])  # what the emulator charged
    assert d.status == "requested" and d.fees == {"hyperliquid:perp-margin:USDC": -fee} and fee == 1
    assert d.positions == {"hyperliquid:perp-margin:USDC": D(-1000), "transit:hyperliquid-binance:USDC": D(1000) - fee}
    assert world.hl.perp_usdc() == D(9000)  # left the venue at once
    (pending,) = in_transit(m)
    assert pending["amount"] == D(999) and pending["destination"] == "binance:spot:USDC"
    assert pending["arrives_at"] - pending["sent_at"] == pd.Timedelta(seconds=WITHDRAW_S + CONFIRMATIONS)

    assert m.advance_to(world.later(WITHDRAW_S - 1)) == []  # the bridge has not sent it
    assert m.advance_to(world.later(CONFIRMATIONS - 1)) == []  # on chain, not confirmed enough for Binance
    assert world.bn.spot_balance("USDC")[0] == D(20_000)
    (arrival,) = m.advance_to(world.later(5))
    assert arrival.operation == "arrival" and arrival.positions == {
        "transit:hyperliquid-binance:USDC": D(-999), "binance:spot:USDC": D(999)}
    assert world.bn.spot_balance("USDC")[0] == D(20_999) and in_transit(m) == []
    assert len(world.withdrawals()) == 1
    again = m.execute(T0, move())  # the same client id again: its first deltas, nothing sent
    assert (again.positions, again.fees, again.order_id) == (d.positions, d.fees, d.order_id)
    assert len(world.withdrawals()) == 1


def test_a_lost_answer_is_looked_up_by_its_nonce_and_adopted(world: World) -> None:
    world.hl.faults.inject("POST /exchange:withdraw3", Fault("drop_after_accept"))
    m = world.manager()
    d = m.execute(T0, move(cid="mv-lost"))
    assert d.status == "requested" and d.fees == {"hyperliquid:perp-margin:USDC": D(-1)}
    assert len(world.withdrawals()) == 1 and world.hl.perp_usdc() == D(9000)
    (arrival,) = m.advance_to(world.later(WITHDRAW_S + CONFIRMATIONS))
    assert arrival.positions["binance:spot:USDC"] == D(999)


@pytest.mark.parametrize(("over", "error", "field"), [
    ({"asset": "ETH", "source": "hyperliquid:perp-margin:ETH", "destination": "binance:spot:ETH"},
     InstructionError, "asset"),  # Hyperliquid withdraws USDC only
    ({"amount": "10001"}, InsufficientFundsError, "amount"),  # 10,000 USDC held
    ({"destination": "hyperliquid:spot:USDC"}, InstructionValidationError, "destination"),  # same venue
    ({"source": "binance:spot:USDC", "destination": "hyperliquid:perp-margin:USDC"}, InstructionError,
     "destination"),  # Hyperliquid's bridge credits the sender: no deposit address for a CEX withdrawal
])
def test_bad_moves_are_typed_errors_and_nothing_moves(world: World, over: dict[str, Any], error: type[Exception],
                                                      field: str) -> None:
    m = world.manager()
    with pytest.raises(error) as e:
        m.execute(T0, move(cid="mv-bad", **over))
    assert getattr(e.value, "field", None) == field
    assert world.withdrawals() == [] and world.bn.withdrawals() == []
    assert world.hl.perp_usdc() == D(10_000) and world.bn.spot_balance("USDC")[0] == D(20_000)
    assert in_transit(m) == [] and not m.execution_history[-1].success


def _child(world: World, tmp: Path, crash_at: str) -> None:
    """Run the move in a child process that stops dead at ``crash_at``, then kill it (SIGKILL)."""
    spec = tmp / "spec.json"
    spec.write_text(json.dumps({"config": world.config(), "ts": T0.isoformat(), "move": move(cid="mv-crash"),
                                "crash_at": crash_at}))
    kill_at_crash_point(Path(__file__).with_name("move_child.py"), spec, Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("crash_at", ["before_send", "after_send"])
def test_a_crash_resumes_from_the_journal_and_never_withdraws_twice(world: World, tmp_path: Path,
                                                                     crash_at: str) -> None:
    _child(world, tmp_path, crash_at)
    assert len(world.withdrawals()) == (0 if crash_at == "before_send" else 1)

    m = world.manager()  # a new process's manager on the same journal
    (pending,) = in_transit(m, T0)  # resumed: a journaled move never sent is sent now, a sent one is polled
    assert pending["transfer_id"] == "mv-crash" and pending["amount"] == D(999)
    assert len(world.withdrawals()) == 1
    (arrival,) = m.advance_to(world.later(WITHDRAW_S + CONFIRMATIONS))
    assert arrival.positions == {"transit:hyperliquid-binance:USDC": D(-999), "binance:spot:USDC": D(999)}
    assert m.execute(T0 + pd.Timedelta(hours=1), move(cid="mv-crash")).status == "requested"  # nothing re-sent
    assert len(world.withdrawals()) == 1 and world.hl.perp_usdc() == D(9000)
    assert world.bn.spot_balance("USDC")[0] == D(20_999)


def test_the_venues_answer_the_transfer_hooks(world: World) -> None:
    """The core names no venue: it asks the source's ``transfer_networks`` / ``transfer_send`` / ``transfer_status``
    and the destination's ``transfer_address`` / ``transfer_arrival`` (each venue's own API behind them)."""
    from basis_core.transit.legs import TransferLeg

    m = world.manager()

    def hook(venue: str, name: str, leg: TransferLeg) -> Any:
        return m._caller(venue, name)(timestamp=T0, instruction=leg)

    leg = TransferLeg("mv-hooks", "USDC", D(500), "hyperliquid:perp-margin:USDC", "binance:spot:USDC")
    assert hook("hyperliquid", "transfer_networks", leg) == ["ARBITRUM"]
    address = hook("binance", "transfer_address", leg.with_(network="ARBITRUM"))
    assert address == world.bn.deposit_address("USDC", "ARBITRUM")
    sent = hook("hyperliquid", "transfer_send", leg.with_(network="ARBITRUM", address=address))
    again = hook("hyperliquid", "transfer_send", leg.with_(network="ARBITRUM", address=address))
    assert again == sent and len(world.withdrawals()) == 1 and sent.fee == 1 and sent.amount_sent == 499
    status = hook("hyperliquid", "transfer_status", leg)
    assert status.status == "sent" and status.txid
    assert not hook("binance", "transfer_arrival", leg.with_(txid=status.txid)).arrived
    world.later(WITHDRAW_S + CONFIRMATIONS)
    got = hook("binance", "transfer_arrival", leg.with_(txid=status.txid))
    assert got.arrived and got.amount == 499


def test_a_binance_withdrawal_is_sent_once_under_its_withdraw_order_id(world: World) -> None:
    """Binance as a source: the answer of the first request is lost (accepted, then the connection drops); the
    withdrawal is found in the history by its ``withdrawOrderId`` and adopted, and asking again sends nothing."""
    from basis_core.transit.legs import TransferLeg

    m = world.manager()
    world.bn.faults.inject("POST /sapi/v1/capital/withdraw/apply", Fault("drop_after_accept"))
    leg = TransferLeg("mv-bn-1", "USDT", D(250), "binance:spot:USDT", "ethereum:wallet:USDT", "ETH", "0x" + "ab" * 20)
    sent = m._caller("binance", "transfer_send")(timestamp=T0, instruction=leg)
    again = m._caller("binance", "transfer_send")(timestamp=T0, instruction=leg)
    (w,) = world.bn.withdrawals()
    assert w.client_id == "mv-bn-1" and sent == again and sent.fee == w.fee == 1 and sent.amount_sent == 249
    assert world.bn.spot_balance("USDT")[0] == D(50_000 - 250)
    with pytest.raises(InstructionError) as e:  # Binance withdraws from spot only
        m._caller("binance", "transfer_networks")(timestamp=T0, instruction=leg.with_(source="binance:futures:USDT"))
    assert e.value.field == "source"
