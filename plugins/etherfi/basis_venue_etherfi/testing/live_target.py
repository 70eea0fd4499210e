"""The conformance kit's live target for the EtherFi venue: our LiquidityPool / eETH / weETH / WithdrawRequestNFT
(EtherFi's ABI, see the contracts' headers) and canonical WETH9 (npm ``@uniswap/v2-periphery``) on a fresh anvil
node on 127.0.0.1. The pool's rate is moved off 1:1 by a rebase before the venue's account (anvil key 1) gets its
``balances``: WETH by ``WETH.deposit``, eETH by ``LiquidityPool.deposit``, weETH by ``deposit`` + ``wrap`` (the
chain's own paths, so the amounts are exact only up to the share rounding the contracts do; at least the asked
amount is held). ETH comes with anvil.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

FINALIZATION_DELAY = 3600  # seconds a withdrawal request waits before the queue may finalize it
REBASE_WEI = 37_500_000_000_000_000  # rewards added to the 1 ETH bootstrap: 1.0375 ETH per share


def fund(world: Any, weth: Any, who: str, balances: Mapping[str, Any]) -> None:
    """Give ``who`` at least the ``ethereum:wallet:<TOKEN>`` amounts of WETH / eETH / weETH (staked by ``who``)."""
    from basis_core.testing.contracts import transact

    want = {k.rsplit(":", 1)[-1]: int(Decimal(str(v)).scaleb(18)) for k, v in balances.items()}
    if want.get("WETH"):
        transact(world.w3, weth.functions.deposit(), who, value=want["WETH"])
    eeth, weeth = want.get("eETH", 0), want.get("weETH", 0)
    if weeth:
        # weETH -> eETH at the pool's rate, rounded up, plus a wei per share of rounding slack
        pooled, shares = world.pooled_and_shares()
        need = -(-weeth * pooled // shares) + 2
        transact(world.w3, world.pool.functions.deposit(), who, value=need + 10**9)
        transact(world.w3, world.eeth.functions.approve(world.weeth.address, need), who)
        transact(world.w3, world.weeth.functions.wrap(need), who)
    if eeth:
        transact(world.w3, world.pool.functions.deposit(), who, value=eeth + 10**9)


def live_target(balances: Mapping[str, Any]) -> AbstractContextManager[dict[str, Any]]:
    """Start anvil, deploy and rebase EtherFi, deploy WETH9, fund the account; yield the venue settings; stop the
    node."""
    from basis_core.testing.anvil import chain_target
    from basis_core.testing.contracts import deploy, load_artifact
    from basis_venue_etherfi.testing.deploy import deploy_etherfi

    def prepare(node: Any, w3: Any, accounts: list[str]) -> dict[str, Any]:
        deployer, user = accounts[:2]
        world = deploy_etherfi(w3, deployer, finalization_delay=FINALIZATION_DELAY)
        world.rebase(REBASE_WEI)
        weth = deploy(w3, load_artifact("@uniswap/v2-periphery/build/WETH9.json"), sender=deployer)
        fund(world, weth, user, balances)
        return {"deployment_table": {**world.deployment_table(), "WETH": weth.address}}

    return chain_target(prepare)
