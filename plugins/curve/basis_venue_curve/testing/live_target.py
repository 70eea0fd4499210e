"""The conformance kit's live target for the Curve venue: our StableSwap pools (``contracts/StableSwap.vy``,
:func:`basis_venue_curve.testing.deploy.deploy_curve_pools`: USDC, USDT, DAI test tokens, the seeded "2pool"
USDC/USDT and "3pool" DAI/USDC/USDT) on a fresh anvil node on 127.0.0.1. The venue's account (anvil key 1) gets
the tokens' ``balances`` minted (no approvals: the venue grants its own; ETH comes with anvil).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

ETH_USD = "2500"  # the ETH price the venue values gas at (option ``eth_usd``; no market data in the kit)


def fund(world: Any, who: str, balances: Mapping[str, Any]) -> None:
    """Mint ``who`` the ``ethereum:wallet:<TOKEN>`` amounts of the world's tokens."""
    from basis_venue_curve.testing.deploy import mint

    for key, amount in balances.items():
        sym = key.rsplit(":", 1)[-1]
        if sym in world.tokens:
            mint(world.w3, world.tokens[sym], who, int(Decimal(str(amount)).scaleb(world.token_decimals[sym])))


@contextmanager
def live_target(balances: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Start anvil, deploy and seed the pools, fund the account; yield the venue settings; stop the node."""
    from web3 import Web3

    from basis_core.testing.anvil import ANVIL_KEYS, start_anvil
    from basis_venue_curve.deployment import table_from_world
    from basis_venue_curve.testing.deploy import deploy_curve_pools

    node = start_anvil()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url, cache_allowed_requests=True))
        deployer, user = list(w3.eth.accounts)[:2]
        world = deploy_curve_pools(w3, deployer)
        fund(world, user, balances)
        yield {"rpc_url": node.url, "private_key": ANVIL_KEYS[1], "deployment_table": table_from_world(world),
               "receipt_poll_interval": 0.002, "eth_usd": ETH_USD}
    finally:
        node.stop()
