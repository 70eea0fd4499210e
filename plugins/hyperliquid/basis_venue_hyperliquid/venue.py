"""The Hyperliquid venue plugin (entry point ``hyperliquid`` of ``basis_core.venues``).

Structure (shared by both modes): instruction validation against Hyperliquid's size / price rules
(:mod:`basis_core.backtest.cex.validation` over the markets of
:data:`~basis_venue_hyperliquid.spec.HYPERLIQUID_SPEC`) and delta building from a fill
(:mod:`basis_core.backtest.cex.fills`). Backtest backend: the core's
:class:`~basis_core.backtest.cex.engine.CexSimulator` parameterised by the spec. Live backend (ccxt):
:class:`basis_venue_hyperliquid.live.HyperliquidLiveBackend`. Keys, fees and defaults: see
:mod:`basis_venue_hyperliquid.spec`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from basis_core.backtest.cex import CexSpec, CexVenue
from basis_core.data.contrib import DataModuleHooks
from basis_core.hookspecs import hookimpl
from basis_venue_hyperliquid.spec import HYPERLIQUID_SPEC


class HyperliquidVenue(DataModuleHooks, CexVenue):
    """Hyperliquid spot + USDC-margined perpetuals."""

    name = "hyperliquid"
    description = "Hyperliquid spot and USDC linear perpetuals"
    key_namespaces = ("hyperliquid:",)
    settings_options: ClassVar[frozenset[str]] = CexVenue.settings_options | {
        "landing_window_ms", "market_slippage", "testnet"}
    default_spec: ClassVar[CexSpec] = HYPERLIQUID_SPEC

    # market data: FILES and synthetic_series of this module, served on the class (DataModuleHooks)
    data_module: ClassVar[str] = "basis_venue_hyperliquid.data"

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        """Marks, spot prices and funding from Hyperliquid's public ``/info`` (:mod:`.market_data`)."""
        from basis_venue_hyperliquid.market_data import read_market_data

        return read_market_data(keys, context)

    def on_configure(self, context: Any) -> None:
        super().on_configure(context)
        if context.mode == "live":  # credentials are checked at configure (live.py imports no ccxt)
            from basis_venue_hyperliquid.live import HyperliquidLiveBackend

            HyperliquidLiveBackend.check_configuration(self.name, self.settings, context.settings)

    def make_live_backend(self) -> Any:
        from basis_venue_hyperliquid.live import HyperliquidLiveBackend

        return HyperliquidLiveBackend(self)

    @contextmanager
    def conformance_live_target(self) -> Iterator[dict[str, Any]]:
        """The conformance kit's live target: this plugin's Hyperliquid emulator (EIP-712 signer recovery) on
        127.0.0.1, with a throwaway key (derived here, never a real account's)."""
        import hashlib
        from decimal import Decimal

        from eth_account import Account

        from basis_venue_hyperliquid.testing.emulator import HyperliquidEmulator

        key = "0x" + hashlib.sha256(b"basis-conformance-kit-hyperliquid").hexdigest()
        master = Account.from_key(key).address
        emu = HyperliquidEmulator(master, perp_usdc=Decimal(100_000), spot_balances={"USDC": Decimal(100_000)},
                                  marks={"ETH": "3000", "BTC": "100000"})
        emu.start()
        try:
            yield {"private_key": key, "wallet_address": master, "base_url": emu.base_url, "enable_rate_limit": False}
        finally:
            emu.stop()
