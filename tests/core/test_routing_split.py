"""The split of one swap across pools (basis_core.best_execution.split): exact on its grid, never worse than the
best single pool, and at the water level where the pools are smooth.

Curves here are constant-product pools written out from the Uniswap v2 formula (integer math, any fee), so the
expected results come from a brute force over every allocation or from a closed form, never from the router.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basis_core.best_execution.split import Curve, best_split, grid_amounts, modelled_split, net_output


def cp_pool(r_in: int, r_out: int, fee_bps: int = 30, gas: int = 0, key: str = "pool") -> Curve:
    """A constant-product pool: ``x * (10000 - fee) * r_out // (r_in * 10000 + x * (10000 - fee))``."""
    keep = 10_000 - fee_bps

    def quote(x: int) -> int:
        return x * keep * r_out // (r_in * 10_000 + x * keep)
    return Curve(key, quote, gas)


def capped(curve: Curve, cap: int) -> Curve:
    """``curve`` refusing inputs above ``cap`` (a pool whose liquidity runs out)."""
    return Curve(curve.key, lambda x: curve.quote(x) if x <= cap else None, curve.gas)


def brute_force(total: int, curves: list[Curve], grid: int) -> int | None:
    """The best net output over every allocation of ``grid`` whole chunks (the grid's definition of amounts)."""
    best = None
    for chunks in itertools.product(range(grid + 1), repeat=len(curves)):
        if sum(chunks) != grid:
            continue
        net = net_output(curves, grid_amounts(total, chunks, grid))
        if net is not None and (best is None or net > best):
            best = net
    return best


pools = st.builds(
    lambda r_in, ratio, fee, gas: (r_in, r_in * ratio, fee, gas),
    st.integers(10**6, 10**12), st.integers(1, 3000), st.sampled_from([1, 5, 30, 100]), st.integers(0, 10**7),
)


@settings(max_examples=25, deadline=None)
@given(specs=st.lists(pools, min_size=1, max_size=3), chunk=st.integers(1, 10**11), grid=st.integers(2, 8))
def test_grid_optimum_equals_brute_force_and_refinement_only_improves(specs, chunk, grid):
    curves = [cp_pool(r_in, r_out, fee, gas, f"p{i}") for i, (r_in, r_out, fee, gas) in enumerate(specs)]
    total = chunk * grid
    split = best_split(total, curves, grid=grid)
    assert split is not None
    assert split.grid_net == brute_force(total, curves, grid)
    assert split.net >= split.grid_net
    assert sum(split.amounts) == total
    assert split.net == net_output(curves, split.amounts)
    singles = [net_output(curves, [total if j == i else 0 for j in range(len(curves))]) for i in range(len(curves))]
    assert split.single_net == max(s for s in singles if s is not None)
    assert split.net >= split.single_net  # never worse than the best single pool


@settings(max_examples=15, deadline=None)
@given(specs=st.lists(pools, min_size=2, max_size=3), total=st.integers(10**3, 10**12))
def test_never_worse_than_the_best_single_pool_at_any_size(specs, total):
    curves = [cp_pool(r_in, r_out, fee, gas, f"p{i}") for i, (r_in, r_out, fee, gas) in enumerate(specs)]
    split = best_split(total, curves)
    assert split is not None and split.single_net is not None
    assert split.gain_over_single is not None and split.gain_over_single >= 0
    assert split.net == net_output(curves, split.amounts)


