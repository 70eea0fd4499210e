"""Aave v3 (protocol v3.0.2, npm ``@aave/core-v3`` 1.19.3) integer math, reproduced exactly in Python.

Pure functions on ints in the contracts' units: wad = 1e18, ray = 1e27, percentages in basis points
(10000 = 100 %), token amounts in base units (wei), prices and account values in the oracle's base
currency (USD with 8 decimals). Rounding is the contracts' half-up; an operation that reverts on
chain (overflow, division by zero) raises :class:`OverflowError` / :class:`ZeroDivisionError` here.

Sources mirrored: ``WadRayMath``, ``PercentageMath``, ``MathUtils`` (linear and 3-term compounded
interest), ``ReserveLogic.getNormalizedIncome/getNormalizedDebt/cumulateToLiquidityIndex``,
``ScaledBalanceTokenBase._mintScaled/_burnScaled``, ``GenericLogic.calculateUserAccountData`` and
``calculateAvailableBorrows``, the collateral part of ``ValidationLogic.validateBorrow``,
``DefaultReserveInterestRateStrategy.calculateInterestRates`` and the flash-loan premium.

Decimal helpers (``*_human``) take human amounts and USD prices, convert them to the integer units
exactly (amounts) or by the stated rounding (prices, to 8 decimals), run the integer path, and
convert back, so they agree with the contracts by construction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, localcontext

from basis_core.errors import InstructionError
from basis_venue_aave.params import (
    BASE_CURRENCY_DECIMALS,
    EMODE_CATEGORIES,
    RESERVES,
    EModeCategoryParams,
    RateStrategyParams,
    ReserveParams,
)

UINT256_MAX = 2**256 - 1
WAD = 10**18
HALF_WAD = WAD // 2
RAY = 10**27
HALF_RAY = RAY // 2
WAD_RAY_RATIO = 10**9
PERCENTAGE_FACTOR = 10_000
HALF_PERCENTAGE_FACTOR = PERCENTAGE_FACTOR // 2
SECONDS_PER_YEAR = 365 * 24 * 3600
HEALTH_FACTOR_LIQUIDATION_THRESHOLD = WAD

# Aave error codes (Errors.sol) that the borrow validation below can produce.
COLLATERAL_BALANCE_IS_ZERO = "34"
HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD = "35"
COLLATERAL_CANNOT_COVER_NEW_BORROW = "36"
LTV_VALIDATION_FAILED = "57"


# --------------------------------------------------------------------------------------------------
# WadRayMath / PercentageMath (half-up rounding, revert on overflow)
# --------------------------------------------------------------------------------------------------


def _check_uint(x: int) -> int:
    if x < 0 or x > UINT256_MAX:
        raise OverflowError(f"{x} is outside uint256")
    return x


def wad_mul(a: int, b: int) -> int:
    """``a * b / 1e18`` rounded half up (WadRayMath.wadMul)."""
    if b != 0 and a > (UINT256_MAX - HALF_WAD) // b:
        raise OverflowError("wadMul overflow")
    return (a * b + HALF_WAD) // WAD


def wad_div(a: int, b: int) -> int:
    """``a * 1e18 / b`` rounded half up (WadRayMath.wadDiv)."""
    if b == 0:
        raise ZeroDivisionError("wadDiv by zero")
    if a > (UINT256_MAX - b // 2) // WAD:
        raise OverflowError("wadDiv overflow")
    return (a * WAD + b // 2) // b


def ray_mul(a: int, b: int) -> int:
    """``a * b / 1e27`` rounded half up (WadRayMath.rayMul)."""
    if b != 0 and a > (UINT256_MAX - HALF_RAY) // b:
        raise OverflowError("rayMul overflow")
    return (a * b + HALF_RAY) // RAY


def ray_div(a: int, b: int) -> int:
    """``a * 1e27 / b`` rounded half up (WadRayMath.rayDiv)."""
    if b == 0:
        raise ZeroDivisionError("rayDiv by zero")
    if a > (UINT256_MAX - b // 2) // RAY:
        raise OverflowError("rayDiv overflow")
    return (a * RAY + b // 2) // b


def ray_to_wad(a: int) -> int:
    """Ray to wad, rounded half up (WadRayMath.rayToWad)."""
    b, rem = divmod(a, WAD_RAY_RATIO)
    return b + 1 if rem >= WAD_RAY_RATIO // 2 else b


def wad_to_ray(a: int) -> int:
    """Wad to ray (WadRayMath.wadToRay), reverting on overflow."""
    return _check_uint(a * WAD_RAY_RATIO)


def percent_mul(value: int, percentage: int) -> int:
    """``value * percentage / 10000`` rounded half up (PercentageMath.percentMul)."""
    if percentage != 0 and value > (UINT256_MAX - HALF_PERCENTAGE_FACTOR) // percentage:
        raise OverflowError("percentMul overflow")
    return (value * percentage + HALF_PERCENTAGE_FACTOR) // PERCENTAGE_FACTOR


def percent_div(value: int, percentage: int) -> int:
    """``value * 10000 / percentage`` rounded half up (PercentageMath.percentDiv)."""
    if percentage == 0:
        raise ZeroDivisionError("percentDiv by zero")
    if value > (UINT256_MAX - percentage // 2) // PERCENTAGE_FACTOR:
        raise OverflowError("percentDiv overflow")
    return (value * PERCENTAGE_FACTOR + percentage // 2) // percentage


# --------------------------------------------------------------------------------------------------
# MathUtils: interest; ReserveLogic: indices; scaled balances
# --------------------------------------------------------------------------------------------------


def calculate_linear_interest(rate_ray: int, last_ts: int, now_ts: int) -> int:
    """Linear interest factor (ray) from ``last_ts`` to ``now_ts`` at an annual ``rate_ray``."""
    if now_ts < last_ts:
        raise OverflowError("timestamp before last update")
    return RAY + _check_uint(rate_ray * (now_ts - last_ts)) // SECONDS_PER_YEAR


def calculate_compounded_interest(rate_ray: int, last_ts: int, now_ts: int) -> int:
    """Compounded interest factor (ray): MathUtils' 3-term binomial approximation of (1+r/yr)^dt."""
    if now_ts < last_ts:
        raise OverflowError("timestamp before last update")
    exp = now_ts - last_ts
    if exp == 0:
        return RAY
    exp_minus_one = exp - 1
    exp_minus_two = exp - 2 if exp > 2 else 0
    base_power_two = ray_mul(rate_ray, rate_ray) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
    base_power_three = ray_mul(base_power_two, rate_ray) // SECONDS_PER_YEAR
    second_term = _check_uint(exp * exp_minus_one * base_power_two) // 2
    third_term = _check_uint(exp * exp_minus_one * exp_minus_two * base_power_three) // 6
    return RAY + _check_uint(rate_ray * exp) // SECONDS_PER_YEAR + second_term + third_term


