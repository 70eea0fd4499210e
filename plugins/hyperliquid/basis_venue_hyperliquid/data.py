"""Hyperliquid's market data contribution.

Files: none of its own in the bundled data set; without them its ETH / BTC perp marks are proxied by
Binance's same contracts (aliases, used only when no ``perp:hyperliquid:*`` series exists).
Synthetic: ETH and BTC USDC perps with hourly funding (the 8-hour rate / 8).
"""

from __future__ import annotations

from typing import Any

from basis_core.data.contrib import MarketDataFiles
from basis_core.data.files import funding, klines
from basis_core.data.series import Series

FILES = MarketDataFiles(
    loaders=(
        klines(r"^hyperliquid_(?P<base>[A-Z0-9]+)USDC_perp_(?P<cadence>1m|1h)_", "perp:hyperliquid:{base}/USDC:USDC",
               cadence=None, example="hyperliquid_ETHUSDC_perp_1m_<from>_<to>.csv"),
        funding(r"^hyperliquid_(?P<base>[A-Z0-9]+)USDC_funding_rates_", "funding:hyperliquid:{base}/USDC:USDC",
                cadence="1h", example="hyperliquid_ETHUSDC_funding_rates_<from>_<to>.csv"),
    ),
    aliases={"perp:hyperliquid:ETH/USDC:USDC": "perp:binance:ETH/USDT:USDT",
             "perp:hyperliquid:BTC/USDC:USDC": "perp:binance:BTC/USDT:USDT"},
)


def synthetic_series(market: Any) -> list[Series]:
    """ETH and BTC USDC perps, hourly funding; an hourly candle trades ~60M (ETH) / ~80M (BTC) USD on average (the
    order of Hyperliquid's 2025 volumes, a fifth of Binance's)."""
    return [*market.perp("hyperliquid", "ETH/USDC:USDC", funding_every_hours=1, quote_volume=60e6),
            *market.perp("hyperliquid", "BTC/USDC:USDC", funding_every_hours=1, quote_volume=80e6)]
