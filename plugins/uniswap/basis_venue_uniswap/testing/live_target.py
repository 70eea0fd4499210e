"""The conformance kit's live target for the Uniswap venue: the real Uniswap v2 / v3 contracts (npm artifacts,
:func:`basis_venue_uniswap.testing.deploy.deploy_uniswap`: WETH9, USDC, DAI, the v2 WETH/USDC and WETH/DAI pairs,
the v3 WETH/USDC pools at 500 and 3000) on a fresh anvil node on 127.0.0.1. The venue's account (anvil key 1) gets
the deployed tokens' ``balances`` from the deployer (USDT and others the deployment lacks are skipped; ETH comes
with anvil).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any


def fund(world: Any, who: str, balances: Mapping[str, Any]) -> None:
    """Transfer ``who`` the ``ethereum:wallet:<TOKEN>`` amounts of the world's tokens from the deployer."""
    from basis_core.testing.contracts import transact

    for key, amount in balances.items():
        sym = key.rsplit(":", 1)[-1]
        if sym in world.tokens:
            units = int(Decimal(str(amount)).scaleb(world.decimals[sym]))
            transact(world.w3, world.tokens[sym].functions.transfer(who, units), sender=world.deployer)


@contextmanager
def live_target(balances: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Start anvil, deploy Uniswap v2 / v3 with funded pools, fund the account; yield the venue settings; stop the
    node."""
    from web3 import Web3

    from basis_core.testing.anvil import ANVIL_KEYS, start_anvil
    from basis_venue_uniswap.testing.deploy import deploy_uniswap

    node = start_anvil()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url, cache_allowed_requests=True))
        deployer, user = list(w3.eth.accounts)[:2]
        world = deploy_uniswap(w3, deployer)
        fund(world, user, balances)
        yield {"rpc_url": node.url, "private_key": ANVIL_KEYS[1], "deployment_table": world.deployment_table(),
               "receipt_poll_interval": 0.002}
    finally:
        node.stop()