def accrue_index_linear(index: int, rate_ray: int, dt: int) -> int:
    """Liquidity index after ``dt`` seconds at ``rate_ray`` (ReserveLogic.getNormalizedIncome)."""
    if dt == 0:
        return index
    return ray_mul(calculate_linear_interest(rate_ray, 0, dt), index)


def accrue_index_compounded(index: int, rate_ray: int, dt: int) -> int:
    """Variable borrow index after ``dt`` seconds at ``rate_ray`` (ReserveLogic.getNormalizedDebt)."""
    if dt == 0:
        return index
    return ray_mul(calculate_compounded_interest(rate_ray, 0, dt), index)


def normalized_income(liquidity_index: int, liquidity_rate: int, last_ts: int, now_ts: int) -> int:
    """``Pool.getReserveNormalizedIncome`` at ``now_ts`` from the stored index, rate and timestamp."""
    return accrue_index_linear(liquidity_index, liquidity_rate, now_ts - last_ts)


def normalized_debt(variable_borrow_index: int, variable_rate: int, last_ts: int, now_ts: int) -> int:
    """``Pool.getReserveNormalizedVariableDebt`` at ``now_ts``."""
    return accrue_index_compounded(variable_borrow_index, variable_rate, now_ts - last_ts)


def scaled_amount(amount: int, index: int) -> int:
    """Scaled units minted / burned for ``amount`` at ``index`` (AToken / VariableDebtToken)."""
    return ray_div(amount, index)


def balance_of_scaled(scaled_balance: int, index: int) -> int:
    """Balance (base units) of a scaled balance at ``index`` (``balanceOf = scaled.rayMul(index)``)."""
    return ray_mul(scaled_balance, index)


def cumulate_to_liquidity_index(liquidity_index: int, total_liquidity: int, amount: int) -> int:
    """Index after distributing ``amount`` over ``total_liquidity`` (flash-loan premium to LPs)."""
    return ray_mul(ray_div(wad_to_ray(amount), wad_to_ray(total_liquidity)) + RAY, liquidity_index)


