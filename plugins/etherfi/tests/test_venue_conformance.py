"""The basis-core conformance kit against the etherfi venue (backtest; live against our contracts on anvil)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from basis_core.testing.conformance import ConformanceSuite


class TestEtherFiConformance(ConformanceSuite):
    venue = "etherfi"
