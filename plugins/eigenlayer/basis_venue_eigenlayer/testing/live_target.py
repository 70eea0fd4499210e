"""The conformance kit's live target for the EigenLayer venue: our StrategyManager / DelegationManager /
StrategyBase (EigenLayer's ABI, see the contracts' headers) on a fresh anvil node on 127.0.0.1, one strategy for a
stETH token (Aave's ``MintableERC20`` mock from npm: the share math only sees balances), an operator registered
(anvil account 5, which the venue delegates to on the first deposit), and another staker's deposit plus a
donation to the strategy first so the share rate is not 1:1. The venue's account (anvil key 1) is minted the
``balances``' tokens; ETH comes with anvil.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

DELAY_BLOCKS = 10  # minWithdrawalDelayBlocks of the deployed DelegationManager
MINTABLE_ERC20 = "@aave/core-v3/artifacts/contracts/mocks/tokens/MintableERC20.sol/MintableERC20.json"


def live_target(balances: Mapping[str, Any]) -> AbstractContextManager[dict[str, Any]]:
    """Start anvil, deploy the managers and a stETH strategy, fund the account; yield the venue settings (with
    ``operator``); stop the node."""
    from basis_core.testing.anvil import chain_target, wallet_amounts
    from basis_core.testing.contracts import deploy, load_artifact, transact
    from basis_venue_eigenlayer.testing.deploy import deploy_eigenlayer

    def prepare(node: Any, w3: Any, accounts: list[str]) -> dict[str, Any]:
        deployer, user, other, operator = accounts[0], accounts[1], accounts[6], accounts[5]
        steth = deploy(w3, load_artifact(MINTABLE_ERC20), "Liquid staked Ether 2.0", "stETH", 18, sender=deployer)
        world = deploy_eigenlayer(w3, deployer, {"stETH": steth}, operator, min_withdrawal_delay_blocks=DELAY_BLOCKS)
        strategy = world.strategies["stETH"]
        transact(w3, steth.functions.mint(other, 10**21), deployer)
        transact(w3, steth.functions.approve(world.strategy_manager.address, 7 * 10**18), other)
        transact(w3, world.strategy_manager.functions.depositIntoStrategy(strategy.address, steth.address,
                                                                           7 * 10**18), other)
        transact(w3, steth.functions.transfer(strategy.address, 1_234_567_890_123_456_789), other)
        for sym, amount in wallet_amounts(balances, world.tokens).items():
            transact(w3, world.tokens[sym].functions.mint(user, int(amount.scaleb(18))), deployer)
        return {"deployment_table": world.deployment_table(), "operator": operator}

    return chain_target(prepare)
