"""The basis-core conformance kit against the aave venue (backtest; live-import and credential checks)."""

from basis_core.testing.conformance import ConformanceSuite


class TestAaveConformance(ConformanceSuite):
    venue = "aave"
