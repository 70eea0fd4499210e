"""The backtest math (:mod:`basis_venue_morpho.math`) equals the real Morpho Blue contract (npm
``@morpho-org/morpho-blue`` 1.0.0, solc 0.8.19) on anvil to the wei: market totals, shares, the IRM's rate at
target, positions, reverts and health, over random sequences of supply / borrow / repay / withdraw / time jumps;
and a liquidation's outcome. One deployment per module; each example starts from a snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from basis_venue_morpho import math as mm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basis_core.testing.anvil import AnvilNode

pytestmark = pytest.mark.chain
E18 = 10**18
LLTV = 945 * 10**15
PRICE = 12 * 10**35  # 1.2 loan per collateral, scaled 1e36
MAX = 2**256 - 1


@pytest.fixture(scope="module")
def world(anvil: AnvilNode) -> Iterator[Any]:
    from basis_venue_morpho.testing.deploy import deploy_morpho_market
    from web3 import Web3

    from basis_core.testing.contracts import transact

    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))
    snap0 = anvil.snapshot()
    owner, user, lp, liquidator = w3.eth.accounts[:4]
    world = deploy_morpho_market(w3, owner, LLTV, PRICE)
    for who in (user, lp, liquidator):
        for tok in (world.loan, world.collateral):
            transact(w3, tok.functions.setBalance(who, 10**12 * E18), owner)
            transact(w3, tok.functions.approve(world.morpho.address, MAX), who)
    # the lender's liquidity and the user's collateral
    transact(w3, world.morpho.functions.supply(world.params, 5_000 * E18, 0, lp, b""), lp)
    transact(w3, world.morpho.functions.supplyCollateral(world.params, 1_000 * E18, user, b""), user)
    # a month of interest on some debt, so share prices are no longer round numbers
    transact(w3, world.morpho.functions.borrow(world.params, 1_000 * E18 + 12345, 0, user, user), user)
    anvil.increase_time(30 * 24 * 3600)
    transact(w3, world.morpho.functions.accrueInterest(world.params), owner)
    transact(w3, world.morpho.functions.repay(world.params, 700 * E18, 0, user, b""), user)
    world.accounts = (user, lp, liquidator)
    yield world
    anvil.revert(snap0)


def chain_state(world: Any, who: str) -> tuple[mm.Market, mm.Position]:
    mid = world.market_id
    m = world.morpho.functions.market(mid).call()
    p = world.morpho.functions.position(mid, who).call()
    rat = world.irm.functions.rateAtTarget(mid).call()
    return mm.Market(*m, rate_at_target=rat), mm.Position(*p)


def send(anvil: AnvilNode, world: Any, fn: Any, who: str, at: int) -> bool:
    """Mine ``fn`` from ``who`` at block time ``at``; False when the contract reverts (nothing mined)."""
    from basis_core.testing.contracts import wait_receipt

    try:
        gas = fn.estimate_gas({"from": who})
    except Exception:
        return False
    anvil.rpc("evm_setNextBlockTimestamp", [at])
    wait_receipt(world.w3, fn.transact({"from": who, "gas": gas + 50_000}))
    return True


OPS = st.lists(st.one_of(
    st.tuples(st.just("supply"), st.integers(1, 2_000 * E18)),
    st.tuples(st.just("borrow"), st.integers(1, 900 * E18)),
    st.tuples(st.just("repay"), st.integers(1, 300 * E18)),
    st.tuples(st.just("withdraw"), st.integers(1, 3_000 * E18)),
    st.tuples(st.just("jump"), st.integers(1, 90 * 24 * 3600)),
), min_size=3, max_size=10)


def apply_model(m: mm.Market, p: mm.Position, op: str, amount: int, now: int) -> tuple[mm.Market, mm.Position]:
    m2 = mm.accrue_interest(m, now).market
    assert mm.accrued_market(m, now) == m2  # the backtest's per-step accrual: the same market
    m = m2
    if op == "supply":
        m, p, _, _ = mm.supply(m, p, amount, 0)
    elif op == "borrow":
        m, p, _, _ = mm.borrow(m, p, amount, 0, PRICE, LLTV)
    elif op == "repay":
        m, p, _, _ = mm.repay(m, p, amount, 0)
    else:
        m, p, _, _ = mm.withdraw(m, p, amount, 0)
    return m, p


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_sequences_equal_the_contract_to_the_wei(anvil: AnvilNode, world: Any,
                                                        ops: list[tuple[str, int]]) -> None:
    user = world.accounts[0]
    snap = anvil.snapshot()
    try:
        m, p = chain_state(world, user)
        now = anvil.block_time()
        f = world.morpho.functions
        for op, amount in ops:
            now += 12
            if op == "jump":
                now += amount
                continue
            call = {"supply": lambda a: f.supply(world.params, a, 0, user, b""),
                    "borrow": lambda a: f.borrow(world.params, a, 0, user, user),
                    "repay": lambda a: f.repay(world.params, a, 0, user, b""),
                    "withdraw": lambda a: f.withdraw(world.params, a, 0, user, user)}[op](amount)
            try:
                m2, p2 = apply_model(m, p, op, amount, now)
                expect_ok = True
            except mm.MorphoRevert:
                expect_ok = False
            assert send(anvil, world, call, user, now) == expect_ok, (op, amount)
            if expect_ok:
                m, p = m2, p2
            assert chain_state(world, user) == (m, p), (op, amount)
            assert mm.is_healthy(m, p, PRICE, LLTV)
    finally:
        anvil.revert(snap)


@pytest.mark.parametrize("by", ["seized_assets", "repaid_shares"])
def test_liquidation_outcome_equals_the_contract(anvil: AnvilNode, world: Any, by: str) -> None:
    user, _, liquidator = world.accounts
    snap = anvil.snapshot()
    try:
        from basis_core.testing.contracts import transact

        f = world.morpho.functions
        now = anvil.block_time() + 12
        assert send(anvil, world, f.borrow(world.params, 800 * E18, 0, user, user), user, now)
        transact(world.w3, world.oracle.functions.setPrice(PRICE * 9 // 10), world.owner)  # collateral -10 %
        m, p = chain_state(world, user)
        now = anvil.block_time() + 3600
        m = mm.accrue_interest(m, now).market
        price = PRICE * 9 // 10
        assert not mm.is_healthy(m, p, price, LLTV)
        seized, shares = (400 * E18, 0) if by == "seized_assets" else (0, p.borrow_shares // 3)
        expect = mm.liquidate(m, p, seized, shares, price, LLTV)
        coll0 = world.collateral.functions.balanceOf(liquidator).call()
        loan0 = world.loan.functions.balanceOf(liquidator).call()
        assert send(anvil, world, f.liquidate(world.params, user, seized, shares, b""), liquidator, now)
        assert chain_state(world, user) == (expect.market, expect.borrower)
        assert world.collateral.functions.balanceOf(liquidator).call() - coll0 == expect.seized_assets
        assert loan0 - world.loan.functions.balanceOf(liquidator).call() == expect.repaid_assets
        assert expect.seized_assets * price // 10**36 > expect.repaid_assets  # the incentive
    finally:
        anvil.revert(snap)


def test_a_healthy_position_is_not_liquidatable_on_chain_nor_in_the_math(anvil: AnvilNode, world: Any) -> None:
    user, _, liquidator = world.accounts
    m, p = chain_state(world, user)
    with pytest.raises(mm.MorphoRevert, match="healthy"):
        mm.liquidate(m, p, 1, 0, PRICE, LLTV)
    f = world.morpho.functions
    assert not send(anvil, world, f.liquidate(world.params, user, 1, 0, b""), liquidator, anvil.block_time() + 12)
