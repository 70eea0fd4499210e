"""Deploy the real Uniswap v2 / v3 contracts from their npm artifacts onto a local anvil node.

Test support only. Everything comes from ``node_modules`` (no vendored bytecode):
- ``@uniswap/v2-periphery`` WETH9, ``@uniswap/v2-core`` UniswapV2Factory, ``@uniswap/v2-periphery``
  UniswapV2Router02;
- ``@uniswap/v3-core`` UniswapV3Factory, ``@uniswap/v3-periphery`` SwapRouter, NonfungiblePositionManager
  (token descriptor = zero address, so no linked library is needed) and QuoterV2;
- test tokens: ``@aave/core-v3`` MintableERC20 ``(name, symbol, decimals)`` for USDC (6 decimals) and
  DAI (18 decimals), because the v2-core test ERC20 has fixed 18 decimals.

Pools: v2 pairs WETH/USDC and WETH/DAI; v3 WETH/USDC at fee 500 and 3000, each with several
overlapping and one-sided positions so that swaps of a few WETH cross initialised ticks.
Prices: 1 WETH = 2000 USDC = 2000 DAI.

web3 is imported lazily (inside :func:`deploy_uniswap`), never at module import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from basis_core.testing.contracts import deploy, load_artifact, transact
from basis_venue_uniswap.v3_math import FEE_TIERS, V3Pool, encode_price_sqrt

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
DEADLINE = 2**32 - 1
MAX_UINT256 = 2**256 - 1

ARTIFACTS = {
    "WETH9": "@uniswap/v2-periphery/build/WETH9.json",
    "MintableERC20": "@aave/core-v3/artifacts/contracts/mocks/tokens/MintableERC20.sol/MintableERC20.json",
    "UniswapV2Factory": "@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "UniswapV3Factory": "@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": "@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json",
    "SwapRouter": "@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
    "NonfungiblePositionManager": (
        "@uniswap/v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    ),
    "QuoterV2": "@uniswap/v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json",
}

ETH_PRICE = 2000  # USDC (and DAI) per WETH in the deployed pools
TOKEN_DECIMALS = {"WETH": 18, "USDC": 6, "DAI": 18}

# v2 pair funding: (symbol A, symbol B, amount A, amount B) in whole tokens
V2_PAIRS = (("WETH", "USDC", 100, 100 * ETH_PRICE), ("WETH", "DAI", 100, 100 * ETH_PRICE))
# v3 positions per fee tier: (lower, upper) tick offsets from the initial tick, in tick-spacing units
# (rounded outwards), and the WETH amount desired (the USDC side follows the price).
V3_RANGES: dict[int, tuple[tuple[int, int, int], ...]] = {
    500: ((-600, 600, 20), (-120, 100, 10), (-40, 30, 6), (-12, 9, 4), (-5, 3, 2), (-250, -20, 8), (6, 300, 8)),
    3000: ((-100, 100, 20), (-20, 17, 10), (-7, 5, 6), (-2, 2, 4), (-40, -3, 8), (1, 50, 8)),
}
V3_FEES = (500, 3000)


@dataclass
class UniswapWorld:
    """Everything :func:`deploy_uniswap` made: web3 contract objects, addresses and token decimals."""

    w3: Any
    deployer: str
    chain_id: int
    tokens: dict[str, Any]  # symbol -> ERC20 contract (WETH is WETH9)
    decimals: dict[str, int]  # symbol -> decimals
    v2_factory: Any
    v2_router: Any
    v2_pairs: dict[str, Any]  # "WETH/USDC" -> UniswapV2Pair contract
    v3_factory: Any
    swap_router: Any
    position_manager: Any
    quoter_v2: Any
    v3_pools: dict[tuple[str, int], Any]  # ("WETH/USDC", fee) -> UniswapV3Pool contract
    v3_positions: dict[tuple[str, int], list[dict[str, int]]] = field(default_factory=dict)
    # ("WETH/USDC", fee) -> [{token_id, tick_lower, tick_upper, liquidity}, ...]

    @property
    def weth(self) -> Any:
        return self.tokens["WETH"]

    def address(self, symbol: str) -> str:
        """Checksummed address of a token by symbol."""
        return str(self.tokens[symbol].address)

    def v3_pool_tokens(self, pair: str) -> tuple[str, str]:
        """(token0 symbol, token1 symbol) of a v3 pool: sorted by address, as the factory sorts them."""
        a, b = pair.split("/")
        return (a, b) if int(self.address(a), 16) < int(self.address(b), 16) else (b, a)

    def deployment_table(self) -> dict[str, Any]:
        """The plugin's deployment-table shape for this chain.

        ``{"chain_id": int, "tokens": {symbol: address}, "decimals": {symbol: int},
        "contracts": {contract name: address}, "v2_pairs": {"A/B": address},
        "v3_pools": {"A/B:fee": address}}``.
        """
        return {
            "chain_id": self.chain_id,
            "tokens": {s: str(c.address) for s, c in self.tokens.items()},
            "decimals": dict(self.decimals),
            "contracts": {
                "UniswapV2Factory": str(self.v2_factory.address),
                "UniswapV2Router02": str(self.v2_router.address),
                "UniswapV3Factory": str(self.v3_factory.address),
                "SwapRouter": str(self.swap_router.address),
                "NonfungiblePositionManager": str(self.position_manager.address),
                "QuoterV2": str(self.quoter_v2.address),
            },
            "v2_pairs": {name: str(c.address) for name, c in self.v2_pairs.items()},
            "v3_pools": {f"{name}:{fee}": str(c.address) for (name, fee), c in self.v3_pools.items()},
        }


def _round_down(x: int, spacing: int) -> int:
    return (x // spacing) * spacing


def deploy_uniswap(w3: Any, deployer: str, tokens: Mapping[str, Any] | None = None) -> UniswapWorld:
    """Deploy tokens, Uniswap v2 and v3 (with funded pools) from ``deployer`` (an unlocked anvil account).

    ``tokens`` ({"WETH", "USDC", "DAI"} -> web3 contracts): existing tokens to use instead of new ones (e.g. an
    Aave test market's, so one world holds both protocols): WETH must take ``deposit()``, the others
    ``mint(address,uint256)``. The deployer keeps the remaining token balances (about 2,700 WETH, 9.5M USDC,
    9.8M DAI) and has approved both routers and the position manager for every token without limit.
    """
    from web3.logs import DISCARD as discard  # test support: web3 is present wherever anvil tests run

    art = {name: load_artifact(path) for name, path in ARTIFACTS.items()}

    def send(fn: Any, value: int = 0) -> Any:
        return transact(w3, fn, sender=deployer, value=value) if value else transact(w3, fn, sender=deployer)

    if tokens is None:
        weth = deploy(w3, art["WETH9"], sender=deployer)
        usdc = deploy(w3, art["MintableERC20"], "USD Coin", "USDC", 6, sender=deployer)
        dai = deploy(w3, art["MintableERC20"], "Dai Stablecoin", "DAI", 18, sender=deployer)
    else:
        weth, usdc, dai = (w3.eth.contract(address=tokens[s].address, abi=art[a].abi)
                           for s, a in (("WETH", "WETH9"), ("USDC", "MintableERC20"), ("DAI", "MintableERC20")))
    tokens = {"WETH": weth, "USDC": usdc, "DAI": dai}
    send(weth.functions.deposit(), value=3000 * 10**18)
    for token, dec in ((usdc, 6), (dai, 18)):
        send(token.get_function_by_signature("mint(address,uint256)")(deployer, 10_000_000 * 10**dec))

    v2_factory = deploy(w3, art["UniswapV2Factory"], deployer, sender=deployer)
    v2_router = deploy(w3, art["UniswapV2Router02"], v2_factory.address, weth.address, sender=deployer)
    v3_factory = deploy(w3, art["UniswapV3Factory"], sender=deployer)
    send(v3_factory.functions.enableFeeAmount(100, 1))  # v3-core 1.0.1 ships 500/3000/10000; mainnet has 100
    swap_router = deploy(w3, art["SwapRouter"], v3_factory.address, weth.address, sender=deployer)
    npm = deploy(w3, art["NonfungiblePositionManager"], v3_factory.address, weth.address, ZERO_ADDRESS,
                 sender=deployer)
    quoter = deploy(w3, art["QuoterV2"], v3_factory.address, weth.address, sender=deployer)
    for token in tokens.values():
        for spender in (v2_router, swap_router, npm):
            send(token.functions.approve(spender.address, MAX_UINT256))

    def units(sym: str, whole: int) -> int:
        return whole * 10 ** TOKEN_DECIMALS[sym]

    v2_pairs: dict[str, Any] = {}
    for a, b, amount_a, amount_b in V2_PAIRS:
        ta, tb = tokens[a], tokens[b]
        send(v2_router.functions.addLiquidity(ta.address, tb.address, units(a, amount_a), units(b, amount_b),
                                              0, 0, deployer, DEADLINE))
        pair_addr = v2_factory.functions.getPair(ta.address, tb.address).call()
        v2_pairs[f"{a}/{b}"] = w3.eth.contract(address=pair_addr, abi=art["UniswapV2Pair"].abi)

    world = UniswapWorld(
        w3=w3, deployer=deployer, chain_id=int(w3.eth.chain_id), tokens=tokens, decimals=dict(TOKEN_DECIMALS),
        v2_factory=v2_factory, v2_router=v2_router, v2_pairs=v2_pairs, v3_factory=v3_factory,
        swap_router=swap_router, position_manager=npm, quoter_v2=quoter, v3_pools={},
    )

    pair = "WETH/USDC"
    sym0, sym1 = world.v3_pool_tokens(pair)
    t0, t1 = tokens[sym0], tokens[sym1]
    # 1 WETH (1e18 base units) = 2000 USDC (2000e6 base units)
    weth_units, usdc_units = 10**18, ETH_PRICE * 10**6
    price_num, price_den = (usdc_units, weth_units) if sym0 == "WETH" else (weth_units, usdc_units)
    sqrt_price = encode_price_sqrt(price_num, price_den)
    for fee in V3_FEES:
        spacing = FEE_TIERS[fee]
        send(npm.functions.createAndInitializePoolIfNecessary(t0.address, t1.address, fee, sqrt_price))
        pool_addr = v3_factory.functions.getPool(t0.address, t1.address, fee).call()
        pool = w3.eth.contract(address=pool_addr, abi=art["UniswapV3Pool"].abi)
        world.v3_pools[(pair, fee)] = pool
        tick0 = int(pool.functions.slot0().call()[1])
        base = _round_down(tick0, spacing)
        positions: list[dict[str, int]] = []
        for lo, hi, weth_amount in V3_RANGES[fee]:
            lower, upper = base + lo * spacing, base + hi * spacing
            amt = {"WETH": units("WETH", weth_amount), "USDC": units("USDC", weth_amount * ETH_PRICE)}
            params = (t0.address, t1.address, fee, lower, upper, amt[sym0], amt[sym1], 0, 0, deployer, DEADLINE)
            receipt = send(npm.functions.mint(params))
            events = npm.events.IncreaseLiquidity().process_receipt(receipt, errors=discard)
            ev = events[0]["args"]
            positions.append({"token_id": int(ev["tokenId"]), "tick_lower": lower, "tick_upper": upper,
                              "liquidity": int(ev["liquidity"])})
        world.v3_positions[(pair, fee)] = positions
    return world


def _batch_call(w3: Any, fns: list[Any], block: Any) -> list[Any]:
    """eth_call several contract functions in one JSON-RPC batch (sequentially if batching fails)."""
    if not fns:
        return []
    try:
        with w3.batch_requests() as batch:
            for fn in fns:
                batch.add(fn.call(block_identifier=block))
            return list(batch.execute())
    except Exception:  # pragma: no cover - providers without batch support
        return [fn.call(block_identifier=block) for fn in fns]


def read_v3_pool(pool: Any, word_radius: int = 4, block: Any = "latest") -> V3Pool:
    """Read a :class:`V3Pool` from a deployed ``UniswapV3Pool`` contract: slot0, liquidity, fee, global fee
    growth, and every initialised tick found in the tick bitmap within ``word_radius`` 256-tick words of
    the current tick (each with its ``ticks()`` record). Two JSON-RPC batches. Positions are not read.

    ``block`` should be a block number when the chain may move between the two batches."""
    f = pool.functions
    w3 = pool.w3
    slot0, fee, spacing, liquidity, g0, g1 = _batch_call(
        w3, [f.slot0(), f.fee(), f.tickSpacing(), f.liquidity(), f.feeGrowthGlobal0X128(),
             f.feeGrowthGlobal1X128()], block)
    sqrt_price, tick, fee_protocol = int(slot0[0]), int(slot0[1]), int(slot0[5])
    spacing = int(spacing)
    word = (tick // spacing) >> 8
    words = list(range(max(word - word_radius, -(2**15)), min(word + word_radius, 2**15 - 1) + 1))
    bitmaps = _batch_call(w3, [f.tickBitmap(w) for w in words], block)
    initialized: list[int] = []
    for w, bits in zip(words, bitmaps, strict=True):
        bits = int(bits)
        while bits:
            low = bits & -bits
            initialized.append(((w << 8) + low.bit_length() - 1) * spacing)
            bits ^= low
    infos = _batch_call(w3, [f.ticks(t) for t in initialized], block)
    ticks = {t: (int(i[0]), int(i[1]), int(i[2]), int(i[3])) for t, i in zip(initialized, infos, strict=True)}
    return V3Pool(sqrt_price, tick, int(liquidity), int(fee), spacing, ticks, int(g0), int(g1), fee_protocol)
