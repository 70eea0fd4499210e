"""OKX's market data: its own export files and its synthetic series.

Files (OKX's history export layout: ``ts`` in epoch milliseconds, ``o h l c``; funding ``fundingTime``,
``fundingRate``):

- ``OKX_ETH-USDT_candles_1m_*.csv``       -> ``spot:okx:ETH/USDT``
- ``OKX_ETH-USDT-SWAP_candles_1m_*.csv``  -> ``perp:okx:ETH/USDT:USDT``
- ``OKX_ETH-USDT-SWAP_funding_*.csv``     -> ``funding:okx:ETH/USDT:USDT``
"""

from __future__ import annotations

from typing import Any

from basis_core.data.contrib import MarketDataFiles
from basis_core.data.files import funding, klines
from basis_core.data.series import Series

OHLC = {"open": "o", "high": "h", "low": "l", "close": "c"}
FILES = MarketDataFiles(loaders=(
    klines(r"^OKX_(?P<base>[A-Z0-9]+)-USDT-SWAP_candles_(?P<cadence>1m|1h)_", "perp:okx:{base}/USDT:USDT",
           cadence=None, columns=OHLC, time_col="ts", example="OKX_ETH-USDT-SWAP_candles_1m_2025-01.csv"),
    klines(r"^OKX_(?P<base>[A-Z0-9]+)-USDT_candles_(?P<cadence>1m|1h)_", "spot:okx:{base}/USDT",
           cadence=None, columns=OHLC, time_col="ts", example="OKX_ETH-USDT_candles_1m_2025-01.csv"),
    funding(r"^OKX_(?P<base>[A-Z0-9]+)-USDT-SWAP_funding_", "funding:okx:{base}/USDT:USDT",
            time_col="fundingTime", rate_col="fundingRate", cadence="8h",
            example="OKX_ETH-USDT-SWAP_funding_2025-01.csv"),
))


def synthetic_series(market: Any) -> list[Series]:
    """The ETH swap's mark and 8-hourly funding."""
    return market.perp("okx", "ETH/USDT:USDT", funding_every_hours=8)
