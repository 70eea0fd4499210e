"""Morpho's live market data (the ``live_market_data`` hook): each table market's state read from the chain.

``venue_config.morpho``: ``rpc_url`` (required) and ``deployment`` / option ``deployment_table`` (default
``mainnet``). Per step and market: ``market(id)``, the IRM's ``rateAtTarget(id)`` and ``IOracle.price()`` at the
latest block. Series ``morpho:<alias>`` with the backtest's columns (:mod:`basis_venue_morpho.data`) plus
``oracle_price``: the market accrued with the contract's math to the step's time (what ``accrueInterest`` would
store at that second; the block's time when the chain is ahead), so a paper run's simulator, which anchors a
row at its time, continues from it exactly; a row per step, ``as_of`` the block's time.
No account, no credentials; web3 is imported on the first read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core.timeutil import to_ns

_NS = 1_000_000_000


def _chain(context: Any) -> Any:
    chain = context.state.get("chain")
    if chain is None:
        from web3 import Web3

        from basis_core.errors import ConfigError
        from basis_venue_morpho.deployment import load_table
        from basis_venue_morpho.live import MorphoChain

        s = context.settings
        if not s.rpc_url:
            raise ConfigError("venue_config.morpho.rpc_url: required for live market data")
        w3 = Web3(Web3.HTTPProvider(str(s.rpc_url), request_kwargs={"timeout": context.timeout_s}))
        chain = context.state["chain"] = MorphoChain(w3, load_table(s.options.get("deployment_table") or s.deployment))
    return chain


def read_market_data(timestamp: Any, keys: frozenset[str] | None, context: Any) -> dict[str, Any]:
    """The hook's body: ``{"morpho:<alias>": LiveValue}`` of the table's markets ``keys`` wants (all: None)."""
    from basis_core.live.market_data import LiveValue
    from basis_venue_morpho import math as mm

    chain = _chain(context)
    block = chain.w3.eth.get_block("latest")
    number, block_s = int(block["number"]), int(block["timestamp"])
    now = max(block_s, to_ns(timestamp) // _NS)
    out: dict[str, Any] = {}
    for alias, lm in chain.markets.items():
        name = f"morpho:{alias}"
        if keys is not None and name not in keys:
            continue
        m = chain.state(lm, number)
        if now > m.last_update:
            m = mm.accrue_interest(m, now).market
        cols = {"total_supply_assets": m.total_supply_assets, "total_supply_shares": m.total_supply_shares,
                "total_borrow_assets": m.total_borrow_assets, "total_borrow_shares": m.total_borrow_shares,
                "fee": m.fee, "rate_at_target": m.rate_at_target, "oracle_price": chain.price(lm, number)}
        out[name] = LiveValue({k: Decimal(v) for k, v in cols.items()}, block_s * _NS)
    return out


__all__ = ["read_market_data"]
