"""EigenLayer's market data contribution: restaking rewards ``eigenlayer:rewards:<TOKEN>`` (column ``apr``: the
annual rewards rate paid to stakers of the token's strategy, a decimal), from files or synthetic.

Files: ``eigenlayer_<TOKEN>_rewards_*.csv`` with columns ``timestamp, apr`` (e.g. exported from an operator's
rewards dashboard). Synthetic: an illustrative mean-reverting APR around 1.5 % a year for stETH (there is no public
history of it in the project's data; set ``rewards: false`` on the venue to book none).
"""

from __future__ import annotations

from typing import Any

from basis_core.data.contrib import MarketDataFiles
from basis_core.data.files import columns_file
from basis_core.data.series import Series

FILES = MarketDataFiles(loaders=(
    columns_file(r"^eigenlayer_(?P<token>[A-Za-z]+)_rewards_", "eigenlayer:rewards:{token}", {"apr": "apr"},
                 cadence="irregular", example="eigenlayer_stETH_rewards_2024-01-01_2025-09-18.csv"),
))


def synthetic_series(market: Any) -> list[Series]:
    """Daily rewards APR of the stETH strategy (illustrative)."""
    import numpy as np

    days = market.daily()
    apr = np.abs(market.ou("eigenlayer:rewards:stETH", 0.015, 0.003, kappa=0.05, n=len(days)))
    return [Series("eigenlayer:rewards:stETH", [market.times[i] for i in days], {"apr": market.decimals(apr, 6)})]
