"""The conformance kit against the installed ``paper`` test venue (the same one-class file every plugin uses)."""

from basis_core.testing.conformance import ConformanceSuite


class TestPaperConformance(ConformanceSuite):
    venue = "paper"
