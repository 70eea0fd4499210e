"""Test support for the Hyperliquid plugin: a local, signature-checking Hyperliquid emulator."""

from basis_venue_hyperliquid.testing.emulator import FEES, HyperliquidEmulator

__all__ = ["FEES", "HyperliquidEmulator"]
