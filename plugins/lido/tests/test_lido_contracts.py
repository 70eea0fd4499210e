"""Our stETH / wstETH / withdrawal queue on anvil, against ``rates.py`` and closed forms.

Independent results: the deployed contracts (Solidity integer math) for the share math, and
closed forms chosen so the exact answer is known without the code under test (1:1 share rate,
a 10 % rebase of a 1:1 pool, a request's ETH at a constant rate, gas-exact ETH accounting).
"""

from __future__ import annotations

from typing import Any

import pytest
from basis_venue_lido import rates
from basis_venue_lido.rates import StEthState
from basis_venue_lido.testing.deploy import LidoWorld
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from basis_core.testing.contracts import wait_receipt

ETHER = 10**18
CHAIN_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
# storage slots of StETH.sol (declaration order; constants take none)
SLOT_TOTAL_POOLED_ETHER = 0
SLOT_TOTAL_SHARES = 1


def send(w3: Any, fn: Any, sender: str, value: int = 0) -> Any:
    """Send a transaction and return its receipt (raises if it reverted)."""
    return wait_receipt(w3, fn.transact({"from": sender, "value": value}))


def call_raw(w3: Any, contract: Any, fn: str, args: list[Any], sender: str | None = None,
             value: int = 0) -> tuple[bool, bytes]:
    """``eth_call``: (succeeded, return data or revert data)."""
    tx: dict[str, str] = {"to": contract.address, "data": contract.encode_abi(fn, args=args)}
    if sender:
        tx["from"] = sender
    if value:
        tx["value"] = hex(value)
    resp = w3.provider.make_request("eth_call", [tx, "latest"])
    if "error" in resp:
        return False, bytes.fromhex(str(resp["error"].get("data") or "0x")[2:])
    return True, bytes.fromhex(resp["result"][2:])


def call_uint(w3: Any, contract: Any, fn: str, args: list[Any], **kw: Any) -> int:
    ok, out = call_raw(w3, contract, fn, args, **kw)
    assert ok, out
    return int.from_bytes(out[:32], "big")


def selector(signature: str) -> bytes:
    return bytes(Web3.keccak(text=signature)[:4])


def assert_reverts_with(w3: Any, contract: Any, fn: str, args: list[Any], sender: str, error_sig: str) -> None:
    ok, data = call_raw(w3, contract, fn, args, sender)
    assert not ok and data[:4] == selector(error_sig), data.hex()


def set_share_state(w3: Any, world: LidoWorld, total_pooled: int, total_shares: int) -> None:
    for slot, v in ((SLOT_TOTAL_POOLED_ETHER, total_pooled), (SLOT_TOTAL_SHARES, total_shares)):
        resp = w3.provider.make_request(
            "anvil_setStorageAt", [world.steth.address, hex(slot), "0x" + v.to_bytes(32, "big").hex()])
        assert "error" not in resp, resp


def eth_balance(w3: Any, who: str) -> int:
    return int(w3.eth.get_balance(who))


def gas_cost(receipt: Any) -> int:
    return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])


# ------------------------------------------------------------------ share math vs the contracts

@pytest.mark.chain
def test_share_math_matches_contracts(lido_world: LidoWorld, chain: Any) -> None:
    """For random share rates (stored with anvil_setStorageAt), every conversion the contracts
    expose equals rates.py to the wei, including the shares ``submit`` returns."""
    w3 = lido_world.w3
    st_, wst = lido_world.steth, lido_world.wsteth
    user = w3.eth.accounts[2]

    @CHAIN_SETTINGS
    @given(total_shares=st.integers(10**9, 10**27), rate_ppm=st.integers(500_000, 3_000_000),
           odd=st.integers(0, 10**9), amount=st.integers(1, 10**24))
    def run(total_shares: int, rate_ppm: int, odd: int, amount: int) -> None:
        total_pooled = total_shares * rate_ppm // 1_000_000 + odd
        set_share_state(w3, lido_world, total_pooled, total_shares)
        s = StEthState(total_pooled, total_shares)
        assert call_uint(w3, st_, "getSharesByPooledEth", [amount]) == s.shares_for_eth(amount)
        assert call_uint(w3, st_, "getPooledEthByShares", [amount]) == s.eth_for_shares(amount)
        assert call_uint(w3, wst, "getWstETHByStETH", [amount]) == s.wrap(amount)
        assert call_uint(w3, wst, "getStETHByWstETH", [amount]) == s.unwrap(amount)
        assert call_uint(w3, wst, "stEthPerToken", []) == s.st_eth_per_token()
        assert call_uint(w3, wst, "tokensPerStEth", []) == s.tokens_per_st_eth()
        value = amount % (10**21) + 1  # up to 1000 ETH: the dev account holds 10000
        assert call_uint(w3, st_, "submit", [user], sender=user, value=value) == s.submit(value)[0]

    run()


