"""Fixtures for the Aave plugin tests: real Aave v3 markets on the session's anvil node.

- ``aave_world``: WETH, wstETH, weETH, USDC, USDT (mock tokens) with seeded liquidity.
- ``loop_world``: our Lido stETH / wstETH / queue plus an Aave market (WETH, wstETH = that wstETH, USDC)
  for the venue's live tests and the flash-loan loop; the Lido rate is set to 1.2 ETH per wstETH so the
  chain agrees with the oracle (ETH 3000 USD, wstETH 3600 USD). The seeded WETH is backed by ETH (the mock
  mints it unbacked) so unwrapping works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from basis_core.testing.anvil import ANVIL_KEYS, AnvilNode

LOOP_ASSETS = ("WETH", "wstETH", "USDC")
LIDO_RATE_WEI = 12 * 10**17  # 1.2 ETH per wstETH (= per share)


@pytest.fixture(scope="session")
def aave_world(anvil: AnvilNode) -> Any:
    """A deployed Aave v3 market (WETH, wstETH, weETH, USDC, USDT) with seeded liquidity."""
    from basis_venue_aave.testing.deploy import deploy_aave_market
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))  # caches eth_chainId
    return deploy_aave_market(w3, w3.eth.accounts[0])


@dataclass
class LoopWorld:
    """Lido + Aave deployed together; ``user`` / ``key`` is the account the venues act for."""

    url: str
    aave: Any
    lido: Any
    user: str
    key: str

    def aave_table(self) -> dict[str, Any]:
        """The aave venue's deployment table (flat form of AaveWorld.deployment_table)."""
        return self.aave.deployment_table()  # type: ignore[no-any-return]

    def lido_table(self) -> dict[str, Any]:
        return {**self.lido.deployment_table(), "WETH": self.aave.tokens["WETH"].address}


@pytest.fixture(scope="session")
def loop_world(anvil: AnvilNode) -> LoopWorld:
    from basis_venue_aave.testing.deploy import deploy_aave_market
    from basis_venue_lido.testing.deploy import deploy_lido
    from web3 import Web3

    from basis_core.testing.contracts import wait_receipt

    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))
    deployer = w3.eth.accounts[0]
    lido = deploy_lido(w3, deployer)
    wait_receipt(w3, lido.steth.functions.setTotalPooledEther(LIDO_RATE_WEI).transact({"from": deployer}))
    aave = deploy_aave_market(w3, deployer, LOOP_ASSETS, external_tokens={"wstETH": lido.wsteth.address})
    # WETH9Mocked mints unbacked WETH for the seed: back it with ETH so WETH.withdraw (unwrap) can pay out
    weth = aave.tokens["WETH"]
    wait_receipt(w3, weth.functions.deposit().transact({"from": aave.liquidity_provider, "value": 2000 * 10**18}))
    return LoopWorld(anvil.url, aave, lido, w3.eth.accounts[1], ANVIL_KEYS[1])
