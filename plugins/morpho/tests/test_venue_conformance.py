"""The conformance kit against the morpho venue."""

from basis_core.testing.conformance import ConformanceSuite


class TestConformance(ConformanceSuite):
    venue = "morpho"
