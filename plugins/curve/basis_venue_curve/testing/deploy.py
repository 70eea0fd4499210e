"""Compile ``contracts/StableSwap.vy`` (vyper, at run time) and deploy test pools on a local node.

``deploy_curve_pools`` deploys USDC (6 dec), USDT (6 dec), DAI (18 dec) test tokens (Aave's
``MintableERC20`` mock from npm) unless given, a 2-coin USDC/USDT pool ("2pool") and a 3-coin
DAI/USDC/USDT pool ("3pool"), and seeds both with balanced liquidity from the deployer.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from basis_core.testing.contracts import Artifact, deploy, load_artifact, transact
from basis_venue_curve.stableswap_math import StableSwapPool

CONTRACT = Path(__file__).resolve().parent.parent / "contracts" / "StableSwap.vy"
N_COINS_LINE = "N_COINS: constant(uint256) = 2  # @N_COINS@"
MINTABLE_ERC20 = "@aave/core-v3/artifacts/contracts/mocks/tokens/MintableERC20.sol/MintableERC20.json"

# name -> (coin symbols, A, fee, admin_fee); fees on a 1e10 denominator
DEFAULT_POOLS: dict[str, tuple[tuple[str, ...], int, int, int]] = {
    "2pool": (("USDC", "USDT"), 200, 4_000_000, 5_000_000_000),
    "3pool": (("DAI", "USDC", "USDT"), 2000, 1_000_000, 5_000_000_000),
}
TOKEN_DECIMALS = {"USDC": 6, "USDT": 6, "DAI": 18}
SEED_TOKENS = 1_000_000  # whole tokens of each coin put into each pool at deployment


@dataclass(frozen=True)
class CompiledPool:
    """Compiled StableSwap for ``n_coins``: artifact plus the storage slot of each state variable."""

    n_coins: int
    artifact: Artifact
    slots: dict[str, int]


@lru_cache(maxsize=4)
def compile_stableswap(n_coins: int) -> CompiledPool:
    """Compile the pool template for 2 or 3 coins (vyper 0.4.3, ~1.7 s; cached per process, and on disk under
    ``node_modules/.cache/basis-venue-curve`` keyed by the source and vyper's version).

    Importing vyper installs its own 78-digit Decimal context in the importing thread (``vyper.utils``); the import
    and the compilation run inside a local context of vyper's precision, so the caller's context is as it was.
    """
    if n_coins not in (2, 3, 4):
        raise ValueError("n_coins must be 2, 3 or 4")
    with decimal.localcontext(prec=78):
        return _compile(n_coins)


def _compile(n_coins: int) -> CompiledPool:
    from importlib.metadata import version

    from basis_core.testing.anvil import node_modules

    src = CONTRACT.read_text()
    if N_COINS_LINE not in src:
        raise RuntimeError("StableSwap.vy template marker missing")
    src = src.replace(N_COINS_LINE, f"N_COINS: constant(uint256) = {n_coins}")
    key = hashlib.sha256(f"{version('vyper')}\n{src}".encode()).hexdigest()[:32]
    cache = node_modules() / ".cache" / "basis-venue-curve" / f"stableswap-{key}.json"
    if cache.exists():
        saved = json.loads(cache.read_text())
    else:
        from vyper.compiler import compile_code

        out = compile_code(src, output_formats=["abi", "bytecode", "layout"])
        code = out["bytecode"]
        saved = {"abi": out["abi"], "bytecode": code[2:] if code.startswith("0x") else code,
                 "slots": {k: int(v["slot"]) for k, v in out["layout"]["storage_layout"].items()}}
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(saved))
        os.replace(tmp, cache)  # atomic: a concurrent reader sees the whole file or none
    art = Artifact(f"StableSwap{n_coins}", saved["abi"], saved["bytecode"], {})
    return CompiledPool(n_coins, art, {k: int(v) for k, v in saved["slots"].items()})


def deploy_token(w3: Any, deployer: str, symbol: str, decimals: int) -> Any:
    """Deploy a MintableERC20 (anyone may ``mint(address,uint256)``) with ``symbol`` and ``decimals``."""
    return deploy(w3, load_artifact(MINTABLE_ERC20), symbol, symbol, decimals, sender=deployer)


def mint(w3: Any, token: Any, to: str, amount: int, sender: str | None = None) -> None:
    """Mint ``amount`` base units of a MintableERC20 to ``to``."""
    transact(w3, token.get_function_by_signature("mint(address,uint256)")(to, amount), sender=sender or to)


def deploy_pool(w3: Any, deployer: str, coins: Sequence[Any], A: int, fee: int, admin_fee: int,
                name: str = "Test StableSwap LP", symbol: str = "tsLP") -> Any:
    """Deploy one StableSwap pool over ``coins`` (web3 token contracts); returns the pool contract."""
    compiled = compile_stableswap(len(coins))
    return deploy(w3, compiled.artifact, [c.address for c in coins], A, fee, admin_fee, name, symbol,
                  sender=deployer)


def pool_state(pool: Any, decimals: Sequence[int]) -> StableSwapPool:
    """Read a deployed pool's state (balances, A, fees, LP supply) into a :class:`StableSwapPool`."""
    n = len(decimals)
    return StableSwapPool.from_decimals(
        [pool.functions.balances(i).call() for i in range(n)], decimals,
        pool.functions.A().call(), pool.functions.fee().call(), pool.functions.admin_fee().call(),
        pool.functions.totalSupply().call(),
    )


def write_pool_state(w3: Any, pool: Any, balances: Sequence[int], lp_supply: int,
                     fee: int | None = None, admin_fee: int | None = None, A: int | None = None) -> None:
    """Test-only: overwrite a pool's stored balances / supply / fees with ``anvil_setStorageAt``.

    Only the pool's bookkeeping changes (not its token holdings): enough for view functions.
    """
    compiled = compile_stableswap(len(balances))
    s = compiled.slots
    writes = [(s["balances"] + k, b) for k, b in enumerate(balances)] + [(s["totalSupply"], lp_supply)]
    if fee is not None:
        writes.append((s["fee"], fee))
    if admin_fee is not None:
        writes.append((s["admin_fee"], admin_fee))
    if A is not None:
        writes.append((s["initial_A"], A * 100))
    for slot, value in writes:
        resp = w3.provider.make_request(
            "anvil_setStorageAt", [pool.address, hex(slot), "0x" + value.to_bytes(32, "big").hex()])
        if "error" in resp:
            raise RuntimeError(f"anvil_setStorageAt: {resp['error']}")


@dataclass
class CurveWorld:
    """Deployed test tokens and pools. ``tokens``: symbol -> contract; ``pools``: name -> contract."""

    w3: Any
    deployer: str
    tokens: dict[str, Any]
    pools: dict[str, Any]
    pool_coins: dict[str, tuple[str, ...]] = field(default_factory=dict)
    token_decimals: dict[str, int] = field(default_factory=dict)

    def deployment_table(self) -> dict[str, str]:
        """Token symbol -> address and pool name -> address."""
        table = {sym: t.address for sym, t in self.tokens.items()}
        table.update({name: p.address for name, p in self.pools.items()})
        return table

    def decimals(self, pool_name: str) -> tuple[int, ...]:
        return tuple(self.token_decimals[s] for s in self.pool_coins[pool_name])

    def pool_state(self, pool_name: str) -> StableSwapPool:
        """Current on-chain state of ``pool_name`` as a :class:`StableSwapPool`."""
        return pool_state(self.pools[pool_name], self.decimals(pool_name))

    def fund(self, account: str, whole_tokens: int = 10**9, spenders: Sequence[str] = ()) -> None:
        """Mint ``whole_tokens`` of every token to ``account`` and approve ``spenders`` (max)."""
        for sym, tok in self.tokens.items():
            mint(self.w3, tok, account, whole_tokens * 10 ** self.token_decimals[sym])
            for sp in spenders:
                transact(self.w3, tok.functions.approve(sp, 2**256 - 1), sender=account)


def deploy_curve_pools(w3: Any, deployer: str, tokens: Mapping[str, Any] | None = None,
                       pools: Mapping[str, tuple[tuple[str, ...], int, int, int]] | None = None,
                       seed_tokens: int = SEED_TOKENS) -> CurveWorld:
    """Deploy tokens (unless given: symbol -> contract, with USDC / USDT / DAI) and the test pools.

    Each pool is seeded with ``seed_tokens`` whole tokens of each coin from ``deployer``.
    """
    toks = dict(tokens) if tokens is not None else {
        sym: deploy_token(w3, deployer, sym, dec) for sym, dec in TOKEN_DECIMALS.items()}
    specs = dict(pools) if pools is not None else DEFAULT_POOLS
    world = CurveWorld(w3, deployer, toks, {}, {},
                       {sym: int(t.functions.decimals().call()) for sym, t in toks.items()})
    for name, (syms, A, fee, admin_fee) in specs.items():
        pool = deploy_pool(w3, deployer, [toks[s] for s in syms], A, fee, admin_fee,
                           f"Curve test {name}", name)
        world.pools[name] = pool
        world.pool_coins[name] = tuple(syms)
        if seed_tokens:
            amounts = [seed_tokens * 10 ** world.token_decimals[s] for s in syms]
            for s, amt in zip(syms, amounts, strict=True):
                mint(w3, toks[s], deployer, amt)
                transact(w3, toks[s].functions.approve(pool.address, amt), sender=deployer)
            transact(w3, pool.functions.add_liquidity(amounts, 0), sender=deployer)
    return world
