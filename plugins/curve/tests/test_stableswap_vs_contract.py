"""StableSwap math (``stableswap_math``) against the deployed Vyper pool and against closed forms.

Independent results: the deployed contract's ``eth_call`` / transaction outcomes (pool state
written with ``anvil_setStorageAt`` for random states), the exact closed form of D for balanced
pools, the 2-coin invariant solved with 80-digit Decimal arithmetic (cubic for D, quadratic for
y), and the constant-sum limit for huge A.
"""

from __future__ import annotations

from decimal import Context, Decimal, localcontext
from typing import Any

import pytest
from basis_venue_curve.stableswap_math import (
    A_PRECISION,
    FEE_DENOMINATOR,
    StableSwapPool,
    StableSwapRevert,
    get_D,
)
from basis_venue_curve.testing.deploy import CurveWorld, write_pool_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basis_core.testing.contracts import transact

CHAIN_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
PURE_SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)


def eth_call(node: Any, contract: Any, fn: str, args: list[Any], sender: str | None = None) -> bytes | None:
    """Raw ``eth_call`` (one RPC); ``None`` when the call reverts."""
    tx: dict[str, str] = {"to": contract.address, "data": contract.encode_abi(fn, args=args)}
    if sender:
        tx["from"] = sender
    try:
        out = node.rpc("eth_call", [tx, "latest"])
    except RuntimeError as e:
        if "revert" in str(e).lower():
            return None
        raise
    return bytes.fromhex(out[2:])


def call_uint(node: Any, contract: Any, fn: str, args: list[Any], sender: str | None = None) -> int | None:
    out = eth_call(node, contract, fn, args, sender)
    return None if out is None else int.from_bytes(out[:32], "big")


def math_or_revert(f: Any, *args: Any) -> int | None:
    try:
        return int(f(*args))
    except StableSwapRevert:
        return None


