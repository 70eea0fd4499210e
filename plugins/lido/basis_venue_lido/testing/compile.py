"""Compile our Lido-like Solidity contracts with solc-js from ``node_modules/solc`` (standard JSON).

Runs ``node`` once per process (~1 s) and caches the artifacts; nothing is vendored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from basis_core.testing.anvil import node_modules
from basis_core.testing.contracts import Artifact

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
SOURCES = ("StETH.sol", "WstETH.sol", "WithdrawalQueue.sol")

_NODE_SCRIPT = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => { process.stdout.write(solc.compile(input)); });
"""


class SolcError(RuntimeError):
    """solc reported errors (message holds the formatted diagnostics)."""


@lru_cache(maxsize=2)
def compile_lido_contracts(evm_version: str = "cancun") -> dict[str, Artifact]:
    """Compile ``contracts/*.sol``; return contract name -> :class:`Artifact` (abi, creation bytecode)."""
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node not found: needed to run solc-js")
    solc_dir = node_modules() / "solc"
    if not solc_dir.exists():
        raise FileNotFoundError(f"{solc_dir} not found: run `npm ci`")
    std_input = {
        "language": "Solidity",
        "sources": {name: {"content": (CONTRACTS_DIR / name).read_text()} for name in SOURCES},
        "settings": {
            "optimizer": {"enabled": True, "runs": 200},
            "evmVersion": evm_version,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    proc = subprocess.run([node, "-e", _NODE_SCRIPT, str(solc_dir)], input=json.dumps(std_input),
                          capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise SolcError(f"solc-js failed: {proc.stderr.strip()[:2000]}")
    out = json.loads(proc.stdout)
    errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise SolcError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    arts: dict[str, Artifact] = {}
    for _file, contracts in out["contracts"].items():
        for name, c in contracts.items():
            code = c["evm"]["bytecode"]["object"]
            if code:  # interfaces have no bytecode
                arts[name] = Artifact(name, c["abi"], code, {})
    return arts
