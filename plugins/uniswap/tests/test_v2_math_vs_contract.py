"""v2_math against the deployed Uniswap v2 contracts (npm artifacts on anvil), to the wei.

Independent results: ``UniswapV2Router02.getAmountsOut / getAmountsIn`` (eth_call), and the balance
and reserve changes of real ``swapExactTokensForTokens`` / ``addLiquidity`` / ``removeLiquidity``
transactions.
"""

from __future__ import annotations

from typing import Any

import pytest
from basis_venue_uniswap import v2_math
from basis_venue_uniswap.testing.deploy import DEADLINE, UniswapWorld
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basis_core.testing.anvil import AnvilNode
from basis_core.testing.contracts import transact

pytestmark = pytest.mark.chain

SYMBOLS = ("WETH", "USDC")


def log_uniform(max_value: int) -> st.SearchStrategy[int]:
    """Integers in [1, max_value], spread evenly over orders of magnitude (dust to max)."""
    return st.integers(0, max_value.bit_length()).flatmap(lambda b: st.integers(1, max(1, min(max_value, 2**b))))


def reserves(world: UniswapWorld, sym_in: str, sym_out: str) -> tuple[int, int]:
    pair = world.v2_pairs.get(f"{sym_in}/{sym_out}") or world.v2_pairs[f"{sym_out}/{sym_in}"]
    r0, r1, _ = pair.functions.getReserves().call()
    token0 = pair.functions.token0().call()
    return (r0, r1) if token0 == world.address(sym_in) else (r1, r0)


def balance(world: UniswapWorld, sym: str, who: str) -> int:
    return int(world.tokens[sym].functions.balanceOf(who).call())


def test_pure_math_known_values() -> None:
    # closed forms by hand: 1 in at 1000/1000 -> floor(997*1000 / (1000*1000 + 997)) = 0
    assert v2_math.get_amount_out(1, 1000, 1000) == 0
    assert v2_math.get_amount_out(100, 1000, 1000) == 99700 * 1000 // (1000 * 1000 + 99700) == 90
    assert v2_math.get_amount_in(90, 1000, 1000) == 1000 * 90 * 1000 // (910 * 997) + 1 == 100
    assert v2_math.quote(5, 10, 30) == 15
    assert v2_math.mint_liquidity(4_000_000, 1_000_000, 0, 0, 0) == 2_000_000 - 1000
    assert v2_math.burn_amounts(10, 1000, 3000, 100) == (100, 300)
    with pytest.raises(ValueError, match="INSUFFICIENT_INPUT_AMOUNT"):
        v2_math.get_amount_out(0, 1, 1)
    with pytest.raises(ValueError, match="INSUFFICIENT_LIQUIDITY"):
        v2_math.get_amount_in(1000, 1000, 1000)
    with pytest.raises(ValueError, match="INSUFFICIENT_LIQUIDITY_MINTED"):
        v2_math.mint_liquidity(1, 10**30, 10**19, 10**18, 10**18)


@pytest.fixture(scope="module")
def v2_reserves(uniswap_world: UniswapWorld) -> dict[tuple[str, str], tuple[int, int]]:
    """Reserves read once (eth_call tests do not change state; transacting tests revert theirs)."""
    return {(a, b): reserves(uniswap_world, a, b) for a, b in (SYMBOLS, SYMBOLS[::-1])}


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_get_amount_out_and_in_equal_router(
    uniswap_world: UniswapWorld, v2_reserves: dict[tuple[str, str], tuple[int, int]], data: st.DataObject
) -> None:
    world = uniswap_world
    sym_in, sym_out = data.draw(st.sampled_from([SYMBOLS, SYMBOLS[::-1]]))
    r_in, r_out = v2_reserves[(sym_in, sym_out)]
    path = [world.address(sym_in), world.address(sym_out)]
    router = world.v2_router.functions

    amount_in = data.draw(log_uniform(3 * r_in), label="amount_in")
    expected_out = router.getAmountsOut(amount_in, path).call()[1]
    assert v2_math.get_amount_out(amount_in, r_in, r_out) == expected_out

    amount_out = data.draw(log_uniform(r_out - 1), label="amount_out")
    expected_in = router.getAmountsIn(amount_out, path).call()[0]
    assert v2_math.get_amount_in(amount_out, r_in, r_out) == expected_in


@settings(max_examples=60, deadline=None)
@given(amount_in=log_uniform(500_000 * 10**6))
def test_two_hop_amounts_equal_router(uniswap_world: UniswapWorld, amount_in: int) -> None:
    world = uniswap_world
    hops = [reserves(world, "USDC", "WETH"), reserves(world, "WETH", "DAI")]
    path = [world.address(s) for s in ("USDC", "WETH", "DAI")]
    expected = world.v2_router.functions.getAmountsOut(amount_in, path).call()
    try:
        mine = v2_math.get_amounts_out(amount_in, hops)
    except ValueError:  # an intermediate amount rounded to 0: the router reverts as well
        with pytest.raises(Exception):  # noqa: B017 - web3's ContractLogicError
            world.v2_router.functions.getAmountsOut(amount_in, path).call()
        return
    assert mine == expected


def test_router_reverts_where_math_raises(uniswap_world: UniswapWorld) -> None:
    world = uniswap_world
    r_in, r_out = reserves(world, "WETH", "USDC")
    path = [world.address("WETH"), world.address("USDC")]
    with pytest.raises(ValueError):
        v2_math.get_amount_in(r_out, r_in, r_out)
    with pytest.raises(Exception):  # noqa: B017
        world.v2_router.functions.getAmountsIn(r_out, path).call()


SWAP_SETTINGS = settings(max_examples=20, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture])


