"""basis-core venue plugin for Binance (spot + USD-M perpetuals)."""
