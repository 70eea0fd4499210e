"""The conformance kit's live target for the Morpho venue: the real Morpho Blue (npm ``@morpho-org/morpho-blue``
1.0.0) on a fresh anvil node on 127.0.0.1, with the venue's default markets on ERC20Mock tokens (wstETH, WETH,
USDC), oracles at 1.3 WETH and 3600 USDC per wstETH, lenders' liquidity, and borrower ``bob`` made unhealthy
in ``wstETH/WETH-94.5`` (10 wstETH against 12 WETH once the oracle drops to 1.19), as the backtest's
``conformance_settings`` has him. The venue's account (anvil key 1) holds ``balances`` and owns a fresh
MorphoBundleExecutor (option ``executor``) for atomic bundles.

The seeded chain is built once (~25 transactions) and kept as an anvil state dump (``anvil_dumpState``) next to
the compile cache, keyed by the compiled artifacts; later targets load it (``anvil_loadState``) in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

E18 = 10**18
WSTETH_WETH = 13 * 10**35          # 1.3 WETH per wstETH (1e36 scale)
WSTETH_WETH_AFTER = 119 * 10**34   # 1.19: bob's 12 WETH on 10 wstETH is then liquidatable
WSTETH_USDC = 3600 * 10**24        # 3600 USDC (6 decimals) per wstETH (18): 3600e36 x 1e6 / 1e18
DECIMALS = {"WETH": 18, "wstETH": 18, "USDC": 6}
MARKETS = [("wstETH", "WETH", 945 * 10**15, WSTETH_WETH), ("wstETH", "USDC", 86 * 10**16, WSTETH_USDC)]


def seed_world(w3: Any, owner: str, lender: str, bob: str) -> Any:
    """Deploy the markets, lend 1000 WETH and 10 M USDC, open bob's position and drop the oracle under it."""
    from basis_core.testing.contracts import transact
    from basis_venue_morpho.testing.deploy import deploy_morpho

    world = deploy_morpho(w3, owner, DECIMALS, MARKETS)
    f = world.morpho.functions
    for sym, amount in (("WETH", 1000 * E18), ("USDC", 10_000_000 * 10**6)):
        world.set_balance(sym, lender, amount)
        transact(w3, world.tokens[sym].functions.approve(world.morpho.address, 2**256 - 1), lender)
    transact(w3, f.supply(world.params["wstETH/WETH-94.5"], 1000 * E18, 0, lender, b""), lender)
    transact(w3, f.supply(world.params["wstETH/USDC-86"], 10_000_000 * 10**6, 0, lender, b""), lender)
    world.set_balance("wstETH", bob, 10 * E18)
    transact(w3, world.tokens["wstETH"].functions.approve(world.morpho.address, 2**256 - 1), bob)
    p = world.params["wstETH/WETH-94.5"]
    transact(w3, f.supplyCollateral(p, 10 * E18, bob, b""), bob)
    transact(w3, f.borrow(p, 12 * E18, 0, bob, bob), bob)
    world.set_price("wstETH/WETH-94.5", WSTETH_WETH_AFTER)
    return world


def fund(world: Any, who: str, balances: Mapping[str, Any]) -> None:
    """Give ``who`` the ``ethereum:wallet:<TOKEN>`` balances of the world's tokens (ETH comes with anvil)."""
    from basis_core.testing.anvil import wallet_amounts

    for sym, amount in wallet_amounts(balances, world.tokens).items():
        world.set_balance(sym, who, int(amount.scaleb(world.decimals[sym])))


def deploy_executor(w3: Any, table: Mapping[str, Any], owner: str) -> str:
    """Our MorphoBundleExecutor (the shipped artifact) on the table's Morpho, owned by ``owner``; its address."""
    from basis_core.testing.contracts import Artifact, deploy
    from basis_venue_morpho.executor import CONTRACT, executor_artifact

    art = executor_artifact()
    return str(deploy(w3, Artifact(CONTRACT, art.abi, art.bytecode, {}), table["contracts"]["Morpho"],
                      sender=owner).address)


def _cache_file() -> Path:
    from basis_core.testing.anvil import node_modules
    from basis_venue_morpho.testing.deploy import compile_morpho

    arts = compile_morpho()
    key = hashlib.sha256(json.dumps([[n, arts[n].bytecode] for n in sorted(arts)] + [MARKETS, DECIMALS],
                                    default=str).encode() + Path(__file__).read_bytes()).hexdigest()[:24]
    return node_modules() / ".cache" / "basis-venue-morpho" / f"live-target-{key}.json"


def live_target(balances: Mapping[str, Any]) -> AbstractContextManager[dict[str, Any]]:
    """Start anvil, deploy and seed (or load the cached seeded state), fund the account; yield the venue settings;
    stop the node."""
    from basis_core.testing.anvil import chain_target
    from basis_venue_morpho.testing.deploy import MorphoDeployment, compile_morpho

    def prepare(node: Any, w3: Any, accounts: list[str]) -> dict[str, Any]:
        owner, user, lender, bob = accounts[:4]
        cache = _cache_file()
        if cache.exists():
            saved = json.loads(cache.read_text())
            node.rpc("anvil_loadState", [saved["state"]])
            arts = compile_morpho()
            table = saved["table"]
            tokens = {s: w3.eth.contract(address=a, abi=arts["ERC20Mock"].abi) for s, a in table["tokens"].items()}
            world: Any = MorphoDeployment(w3, None, None, tokens, dict(DECIMALS), {}, {}, owner)
        else:
            world = seed_world(w3, owner, lender, bob)
            table = world.deployment_table({"bob": bob})
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{id(world)}.tmp")
            tmp.write_text(json.dumps({"state": node.rpc("anvil_dumpState"), "table": table}))
            tmp.replace(cache)
        fund(world, user, balances)
        return {"deployment_table": table, "executor": deploy_executor(w3, table, user)}

    return chain_target(prepare)
