"""Aave's market data contribution: reserve histories ``aave:<asset>`` (files and synthetic).

Files: ``aave_v3_aave-v3-ethereum_<ASSET>_rates_*.csv`` (liquidityIndex, variableBorrowIndex, current rates, price).
Synthetic: daily snapshots of WETH, USDT, USDC, wstETH, weETH; APRs as OU paths, indices grown by the
previous day's rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from basis_core.data.contrib import MarketDataFiles
from basis_core.data.files import columns_file
from basis_core.data.series import Series

RESERVE_COLUMNS = {"liquidity_index": "liquidityIndex", "variable_borrow_index": "variableBorrowIndex",
                   "liquidity_rate": "currentLiquidityRate", "variable_borrow_rate": "currentVariableBorrowRate",
                   "price": "price"}
FILES = MarketDataFiles(loaders=(
    columns_file(r"^aave_v3_aave-v3-ethereum_(?P<asset>[A-Za-z]+)_rates_", "aave:{asset}", RESERVE_COLUMNS,
                 cadence="irregular", example="aave_v3_aave-v3-ethereum_WETH_rates_2024-01-01_2025-09-18.csv"),
))


def synthetic_series(market: Any) -> list[Series]:
    """Daily reserve snapshots (see the module docstring)."""
    import numpy as np

    spec = market.spec
    days = market.daily()
    dtimes = [market.times[i] for i in days]
    eth = market.path("ETH")
    years = np.arange(market.n) / (365 * 24)
    lst = np.exp(spec.lst_apr * years)
    out = []
    for asset, borrow_mean, util, price in (
        ("WETH", 0.027, 0.80, eth), ("USDT", 0.065, 0.85, np.ones(market.n)), ("USDC", 0.062, 0.85, np.ones(market.n)),
        ("wstETH", 0.003, 0.05, eth * spec.wsteth_rate_start * lst),
        ("weETH", 0.004, 0.08, eth * spec.weeth_rate_start * lst),
    ):
        b = np.abs(market.ou(f"aave:{asset}", borrow_mean, borrow_mean * 0.15, kappa=0.1, n=len(days)))
        s_rate = b * util * 0.9
        li = np.empty(len(days))
        vi = np.empty(len(days))
        li[0], vi[0] = 1.0 + borrow_mean, 1.0 + borrow_mean * 1.5
        for k in range(1, len(days)):
            li[k] = li[k - 1] * (1 + s_rate[k - 1] / 365)
            vi[k] = vi[k - 1] * np.exp(b[k - 1] / 365)
        out.append(Series(f"aave:{asset}", dtimes, {
            "liquidity_index": market.decimals(li, 18), "variable_borrow_index": market.decimals(vi, 18),
            "liquidity_rate": market.decimals(s_rate, 10), "variable_borrow_rate": market.decimals(b, 10),
            "price": market.decimals(np.array([price[i] for i in days]), 2),
        }))
    return out


def load_aave_rates(path: str | Path, name: str) -> Series:
    """Aave reserve history: indices (normalised ~1.0), current rates (APR decimals), price."""
    from basis_core.data.loaders import load_columns

    return load_columns(path, name, RESERVE_COLUMNS)
