"""Fixtures for the Aave plugin tests: one real Aave v3 market per session on the session's anvil node."""

from __future__ import annotations

from typing import Any

import pytest

from basis_core.testing.anvil import AnvilNode


@pytest.fixture(scope="session")
def aave_world(anvil: AnvilNode) -> Any:
    """A deployed Aave v3 market (WETH, wstETH, weETH, USDC, USDT) with seeded liquidity."""
    from basis_venue_aave.testing.deploy import deploy_aave_market
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))  # caches eth_chainId
    return deploy_aave_market(w3, w3.eth.accounts[0])
