"""Compile a plugin's own Solidity sources with solc-js from ``node_modules`` (standard JSON), for tests.

A venue whose protocol ships no deployable artifact writes a small contract of its own speaking the real ABI
and compiles it here: one ``node`` process per new input (~1-5 s), artifacts cached in the process and on disk under
``node_modules/.cache/basis-solc`` keyed by the hash of the standard-JSON input and the solc package's version (a
changed source compiles again). Nothing is vendored; ``npm ci`` provides ``solc`` (the version of the project's
package.json, or another package directory given as ``solc_package``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from basis_core.testing.anvil import node_modules
from basis_core.testing.contracts import Artifact

_NODE_SCRIPT = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => { process.stdout.write(solc.compile(input)); });
"""


class SolcError(RuntimeError):
    """solc reported errors (the message holds the formatted diagnostics), or solc-js could not run."""


def compile_solidity(contracts_dir: str | Path, sources: Sequence[str], *, evm_version: str = "cancun",
                     optimizer_runs: int = 200, solc_package: str = "solc") -> dict[str, Artifact]:
    """Compile ``sources`` (file names under ``contracts_dir``); contract name -> :class:`Artifact` (ABI and
    creation bytecode; interfaces, which have no bytecode, are left out). Raises :class:`SolcError`."""
    return dict(_compile(str(Path(contracts_dir).resolve()), tuple(sources), evm_version, optimizer_runs,
                         solc_package))


@lru_cache(maxsize=16)
def _compile(contracts_dir: str, sources: tuple[str, ...], evm_version: str, optimizer_runs: int,
             solc_package: str) -> dict[str, Artifact]:
    node = shutil.which("node")
    if node is None:
        raise SolcError("node not found: needed to run solc-js")
    solc_dir = node_modules() / solc_package
    if not solc_dir.exists():
        raise SolcError(f"{solc_dir} not found: run `npm ci`")
    base = Path(contracts_dir)
    std_input = {
        "language": "Solidity",
        "sources": {name: {"content": (base / name).read_text()} for name in sources},
        "settings": {
            "optimizer": {"enabled": True, "runs": optimizer_runs},
            "evmVersion": evm_version,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    text = json.dumps(std_input, sort_keys=True)
    version = json.loads((solc_dir / "package.json").read_text()).get("version", "")
    cache = node_modules() / ".cache" / "basis-solc" / (
        hashlib.sha256(f"{version}\n{text}".encode()).hexdigest()[:32] + ".json")
    if cache.exists():
        compiled = json.loads(cache.read_text())
    else:
        proc = subprocess.run([node, "-e", _NODE_SCRIPT, str(solc_dir)], input=text,
                              capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise SolcError(f"solc-js failed: {proc.stderr.strip()[:2000]}")
        out = json.loads(proc.stdout)
        errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
        if errors:
            raise SolcError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
        compiled = {name: {"abi": c["abi"], "bytecode": c["evm"]["bytecode"]["object"]}
                    for contracts in out["contracts"].values() for name, c in contracts.items()
                    if c["evm"]["bytecode"]["object"]}  # interfaces have no bytecode
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(compiled))
        os.replace(tmp, cache)  # atomic: a concurrent reader sees the whole file or none
    return {name: Artifact(name, c["abi"], c["bytecode"], {}) for name, c in compiled.items()}


class SourceContracts:
    """A distribution's own Solidity contracts: ``sources`` (file names) under ``contracts_dir``, compiled on first
    use (cached), deployed by contract name."""

    def __init__(self, contracts_dir: str | Path, sources: Sequence[str], evm_version: str = "cancun") -> None:
        self.contracts_dir = Path(contracts_dir)
        self.sources = tuple(sources)
        self.evm_version = evm_version

    def artifacts(self) -> dict[str, Artifact]:
        """Contract name -> :class:`Artifact` (ABI, creation bytecode); SolcError when they do not compile."""
        return compile_solidity(self.contracts_dir, self.sources, evm_version=self.evm_version)

    def deploy(self, w3: Any, name: str, *args: Any, sender: str, value: int = 0) -> Any:
        """Deploy contract ``name`` with constructor ``args`` from ``sender`` (sending ``value`` wei); the web3
        contract at its address."""
        from basis_core.testing.contracts import deploy

        return deploy(w3, self.artifacts()[name], *args, sender=sender, value=value)


__all__ = ["SolcError", "SourceContracts", "compile_solidity"]
