"""Fixtures for the EtherFi plugin tests: one deployment of our pool / eETH / weETH / NFT per session, and WETH9."""

from __future__ import annotations

from typing import Any

import pytest
from basis_venue_etherfi.testing.deploy import EtherFiWorld, deploy_etherfi

FINALIZATION_DELAY = 3600  # seconds a request waits before the queue may finalize it (our NFT enforces it)


@pytest.fixture(scope="session")
def etherfi_world(anvil: Any) -> EtherFiWorld:
    """The pool bootstrapped with 1 ETH (1:1), eETH, weETH and the queue; deployer is account 0."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))
    return deploy_etherfi(w3, w3.eth.accounts[0], finalization_delay=FINALIZATION_DELAY)


@pytest.fixture(scope="session")
def etherfi_weth(etherfi_world: EtherFiWorld) -> Any:
    """Canonical WETH9 (npm ``@uniswap/v2-periphery`` artifact) for staking WETH."""
    from basis_core.testing.contracts import deploy, load_artifact

    return deploy(etherfi_world.w3, load_artifact("@uniswap/v2-periphery/build/WETH9.json"),
                  sender=etherfi_world.deployer)
