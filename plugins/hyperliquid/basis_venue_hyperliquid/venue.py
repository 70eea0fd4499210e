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
from basis_core.data.contrib import DataModuleHooks, LiveDataModuleHooks
from basis_venue_hyperliquid.spec import HYPERLIQUID_SPEC


class HyperliquidVenue(DataModuleHooks, LiveDataModuleHooks, CexVenue):
    """Hyperliquid spot + USDC-margined perpetuals."""

    name = "hyperliquid"
    description = "Hyperliquid spot and USDC linear perpetuals"
    key_namespaces = ("hyperliquid:",)
    settings_options: ClassVar[frozenset[str]] = CexVenue.settings_options | {
        "landing_window_ms", "market_slippage", "testnet"}
    default_spec: ClassVar[CexSpec] = HYPERLIQUID_SPEC

    # market data: FILES and synthetic_series of this module, served on the class (DataModuleHooks); live reads:
    # read_market_data of the next (LiveDataModuleHooks); the live backend (imported in live mode only)
    data_module: ClassVar[str] = "basis_venue_hyperliquid.data"
    live_data_module: ClassVar[str] = "basis_venue_hyperliquid.market_data"
    live_backend: ClassVar[str | None] = "basis_venue_hyperliquid.live:HyperliquidLiveBackend"

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
        with HyperliquidEmulator(master, perp_usdc=Decimal(100_000), spot_balances={"USDC": Decimal(100_000)},
                                 marks={"ETH": "3000", "BTC": "100000"}) as emu:
            yield {"private_key": key, "wallet_address": master, "base_url": emu.base_url, "enable_rate_limit": False}
