"""Deploy Morpho Blue on a local node: ``Morpho.sol`` of npm ``@morpho-org/morpho-blue`` 1.0.0 compiled with solc
0.8.19 (npm alias ``solc-0819``, the version its pragma pins), its ``ERC20Mock`` and ``OracleMock``, and our
``AdaptiveCurveIrm`` (``contracts/AdaptiveCurveIrm.sol``). Compiled once per process (~5 s) and cached on disk
under ``node_modules/.cache/basis-venue-morpho`` keyed by the sources' hash.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from basis_core.testing.anvil import node_modules
from basis_core.testing.contracts import Artifact, deploy, transact

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"
PACKAGE = "@morpho-org/morpho-blue"
_NODE = """
const solc = require(process.argv[1]);
const fs = require('fs'); const path = require('path');
const nm = process.argv[2];
let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const find = (p) => { const f = path.join(nm, p); return fs.existsSync(f) ? {contents: fs.readFileSync(f, 'utf8')}
                                                                             : {error: 'not found: ' + p}; };
  process.stdout.write(solc.compile(input, {import: find}));
});
"""


@lru_cache(maxsize=1)
def compile_morpho() -> dict[str, Artifact]:
    """Morpho, ERC20Mock, OracleMock (npm sources) and our AdaptiveCurveIrm -> name -> Artifact."""
    nm = node_modules()
    src = nm / PACKAGE / "src"
    sources = {f"{PACKAGE}/src/{p}": {"content": (src / p).read_text()}
               for p in ("Morpho.sol", "mocks/ERC20Mock.sol", "mocks/OracleMock.sol")}
    sources["AdaptiveCurveIrm.sol"] = {"content": (CONTRACTS / "AdaptiveCurveIrm.sol").read_text()}
    std = {"language": "Solidity", "sources": sources,
           "settings": {"optimizer": {"enabled": True, "runs": 999999}, "evmVersion": "paris",
                        "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}}}
    text = json.dumps(std, sort_keys=True)
    cache = nm / ".cache" / "basis-venue-morpho" / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.json"
    if cache.exists():
        out = json.loads(cache.read_text())
    else:
        node = shutil.which("node")
        if node is None:
            raise FileNotFoundError("node not found: needed to run solc-js")
        proc = subprocess.run([node, "-e", _NODE, str(nm / "solc-0819"), str(nm)], input=text, capture_output=True,
                              text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"solc-js failed: {proc.stderr.strip()[:2000]}")
        out = json.loads(proc.stdout)
        errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
        if errors:
            raise RuntimeError("\n".join(e.get("formattedMessage", "") for e in errors))
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{id(out)}.tmp")
        tmp.write_text(json.dumps(out))
        tmp.replace(cache)
    arts: dict[str, Artifact] = {}
    for _file, contracts in out["contracts"].items():
        for name, c in contracts.items():
            code = c["evm"]["bytecode"]["object"]
            if code:
                arts[name] = Artifact(name, c["abi"], code, {})
    return arts


@dataclass
class MorphoWorld:
    """A deployed Morpho Blue with one market (loan / collateral ERC20Mocks, OracleMock, our IRM)."""

    w3: Any
    morpho: Any
    irm: Any
    oracle: Any
    loan: Any
    collateral: Any
    lltv: int
    owner: str

    @property
    def params(self) -> tuple[str, str, str, str, int]:
        return (self.loan.address, self.collateral.address, self.oracle.address, self.irm.address, self.lltv)

    @property
    def market_id(self) -> bytes:
        from eth_abi import encode
        from web3 import Web3
        return bytes(Web3.keccak(encode(["address", "address", "address", "address", "uint256"], list(self.params))))


def deploy_morpho_market(w3: Any, owner: str, lltv: int, price: int) -> MorphoWorld:
    """Deploy everything and create the market (LLTV ``lltv`` WAD, oracle ``price`` scaled 1e36)."""
    arts = compile_morpho()
    morpho = deploy(w3, arts["Morpho"], owner, sender=owner)
    irm = deploy(w3, arts["AdaptiveCurveIrm"], morpho.address, sender=owner)
    oracle = deploy(w3, arts["OracleMock"], sender=owner)
    loan = deploy(w3, arts["ERC20Mock"], sender=owner)
    coll = deploy(w3, arts["ERC20Mock"], sender=owner)
    transact(w3, oracle.functions.setPrice(price), owner)
    transact(w3, morpho.functions.enableIrm(irm.address), owner)
    transact(w3, morpho.functions.enableLltv(lltv), owner)
    world = MorphoWorld(w3, morpho, irm, oracle, loan, coll, lltv, owner)
    transact(w3, morpho.functions.createMarket(world.params), owner)
    return world


@dataclass
class MorphoDeployment:
    """Morpho Blue with several markets on ERC20Mock tokens named by symbol, each with its own OracleMock, all on
    our AdaptiveCurveIrm; ``deployment_table()`` is the venue's table for it."""

    w3: Any
    morpho: Any
    irm: Any
    tokens: dict[str, Any]
    decimals: dict[str, int]
    oracles: dict[str, Any]
    params: dict[str, tuple[str, str, str, str, int]]
    owner: str

    def deployment_table(self, accounts: dict[str, str] | None = None) -> dict[str, Any]:
        return {"chain_id": int(self.w3.eth.chain_id),
                "tokens": {s: t.address for s, t in self.tokens.items()}, "decimals": dict(self.decimals),
                "contracts": {"Morpho": self.morpho.address},
                "markets": {alias: {"loan": self.symbol(p[0]), "collateral": self.symbol(p[1]), "oracle": p[2],
                                    "irm": p[3], "lltv": str(p[4])} for alias, p in self.params.items()},
                "accounts": dict(accounts or {})}

    def symbol(self, address: str) -> str:
        return next(s for s, t in self.tokens.items() if t.address == address)

    def set_balance(self, symbol: str, who: str, units: int) -> None:
        transact(self.w3, self.tokens[symbol].functions.setBalance(who, units), self.owner)

    def set_price(self, alias: str, price: int) -> None:
        """The market's oracle price (1e36 scale, loan units per collateral unit)."""
        transact(self.w3, self.oracles[alias].functions.setPrice(price), self.owner)


