"""Morpho's live market data (the ``live_market_data`` hook): each table market's state read from the chain.

``venue_config.morpho``: ``rpc_url`` (required) and ``deployment`` / option ``deployment_table`` (default
``mainnet``). Per step and market: ``market(id)``, the IRM's ``rateAtTarget(id)`` and ``IOracle.price()`` at the
latest block, all in ONE JSON-RPC batch (:mod:`basis_core.live.chain_reads`). Series ``morpho:<alias>`` with the
backtest's columns (:mod:`basis_venue_morpho.data`) plus ``oracle_price``: the market accrued with the contract's
math to the step's time (what ``accrueInterest`` would store at that second; the block's time when the chain is
ahead), so a paper run's simulator, which anchors a row at its time, continues from it exactly; a row per step,
``as_of`` the block's time.
No account, no credentials; web3 is imported on the first read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core.live.chain_reads import ChainReader, chain_reader
from basis_core.timeutil import to_ns

_NS = 1_000_000_000


def _prepare(keys: frozenset[str] | None, context: Any, reader: ChainReader) -> list[tuple[str, Any]]:
    """(series name, the market's LiveMarket) of the table's markets ``keys`` wants, with the three calls of each
    prepared (``market(id)``, ``rateAtTarget(id)``, ``price()``); the parameters of markets given by id are read
    once here."""
    from basis_venue_morpho.deployment import load_table
    from basis_venue_morpho.live import IRM_ABI, ORACLE_ABI, MorphoChain

    s = context.settings
    chain = MorphoChain(reader.w3, load_table(s.options.get("deployment_table") or s.deployment))
    wanted, calls = [], []
    for alias, lm in chain.markets.items():
        name = f"morpho:{alias}"
        if keys is not None and name not in keys:
            continue
        wanted.append((name, lm))
        calls += [ChainReader.call(chain.morpho.functions.market(lm.id)),
                  ChainReader.call(reader.contract(lm.params[3], IRM_ABI).functions.rateAtTarget(lm.id)),
                  ChainReader.call(reader.contract(lm.params[2], ORACLE_ABI).functions.price())]
    context.state["morpho_calls"] = (wanted, calls)
    return wanted


def read_market_data(timestamp: Any, keys: frozenset[str] | None, context: Any) -> dict[str, Any]:
    """The hook's body: ``{"morpho:<alias>": LiveValue}`` of the table's markets ``keys`` wants (all: None), from
    ONE JSON-RPC batch at the latest block (:mod:`basis_core.live.chain_reads`)."""
    from basis_core.live.market_data import LiveValue
    from basis_venue_morpho import math as mm

    reader = chain_reader(context)
    if "morpho_calls" not in context.state:
        _prepare(keys, context, reader)
    wanted, calls = context.state["morpho_calls"]
    if not calls:
        return {}
    block, results, _ = reader.read(calls)
    block_s = block.time_ns // _NS
    now = max(block_s, to_ns(timestamp) // _NS)
    out: dict[str, Any] = {}
    for i, (name, _lm) in enumerate(wanted):
        (tsa, tss, tba, tbs, last, fee), rat, price = results[3 * i: 3 * i + 3]
        m = mm.Market(int(tsa), int(tss), int(tba), int(tbs), int(last), int(fee), int(rat))
        if now > m.last_update:
            m = mm.accrue_interest(m, now).market
        cols = {"total_supply_assets": m.total_supply_assets, "total_supply_shares": m.total_supply_shares,
                "total_borrow_assets": m.total_borrow_assets, "total_borrow_shares": m.total_borrow_shares,
                "fee": m.fee, "rate_at_target": m.rate_at_target, "oracle_price": int(price)}
        out[name] = LiveValue({k: Decimal(v) for k, v in cols.items()}, block.time_ns)
    return out


__all__ = ["read_market_data"]
