"""The test-chain harness cleans up after itself: anvil spills old block states to disk and never deletes them."""

from __future__ import annotations

import pytest

from basis_core.testing.anvil import anvil_binary, start_anvil

try:
    anvil_binary()
except FileNotFoundError:  # pragma: no cover - only without `npm ci`
    pytest.skip("anvil not installed (npm ci)", allow_module_level=True)


def test_a_stopped_node_leaves_no_block_states_on_disk() -> None:
    node = start_anvil()
    cache = node.cache_dir
    assert cache is not None and cache.is_dir()
    for _ in range(1200):  # past anvil's in-memory window: older states are written under the cache path
        node.rpc("evm_mine")
    assert any(cache.rglob("*")), "anvil persisted no state: the test no longer exercises the spill"
    node.stop()
    assert not cache.exists()


def test_an_explicit_cache_path_is_the_callers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with start_anvil("--cache-path", str(tmp_path)) as node:
        assert node.cache_dir is None
    assert tmp_path.exists()
