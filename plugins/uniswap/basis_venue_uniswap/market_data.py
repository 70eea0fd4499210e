"""Uniswap's live market data (the ``live_market_data`` hook): the deployed pools read through the node.

Settings (``venue_config.uniswap``): ``rpc_url``; ``deployment`` ("mainnet" | "local" | a JSON path) or the option
``deployment_table``. Pools: the table's ``v2_pairs`` and ``v3_pools``. Per step ONE JSON-RPC batch at the latest
block: ``getReserves`` of every v2 pair, ``slot0`` and ``liquidity`` of every v3 pool, the node's priority fee (the
pools' tokens are read once). Series, as of the block's time:

- ``pool:uniswap:<pool id>`` (``v2:WETH/USDC``, ``v3:WETH/USDC:500``): v2 ``reserve0`` / ``reserve1`` (token
  units, the pair's token order), v3 ``sqrt_price_x96``, ``tick``, ``liquidity`` (the contract's integers), and
  ``price`` (the id's second token per unit of its first, e.g. USDC per WETH, from the exact integers);
- ``dex:uniswap:<A>/<B>`` ``close``: the price of the pair's default pool (:data:`DEFAULT_ROUTES`, else its first
  deployed pool), the series the backtest's ``uniswapv3_*`` files make;
- ``gas`` (``base_fee_gwei``, ``priority_fee_gwei``, ``gas_price_gwei``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core.live.chain_reads import ChainReader, chain_reader, from_units, gas_value
from basis_venue_uniswap.deployment import DEFAULT_ROUTES, load_table, parse_pool_id

_Q192 = Decimal(2) ** 192


def _fn(name: str, outputs: list[str]) -> dict[str, Any]:
    return {"type": "function", "name": name, "stateMutability": "view", "inputs": [],
            "outputs": [{"name": "", "type": t} for t in outputs]}


PAIR_READS_ABI = [_fn("getReserves", ["uint112", "uint112", "uint32"]), _fn("token0", ["address"]),
                  _fn("token1", ["address"])]
POOL_READS_ABI = [_fn("slot0", ["uint160", "int24", "uint16", "uint16", "uint16", "uint8", "bool"]),
                  _fn("liquidity", ["uint128"]), _fn("token0", ["address"]), _fn("token1", ["address"])]


def _pools(context: Any) -> list[dict[str, Any]]:
    """The table's pools with their contracts, token order and decimals (resolved once per provider)."""
    pools: list[dict[str, Any]] | None = context.state.get("pools")
    if pools is None:
        s = context.settings
        table = load_table(s.options.get("deployment_table") or s.deployment)
        reader = chain_reader(context)
        by_address = {str(a).lower(): sym for sym, a in table["tokens"].items()}
        found = [(f"v2:{pair}", addr, PAIR_READS_ABI) for pair, addr in table["v2_pairs"].items()]
        found += [(f"v3:{pool}", addr, POOL_READS_ABI) for pool, addr in table["v3_pools"].items()]
        contracts = [reader.contract(addr, abi) for _pid, addr, abi in found]
        _block, tokens, _ = reader.read([ChainReader.call(c.functions.token0()) for c in contracts] +
                                        [ChainReader.call(c.functions.token1()) for c in contracts])
        pools = []
        n = len(contracts)
        for k, ((pid, _addr, _abi), c) in enumerate(zip(found, contracts, strict=True)):
            t0, t1 = by_address.get(str(tokens[k]).lower()), by_address.get(str(tokens[n + k]).lower())
            if t0 is None or t1 is None:
                continue  # a pool of tokens the table does not list
            parsed = parse_pool_id(pid)
            f = c.functions
            reads = [f.getReserves()] if parsed.kind == "v2" else [f.slot0(), f.liquidity()]
            pools.append({"id": pid, "kind": parsed.kind, "calls": [ChainReader.call(r) for r in reads],
                          "token0": t0, "token1": t1,
                          "dec0": int(table["decimals"][t0]), "dec1": int(table["decimals"][t1]),
                          "base": parsed.a, "quote": parsed.b})
        context.state["pools"] = pools
    return pools


def _price(p: dict[str, Any], raw: Decimal) -> Decimal:
    """``raw`` (token1 base units per token0 base unit) as the id's quote per base, in token units."""
    px = raw.scaleb(p["dec0"] - p["dec1"])
    return px if p["base"] == p["token0"] else 1 / px


def read_market_data(keys: frozenset[str] | None, context: Any) -> dict[str, Any]:
    """The hook's body: ``{series name: LiveValue}`` (see the module docstring)."""
    from basis_core.live.market_data import LiveValue

    pools = _pools(context)
    calls = [c for p in pools for c in p["calls"]]
    block, results, prio = chain_reader(context).read(calls, priority_fee=keys is None or "gas" in keys)
    out: dict[str, Any] = {}
    prices: dict[str, Decimal] = {}
    i = 0
    for p in pools:
        if p["kind"] == "v2":
            r0, r1, _ = results[i]
            i += 1
            px = _price(p, Decimal(r1) / Decimal(r0)) if r0 and r1 else None
            cols = {"reserve0": from_units(r0, p["dec0"]), "reserve1": from_units(r1, p["dec1"])}
        else:
            slot0, liquidity = results[i], results[i + 1]
            i += 2
            sqrt_p = int(slot0[0])
            px = _price(p, Decimal(sqrt_p * sqrt_p) / _Q192) if sqrt_p else None
            cols = {"sqrt_price_x96": Decimal(sqrt_p), "tick": Decimal(int(slot0[1])), "liquidity": Decimal(liquidity)}
        if px is None:
            continue  # an empty pool has no price
        prices[p["id"]] = px
        name = f"pool:uniswap:{p['id']}"
        if keys is None or name in keys:
            out[name] = LiveValue({**cols, "price": px}, block.time_ns)
    pairs: dict[str, str] = {}
    for p in pools:
        if p["id"] in prices:
            pairs.setdefault(f"{p['base']}/{p['quote']}", p["id"])
    for pair, pid in pairs.items():
        default = DEFAULT_ROUTES.get(frozenset(pair.split("/")))
        if default is not None and default in prices and parse_pool_id(default).pair == pair:
            pid = default
        name = f"dex:uniswap:{pair}"
        if keys is None or name in keys:
            out[name] = LiveValue({"close": prices[pid]}, block.time_ns)
    if prio is not None:
        out["gas"] = gas_value(block, prio)
    return out
