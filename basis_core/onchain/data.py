"""Market-data helpers of liquid-staking venues: an LST's exchange rate ``lst:<TOKEN>`` (``rate``: ETH per token).

:func:`lst_rate_files`: the rate from ``<TOKEN>_ETH_oracle_*.csv`` (``#`` comment lines, ``oracle_price_eth``);
:func:`lst_rate_series`: the synthetic rate from ``start`` growing at the market's ``lst_apr`` with small noise,
hourly, on the synthetic market's shared ``lst:growth`` stream (every LST's rate follows the same path).
"""

from __future__ import annotations

from typing import Any

from basis_core.data.contrib import MarketDataFiles
from basis_core.data.files import oracle
from basis_core.data.series import Series

__all__ = ["lst_rate_files", "lst_rate_series"]


def lst_rate_files(token: str) -> MarketDataFiles:
    """The file kind of ``token``'s exchange rate in ETH (an oracle export)."""
    return MarketDataFiles(loaders=(
        oracle(rf"^(?P<token>{token})_ETH_oracle_", "lst:{token}", "rate",
               example=f"{token}_ETH_oracle_2024-01-01_2025-09-18.csv"),
    ))


def lst_rate_series(market: Any, token: str, start: float) -> Series:
    """The synthetic ``lst:<token>`` rate of ``market`` (a :class:`~basis_core.data.synthetic.SyntheticMarket`)."""
    import numpy as np

    spec = market.spec
    rng = market.rng("lst:growth")
    growth = np.exp(np.cumsum(np.full(market.n, spec.lst_apr / (365 * 24)) + rng.standard_normal(market.n) * 0.00002))
    growth /= growth[0]
    return Series(f"lst:{token}", market.times, {"rate": market.decimals(start * growth, 12)})
