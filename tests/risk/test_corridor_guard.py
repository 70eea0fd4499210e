"""The pre-trade corridor check (``min_corridor_move``): an instruction after which an ETH move smaller than the
bound liquidates a leg is refused with a CorridorError naming the leg, and changes nothing; one that widens a
corridor already below the bound is allowed (de-risking must stay possible)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from decimal import Decimal

import pytest
from basis_venue_hyperliquid.live import hyperliquid_cloid
from basis_venue_hyperliquid.testing import HyperliquidEmulator
from eth_account import Account

from basis_core import ExecutionInterfaceManager
from basis_core.data.provider import DataProvider
from basis_core.data.synthetic import synthetic_market
from basis_core.errors import CorridorError
from basis_core.risk.corridor import corridor

D = Decimal
TS = "2025-01-02T00:00:00Z"


@functools.cache
def market() -> DataProvider:
    return synthetic_market()


def manager(bound: str | None = "0.2") -> ExecutionInterfaceManager:
    cfg = {"venues": ["hyperliquid", "aave"], "min_corridor_move": bound,
           "initial_balances": {"ethereum:wallet:wstETH": "10", "ethereum:wallet:ETH": "1",
                                "hyperliquid:perp-margin:USDC": "1500"}}
    m = ExecutionInterfaceManager(cfg, data_provider=market(), execution_mode="backtest")
    m.execute(TS, {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "10"})
    return m


def borrow(amount: str) -> dict[str, str]:
    return {"venue": "aave", "operation": "borrow", "asset": "USDC", "amount": amount}


def test_a_borrow_that_narrows_the_corridor_below_the_bound_is_refused_naming_the_leg() -> None:
    m = manager()
    before, n = dict(m.ledger.balances), len(m.execution_history)  # type: ignore[union-attr]
    with pytest.raises(CorridorError) as e:
        m.execute(TS, borrow("25000"))  # health factor ~1.21: a 17 % drop liquidates
    assert e.value.field == "aave:account" and "min_corridor_move" in e.value.reason
    assert m.ledger.balances == before  # type: ignore[union-attr]
    assert len(m.execution_history) == n + 1 and not m.execution_history[-1].success
    d = m.execute(TS, borrow("15000"))  # ~2.0: a 50 % drop
    assert d.status == "filled"
    c = corridor(m, TS, drivers=("eth",))
    assert c.eth_move is not None and c.eth_move >= D("0.2")


def test_the_perp_leg_is_named_when_it_is_the_nearest() -> None:
    m = manager()
    with pytest.raises(CorridorError) as e:  # 1,500 USDC behind a 3 ETH long: a ~14 % drop liquidates it
        m.execute(TS, {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC", "side": "buy",
                       "amount": "3"})
    assert e.value.field == "hyperliquid:perp-margin:USDC"


def test_de_risking_below_the_bound_is_allowed() -> None:
    m = manager(None)
    m.execute(TS, borrow("25000"))
    guarded = ExecutionInterfaceManager({"venues": ["hyperliquid", "aave"], "min_corridor_move": "0.2"},
                                        data_provider=market(), execution_mode="backtest", ledger=m.ledger)
    guarded.execute(TS, {"venue": "aave", "operation": "repay", "asset": "USDC", "amount": "1000"})  # wider now
    with pytest.raises(CorridorError):
        guarded.execute(TS, borrow("500"))  # narrower again, still below the bound


# -- live: the check runs before anything is sent (the real ccxt client against the Hyperliquid emulator) ---------
HL_KEY = "0x" + hashlib.sha256(b"basis-corridor-guard-hl").hexdigest()
HL_ADDR = Account.from_key(HL_KEY).address


@pytest.fixture(scope="module")
def hl() -> Iterator[HyperliquidEmulator]:
    with HyperliquidEmulator(HL_ADDR, perp_usdc=D(1500), marks={"ETH": "3000"}) as e:
        yield e


def live_manager(hl: HyperliquidEmulator, bound: str | None = "0.2") -> ExecutionInterfaceManager:
    cfg = {"venues": ["hyperliquid"], "min_corridor_move": bound, "retry_delay_seconds": 0,
           "venue_config": {"hyperliquid": {"private_key": HL_KEY, "wallet_address": HL_ADDR,
                                            "base_url": hl.base_url, "enable_rate_limit": False}}}
    return ExecutionInterfaceManager(cfg, execution_mode="live")


def perp(side: str, amount: str, cid: str) -> dict[str, str]:
    return {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC", "side": side,
            "amount": amount, "client_id": cid}


def test_live_a_perp_trade_that_narrows_the_corridor_below_the_bound_is_never_sent(hl: HyperliquidEmulator) -> None:
    m = live_manager(hl)
    with pytest.raises(CorridorError) as e:  # 1,500 USDC behind a 3 ETH long: a ~14 % drop liquidates it
        m.execute(TS, perp("buy", "3", "guard-big"))
    assert e.value.field == "hyperliquid:perp-margin:USDC" and "min_corridor_move" in e.value.reason
    assert hl.orders_for_cloid(hyperliquid_cloid("guard-big")) == [] and hl.positions == {}
    assert not m.execution_history[-1].success
    d = m.execute(TS, perp("buy", "1", "guard-ok"))  # ~48 % drop: allowed, sent and filled
    assert d.status == "filled" and hl.positions["ETH"][0] == D(1)
    c = corridor(m, TS, drivers=("eth",), tol=D("1e-4"))
    assert c.eth_move is not None and c.eth_move >= D("0.2")
    with pytest.raises(CorridorError):  # adding 2 more would leave a ~14 % move
        m.execute(TS, perp("buy", "2", "guard-more"))
    assert hl.positions["ETH"][0] == D(1)
    m.execute(TS, perp("sell", "1", "guard-close"))  # reducing always passes
    assert "ETH" not in hl.positions or hl.positions["ETH"][0] == 0