@st.composite
def pool_states(draw: Any, decimals: tuple[int, ...]) -> tuple[list[int], int, int, int]:
    """Random balances, LP supply, A and fee. Balances: mostly within 1:100 of each other around
    1e3..1e9 whole tokens; one state in eight fully wild (1 to 1e9 tokens per coin, any imbalance)."""
    if draw(st.integers(0, 7)) == 0:
        balances = [draw(st.integers(10**d, 10 ** (d + 9))) for d in decimals]
    else:
        base = draw(st.integers(10**3, 10**9))
        balances = [max(1, base * 10**d * draw(st.integers(10, 10_000)) // 1000) for d in decimals]
    norm = sum(b * 10 ** (18 - d) for b, d in zip(balances, decimals, strict=True))
    supply = norm * draw(st.integers(900, 1500)) // 1000
    A = draw(st.sampled_from([1, 10, 100, 200, 1000, 5000]) | st.integers(1, 10_000))
    fee = draw(st.sampled_from([0, 1_000_000, 4_000_000]) | st.integers(0, 50_000_000))
    return balances, supply, A, fee


def dx_strategy(balance: int, dec: int) -> st.SearchStrategy[int]:
    """From dust (1 base unit) to 3x the pool's balance of the coin sold."""
    return (st.integers(1, 10**dec) | st.integers(1, 1000).map(lambda k: max(1, balance * k // 1000))
            | st.integers(1000, 3000).map(lambda k: balance * k // 1000))


def _state(world: CurveWorld, name: str, balances: list[int], supply: int, A: int,
           fee: int) -> StableSwapPool:
    pool = world.pools[name]
    admin = 5_000_000_000
    write_pool_state(world.w3, pool, balances, supply, fee=fee, admin_fee=admin, A=A)
    return StableSwapPool.from_decimals(balances, world.decimals(name), A, fee, admin, supply)


@pytest.mark.chain
@pytest.mark.parametrize("name", ["2pool", "dai_usdc", "3pool"])
def test_get_dy_matches_contract(curve_world: CurveWorld, chain: Any, name: str) -> None:
    """get_dy (and revert / no revert) equals the deployed pool's for random states and trade sizes."""
    decimals = curve_world.decimals(name)
    n = len(decimals)
    pool = curve_world.pools[name]
    seen = {"equal": 0, "reverted": 0}

    @CHAIN_SETTINGS
    @given(data=st.data(), state=pool_states(decimals))
    def run(data: Any, state: tuple[list[int], int, int, int]) -> None:
        balances, supply, A, fee = state
        i = data.draw(st.integers(0, n - 1))
        j = data.draw(st.integers(0, n - 1).filter(lambda k: k != i))
        dx = data.draw(dx_strategy(balances[i], decimals[i]))
        model = _state(curve_world, name, balances, supply, A, fee)
        onchain = call_uint(chain, pool, "get_dy", [i, j, dx])
        assert math_or_revert(model.get_dy, i, j, dx) == onchain
        seen["equal" if onchain is not None else "reverted"] += 1

    run()
    assert seen["equal"] >= 160, seen  # the comparison is mostly of values, not of reverts


@pytest.mark.chain
@pytest.mark.parametrize("name", ["2pool", "3pool"])
def test_liquidity_views_match_contract(curve_world: CurveWorld, chain: Any, name: str) -> None:
    """add_liquidity's mint (eth_call, with imbalance fees), calc_token_amount, calc_withdraw_one_coin
    and get_virtual_price equal the contract's on random states."""
    decimals = curve_world.decimals(name)
    n = len(decimals)
    pool = curve_world.pools[name]
    lp = curve_world.w3.eth.accounts[1]
    seen = {"mint": 0, "withdraw_one": 0}

    @CHAIN_SETTINGS
    @given(data=st.data(), state=pool_states(decimals))
    def run(data: Any, state: tuple[list[int], int, int, int]) -> None:
        balances, supply, A, fee = state
        amounts = [data.draw(st.integers(1, 10 ** (d + 7))) for d in decimals]
        left_out = data.draw(st.integers(-1, n - 1))  # one-sided deposits too
        if left_out >= 0:
            amounts[left_out] = 0
        model = _state(curve_world, name, balances, supply, A, fee)

        onchain = call_uint(chain, pool, "add_liquidity", [amounts, 0], sender=lp)
        mint = math_or_revert(lambda: model.add_liquidity(amounts).lp_amount)
        assert mint == onchain
        seen["mint"] += onchain is not None

        for is_dep in (True, False):
            onchain = call_uint(chain, pool, "calc_token_amount", [amounts, is_dep])
            assert math_or_revert(model.calc_token_amount, amounts, is_dep) == onchain

        burn = data.draw(st.integers(1, supply))
        i = data.draw(st.integers(0, n - 1))
        onchain = call_uint(chain, pool, "calc_withdraw_one_coin", [burn, i])
        assert math_or_revert(model.calc_withdraw_one_coin, burn, i) == onchain
        seen["withdraw_one"] += onchain is not None

        assert math_or_revert(model.get_virtual_price) == call_uint(chain, pool, "get_virtual_price", [])

    run()
    assert seen["mint"] >= 160 and seen["withdraw_one"] >= 160, seen


def _token_balances(world: CurveWorld, name: str, who: str) -> list[int]:
    return [world.tokens[s].functions.balanceOf(who).call() for s in world.pool_coins[name]]


@pytest.mark.chain
def test_exchange_transactions_move_what_the_math_says(curve_world: CurveWorld, chain: Any) -> None:
    """Real swaps: the trader's token deltas, the pool's stored balances and its admin fees equal the math."""
    w3 = curve_world.w3
    trader = w3.eth.accounts[1]
    trades = [("2pool", 0, 1, 250_000 * 10**6), ("2pool", 1, 0, 900_000 * 10**6),
              ("3pool", 0, 2, 400_000 * 10**18), ("3pool", 2, 1, 123_456_789_012),
              ("dai_usdc", 1, 0, 700_000 * 10**6), ("dai_usdc", 0, 1, 3 * 10**17)]
    admin_total: dict[tuple[str, int], int] = {}
    for name, i, j, dx in trades:
        pool = curve_world.pools[name]
        model = curve_world.pool_state(name)
        res = model.exchange(i, j, dx)
        before = _token_balances(curve_world, name, trader)
        transact(w3, pool.functions.exchange(i, j, dx, res.dy), sender=trader)
        after = _token_balances(curve_world, name, trader)
        assert after[i] == before[i] - dx
        assert after[j] == before[j] + res.dy
        assert res.dy > 0 and res.admin_fee > 0
        assert curve_world.pool_state(name) == res.pool
        admin_total[(name, j)] = admin_total.get((name, j), 0) + res.admin_fee
    for (name, j), fee in admin_total.items():
        assert curve_world.pools[name].functions.admin_balances(j).call() == fee


@pytest.mark.chain
def test_exchange_below_min_dy_reverts(curve_world: CurveWorld, chain: Any) -> None:
    pool = curve_world.pools["2pool"]
    model = curve_world.pool_state("2pool")
    dy = model.get_dy(0, 1, 10**9)
    with pytest.raises(StableSwapRevert):
        model.exchange(0, 1, 10**9, dy + 1)
    assert eth_call(chain, pool, "exchange", [0, 1, 10**9, dy + 1], curve_world.w3.eth.accounts[1]) is None
    assert call_uint(chain, pool, "exchange", [0, 1, 10**9, dy], curve_world.w3.eth.accounts[1]) == dy


@pytest.mark.chain
@pytest.mark.parametrize("name", ["2pool", "3pool"])
def test_liquidity_transactions_match_math(curve_world: CurveWorld, chain: Any, name: str) -> None:
    """Real imbalanced add, pro-rata remove and one-coin remove: LP and token deltas equal the math."""
    w3 = curve_world.w3
    lp = w3.eth.accounts[1]
    pool = curve_world.pools[name]
    decimals = curve_world.decimals(name)
    n = len(decimals)

    amounts = [(k + 1) * 37_000 * 10**d + k for k, d in enumerate(decimals)]
    model = curve_world.pool_state(name)
    res = model.add_liquidity(amounts)
    assert any(f > 0 for f in res.fees)  # imbalanced: fees charged
    before = _token_balances(curve_world, name, lp)
    transact(w3, pool.functions.add_liquidity(amounts, res.lp_amount), sender=lp)
    assert pool.functions.balanceOf(lp).call() == res.lp_amount
    assert _token_balances(curve_world, name, lp) == [b - a for b, a in zip(before, amounts, strict=True)]
    assert curve_world.pool_state(name) == res.pool

    burn = res.lp_amount // 3
    model = res.pool
    res = model.remove_liquidity(burn)
    before = _token_balances(curve_world, name, lp)
    transact(w3, pool.functions.remove_liquidity(burn, list(res.amounts)), sender=lp)
    assert _token_balances(curve_world, name, lp) == [b + a for b, a in zip(before, res.amounts, strict=True)]
    assert curve_world.pool_state(name) == res.pool

    for i in range(n):
        burn = pool.functions.balanceOf(lp).call() // (n - i + 1)
        model = res.pool
        res = model.remove_liquidity_one_coin(burn, i)
        assert res.fees[i] > 0
        before = _token_balances(curve_world, name, lp)
        transact(w3, pool.functions.remove_liquidity_one_coin(burn, i, res.amounts[i]), sender=lp)
        after = _token_balances(curve_world, name, lp)
        assert [a - b for a, b in zip(after, before, strict=True)] == list(res.amounts)
        assert curve_world.pool_state(name) == res.pool


@pytest.mark.chain
def test_balanced_virtual_price_closed_form(curve_world: CurveWorld, chain: Any) -> None:
    """Balanced pool: D == sum of normalised balances exactly, so virtual price = sum * 1e18 // supply."""
    pool = curve_world.pools["3pool"]
    x = 777_777 * 10**18 + 5 * 10**12
    supply = 2_000_000 * 10**18 + 12345
    write_pool_state(curve_world.w3, pool, [x, x // 10**12, x // 10**12], supply)
    assert pool.functions.get_virtual_price().call() == 3 * x * 10**18 // supply


# ---------------------------------------------------------------- pure closed forms (no chain)

@PURE_SETTINGS
@given(n=st.integers(2, 4), x=st.integers(1, 10**30), A=st.integers(1, 1_000_000))
def test_get_D_of_balanced_pool_is_the_sum(n: int, x: int, A: int) -> None:
    assert get_D([x] * n, A * A_PRECISION) == n * x


EXACT = Context(prec=90)


def _cbrt(v: Decimal) -> Decimal:
    root = EXACT.power(abs(v), Decimal(1) / 3)
    return root if v >= 0 else -root


def _exact_D_2(x: Decimal, y: Decimal, ann: Decimal) -> Decimal:
    """Cardano's formula for the real root of D**3 + p D + q = 0, where the 2-coin invariant
    Ann (x + y) + D = Ann D + D**3 / (4 x y) gives p = 4xy (Ann - 1), q = -4xy Ann (x + y)."""
    p = EXACT.multiply(4 * x * y, ann - 1)
    q = -4 * x * y * ann * (x + y)
    disc = EXACT.sqrt(q * q / 4 + p**3 / 27)
    return _cbrt(-q / 2 + disc) + _cbrt(-q / 2 - disc)


def _exact_y_2(x: Decimal, D: Decimal, ann: Decimal) -> Decimal:
    """Positive root of 4 Ann x y**2 + 4x (Ann x - (Ann - 1) D) y - D**3 = 0 (same invariant, x fixed)."""
    a = 4 * ann * x
    b = 4 * x * (ann * x - (ann - 1) * D)
    return (-b + EXACT.sqrt(b * b + 4 * a * D**3)) / (2 * a)


@PURE_SETTINGS
@given(x0=st.integers(10**18, 10**27), r=st.integers(20, 50_000), A=st.integers(1, 5000),
       k=st.integers(1, 2000), fee=st.integers(0, 50_000_000))
def test_two_coin_get_dy_matches_exact_invariant(x0: int, r: int, A: int, k: int, fee: int) -> None:
    """2 coins, 18 decimals, imbalance up to 50:1: integer D and get_dy equal the invariant solved in
    closed form (90 digits) to within a few wei."""
    x1 = max(1, x0 * r // 1000)
    dx = x0 * k // 1000 + 1
    pool = StableSwapPool.from_decimals([x0, x1], [18, 18], A, fee, 0, x0 + x1)
    ann = Decimal(A * 2)
    with localcontext(EXACT):
        D = _exact_D_2(Decimal(x0), Decimal(x1), ann)
        assert abs(Decimal(pool.D()) - D) <= 2
        y = _exact_y_2(Decimal(x0 + dx), D, ann)
        dy_exact = (Decimal(x1) - y) * (FEE_DENOMINATOR - fee) / FEE_DENOMINATOR
        assert abs(Decimal(pool.get_dy(0, 1, dx)) - dy_exact) <= 4


@PURE_SETTINGS
@given(bal=st.integers(10**6, 10**9), k=st.integers(1, 500), fee=st.integers(0, 10_000_000))
def test_huge_A_approaches_constant_sum(bal: int, k: int, fee: int) -> None:
    """A = 1e6 (the contract's maximum): a trade of up to half the pool gets dx - fee to 1e-6."""
    pool = StableSwapPool.from_decimals([bal * 10**6, bal * 10**18], [6, 18], 1_000_000, fee, 0,
                                        2 * bal * 10**18)
    dx = bal * 10**6 * k // 1000
    dy = pool.get_dy(0, 1, dx)
    closed = Decimal(dx * 10**12) * (FEE_DENOMINATOR - fee) / FEE_DENOMINATOR
    assert dy <= closed
    assert (closed - dy) / closed < Decimal("1e-6")


def test_math_reverts_where_the_contract_would() -> None:
    pool = StableSwapPool.from_decimals([10**24, 10**24], [18, 18], 100, 4_000_000, 0, 2 * 10**24)
    with pytest.raises(StableSwapRevert):
        pool.get_dy(0, 0, 10)
    with pytest.raises(StableSwapRevert):
        pool.get_dy(0, 2, 10)
    with pytest.raises(StableSwapRevert):
        pool.remove_liquidity(2 * 10**24 + 1)
