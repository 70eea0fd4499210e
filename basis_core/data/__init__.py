"""Market data: series, the as-of DataProvider, loaders for real files, the synthetic market."""

from basis_core.data.loaders import load_data_dir
from basis_core.data.prices import usd_price
from basis_core.data.provider import DataProvider, MarketSnapshot
from basis_core.data.series import Series
from basis_core.data.synthetic import SyntheticSpec, synthetic_market

__all__ = ["DataProvider", "MarketSnapshot", "Series", "SyntheticSpec", "load_data_dir", "synthetic_market",
           "usd_price"]
