"""Deploy our EigenLayer contracts (EigenLayer's ABI, see each contract's header) on a local node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from basis_core.testing.contracts import wait_receipt
from basis_core.testing.solc import SourceContracts

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
SOURCES = ("StrategyBase.sol", "StrategyManager.sol", "DelegationManager.sol")


CONTRACTS = SourceContracts(CONTRACTS_DIR, SOURCES)
artifacts = CONTRACTS.artifacts  # our compiled contracts by name
_deploy = CONTRACTS.deploy


@dataclass
class EigenWorld:
    """Deployed contracts: ``strategies`` / ``tokens`` by token symbol; ``operator`` is a registered operator."""

    w3: Any
    deployer: str
    strategy_manager: Any
    delegation: Any
    operator: str
    strategies: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, Any] = field(default_factory=dict)

    def deployment_table(self) -> dict[str, Any]:
        """The venue's deployment table."""
        return {"contracts": {"StrategyManager": self.strategy_manager.address,
                              "DelegationManager": self.delegation.address},
                "strategies": {sym: {"token": self.tokens[sym].address, "strategy": s.address}
                               for sym, s in self.strategies.items()}}

    def mine(self, blocks: int) -> None:
        """Mine ``blocks`` empty blocks."""
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])


def deploy_eigenlayer(w3: Any, deployer: str, tokens: Mapping[str, Any], operator: str,
                      min_withdrawal_delay_blocks: int = 10) -> EigenWorld:
    """Deploy the managers and one whitelisted StrategyBase per token (``{symbol: ERC20 contract}``); register
    ``operator`` (an unlocked account) as an operator without a delegation approver."""
    sm = _deploy(w3, "StrategyManager", sender=deployer)
    dm = _deploy(w3, "DelegationManager", sm.address, min_withdrawal_delay_blocks, sender=deployer)
    wait_receipt(w3, sm.functions.initialize(dm.address).transact({"from": deployer}))
    strategies = {sym: _deploy(w3, "StrategyBase", sm.address, tok.address, sender=deployer)
                  for sym, tok in tokens.items()}
    wait_receipt(w3, sm.functions.addStrategiesToDepositWhitelist([s.address for s in strategies.values()]).transact(
        {"from": deployer}))
    wait_receipt(w3, dm.functions.registerAsOperator("0x" + "00" * 20, 0, "https://operator.example/meta.json")
                 .transact({"from": operator}))
    return EigenWorld(w3, deployer, sm, dm, operator, strategies, dict(tokens))
