"""The live pre-trade corridor check covers every instruction kind, not only perp trades: a transfer out of a margin
wallet, a move of capital off the venue and a paired instruction (all its legs at once) that would leave a smaller
ETH move than ``min_corridor_move`` liquidating a leg are refused with a CorridorError naming that leg, and nothing
is sent (read from the emulators' own logs); instructions that do not narrow the corridor pass. Real ccxt clients
against the Binance and Hyperliquid emulators. (Lending kinds on anvil: plugins/aave, plugins/morpho tests.)"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from basis_venue_binance.testing.emulator import BinanceEmulator
from basis_venue_hyperliquid.live import hyperliquid_cloid
from basis_venue_hyperliquid.testing import HyperliquidEmulator
from eth_account import Account

from basis_core import ExecutionInterfaceManager
from basis_core.errors import CorridorError
from basis_core.risk.corridor import corridor
from basis_core.testing.replay import ReplayClock
from basis_core.testing.transfer_network import TransferNetwork

D = Decimal
TS = "2025-06-01T00:00:00Z"
API_KEY, API_SECRET = "guard-kinds-key-7d6c5b4a39281706", "guard-kinds-SECRET-0f1e2d3c4b5a6978"
HL_KEY = "0x" + hashlib.sha256(b"basis-corridor-guard-kinds").hexdigest()
HL_ADDR = Account.from_key(HL_KEY).address
LEG = "hyperliquid:perp-margin:USDC"


@pytest.fixture(scope="module")
def venues() -> Iterator[tuple[BinanceEmulator, HyperliquidEmulator]]:
    net = TransferNetwork(ReplayClock(TS, speed=0))
    bn = BinanceEmulator(API_KEY, API_SECRET, spot_balances={"USDT": D(50_000)},
                         prices={"ETHUSDT": D(3000), "BTCUSDT": D(60_000)})
    hl = HyperliquidEmulator(HL_ADDR, perp_usdc=D(1500), spot_balances={"USDC": D(1000)}, marks={"ETH": "3000"})
    bn.attach_network(net)
    hl.attach_network(net)
    bn.start()
    hl.start()
    try:
        yield bn, hl
    finally:
        bn.stop()
        hl.stop()


@pytest.fixture(scope="module")
def m(venues: tuple[BinanceEmulator, HyperliquidEmulator], tmp_path_factory: pytest.TempPathFactory
      ) -> ExecutionInterfaceManager:
    bn, hl = venues
    cfg = {"venues": ["binance", "hyperliquid"], "min_corridor_move": "0.2", "retry_delay_seconds": 0,
           "journal_path": str(tmp_path_factory.mktemp("guard") / "j.sqlite"),
           "venue_config": {
               "binance": {"api_key": API_KEY, "api_secret": API_SECRET, "base_url": bn.base_url,
                           "enable_rate_limit": False},
               "hyperliquid": {"private_key": HL_KEY, "wallet_address": HL_ADDR, "base_url": hl.base_url,
                               "enable_rate_limit": False}}}
    manager = ExecutionInterfaceManager(cfg, execution_mode="live")
    manager.execute(TS, {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC", "side": "buy",
                         "amount": "1", "client_id": "kinds-long"})  # 1,500 USDC behind 1 ETH: a ~48 % drop
    return manager


def refused(m: ExecutionInterfaceManager, ins: dict[str, Any]) -> CorridorError:
    with pytest.raises(CorridorError) as e:
        m.execute(TS, ins)
    assert e.value.field == LEG and "min_corridor_move" in e.value.reason
    assert not m.execution_history[-1].success
    return e.value


def sent(hl: HyperliquidEmulator, kind: str) -> int:
    return len([r for r in hl.exchange_log if r.type == kind])


def test_a_transfer_out_of_the_margin_wallet_is_refused_unsent(venues: tuple, m: ExecutionInterfaceManager) -> None:
    _bn, hl = venues
    wallet = hl.perp_usdc()
    refused(m, {"venue": "hyperliquid", "operation": "transfer", "asset": "USDC", "amount": "1000",
                "from_account": "perp", "to_account": "spot", "client_id": "kinds-out"})
    assert sent(hl, "usdClassTransfer") == 0 and hl.perp_usdc() == wallet
    d = m.execute(TS, {"venue": "hyperliquid", "operation": "transfer", "asset": "USDC", "amount": "200",
                       "from_account": "spot", "to_account": "perp", "client_id": "kinds-in"})  # widens: passes
    assert d.status == "filled" and hl.perp_usdc() == wallet + 200


def test_moving_margin_off_the_venue_is_refused_before_the_withdrawal(venues: tuple,
                                                                      m: ExecutionInterfaceManager) -> None:
    bn, hl = venues
    wallet = hl.perp_usdc()
    refused(m, {"operation": "move", "asset": "USDC", "amount": "1200", "source": LEG,
                "destination": "binance:spot:USDC", "client_id": "kinds-move"})
    assert sent(hl, "withdraw3") == 0 and bn.withdrawals() == [] and hl.perp_usdc() == wallet


def test_a_paired_instruction_is_checked_with_all_its_legs_before_any_is_sent(
        venues: tuple, m: ExecutionInterfaceManager) -> None:
    bn, hl = venues
    legs = [{"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "sell", "amount": "2"},
            {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC", "side": "buy",
             "amount": "2"}]
    e = refused(m, {"operation": "paired", "client_id": "kinds-pair", "legs": legs,
                    "budget": {"max_unhedged_notional": "100000", "max_unhedged_seconds": "30"}})
    assert "paired" in e.reason
    assert bn.orders == [] and hl.orders_for_cloid(hyperliquid_cloid("kinds-pair.0.1")) == []
    assert hl.position("ETH")[0] == D(1)


def test_instructions_that_leave_the_margin_alone_pass(venues: tuple, m: ExecutionInterfaceManager) -> None:
    bn, _hl = venues
    d = m.execute(TS, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy",
                       "amount": "1", "client_id": "kinds-spot"})
    assert d.status == "filled" and bn.spot_balance("ETH")[0] > 0
    c = corridor(m, TS, drivers=("eth",), tol=D("1e-4"))
    assert c.nearest_leg_down == LEG and c.eth_move is not None and c.eth_move >= D("0.2")
