"""EtherFi's market data contribution: the weETH exchange rate ``lst:weETH`` (``rate``: ETH per weETH, =
``WeETH.getRate()``), from files and synthetic.

Files: ``weETH_ETH_oracle_*.csv`` (the Aave oracle's weETH price in ETH, hourly; ``#`` comment lines,
``oracle_price_eth``). Synthetic: the rate from ``SyntheticSpec.weeth_rate_start`` growing at ``lst_apr`` with
small noise, hourly, on the synthetic market's shared ``lst:growth`` stream (the path wstETH's rate follows).
"""

from __future__ import annotations

from typing import Any

from basis_core.data.contrib import MarketDataFiles
from basis_core.data.files import oracle
from basis_core.data.series import Series

FILES = MarketDataFiles(loaders=(
    oracle(r"^(?P<token>weETH)_ETH_oracle_", "lst:{token}", "rate",
           example="weETH_ETH_oracle_2024-01-01_2025-09-18.csv"),
))


def synthetic_series(market: Any) -> list[Series]:
    """The weETH exchange rate."""
    import numpy as np

    spec = market.spec
    rng = market.rng("lst:growth")
    growth = np.exp(np.cumsum(np.full(market.n, spec.lst_apr / (365 * 24)) + rng.standard_normal(market.n) * 0.00002))
    growth /= growth[0]
    return [Series("lst:weETH", market.times, {"rate": market.decimals(spec.weeth_rate_start * growth, 12)})]
