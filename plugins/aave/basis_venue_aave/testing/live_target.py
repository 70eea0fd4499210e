"""The conformance kit's live target for the Aave venue: a real Aave v3 market (npm ``@aave/core-v3`` artifacts,
:func:`basis_venue_aave.testing.deploy.deploy_aave_market`: WETH, wstETH, USDC, USDT mock tokens with seeded
liquidity, e-mode category 1 "ETH correlated") on a fresh anvil node on 127.0.0.1. The venue's account (anvil
key 1) gets the market tokens' ``balances`` minted (ETH comes with anvil; tokens the market lacks are skipped).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

ASSETS = ("WETH", "wstETH", "USDC", "USDT")  # the assets the venue's conformance examples use


def fund(world: Any, who: str, balances: Mapping[str, Any]) -> None:
    """Mint ``who`` the ``ethereum:wallet:<TOKEN>`` amounts of the market's tokens."""
    for key, amount in balances.items():
        sym = key.rsplit(":", 1)[-1]
        if sym in world.tokens:
            world.mint(sym, who, Decimal(str(amount)))


@contextmanager
def live_target(balances: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Start anvil, deploy and seed the Aave v3 market, fund the account; yield the venue settings; stop the
    node."""
    from web3 import Web3

    from basis_core.testing.anvil import ANVIL_KEYS, start_anvil
    from basis_venue_aave.testing.deploy import deploy_aave_market

    node = start_anvil()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url, cache_allowed_requests=True))
        deployer, user = list(w3.eth.accounts)[:2]
        world = deploy_aave_market(w3, deployer, ASSETS)
        fund(world, user, balances)
        yield {"rpc_url": node.url, "private_key": ANVIL_KEYS[1], "deployment_table": world.deployment_table(),
               "receipt_poll_interval": 0.002}
    finally:
        node.stop()
