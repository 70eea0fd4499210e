"""Curve's live market data (the ``live_market_data`` hook): the deployed pools read through the node.

Settings (``venue_config.curve``): ``rpc_url``; ``deployment`` ("mainnet" | "local" | a JSON path) or the option
``deployment_table``. Per step ONE JSON-RPC batch at the latest block: every pool's ``balances(i)``, ``A()``,
``fee()`` and its LP token's ``totalSupply()``, and the node's priority fee. Series, as of the block's time:

- ``pool:curve:<pool>`` (e.g. ``pool:curve:3pool``): ``balance_<COIN>`` (token units, per coin), ``A`` (the
  amplification as the contract reports it), ``fee`` (a fraction: ``fee() / 1e10``), ``lp_supply`` (LP tokens);
- ``gas`` (``base_fee_gwei``, ``priority_fee_gwei``, ``gas_price_gwei``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core.live.chain_reads import ChainReader, chain_reader, from_units, gas_value
from basis_venue_curve.deployment import load_table

FEE_DENOMINATOR = Decimal(10) ** 10
LP_DECIMALS = 18


def _fn(name: str, inputs: list[str]) -> dict[str, Any]:
    return {"type": "function", "name": name, "stateMutability": "view",
            "inputs": [{"name": f"a{i}", "type": t} for i, t in enumerate(inputs)],
            "outputs": [{"name": "", "type": "uint256"}]}


POOL_READS_ABI = [_fn("balances", ["uint256"]), _fn("A", []), _fn("fee", [])]
SUPPLY_ABI = [_fn("totalSupply", [])]


def _pools(context: Any) -> list[dict[str, Any]]:
    pools: list[dict[str, Any]] | None = context.state.get("pools")
    if pools is None:
        s = context.settings
        table = load_table(s.options.get("deployment_table") or s.deployment)
        reader = chain_reader(context)
        pools = []
        for name, p in table["pools"].items():
            f = reader.contract(p["address"], POOL_READS_ABI).functions
            reads = [*(f.balances(i) for i in range(len(p["coins"]))), f.A(), f.fee(),
                     reader.contract(p["lp_token"], SUPPLY_ABI).functions.totalSupply()]
            pools.append({"id": name, "calls": [ChainReader.call(r) for r in reads], "coins": list(p["coins"]),
                          "decimals": [int(table["decimals"][c]) for c in p["coins"]]})
        context.state["pools"] = pools
    return pools


def read_market_data(keys: frozenset[str] | None, context: Any) -> dict[str, Any]:
    """The hook's body: ``{series name: LiveValue}`` (see the module docstring)."""
    from basis_core.live.market_data import LiveValue

    pools = [p for p in _pools(context) if keys is None or f"pool:curve:{p['id']}" in keys]
    calls = [c for p in pools for c in p["calls"]]
    block, results, prio = chain_reader(context).read(calls, priority_fee=keys is None or "gas" in keys)
    out: dict[str, Any] = {}
    i = 0
    for p in pools:
        n = len(p["coins"])
        cols = {f"balance_{c}": from_units(results[i + k], d)
                for k, (c, d) in enumerate(zip(p["coins"], p["decimals"], strict=True))}
        a, fee, supply = results[i + n: i + n + 3]
        i += n + 3
        cols.update({"A": Decimal(a), "fee": Decimal(fee) / FEE_DENOMINATOR,
                     "lp_supply": from_units(supply, LP_DECIMALS)})
        out[f"pool:curve:{p['id']}"] = LiveValue(cols, block.time_ns)
    if prio is not None:
        out["gas"] = gas_value(block, prio)
    return out
