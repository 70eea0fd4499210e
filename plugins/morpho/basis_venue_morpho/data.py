"""Morpho's market data contribution: each market's state ``morpho:<alias>`` (files and synthetic).

Columns are the contract's own numbers (``IMorpho.market(id)`` and the IRM's ``rateAtTarget(id)``), base units:
``total_supply_assets``, ``total_supply_shares``, ``total_borrow_assets``, ``total_borrow_shares``, ``fee``
(WAD), ``rate_at_target`` (WAD per second; 0 = not initialised), and optionally ``oracle_price``
(``IOracle.price()``, scaled 1e36). Each row is the market at its timestamp (its ``lastUpdate``).

Files: ``morpho_blue_<collateral>-<loan>-<lltv>_market_*.csv`` (e.g. ``morpho_blue_wstETH-WETH-94.5_market_2025.csv``)
with a ``timestamp`` column. Synthetic: a daily row per default market: supply around 250,000 WETH (USDC market:
300 M USDC), utilization an OU path around the 90 % target, rate at target an OU path around 3 %/year, share
prices grown by the rates.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from basis_core.data.contrib import FileLoader, MarketDataFiles
from basis_core.data.series import Series

MARKET_COLUMNS = {c: c for c in ("total_supply_assets", "total_supply_shares", "total_borrow_assets",
                                 "total_borrow_shares", "fee", "rate_at_target")}
PATTERN = r"^morpho_blue_(?P<collateral>[A-Za-z]+)-(?P<loan>[A-Za-z]+)-(?P<lltv>[0-9.]+)_market_"


def load_market_file(path: Path, name: str) -> Series:
    """A market-state file: :data:`MARKET_COLUMNS` and, when the header has it, ``oracle_price``."""
    from basis_core.data.loaders import load_columns

    cols = dict(MARKET_COLUMNS)
    with Path(path).open() as f:
        header = next((line for line in f if line.strip() and not line.startswith("#")), "")
    if "oracle_price" in (h.strip() for h in header.split(",")):
        cols["oracle_price"] = "oracle_price"
    return load_columns(path, name, cols)


FILES = MarketDataFiles(loaders=(
    FileLoader(PATTERN, "morpho:{collateral}/{loan}-{lltv}", load_market_file, "irregular",
               {**MARKET_COLUMNS, "oracle_price": "oracle_price (optional)"},
               "morpho_blue_wstETH-WETH-94.5_market_2025-01-01_2025-12-31.csv"),
))

#: (alias, loan decimals, supplied assets in tokens) of the synthetic markets
SYNTHETIC = (("wstETH/WETH-94.5", 18, 250_000), ("weETH/WETH-94.5", 18, 120_000), ("wstETH/USDC-86", 6, 300_000_000))


def synthetic_series(market: Any) -> list[Series]:
    """Daily market states (see the module docstring)."""
    import numpy as np

    days = market.daily()
    times = [market.times[i] for i in days]
    n = len(days)
    out = []
    for alias, dec, size in SYNTHETIC:
        util = np.clip(market.ou(f"morpho:{alias}:util", 0.9, 0.02, kappa=0.2, n=n), 0.5, 0.99)
        apr = np.clip(market.ou(f"morpho:{alias}:rate", 0.03, 0.006, kappa=0.1, n=n), 0.001, 2.0)
        supply = size * (1 + 0.05 * np.tanh(np.cumsum(market.ou(f"morpho:{alias}:size", 0.0, 0.02, n=n))))
        borrow_rate = apr * np.where(util > 0.9, 1 + 3 * (util - 0.9) / 0.1, 1 - 0.75 * (0.9 - util) / 0.9)
        borrow_idx = np.exp(np.cumsum(np.r_[0.0, borrow_rate[:-1]]) / 365)
        supply_idx = np.exp(np.cumsum(np.r_[0.0, (borrow_rate * util)[:-1]]) / 365)
        cols: dict[str, list[Decimal]] = {k: [] for k in MARKET_COLUMNS}
        for k in range(n):
            tsa = int(supply[k] * 10**dec)
            tba = int(tsa * util[k])
            cols["total_supply_assets"].append(Decimal(tsa))
            cols["total_supply_shares"].append(Decimal(int(tsa * 10**6 / supply_idx[k])))
            cols["total_borrow_assets"].append(Decimal(tba))
            cols["total_borrow_shares"].append(Decimal(int(tba * 10**6 / borrow_idx[k])))
            cols["fee"].append(Decimal(0))
            cols["rate_at_target"].append(Decimal(int(apr[k] * 10**18) // (365 * 24 * 3600)))
        out.append(Series(f"morpho:{alias}", times, cols))
    return out
