"""v3_math / V3Pool against the deployed Uniswap v3 contracts (npm artifacts on anvil), to the wei.

Independent results: ``QuoterV2`` (eth_call; it runs the real ``UniswapV3Pool.swap`` and reverts with
the result), the balances and post-swap pool storage after real ``SwapRouter`` swaps, and the
``NonfungiblePositionManager``'s mint / decrease / collect amounts. The simulated pool is built from
state read on chain (slot0, liquidity, fee growth, the tick bitmap and ``ticks()``), never from the
deployment parameters.
"""

from __future__ import annotations

import pytest
from basis_venue_uniswap import v3_math as m
from basis_venue_uniswap.testing.deploy import DEADLINE, UniswapWorld, read_v3_pool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from basis_core.testing.anvil import AnvilNode
from basis_core.testing.contracts import transact

pytestmark = pytest.mark.chain

PAIR = "WETH/USDC"
FEES = (500, 3000)
MAX_U128 = 2**128 - 1
# Each pool holds about 44 WETH and 100k USDC; sizes beyond that (the swap runs out of liquidity and
# stops at the price limit) are included on purpose.
MAX_IN = {"WETH": 120 * 10**18, "USDC": 240_000 * 10**6}
MAX_OUT = {"WETH": 50 * 10**18, "USDC": 120_000 * 10**6}


def log_uniform(max_value: int) -> st.SearchStrategy[int]:
    """Integers in [1, max_value], spread evenly over orders of magnitude (dust to max)."""
    return st.integers(0, max_value.bit_length()).flatmap(lambda b: st.integers(1, max(1, min(max_value, 2**b))))


