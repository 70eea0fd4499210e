"""basis-core's venue conformance kit against this plugin (docs/writing-a-venue-plugin.md).

Copy this file into any venue plugin's tests/ and change the venue name: nothing else is needed.
"""

from basis_core.testing.conformance import ConformanceSuite


class TestConformance(ConformanceSuite):
    venue = "curve"
