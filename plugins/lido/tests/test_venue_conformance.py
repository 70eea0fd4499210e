"""The basis-core conformance kit against the lido venue (backtest; live-import and credential checks)."""

from basis_core.testing.conformance import ConformanceSuite


class TestLidoConformance(ConformanceSuite):
    venue = "lido"
