"""The core's own market-data contribution, registered like a venue's (last, so venues' patterns win).

It names no venue: it reads the generic exchange-export naming convention
``<venue>_<BASE><QUOTE>_<spot|perp>_<cadence>_*.csv`` (klines) and ``<venue>_<BASE><QUOTE>_funding_rates_*.csv``,
and chain-level files (``ethereum_gas_prices_*.csv``, ``<TOKEN>_USD_oracle_*.csv``). The underlying synthetic
market (spot, oracles, gas) is built by :func:`basis_core.data.synthetic.synthetic_market` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from basis_core.data.contrib import FileLoader, MarketDataFiles
from basis_core.data.files import funding, klines, oracle
from basis_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from basis_core.data.series import Series

#: quote currencies the generic convention splits a pair on (``ETHUSDT`` -> ETH / USDT)
QUOTES = "USDT|USDC|FDUSD|BUSD|USD|DAI|EUR"
_PAIR = rf"(?P<base>[A-Z0-9]+?)(?P<quote>{QUOTES})"
_VENUE = r"(?P<venue>[a-z][a-z0-9]*)"
_CADENCE = r"(?P<cadence>1s|1m|3m|5m|15m|30m|1h|2h|4h|8h|12h|1d)"

def _load_gas(path: Path, name: str) -> Series:
    from basis_core.data.loaders import load_gas

    return load_gas(path, name)


GENERIC_FILES = MarketDataFiles(
    loaders=(
        klines(rf"^{_VENUE}_{_PAIR}_perp_{_CADENCE}_", "perp:{venue}:{base}/{quote}:{quote}", cadence=None,
               example="<venue>_ETHUSDT_perp_1m_<from>_<to>.csv"),
        klines(rf"^{_VENUE}_{_PAIR}_spot_{_CADENCE}_", "spot:{venue}:{base}/{quote}", cadence=None,
               example="<venue>_ETHUSDT_spot_1m_<from>_<to>.csv"),
        funding(rf"^{_VENUE}_{_PAIR}_funding_rates_", "funding:{venue}:{base}/{quote}:{quote}",
                example="<venue>_ETHUSDT_funding_rates_<from>_<to>.csv"),
        FileLoader(r"^ethereum_gas_prices_", "gas", lambda p, n: _load_gas(p, n), "irregular",
                   {"base_fee_gwei": "base_fee_gwei", "priority_fee_gwei": "priority_fee_p50_gwei",
                    "gas_price_gwei": "gas_price_gwei"}, "ethereum_gas_prices_<from>_<to>.csv"),
        oracle(r"^W?(?P<token>[A-Z]+)_USD_oracle_", "oracle:{token}/USD", "price",
               example="WETH_USD_oracle_<from>.csv"),
    ),
    # a USDC pair without data of its own is proxied by the USDT pair
    aliases={"spot:ETH/USDC": "spot:ETH/USDT", "spot:BTC/USDC": "spot:BTC/USDT"},
)


@hookimpl
def market_data_files() -> MarketDataFiles:
    """The generic conventions (see the module docstring)."""
    return GENERIC_FILES
