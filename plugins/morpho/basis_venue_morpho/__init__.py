"""basis-execution venue plugin: Morpho Blue (isolated lending markets, exact contract math in backtest)."""

__version__ = "0.2.0"