def flash_loan_premium(amount: int, premium_total_bps: int) -> int:
    """Total premium of a flash loan of ``amount`` (FlashLoanLogic: ``amount.percentMul(premium)``)."""
    return percent_mul(amount, premium_total_bps)


def calculate_interest_rates(
    strategy: RateStrategyParams,
    available_liquidity: int,
    total_variable_debt: int,
    reserve_factor: int,
    unbacked: int = 0,
) -> tuple[int, int]:
    """(liquidity rate, variable borrow rate), rays, of DefaultReserveInterestRateStrategy (no stable debt).

    ``available_liquidity`` is the underlying held by the aToken after the action; ``total_variable_debt``
    the reserve's variable debt after the action.
    """
    variable_rate = strategy.base_variable_borrow_rate
    borrow_usage = supply_usage = 0
    if total_variable_debt != 0:
        plus_debt = available_liquidity + total_variable_debt
        borrow_usage = ray_div(total_variable_debt, plus_debt)
        supply_usage = ray_div(total_variable_debt, plus_debt + unbacked)
    optimal = strategy.optimal_usage_ratio
    if borrow_usage > optimal:
        excess = ray_div(borrow_usage - optimal, RAY - optimal)
        variable_rate += strategy.variable_rate_slope1 + ray_mul(strategy.variable_rate_slope2, excess)
    else:
        variable_rate += ray_div(ray_mul(strategy.variable_rate_slope1, borrow_usage), optimal)
    overall = 0
    if total_variable_debt != 0:
        debt_ray = wad_to_ray(total_variable_debt)
        overall = ray_div(ray_mul(debt_ray, variable_rate), debt_ray)
    liquidity_rate = percent_mul(ray_mul(overall, supply_usage), PERCENTAGE_FACTOR - reserve_factor)
    return liquidity_rate, variable_rate


# --------------------------------------------------------------------------------------------------
# GenericLogic: account data, health factor, borrowing power
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetPosition:
    """One reserve of a user, in protocol units.

    ``price``: oracle price in base currency units (USD, 8 decimals); ``collateral_balance``: aToken
    balance and ``debt_balance``: variable (+ stable) debt, both in token base units; ``ltv`` /
    ``liquidation_threshold`` in bps; ``emode_category``: the reserve's e-mode category (0 = none);
    ``use_as_collateral``: the user's collateral flag for this reserve.
    """

    price: int
    decimals: int
    ltv: int
    liquidation_threshold: int
    collateral_balance: int = 0
    debt_balance: int = 0
    use_as_collateral: bool = True
    emode_category: int = 0


@dataclass(frozen=True)
class AccountData:
    """``Pool.getUserAccountData`` values (base currency units, bps, wad) plus the zero-LTV flag."""

    total_collateral_base: int
    total_debt_base: int
    available_borrows_base: int
    current_liquidation_threshold: int
    ltv: int
    health_factor: int
    has_zero_ltv_collateral: bool = False

    def as_pool_tuple(self) -> tuple[int, int, int, int, int, int]:
        """In ``getUserAccountData``'s return order."""
        return (
            self.total_collateral_base,
            self.total_debt_base,
            self.available_borrows_base,
            self.current_liquidation_threshold,
            self.ltv,
            self.health_factor,
        )


def base_value(amount: int, price: int, decimals: int) -> int:
    """Value of ``amount`` base units in base currency: ``amount * price / 10**decimals`` (floor)."""
    return amount * price // 10**decimals


def health_factor(collateral_base: int, debt_base: int, avg_liquidation_threshold: int) -> int:
    """HF in wad: ``collateral.percentMul(avgLT).wadDiv(debt)``; ``type(uint256).max`` when no debt."""
    if debt_base == 0:
        return UINT256_MAX
    return wad_div(percent_mul(collateral_base, avg_liquidation_threshold), debt_base)


def available_borrows(collateral_base: int, debt_base: int, ltv: int) -> int:
    """GenericLogic.calculateAvailableBorrows: ``max(0, collateral.percentMul(ltv) - debt)``."""
    cap = percent_mul(collateral_base, ltv)
    return cap - debt_base if cap >= debt_base else 0


