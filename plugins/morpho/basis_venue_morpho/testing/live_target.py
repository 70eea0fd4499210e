"""The conformance kit's live target for the Morpho venue: the real Morpho Blue (npm ``@morpho-org/morpho-blue``
1.0.0) on a fresh anvil node on 127.0.0.1, with the venue's default markets on ERC20Mock tokens (wstETH, WETH,
USDC), oracles at 1.3 WETH and 3600 USDC per wstETH, lenders' liquidity, and borrower ``bob`` made unhealthy
in ``wstETH/WETH-94.5`` (10 wstETH against 12 WETH once the oracle drops to 1.19), as the backtest's
``conformance_settings`` has him. The venue's account (anvil key 1) holds ``balances``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

E18 = 10**18
WSTETH_WETH = 13 * 10**35          # 1.3 WETH per wstETH (1e36 scale)
WSTETH_WETH_AFTER = 119 * 10**34   # 1.19: bob's 12 WETH on 10 wstETH is then liquidatable
WSTETH_USDC = 3600 * 10**24        # 3600 USDC (6 decimals) per wstETH (18): 3600e36 x 1e6 / 1e18
DECIMALS = {"WETH": 18, "wstETH": 18, "USDC": 6}
MARKETS = [("wstETH", "WETH", 945 * 10**15, WSTETH_WETH), ("wstETH", "USDC", 86 * 10**16, WSTETH_USDC)]


def seed_world(w3: Any, owner: str, lender: str, bob: str) -> Any:
    """Deploy the markets, lend 1000 WETH and 10 M USDC, open bob's position and drop the oracle under it."""
    from basis_core.testing.contracts import transact
    from basis_venue_morpho.testing.deploy import deploy_morpho

    world = deploy_morpho(w3, owner, DECIMALS, MARKETS)
    f = world.morpho.functions
    for sym, amount in (("WETH", 1000 * E18), ("USDC", 10_000_000 * 10**6)):
        world.set_balance(sym, lender, amount)
        transact(w3, world.tokens[sym].functions.approve(world.morpho.address, 2**256 - 1), lender)
    transact(w3, f.supply(world.params["wstETH/WETH-94.5"], 1000 * E18, 0, lender, b""), lender)
    transact(w3, f.supply(world.params["wstETH/USDC-86"], 10_000_000 * 10**6, 0, lender, b""), lender)
    world.set_balance("wstETH", bob, 10 * E18)
    transact(w3, world.tokens["wstETH"].functions.approve(world.morpho.address, 2**256 - 1), bob)
    p = world.params["wstETH/WETH-94.5"]
    transact(w3, f.supplyCollateral(p, 10 * E18, bob, b""), bob)
    transact(w3, f.borrow(p, 12 * E18, 0, bob, bob), bob)
    world.set_price("wstETH/WETH-94.5", WSTETH_WETH_AFTER)
    return world


def fund(world: Any, who: str, balances: Mapping[str, Any]) -> None:
    """Give ``who`` the ``ethereum:wallet:<TOKEN>`` balances of the world's tokens (ETH comes with anvil)."""
    for key, amount in balances.items():
        sym = key.rsplit(":", 1)[-1]
        if sym in world.tokens:
            world.set_balance(sym, who, int(Decimal(str(amount)).scaleb(world.decimals[sym])))


@contextmanager
def live_target(balances: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Start anvil, deploy and seed, fund the account; yield the venue settings; stop the node."""
    from web3 import Web3

    from basis_core.testing.anvil import ANVIL_KEYS, start_anvil

    node = start_anvil()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url, cache_allowed_requests=True))
        owner, user, lender, bob = list(w3.eth.accounts)[:4]
        world = seed_world(w3, owner, lender, bob)
        fund(world, user, balances)
        yield {"rpc_url": node.url, "private_key": ANVIL_KEYS[1],
               "deployment_table": world.deployment_table({"bob": bob}), "receipt_poll_interval": 0.002}
    finally:
        node.stop()
