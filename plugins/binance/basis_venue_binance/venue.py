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
from basis_core.data.contrib import DataModuleHooks
from basis_core.hookspecs import hookimpl
from basis_venue_binance.spec import BINANCE_SPEC


class BinanceVenue(DataModuleHooks, CexVenue):
    """Binance spot + USD-M perpetuals."""

    name = "binance"
    description = "Binance spot and USD-M linear perpetuals"
    key_namespaces = ("binance:",)
    settings_options: ClassVar[frozenset[str]] = CexVenue.settings_options | {"recv_window_ms"}
    default_spec: ClassVar[CexSpec] = BINANCE_SPEC

    # market data: FILES and synthetic_series of this module, served on the class (DataModuleHooks)
    data_module: ClassVar[str] = "basis_venue_binance.data"

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        """Spot prices, marks and funding from Binance's public endpoints (:mod:`basis_venue_binance.market_data`)."""
        from basis_venue_binance.market_data import read_market_data

        return read_market_data(keys, context)

    def on_configure(self, context: Any) -> None:
        super().on_configure(context)
        if context.mode == "live":  # credentials are checked at configure (live.py imports no ccxt)
            from basis_venue_binance.live import BinanceLiveBackend

            BinanceLiveBackend.check_configuration(self.name, self.settings, context.settings)

    def make_live_backend(self) -> Any:
        from basis_venue_binance.live import BinanceLiveBackend

        return BinanceLiveBackend(self)

    @contextmanager
    def conformance_live_target(self) -> Iterator[dict[str, Any]]:
        """The conformance kit's live target: this plugin's signature-checking Binance emulator on 127.0.0.1."""
        from decimal import Decimal

        from basis_venue_binance.testing.emulator import BinanceEmulator

        key, secret = "kit-api-key", "kit-api-secret-0123456789abcdef"
        emu = BinanceEmulator(key, secret, spot_balances={"USDT": Decimal(100_000), "ETH": Decimal(10)},
                              futures_balances={"USDT": Decimal(50_000)},
                              prices={"ETHUSDT": Decimal(3000), "BTCUSDT": Decimal(60_000)})
        emu.start()
        try:
            yield {"api_key": key, "api_secret": secret, "base_url": emu.base_url, "enable_rate_limit": False}
        finally:
            emu.stop()
