"""Uniswap's market data contribution: pool price candles ``dex:uniswap:<TOKEN>/<QUOTE>``.

Files: ``uniswapv3_<TOKEN><QUOTE>_<cadence>_*.csv``. Synthetic: none (the simulated pools follow the core's
``spot:*`` series).
"""

from __future__ import annotations

from basis_core.data.contrib import MarketDataFiles
from basis_core.data.files import klines

FILES = MarketDataFiles(loaders=(
    klines(r"^uniswapv3_(?P<base>WETH|WBTC)(?P<quote>USDT|USDC)_(?P<cadence>1m|1h)_", "dex:uniswap:{base}/{quote}",
           cadence=None, example="uniswapv3_WETHUSDT_1h_2024-01-01_2025-09-27.csv"),
))
