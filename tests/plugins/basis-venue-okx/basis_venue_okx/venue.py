"""The OKX venue: the core's CexVenue over :data:`~basis_venue_okx.spec.OKX_SPEC`, plus its data contribution.

Backtest only (no live backend here, so it does not declare the ``live`` capability).
"""

from __future__ import annotations

from typing import Any, ClassVar

from basis_core import hookimpl
from basis_core.backtest.cex import CexSpec, CexVenue
from basis_venue_okx.spec import OKX_SPEC


class OkxVenue(CexVenue):
    """OKX spot + USDT-margined swaps (backtest)."""

    name = "okx"
    description = "OKX spot and USDT swaps (outside test venue)"
    key_namespaces = ("okx:",)
    default_spec: ClassVar[CexSpec] = OKX_SPEC
    capabilities: ClassVar[frozenset[str]] = frozenset({"fills", "resting_orders", "credentials"})

    @staticmethod
    @hookimpl
    def market_data_files() -> Any:
        from basis_venue_okx.data import FILES

        return FILES

    @staticmethod
    @hookimpl
    def synthetic_series(market: Any) -> Any:
        from basis_venue_okx.data import synthetic_series

        return synthetic_series(market)
