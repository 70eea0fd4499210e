"""Capital in transit, live, to and from the on-chain wallet: the real ccxt client against the Binance emulator, whose
transfer network is joined to an anvil node (:class:`basis_core.testing.anvil_link.AnvilLink`), on a paused network
clock moved by the tests.

- wallet -> Binance: a real value transfer from the wallet's key to Binance's ETH deposit address, journaled (signed
  bytes) before it is broadcast; Binance credits it once the network saw it with 6 confirmations;
- Binance -> wallet: a withdrawal the network carries on the node (a transfer from the node's funded account); the
  move arrives when the wallet's transaction is mined.

Exactly once across a crash between the journal and the broadcast (the next manager on the journal resumes it);
bad input moves nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_binance.testing.emulator import BinanceEmulator
from eth_account import Account

from basis_core import ExecutionInterfaceManager
from basis_core.errors import InstructionError, InsufficientFundsError
from basis_core.testing.anvil import AnvilNode
from basis_core.testing.anvil_link import AnvilLink
from basis_core.testing.replay import ReplayClock
from basis_core.testing.transfer_network import TransferNetwork
from basis_core.transit import in_transit
from basis_core.transit.live import LiveTransitDesk

D = Decimal
WEI = D(10) ** 18
T0 = pd.Timestamp("2025-06-01T00:00:00Z")
API_KEY = "wallet-transit-key-5c2d8e1f0a9b7c6d"
API_SECRET = "wallet-transit-SECRET-1a2b3c4d5e6f"
KEY = "0x" + hashlib.sha256(b"basis-transit-wallet").hexdigest()
ADDR = Account.from_key(KEY).address
CONFIRMED_S = 5 * 12  # Binance's 6 confirmations of 12 s ETH blocks: 60 s after the network sees it
WITHDRAW_S = 600  # Binance's ETH processing


class World:
    """Binance on a network joined to the anvil node; the wallet holds 10 ETH on the node, Binance 5 ETH."""

    def __init__(self, node: AnvilNode, tmp: Path) -> None:
        self.node = node
        node.rpc("anvil_setBalance", [ADDR, hex(10 * 10**18)])
        self.clock = ReplayClock(T0.isoformat(), speed=0)
        self.net = TransferNetwork(self.clock)
        self.bn = BinanceEmulator(API_KEY, API_SECRET, spot_balances={"ETH": D(5), "USDT": D(1000), "USDC": D(1000)},
                                  prices={"ETHUSDT": D(3000), "BTCUSDT": D(60_000)})
        self.bn.attach_network(self.net)
        self.deposit = self.bn.deposit_address("ETH", "ETH")
        self.link = AnvilLink(self.net, node, watch=[self.deposit])
        self.journal = tmp / "journal.sqlite"
        self.step = 0

    def config(self) -> dict[str, Any]:
        return {"venues": ["binance"], "retry_delay_seconds": 0, "journal_path": str(self.journal),
                "venue_config": {
                    "binance": self.bn.venue_config(),
                    "ethereum": {"rpc_url": self.node.url, "private_key": KEY}}}

    def manager(self) -> ExecutionInterfaceManager:
        return ExecutionInterfaceManager(config=self.config(), execution_mode="live")

    def later(self, seconds: int) -> pd.Timestamp:
        self.clock.seek(self.clock.now_ns() + seconds * 1_000_000_000)
        self.step += 1
        return T0 + pd.Timedelta(seconds=self.step)

    def eth(self, address: str) -> Decimal:
        return D(int(self.node.rpc("eth_getBalance", [address, "latest"]), 16)) / WEI

    def nonce(self) -> int:
        return int(self.node.rpc("eth_getTransactionCount", [ADDR, "latest"]), 16)


@pytest.fixture
def world(chain: AnvilNode, tmp_path: Path) -> Iterator[World]:
    """The session's anvil node (basis-core's pytest plugin: reverted after the test) and Binance joined to it."""
    w = World(chain, tmp_path)
    w.bn.start()
    try:
        yield w
    finally:
        w.bn.stop()


def move(amount: str, source: str, destination: str, cid: str) -> dict[str, Any]:
    return {"operation": "move", "asset": "ETH", "amount": amount, "source": source, "destination": destination,
            "client_id": cid}


def to_binance(amount: str = "1", cid: str = "mv-w1") -> dict[str, Any]:
    return move(amount, "ethereum:wallet:ETH", "binance:spot:ETH", cid)


def test_a_deposit_from_the_wallet_is_a_transfer_on_chain_that_binance_credits_after_its_confirmations(
        world: World) -> None:
    m = world.manager()
    before = world.eth(ADDR)
    d = m.execute(T0, to_binance())
    gas = before - 1 - world.eth(ADDR)  # what the chain charged, on top of the amount
    assert world.eth(world.deposit) == 1 and world.nonce() == 1 and gas > 0
    assert d.status == "requested" and d.fees == {"ethereum:wallet:ETH": -gas}
    assert d.positions == {"ethereum:wallet:ETH": -(1 + gas), "transit:ethereum-binance:ETH": D(1)}
    (pending,) = in_transit(m)
    assert pending["txid"] == d.order_id and pending["network"] == "ETH"
    world.net.poll()  # the network watches the node: it sees the transfer now (its clock is paused)

    assert m.advance_to(world.later(CONFIRMED_S - 1)) == []  # seen, 5 of 6 confirmations
    assert world.bn.spot_balance("ETH")[0] == 5
    (arrival,) = m.advance_to(world.later(1))
    assert arrival.positions == {"transit:ethereum-binance:ETH": D(-1), "binance:spot:ETH": D(1)}
    assert world.bn.spot_balance("ETH")[0] == 6 and in_transit(m) == []
    assert m.execute(T0, to_binance()).order_id == d.order_id and world.nonce() == 1  # same client id: nothing sent


def test_a_binance_withdrawal_to_the_wallet_arrives_on_chain(world: World) -> None:
    m = world.manager()
    before = world.eth(ADDR)
    d = m.execute(T0, move("0.5", "binance:spot:ETH", "ethereum:wallet:ETH", "mv-w2"))
    (w,) = world.bn.withdrawals()
    assert w.address.lower() == ADDR.lower() and w.network == "ETH" and w.fee == D("0.0008")
    assert d.positions == {"binance:spot:ETH": D("-0.5"), "transit:binance-ethereum:ETH": D("0.4992")}
    assert m.advance_to(world.later(WITHDRAW_S - 1)) == [] and world.eth(ADDR) == before  # processing
    (arrival,) = m.advance_to(world.later(1))  # broadcast: carried on the node, mined
    assert arrival.positions == {"transit:binance-ethereum:ETH": D("-0.4992"), "ethereum:wallet:ETH": D("0.4992")}
    assert world.eth(ADDR) - before == D("0.4992") and in_transit(m) == []
    assert arrival.details["txid"] == world.node.rpc("eth_getBlockByNumber", ["latest", False])["transactions"][0]


@pytest.mark.parametrize(("over", "error", "field"), [
    ({"amount": "10.5"}, InsufficientFundsError, "amount"),  # the wallet holds 10 ETH
    ({"asset": "USDC", "source": "ethereum:wallet:USDC", "destination": "binance:spot:USDC"}, InstructionError,
     "asset"),  # the wallet moves ETH live
])
def test_bad_moves_from_the_wallet_are_typed_errors_and_nothing_is_sent(world: World, over: dict[str, Any],
                                                                        error: type[Exception], field: str) -> None:
    m = world.manager()
    with pytest.raises(error) as e:
        m.execute(T0, {**to_binance(cid="mv-bad"), **over})
    assert getattr(e.value, "field", None) == field
    assert world.nonce() == 0 and world.eth(ADDR) == 10 and world.eth(world.deposit) == 0
    assert in_transit(m) == [] and not m.execution_history[-1].success


class Crash(BaseException):
    """The process dies here (nothing after it runs; the next manager is a restart on the same journal)."""


def test_a_crash_before_the_broadcast_resumes_with_the_journaled_transaction_only(world: World) -> None:
    m = world.manager()

    def crash(*_args: Any) -> None:
        raise Crash

    LiveTransitDesk.of(m).wallet().client.broadcast = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        m.execute(T0, to_binance(cid="mv-crash"))
    assert world.nonce() == 0  # signed and journaled, never broadcast

    m = world.manager()  # a restart
    (pending,) = in_transit(m, T0)  # resumed: the journaled bytes broadcast now
    assert pending["transfer_id"] == "mv-crash" and world.nonce() == 1 and world.eth(world.deposit) == 1
    world.net.poll()
    (arrival,) = m.advance_to(world.later(CONFIRMED_S))
    assert arrival.positions["binance:spot:ETH"] == 1
    assert m.execute(T0, to_binance(cid="mv-crash")).status == "requested" and world.nonce() == 1


def test_a_restart_after_the_send_finds_the_transaction_mined_and_tracks_it_to_binance(world: World) -> None:
    world.manager().execute(T0, to_binance(cid="mv-restart"))
    world.net.poll()
    m = world.manager()  # a restart: the move is known from the journal, its transaction from the chain
    (pending,) = in_transit(m, T0)
    assert pending["transfer_id"] == "mv-restart" and world.nonce() == 1
    (arrival,) = m.advance_to(world.later(CONFIRMED_S))
    assert arrival.details["txid"] == world.node.rpc("eth_getBlockByNumber", ["latest", False])["transactions"][0]
    assert arrival.positions == {"transit:ethereum-binance:ETH": D(-1), "binance:spot:ETH": D(1)}
    assert world.nonce() == 1 and world.bn.spot_balance("ETH")[0] == 6
