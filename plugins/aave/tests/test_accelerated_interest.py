"""Aave interest over accelerated time (issue 15, "emulators that move", on chain): the chain's time follows a
fast market clock (:class:`~basis_core.testing.anvil.ChainClock`), and the deployed contracts' indices and
balances grow with it exactly as the protocol's formulas say for the elapsed chain time."""

from __future__ import annotations

import time

import pytest
from basis_venue_aave import math as am
from basis_venue_aave.testing.deploy import AaveWorld

from basis_core.testing.anvil import AnvilNode, ChainClock
from basis_core.testing.replay import ReplayClock

pytestmark = pytest.mark.chain
YEAR = am.SECONDS_PER_YEAR


def _reserve(w: AaveWorld, sym: str) -> tuple[int, int, int, int, int]:
    """(liquidity rate, variable rate, liquidity index, variable index, last update) as stored."""
    r = w.data_provider.functions.getReserveData(w.tokens[sym].address).call()
    return int(r[5]), int(r[6]), int(r[9]), int(r[10]), int(r[11])


def test_interest_accrues_over_an_accelerated_clock_as_the_contracts_compute_it(aave_world: AaveWorld,
                                                                                 chain: AnvilNode) -> None:
    w = aave_world
    user, lp = w.w3.eth.accounts[2], w.liquidity_provider
    w.approve_and_supply("wstETH", user, 4000 * 10**18)
    w.borrow("USDC", user, 3_000_000 * 10**6)
    liq_rate, var_rate, liq_idx, var_idx, last = _reserve(w, "USDC")
    assert liq_rate > 0 and var_rate > 0
    a_scaled = w.a_tokens["USDC"].functions.scaledBalanceOf(lp).call()
    d_scaled = w.variable_debt_tokens["USDC"].functions.scaledBalanceOf(user).call()
    clock = ReplayClock(chain.block_time() * 10**9, speed=YEAR / 2.0)  # a year of chain time every 2 s
    chain_clock = ChainClock(chain, clock)
    seen = []
    deadline = time.monotonic() + 60
    while (not seen or seen[-1] - last < YEAR // 4) and time.monotonic() < deadline:  # a quarter of a year at least
        t = chain_clock.sync()
        block = w.w3.eth.get_block("latest")
        assert int(block["timestamp"]) == t  # the chain is at the clock's time
        income = w.pool.functions.getReserveNormalizedIncome(w.tokens["USDC"].address).call(
            block_identifier=block["number"])
        debt = w.pool.functions.getReserveNormalizedVariableDebt(w.tokens["USDC"].address).call(
            block_identifier=block["number"])
        assert income == am.accrue_index_linear(liq_idx, liq_rate, t - last)
        assert debt == am.accrue_index_compounded(var_idx, var_rate, t - last)
        assert w.a_tokens["USDC"].functions.balanceOf(lp).call(block_identifier=block["number"]) == \
            am.balance_of_scaled(a_scaled, income)
        assert w.variable_debt_tokens["USDC"].functions.balanceOf(user).call(block_identifier=block["number"]) == \
            am.balance_of_scaled(d_scaled, debt)
        seen.append(t)
    assert seen[-1] - last >= YEAR // 4 and seen == sorted(seen)
    clock.pause()
    stopped = chain_clock.sync()
    clock.seek(clock.now_ns() + 30 * 86_400 * 10**9)  # a paused clock moved by hand: 30 days exactly
    assert chain_clock.sync() == stopped + 30 * 86_400 == chain.block_time()