def test_two_identical_pools_split_evenly_like_one_pool_of_double_depth():
    # closed form: x in each of two (R, R') pools pays what 2x pays in one (2R, 2R') pool
    r_in, r_out, total = 10**12, 4 * 10**9, 10**11
    split = best_split(total, [cp_pool(r_in, r_out), cp_pool(r_in, r_out)], grid=10)
    assert split is not None
    assert split.amounts == (total // 2, total // 2)
    deep = cp_pool(2 * r_in, 2 * r_out).quote(total)
    assert abs(split.gross - deep) <= 2  # two integer floors against one
    assert split.gross > cp_pool(r_in, r_out).quote(total)


def test_refinement_reaches_the_water_level_off_the_grid():
    # a deep and a shallow pool (4:1 depth, same price): the optimum puts 4/5 of the input in the deep one,
    # which a grid of 3 cannot express; the Newton water-filling lands next to it, as good as a fine brute force
    # (which hits 4/5 exactly) up to a second-order loss
    deep, shallow = cp_pool(4 * 10**12, 4 * 10**12), cp_pool(10**12, 10**12)
    total = 3 * 10**11
    split = best_split(total, [deep, shallow], grid=3)
    assert split is not None
    assert split.net > split.grid_net
    assert abs(split.amounts[0] - total * 4 // 5) <= total // 10**4
    fine = brute_force(total, [deep, shallow], 60)
    assert fine is not None and split.net >= fine - fine // 10**6


def test_gas_keeps_small_trades_in_one_pool_and_large_ones_split():
    gas = 5 * 10**6  # output units
    curves = [cp_pool(10**12, 10**12, gas=gas), cp_pool(10**12, 10**12, gas=gas)]
    small = best_split(10**6, curves)
    assert small is not None and len(small.used) == 1 and small.gas == gas
    large = best_split(10**11, curves)
    assert large is not None and len(large.used) == 2 and large.gas == 2 * gas
    assert large.gain_over_single is not None and large.gain_over_single > 0


def test_a_pool_that_cannot_take_the_amount_is_worked_around():
    big, small = cp_pool(10**12, 10**12), capped(cp_pool(10**12, 10**12, fee_bps=1), 10**9)
    split = best_split(10**10, [big, small], grid=10)
    assert split is not None and split.amounts[1] <= 10**9
    assert split.single == 0  # only the big pool can take everything
    nothing = best_split(10**10, [capped(big, 10**3), capped(small, 10**3)])
    assert nothing is None


def counting(curve: Curve, asked: list[int]) -> Curve:
    """``curve`` recording every amount it is asked to quote."""
    def quote(x: int) -> int | None:
        asked.append(x)
        return curve.quote(x)
    return Curve(curve.key, quote, curve.gas)


@settings(max_examples=15, deadline=None)
@given(specs=st.lists(pools, min_size=2, max_size=4), total=st.integers(10**3, 10**12))
def test_the_modelled_search_is_exact_and_never_worse_than_the_best_single_pool(specs, total):
    curves = [cp_pool(r_in, r_out, fee, gas, f"p{i}") for i, (r_in, r_out, fee, gas) in enumerate(specs)]
    split = modelled_split(total, curves)
    assert split is not None and sum(split.amounts) == total
    assert split.outputs == tuple(c.quote(x) if x else 0 for c, x in zip(curves, split.amounts, strict=True))
    assert split.net == net_output(curves, split.amounts)
    singles = [net_output(curves, [total if j == i else 0 for j in range(len(curves))]) for i in range(len(curves))]
    assert split.single_net == max(s for s in singles if s is not None)
    assert split.net >= split.single_net


def test_on_constant_product_pools_the_model_is_the_pool_and_few_quotes_reach_the_full_search():
    # a deep and a shallow pool of different fees and prices: the model through two quotes is the pool itself,
    # so the modelled search lands where the exact search does with a fraction of its quotes
    deep, shallow = cp_pool(4 * 10**12, 4 * 10**12, fee_bps=5), cp_pool(10**12, 1001 * 10**9, fee_bps=30)
    total = 3 * 10**11
    asked: list[int] = []
    modelled = modelled_split(total, [counting(deep, asked), counting(shallow, asked)])
    exact = best_split(total, [deep, shallow])
    assert modelled is not None and exact is not None
    assert modelled.quotes == len(asked) <= exact.quotes // 2
    assert modelled.net >= exact.net - exact.net // 10**9


def test_the_modelled_search_falls_back_to_the_exact_one_where_a_pool_refuses_a_probe():
    big, small = cp_pool(10**12, 10**12), capped(cp_pool(10**12, 10**12, fee_bps=1), 10**9)
    modelled, exact = modelled_split(10**10, [big, small], grid=10), best_split(10**10, [big, small], grid=10)
    assert modelled == exact


@pytest.mark.parametrize(("total", "curves", "grid", "message"), [
    (0, [cp_pool(1, 1)], 10, "total"),
    (10, [], 10, "curve"),
    (10, [cp_pool(1, 1)], 0, "grid"),
])
def test_bad_arguments_are_refused(total, curves, grid, message):
    with pytest.raises(ValueError, match=message):
        best_split(total, curves, grid=grid)


def test_a_cheaper_pool_capped_below_one_grid_chunk_is_brought_in_up_to_its_cap() -> None:
    # the cheap pool refuses more than 1e9 (a CEX leg at its balance), less than one grid chunk of 1e10 / 6: the grid
    # cannot use it; the water-filling brings it in at the largest amount it takes (bisected), since at this size its
    # first units pay far more than the expensive pool's last ones
    cheap = capped(cp_pool(10**15, 10**15, fee_bps=1, key="cheap"), 10**9)
    pricey = cp_pool(10**11, 10**11, fee_bps=30, key="pricey")
    split = best_split(10**10, [pricey, cheap])
    assert split is not None and split.grid_amounts[1] == 0
    assert 0.99 * 10**9 <= split.amounts[1] <= 10**9
    assert split.net > net_output([pricey, cheap], (10**10, 0))  # type: ignore[operator]