@pytest.mark.chain
def test_submits_and_transfers_follow_the_share_math(lido_world: LidoWorld, chain: Any) -> None:
    """Real submits, a rebase and transfers: sharesOf / balanceOf / totals equal rates.py."""
    w3 = lido_world.w3
    steth = lido_world.steth
    a, b, c = w3.eth.accounts[1:4]
    holders: dict[str, int] = {}
    state = lido_world.state()
    for who, eth in ((a, 3 * ETHER + 7), (b, 5 * ETHER // 3), (c, 123_456_789)):
        shares, state = state.submit(eth)
        r = send(w3, steth.functions.submit(Web3.to_checksum_address("0x" + "00" * 20)), who, eth)
        assert r["status"] == 1
        holders[who] = holders.get(who, 0) + shares
    # rewards: +0.7 % in an awkward amount of wei
    delta = state.total_pooled_ether * 7 // 1000 + 13
    state = state.rebase(delta)
    send(w3, steth.functions.rebase(delta), lido_world.deployer)
    # a second round of submits at the new share rate
    shares, state = state.submit(2 * ETHER + 1)
    send(w3, steth.functions.submit(a), a, 2 * ETHER + 1)
    holders[a] += shares
    # stETH transfer moves getSharesByPooledEth(amount) shares
    amount = 10**18 + 3
    moved = state.transfer_shares(amount)
    send(w3, steth.functions.transfer(b, amount), a)
    holders[a] -= moved
    holders[b] += moved
    assert lido_world.state() == state
    for who, sh in holders.items():
        assert steth.functions.sharesOf(who).call() == sh
        assert steth.functions.balanceOf(who).call() == state.balance_of(sh)


@pytest.mark.chain
def test_rebase_raises_balances_proportionally(lido_world: LidoWorld, chain: Any) -> None:
    """Closed form: a 1:1 pool (1 ETH bootstrap + 9 ETH) rebased +10 % pays exactly 1.1x."""
    w3 = lido_world.w3
    steth, wst = lido_world.steth, lido_world.wsteth
    a = w3.eth.accounts[1]
    send(w3, steth.functions.submit(a), a, 9 * ETHER)
    assert steth.functions.balanceOf(a).call() == 9 * ETHER
    assert steth.functions.sharesOf(a).call() == 9 * ETHER
    send(w3, steth.functions.setTotalPooledEther(11 * ETHER), lido_world.deployer)
    assert steth.functions.balanceOf(a).call() == 9 * ETHER * 11 // 10
    assert steth.functions.sharesOf(a).call() == 9 * ETHER  # shares never move on a rebase
    assert steth.functions.totalSupply().call() == 11 * ETHER
    assert wst.functions.stEthPerToken().call() == 11 * ETHER // 10
    # a 50 % loss halves every balance
    send(w3, steth.functions.rebase(-(11 * ETHER) // 2), lido_world.deployer)
    assert steth.functions.balanceOf(a).call() == 9 * ETHER * 11 // 20


@pytest.mark.chain
def test_wrap_unwrap_round_trip(lido_world: LidoWorld, chain: Any) -> None:
    """wrap / unwrap amounts equal getWstETHByStETH / getStETHByWstETH and rates.py to the wei;
    at a 1:1 rate the round trip is lossless, at an awkward rate it loses at most 2 wei."""
    w3 = lido_world.w3
    steth, wst = lido_world.steth, lido_world.wsteth
    a = w3.eth.accounts[1]
    send(w3, steth.functions.submit(a), a, 50 * ETHER)
    send(w3, steth.functions.approve(wst.address, 2**256 - 1), a)

    # 1:1: round trip exact (closed form)
    send(w3, wst.functions.wrap(7 * ETHER), a)
    assert wst.functions.balanceOf(a).call() == 7 * ETHER
    send(w3, wst.functions.unwrap(7 * ETHER), a)
    assert steth.functions.balanceOf(a).call() == 50 * ETHER

    # awkward rate: 51 ETH pooled becomes 51 ETH * 1.0123456789 + 1 wei
    state = lido_world.state()
    new_total = state.total_pooled_ether * 10123456789 // 10**10 + 1
    send(w3, steth.functions.setTotalPooledEther(new_total), lido_world.deployer)
    state = lido_world.state()
    x = 3 * ETHER + 12345
    expect_w = wst.functions.getWstETHByStETH(x).call()
    assert expect_w == state.wrap(x) == rates.wrap_amount(x, state.total_pooled_ether, state.total_shares)
    st_before = steth.functions.balanceOf(a).call()
    shares_before = steth.functions.sharesOf(a).call()
    assert call_uint(w3, wst, "wrap", [x], sender=a) == expect_w
    send(w3, wst.functions.wrap(x), a)
    assert wst.functions.balanceOf(a).call() == expect_w
    # the wrapper pulls getSharesByPooledEth(x) shares: exactly the wstETH minted
    assert steth.functions.sharesOf(a).call() == shares_before - expect_w
    assert steth.functions.balanceOf(a).call() == state.balance_of(shares_before - expect_w)
    # closed-form bound: the balance drops by x, or up to 2 wei less (share rounding)
    assert x - 2 <= st_before - steth.functions.balanceOf(a).call() <= x

    expect_st = wst.functions.getStETHByWstETH(expect_w).call()
    assert expect_st == state.unwrap(expect_w)
    assert call_uint(w3, wst, "unwrap", [expect_w], sender=a) == expect_st
    mid = steth.functions.balanceOf(a).call()
    send(w3, wst.functions.unwrap(expect_w), a)
    assert wst.functions.balanceOf(a).call() == 0
    got = steth.functions.balanceOf(a).call() - mid
    assert expect_st - 2 <= got <= expect_st
    assert 0 <= x - expect_st <= 2  # the round trip loses at most 2 wei


@pytest.mark.chain
def test_wsteth_receive_stakes_and_wraps(lido_world: LidoWorld, chain: Any) -> None:
    w3 = lido_world.w3
    a = w3.eth.accounts[1]
    send(w3, lido_world.steth.functions.rebase(ETHER // 3), lido_world.deployer)
    state = lido_world.state()
    wait_receipt(w3, w3.eth.send_transaction({"from": a, "to": lido_world.wsteth.address, "value": ETHER}))
    assert lido_world.wsteth.functions.balanceOf(a).call() == state.submit(ETHER)[0]


# ------------------------------------------------------------------ withdrawal queue

@pytest.mark.chain
def test_withdrawal_lifecycle(lido_world: LidoWorld, chain: Any, anvil: Any) -> None:
    """Not claimable before finalize; finalize waits for the delay; the ETH received equals the
    request at a constant 1:1 rate (closed form, gas accounted exactly); a second claim reverts."""
    w3 = lido_world.w3
    steth, q = lido_world.steth, lido_world.queue
    a, other = w3.eth.accounts[1], w3.eth.accounts[2]
    send(w3, steth.functions.submit(a), a, 10 * ETHER)
    send(w3, steth.functions.approve(q.address, 2**256 - 1), a)
    send(w3, q.functions.setFinalizationDelay(3600), lido_world.deployer)

    amounts = [ETHER, 2 * ETHER + 5]
    ids = q.functions.requestWithdrawals(amounts, a).call({"from": a})
    send(w3, q.functions.requestWithdrawals(amounts, a), a)
    assert ids == [1, 2]
    assert q.functions.getWithdrawalRequests(a).call() == ids
    assert steth.functions.balanceOf(a).call() == 10 * ETHER - sum(amounts)
    assert steth.functions.sharesOf(q.address).call() == sum(amounts)
    statuses = q.functions.getWithdrawalStatus(ids).call()
    for (st_amt, shares, owner, ts, fin, claimed), amt in zip(statuses, amounts, strict=True):
        assert (st_amt, shares, owner, fin, claimed) == (amt, amt, a, False, False)
        assert ts > 0

    assert_reverts_with(w3, q, "claimWithdrawal", [1], a, "RequestNotFoundOrNotFinalized(uint256)")
    assert_reverts_with(w3, q, "finalize", [2], lido_world.deployer, "TooEarlyToFinalize(uint256,uint256)")
    anvil.increase_time(3600)
    supply_before = steth.functions.totalSupply().call()
    send(w3, q.functions.finalize(2), lido_world.deployer)
    assert q.functions.getLastFinalizedRequestId().call() == 2
    assert q.functions.getClaimableEther(ids, [1, 1]).call() == amounts
    assert steth.functions.totalSupply().call() == supply_before - sum(amounts)
    assert eth_balance(w3, q.address) == sum(amounts)

    assert_reverts_with(w3, q, "claimWithdrawal", [1], other, "NotOwner(address,address)")
    before = eth_balance(w3, a)
    receipt = send(w3, q.functions.claimWithdrawal(1), a)
    assert eth_balance(w3, a) == before + amounts[0] - gas_cost(receipt)
    assert_reverts_with(w3, q, "claimWithdrawal", [1], a, "RequestAlreadyClaimed(uint256)")
    assert q.functions.getWithdrawalStatus([1]).call()[0][5] is True
    assert q.functions.getWithdrawalRequests(a).call() == [2]

    before_other = eth_balance(w3, other)
    send(w3, q.functions.claimWithdrawalsTo([2], [1], other), a)
    assert eth_balance(w3, other) == before_other + amounts[1]
    assert eth_balance(w3, q.address) == 0


@pytest.mark.chain
def test_withdrawal_after_rebases_matches_rates(lido_world: LidoWorld, chain: Any) -> None:
    """A loss between request and finalization discounts the claim to the shares' value; a gain
    does not add to it (Lido's rule) - both equal StEthState.finalize; wstETH requests unwrap first."""
    w3 = lido_world.w3
    steth, wst, q = lido_world.steth, lido_world.wsteth, lido_world.queue
    a = w3.eth.accounts[1]
    dep = lido_world.deployer
    send(w3, steth.functions.submit(a), a, 30 * ETHER)
    send(w3, steth.functions.approve(q.address, 2**256 - 1), a)
    send(w3, steth.functions.approve(wst.address, 2**256 - 1), a)
    send(w3, wst.functions.approve(q.address, 2**256 - 1), a)
    send(w3, steth.functions.rebase(ETHER // 7), dep, value=ETHER)  # gain, with ETH to back it
    send(w3, wst.functions.wrap(4 * ETHER), a)

    send(w3, q.functions.requestWithdrawals([5 * ETHER + 1], a), a)
    w_amt = 2 * ETHER + 17
    state = lido_world.state()
    st_from_w = state.unwrap(w_amt)
    send(w3, q.functions.requestWithdrawalsWstETH([w_amt], a), a)
    reqs = [(s[0], s[1]) for s in q.functions.getWithdrawalStatus([1, 2]).call()]
    assert reqs[1] == (st_from_w, lido_world.state().shares_for_eth(st_from_w))
    assert reqs[0][1] == state.shares_for_eth(5 * ETHER + 1)

    send(w3, steth.functions.rebase(-(ETHER // 2) - 3), dep)  # loss: claims are discounted
    state = lido_world.state()
    locked, after = state.finalize(reqs[:1])
    assert locked[0] < reqs[0][0]
    send(w3, q.functions.finalize(1), dep)
    assert lido_world.state() == after
    send(w3, steth.functions.rebase(ETHER), dep, value=ETHER)  # gain after: request 2 gets no upside
    state = lido_world.state()
    locked2, after2 = state.finalize(reqs[1:])
    assert locked2[0] == reqs[1][0]
    send(w3, q.functions.finalize(2), dep)
    assert lido_world.state() == after2
    assert q.functions.getClaimableEther([1, 2], [1, 1]).call() == [locked[0], locked2[0]]

    before = eth_balance(w3, a)
    receipt = send(w3, q.functions.claimWithdrawals([1, 2], [1, 1]), a)
    assert eth_balance(w3, a) == before + locked[0] + locked2[0] - gas_cost(receipt)


@pytest.mark.chain
def test_request_limits_and_admin_only(lido_world: LidoWorld, chain: Any) -> None:
    w3 = lido_world.w3
    steth, q = lido_world.steth, lido_world.queue
    a = w3.eth.accounts[1]
    send(w3, steth.functions.submit(a), a, 2000 * ETHER)
    send(w3, steth.functions.approve(q.address, 2**256 - 1), a)
    assert_reverts_with(w3, q, "requestWithdrawals", [[99], a], a, "RequestAmountTooSmall(uint256)")
    assert_reverts_with(w3, q, "requestWithdrawals", [[1000 * ETHER + 1], a], a,
                        "RequestAmountTooLarge(uint256)")
    send(w3, q.functions.requestWithdrawals([100], a), a)
    ok, _ = call_raw(w3, q, "finalize", [1], a)
    assert not ok  # only the owner finalizes
    ok, _ = call_raw(w3, steth, "rebase", [1], a)
    assert not ok  # only the owner reports
    assert rates.MIN_STETH_WITHDRAWAL_AMOUNT == q.functions.MIN_STETH_WITHDRAWAL_AMOUNT().call()
    assert rates.MAX_STETH_WITHDRAWAL_AMOUNT == q.functions.MAX_STETH_WITHDRAWAL_AMOUNT().call()