@SWAP_SETTINGS
@given(data=st.data())
def test_real_swap_balance_changes(uniswap_world: UniswapWorld, chain: AnvilNode, data: st.DataObject) -> None:
    world = uniswap_world
    w3 = world.w3
    recipient = w3.eth.accounts[1]
    sym_in, sym_out = data.draw(st.sampled_from([SYMBOLS, SYMBOLS[::-1]]))
    snap = chain.snapshot()
    try:
        r_in, r_out = reserves(world, sym_in, sym_out)
        amount_in = data.draw(log_uniform(r_in), label="amount_in")
        predicted = v2_math.get_amount_out(amount_in, r_in, r_out)
        if predicted == 0:
            return  # the pair would revert (INSUFFICIENT_OUTPUT_AMOUNT); covered by the eth_call test
        spent_before = balance(world, sym_in, world.deployer)
        got_before = balance(world, sym_out, recipient)
        transact(w3, world.v2_router.functions.swapExactTokensForTokens(
            amount_in, predicted, [world.address(sym_in), world.address(sym_out)], recipient, DEADLINE,
        ), sender=world.deployer)
        assert balance(world, sym_out, recipient) - got_before == predicted
        assert spent_before - balance(world, sym_in, world.deployer) == amount_in
        assert reserves(world, sym_in, sym_out) == (r_in + amount_in, r_out - predicted)
    finally:
        chain.revert(snap)


def _pair_state(world: UniswapWorld, name: str) -> tuple[Any, int, int, int]:
    pair = world.v2_pairs[name]
    r0, r1, _ = pair.functions.getReserves().call()
    return pair, r0, r1, int(pair.functions.totalSupply().call())


@SWAP_SETTINGS
@given(weth=st.integers(1, 50 * 10**18), usdc=st.integers(1, 100_000 * 10**6), burn_frac=st.integers(1, 10**6))
def test_real_add_and_remove_liquidity(
    uniswap_world: UniswapWorld, chain: AnvilNode, weth: int, usdc: int, burn_frac: int
) -> None:
    world = uniswap_world
    w3 = world.w3
    me = world.deployer
    snap = chain.snapshot()
    try:
        pair, r0, r1, supply = _pair_state(world, "WETH/USDC")
        token0_is_weth = pair.functions.token0().call() == world.address("WETH")
        r_weth, r_usdc = (r0, r1) if token0_is_weth else (r1, r0)
        try:
            a_weth, a_usdc = v2_math.optimal_add_amounts(weth, usdc, r_weth, r_usdc)
            a0, a1 = (a_weth, a_usdc) if token0_is_weth else (a_usdc, a_weth)
            minted = v2_math.mint_liquidity(a0, a1, r0, r1, supply)
        except ValueError:
            with pytest.raises(Exception):  # noqa: B017 - the router / pair revert as well
                world.v2_router.functions.addLiquidity(
                    world.address("WETH"), world.address("USDC"), weth, usdc, 0, 0, me, DEADLINE
                ).call({"from": me})
            return
        lp_before = int(pair.functions.balanceOf(me).call())
        weth_before, usdc_before = balance(world, "WETH", me), balance(world, "USDC", me)
        transact(w3, world.v2_router.functions.addLiquidity(
            world.address("WETH"), world.address("USDC"), weth, usdc, 0, 0, me, DEADLINE), sender=me)
        assert int(pair.functions.balanceOf(me).call()) - lp_before == minted
        assert weth_before - balance(world, "WETH", me) == a_weth
        assert usdc_before - balance(world, "USDC", me) == a_usdc

        _, r0, r1, supply = _pair_state(world, "WETH/USDC")
        lp = int(pair.functions.balanceOf(me).call()) * burn_frac // 10**6
        b0, b1 = v2_math.burn_amounts(lp, r0, r1, supply)  # balances == reserves: nothing unsynced
        transact(w3, pair.functions.approve(world.v2_router.address, lp), sender=me)
        weth_before, usdc_before = balance(world, "WETH", me), balance(world, "USDC", me)
        transact(w3, world.v2_router.functions.removeLiquidity(
            world.address("WETH"), world.address("USDC"), lp, 0, 0, me, DEADLINE), sender=me)
        got_weth, got_usdc = (b0, b1) if token0_is_weth else (b1, b0)
        assert balance(world, "WETH", me) - weth_before == got_weth
        assert balance(world, "USDC", me) - usdc_before == got_usdc
    finally:
        chain.revert(snap)


def test_first_mint_locks_minimum_liquidity(uniswap_world: UniswapWorld, chain: AnvilNode) -> None:
    world = uniswap_world
    w3 = world.w3
    me = world.deployer
    usdc, dai = world.address("USDC"), world.address("DAI")
    amount_usdc, amount_dai = 123_456 * 10**6 + 789, 123_000 * 10**18 + 1
    transact(w3, world.v2_router.functions.addLiquidity(usdc, dai, amount_usdc, amount_dai, 0, 0, me, DEADLINE),
             sender=me)
    pair = w3.eth.contract(address=world.v2_factory.functions.getPair(usdc, dai).call(),
                           abi=world.v2_pairs["WETH/USDC"].abi)
    a0, a1 = (amount_usdc, amount_dai) if int(usdc, 16) < int(dai, 16) else (amount_dai, amount_usdc)
    expected = v2_math.mint_liquidity(a0, a1, 0, 0, 0)
    assert int(pair.functions.balanceOf(me).call()) == expected
    assert int(pair.functions.totalSupply().call()) == expected + v2_math.MINIMUM_LIQUIDITY
    assert int(pair.functions.balanceOf("0x" + "00" * 20).call()) == v2_math.MINIMUM_LIQUIDITY