def deploy_morpho(w3: Any, owner: str, decimals: dict[str, int], markets: list[tuple[str, str, int, int]],
                  tokens: Mapping[str, Any] | None = None) -> MorphoDeployment:
    """Deploy Morpho Blue, one ERC20Mock per symbol of ``decimals`` (``tokens``: existing web3 token contracts to
    use instead, e.g. another protocol's, so one chain holds both; ``set_balance`` needs an ERC20Mock) and, per
    ``(collateral, loan, lltv, price)``, an OracleMock at ``price`` and the market (``lltv`` WAD, ``price`` scaled
    1e36)."""
    from basis_venue_morpho.markets import alias_of

    arts = compile_morpho()
    morpho = deploy(w3, arts["Morpho"], owner, sender=owner)
    irm = deploy(w3, arts["AdaptiveCurveIrm"], morpho.address, sender=owner)
    transact(w3, morpho.functions.enableIrm(irm.address), owner)
    given = dict(tokens or {})
    toks = {s: given[s] if s in given else deploy(w3, arts["ERC20Mock"], sender=owner) for s in decimals}
    oracles: dict[str, Any] = {}
    params: dict[str, tuple[str, str, str, str, int]] = {}
    lltvs: set[int] = set()
    for coll, loan, lltv, price in markets:
        alias = alias_of(coll, loan, lltv)
        oracle = oracles[alias] = deploy(w3, arts["OracleMock"], sender=owner)
        transact(w3, oracle.functions.setPrice(price), owner)
        if lltv not in lltvs:
            transact(w3, morpho.functions.enableLltv(lltv), owner)
            lltvs.add(lltv)
        p = params[alias] = (toks[loan].address, toks[coll].address, oracle.address, irm.address, lltv)
        transact(w3, morpho.functions.createMarket(p), owner)
    return MorphoDeployment(w3, morpho, irm, toks, dict(decimals), oracles, params, owner)
