"""Paired execution live across a chain and an exchange: borrow WETH on a real Aave v3 market (anvil, the
plugin's web3 client) and sell ETH on the Binance emulator (real ccxt). When the sale fails, the borrow is repaid on
chain: read back from the Pool's own debt token, not from the code under test."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from basis_venue_aave.venue import AaveVenue
from basis_venue_binance.testing.emulator import BinanceEmulator
from basis_venue_binance.venue import BinanceVenue
from eth_account import Account

from basis_core import ExecutionInterfaceManager
from basis_core.testing.anvil import AnvilNode
from basis_core.testing.contracts import wait_receipt

pytestmark = pytest.mark.chain

D = Decimal
TS = "2025-06-01T00:00:00Z"
KEY = "0x" + hashlib.sha256(b"basis-paired-chain-user").hexdigest()  # an account no other test acts for
API_KEY, API_SECRET = "paired-chain-key-0a1b2c3d4e5f", "paired-chain-SECRET-5f4e3d2c1b0a"


@pytest.fixture(scope="module")
def world(anvil: AnvilNode) -> Any:
    from basis_venue_aave.testing.deploy import deploy_aave_market
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))
    aave = deploy_aave_market(w3, w3.eth.accounts[0], ("WETH", "USDC"))
    user = Account.from_key(KEY).address
    wait_receipt(w3, w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": user, "value": 10 * 10**18}))
    aave.mint("USDC", user, D(100_000))
    return anvil.url, aave, user


@pytest.fixture
def bn() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(API_KEY, API_SECRET, spot_balances={"ETH": D("0.5"), "USDT": D(0)},
                         prices={"ETHUSDT": D(3000)}) as e:
        yield e


def manager(world: Any, bn: BinanceEmulator, journal: Path) -> ExecutionInterfaceManager:
    url, aave, _ = world
    cfg = {"execution_mode": "live", "autoload": False, "retry_delay_seconds": 0, "journal_path": str(journal),
           "venue_config": {
               "aave": {"rpc_url": url, "private_key": KEY, "receipt_poll_interval": 0.002,
                        "deployment_table": aave.deployment_table()},
               "binance": bn.venue_config()}}
    return ExecutionInterfaceManager(cfg, plugins=[AaveVenue, BinanceVenue])


def short(cid: str, amount: str) -> dict[str, Any]:
    return {"operation": "paired", "client_id": cid,
            "legs": [{"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "sell",
                      "amount": amount},
                     {"venue": "aave", "operation": "borrow", "asset": "WETH", "amount": amount}],
            "budget": {"max_unhedged_notional": "20000", "max_unhedged_seconds": "60"}}


def weth_debt(world: Any) -> int:
    _, aave, user = world
    return int(aave.variable_debt_tokens["WETH"].functions.balanceOf(user).call())


def test_a_failed_sale_repays_the_borrow_on_chain_and_a_good_one_keeps_both(world: Any, bn: BinanceEmulator,
                                                                           tmp_path: Path) -> None:
    m = manager(world, bn, tmp_path / "j.sqlite")
    m.execute(TS, {"venue": "aave", "operation": "supply", "asset": "USDC", "amount": "50000"})
    d = m.execute(TS, short("chain-1", "2"))  # the exchange holds 0.5 ETH: the sale is refused
    assert d.status == "unwound" and [x["role"] for x in d.details["legs"]] == ["lead", "hedge", "unwind"]
    assert [x["operation"] for x in d.details["legs"]] == ["borrow", "spot_trade", "repay"]
    assert weth_debt(world) <= 10**9  # seconds of interest (a few gwei) stay owed: the repay returns the 2 WETH
    assert bn.spot_balance("ETH")[0] == D("0.5")
    d = m.execute(TS, short("chain-2", "0.5"))
    assert d.status == "filled"
    assert D(weth_debt(world)) / D(10**18) >= D("0.5") and bn.spot_balance("ETH")[0] == 0
