"""Test support for the Binance venue: a protocol-faithful local emulator for the real ccxt client."""

from basis_venue_binance.testing.emulator import BinanceEmulator, EmulatedOrder, FeeRates, SymbolSpec

__all__ = ["BinanceEmulator", "EmulatedOrder", "FeeRates", "SymbolSpec"]
