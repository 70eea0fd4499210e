"""The basis-core conformance kit against the eigenlayer venue (backtest; live-import and credential checks)."""

from basis_core.testing.conformance import ConformanceSuite


class TestEigenLayerConformance(ConformanceSuite):
    venue = "eigenlayer"
