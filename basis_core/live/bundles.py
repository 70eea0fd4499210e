"""Steps of one venue run inside another venue's atomic executor: the public surface between them.

An executor venue (e.g. Aave's flash-loan executor contract) runs its own steps natively; for a step of another
venue (a Uniswap or Curve swap) it asks the core, through ``VenueContext.encode_call(timestamp, step,
recipient)``, which calls the ``encode_call`` hook of the step's venue. That venue answers with an
:class:`EncodedCall`: the contract call that performs the step for an executor contract at ``recipient`` (which
holds the input and receives the output). No plugin imports another; the core names neither.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["ZERO_ADDRESS", "EncodedCall", "ExecutorArtifact", "ExecutorOp"]

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True, slots=True)
class ExecutorOp:
    """One op of an executor contract: ``kind`` (the contract's own op codes), ``asset`` (token address),
    ``amount`` (base units), ``aux`` (an address the op needs) and ``data`` (calldata of a CALL op)."""

    kind: int
    asset: str
    amount: int
    aux: str = ZERO_ADDRESS
    data: bytes = b""

    def as_tuple(self) -> tuple[int, str, int, str, bytes]:
        return (self.kind, self.asset, self.amount, self.aux, self.data)


@dataclass(frozen=True)
class ExecutorArtifact:
    """ABI and creation bytecode (hex, no 0x) of an executor contract a distribution ships as package data
    (``<package>/contracts/<name>.json``), so live mode needs no compiler."""

    abi: list[dict[str, Any]]
    bytecode: str

    @staticmethod
    def path(package: str, name: str) -> Path:
        """Where ``package`` ships the artifact of contract ``name``."""
        return Path(str(resources.files(package).joinpath("contracts"))) / f"{name}.json"

    @classmethod
    def shipped(cls, package: str, name: str) -> ExecutorArtifact:
        """The artifact of contract ``name`` shipped by ``package``."""
        data = json.loads(cls.path(package, name).read_text())
        return cls(data["abi"], data["bytecode"])

    def write(self, target: Path, name: str) -> Path:
        """Write this artifact as contract ``name`` to ``target`` (maintainers, after changing the source)."""
        target.write_text(json.dumps({"contractName": name, "abi": self.abi, "bytecode": self.bytecode},
                                     indent=1) + "\n")
        return target

    def deploy(self, client: Any, name: str, *args: Any) -> str:
        """Deploy it from ``client``'s account (an EvmClient) with constructor ``args``; returns its address."""
        contract = client.w3.eth.contract(abi=self.abi, bytecode="0x" + self.bytecode)
        receipt = client.send({"data": contract.constructor(*args).data_in_transaction})
        if not receipt.contract_address:
            raise RuntimeError(f"{name} deployment returned no contract address")
        return str(receipt.contract_address)


@dataclass(frozen=True)
class EncodedCall:
    """One contract call performing a step, for an executor contract.

    ``target``: the contract to call (also the spender of the input); ``data``: the calldata; ``token_in`` /
    ``amount_in``: the ERC20 and base units the executor must hold and approve to ``target`` before the call
    (amount 0: none); ``token_out``: the ERC20 the call pays to the executor (``recipient``); ``min_out``: the
    minimum output the call enforces on chain; ``symbol_in`` / ``symbol_out`` and ``decimals_in`` /
    ``decimals_out``: the tokens' symbols and decimals (for the deltas).
    """

    target: str
    data: bytes
    token_in: str
    amount_in: int
    token_out: str
    min_out: int
    symbol_in: str
    symbol_out: str
    decimals_in: int
    decimals_out: int
