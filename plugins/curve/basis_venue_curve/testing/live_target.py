"""The conformance kit's live target for the Curve venue: our StableSwap pools (``contracts/StableSwap.vy``,
:func:`basis_venue_curve.testing.deploy.deploy_curve_pools`: USDC, USDT, DAI test tokens, the seeded "2pool"
USDC/USDT and "3pool" DAI/USDC/USDT) on a fresh anvil node on 127.0.0.1. The venue's account (anvil key 1) gets
the tokens' ``balances`` minted (no approvals: the venue grants its own; ETH comes with anvil).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

ETH_USD = "2500"  # the ETH price the venue values gas at (option ``eth_usd``; no market data in the kit)


def fund(world: Any, who: str, balances: Mapping[str, Any]) -> None:
    """Mint ``who`` the ``ethereum:wallet:<TOKEN>`` amounts of the world's tokens."""
    from basis_core.testing.anvil import wallet_amounts
    from basis_venue_curve.testing.deploy import mint

    for sym, amount in wallet_amounts(balances, world.tokens).items():
        mint(world.w3, world.tokens[sym], who, int(amount.scaleb(world.token_decimals[sym])))


def live_target(balances: Mapping[str, Any]) -> AbstractContextManager[dict[str, Any]]:
    """Start anvil, deploy and seed the pools, fund the account; yield the venue settings; stop the node."""
    from basis_core.testing.anvil import chain_target
    from basis_venue_curve.deployment import table_from_world
    from basis_venue_curve.testing.deploy import deploy_curve_pools

    def prepare(node: Any, w3: Any, accounts: list[str]) -> dict[str, Any]:
        world = deploy_curve_pools(w3, accounts[0])
        fund(world, accounts[1], balances)
        return {"deployment_table": table_from_world(world), "eth_usd": ETH_USD}

    return chain_target(prepare)
