"""Fixtures for the Curve plugin tests: one deployment of our StableSwap pools per session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    import basis_venue_curve  # noqa: F401
except ImportError:  # plugin not pip-installed yet: import it from its source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basis_venue_curve.testing.deploy import DEFAULT_POOLS, CurveWorld, deploy_curve_pools

# an extra 2-coin pool mixing 18 and 6 decimals, on top of the default 2pool and 3pool
TEST_POOLS = {**DEFAULT_POOLS, "dai_usdc": (("DAI", "USDC"), 100, 4_000_000, 5_000_000_000)}


@pytest.fixture(scope="session")
def curve_world(anvil: Any) -> Iterator[CurveWorld]:
    """Tokens (USDC, USDT, DAI), pools 2pool / 3pool / dai_usdc seeded with 1M of each coin.

    Account 1 (``world.w3.eth.accounts[1]``) holds 1e9 of every token and has approved every pool.
    """
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url))
    deployer = w3.eth.accounts[0]
    world = deploy_curve_pools(w3, deployer, pools=TEST_POOLS)
    world.fund(w3.eth.accounts[1], spenders=[p.address for p in world.pools.values()])
    yield world
