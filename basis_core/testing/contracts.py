"""Deploy contracts from published npm artifacts (Hardhat / Truffle / solc-json) onto a local node.

Test support only: reads ABI and bytecode from ``node_modules``, links libraries at their
``linkReferences`` offsets, deploys with a funded dev account, waits with a fast receipt poll; and reads
what a live venue test compares its deltas with (wallet balances under instrument keys, their changes,
gas paid, nothing left pending).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from basis_core.testing.anvil import node_modules


@dataclass(frozen=True)
class Artifact:
    """A contract's ABI, creation bytecode (hex, no 0x) and library link references."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    link_references: dict[str, dict[str, list[dict[str, int]]]]


def load_artifact(relpath: str, root: Path | None = None) -> Artifact:
    """Load an artifact JSON under ``node_modules`` (Hardhat ``bytecode`` or solc ``evm.bytecode``)."""
    path = (root or node_modules()) / relpath
    data = json.loads(path.read_text())
    if isinstance(data.get("bytecode"), str):
        code = data["bytecode"]
        links = data.get("linkReferences", {})
    else:
        code = data["evm"]["bytecode"]["object"]
        links = data["evm"]["bytecode"].get("linkReferences", {})
    code = code[2:] if code.startswith("0x") else code
    return Artifact(data.get("contractName", path.stem), data["abi"], code, links)


def link(artifact: Artifact, libraries: dict[str, str]) -> str:
    """Return the bytecode with each library's address written at its link offsets."""
    code = artifact.bytecode
    for _file, libs in artifact.link_references.items():
        for lib, refs in libs.items():
            if lib not in libraries:
                raise KeyError(f"{artifact.name} needs library {lib}")
            addr = libraries[lib].lower().removeprefix("0x")
            for ref in refs:
                start = ref["start"] * 2
                code = code[:start] + addr + code[start + ref["length"] * 2 :]
    return code


def wait_receipt(w3: Any, tx_hash: Any, poll: float = 0.005, timeout: float = 30.0) -> Any:
    """Wait for a receipt with a fast poll; raise if the transaction reverted."""
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=poll)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {tx_hash.hex() if hasattr(tx_hash, 'hex') else tx_hash} reverted")
    return receipt


def deploy(w3: Any, artifact: Artifact, *args: Any, sender: str | None = None,
           libraries: dict[str, str] | None = None, gas: int | None = None, value: int = 0) -> Any:
    """Deploy ``artifact`` with constructor ``args`` (sending ``value`` wei to a payable constructor); return a web3
    contract at the new address."""
    code = link(artifact, libraries or {}) if artifact.link_references else artifact.bytecode
    factory = w3.eth.contract(abi=artifact.abi, bytecode="0x" + code)
    tx: dict[str, Any] = {"from": sender or w3.eth.accounts[0]}
    if gas:
        tx["gas"] = gas
    if value:
        tx["value"] = value
    receipt = wait_receipt(w3, factory.constructor(*args).transact(tx))
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


def transact(w3: Any, fn: Any, sender: str | None = None, **tx: Any) -> Any:
    """Send a contract call from an unlocked dev account and wait for its receipt."""
    tx.setdefault("from", sender or w3.eth.accounts[0])
    return wait_receipt(w3, fn.transact(tx))


# -- comparing a venue's deltas with the chain ---------------------------------------------------------
def wallet_balances(w3: Any, address: str, tokens: Mapping[str, tuple[Any, int]],
                    lp_tokens: Mapping[str, Any] | None = None, lp_decimals: int = 18) -> dict[str, Decimal]:
    """The account's on-chain holdings under the instrument keys a venue's deltas use: ``tokens`` maps a
    symbol to (ERC20 contract, decimals) -> ``ethereum:wallet:<symbol>``; native ETH ->
    ``ethereum:wallet:ETH``; ``lp_tokens`` maps an instrument key to its LP token contract."""
    out = {f"ethereum:wallet:{sym}": Decimal(c.functions.balanceOf(address).call()) / 10**dec
           for sym, (c, dec) in tokens.items()}
    out["ethereum:wallet:ETH"] = Decimal(w3.eth.get_balance(address)) / 10**18
    for key, c in (lp_tokens or {}).items():
        out[key] = Decimal(c.functions.balanceOf(address).call()) / 10**lp_decimals
    return out


def balance_changes(before: Mapping[str, Decimal], after: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The keys whose balance changed, with the change (what a venue's ``positions`` must equal)."""
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


def gas_paid_wei(w3: Any, tx_hashes: Iterable[Any]) -> int:
    """Wei the transactions paid for gas (``gasUsed x effectiveGasPrice`` of their receipts)."""
    total = 0
    for h in tx_hashes:
        r = w3.eth.get_transaction_receipt(h)
        total += int(r["gasUsed"]) * int(r["effectiveGasPrice"])
    return total


def nothing_pending(w3: Any, address: str) -> bool:
    """True when the account has no transaction waiting in the node's pool (no nonce used but unmined)."""
    return int(w3.eth.get_transaction_count(address, "pending")) == int(w3.eth.get_transaction_count(address, "latest"))
