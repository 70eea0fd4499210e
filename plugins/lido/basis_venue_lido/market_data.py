"""Lido's live market data (the ``live_market_data`` hook): the wstETH exchange rate read through the node.

Settings (``venue_config.lido``): ``rpc_url``; ``deployment`` or the option ``deployment_table`` (as the live
backend takes them). Per step ONE JSON-RPC batch at the latest block: ``wstETH.stEthPerToken()`` and the node's
priority fee. Series, as of the block's time: ``lst:wstETH`` (``rate``: ETH per wstETH, stETH being 1:1 with
ETH) and ``gas`` (``base_fee_gwei``, ``priority_fee_gwei``, ``gas_price_gwei``).
"""

from __future__ import annotations

from typing import Any

from basis_core.live.chain_reads import ChainReader, chain_reader, from_units, gas_value

RATE_ABI = [{"type": "function", "name": "stEthPerToken", "stateMutability": "view", "inputs": [],
             "outputs": [{"name": "", "type": "uint256"}]}]


def read_market_data(keys: frozenset[str] | None, context: Any) -> dict[str, Any]:
    """The hook's body: ``{series name: LiveValue}`` (see the module docstring)."""
    from basis_core.live.market_data import LiveValue

    reader = chain_reader(context)
    calls = context.state.get("calls")
    if calls is None:  # prepared once
        from basis_venue_lido.live import load_table

        s = context.settings
        table = load_table(s.options.get("deployment_table") or s.deployment)
        wsteth = reader.contract(table["contracts"]["wstETH"], RATE_ABI)
        want = keys is None or "lst:wstETH" in keys
        calls = context.state["calls"] = [ChainReader.call(wsteth.functions.stEthPerToken())] if want else []
    block, results, prio = reader.read(calls, priority_fee=keys is None or "gas" in keys)
    out: dict[str, Any] = {}
    if calls:
        out["lst:wstETH"] = LiveValue({"rate": from_units(results[0], 18)}, block.time_ns)
    if prio is not None:
        out["gas"] = gas_value(block, prio)
    return out
