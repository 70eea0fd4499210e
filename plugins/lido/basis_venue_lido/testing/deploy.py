"""Deploy our stETH, wstETH and withdrawal queue (Lido's ABI) on a local node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from basis_core.testing.contracts import wait_receipt
from basis_venue_lido.rates import StEthState
from basis_venue_lido.testing.compile import CONTRACTS

BOOTSTRAP_WEI = 10**18  # ETH staked for the dead holder at deployment (Lido's bootstrap)


_deploy = CONTRACTS.deploy


@dataclass
class LidoWorld:
    """Deployed contracts; ``deployer`` owns stETH (test oracle) and the queue (finalizer)."""

    w3: Any
    deployer: str
    steth: Any
    wsteth: Any
    queue: Any

    def deployment_table(self) -> dict[str, str]:
        """Contract name -> address."""
        return {"stETH": self.steth.address, "wstETH": self.wsteth.address,
                "WithdrawalQueue": self.queue.address}

    def state(self) -> StEthState:
        """Current pooled ether and total shares."""
        f = self.steth.functions
        return StEthState(f.getTotalPooledEther().call(), f.getTotalShares().call())


def deploy_lido(w3: Any, deployer: str, bootstrap_wei: int = BOOTSTRAP_WEI) -> LidoWorld:
    """Deploy StETH (bootstrapped with ``bootstrap_wei``), WstETH and WithdrawalQueue; wire them."""
    steth = _deploy(w3, "StETH", sender=deployer, value=bootstrap_wei)
    wsteth = _deploy(w3, "WstETH", steth.address, sender=deployer)
    queue = _deploy(w3, "WithdrawalQueue", steth.address, wsteth.address, sender=deployer)
    wait_receipt(w3, steth.functions.setWithdrawalQueue(queue.address).transact({"from": deployer}))
    return LidoWorld(w3, deployer, steth, wsteth, queue)
