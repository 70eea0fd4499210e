"""Default risk parameters of Aave v3 Ethereum (WETH, wstETH, weETH, USDC, USDT) as protocol integers.

Units follow the contracts: LTV, liquidation threshold and reserve factor in basis points
(``8050`` = 80.50 %); liquidation bonus as ``10000 + bonus`` (``10500`` = 5 % bonus); decimals of the
underlying token. Prices are in the oracle's base currency: USD with 8 decimals.

Sources (read at development time, written here as constants; nothing is read at runtime):
- per-asset LTV, liquidation threshold, liquidation bonus, reserve factor, optimal utilisation:
  ``aave_current_v3_prams_etherum_mainnet.csv`` (a snapshot of the Aave v3 Ethereum market);
- e-mode category 1 "ETH correlated" (LTV 93 %, LT 95 %, bonus 1 %): ``aave_v3_risk_parameters.json``
  (``emode`` section, same values for wstETH/WETH, weETH/WETH, ETH/WETH).
- decimals: the mainnet tokens (WETH, wstETH, weETH 18; USDC, USDT 6).
The JSON's ``standard`` section gives a simplified 80 % / 85 % / 5 % for every ETH-like asset and a
10 % reserve factor; it is kept below as :data:`SIMPLIFIED_STANDARD` but the CSV's per-asset values
are the defaults. Interest-rate slopes are NOT in those files: :data:`RATE_STRATEGIES` uses the CSV's
optimal utilisation and illustrative slopes (documented as such).
"""

from __future__ import annotations

from dataclasses import dataclass

RAY = 10**27
BASE_CURRENCY_DECIMALS = 8
BASE_CURRENCY_UNIT = 10**BASE_CURRENCY_DECIMALS

ETH_CORRELATED_EMODE_ID = 1


@dataclass(frozen=True)
class ReserveParams:
    """Risk configuration of one reserve, in the contracts' integer units (bps, 10000 + bonus)."""

    symbol: str
    decimals: int
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    reserve_factor: int
    emode_category: int = 0
    borrowing_enabled: bool = True
    flash_loan_enabled: bool = True


@dataclass(frozen=True)
class EModeCategoryParams:
    """An e-mode category: LTV / threshold in bps, bonus as 10000 + bonus; no own price source."""

    category_id: int
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    label: str


@dataclass(frozen=True)
class RateStrategyParams:
    """DefaultReserveInterestRateStrategy (v3.0.2) constructor values, rays (1e27 = 100 % a year)."""

    optimal_usage_ratio: int
    base_variable_borrow_rate: int
    variable_rate_slope1: int
    variable_rate_slope2: int
    stable_rate_slope1: int = 0
    stable_rate_slope2: int = 0
    base_stable_rate_offset: int = 0
    stable_rate_excess_offset: int = 0
    optimal_stable_to_total_debt_ratio: int = 0


def _pct(bps: int) -> int:
    """A percentage in basis points as a ray (``_pct(9200)`` = 0.92e27)."""
    return bps * RAY // 10_000


# Source: aave_current_v3_prams_etherum_mainnet.csv (rows LTV, Liquidation Threshold, Liquidation Bonus,
# Reserve Factor); e-mode membership: aave_v3_risk_parameters.json (wstETH, weETH, WETH in ETH e-mode).
RESERVES: dict[str, ReserveParams] = {
    "WETH": ReserveParams("WETH", 18, 8050, 8300, 10500, 1500, ETH_CORRELATED_EMODE_ID),
    "wstETH": ReserveParams("wstETH", 18, 7850, 8100, 10600, 3500, ETH_CORRELATED_EMODE_ID),
    "weETH": ReserveParams("weETH", 18, 7750, 8000, 10700, 4500, ETH_CORRELATED_EMODE_ID),
    "USDC": ReserveParams("USDC", 6, 7500, 7800, 10450, 1000),
    "USDT": ReserveParams("USDT", 6, 7500, 7800, 10450, 1000),
}

# Source: aave_v3_risk_parameters.json, section "emode" (ltv_limits 0.93, liquidation_thresholds 0.95,
# liquidation_bonus 0.01).
EMODE_ETH_CORRELATED = EModeCategoryParams(ETH_CORRELATED_EMODE_ID, 9300, 9500, 10100, "ETH correlated")
EMODE_CATEGORIES: dict[int, EModeCategoryParams] = {ETH_CORRELATED_EMODE_ID: EMODE_ETH_CORRELATED}

# Source: aave_v3_risk_parameters.json, section "standard" (80 % / 85 % / 5 %) and "reserve_factors" (10 %).
SIMPLIFIED_STANDARD: dict[str, tuple[int, int, int, int]] = {
    # symbol: (ltv bps, liquidation threshold bps, 10000 + bonus bps, reserve factor bps)
    "WETH": (8000, 8500, 10500, 1000),
    "wstETH": (8000, 8500, 10500, 1000),
    "weETH": (8000, 8500, 10500, 1000),
    "USDT": (8000, 8500, 10500, 1000),
}

# Optimal utilisation from the CSV row "Optimal Utilization"; base rate and slopes are ILLUSTRATIVE
# (close to Aave's published strategies, not taken from the data files).
RATE_STRATEGIES: dict[str, RateStrategyParams] = {
    "WETH": RateStrategyParams(_pct(9200), 0, _pct(270), _pct(8000)),
    "wstETH": RateStrategyParams(_pct(8000), 0, _pct(450), _pct(8000)),
    "weETH": RateStrategyParams(_pct(3000), 0, _pct(700), _pct(8000)),
    "USDC": RateStrategyParams(_pct(9200), 0, _pct(650), _pct(6000)),
    "USDT": RateStrategyParams(_pct(9200), 0, _pct(650), _pct(6000)),
}

# Flash-loan premium used by the test market (bps of the amount); Aave v3 Ethereum charges 5 bps.
FLASHLOAN_PREMIUM_TOTAL = 5
FLASHLOAN_PREMIUM_TO_PROTOCOL = 0
