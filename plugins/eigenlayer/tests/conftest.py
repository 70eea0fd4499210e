"""Fixtures for the EigenLayer plugin tests: one deployment of our managers and a stETH strategy per session.

The strategy's token is a plain ERC20 (Aave's ``MintableERC20`` mock from npm) named stETH: the share math only sees
balances, and a donation to the strategy stands for a rebase.
"""

from __future__ import annotations

from typing import Any

import pytest
from basis_venue_eigenlayer.testing.deploy import EigenWorld, deploy_eigenlayer

DELAY_BLOCKS = 10
USER_INDEX = 4  # anvil's default account 4 (basis_core.testing.anvil.ANVIL_KEYS lists the first three)
USER_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
OPERATOR_INDEX = 5


@pytest.fixture(scope="session")
def eigen_world(anvil: Any) -> EigenWorld:
    from web3 import Web3

    from basis_core.testing.contracts import deploy, load_artifact, wait_receipt

    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))
    deployer = w3.eth.accounts[0]
    art = load_artifact("@aave/core-v3/artifacts/contracts/mocks/tokens/MintableERC20.sol/MintableERC20.json")
    steth = deploy(w3, art, "Liquid staked Ether 2.0", "stETH", 18, sender=deployer)
    user = w3.eth.accounts[USER_INDEX]
    wait_receipt(w3, steth.functions.mint(user, 1000 * 10**18).transact({"from": deployer}))
    return deploy_eigenlayer(w3, deployer, {"stETH": steth}, w3.eth.accounts[OPERATOR_INDEX],
                             min_withdrawal_delay_blocks=DELAY_BLOCKS)
