"""The conformance kit's live target for the Lido venue: our stETH / wstETH / WithdrawalQueue (Lido's ABI,
:func:`basis_venue_lido.testing.deploy.deploy_lido`) and canonical WETH9 (npm ``@uniswap/v2-periphery``) on a
fresh anvil node on 127.0.0.1. A test oracle report moves the rate off 1:1 (1.2 ETH per share, the added 0.2 ETH
sent along to back withdrawals) before the venue's account (anvil key 1) gets its ``balances`` by the chain's own
paths: WETH by ``WETH.deposit``, stETH by ``submit``, wstETH by ``submit`` + ``wrap`` (at least the asked amount is
held, up to the contracts' share rounding). ETH comes with anvil.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

POOLED_WEI = 12 * 10**17  # pooled ether reported for the 1 ETH bootstrap: 1.2 ETH per share


def fund(world: Any, weth: Any, who: str, balances: Mapping[str, Any]) -> None:
    """Give ``who`` at least the ``ethereum:wallet:<TOKEN>`` amounts of WETH / stETH / wstETH (staked by ``who``)."""
    from basis_core.testing.contracts import transact

    want = {k.rsplit(":", 1)[-1]: int(Decimal(str(v)).scaleb(18)) for k, v in balances.items()}
    zero = "0x" + "00" * 20
    if want.get("WETH"):
        transact(world.w3, weth.functions.deposit(), who, value=want["WETH"])
    if want.get("wstETH"):
        # wstETH -> stETH at the current rate, rounded up, plus slack for the share rounding
        need = int(world.wsteth.functions.getStETHByWstETH(want["wstETH"]).call()) + 10**9
        transact(world.w3, world.steth.functions.submit(zero), who, value=need + 10**9)
        transact(world.w3, world.steth.functions.approve(world.wsteth.address, need), who)
        transact(world.w3, world.wsteth.functions.wrap(need), who)
    if want.get("stETH"):
        transact(world.w3, world.steth.functions.submit(zero), who, value=want["stETH"] + 10**9)


def live_target(balances: Mapping[str, Any]) -> AbstractContextManager[dict[str, Any]]:
    """Start anvil, deploy Lido and WETH9, report the rate, fund the account; yield the venue settings; stop the
    node."""
    from basis_core.testing.anvil import chain_target
    from basis_core.testing.contracts import deploy, load_artifact, transact
    from basis_venue_lido.testing.deploy import BOOTSTRAP_WEI, deploy_lido

    def prepare(node: Any, w3: Any, accounts: list[str]) -> dict[str, Any]:
        deployer, user = accounts[:2]
        world = deploy_lido(w3, deployer)
        transact(w3, world.steth.functions.setTotalPooledEther(POOLED_WEI), deployer,
                 value=POOLED_WEI - BOOTSTRAP_WEI)
        weth = deploy(w3, load_artifact("@uniswap/v2-periphery/build/WETH9.json"), sender=deployer)
        fund(world, weth, user, balances)
        return {"deployment_table": {**world.deployment_table(), "WETH": weth.address}}

    return chain_target(prepare)
