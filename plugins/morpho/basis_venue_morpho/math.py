"""Morpho Blue's integer math, as pure functions on immutable values (no I/O, no Decimal).

Mirrors, line for line, ``Morpho.sol`` 1.0.0 (npm ``@morpho-org/morpho-blue``: ``MathLib``, ``SharesMathLib``,
``UtilsLib``, ``_accrueInterest``, ``supply`` / ``withdraw`` / ``borrow`` / ``repay`` / ``supplyCollateral`` /
``withdrawCollateral`` / ``liquidate``, ``_isHealthy``) and Morpho's ``AdaptiveCurveIrm`` (``ExpLib.wExp``,
``ConstantsLib``, ``_borrowRate``, ``_curve``, ``_newRateAtTarget``). Every amount is an ``int`` in base units
(shares in share units, rates in WAD per second, prices scaled by 1e36). Rounding directions are the
contract's: shares and assets always round in favour of the protocol.

A call the contract would revert raises :class:`MorphoRevert` with the contract's reason string
(``ErrorsLib``) or ``"arithmetic underflow"`` for a checked-arithmetic panic; nothing is returned then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

WAD = 10**18
VIRTUAL_SHARES = 10**6
VIRTUAL_ASSETS = 1
ORACLE_PRICE_SCALE = 10**36
MAX_FEE = 25 * 10**16
LIQUIDATION_CURSOR = 3 * 10**17
MAX_LIQUIDATION_INCENTIVE_FACTOR = 115 * 10**16
UINT128_MAX = 2**128 - 1
SECONDS_PER_YEAR = 365 * 24 * 3600

# AdaptiveCurveIrm ConstantsLib (int256 in the contract)
CURVE_STEEPNESS = 4 * WAD
ADJUSTMENT_SPEED = 50 * WAD // SECONDS_PER_YEAR
TARGET_UTILIZATION = 9 * 10**17
INITIAL_RATE_AT_TARGET = 4 * 10**16 // SECONDS_PER_YEAR
MIN_RATE_AT_TARGET = 10**15 // SECONDS_PER_YEAR
MAX_RATE_AT_TARGET = 2 * WAD // SECONDS_PER_YEAR

# ExpLib
LN_2_INT = 693147180559945309
LN_WEI_INT = -41446531673892822312
WEXP_UPPER_BOUND = 93859467695000404319
_HALF_LN_2 = LN_2_INT // 2
_TWO_WAD = 2 * WAD
_MIN_RAT, _MAX_RAT = MIN_RATE_AT_TARGET, MAX_RATE_AT_TARGET
_THREE_WAD = 3 * WAD
WEXP_UPPER_VALUE = 57716089161558943949701069502944508345128422502756744429568

# ErrorsLib reasons
MARKET_NOT_CREATED = "market not created"
INCONSISTENT_INPUT = "inconsistent input"
ZERO_ASSETS = "zero assets"
INSUFFICIENT_COLLATERAL = "insufficient collateral"
INSUFFICIENT_LIQUIDITY = "insufficient liquidity"
HEALTHY_POSITION = "position is healthy"
MAX_UINT128_EXCEEDED = "max uint128 exceeded"
UNDERFLOW = "arithmetic underflow"


class MorphoRevert(Exception):
    """The contract would revert with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- MathLib / SharesMathLib / UtilsLib ---------------------------------------------------------------------
def mul_div_down(x: int, y: int, d: int) -> int:
    return (x * y) // d


def mul_div_up(x: int, y: int, d: int) -> int:
    return (x * y + (d - 1)) // d


def w_mul_down(x: int, y: int) -> int:
    return (x * y) // WAD


def w_div_down(x: int, y: int) -> int:
    return (x * WAD) // y


def w_div_up(x: int, y: int) -> int:
    return mul_div_up(x, WAD, y)


