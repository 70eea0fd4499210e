"""The conformance suite collected by ``pytest -p basis_core.testing.conformance --basis-venue NAME``.

The plugin adds this file to the run when ``--basis-venue`` is given; the venues come from that option.
"""

from __future__ import annotations

from basis_core.testing.conformance import ConformanceSuite


class TestVenueConformance(ConformanceSuite):
    """The kit against every venue named by ``--basis-venue`` (``all`` = every installed venue)."""

    venue = None
