"""Market data: series, the as-of DataProvider, loaders for real files, the synthetic market.

The loaders and the synthetic market (pandas / numpy) are imported on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from basis_core.data.prices import usd_price
from basis_core.data.provider import DataProvider, MarketSnapshot
from basis_core.data.series import Series

if TYPE_CHECKING:
    from basis_core.data.loaders import load_data_dir
    from basis_core.data.synthetic import SyntheticSpec, synthetic_market

_LAZY = {"load_data_dir": "basis_core.data.loaders", "SyntheticSpec": "basis_core.data.synthetic",
         "synthetic_market": "basis_core.data.synthetic"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'basis_core.data' has no attribute {name!r}")


__all__ = ["DataProvider", "MarketSnapshot", "Series", "SyntheticSpec", "load_data_dir", "synthetic_market",
           "usd_price"]
