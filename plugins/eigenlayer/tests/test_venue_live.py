"""The eigenlayer venue in live mode against our EigenLayer contracts on anvil (EigenLayer's ABI), through the
manager, and the plugin's StrategyBase share math against the deployed strategy.

Independent results: the token's and the StrategyManager's balances / deposit shares read from the chain before
and after each instruction, receipts' gas, the DelegationManager's own queue, delegation and block numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from basis_venue_eigenlayer import shares as sm
from basis_venue_eigenlayer.testing.deploy import EigenWorld
from basis_venue_eigenlayer.venue import EigenLayerVenue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basis_core import ExecutionInterfaceManager
from basis_core.errors import InstructionError, InsufficientFundsError
from basis_core.testing.chain import gas_paid_wei
from basis_core.testing.contracts import wait_receipt

from .conftest import DELAY_BLOCKS, USER_INDEX, USER_KEY

D = Decimal
TS = pd.Timestamp("2025-03-01T00:00:00Z")


def live(world: EigenWorld, **opts: Any) -> ExecutionInterfaceManager:
    cfg = {"execution_mode": "live", "autoload": False,
           "venue_config": {"eigenlayer": {"rpc_url": world.w3.provider.endpoint_uri, "private_key": USER_KEY,
                                           "deployment_table": world.deployment_table(), **opts}}}
    return ExecutionInterfaceManager(cfg, plugins=[EigenLayerVenue])


def snapshot(world: EigenWorld, user: str) -> dict[str, int]:
    w3 = world.w3
    return {"nonce": w3.eth.get_transaction_count(user), "ETH": w3.eth.get_balance(user),
            "stETH": world.tokens["stETH"].functions.balanceOf(user).call(),
            "shares": world.strategy_manager.functions.stakerDepositShares(
                user, world.strategies["stETH"].address).call(),
            "queued": world.delegation.functions.cumulativeWithdrawalsQueued(user).call()}


def gas_of(world: EigenWorld, d: Any) -> int:
    return gas_paid_wei(world.w3, d)


def test_live_deposit_delegate_queue_complete(eigen_world: EigenWorld, chain: Any) -> None:
    """Deltas are the chain's changes; the first deposit delegates to the configured operator; a completion before
    minWithdrawalDelayBlocks is refused naming the request and sends nothing; after it the tokens come back."""
    world = eigen_world
    w3 = world.w3
    user = w3.eth.accounts[USER_INDEX]
    strategy = world.strategies["stETH"]
    # someone else's deposit and a donation first, so the share rate is not 1:1
    other = w3.eth.accounts[6]
    token = world.tokens["stETH"]
    wait_receipt(w3, token.functions.mint(other, 10**21).transact({"from": world.deployer}))
    wait_receipt(w3, token.functions.approve(world.strategy_manager.address, 7 * 10**18).transact({"from": other}))
    wait_receipt(w3, world.strategy_manager.functions.depositIntoStrategy(strategy.address, token.address, 7 * 10**18)
                 .transact({"from": other}))
    wait_receipt(w3, token.functions.transfer(strategy.address, 1_234_567_890_123_456_789).transact({"from": other}))
    m = live(world, operator=world.operator)
    nonce0 = snapshot(world, user)["queued"]
    for step in ({"operation": "stake", "asset": "stETH", "amount": "10"},
                 {"operation": "stake", "asset": "stETH", "amount": "2.5"},
                 {"operation": "unstake", "action": "request", "asset": "stETH", "amount": "4"}):
        before = snapshot(world, user)
        d = m.execute(TS, {"venue": "eigenlayer", **step})
        after = snapshot(world, user)
        want = {"ethereum:wallet:ETH": D(after["ETH"] - before["ETH"]).scaleb(-18)}
        if after["stETH"] != before["stETH"]:
            want["ethereum:wallet:stETH"] = D(after["stETH"] - before["stETH"]).scaleb(-18)
        if after["shares"] != before["shares"]:
            want["eigenlayer:position:stETH"] = D(after["shares"] - before["shares"]).scaleb(-18)
        if step.get("action") == "request":
            assert d.details["request_id"] == str(nonce0) and after["queued"] == before["queued"] + 1
            want[f"eigenlayer:withdrawal:{nonce0}"] = D(4)
        assert dict(d.positions) == want, step
        assert after["ETH"] - before["ETH"] == -gas_of(world, d)
    assert world.delegation.functions.delegatedTo(user).call() == world.operator
    assert world.delegation.functions.getOperatorShares(world.operator, [strategy.address]).call() == [
        snapshot(world, user)["shares"]]
    bal = m.get_balances(TS, "eigenlayer")
    rid = str(nonce0)
    assert bal[f"eigenlayer:withdrawal:{rid}"] == 4 and bal[f"eigenlayer:metric:claimable:{rid}"] == 0
    assert bal["eigenlayer:metric:delegated"] == 1
    completable = int(bal[f"eigenlayer:metric:completable_block:{rid}"])
    assert completable == d.details["start_block"] + DELAY_BLOCKS + 1
    # too early: refused before anything is sent
    world.mine(completable - w3.eth.block_number - 1)  # the head is one block short of completable
    before = snapshot(world, user)
    with pytest.raises(InstructionError) as info:
        m.execute(TS, {"venue": "eigenlayer", "operation": "unstake", "action": "claim", "request_id": rid})
    assert info.value.field == "request_id" and "WithdrawalDelayNotElapsed" in str(info.value)
    assert snapshot(world, user) == before
    world.mine(1)
    want_out = strategy.functions.sharesToUnderlyingView(4 * 10**18).call()
    d = m.execute(TS, {"venue": "eigenlayer", "operation": "unstake", "action": "claim", "request_id": rid})
    after = snapshot(world, user)
    assert after["stETH"] - before["stETH"] == want_out
    assert dict(d.positions) == {f"eigenlayer:withdrawal:{rid}": D(-4),
                                 "ethereum:wallet:stETH": D(want_out).scaleb(-18),
                                 "ethereum:wallet:ETH": D(after["ETH"] - before["ETH"]).scaleb(-18)}
    assert d.status == "claimed" and not world.delegation.functions.getQueuedWithdrawalRoots(user).call()
    with pytest.raises(InstructionError) as info:
        m.execute(TS, {"venue": "eigenlayer", "operation": "unstake", "action": "claim", "request_id": rid})
    assert info.value.field == "request_id"


def test_live_refusals_change_nothing(eigen_world: EigenWorld, chain: Any) -> None:
    world = eigen_world
    user = world.w3.eth.accounts[USER_INDEX]
    m = live(world)
    before = snapshot(world, user)
    for ins, err, field in [
        ({"operation": "stake", "asset": "stETH", "amount": "5000"}, InsufficientFundsError, "amount"),
        ({"operation": "stake", "asset": "rETH", "amount": "1"}, InstructionError, "asset"),
        ({"operation": "unstake", "action": "request", "asset": "stETH", "amount": "1"}, InsufficientFundsError,
         "amount"),
        ({"operation": "unstake", "action": "claim", "request_id": "99"}, InstructionError, "request_id"),
        ({"operation": "unstake", "action": "unwrap", "asset": "stETH", "amount": "1"}, InstructionError, "action"),
    ]:
        with pytest.raises(err) as info:
            m.execute(TS, {"venue": "eigenlayer", **ins})
        assert info.value.field == field, ins
    assert snapshot(world, user) == before


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=st.integers(min_value=1, max_value=10**21), donation=st.integers(min_value=0, max_value=10**21),
       amount=st.integers(min_value=1, max_value=10**21), out_frac=st.integers(min_value=1, max_value=100))
def test_share_math_equals_the_contract(eigen_world: EigenWorld, chain: Any, first: int, donation: int, amount: int,
                                        out_frac: int) -> None:
    """shares.StrategyState predicts the deployed StrategyBase: deposit shares (virtual offsets, rounding down, the
    NewSharesZero refusal), sharesToUnderlyingView, and the tokens a completed withdrawal pays."""
    world = eigen_world
    w3 = world.w3
    token, strategy, mgr = world.tokens["stETH"], world.strategies["stETH"], world.strategy_manager
    user = w3.eth.accounts[USER_INDEX]
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        wait_receipt(w3, token.functions.approve(mgr.address, 2**256 - 1).transact({"from": user}))
        state = sm.StrategyState(int(strategy.functions.totalShares().call()),
                                 int(token.functions.balanceOf(strategy.address).call()))
        first_shares, state = state.deposit(first)
        wait_receipt(w3, mgr.functions.depositIntoStrategy(strategy.address, token.address, first).transact(
            {"from": user}))
        assert mgr.functions.stakerDepositShares(user, strategy.address).call() == first_shares
        if donation:
            wait_receipt(w3, token.functions.transfer(strategy.address, donation).transact({"from": user}))
            state = state.rebase(state.balance + donation)
        assert (int(strategy.functions.totalShares().call()), int(token.functions.balanceOf(strategy.address).call())
                ) == (state.total_shares, state.balance)
        assert state.to_underlying(amount) == strategy.functions.sharesToUnderlyingView(amount).call()
        assert sm.underlying_to_shares(amount, state.total_shares, state.balance) == \
            strategy.functions.underlyingToSharesView(amount).call()
        try:
            minted, state = state.deposit(amount)
        except ValueError:
            with pytest.raises(Exception, match=bytes(w3.keccak(text="NewSharesZero()")[:4]).hex()):
                mgr.functions.depositIntoStrategy(strategy.address, token.address, amount).call({"from": user})
            minted = 0
        else:
            before = mgr.functions.stakerDepositShares(user, strategy.address).call()
            wait_receipt(w3, mgr.functions.depositIntoStrategy(strategy.address, token.address, amount).transact(
                {"from": user}))
            assert mgr.functions.stakerDepositShares(user, strategy.address).call() - before == minted
        held = mgr.functions.stakerDepositShares(user, strategy.address).call()
        out_shares = max(1, held * out_frac // 100)
        want, state = state.withdraw(out_shares)
        dm = world.delegation
        wait_receipt(w3, dm.functions.queueWithdrawals([([strategy.address], [out_shares], user)]).transact(
            {"from": user}))
        [w], _ = dm.functions.getQueuedWithdrawals(user).call()
        world.mine(DELAY_BLOCKS + 1)
        b0 = token.functions.balanceOf(user).call()
        wait_receipt(w3, dm.functions.completeQueuedWithdrawal(w, [token.address], True).transact({"from": user}))
        assert token.functions.balanceOf(user).call() - b0 == want
        assert int(strategy.functions.totalShares().call()) == state.total_shares
    finally:
        w3.provider.make_request("evm_revert", [snap])
