"""EtherFi's market data contribution: the weETH exchange rate ``lst:weETH`` (``rate``: ETH per weETH, =
``WeETH.getRate()``), from files and synthetic.

Files: ``weETH_ETH_oracle_*.csv`` (the Aave oracle's weETH price in ETH, hourly; ``#`` comment lines,
``oracle_price_eth``). Synthetic: the rate from ``SyntheticSpec.weeth_rate_start`` growing at ``lst_apr`` with
small noise, hourly, on the synthetic market's shared ``lst:growth`` stream (the path wstETH's rate follows).
"""

from __future__ import annotations

from typing import Any

from basis_core.data.series import Series
from basis_core.onchain.data import lst_rate_files, lst_rate_series

FILES = lst_rate_files("weETH")


def synthetic_series(market: Any) -> list[Series]:
    """The weETH exchange rate."""
    return [lst_rate_series(market, "weETH", market.spec.weeth_rate_start)]
