"""The conformance kit's live target for the Aave venue: a real Aave v3 market (npm ``@aave/core-v3`` artifacts,
:func:`basis_venue_aave.testing.deploy.deploy_aave_market`: WETH, wstETH, USDC, USDT mock tokens with seeded
liquidity, e-mode category 1 "ETH correlated") on a fresh anvil node on 127.0.0.1. The venue's account (anvil
key 1) gets the market tokens' ``balances`` minted (ETH comes with anvil; tokens the market lacks are skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

ASSETS = ("WETH", "wstETH", "USDC", "USDT")  # the assets the venue's conformance examples use


def fund(world: Any, who: str, balances: Mapping[str, Any]) -> None:
    """Mint ``who`` the ``ethereum:wallet:<TOKEN>`` amounts of the market's tokens."""
    from basis_core.testing.anvil import wallet_amounts

    for sym, amount in wallet_amounts(balances, world.tokens).items():
        world.mint(sym, who, amount)


def live_target(balances: Mapping[str, Any]) -> AbstractContextManager[dict[str, Any]]:
    """Start anvil, deploy and seed the Aave v3 market, fund the account; yield the venue settings; stop the
    node."""
    from basis_core.testing.anvil import chain_target
    from basis_venue_aave.testing.deploy import deploy_aave_market

    def prepare(node: Any, w3: Any, accounts: list[str]) -> dict[str, Any]:
        world = deploy_aave_market(w3, accounts[0], ASSETS)
        fund(world, accounts[1], balances)
        return {"deployment_table": world.deployment_table()}

    return chain_target(prepare)
