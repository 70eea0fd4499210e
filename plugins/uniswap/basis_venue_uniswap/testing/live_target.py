"""The conformance kit's live target for the Uniswap venue: the real Uniswap v2 / v3 contracts (npm artifacts,
:func:`basis_venue_uniswap.testing.deploy.deploy_uniswap`: WETH9, USDC, DAI, the v2 WETH/USDC and WETH/DAI pairs,
the v3 WETH/USDC pools at 500 and 3000) on a fresh anvil node on 127.0.0.1. The venue's account (anvil key 1) gets
the deployed tokens' ``balances`` from the deployer (USDT and others the deployment lacks are skipped; ETH comes
with anvil).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any


def fund(world: Any, who: str, balances: Mapping[str, Any]) -> None:
    """Transfer ``who`` the ``ethereum:wallet:<TOKEN>`` amounts of the world's tokens from the deployer."""
    from basis_core.testing.anvil import wallet_amounts
    from basis_core.testing.contracts import transact

    for sym, amount in wallet_amounts(balances, world.tokens).items():
        units = int(amount.scaleb(world.decimals[sym]))
        transact(world.w3, world.tokens[sym].functions.transfer(who, units), sender=world.deployer)


def live_target(balances: Mapping[str, Any]) -> AbstractContextManager[dict[str, Any]]:
    """Start anvil, deploy Uniswap v2 / v3 with funded pools, fund the account; yield the venue settings; stop the
    node."""
    from basis_core.testing.anvil import chain_target
    from basis_venue_uniswap.testing.deploy import deploy_uniswap

    def prepare(node: Any, w3: Any, accounts: list[str]) -> dict[str, Any]:
        world = deploy_uniswap(w3, accounts[0])
        fund(world, accounts[1], balances)
        return {"deployment_table": world.deployment_table()}

    return chain_target(prepare)
