"""Compile our Lido-like Solidity contracts with solc-js from ``node_modules/solc`` (standard JSON), through the
core's :func:`basis_core.testing.solc.compile_solidity` (cached in the process and on disk; nothing is vendored)."""

from __future__ import annotations

from pathlib import Path

from basis_core.testing.contracts import Artifact
from basis_core.testing.solc import SolcError, SourceContracts, compile_solidity

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
SOURCES = ("StETH.sol", "WstETH.sol", "WithdrawalQueue.sol")
CONTRACTS = SourceContracts(CONTRACTS_DIR, SOURCES)


def compile_lido_contracts(evm_version: str = "cancun") -> dict[str, Artifact]:
    """Compile ``contracts/*.sol``; return contract name -> :class:`Artifact` (abi, creation bytecode)."""
    return compile_solidity(CONTRACTS_DIR, SOURCES, evm_version=evm_version)


__all__ = ["CONTRACTS", "SolcError", "compile_lido_contracts"]
