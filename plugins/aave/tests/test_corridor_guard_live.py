"""The live pre-trade corridor check on a real Aave v3 market (anvil): a borrow or a withdrawal that would leave a
smaller ETH move than ``min_corridor_move`` liquidating the account is refused with a CorridorError naming
``aave:account`` before any transaction is sent (the account's nonce and balances are unchanged, read from the
chain); borrows, withdrawals and repays that keep (or widen) the corridor go through."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from basis_venue_aave.venue import AaveVenue

from basis_core import ExecutionInterfaceManager
from basis_core.errors import CorridorError
from basis_core.risk.corridor import corridor

from .test_venue_live import chain_state, fund

D = Decimal
TS = pd.Timestamp("2025-03-01T00:00:00Z")


def guarded(world: Any) -> ExecutionInterfaceManager:
    cfg = {"execution_mode": "live", "autoload": False, "min_corridor_move": "0.2",
           "venue_config": {"aave": {"rpc_url": world.url, "private_key": world.key,
                                     "deployment_table": world.aave_table()}}}
    return ExecutionInterfaceManager(cfg, plugins=[AaveVenue])


def aave(op: str, asset: str, amount: str) -> dict[str, str]:
    return {"venue": "aave", "operation": op, "asset": asset, "amount": amount}


def test_live_lending_instructions_that_narrow_the_corridor_below_the_bound_are_never_sent(
        loop_world: Any, chain: Any) -> None:
    world = loop_world
    world.aave.set_price("WETH", D(3000))
    world.aave.set_price("wstETH", D(3600))
    fund(world, wsteth=D(10))
    m = guarded(world)
    m.execute(TS, aave("supply", "wstETH", "10"))  # 36,000 USD of collateral, no debt: nothing to liquidate
    before = chain_state(world)
    with pytest.raises(CorridorError) as e:
        m.execute(TS, aave("borrow", "USDC", "25000"))  # health ~1.17 (threshold 81 %): a ~14 % drop liquidates
    assert e.value.field == "aave:account" and "min_corridor_move" in e.value.reason
    assert chain_state(world) == before and not m.execution_history[-1].success
    m.execute(TS, aave("borrow", "USDC", "15000"))  # ~1.9: a ~48 % drop
    before = chain_state(world)
    with pytest.raises(CorridorError):
        m.execute(TS, aave("withdraw", "wstETH", "4"))  # 21,600 USD left behind 15,000 of debt: ~14 %
    assert chain_state(world) == before
    m.execute(TS, aave("withdraw", "wstETH", "1"))
    m.execute(TS, aave("repay", "USDC", "1000"))  # widens
    c = corridor(m, TS, drivers=("eth",), tol=D("1e-4"))
    assert c.nearest_leg_down == "aave:account" and c.eth_move is not None and c.eth_move >= D("0.2")
