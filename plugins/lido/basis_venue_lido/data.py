"""Lido's exchange rate ``lst:wstETH`` (ETH per wstETH = ``stEthPerToken``), files and synthetic.

Files: ``wstETH_ETH_oracle_*.csv`` (``#`` comment lines, ``oracle_price_eth``).
Synthetic: the wstETH rate growing at ``lst_apr`` (~3 %/yr) with small noise, hourly (on the synthetic market's
shared ``lst:growth`` stream). weETH's rate is EtherFi's token: the etherfi plugin contributes ``lst:weETH``.
"""

from __future__ import annotations

from typing import Any

from basis_core.data.series import Series
from basis_core.onchain.data import lst_rate_files, lst_rate_series

FILES = lst_rate_files("wstETH")


def synthetic_series(market: Any) -> list[Series]:
    """The wstETH exchange rate."""
    return [lst_rate_series(market, "wstETH", market.spec.wsteth_rate_start)]
