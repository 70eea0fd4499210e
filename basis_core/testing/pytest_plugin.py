"""pytest plugin of basis-core (entry point ``pytest11``): shared fixtures for venue plugin tests.

Fixtures
- ``anvil``: one anvil node per test session (127.0.0.1, ephemeral port), stopped by PID at the end.
- ``chain``: per-test isolation on that node: ``evm_snapshot`` before the test, ``evm_revert`` after.
  Session-scoped deployment fixtures run before it, so deployments survive between tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from basis_core.testing.anvil import AnvilNode, start_anvil


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    """One anvil node for the whole test session; skipped cleanly when anvil is not installed."""
    try:
        node = start_anvil()
    except FileNotFoundError as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"anvil not installed: {e}")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def chain(anvil: AnvilNode) -> Iterator[AnvilNode]:
    """The session's anvil node, reverted to its pre-test state after the test."""
    snap = anvil.snapshot()
    try:
        yield anvil
    finally:
        anvil.revert(snap)
