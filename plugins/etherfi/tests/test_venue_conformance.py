"""The basis-core conformance kit against the etherfi venue (backtest; live-import and credential checks)."""

from basis_core.testing.conformance import ConformanceSuite


class TestEtherFiConformance(ConformanceSuite):
    venue = "etherfi"