def calculate_user_account_data(
    positions: Iterable[AssetPosition], emode: EModeCategoryParams | None = None
) -> AccountData:
    """GenericLogic.calculateUserAccountData + calculateAvailableBorrows (= Pool.getUserAccountData).

    ``emode`` is the user's e-mode category (None = 0): its LTV / threshold replace those of each
    collateral whose reserve is in that category. E-mode categories with their own price source are
    not modelled (pass the prices you want in each position).
    """
    user_cat = emode.category_id if emode is not None else 0
    total_collateral = total_debt = avg_ltv = avg_lt = 0
    has_zero_ltv = False
    involved = False
    for p in positions:
        if p.use_as_collateral or p.debt_balance > 0:
            involved = True
        in_emode = user_cat != 0 and p.emode_category == user_cat
        if p.liquidation_threshold != 0 and p.use_as_collateral:
            value = base_value(p.collateral_balance, p.price, p.decimals)
            total_collateral += value
            if p.ltv != 0:
                avg_ltv += value * (emode.ltv if in_emode and emode is not None else p.ltv)
            else:
                has_zero_ltv = True
            avg_lt += value * (
                emode.liquidation_threshold if in_emode and emode is not None else p.liquidation_threshold
            )
        if p.debt_balance > 0:
            total_debt += base_value(p.debt_balance, p.price, p.decimals)
    if not involved:
        return AccountData(0, 0, 0, 0, 0, UINT256_MAX, False)
    avg_ltv = avg_ltv // total_collateral if total_collateral else 0
    avg_lt = avg_lt // total_collateral if total_collateral else 0
    hf = health_factor(total_collateral, total_debt, avg_lt)
    return AccountData(
        total_collateral,
        total_debt,
        available_borrows(total_collateral, total_debt, avg_ltv),
        avg_lt,
        avg_ltv,
        hf,
        has_zero_ltv,
    )


def borrow_error(account: AccountData, amount: int, price: int, decimals: int) -> str | None:
    """The Aave error code the collateral checks of ValidationLogic.validateBorrow raise, or None.

    ``account`` must be the user's account data at the borrow's block (after index accrual);
    ``amount`` in base units of the borrowed asset, ``price`` its oracle price. Reserve flags, caps,
    e-mode membership of the borrowed asset and siloed borrowing are not checked here.
    """
    if account.total_collateral_base == 0:
        return COLLATERAL_BALANCE_IS_ZERO
    if account.ltv == 0:
        return LTV_VALIDATION_FAILED
    if account.health_factor <= HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        return HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD
    needed = percent_div(account.total_debt_base + base_value(amount, price, decimals), account.ltv)
    if needed > account.total_collateral_base:
        return COLLATERAL_CANNOT_COVER_NEW_BORROW
    return None


