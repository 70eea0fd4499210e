"""The Binance venue plugin (entry point ``binance`` of ``basis_core.venues``).

Structure (shared by both modes): instruction validation against Binance's filters
(:mod:`basis_core.backtest.cex.validation` over the markets of :data:`~basis_venue_binance.spec.BINANCE_SPEC`)
and delta building from a fill (:mod:`basis_core.backtest.cex.fills`). Backtest backend: the core's
:class:`~basis_core.backtest.cex.engine.CexSimulator` parameterised by the spec. Live backend (ccxt):
:class:`basis_venue_binance.live.BinanceLiveBackend`. Keys, fees and defaults: see :mod:`basis_venue_binance.spec`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from basis_core.backtest.cex import CexSpec, CexVenue
from basis_core.data.contrib import DataModuleHooks, LiveDataModuleHooks
from basis_venue_binance.spec import BINANCE_SPEC


class BinanceVenue(DataModuleHooks, LiveDataModuleHooks, CexVenue):
    """Binance spot + USD-M perpetuals."""

    name = "binance"
    description = "Binance spot and USD-M linear perpetuals"
    key_namespaces = ("binance:",)
    settings_options: ClassVar[frozenset[str]] = CexVenue.settings_options | {"recv_window_ms"}
    default_spec: ClassVar[CexSpec] = BINANCE_SPEC

    # market data: FILES and synthetic_series of this module, served on the class (DataModuleHooks); live reads:
    # read_market_data of the next (LiveDataModuleHooks); the live backend (imported in live mode only)
    data_module: ClassVar[str] = "basis_venue_binance.data"
    live_data_module: ClassVar[str] = "basis_venue_binance.market_data"
    live_backend: ClassVar[str | None] = "basis_venue_binance.live:BinanceLiveBackend"

    @contextmanager
    def conformance_live_target(self) -> Iterator[dict[str, Any]]:
        """The conformance kit's live target: this plugin's signature-checking Binance emulator on 127.0.0.1."""
        from decimal import Decimal

        from basis_venue_binance.testing.emulator import BinanceEmulator

        key, secret = "kit-api-key", "kit-api-secret-0123456789abcdef"
        with BinanceEmulator(key, secret, spot_balances={"USDT": Decimal(100_000), "ETH": Decimal(10)},
                             futures_balances={"USDT": Decimal(50_000)},
                             prices={"ETHUSDT": Decimal(3000), "BTCUSDT": Decimal(60_000)}) as emu:
            yield {"api_key": key, "api_secret": secret, "base_url": emu.base_url, "enable_rate_limit": False}
