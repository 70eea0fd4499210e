"""The basis-core conformance kit against the uniswap venue (backtest; live-import and credential checks)."""

from basis_core.testing.conformance import ConformanceSuite


class TestUniswapConformance(ConformanceSuite):
    venue = "uniswap"
