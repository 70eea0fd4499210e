"""Fixtures for the Uniswap plugin tests: the real Uniswap v2 / v3 contracts deployed once per session."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

try:  # the plugin is normally pip-installed; fall back to its source folder
    import basis_venue_uniswap  # noqa: F401
except ImportError:  # pragma: no cover - depends on the install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from basis_venue_uniswap.testing.deploy import UniswapWorld, deploy_uniswap

from basis_core.testing.anvil import AnvilNode


@pytest.fixture(scope="session")
def uniswap_world(anvil: AnvilNode) -> UniswapWorld:
    """Tokens, Uniswap v2 (factory, router, WETH/USDC and WETH/DAI pairs) and v3 (factory, SwapRouter,
    position manager, QuoterV2, WETH/USDC pools at 500 and 3000) on the session's anvil node.
    Tests that send transactions must also take ``chain`` so their changes are reverted."""
    from web3 import Web3

    w3: Any = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 30}, cache_allowed_requests=True))
    return deploy_uniswap(w3, w3.eth.accounts[0])
