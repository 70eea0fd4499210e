"""Uniswap v3 integer math, ported line by line from ``@uniswap/v3-core`` 1.0.1 and ``v3-periphery`` 1.4.4.

Libraries: TickMath, FullMath, SqrtPriceMath, SwapMath, LiquidityMath, TickBitmap (word stepping),
Tick (fee growth outside / inside), Position (fees owed), LiquidityAmounts (periphery). :class:`V3Pool`
simulates ``UniswapV3Pool.swap`` / ``mint`` / ``burn`` to the wei, including the 256-tick bitmap word
boundaries at which the contract splits a swap into steps (they change the rounding).

Conventions: amounts are integers in token base units; prices are Q64.96 square roots
(``sqrt_price_x96``); signed amounts are from the pool's side (positive = paid into the pool).
Where the contract reverts, a ``ValueError`` carries its revert string. Stdlib only, no web3.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from functools import lru_cache

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
Q96 = 1 << 96
Q128 = 1 << 128
_Q96_MASK = Q96 - 1
MAX_UINT128 = (1 << 128) - 1
MAX_UINT160 = (1 << 160) - 1
MAX_UINT256 = (1 << 256) - 1
_U256 = 1 << 256

_STEP_MEMO_SIZE = 4096  # a pool's memo of swap step ends is cleared when it holds this many

FEE_TIERS: dict[int, int] = {100: 1, 500: 10, 3000: 60, 10000: 200}
"""Fee (hundredths of a bip, i.e. 1e-6) -> tick spacing, as enabled in ``UniswapV3Factory`` (+ 100 / 1)."""


# ---------------------------------------------------------------------------------------------- FullMath
def mul_div(a: int, b: int, denominator: int) -> int:
    """``floor(a * b / denominator)`` with 512-bit intermediate; reverts if the result overflows 256 bits."""
    if denominator <= 0:
        raise ValueError("FullMath: denominator is zero")
    result = a * b // denominator
    if result > MAX_UINT256:
        raise ValueError("FullMath: overflow")
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """``ceil(a * b / denominator)`` with 512-bit intermediate; reverts if the result overflows 256 bits."""
    if denominator <= 0:
        raise ValueError("FullMath: denominator is zero")
    q, r = divmod(a * b, denominator)
    if r:
        if q >= MAX_UINT256:
            raise ValueError("FullMath: overflow")
        q += 1
    if q > MAX_UINT256:
        raise ValueError("FullMath: overflow")
    return q


def _div_rounding_up(x: int, y: int) -> int:
    """``UnsafeMath.divRoundingUp``: EVM ``div`` (x / 0 == 0) plus one if there is a remainder."""
    if y == 0:
        return 0
    q, r = divmod(x, y)
    return q + 1 if r else q


# ---------------------------------------------------------------------------------------------- TickMath
_TICK_FACTORS = (
    (0x2, 0xFFF97272373D413259A46990580E213A),
    (0x4, 0xFFF2E50F5F656932EF12357CF3C7FDCC),
    (0x8, 0xFFE5CACA7E10E4E61C3624EAA0941CD0),
    (0x10, 0xFFCB9843D60F6159C9DB58835C926644),
    (0x20, 0xFF973B41FA98C081472E6896DFB254C0),
    (0x40, 0xFF2EA16466C96A3843EC78B326B52861),
    (0x80, 0xFE5DEE046A99A2A811C461F1969C3053),
    (0x100, 0xFCBE86C7900A88AEDCFFC83B479AA3A4),
    (0x200, 0xF987A7253AC413176F2B074CF7815E54),
    (0x400, 0xF3392B0822B70005940C7A398E4B70F3),
    (0x800, 0xE7159475A2C29B7443B29C7FA6E889D9),
    (0x1000, 0xD097F3BDFD2022B8845AD8F792AA5825),
    (0x2000, 0xA9F746462D870FDF8A65DC1F90E061E5),
    (0x4000, 0x70D869A156D2A1B890BB3DF62BAF32F7),
    (0x8000, 0x31BE135F97D08FD981231505542FCFA6),
    (0x10000, 0x9AA508B5B7A84E1C677DE54F3E99BC9),
    (0x20000, 0x5D6AF8DEDB81196699C329225EE604),
    (0x40000, 0x2216E584F5FA1EA926041BEDFE98),
    (0x80000, 0x48A170391F7DC42444E8FA2),
)


@lru_cache(maxsize=1 << 16)
def get_sqrt_ratio_at_tick(tick: int) -> int:
    """``TickMath.getSqrtRatioAtTick``: sqrt(1.0001^tick) * 2^96, rounded up from Q128.128 (cached)."""
    abs_tick = -tick if tick < 0 else tick
    if abs_tick > MAX_TICK:
        raise ValueError("T")
    ratio = 0xFFFCB933BD6FAD37AA2D162D1A594001 if abs_tick & 0x1 else 0x100000000000000000000000000000000
    for bit, factor in _TICK_FACTORS:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = MAX_UINT256 // ratio
    return (ratio >> 32) + (1 if ratio & 0xFFFFFFFF else 0)


_LN_Q96 = 96 * math.log(2.0)
_INV_LN_SQRT_10001 = 2.0 / math.log(1.0001)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """``TickMath.getTickAtSqrtRatio``: the greatest tick whose sqrt ratio is <= ``sqrt_price_x96``.

    Same result as the contract's log2 bit loop (:func:`get_tick_at_sqrt_ratio_reference`; the contract's
    invariant is ``ratio(tick) <= s < ratio(tick + 1)``), found from a float estimate corrected exactly.
    """
    if not (MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO):
        raise ValueError("R")
    t = math.floor((math.log(sqrt_price_x96) - _LN_Q96) * _INV_LN_SQRT_10001)
    if t > MAX_TICK - 1:
        t = MAX_TICK - 1
    elif t < MIN_TICK:
        t = MIN_TICK
    while t > MIN_TICK and get_sqrt_ratio_at_tick(t) > sqrt_price_x96:
        t -= 1
    while t < MAX_TICK - 1 and get_sqrt_ratio_at_tick(t + 1) <= sqrt_price_x96:
        t += 1
    return t


def _to_int256(x: int) -> int:
    x &= MAX_UINT256
    return x - _U256 if x >> 255 else x


def get_tick_at_sqrt_ratio_reference(sqrt_price_x96: int) -> int:
    """Literal port of the contract's ``getTickAtSqrtRatio`` (msb + 14-bit log2 loop); slow, for tests."""
    if not (MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO):
        raise ValueError("R")
    ratio = sqrt_price_x96 << 32
    msb = ratio.bit_length() - 1
    r = ratio >> (msb - 127) if msb >= 128 else ratio << (127 - msb)
    log_2 = (msb - 128) << 64
    for shift in range(63, 49, -1):
        r = (r * r) >> 127
        f = r >> 128
        log_2 |= f << shift
        r >>= f
    log_sqrt10001 = log_2 * 255738958999603826347141
    tick_low = _to_int24((log_sqrt10001 - 3402992956809132418596140100660247210) >> 128)
    tick_hi = _to_int24((log_sqrt10001 + 291339464771989622907027621153398088495) >> 128)
    if tick_low == tick_hi:
        return tick_low
    return tick_hi if get_sqrt_ratio_at_tick(tick_hi) <= sqrt_price_x96 else tick_low


