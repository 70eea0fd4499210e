"""Deploy our EtherFi contracts (EtherFi's ABI, see each contract's header) on a local node."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basis_core.testing.contracts import wait_receipt
from basis_core.testing.solc import SourceContracts

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
SOURCES = ("LiquidityPool.sol", "EETH.sol", "WeETH.sol", "WithdrawRequestNFT.sol")
BOOTSTRAP_WEI = 10**18  # ETH deposited by the deployer first, so the pool is never empty


CONTRACTS = SourceContracts(CONTRACTS_DIR, SOURCES)
artifacts = CONTRACTS.artifacts  # our compiled contracts by name
_deploy = CONTRACTS.deploy


@dataclass
class EtherFiWorld:
    """Deployed contracts; ``deployer`` owns the pool (test oracle: ``rebase``) and the queue (finalizer)."""

    w3: Any
    deployer: str
    pool: Any
    eeth: Any
    weeth: Any
    nft: Any

    def deployment_table(self) -> dict[str, str]:
        """Contract name -> address (the venue's flat deployment table)."""
        return {"LiquidityPool": self.pool.address, "eETH": self.eeth.address, "weETH": self.weeth.address,
                "WithdrawRequestNFT": self.nft.address}

    def pooled_and_shares(self) -> tuple[int, int]:
        """(getTotalPooledEther, eETH.totalShares)."""
        return int(self.pool.functions.getTotalPooledEther().call()), int(self.eeth.functions.totalShares().call())

    def rebase(self, wei: int) -> None:
        """Add ``wei`` (negative: a loss) of rewards to the pool (the owner's test oracle)."""
        wait_receipt(self.w3, self.pool.functions.rebase(wei, 0).transact({"from": self.deployer}))

    def finalize(self, request_id: int) -> None:
        """Finalize requests up to ``request_id`` (reverts TooEarlyToFinalize before the queue delay)."""
        wait_receipt(self.w3, self.nft.functions.finalizeRequests(request_id).transact({"from": self.deployer}))


def deploy_etherfi(w3: Any, deployer: str, finalization_delay: int = 0,
                   bootstrap_wei: int = BOOTSTRAP_WEI) -> EtherFiWorld:
    """Deploy the pool, eETH, weETH and the withdraw-request NFT (``finalization_delay`` seconds), wire them and
    deposit ``bootstrap_wei`` for the deployer."""
    pool = _deploy(w3, "LiquidityPool", sender=deployer)
    eeth = _deploy(w3, "EETH", pool.address, sender=deployer)
    weeth = _deploy(w3, "WeETH", pool.address, eeth.address, sender=deployer)
    nft = _deploy(w3, "WithdrawRequestNFT", pool.address, finalization_delay, sender=deployer)
    wait_receipt(w3, pool.functions.initialize(eeth.address, nft.address).transact({"from": deployer}))
    if bootstrap_wei:
        wait_receipt(w3, pool.functions.deposit().transact({"from": deployer, "value": bootstrap_wei}))
    return EtherFiWorld(w3, deployer, pool, eeth, weeth, nft)
