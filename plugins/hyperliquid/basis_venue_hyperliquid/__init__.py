"""basis-core venue plugin for Hyperliquid (spot and USDC-margined perpetuals, through ccxt)."""
