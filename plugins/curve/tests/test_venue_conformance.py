"""The basis-core conformance kit against the curve venue (backtest; live-import and credential checks)."""

from basis_core.testing.conformance import ConformanceSuite


class TestCurveConformance(ConformanceSuite):
    venue = "curve"
