"""Fixtures for the Lido plugin tests: one deployment of our stETH / wstETH / queue per session, and WETH9."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from basis_venue_lido.testing.deploy import LidoWorld, deploy_lido


@pytest.fixture(scope="session")
def lido_world(anvil: Any) -> Iterator[LidoWorld]:
    """stETH bootstrapped with 1 ETH (1:1), wstETH, and the withdrawal queue; deployer is account 0."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url))
    yield deploy_lido(w3, w3.eth.accounts[0])


@pytest.fixture(scope="session")
def weth(lido_world: LidoWorld) -> Any:
    """Canonical WETH9 (npm ``@uniswap/v2-periphery`` artifact) for staking WETH."""
    from basis_core.testing.contracts import deploy, load_artifact

    return deploy(lido_world.w3, load_artifact("@uniswap/v2-periphery/build/WETH9.json"), sender=lido_world.deployer)