def sizes(max_value: int) -> st.SearchStrategy[int]:
    """Half dust-to-max (log-uniform), half in the top three decades where swaps cross several ticks."""
    return st.one_of(log_uniform(max_value), st.integers(max_value // 1000, max_value))


@pytest.fixture(scope="module")
def pools(uniswap_world: UniswapWorld) -> dict[int, m.V3Pool]:
    """Pool states read from chain once (eth_call tests change nothing; transacting tests revert)."""
    return {fee: read_v3_pool(uniswap_world.v3_pools[(PAIR, fee)], word_radius=WORDS) for fee in FEES}


def direction(world: UniswapWorld, sym_in: str) -> tuple[str, str, bool]:
    sym0, sym1 = world.v3_pool_tokens(PAIR)
    sym_out = sym1 if sym_in == sym0 else sym0
    return sym_in, sym_out, sym_in == sym0


def quoter_exact_in(world: UniswapWorld, sym_in: str, sym_out: str, fee: int, amount: int) -> tuple[int, int, int]:
    out, sqrt_after, crossed, _gas = world.quoter_v2.functions.quoteExactInputSingle(
        (world.address(sym_in), world.address(sym_out), amount, fee, 0)).call()
    return int(out), int(sqrt_after), int(crossed)


def quoter_exact_out(world: UniswapWorld, sym_in: str, sym_out: str, fee: int, amount: int) -> tuple[int, int, int]:
    amount_in, sqrt_after, crossed, _gas = world.quoter_v2.functions.quoteExactOutputSingle(
        (world.address(sym_in), world.address(sym_out), amount, fee, 0)).call()
    return int(amount_in), int(sqrt_after), int(crossed)


# ------------------------------------------------------------------------------- pure library checks
@settings(max_examples=300, deadline=None)
@given(s=st.integers(m.MIN_SQRT_RATIO, m.MAX_SQRT_RATIO - 1))
def test_fast_tick_at_sqrt_ratio_equals_contract_algorithm(s: int) -> None:
    tick = m.get_tick_at_sqrt_ratio(s)
    assert tick == m.get_tick_at_sqrt_ratio_reference(s)
    assert m.get_sqrt_ratio_at_tick(tick) <= s < m.get_sqrt_ratio_at_tick(tick + 1)


def test_fee_tiers_match_the_deployed_factory(uniswap_world: UniswapWorld) -> None:
    for fee, spacing in m.FEE_TIERS.items():
        assert uniswap_world.v3_factory.functions.feeAmountTickSpacing(fee).call() == spacing


def test_tick_math_bounds() -> None:
    assert m.get_sqrt_ratio_at_tick(m.MIN_TICK) == m.MIN_SQRT_RATIO
    assert m.get_sqrt_ratio_at_tick(m.MAX_TICK) == m.MAX_SQRT_RATIO
    assert m.get_sqrt_ratio_at_tick(0) == m.Q96
    assert m.get_tick_at_sqrt_ratio(m.MIN_SQRT_RATIO) == m.MIN_TICK
    assert m.get_tick_at_sqrt_ratio(m.MAX_SQRT_RATIO - 1) == m.MAX_TICK - 1
    with pytest.raises(ValueError):
        m.get_sqrt_ratio_at_tick(m.MAX_TICK + 1)
    with pytest.raises(ValueError):
        m.get_tick_at_sqrt_ratio(m.MAX_SQRT_RATIO)
    # max liquidity per tick, values from the v3-core test suite (Tick.spec.ts)
    assert m.max_liquidity_per_tick(10) == 1917569901783203986719870431555990
    assert m.max_liquidity_per_tick(60) == 11505743598341114571880798222544994
    assert m.max_liquidity_per_tick(200) == 38350317471085141830651933667504588


def test_swap_quote_does_not_mutate(pools: dict[int, m.V3Pool]) -> None:
    pool = pools[500]
    before = (pool.sqrt_price_x96, pool.tick, pool.liquidity, dict(pool.ticks), pool.fee_growth_global0_x128)
    _a0, _a1, new = pool.swap(True, 100 * 10**18)
    pool.quote(False, 10**12)
    assert (pool.sqrt_price_x96, pool.tick, pool.liquidity, dict(pool.ticks),
            pool.fee_growth_global0_x128) == before
    assert new.sqrt_price_x96 < pool.sqrt_price_x96 and new.ticks != pool.ticks


# ---------------------------------------------------------------------------------- QuoterV2 (eth_call)
@pytest.mark.parametrize("fee", FEES)
@pytest.mark.parametrize("sym_in, amount", [("WETH", 20 * 10**18), ("USDC", 50_000 * 10**6)])
def test_large_quotes_cross_several_initialised_ticks(
    uniswap_world: UniswapWorld, pools: dict[int, m.V3Pool], fee: int, sym_in: str, amount: int
) -> None:
    world = uniswap_world
    sym_in, sym_out, zero_for_one = direction(world, sym_in)
    out, sqrt_after, crossed = quoter_exact_in(world, sym_in, sym_out, fee, amount)
    assert crossed >= 3  # the property tests below do exercise tick crossing
    assert pools[fee].quote_exact_input(zero_for_one, amount) == out
    _a0, _a1, new = pools[fee].swap(zero_for_one, amount)
    assert new.sqrt_price_x96 == sqrt_after


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_exact_input_equals_quoter(uniswap_world: UniswapWorld, pools: dict[int, m.V3Pool],
                                   data: st.DataObject) -> None:
    world = uniswap_world
    fee = data.draw(st.sampled_from(FEES), label="fee")
    sym_in, sym_out, zero_for_one = direction(world, data.draw(st.sampled_from(["WETH", "USDC"])))
    amount = data.draw(sizes(MAX_IN[sym_in]), label="amount_in")
    out, sqrt_after, _ = quoter_exact_in(world, sym_in, sym_out, fee, amount)
    a0, a1, new = pools[fee].swap(zero_for_one, amount)
    assert (-a1 if zero_for_one else -a0) == out
    assert new.sqrt_price_x96 == sqrt_after
    assert pools[fee].quote_exact_input(zero_for_one, amount) == out


@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_exact_output_equals_quoter(uniswap_world: UniswapWorld, pools: dict[int, m.V3Pool],
                                    data: st.DataObject) -> None:
    world = uniswap_world
    fee = data.draw(st.sampled_from(FEES), label="fee")
    sym_in, sym_out, zero_for_one = direction(world, data.draw(st.sampled_from(["WETH", "USDC"])))
    amount = data.draw(sizes(MAX_OUT[sym_out]), label="amount_out")
    try:
        expected_in, sqrt_after, _ = quoter_exact_out(world, sym_in, sym_out, fee, amount)
    except Exception:  # the pool cannot deliver `amount`: QuoterV2 reverts, the simulator must refuse too
        with pytest.raises(ValueError):
            pools[fee].quote_exact_output(zero_for_one, amount)
        return
    assert pools[fee].quote_exact_output(zero_for_one, amount) == expected_in
    a0, a1, new = pools[fee].swap(zero_for_one, -amount)
    assert (a0, a1) == ((expected_in, -amount) if zero_for_one else (-amount, expected_in))
    assert new.sqrt_price_x96 == sqrt_after


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_price_limit_equals_quoter(uniswap_world: UniswapWorld, pools: dict[int, m.V3Pool],
                                   data: st.DataObject) -> None:
    world = uniswap_world
    fee = data.draw(st.sampled_from(FEES), label="fee")
    sym_in, sym_out, zero_for_one = direction(world, data.draw(st.sampled_from(["WETH", "USDC"])))
    pool = pools[fee]
    ticks_away = data.draw(st.integers(1, 3000), label="limit_ticks_away")
    limit = m.get_sqrt_ratio_at_tick(pool.tick - ticks_away if zero_for_one else pool.tick + 1 + ticks_away)
    amount = data.draw(sizes(MAX_IN[sym_in]), label="amount_in")
    out, _sqrt, _gas, _ = world.quoter_v2.functions.quoteExactInputSingle(
        (world.address(sym_in), world.address(sym_out), amount, fee, limit)).call()
    a0, a1 = pool.quote(zero_for_one, amount, limit)
    assert (-a1 if zero_for_one else -a0) == out


# -------------------------------------------------------------------------------------- real swaps
#: tick-bitmap words read either side of the current tick: wide enough that a swap moving the tick never pushes a
#: position's tick out of the read (4 words of a 10-spacing pool are 10,240 ticks; a swap can move farther)
WORDS = 16
TX_SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                       suppress_health_check=[HealthCheck.function_scoped_fixture])


def balances(world: UniswapWorld, who: str) -> dict[str, int]:
    return {s: int(world.tokens[s].functions.balanceOf(who).call()) for s in ("WETH", "USDC")}


def assert_same_state(chain_pool: m.V3Pool, sim: m.V3Pool) -> None:
    assert chain_pool.sqrt_price_x96 == sim.sqrt_price_x96
    assert chain_pool.tick == sim.tick
    assert chain_pool.liquidity == sim.liquidity
    assert chain_pool.fee_growth_global0_x128 == sim.fee_growth_global0_x128
    assert chain_pool.fee_growth_global1_x128 == sim.fee_growth_global1_x128
    assert chain_pool.ticks == sim.ticks


def position_key(owner: str, lower: int, upper: int) -> bytes:
    return bytes(Web3.solidity_keccak(["address", "int24", "int24"], [owner, lower, upper]))


def with_positions(world: UniswapWorld, fee: int, pool: m.V3Pool) -> m.V3Pool:
    """The simulated pool plus the position manager's pool positions, read from ``positions()``."""
    contract = world.v3_pools[(PAIR, fee)]
    npm = str(world.position_manager.address)
    positions = {}
    for p in world.v3_positions[(PAIR, fee)]:
        liq, g0, g1, o0, o1 = contract.functions.positions(position_key(npm, p["tick_lower"], p["tick_upper"])).call()
        positions[(npm, p["tick_lower"], p["tick_upper"])] = (int(liq), int(g0), int(g1), int(o0), int(o1))
    return m.V3Pool(pool.sqrt_price_x96, pool.tick, pool.liquidity, pool.fee, pool.tick_spacing, pool.ticks,
                    pool.fee_growth_global0_x128, pool.fee_growth_global1_x128, pool.fee_protocol, positions)


@TX_SETTINGS
@given(data=st.data())
def test_real_swaps_match_balances_and_pool_state(
    uniswap_world: UniswapWorld, chain: AnvilNode, data: st.DataObject
) -> None:
    world = uniswap_world
    me, recipient = world.deployer, world.w3.eth.accounts[1]
    fee = data.draw(st.sampled_from(FEES), label="fee")
    contract = world.v3_pools[(PAIR, fee)]
    # protocol fee off, or 1/4..1/10 of the swap fee per token (set by the factory owner)
    fp0, fp1 = (data.draw(st.sampled_from([0, 4, 5, 7, 10]), label=f"fee_protocol{i}") for i in (0, 1))
    snap = chain.snapshot()
    try:
        if fp0 or fp1:
            transact(world.w3, contract.functions.setFeeProtocol(fp0, fp1), sender=me)
        sim = with_positions(world, fee, read_v3_pool(contract, word_radius=WORDS))
        assert sim.fee_protocol == fp0 + (fp1 << 4)
        for _ in range(data.draw(st.integers(1, 3), label="n_swaps")):
            sym_in, sym_out, zero_for_one = direction(world, data.draw(st.sampled_from(["WETH", "USDC"])))
            exact_in = data.draw(st.booleans(), label="exact_in")
            pay_before, get_before = balances(world, me), balances(world, recipient)
            if exact_in:
                amount = data.draw(sizes(MAX_IN[sym_in] // 3), label="amount_in")
                a0, a1, new = sim.swap(zero_for_one, amount)
                fn = world.swap_router.functions.exactInputSingle(
                    (world.address(sym_in), world.address(sym_out), fee, recipient, DEADLINE, amount, 0, 0))
            else:
                amount = data.draw(sizes(MAX_OUT[sym_out] // 3), label="amount_out")
                a0, a1, new = sim.swap(zero_for_one, -amount)
                fn = world.swap_router.functions.exactOutputSingle(
                    (world.address(sym_in), world.address(sym_out), fee, recipient, DEADLINE, amount, 2**255, 0))
            paid, received = (a0, -a1) if zero_for_one else (a1, -a0)
            if received <= 0 or (not exact_in and received != amount):
                continue  # the router would revert (nothing out / cannot fill): covered by the quoter tests
            transact(world.w3, fn, sender=me)
            assert pay_before[sym_in] - balances(world, me)[sym_in] == paid
            assert balances(world, recipient)[sym_out] - get_before[sym_out] == received
            assert_same_state(read_v3_pool(contract, word_radius=WORDS), new)
            sim = new
        assert tuple(contract.functions.protocolFees().call()) == (sim.protocol_fees0, sim.protocol_fees1)
        # fees owed to every position == what the position manager would collect right now
        for p in world.v3_positions[(PAIR, fee)]:
            collect = world.position_manager.functions.collect(
                (p["token_id"], me, MAX_U128, MAX_U128)).call({"from": me})
            assert tuple(collect) == sim.fees_owed(str(world.position_manager.address), p["tick_lower"],
                                                   p["tick_upper"])
    finally:
        chain.revert(snap)


@TX_SETTINGS
@given(data=st.data())
def test_real_mint_and_burn_via_position_manager(
    uniswap_world: UniswapWorld, chain: AnvilNode, data: st.DataObject
) -> None:
    from web3.logs import DISCARD

    world = uniswap_world
    me = world.deployer
    npm = world.position_manager
    npm_addr = str(npm.address)
    fee = data.draw(st.sampled_from(FEES), label="fee")
    contract = world.v3_pools[(PAIR, fee)]
    sym0, sym1 = world.v3_pool_tokens(PAIR)
    snap = chain.snapshot()
    try:
        sim = with_positions(world, fee, read_v3_pool(contract, word_radius=WORDS))
        # move the price first (sometimes) so the new position's ticks see fee growth
        if data.draw(st.booleans(), label="pre_swap"):
            amount = data.draw(log_uniform(15 * 10**18), label="pre_swap_weth")
            _a0, _a1, sim = sim.swap(sym0 == "WETH", amount)
            transact(world.w3, world.swap_router.functions.exactInputSingle(
                (world.address("WETH"), world.address("USDC"), fee, me, DEADLINE, amount, 0, 0)), sender=me)
        spacing = sim.tick_spacing
        base = (sim.tick // spacing) * spacing
        lower = base + spacing * data.draw(st.integers(-150, 60), label="lower")
        upper = lower + spacing * data.draw(st.integers(1, 150), label="width")
        amount0 = data.draw(log_uniform(20 * 10 ** world.decimals[sym0]), label="amount0")
        amount1 = data.draw(log_uniform(20 * 2000 * 10 ** world.decimals[sym1]), label="amount1")
        liquidity = m.get_liquidity_for_amounts(sim.sqrt_price_x96, m.get_sqrt_ratio_at_tick(lower),
                                                m.get_sqrt_ratio_at_tick(upper), amount0, amount1)
        if liquidity == 0:
            return  # the pool would revert on zero liquidity
        a0, a1, sim_after = sim.mint(npm_addr, lower, upper, liquidity)
        receipt = transact(world.w3, npm.functions.mint(
            (world.address(sym0), world.address(sym1), fee, lower, upper, amount0, amount1, 0, 0, me, DEADLINE)),
            sender=me)
        ev = npm.events.IncreaseLiquidity().process_receipt(receipt, errors=DISCARD)[0]["args"]
        assert (int(ev["liquidity"]), int(ev["amount0"]), int(ev["amount1"])) == (liquidity, a0, a1)
        assert_same_state(read_v3_pool(contract, word_radius=WORDS), sim_after)

        burn = liquidity * data.draw(st.integers(1, 1000), label="burn_permille") // 1000
        if burn == 0:
            return
        b0, b1, sim_burnt = sim_after.burn(npm_addr, lower, upper, burn)
        receipt = transact(world.w3, npm.functions.decreaseLiquidity(
            (int(ev["tokenId"]), burn, 0, 0, DEADLINE)), sender=me)
        dec = npm.events.DecreaseLiquidity().process_receipt(receipt, errors=DISCARD)[0]["args"]
        assert (int(dec["amount0"]), int(dec["amount1"])) == (b0, b1)
        assert_same_state(read_v3_pool(contract, word_radius=WORDS), sim_burnt)
        # what the pool owes this range (burn proceeds + fees) == what NPM would collect, unless the range
        # is shared with a deployed position (then the pool position aggregates two NPM tokens)
        if all((p["tick_lower"], p["tick_upper"]) != (lower, upper) for p in world.v3_positions[(PAIR, fee)]):
            collect = npm.functions.collect((int(ev["tokenId"]), me, MAX_U128, MAX_U128)).call({"from": me})
            assert tuple(collect) == sim_burnt.fees_owed(npm_addr, lower, upper)
    finally:
        chain.revert(snap)
