"""The etherfi venue in live mode against our EtherFi contracts on anvil (EtherFi's ABI), through the manager,
and the plugin's share math against the deployed contracts.

Independent results: balances read from the chain before / after each instruction (eETH, weETH, WETH, ETH),
receipts' gas, the queue's own request ids, finalization and claimable amounts, and the contracts' views.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from basis_venue_etherfi import rates
from basis_venue_etherfi.testing.deploy import EtherFiWorld
from basis_venue_etherfi.venue import EtherFiVenue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from basis_core import ExecutionInterfaceManager
from basis_core.errors import InstructionError, InsufficientFundsError
from basis_core.testing.chain import gas_paid_wei
from basis_core.testing.contracts import wait_receipt
from basis_core.transit import in_transit

from .conftest import FINALIZATION_DELAY

D = Decimal
TS = pd.Timestamp("2025-03-01T00:00:00Z")
USER_INDEX = 4  # anvil's default account 4 (basis_core.testing.anvil.ANVIL_KEYS lists the first three)
USER_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"


def live(world: EtherFiWorld, weth: Any) -> ExecutionInterfaceManager:
    table = {**world.deployment_table(), "WETH": weth.address}
    cfg = {"execution_mode": "live", "autoload": False,
           "venue_config": {"etherfi": {"rpc_url": world.w3.provider.endpoint_uri, "private_key": USER_KEY,
                                        "deployment_table": table}}}
    return ExecutionInterfaceManager(cfg, plugins=[EtherFiVenue])


def snapshot(world: EtherFiWorld, weth: Any, user: str) -> dict[str, int]:
    w3 = world.w3
    return {"nonce": w3.eth.get_transaction_count(user), "ETH": w3.eth.get_balance(user),
            "eETH": world.eeth.functions.balanceOf(user).call(),
            "weETH": world.weeth.functions.balanceOf(user).call(), "WETH": weth.functions.balanceOf(user).call()}


def gas_of(world: EtherFiWorld, d: Any) -> int:
    return gas_paid_wei(world.w3, d)


def test_live_deltas_are_the_chains_balance_changes_and_the_queue_delay_holds(
        etherfi_world: EtherFiWorld, etherfi_weth: Any, chain: Any) -> None:
    """Each instruction's deltas are the chain's balance changes; the NFT's ids come back as request_id; a claim
    before finalization is refused naming the request and sends nothing; the queue cannot be finalized before
    its delay; after it, each claim pays getClaimableAmount in ETH."""
    world, weth = etherfi_world, etherfi_weth
    w3 = world.w3
    user = w3.eth.accounts[USER_INDEX]
    wait_receipt(w3, weth.functions.deposit().transact({"from": user, "value": 2 * 10**18}))
    world.rebase(73_112_345_678_901_234)  # an awkward rate: 1 ETH bootstrap -> 1.0731... ETH per share
    m = live(world, weth)
    steps = [
        {"operation": "stake", "asset": "ETH", "amount": "3", "receive": "eETH"},
        {"operation": "stake", "asset": "ETH", "amount": "2", "receive": "weETH"},
        {"operation": "stake", "asset": "WETH", "amount": "1.5", "receive": "weETH"},
        {"operation": "stake", "asset": "eETH", "amount": "1", "receive": "weETH"},
        {"operation": "unstake", "action": "unwrap", "asset": "weETH", "amount": "0.5"},
        {"operation": "unstake", "action": "request", "asset": "eETH", "amount": "1.25"},
        {"operation": "unstake", "action": "request", "asset": "weETH", "amount": "0.75"},
    ]
    ids = []
    for step in steps:
        before = snapshot(world, weth, user)
        d = m.execute(TS, {"venue": "etherfi", **step})
        after = snapshot(world, weth, user)
        want = {f"ethereum:wallet:{k}": D(after[k] - before[k]).scaleb(-18) for k in ("eETH", "weETH", "WETH")
                if after[k] != before[k]}
        want["ethereum:wallet:ETH"] = D(after["ETH"] - before["ETH"]).scaleb(-18)
        if step.get("action") == "request":
            rid = d.details["request_id"]
            ids.append(rid)
            req = world.nft.functions.getRequest(int(rid)).call()
            assert world.nft.functions.ownerOf(int(rid)).call() == user
            want[f"etherfi:withdrawal:{rid}"] = D(req[0]).scaleb(-18)
            assert d.status == "requested"
        assert dict(d.positions) == want, step
        assert after["ETH"] - before["ETH"] == -gas_of(world, d) - (
            int(D(step["amount"]) * 10**18) if step.get("asset") == "ETH" else 0)
    assert ids == ["1", "2"] or [int(i) for i in ids] == sorted(int(i) for i in ids)
    bal = m.get_balances(TS, "etherfi")
    assert bal[f"etherfi:withdrawal:{ids[0]}"] == D("1.25") and bal[f"etherfi:metric:claimable:{ids[0]}"] == 0
    assert bal["etherfi:metric:eeth_per_weeth"] == D(world.weeth.functions.getRate().call()).scaleb(-18)

    def queued() -> dict[str, tuple[Decimal, bool]]:  # capital in transit: the NFT's open requests on chain
        return {q["transfer_id"]: (q["amount"], q["claimable"]) for q in in_transit(m, TS, queues=True)}

    locked = {rid: D(world.nft.functions.getRequest(int(rid)).call()[0]).scaleb(-18) for rid in ids}
    assert queued() == {f"etherfi:{rid}": (locked[rid], False) for rid in ids}

    # not finalized: refused before anything is sent, nothing changes
    before = snapshot(world, weth, user)
    with pytest.raises(InstructionError) as info:
        m.execute(TS, {"venue": "etherfi", "operation": "unstake", "action": "claim", "request_id": ids[0]})
    assert info.value.field == "request_id" and "not finalized" in str(info.value)
    assert snapshot(world, weth, user) == before
    # the queue itself refuses to finalize before the delay (our NFT's TooEarlyToFinalize)
    too_early = bytes(Web3.keccak(text="TooEarlyToFinalize(uint256,uint256)")[:4]).hex()
    with pytest.raises(Exception, match=too_early):
        world.finalize(int(ids[-1]))
    w3.provider.make_request("evm_increaseTime", [FINALIZATION_DELAY])
    w3.provider.make_request("evm_mine", [])
    world.rebase(-1_000_000_000_000)  # a small loss before finalization: the requests bear it
    world.finalize(int(ids[-1]))
    assert queued() == {f"etherfi:{rid}": (locked[rid], True) for rid in ids}  # finalized: claimable
    for rid in ids:
        req = world.nft.functions.getRequest(int(rid)).call()
        claimable = world.nft.functions.getClaimableAmount(int(rid)).call()
        before = snapshot(world, weth, user)
        d = m.execute(TS, {"venue": "etherfi", "operation": "unstake", "action": "claim", "request_id": rid})
        after = snapshot(world, weth, user)
        assert after["ETH"] - before["ETH"] + gas_of(world, d) == claimable
        assert dict(d.positions) == {f"etherfi:withdrawal:{rid}": -D(req[0]).scaleb(-18),
                                     "ethereum:wallet:ETH": D(after["ETH"] - before["ETH"]).scaleb(-18)}
        assert d.status == "claimed" and d.details["amount_of_eth"] == D(claimable).scaleb(-18)
    assert not any(k.startswith("etherfi:withdrawal:") for k in m.get_balances(TS, "etherfi"))
    assert queued() == {}  # claimed: arrived in the wallet
    with pytest.raises(InstructionError) as info:  # claimed already
        m.execute(TS, {"venue": "etherfi", "operation": "unstake", "action": "claim", "request_id": ids[0]})
    assert info.value.field == "request_id"


def test_live_refusals_change_nothing(etherfi_world: EtherFiWorld, etherfi_weth: Any, chain: Any) -> None:
    world, weth = etherfi_world, etherfi_weth
    user = world.w3.eth.accounts[USER_INDEX]
    m = live(world, weth)
    before = snapshot(world, weth, user)
    for ins, err, field in [
        ({"operation": "stake", "asset": "eETH", "amount": "1", "receive": "weETH"}, InsufficientFundsError, "amount"),
        ({"operation": "stake", "asset": "ZZZ", "amount": "1"}, InstructionError, "asset"),
        ({"operation": "stake", "asset": "ETH", "amount": "1", "receive": "stETH"}, InstructionError, "receive"),
        ({"operation": "unstake", "action": "request", "asset": "weETH", "amount": "1"}, InsufficientFundsError,
         "amount"),
        ({"operation": "unstake", "action": "claim", "request_id": "999"}, InstructionError, "request_id"),
        ({"operation": "unstake", "action": "claim", "request_id": "abc"}, InstructionError, "request_id"),
    ]:
        with pytest.raises(err) as info:
            m.execute(TS, {"venue": "etherfi", **ins})
        assert info.value.field == field, ins
    assert snapshot(world, weth, user) == before


def _call(world: EtherFiWorld, contract: Any, fn: str, *args: Any) -> int:
    return int(getattr(contract.functions, fn)(*args).call())


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rewards=st.integers(min_value=-5 * 10**17, max_value=3 * 10**18),
       amount=st.integers(min_value=1, max_value=10**22))
def test_share_math_equals_the_contracts(etherfi_world: EtherFiWorld, chain: Any, rewards: int, amount: int) -> None:
    """rates.PoolState at the chain's (pooled, shares) gives the contracts' sharesForAmount, amountForShare,
    sharesForWithdrawalAmount, amountPerShareCeil, getRate, and a deposit's minted shares, for random rebases."""
    world = etherfi_world
    w3 = world.w3
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        world.rebase(10**18 + rewards)  # (a loss can only come out of the ETH outside the pool: start with some)
        pooled, shares = world.pooled_and_shares()
        pool = rates.PoolState(pooled, shares)
        assert pool.wrap(amount) == _call(world, world.pool, "sharesForAmount", amount)
        assert pool.unwrap(amount) == _call(world, world.pool, "amountForShare", amount)
        assert rates.shares_for_withdrawal_amount(amount, pooled, shares) == _call(
            world, world.pool, "sharesForWithdrawalAmount", amount)
        assert rates.amount_per_share_ceil(pooled, shares) == _call(world, world.pool, "amountPerShareCeil")
        assert pool.rate() == _call(world, world.weeth, "getRate")
        user = w3.eth.accounts[USER_INDEX]
        try:
            minted, after = pool.deposit(amount)
        except ValueError:  # no share for the amount: the pool reverts InvalidAmount()
            with pytest.raises(Exception, match=bytes(Web3.keccak(text="InvalidAmount()")[:4]).hex()):
                world.pool.functions.deposit().call({"from": user, "value": amount})
            return
        s0 = _call(world, world.eeth, "shares", user)
        wait_receipt(w3, world.pool.functions.deposit().transact({"from": user, "value": amount}))
        assert _call(world, world.eeth, "shares", user) - s0 == minted
        assert world.pooled_and_shares() == (after.pooled, after.total_shares)
        assert after.balance_of(_call(world, world.eeth, "shares", user)) == _call(world, world.eeth, "balanceOf", user)
    finally:
        w3.provider.make_request("evm_revert", [snap])