def w_taylor_compounded(x: int, n: int) -> int:
    """``e^(x*n) - 1`` by its first three Taylor terms (MathLib.wTaylorCompounded)."""
    first = x * n
    second = mul_div_down(first, first, 2 * WAD)
    third = mul_div_down(second, first, 3 * WAD)
    return first + second + third


def to_shares_down(assets: int, total_assets: int, total_shares: int) -> int:
    return mul_div_down(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_shares_up(assets: int, total_assets: int, total_shares: int) -> int:
    return mul_div_up(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_assets_down(shares: int, total_assets: int, total_shares: int) -> int:
    return mul_div_down(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


def to_assets_up(shares: int, total_assets: int, total_shares: int) -> int:
    return mul_div_up(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


def zero_floor_sub(x: int, y: int) -> int:
    return x - y if x > y else 0


def u128(x: int) -> int:
    """UtilsLib.toUint128: ``x``, or a revert above ``type(uint128).max``."""
    if x > UINT128_MAX:
        raise MorphoRevert(MAX_UINT128_EXCEEDED)
    return x


def _sub(x: int, y: int) -> int:
    """Checked subtraction (Solidity 0.8 panics on underflow)."""
    if y > x:
        raise MorphoRevert(UNDERFLOW)
    return x - y


# -- AdaptiveCurveIrm ----------------------------------------------------------------------------------------
def _tdiv(a: int, b: int) -> int:
    """int256 division: truncates toward zero."""
    if a >= 0:
        return a // b if b > 0 else -(a // -b)
    return -(-a // b) if b > 0 else -a // -b


def w_mul_to_zero(x: int, y: int) -> int:
    z = x * y  # int256 division by the positive WAD: truncates toward zero
    return z // WAD if z >= 0 else -(-z // WAD)


def w_div_to_zero(x: int, y: int) -> int:
    z = x * WAD
    if y > 0:  # the IRM's divisors are positive: floor of |z| / y with z's sign
        return z // y if z >= 0 else -(-z // y)
    return _tdiv(z, y)


def w_exp(x: int) -> int:
    """ExpLib.wExp: ``e^x`` in WAD, ``x = q ln2 + r`` with a 2nd-order Taylor ``e^r``, times ``2^q``."""
    if x < LN_WEI_INT:
        return 0
    if x >= WEXP_UPPER_BOUND:
        return WEXP_UPPER_VALUE
    a = x - _HALF_LN_2 if x < 0 else x + _HALF_LN_2
    q = a // LN_2_INT if a >= 0 else -(-a // LN_2_INT)
    r = x - q * LN_2_INT
    exp_r = WAD + r + r * r // WAD // 2  # r * r >= 0: floor is truncation
    return exp_r << q if q >= 0 else exp_r >> -q


_COEFF_BELOW = WAD - WAD * WAD // CURVE_STEEPNESS  # WAD - wDivToZero(WAD, CURVE_STEEPNESS) (both positive)
_COEFF_ABOVE = CURVE_STEEPNESS - WAD
_ERR_NORM_ABOVE = WAD - TARGET_UTILIZATION


def _curve(rate_at_target: int, err: int) -> int:
    coeff = _COEFF_BELOW if err < 0 else _COEFF_ABOVE
    return w_mul_to_zero(w_mul_to_zero(coeff, err) + WAD, rate_at_target)


def _new_rate_at_target(start: int, linear_adaptation: int) -> int:
    r = w_mul_to_zero(start, w_exp(linear_adaptation))
    return MIN_RATE_AT_TARGET if r < MIN_RATE_AT_TARGET else MAX_RATE_AT_TARGET if r > MAX_RATE_AT_TARGET else r


def _new_rate_at_target_pos(start: int, x: int) -> int:
    """:func:`_new_rate_at_target` for ``start`` > 0 (a stored rate at target), :func:`w_exp` inlined (the product
    of two non-negative numbers: truncation is floor). The same integers, fewer calls on the per-step path."""
    if x < LN_WEI_INT:
        e = 0
    elif x >= WEXP_UPPER_BOUND:
        e = WEXP_UPPER_VALUE
    else:
        a = x - _HALF_LN_2 if x < 0 else x + _HALF_LN_2
        q = a // LN_2_INT if a >= 0 else -(-a // LN_2_INT)
        r = x - q * LN_2_INT
        e = WAD + r + r * r // WAD // 2
        e = e << q if q >= 0 else e >> -q
    r = start * e // WAD
    return MIN_RATE_AT_TARGET if r < MIN_RATE_AT_TARGET else MAX_RATE_AT_TARGET if r > MAX_RATE_AT_TARGET else r


def utilization(total_borrow_assets: int, total_supply_assets: int) -> int:
    """Borrowed / supplied in WAD (rounded down; 0 for an empty market)."""
    return w_div_down(total_borrow_assets, total_supply_assets) if total_supply_assets > 0 else 0


def adaptive_curve_borrow_rate(rate_at_target: int, total_supply_assets: int, total_borrow_assets: int,
                               elapsed: int) -> tuple[int, int]:
    """AdaptiveCurveIrm._borrowRate: ``(average borrow rate over elapsed, rate at target at the end)``, WAD per
    second. ``rate_at_target`` 0 means the market's first interaction (the initial 4 %/year).

    (``utilization``, ``wDivToZero``, ``wMulToZero``, ``_curve`` inlined on this per-step path: int256 division
    truncates toward zero, written out by sign; the divisors are positive constants.)"""
    u = (total_borrow_assets * WAD) // total_supply_assets if total_supply_assets > 0 else 0
    z = (u - TARGET_UTILIZATION) * WAD
    err = z // _ERR_NORM_ABOVE if u > TARGET_UTILIZATION else -(-z // TARGET_UTILIZATION)  # z > 0 | z <= 0
    if rate_at_target == 0:
        avg = end = INITIAL_RATE_AT_TARGET
    else:
        z = ADJUSTMENT_SPEED * err
        linear = (z // WAD if z >= 0 else -(-z // WAD)) * elapsed
        if linear == 0:
            avg = end = rate_at_target
        elif rate_at_target > 0:
            end = _new_rate_at_target_pos(rate_at_target, linear)
            mid = _new_rate_at_target_pos(rate_at_target, linear // 2 if linear >= 0 else -(-linear // 2))
            avg = (rate_at_target + end + 2 * mid) // 4  # all positive (clamped at MIN_RATE_AT_TARGET > 0)
        else:
            end = _new_rate_at_target(rate_at_target, linear)
            mid = _new_rate_at_target(rate_at_target, _tdiv(linear, 2))
            avg = _tdiv(rate_at_target + end + 2 * mid, 4)
    z = (_COEFF_BELOW if err < 0 else _COEFF_ABOVE) * err
    z = ((z // WAD if z >= 0 else -(-z // WAD)) + WAD) * avg
    return (z // WAD if z >= 0 else -(-z // WAD)), end


# -- market state --------------------------------------------------------------------------------------------
# Immutable values as NamedTuples (a frozen dataclass builds 2-4x slower, and these are built on every operation
# and accrual step); change them with ``._replace``.
class Market(NamedTuple):
    """``IMorpho.Market`` plus the IRM's stored ``rateAtTarget`` for this market (WAD per second)."""

    total_supply_assets: int = 0
    total_supply_shares: int = 0
    total_borrow_assets: int = 0
    total_borrow_shares: int = 0
    last_update: int = 0
    fee: int = 0
    rate_at_target: int = 0


class Position(NamedTuple):
    """``IMorpho.Position`` of one account in one market."""

    supply_shares: int = 0
    borrow_shares: int = 0
    collateral: int = 0


#: ``_new(Market, (fields...))`` builds a Market without NamedTuple's Python-level ``__new__`` (hot paths only)
_new = tuple.__new__


class Accrual(NamedTuple):
    """What ``_accrueInterest`` did: the new market, the interest (loan-token units) and the fee shares minted."""

    market: Market
    interest: int = 0
    fee_shares: int = 0
    borrow_rate: int = 0


def accrue_interest(m: Market, now: int, irm: bool = True) -> Accrual:
    """Morpho._accrueInterest at block time ``now`` with the Adaptive Curve IRM (``irm=False``: no IRM, only
    ``lastUpdate`` moves). Fee shares go to the fee recipient (counted in ``total_supply_shares``)."""
    elapsed = now - m.last_update
    if elapsed < 0:
        raise ValueError(f"now {now} is before the market's last update {m.last_update}")
    if elapsed == 0:
        return Accrual(m)
    if not irm:
        return Accrual(m._replace(last_update=now))
    tba, tsa = m.total_borrow_assets, m.total_supply_assets
    rate, end = adaptive_curve_borrow_rate(m.rate_at_target, tsa, tba, elapsed)
    first = rate * elapsed  # wTaylorCompounded inlined: e^(x n) - 1 by three Taylor terms
    second = first * first // (2 * WAD)
    interest = tba * (first + second + second * first // (3 * WAD)) // WAD
    tba += interest
    tsa += interest
    if tba > UINT128_MAX or tsa > UINT128_MAX:
        raise MorphoRevert(MAX_UINT128_EXCEEDED)
    tss = m.total_supply_shares
    fee_shares = 0
    if m.fee != 0:
        fee_amount = w_mul_down(interest, m.fee)
        fee_shares = to_shares_down(fee_amount, tsa - fee_amount, tss)
        tss = u128(tss + fee_shares)
    return _new(Accrual, (_new(Market, (tsa, tss, tba, m.total_borrow_shares, now, m.fee, end)), interest, fee_shares,
                          rate))


def _wexp(x: int) -> int:
    """``ExpLib.wExp(x)`` as :func:`accrued_market` needs it, the same integers: for ``|x| < ln2 / 2`` (an hourly
    step's adaptation) the contract's ``q`` is 0 and ``r`` is ``x``; ``r * r / WAD / 2`` is ``r * r / (2 WAD)``."""
    if -_HALF_LN_2 < x < _HALF_LN_2:
        return WAD + x + x * x // _TWO_WAD
    return w_exp(x)


def accrued_market(m: Market, now: int) -> Market:
    """``accrue_interest(m, now).market``, the same integers: the per-step accrual of a backtest, with
    ``_borrowRate``, ``_curve``, both ``wExp`` and ``wTaylorCompounded`` inlined for a market whose IRM is
    initialised (``rate_at_target`` > 0; otherwise, and for a time before ``last_update``, it is
    :func:`accrue_interest`). int256 divisions truncate toward zero, written out by sign; the divisors are
    positive constants. ``wExp``: ``r * r / WAD / 2`` is ``r * r / (2 WAD)`` (floors of a non-negative number), and
    for ``|x| < ln2 / 2`` the contract's ``q`` is 0, ``r`` is ``x``."""
    tsa, tss, tba, tbs, last, fee, rat = m
    elapsed = now - last
    if elapsed <= 0 or rat <= 0:
        return m if elapsed == 0 else accrue_interest(m, now).market
    u = (tba * WAD) // tsa if tsa > 0 else 0
    z = (u - TARGET_UTILIZATION) * WAD
    err = z // _ERR_NORM_ABOVE if u > TARGET_UTILIZATION else -(-z // TARGET_UTILIZATION)  # z > 0 | z <= 0
    z = ADJUSTMENT_SPEED * err
    x = (z // WAD if z >= 0 else -(-z // WAD)) * elapsed  # linearAdaptation
    if x == 0:
        avg = end = rat
    else:
        # end = _newRateAtTarget(rat, x): rat x wExp(x) (both non-negative: floor), clamped
        end = rat * _wexp(x) // WAD
        end = _MIN_RAT if end < _MIN_RAT else _MAX_RAT if end > _MAX_RAT else end
        # mid = _newRateAtTarget(rat, x / 2)
        x = x >> 1 if x >= 0 else -(-x >> 1)
        mid = rat * _wexp(x) // WAD
        mid = _MIN_RAT if mid < _MIN_RAT else _MAX_RAT if mid > _MAX_RAT else mid
        avg = (rat + end + 2 * mid) >> 2  # all positive (clamped at MIN_RATE_AT_TARGET > 0)
    z = (_COEFF_BELOW if err < 0 else _COEFF_ABOVE) * err
    z = ((z // WAD if z >= 0 else -(-z // WAD)) + WAD) * avg
    first = (z // WAD if z >= 0 else -(-z // WAD)) * elapsed  # borrow rate x elapsed
    second = first * first // _TWO_WAD
    interest = tba * (first + second + second * first // _THREE_WAD) // WAD
    tba += interest
    tsa += interest
    if tba > UINT128_MAX or tsa > UINT128_MAX:
        raise MorphoRevert(MAX_UINT128_EXCEEDED)
    if fee != 0:
        fee_amount = interest * fee // WAD
        tss = u128(tss + fee_amount * (tss + VIRTUAL_SHARES) // (tsa - fee_amount + VIRTUAL_ASSETS))
    return _new(Market, (tsa, tss, tba, tbs, now, fee, end))


def _one_of(assets: int, shares: int) -> None:
    if (assets == 0) == (shares == 0):
        raise MorphoRevert(INCONSISTENT_INPUT)


def supply(m: Market, p: Position, assets: int, shares: int) -> tuple[Market, Position, int, int]:
    """Morpho.supply after accrual: ``(market, position, assets, shares)``; ``assets`` are pulled from the caller."""
    _one_of(assets, shares)
    if assets > 0:
        shares = to_shares_down(assets, m.total_supply_assets, m.total_supply_shares)
    else:
        assets = to_assets_up(shares, m.total_supply_assets, m.total_supply_shares)
    m2 = Market(u128(m.total_supply_assets + assets), u128(m.total_supply_shares + shares), m.total_borrow_assets,
                m.total_borrow_shares, m.last_update, m.fee, m.rate_at_target)
    return m2, Position(p.supply_shares + shares, p.borrow_shares, p.collateral), assets, shares


def withdraw(m: Market, p: Position, assets: int, shares: int) -> tuple[Market, Position, int, int]:
    """Morpho.withdraw after accrual: ``(market, position, assets, shares)``; ``assets`` go to the receiver."""
    _one_of(assets, shares)
    if assets > 0:
        shares = to_shares_up(assets, m.total_supply_assets, m.total_supply_shares)
    else:
        assets = to_assets_down(shares, m.total_supply_assets, m.total_supply_shares)
    p2 = Position(_sub(p.supply_shares, shares), p.borrow_shares, p.collateral)
    m2 = Market(_sub(m.total_supply_assets, assets), _sub(m.total_supply_shares, shares), m.total_borrow_assets,
                m.total_borrow_shares, m.last_update, m.fee, m.rate_at_target)
    if m2.total_borrow_assets > m2.total_supply_assets:
        raise MorphoRevert(INSUFFICIENT_LIQUIDITY)
    return m2, p2, assets, shares


def borrowed_assets(m: Market, p: Position) -> int:
    """The position's debt as ``_isHealthy`` counts it (borrow shares to assets, rounded up)."""
    return to_assets_up(p.borrow_shares, m.total_borrow_assets, m.total_borrow_shares)


def supplied_assets(m: Market, p: Position) -> int:
    """The position's supply in assets (rounded down, what a full withdrawal of its shares pays)."""
    return to_assets_down(p.supply_shares, m.total_supply_assets, m.total_supply_shares)


def max_borrow(p: Position, price: int, lltv: int) -> int:
    """``collateral x price / 1e36 x lltv``, rounded down (``_isHealthy``)."""
    return w_mul_down(mul_div_down(p.collateral, price, ORACLE_PRICE_SCALE), lltv)


def is_healthy(m: Market, p: Position, price: int, lltv: int) -> bool:
    """Morpho._isHealthy: no debt, or max borrow >= debt."""
    if p.borrow_shares == 0:
        return True
    return max_borrow(p, price, lltv) >= borrowed_assets(m, p)


def health_factor(m: Market, p: Position, price: int, lltv: int) -> int | None:
    """``max_borrow / borrowed`` in WAD (rounded down), ``None`` without debt; below 1e18 is liquidatable."""
    debt = borrowed_assets(m, p)
    if p.borrow_shares == 0 or debt == 0:
        return None
    return w_div_down(max_borrow(p, price, lltv), debt)


def borrow(m: Market, p: Position, assets: int, shares: int, price: int, lltv: int
           ) -> tuple[Market, Position, int, int]:
    """Morpho.borrow after accrual: ``(market, position, assets, shares)``; ``assets`` go to the receiver."""
    return borrow_and_debt(m, p, assets, shares, price, lltv)[:4]


def borrow_and_debt(m: Market, p: Position, assets: int, shares: int, price: int, lltv: int
                    ) -> tuple[Market, Position, int, int, int]:
    """:func:`borrow`, and the position's debt after it as ``_isHealthy`` counted it (:func:`borrowed_assets` of
    the new position in the new market). (SharesMathLib, ``toUint128`` and ``_isHealthy`` inlined on this hot
    path, the values unpacked once: the same integers, the same checks in the same order.)"""
    if (assets == 0) == (shares == 0):
        raise MorphoRevert(INCONSISTENT_INPUT)
    tsa, tss, tba, tbs, last, fee, rat = m
    ss, bs, coll = p
    if assets > 0:  # toSharesUp
        shares = (assets * (tbs + VIRTUAL_SHARES) + tba + VIRTUAL_ASSETS - 1) // (tba + VIRTUAL_ASSETS)
    else:  # toAssetsDown
        assets = (shares * (tba + VIRTUAL_ASSETS)) // (tbs + VIRTUAL_SHARES)
    bs += shares
    tba += assets
    tbs += shares
    if shares > UINT128_MAX or bs > UINT128_MAX or tba > UINT128_MAX or tbs > UINT128_MAX:
        raise MorphoRevert(MAX_UINT128_EXCEEDED)
    d = tbs + VIRTUAL_SHARES
    debt = (bs * (tba + VIRTUAL_ASSETS) + d - 1) // d  # toAssetsUp(borrowShares): 0 without shares
    if bs and ((coll * price) // ORACLE_PRICE_SCALE * lltv) // WAD < debt:  # _isHealthy: maxBorrow >= debt
        raise MorphoRevert(INSUFFICIENT_COLLATERAL)
    if tba > tsa:
        raise MorphoRevert(INSUFFICIENT_LIQUIDITY)
    return _new(Market, (tsa, tss, tba, tbs, last, fee, rat)), _new(Position, (ss, bs, coll)), assets, shares, debt


def repay(m: Market, p: Position, assets: int, shares: int) -> tuple[Market, Position, int, int]:
    """Morpho.repay after accrual: ``(market, position, assets, shares)``; ``assets`` are pulled from the caller
    (may exceed ``total_borrow_assets`` by 1)."""
    _one_of(assets, shares)
    if assets > 0:
        shares = to_shares_down(assets, m.total_borrow_assets, m.total_borrow_shares)
    else:
        assets = to_assets_up(shares, m.total_borrow_assets, m.total_borrow_shares)
    p2 = Position(p.supply_shares, _sub(p.borrow_shares, u128(shares)), p.collateral)
    m2 = Market(m.total_supply_assets, m.total_supply_shares, u128(zero_floor_sub(m.total_borrow_assets, assets)),
                _sub(m.total_borrow_shares, u128(shares)), m.last_update, m.fee, m.rate_at_target)
    return m2, p2, assets, shares


def supply_collateral(p: Position, assets: int) -> Position:
    """Morpho.supplyCollateral (no accrual)."""
    if assets == 0:
        raise MorphoRevert(ZERO_ASSETS)
    coll = p.collateral + assets
    if assets > UINT128_MAX or coll > UINT128_MAX:
        raise MorphoRevert(MAX_UINT128_EXCEEDED)
    return _new(Position, (p.supply_shares, p.borrow_shares, coll))


def withdraw_collateral(m: Market, p: Position, assets: int, price: int, lltv: int) -> Position:
    """Morpho.withdrawCollateral after accrual."""
    if assets == 0:
        raise MorphoRevert(ZERO_ASSETS)
    p2 = Position(p.supply_shares, p.borrow_shares, _sub(p.collateral, u128(assets)))
    if not is_healthy(m, p2, price, lltv):
        raise MorphoRevert(INSUFFICIENT_COLLATERAL)
    return p2


def liquidation_incentive_factor(lltv: int) -> int:
    """``min(1.15, 1 / (1 - 0.3 x (1 - lltv)))`` in WAD, as ``liquidate`` computes it."""
    return min(MAX_LIQUIDATION_INCENTIVE_FACTOR, w_div_down(WAD, WAD - w_mul_down(LIQUIDATION_CURSOR, WAD - lltv)))


@dataclass(frozen=True, slots=True)
class Liquidation:
    """Outcome of ``liquidate``: collateral seized (to the liquidator), loan assets repaid (from it), bad debt."""

    market: Market
    borrower: Position
    seized_assets: int
    repaid_assets: int
    repaid_shares: int
    bad_debt_assets: int
    bad_debt_shares: int


def liquidate(m: Market, p: Position, seized_assets: int, repaid_shares: int, price: int, lltv: int) -> Liquidation:
    """Morpho.liquidate after accrual, of borrower position ``p`` at oracle ``price``."""
    _one_of(seized_assets, repaid_shares)
    if is_healthy(m, p, price, lltv):
        raise MorphoRevert(HEALTHY_POSITION)
    lif = liquidation_incentive_factor(lltv)
    if seized_assets > 0:
        quoted = mul_div_up(seized_assets, price, ORACLE_PRICE_SCALE)
        repaid_shares = to_shares_up(w_div_up(quoted, lif), m.total_borrow_assets, m.total_borrow_shares)
    else:
        seized_assets = mul_div_down(
            w_mul_down(to_assets_down(repaid_shares, m.total_borrow_assets, m.total_borrow_shares), lif),
            ORACLE_PRICE_SCALE, price)
    repaid_assets = to_assets_up(repaid_shares, m.total_borrow_assets, m.total_borrow_shares)
    bs = _sub(p.borrow_shares, u128(repaid_shares))
    tbs = _sub(m.total_borrow_shares, u128(repaid_shares))
    tba = u128(zero_floor_sub(m.total_borrow_assets, repaid_assets))
    coll = _sub(p.collateral, u128(seized_assets))
    tsa = m.total_supply_assets
    bad_shares = bad_assets = 0
    if coll == 0:
        bad_shares = bs
        bad_assets = min(tba, to_assets_up(bad_shares, tba, tbs))
        tba -= bad_assets
        tsa -= bad_assets
        tbs -= bad_shares
        bs = 0
    m2 = m._replace(total_borrow_assets=tba, total_borrow_shares=tbs, total_supply_assets=tsa)
    return Liquidation(m2, Position(p.supply_shares, bs, coll), seized_assets, repaid_assets, repaid_shares,
                       bad_assets, bad_shares)
