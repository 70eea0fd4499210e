"""Lido's exchange rate ``lst:wstETH`` (ETH per wstETH = ``stEthPerToken``), files and synthetic.

Files: ``wstETH_ETH_oracle_*.csv`` (``#`` comment lines, ``oracle_price_eth``).
Synthetic: the wstETH rate growing at ``lst_apr`` (~3 %/yr) with small noise, hourly (on the synthetic market's
shared ``lst:growth`` stream). weETH's rate is EtherFi's token: the etherfi plugin contributes ``lst:weETH``.
"""

from __future__ import annotations

from typing import Any

from basis_core.data.contrib import MarketDataFiles
from basis_core.data.files import oracle
from basis_core.data.series import Series

FILES = MarketDataFiles(loaders=(
    oracle(r"^(?P<token>wstETH)_ETH_oracle_", "lst:{token}", "rate",
           example="wstETH_ETH_oracle_2024-01-01_2025-09-18.csv"),
))


def synthetic_series(market: Any) -> list[Series]:
    """The wstETH exchange rate."""
    import numpy as np

    spec = market.spec
    rng = market.rng("lst:growth")
    growth = np.exp(np.cumsum(np.full(market.n, spec.lst_apr / (365 * 24)) + rng.standard_normal(market.n) * 0.00002))
    growth /= growth[0]
    return [Series("lst:wstETH", market.times, {"rate": market.decimals(spec.wsteth_rate_start * growth, 12)})]
