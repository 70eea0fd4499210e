"""Uniswap v2 integer math, exactly as ``UniswapV2Library`` / ``UniswapV2Pair`` / ``UniswapV2Router02`` compute it.

All amounts are integers in token base units (wei for 18-decimal tokens). Pure functions, stdlib only.
Where the contract reverts, these functions raise ``ValueError`` with the contract's revert string.
``fee_bps`` generalises the hard-coded 0.3 % (``fee_bps=30`` is bit-for-bit the 997/1000 of the contracts).
"""

from __future__ import annotations

from math import isqrt

MINIMUM_LIQUIDITY = 1000
"""LP tokens locked forever (minted to the zero address) by the first ``mint`` of a pair."""

_BPS = 10_000


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """Output of an exact-input swap (``UniswapV2Library.getAmountOut``), rounded down."""
    if amount_in <= 0:
        raise ValueError("UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT")
    if reserve_in <= 0 or reserve_out <= 0:
        raise ValueError("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    amount_in_with_fee = amount_in * (_BPS - fee_bps)
    return (amount_in_with_fee * reserve_out) // (reserve_in * _BPS + amount_in_with_fee)


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """Input needed for an exact-output swap (``UniswapV2Library.getAmountIn``): floor division + 1."""
    if amount_out <= 0:
        raise ValueError("UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT")
    if reserve_in <= 0 or reserve_out <= 0:
        raise ValueError("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    if amount_out >= reserve_out:  # the contract underflows (ds-math-sub-underflow) or divides by zero
        raise ValueError("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    return (reserve_in * amount_out * _BPS) // ((reserve_out - amount_out) * (_BPS - fee_bps)) + 1


def quote(amount_a: int, reserve_a: int, reserve_b: int) -> int:
    """Equivalent amount of B at the current reserves, no fee (``UniswapV2Library.quote``), rounded down."""
    if amount_a <= 0:
        raise ValueError("UniswapV2Library: INSUFFICIENT_AMOUNT")
    if reserve_a <= 0 or reserve_b <= 0:
        raise ValueError("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    return amount_a * reserve_b // reserve_a


def get_amounts_out(amount_in: int, reserves: list[tuple[int, int]], fee_bps: int = 30) -> list[int]:
    """``getAmountsOut`` along a path given as ``[(reserve_in, reserve_out), ...]`` per hop."""
    amounts = [amount_in]
    for reserve_in, reserve_out in reserves:
        amounts.append(get_amount_out(amounts[-1], reserve_in, reserve_out, fee_bps))
    return amounts


def get_amounts_in(amount_out: int, reserves: list[tuple[int, int]], fee_bps: int = 30) -> list[int]:
    """``getAmountsIn`` along a path given as ``[(reserve_in, reserve_out), ...]`` per hop (in path order)."""
    amounts = [amount_out]
    for reserve_in, reserve_out in reversed(reserves):
        amounts.append(get_amount_in(amounts[-1], reserve_in, reserve_out, fee_bps))
    amounts.reverse()
    return amounts


def optimal_add_amounts(
    amount_a_desired: int,
    amount_b_desired: int,
    reserve_a: int,
    reserve_b: int,
    amount_a_min: int = 0,
    amount_b_min: int = 0,
) -> tuple[int, int]:
    """Amounts the router actually deposits in ``addLiquidity`` (``UniswapV2Router02._addLiquidity``)."""
    if reserve_a == 0 and reserve_b == 0:
        return amount_a_desired, amount_b_desired
    amount_b_optimal = quote(amount_a_desired, reserve_a, reserve_b)
    if amount_b_optimal <= amount_b_desired:
        if amount_b_optimal < amount_b_min:
            raise ValueError("UniswapV2Router: INSUFFICIENT_B_AMOUNT")
        return amount_a_desired, amount_b_optimal
    amount_a_optimal = quote(amount_b_desired, reserve_b, reserve_a)
    if amount_a_optimal > amount_a_desired:  # the router asserts this cannot happen
        raise ValueError("UniswapV2Router: assertion failed")
    if amount_a_optimal < amount_a_min:
        raise ValueError("UniswapV2Router: INSUFFICIENT_A_AMOUNT")
    return amount_a_optimal, amount_b_desired


def protocol_fee_liquidity(reserve0: int, reserve1: int, total_supply: int, k_last: int) -> int:
    """LP tokens minted to ``feeTo`` by ``_mintFee`` before a mint / burn (0 when the fee is off: k_last=0)."""
    if k_last == 0:
        return 0
    root_k = isqrt(reserve0 * reserve1)
    root_k_last = isqrt(k_last)
    if root_k <= root_k_last:
        return 0
    return total_supply * (root_k - root_k_last) // (root_k * 5 + root_k_last)


def mint_liquidity(amount0: int, amount1: int, reserve0: int, reserve1: int, total_supply: int) -> int:
    """LP tokens minted to the provider for depositing ``amount0`` / ``amount1`` (``UniswapV2Pair.mint``).

    ``total_supply`` is the pair's supply before the mint (after any protocol-fee mint). On the first
    mint (``total_supply == 0``) the result is ``isqrt(amount0 * amount1) - MINIMUM_LIQUIDITY``; the
    pair's supply then grows by that plus ``MINIMUM_LIQUIDITY`` (locked at the zero address).
    """
    if total_supply == 0:
        root = isqrt(amount0 * amount1)
        if root < MINIMUM_LIQUIDITY:
            raise ValueError("ds-math-sub-underflow")
        liquidity = root - MINIMUM_LIQUIDITY
    else:
        liquidity = min(amount0 * total_supply // reserve0, amount1 * total_supply // reserve1)
    if liquidity <= 0:
        raise ValueError("UniswapV2: INSUFFICIENT_LIQUIDITY_MINTED")
    return liquidity


def burn_amounts(liquidity: int, balance0: int, balance1: int, total_supply: int) -> tuple[int, int]:
    """Token amounts paid out for burning ``liquidity`` LP tokens (``UniswapV2Pair.burn``), rounded down.

    ``balance0`` / ``balance1`` are the pair's token balances (equal to the reserves after a ``sync``).
    """
    amount0 = liquidity * balance0 // total_supply
    amount1 = liquidity * balance1 // total_supply
    if amount0 <= 0 or amount1 <= 0:
        raise ValueError("UniswapV2: INSUFFICIENT_LIQUIDITY_BURNED")
    return amount0, amount1
