"""Binance's market data contribution: its kline / funding export files and its synthetic series.

Files: ``binance_<BASE>USDT_<cadence>_*.csv`` (spot klines), ``binance_<BASE>USDT_perp_<cadence>_*.csv`` (USD-M
mark klines), ``binance_<BASE>USDT_funding_rates_*.csv`` (8-hourly settlements). The ETH perp file has
day-long holes: they are filled from Bybit's same contract when that file is present.
Synthetic: ETH and BTC USD-M perps with funding every 8 h at 00/08/16 UTC.
"""

from __future__ import annotations

from typing import Any

from basis_core.data.contrib import MarketDataFiles
from basis_core.data.files import funding, klines
from basis_core.data.series import Series

_CAD = r"(?P<cadence>1m|1h)"
FILES = MarketDataFiles(
    loaders=(
        klines(rf"^binance_(?P<base>[A-Z0-9]+)USDT_perp_{_CAD}_", "perp:binance:{base}/USDT:USDT", cadence=None,
               example="binance_ETHUSDT_perp_1h_2024-01-01_2025-09-26.csv"),
        klines(rf"^binance_(?P<base>[A-Z0-9]+)USDT_{_CAD}_", "spot:binance:{base}/USDT", cadence=None,
               example="binance_BTCUSDT_1h_2024-01-01_2025-09-30.csv"),
        funding(r"^binance_(?P<base>[A-Z0-9]+)USDT_funding_rates_", "funding:binance:{base}/USDT:USDT", cadence="8h",
                example="binance_ETHUSDT_funding_rates_2024-01-01_2025-09-26.csv"),
    ),
    gap_fills={"perp:binance:ETH/USDT:USDT": "perp:bybit:ETH/USDT:USDT"},
)


def synthetic_series(market: Any) -> list[Series]:
    """ETH and BTC linear perps, funding every 8 h."""
    return [*market.perp("binance", "ETH/USDT:USDT", funding_every_hours=8),
            *market.perp("binance", "BTC/USDT:USDT", funding_every_hours=8)]