def max_borrow_amount(account: AccountData, price: int, decimals: int) -> int:
    """Largest ``amount`` (base units) for which :func:`borrow_error` is None (0 if none is allowed)."""
    if borrow_error(account, 0, price, decimals) is not None or price == 0:
        return 0
    ltv = account.ltv
    # percent_div(x, ltv) <= C  <=>  x*10000 + ltv//2 < (C+1)*ltv
    max_x = ((account.total_collateral_base + 1) * ltv - ltv // 2 - 1) // PERCENTAGE_FACTOR
    room = max_x - account.total_debt_base
    if room < 0:
        return 0
    # floor(amount*price/unit) <= room  <=>  amount*price < (room+1)*unit
    return ((room + 1) * 10**decimals - 1) // price


# --------------------------------------------------------------------------------------------------
# Decimal convenience (human amounts, USD prices)
# --------------------------------------------------------------------------------------------------

_PREC = 100


def to_base_units(amount: Decimal, decimals: int, field: str = "amount") -> int:
    """Human ``amount`` to integer base units; raises InstructionError if not exactly representable."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        scaled = Decimal(amount).scaleb(decimals)
        if scaled != scaled.to_integral_value():
            raise InstructionError(field, f"{amount} has more than {decimals} decimals")
        return int(scaled)


def from_base_units(units: int, decimals: int) -> Decimal:
    """Integer base units to a human Decimal (exact)."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return Decimal(units).scaleb(-decimals)


def price_to_base(price_usd: Decimal, rounding: str = ROUND_DOWN) -> int:
    """A USD price as oracle base units (8 decimals), rounded by ``rounding`` (default: down)."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return int(Decimal(price_usd).scaleb(BASE_CURRENCY_DECIMALS).to_integral_value(rounding=rounding))


@dataclass(frozen=True)
class HumanAccountData:
    """Account data in human units: USD values, LTV / threshold as fractions, HF (Infinity: no debt)."""

    total_collateral_usd: Decimal
    total_debt_usd: Decimal
    available_borrows_usd: Decimal
    liquidation_threshold: Decimal
    ltv: Decimal
    health_factor: Decimal
    raw: AccountData = field(repr=False)


def _human(raw: AccountData) -> HumanAccountData:
    hf = Decimal("Infinity") if raw.health_factor == UINT256_MAX else from_base_units(raw.health_factor, 18)
    return HumanAccountData(
        from_base_units(raw.total_collateral_base, BASE_CURRENCY_DECIMALS),
        from_base_units(raw.total_debt_base, BASE_CURRENCY_DECIMALS),
        from_base_units(raw.available_borrows_base, BASE_CURRENCY_DECIMALS),
        from_base_units(raw.current_liquidation_threshold, 4),
        from_base_units(raw.ltv, 4),
        hf,
        raw,
    )


def positions_from_human(
    supplied: Mapping[str, Decimal],
    borrowed: Mapping[str, Decimal],
    prices_usd: Mapping[str, Decimal],
    reserves: Mapping[str, ReserveParams] = RESERVES,
    not_collateral: Collection[str] = (),
) -> list[AssetPosition]:
    """Integer positions from human supplied / borrowed amounts and USD prices (see module doc)."""
    out = []
    for sym in sorted(set(supplied) | set(borrowed)):
        if sym not in reserves:
            raise InstructionError("asset", f"unknown Aave reserve {sym!r}")
        if sym not in prices_usd:
            raise InstructionError("prices", f"no price for {sym!r}")
        r = reserves[sym]
        coll = to_base_units(supplied.get(sym, Decimal(0)), r.decimals, f"supplied.{sym}")
        debt = to_base_units(borrowed.get(sym, Decimal(0)), r.decimals, f"borrowed.{sym}")
        out.append(
            AssetPosition(
                price=price_to_base(prices_usd[sym]),
                decimals=r.decimals,
                ltv=r.ltv,
                liquidation_threshold=r.liquidation_threshold,
                collateral_balance=coll,
                debt_balance=debt,
                use_as_collateral=coll > 0 and sym not in not_collateral,
                emode_category=r.emode_category,
            )
        )
    return out


def user_account_data_human(
    supplied: Mapping[str, Decimal],
    borrowed: Mapping[str, Decimal],
    prices_usd: Mapping[str, Decimal],
    *,
    emode_category: int = 0,
    reserves: Mapping[str, ReserveParams] = RESERVES,
    emode_categories: Mapping[int, EModeCategoryParams] = EMODE_CATEGORIES,
    not_collateral: Collection[str] = (),
) -> HumanAccountData:
    """Account data for human amounts (token units) and USD prices; same result as the integer path."""
    emode = _emode(emode_category, emode_categories)
    raw = calculate_user_account_data(
        positions_from_human(supplied, borrowed, prices_usd, reserves, not_collateral), emode
    )
    return _human(raw)


def health_factor_human(
    supplied: Mapping[str, Decimal],
    borrowed: Mapping[str, Decimal],
    prices_usd: Mapping[str, Decimal],
    *,
    emode_category: int = 0,
    reserves: Mapping[str, ReserveParams] = RESERVES,
    emode_categories: Mapping[int, EModeCategoryParams] = EMODE_CATEGORIES,
) -> Decimal:
    """Health factor (Decimal, 18 decimals; Infinity with no debt)."""
    return user_account_data_human(
        supplied, borrowed, prices_usd, emode_category=emode_category, reserves=reserves,
        emode_categories=emode_categories,
    ).health_factor


def max_borrow_human(
    asset: str,
    supplied: Mapping[str, Decimal],
    borrowed: Mapping[str, Decimal],
    prices_usd: Mapping[str, Decimal],
    *,
    emode_category: int = 0,
    reserves: Mapping[str, ReserveParams] = RESERVES,
    emode_categories: Mapping[int, EModeCategoryParams] = EMODE_CATEGORIES,
) -> Decimal:
    """Largest amount of ``asset`` (token units) a further borrow may take (Aave's collateral check)."""
    if asset not in reserves or asset not in prices_usd:
        raise InstructionError("asset", f"unknown Aave reserve or missing price: {asset!r}")
    data = user_account_data_human(
        supplied, borrowed, prices_usd, emode_category=emode_category, reserves=reserves,
        emode_categories=emode_categories,
    )
    r = reserves[asset]
    amount = max_borrow_amount(data.raw, price_to_base(prices_usd[asset]), r.decimals)
    return from_base_units(amount, r.decimals)


def _emode(category: int, categories: Mapping[int, EModeCategoryParams]) -> EModeCategoryParams | None:
    if category == 0:
        return None
    if category not in categories:
        raise InstructionError("emode_category", f"unknown e-mode category {category}")
    return categories[category]