def _to_int24(x: int) -> int:
    x &= 0xFFFFFF
    return x - (1 << 24) if x >> 23 else x


# ------------------------------------------------------------------------------------------ SqrtPriceMath
def get_next_sqrt_price_from_amount0_rounding_up(sqrt_px96: int, liquidity: int, amount: int, add: bool) -> int:
    """``SqrtPriceMath.getNextSqrtPriceFromAmount0RoundingUp`` (overflow fallbacks included)."""
    if amount == 0:
        return sqrt_px96
    numerator1 = liquidity << 96
    product = amount * sqrt_px96
    if add:
        if product <= MAX_UINT256:
            denominator = numerator1 + product
            if denominator <= MAX_UINT256:
                return mul_div_rounding_up(numerator1, sqrt_px96, denominator)
        return _div_rounding_up(numerator1, numerator1 // sqrt_px96 + amount)
    if product > MAX_UINT256 or numerator1 <= product:
        raise ValueError("SqrtPriceMath: price underflow")
    result = mul_div_rounding_up(numerator1, sqrt_px96, numerator1 - product)
    if result > MAX_UINT160:
        raise ValueError("SafeCast: uint160 overflow")
    return result


def get_next_sqrt_price_from_amount1_rounding_down(
    sqrt_px96: int, liquidity: int, amount: int, add: bool
) -> int:
    """``SqrtPriceMath.getNextSqrtPriceFromAmount1RoundingDown``."""
    if add:
        quotient = (amount << 96) // liquidity
        result = sqrt_px96 + quotient
        if result > MAX_UINT160:
            raise ValueError("SafeCast: uint160 overflow")
        return result
    quotient = _div_rounding_up(amount << 96, liquidity)
    if sqrt_px96 <= quotient:
        raise ValueError("SqrtPriceMath: price underflow")
    return sqrt_px96 - quotient


def get_next_sqrt_price_from_input(sqrt_px96: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    """Price after adding ``amount_in`` of the input token, rounded so as not to pass the target."""
    if sqrt_px96 <= 0 or liquidity <= 0:
        raise ValueError("SqrtPriceMath: zero price or liquidity")
    if zero_for_one:
        return get_next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_in, True)
    return get_next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(sqrt_px96: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    """Price after removing ``amount_out`` of the output token, rounded so as to pass the target."""
    if sqrt_px96 <= 0 or liquidity <= 0:
        raise ValueError("SqrtPriceMath: zero price or liquidity")
    if zero_for_one:
        return get_next_sqrt_price_from_amount1_rounding_down(sqrt_px96, liquidity, amount_out, False)
    return get_next_sqrt_price_from_amount0_rounding_up(sqrt_px96, liquidity, amount_out, False)


def get_amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """Token0 between two prices for ``liquidity``: L * (sqrtB - sqrtA) / (sqrtA * sqrtB)."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_a <= 0:
        raise ValueError("SqrtPriceMath: zero price")
    numerator1 = liquidity << 96
    numerator2 = sqrt_b - sqrt_a
    if round_up:
        return _div_rounding_up(mul_div_rounding_up(numerator1, numerator2, sqrt_b), sqrt_a)
    return numerator1 * numerator2 // sqrt_b // sqrt_a


def get_amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """Token1 between two prices for ``liquidity``: L * (sqrtB - sqrtA) / 2^96."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if round_up:
        return mul_div_rounding_up(liquidity, sqrt_b - sqrt_a, Q96)
    return (liquidity * (sqrt_b - sqrt_a)) >> 96


def get_amount0_delta_signed(sqrt_a: int, sqrt_b: int, liquidity_delta: int) -> int:
    """Signed variant used by mint / burn: rounds up when adding liquidity, down (negative) when removing."""
    if liquidity_delta < 0:
        return -get_amount0_delta(sqrt_a, sqrt_b, -liquidity_delta, False)
    return get_amount0_delta(sqrt_a, sqrt_b, liquidity_delta, True)


def get_amount1_delta_signed(sqrt_a: int, sqrt_b: int, liquidity_delta: int) -> int:
    """Signed variant used by mint / burn: rounds up when adding liquidity, down (negative) when removing."""
    if liquidity_delta < 0:
        return -get_amount1_delta(sqrt_a, sqrt_b, -liquidity_delta, False)
    return get_amount1_delta(sqrt_a, sqrt_b, liquidity_delta, True)


# ----------------------------------------------------------------------------------------------- SwapMath
def compute_swap_step(
    sqrt_current: int, sqrt_target: int, liquidity: int, amount_remaining: int, fee_pips: int
) -> tuple[int, int, int, int]:
    """``SwapMath.computeSwapStep`` -> (sqrt_next, amount_in, amount_out, fee_amount).

    ``amount_remaining`` > 0: exact input (fee included; :func:`swap_step_exact_in`); < 0: exact output.
    ``fee_pips`` in 1e-6.
    """
    if amount_remaining >= 0:
        return swap_step_exact_in(sqrt_current, sqrt_target, liquidity, amount_remaining, fee_pips)
    zero_for_one = sqrt_current >= sqrt_target
    wanted = -amount_remaining
    if zero_for_one:
        amount_out = get_amount1_delta(sqrt_target, sqrt_current, liquidity, False)
    else:
        amount_out = get_amount0_delta(sqrt_current, sqrt_target, liquidity, False)
    if wanted >= amount_out:
        sqrt_next = sqrt_target
    else:
        sqrt_next = get_next_sqrt_price_from_output(sqrt_current, liquidity, wanted, zero_for_one)
    reached = sqrt_target == sqrt_next
    if zero_for_one:
        amount_in = get_amount0_delta(sqrt_next, sqrt_current, liquidity, True)
        if not reached:
            amount_out = get_amount1_delta(sqrt_next, sqrt_current, liquidity, False)
    else:
        amount_in = get_amount1_delta(sqrt_current, sqrt_next, liquidity, True)
        if not reached:
            amount_out = get_amount0_delta(sqrt_current, sqrt_next, liquidity, False)
    if amount_out > wanted:
        amount_out = wanted
    return sqrt_next, amount_in, amount_out, mul_div_rounding_up(amount_in, fee_pips, 1_000_000 - fee_pips)


def _amount0_up(num: int, sqrt_lo: int, sqrt_hi: int) -> int:
    """``getAmount0Delta(lo, hi, L, roundUp)`` for ``num = L << 96`` and ``0 < lo <= hi``:
    ``divRoundingUp(mulDivRoundingUp(num, hi - lo, hi), lo)``."""
    q, r = divmod(num * (sqrt_hi - sqrt_lo), sqrt_hi)
    if r:
        q += 1
    if q > MAX_UINT256:
        raise ValueError("FullMath: overflow")
    q, r = divmod(q, sqrt_lo)
    return q + 1 if r else q


def swap_step_exact_in(
    sqrt_current: int, sqrt_target: int, liquidity: int, amount_remaining: int, fee_pips: int
) -> tuple[int, int, int, int]:
    """``SwapMath.computeSwapStep`` for an exact input (``amount_remaining`` >= 0, fee included) ->
    (sqrt_next, amount_in, amount_out, fee_amount): the contract's exact-input branch with its SqrtPriceMath calls
    specialised to the direction (same integer expressions, same rounding and the same reverts)."""
    less_fee = amount_remaining * (1_000_000 - fee_pips) // 1_000_000
    if sqrt_current >= sqrt_target:  # zero for one: token0 in, the price falls to the target
        if sqrt_target <= 0:
            raise ValueError("SqrtPriceMath: zero price")
        num = liquidity << 96
        amount_in = _amount0_up(num, sqrt_target, sqrt_current)
        if less_fee >= amount_in:
            sqrt_next = sqrt_target
        else:  # getNextSqrtPriceFromInput: amount0, rounding up (liquidity > 0 here: amount_in > 0)
            product = less_fee * sqrt_current
            if product <= MAX_UINT256 and num + product <= MAX_UINT256:  # mulDivRoundingUp: at most the price
                q, r = divmod(num * sqrt_current, num + product)
                sqrt_next = q + 1 if r else q
            else:  # the contract's overflow fallback
                sqrt_next = get_next_sqrt_price_from_amount0_rounding_up(sqrt_current, liquidity, less_fee, True)
            amount_in = _amount0_up(num, sqrt_next, sqrt_current)
        amount_out = (liquidity * (sqrt_current - sqrt_next)) >> 96  # getAmount1Delta, rounded down
    else:  # one for zero: token1 in, the price rises to the target
        x = liquidity * (sqrt_target - sqrt_current)  # getAmount1Delta, rounded up (x >= 0: / 2**96 by shifts)
        amount_in = (x >> 96) + 1 if x & _Q96_MASK else x >> 96
        if amount_in > MAX_UINT256:
            raise ValueError("FullMath: overflow")
        if less_fee >= amount_in:
            sqrt_next = sqrt_target
        else:  # getNextSqrtPriceFromInput: amount1, rounding down (liquidity > 0 here: amount_in > 0)
            sqrt_next = sqrt_current + (less_fee << 96) // liquidity
            if sqrt_next > MAX_UINT160:
                raise ValueError("SafeCast: uint160 overflow")
            x = liquidity * (sqrt_next - sqrt_current)
            amount_in = (x >> 96) + 1 if x & _Q96_MASK else x >> 96
            if amount_in > MAX_UINT256:
                raise ValueError("FullMath: overflow")
        # getAmount0Delta(current, next, L, roundDown)
        amount_out = (liquidity << 96) * (sqrt_next - sqrt_current) // sqrt_next // sqrt_current
    if sqrt_next != sqrt_target:
        return sqrt_next, amount_in, amount_out, amount_remaining - amount_in
    return sqrt_next, amount_in, amount_out, mul_div_rounding_up(amount_in, fee_pips, 1_000_000 - fee_pips)


# -------------------------------------------------------------------------------------- LiquidityAmounts
def _to_uint128(x: int) -> int:
    if x > MAX_UINT128:
        raise ValueError("LiquidityAmounts: uint128 overflow")
    return x


def get_liquidity_for_amount0(sqrt_a: int, sqrt_b: int, amount0: int) -> int:
    """``LiquidityAmounts.getLiquidityForAmount0``."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    intermediate = sqrt_a * sqrt_b // Q96
    return _to_uint128(mul_div(amount0, intermediate, sqrt_b - sqrt_a))


def get_liquidity_for_amount1(sqrt_a: int, sqrt_b: int, amount1: int) -> int:
    """``LiquidityAmounts.getLiquidityForAmount1``."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    return _to_uint128(mul_div(amount1, Q96, sqrt_b - sqrt_a))


def get_liquidity_for_amounts(sqrt_price: int, sqrt_a: int, sqrt_b: int, amount0: int, amount1: int) -> int:
    """``LiquidityAmounts.getLiquidityForAmounts``: the most liquidity both amounts can pay for."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_price <= sqrt_a:
        return get_liquidity_for_amount0(sqrt_a, sqrt_b, amount0)
    if sqrt_price < sqrt_b:
        return min(
            get_liquidity_for_amount0(sqrt_price, sqrt_b, amount0),
            get_liquidity_for_amount1(sqrt_a, sqrt_price, amount1),
        )
    return get_liquidity_for_amount1(sqrt_a, sqrt_b, amount1)


def get_amount0_for_liquidity(sqrt_a: int, sqrt_b: int, liquidity: int) -> int:
    """``LiquidityAmounts.getAmount0ForLiquidity`` (rounded down)."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    return mul_div(liquidity << 96, sqrt_b - sqrt_a, sqrt_b) // sqrt_a


def get_amount1_for_liquidity(sqrt_a: int, sqrt_b: int, liquidity: int) -> int:
    """``LiquidityAmounts.getAmount1ForLiquidity`` (rounded down)."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    return mul_div(liquidity, sqrt_b - sqrt_a, Q96)


def get_amounts_for_liquidity(sqrt_price: int, sqrt_a: int, sqrt_b: int, liquidity: int) -> tuple[int, int]:
    """``LiquidityAmounts.getAmountsForLiquidity`` (rounded down; what a position is worth)."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_price <= sqrt_a:
        return get_amount0_for_liquidity(sqrt_a, sqrt_b, liquidity), 0
    if sqrt_price < sqrt_b:
        return (
            get_amount0_for_liquidity(sqrt_price, sqrt_b, liquidity),
            get_amount1_for_liquidity(sqrt_a, sqrt_price, liquidity),
        )
    return 0, get_amount1_for_liquidity(sqrt_a, sqrt_b, liquidity)


def max_liquidity_per_tick(tick_spacing: int) -> int:
    """``Tick.tickSpacingToMaxLiquidityPerTick`` (Solidity division truncates toward zero)."""
    min_tick = -(-MIN_TICK // tick_spacing) * tick_spacing
    max_tick = (MAX_TICK // tick_spacing) * tick_spacing
    num_ticks = (max_tick - min_tick) // tick_spacing + 1
    return MAX_UINT128 // num_ticks


def encode_price_sqrt(amount1: int, amount0: int) -> int:
    """``sqrt(amount1 / amount0) * 2^96`` rounded down (a pool's initial price from a base-unit ratio)."""
    return math.isqrt((amount1 << 192) // amount0)


# ------------------------------------------------------------------------------------------------- Pool
# A tick's state: (liquidity_gross, liquidity_net, fee_growth_outside0_x128, fee_growth_outside1_x128).
TickInfo = tuple[int, int, int, int]
# A position's state: (liquidity, fee_growth_inside0_last_x128, fee_growth_inside1_last_x128,
#                      tokens_owed0, tokens_owed1).
PositionInfo = tuple[int, int, int, int, int]
PositionKey = tuple[str, int, int]


class V3Pool:
    """State of a ``UniswapV3Pool`` and its exact swap / mint / burn, as pure functions of the state.

    Every operation returns a NEW pool and leaves ``self`` untouched (a quote never mutates); the tick
    and position maps are copied only when an operation changes them, so :meth:`copy` and swaps that
    cross no initialised tick are cheap. ``ticks`` maps each initialised tick to its
    :data:`TickInfo`; the oracle (observations) is not simulated, it does not affect amounts.
    ``fee_protocol`` is slot0's packed byte (token0 in the low 4 bits, token1 in the high 4 bits).
    """

    __slots__ = (
        "_sorted_ticks",
        "_steps",
        "fee",
        "fee_growth_global0_x128",
        "fee_growth_global1_x128",
        "fee_protocol",
        "liquidity",
        "positions",
        "protocol_fees0",
        "protocol_fees1",
        "sqrt_price_x96",
        "tick",
        "tick_spacing",
        "ticks",
    )

    def __init__(
        self,
        sqrt_price_x96: int,
        tick: int,
        liquidity: int,
        fee: int,
        tick_spacing: int | None = None,
        ticks: Mapping[int, int | TickInfo] | None = None,
        fee_growth_global0_x128: int = 0,
        fee_growth_global1_x128: int = 0,
        fee_protocol: int = 0,
        positions: Mapping[PositionKey, PositionInfo] | None = None,
        protocol_fees0: int = 0,
        protocol_fees1: int = 0,
    ) -> None:
        """Build a pool state; ``ticks`` values are a :data:`TickInfo` or just ``liquidity_net``
        (then ``liquidity_gross`` is taken as ``abs(liquidity_net)`` and fee growth outside as 0)."""
        if tick_spacing is None:
            if fee not in FEE_TIERS:
                raise ValueError(f"unknown fee tier {fee}; give tick_spacing")
            tick_spacing = FEE_TIERS[fee]
        self.sqrt_price_x96 = sqrt_price_x96
        self.tick = tick
        self.liquidity = liquidity
        self.fee = fee
        self.tick_spacing = tick_spacing
        norm: dict[int, TickInfo] = {}
        for t, v in (ticks or {}).items():
            norm[t] = (abs(v), v, 0, 0) if isinstance(v, int) else tuple(v)  # type: ignore[assignment]
        self.ticks: dict[int, TickInfo] = norm
        self._sorted_ticks: list[int] = sorted(norm)
        self._steps: dict[int, tuple[int, bool, int]] = {}  # memo of _next_step for this set of initialised ticks
        self.fee_growth_global0_x128 = fee_growth_global0_x128
        self.fee_growth_global1_x128 = fee_growth_global1_x128
        self.fee_protocol = fee_protocol
        self.positions: dict[PositionKey, PositionInfo] = dict(positions or {})
        self.protocol_fees0 = protocol_fees0
        self.protocol_fees1 = protocol_fees1

    @classmethod
    def initialize(cls, fee: int, sqrt_price_x96: int, tick_spacing: int | None = None) -> V3Pool:
        """A fresh pool as ``UniswapV3Pool.initialize`` leaves it (no liquidity)."""
        return cls(sqrt_price_x96, get_tick_at_sqrt_ratio(sqrt_price_x96), 0, fee, tick_spacing)

    def copy(self) -> V3Pool:
        """A shallow copy sharing the (never mutated in place) tick / position maps."""
        new = V3Pool.__new__(V3Pool)
        new.sqrt_price_x96 = self.sqrt_price_x96
        new.tick = self.tick
        new.liquidity = self.liquidity
        new.fee = self.fee
        new.tick_spacing = self.tick_spacing
        new.ticks = self.ticks
        new._sorted_ticks = self._sorted_ticks
        new._steps = self._steps
        new.fee_growth_global0_x128 = self.fee_growth_global0_x128
        new.fee_growth_global1_x128 = self.fee_growth_global1_x128
        new.fee_protocol = self.fee_protocol
        new.positions = self.positions
        new.protocol_fees0 = self.protocol_fees0
        new.protocol_fees1 = self.protocol_fees1
        return new

    def __repr__(self) -> str:
        return (
            f"V3Pool(fee={self.fee}, sqrt_price_x96={self.sqrt_price_x96}, tick={self.tick}, "
            f"liquidity={self.liquidity}, initialized_ticks={len(self._sorted_ticks)})"
        )

    # ------------------------------------------------------------------------------------ tick bitmap
    def next_initialized_tick_within_one_word(self, tick: int, lte: bool) -> tuple[int, bool]:
        """``TickBitmap.nextInitializedTickWithinOneWord``: the next initialised tick in the same
        256-tick (compressed) bitmap word, else the word's boundary tick (``initialized`` False)."""
        spacing = self.tick_spacing
        compressed = tick // spacing  # floor == the contract's round-towards-negative-infinity
        sorted_ticks = self._sorted_ticks
        if lte:
            word_start = (compressed >> 8) << 8
            i = bisect_right(sorted_ticks, compressed * spacing) - 1
            if i >= 0 and sorted_ticks[i] >= word_start * spacing:
                return sorted_ticks[i], True
            return word_start * spacing, False
        c0 = compressed + 1
        word_end = ((c0 >> 8) << 8) + 255
        i = bisect_left(sorted_ticks, c0 * spacing)
        if i < len(sorted_ticks) and sorted_ticks[i] <= word_end * spacing:
            return sorted_ticks[i], True
        return word_end * spacing, False

    def _next_step(self, tick: int, zero_for_one: bool) -> tuple[int, bool, int]:
        """A swap step's end from ``tick``: ``(tick_next, initialized, sqrt price at tick_next)`` with the next
        initialised tick clamped to [MIN_TICK, MAX_TICK] as ``UniswapV3Pool.swap`` does; memoised per set of
        initialised ticks (pools that share it share the memo: swaps never change it)."""
        key = tick + tick + zero_for_one
        hit = self._steps.get(key)
        if hit is None:
            tick_next, initialized = self.next_initialized_tick_within_one_word(tick, zero_for_one)
            tick_next = MIN_TICK if tick_next < MIN_TICK else MAX_TICK if tick_next > MAX_TICK else tick_next
            if len(self._steps) >= _STEP_MEMO_SIZE:
                self._steps.clear()
            hit = self._steps[key] = (tick_next, initialized, get_sqrt_ratio_at_tick(tick_next))
        return hit

    # ------------------------------------------------------------------------------------------- swap
    def swap(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None = None
    ) -> tuple[int, int, V3Pool]:
        """``UniswapV3Pool.swap`` -> (amount0, amount1, new pool); ``self`` is not modified.

        ``amount_specified`` > 0: exact input; < 0: exact output (of the other token). Amounts are
        signed from the pool's side: the input is positive, the output negative. ``None`` as the limit
        means the routers' default (MIN_SQRT_RATIO + 1 / MAX_SQRT_RATIO - 1). The swap stops early at
        the limit, so an output may be smaller than asked (exact output) when liquidity runs out.
        """
        a0, a1, new = self._swap(zero_for_one, amount_specified, sqrt_price_limit_x96, True)
        assert new is not None
        return a0, a1, new

    def quote(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None = None
    ) -> tuple[int, int]:
        """Like :meth:`swap` but returns only (amount0, amount1): the cheapest path, no new state."""
        a0, a1, _ = self._swap(zero_for_one, amount_specified, sqrt_price_limit_x96, False)
        return a0, a1

    def exact_input_quoter(self, zero_for_one: bool) -> Callable[[int], tuple[int, int]]:
        """``quote(amount_in) -> (amount in used, amount out)`` of exact-input swaps from this state at the
        routers' default price limit, equal to :meth:`quote`'s: the same ``computeSwapStep`` calls over the same
        targets and liquidity, with the tick-bitmap walk, the tick -> price conversions and the liquidity
        crossings done once for every amount (a ladder of steps grown as deeper amounts reach it). Raises
        ValueError where :meth:`quote` does. For many quotes of one state (the router's search)."""
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        start, fee = self.sqrt_price_x96, self.fee
        ticks, next_step = self.ticks, self._next_step
        ladder: list[tuple[int, int, str | None]] = []  # per step: target price, liquidity, revert on crossing
        walk = [self.tick, self.liquidity, start]  # the state after the ladder's last step

        def grow() -> None:
            tick, liquidity, _ = walk
            tick_next, initialized, sqrt_next = next_step(tick, zero_for_one)
            beyond = sqrt_next < limit if zero_for_one else sqrt_next > limit
            target = limit if beyond else sqrt_next
            err = None
            after = liquidity
            if not beyond:  # reaching the target crosses tick_next
                if initialized:
                    net = ticks[tick_next][1]
                    after += -net if zero_for_one else net
                    err = "LS" if after < 0 else "LA" if after > MAX_UINT128 else None
                tick = tick_next - 1 if zero_for_one else tick_next
            ladder.append((target, liquidity, err))
            walk[:] = [tick, after, target]

        def quote(amount_in: int) -> tuple[int, int]:
            if amount_in == 0:
                raise ValueError("AS")
            if not (MIN_SQRT_RATIO < limit < start if zero_for_one else start < limit < MAX_SQRT_RATIO):
                raise ValueError("SPL")
            remaining, out, sqrt, k = amount_in, 0, start, 0
            while remaining != 0 and sqrt != limit:
                if k == len(ladder):
                    grow()
                target, liquidity, err = ladder[k]
                sqrt, a_in, a_out, fee_amount = swap_step_exact_in(sqrt, target, liquidity, remaining, fee)
                remaining -= a_in + fee_amount
                out += a_out
                if sqrt != target:
                    if remaining != 0:  # stopped inside a step with input left: not a ladder walk, ask quote
                        a0, a1 = self.quote(zero_for_one, amount_in)
                        return (a0, -a1) if zero_for_one else (a1, -a0)
                    break
                if err is not None and target != limit:
                    raise ValueError(err)
                k += 1
            return amount_in - remaining, out
        return quote

    def quote_exact_input(self, zero_for_one: bool, amount_in: int) -> int:
        """Output amount (positive) for exactly ``amount_in`` in (fee included), as QuoterV2 returns it."""
        a0, a1, _ = self._swap(zero_for_one, amount_in, None, False)
        return -a1 if zero_for_one else -a0

    def quote_exact_output(self, zero_for_one: bool, amount_out: int) -> int:
        """Input amount (fee included) to receive ``amount_out``; raises if the pool cannot deliver it
        (QuoterV2 reverts in that case too)."""
        a0, a1, _ = self._swap(zero_for_one, -amount_out, None, False)
        received = -a1 if zero_for_one else -a0
        if received != amount_out:
            raise ValueError("not enough liquidity for the exact output")
        return a0 if zero_for_one else a1

    def _swap(
        self, zero_for_one: bool, amount_specified: int, limit: int | None, want_state: bool
    ) -> tuple[int, int, V3Pool | None]:
        if amount_specified == 0:
            raise ValueError("AS")
        sqrt_price = self.sqrt_price_x96
        if limit is None:
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        if zero_for_one:
            if not (MIN_SQRT_RATIO < limit < sqrt_price):
                raise ValueError("SPL")
        elif not (sqrt_price < limit < MAX_SQRT_RATIO):
            raise ValueError("SPL")

        fee = self.fee
        fee_protocol = (self.fee_protocol % 16) if zero_for_one else (self.fee_protocol >> 4)
        exact_input = amount_specified > 0
        remaining = amount_specified
        calculated = 0
        tick = self.tick
        liquidity = self.liquidity
        fee_growth_global = self.fee_growth_global0_x128 if zero_for_one else self.fee_growth_global1_x128
        protocol_fee = 0
        crossed: list[tuple[int, int]] = []  # (tick, fee growth global of the input token at crossing)
        ticks = self.ticks
        next_step = self._next_step
        step = swap_step_exact_in if exact_input else compute_swap_step

        while remaining != 0 and sqrt_price != limit:
            sqrt_start = sqrt_price
            tick_next, initialized, sqrt_next = next_step(tick, zero_for_one)
            if zero_for_one:
                target = limit if sqrt_next < limit else sqrt_next
            else:
                target = limit if sqrt_next > limit else sqrt_next
            sqrt_price, amount_in, amount_out, fee_amount = step(sqrt_price, target, liquidity, remaining, fee)
            if exact_input:
                remaining -= amount_in + fee_amount
                calculated -= amount_out
            else:
                remaining += amount_out
                calculated += amount_in + fee_amount
            if fee_protocol > 0:
                delta = fee_amount // fee_protocol
                fee_amount -= delta
                protocol_fee += delta
            if liquidity > 0 and fee_amount:
                fee_growth_global = (fee_growth_global + (fee_amount << 128) // liquidity) & MAX_UINT256
            if sqrt_price == sqrt_next:
                if initialized:
                    liquidity_net = ticks[tick_next][1]
                    if zero_for_one:
                        liquidity_net = -liquidity_net
                    liquidity += liquidity_net
                    if liquidity < 0:
                        raise ValueError("LS")
                    if liquidity > MAX_UINT128:
                        raise ValueError("LA")
                    if want_state:
                        crossed.append((tick_next, fee_growth_global))
                tick = tick_next - 1 if zero_for_one else tick_next
            elif sqrt_price != sqrt_start:
                if want_state or (remaining != 0 and sqrt_price != limit):
                    # getTickAtSqrtRatio: the tick t with ratio(t) <= price < ratio(t + 1), often still ``tick``
                    if not (MIN_TICK <= tick < MAX_TICK
                            and get_sqrt_ratio_at_tick(tick) <= sqrt_price < get_sqrt_ratio_at_tick(tick + 1)):
                        tick = get_tick_at_sqrt_ratio(sqrt_price)

        if zero_for_one == exact_input:
            amount0, amount1 = amount_specified - remaining, calculated
        else:
            amount0, amount1 = calculated, amount_specified - remaining
        if not want_state:
            return amount0, amount1, None

        new = self.copy()
        new.sqrt_price_x96 = sqrt_price
        new.tick = tick
        new.liquidity = liquidity
        if zero_for_one:
            new.fee_growth_global0_x128 = fee_growth_global
            new.protocol_fees0 = self.protocol_fees0 + protocol_fee
        else:
            new.fee_growth_global1_x128 = fee_growth_global
            new.protocol_fees1 = self.protocol_fees1 + protocol_fee
        if crossed:
            new_ticks = dict(ticks)
            for t, fg_in in crossed:
                gross, net, out0, out1 = new_ticks[t]
                if zero_for_one:
                    g0, g1 = fg_in, self.fee_growth_global1_x128
                else:
                    g0, g1 = self.fee_growth_global0_x128, fg_in
                new_ticks[t] = (gross, net, (g0 - out0) & MAX_UINT256, (g1 - out1) & MAX_UINT256)
            new.ticks = new_ticks
        return amount0, amount1, new

    # ------------------------------------------------------------------------------- fees / positions
    def fee_growth_inside(self, tick_lower: int, tick_upper: int) -> tuple[int, int]:
        """``Tick.getFeeGrowthInside`` for a range whose two ticks are initialised (mod 2^256)."""
        g0, g1 = self.fee_growth_global0_x128, self.fee_growth_global1_x128
        _, _, lo0, lo1 = self.ticks.get(tick_lower, (0, 0, 0, 0))
        _, _, up0, up1 = self.ticks.get(tick_upper, (0, 0, 0, 0))
        current = self.tick
        if current >= tick_lower:
            below0, below1 = lo0, lo1
        else:
            below0, below1 = g0 - lo0, g1 - lo1
        if current < tick_upper:
            above0, above1 = up0, up1
        else:
            above0, above1 = g0 - up0, g1 - up1
        return (g0 - below0 - above0) & MAX_UINT256, (g1 - below1 - above1) & MAX_UINT256

    def position(self, owner: str, tick_lower: int, tick_upper: int) -> PositionInfo:
        """The stored position (liquidity, fee growth inside last 0/1, tokens owed 0/1); zeros if none."""
        return self.positions.get((owner, tick_lower, tick_upper), (0, 0, 0, 0, 0))

    def fees_owed(self, owner: str, tick_lower: int, tick_upper: int) -> tuple[int, int]:
        """Tokens owed to a position if it were poked now (``burn(0)``): stored owed + fees accrued since
        its last update, as ``Position.update`` computes them (truncated to uint128)."""
        liq, last0, last1, owed0, owed1 = self.position(owner, tick_lower, tick_upper)
        inside0, inside1 = self.fee_growth_inside(tick_lower, tick_upper)
        new0 = (((inside0 - last0) & MAX_UINT256) * liq >> 128) & MAX_UINT128
        new1 = (((inside1 - last1) & MAX_UINT256) * liq >> 128) & MAX_UINT128
        return (owed0 + new0) & MAX_UINT128, (owed1 + new1) & MAX_UINT128

    def _check_ticks(self, tick_lower: int, tick_upper: int) -> None:
        if tick_lower >= tick_upper:
            raise ValueError("TLU")
        if tick_lower < MIN_TICK:
            raise ValueError("TLM")
        if tick_upper > MAX_TICK:
            raise ValueError("TUM")
        if tick_lower % self.tick_spacing or tick_upper % self.tick_spacing:
            raise ValueError("tick not a multiple of the tick spacing")

    def modify_position(
        self, owner: str, tick_lower: int, tick_upper: int, liquidity_delta: int
    ) -> tuple[int, int, V3Pool]:
        """``UniswapV3Pool._modifyPosition`` -> (amount0, amount1, new pool): signed amounts from the
        pool's side (mint: positive, rounded up; burn: negative, rounded down). A burn does not pay out:
        like the contract it adds the amounts to the position's tokens owed."""
        self._check_ticks(tick_lower, tick_upper)
        current = self.tick
        g0, g1 = self.fee_growth_global0_x128, self.fee_growth_global1_x128
        new = self.copy()
        new_ticks = dict(self.ticks)
        flipped: list[int] = []
        if liquidity_delta != 0:
            max_liq = max_liquidity_per_tick(self.tick_spacing)
            for t, upper in ((tick_lower, False), (tick_upper, True)):
                gross, net, out0, out1 = new_ticks.get(t, (0, 0, 0, 0))
                gross_after = gross + liquidity_delta
                if gross_after < 0:
                    raise ValueError("LS")
                if gross_after > max_liq:
                    raise ValueError("LO")
                if (gross_after == 0) != (gross == 0):
                    flipped.append(t)
                if gross == 0 and t <= current:
                    out0, out1 = g0, g1
                net = net - liquidity_delta if upper else net + liquidity_delta
                new_ticks[t] = (gross_after, net, out0, out1)
        new.ticks = new_ticks
        inside0, inside1 = new.fee_growth_inside(tick_lower, tick_upper)

        key = (owner, tick_lower, tick_upper)
        liq, last0, last1, owed0, owed1 = self.positions.get(key, (0, 0, 0, 0, 0))
        if liquidity_delta == 0:
            if liq <= 0:
                raise ValueError("NP")
            liq_next = liq
        else:
            liq_next = liq + liquidity_delta
            if liq_next < 0:
                raise ValueError("LS")
        add0 = (((inside0 - last0) & MAX_UINT256) * liq >> 128) & MAX_UINT128
        add1 = (((inside1 - last1) & MAX_UINT256) * liq >> 128) & MAX_UINT128
        if add0 or add1:
            owed0 = (owed0 + add0) & MAX_UINT128
            owed1 = (owed1 + add1) & MAX_UINT128

        amount0 = amount1 = 0
        if liquidity_delta != 0:
            sa, sb = get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper)
            if current < tick_lower:
                amount0 = get_amount0_delta_signed(sa, sb, liquidity_delta)
            elif current < tick_upper:
                amount0 = get_amount0_delta_signed(self.sqrt_price_x96, sb, liquidity_delta)
                amount1 = get_amount1_delta_signed(sa, self.sqrt_price_x96, liquidity_delta)
                new.liquidity = self.liquidity + liquidity_delta
                if new.liquidity < 0:
                    raise ValueError("LS")
            else:
                amount1 = get_amount1_delta_signed(sa, sb, liquidity_delta)
        if liquidity_delta < 0:
            owed0 = (owed0 - amount0) & MAX_UINT128
            owed1 = (owed1 - amount1) & MAX_UINT128
            for t in flipped:
                del new_ticks[t]
        new_positions = dict(self.positions)
        new_positions[key] = (liq_next, inside0, inside1, owed0, owed1)
        new.positions = new_positions
        if flipped:
            new._sorted_ticks = sorted(new_ticks)
            new._steps = {}
        return amount0, amount1, new

    def mint(self, owner: str, tick_lower: int, tick_upper: int, liquidity: int) -> tuple[int, int, V3Pool]:
        """``UniswapV3Pool.mint`` -> (amount0, amount1 owed to the pool, rounded up; new pool)."""
        if liquidity <= 0:
            raise ValueError("mint: liquidity must be > 0")
        return self.modify_position(owner, tick_lower, tick_upper, liquidity)

    def burn(self, owner: str, tick_lower: int, tick_upper: int, liquidity: int) -> tuple[int, int, V3Pool]:
        """``UniswapV3Pool.burn`` -> (amount0, amount1 credited to tokens owed, rounded down; new pool)."""
        a0, a1, new = self.modify_position(owner, tick_lower, tick_upper, -liquidity)
        return -a0, -a1, new

    def collect(
        self, owner: str, tick_lower: int, tick_upper: int,
        amount0_requested: int = MAX_UINT128, amount1_requested: int = MAX_UINT128,
    ) -> tuple[int, int, V3Pool]:
        """``UniswapV3Pool.collect``: pay out up to the requested stored tokens owed (no poke)."""
        key = (owner, tick_lower, tick_upper)
        liq, last0, last1, owed0, owed1 = self.position(owner, tick_lower, tick_upper)
        a0 = min(amount0_requested, owed0)
        a1 = min(amount1_requested, owed1)
        new = self.copy()
        new_positions = dict(self.positions)
        new_positions[key] = (liq, last0, last1, owed0 - a0, owed1 - a1)
        new.positions = new_positions
        return a0, a1, new
