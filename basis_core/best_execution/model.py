"""Pool models: an AMM pool's state at one timestamp as pure math, for the core's router.

A venue implementing the ``swap_pool_models`` hook answers, for a pair, one :class:`PoolModel` per pool: a
snapshot of the pool (reserves, the v3 price / liquidity / ticks, a StableSwap pool's balances, A and fee) with a
pure ``quote`` over it. The router then searches the split on local integer math (no hook call per candidate
split) and asks the venue's ``quote_swap`` once per chosen leg to verify it (:mod:`basis_core.best_execution.router`).

Contract of a model (what the router relies on):

- ``quote(amount_in)`` -- input in the input token's base units (an ``int`` > 0) -> output in the output token's
  base units (``int``), or ``None`` where the venue would refuse the amount (beyond the pool, nothing out). It is
  pure (no I/O, no clock, no shared mutable state: the snapshot is immutable) and equals, exactly, the output the
  venue's ``quote_swap`` gives for the same amount at the same timestamp while the pool is unchanged. A router
  that finds a leg's verified quote differing from its model discards the models and plans through
  ``quote_swap`` alone.
- ``no_impact_rate`` -- output base units per input base unit of an infinitesimal trade, after the pool's fee
  (the reference of the price-impact figures).
- ``gas_cost_eth`` / ``reference_prices`` -- the gas of one swap in the pool at the venue's gas price and the USD
  prices (``ETH`` and the output token) that value it in the output token: the split maximises output net of gas.
- ``state`` -- the snapshot itself, for inspection (the model's math closes over it).

Models are per timestamp: a swap that moves the pool invalidates them (ask again). A venue that cannot model a
pool cheaply (e.g. live v3 ticks behind an RPC) returns ``None`` from the hook and takes part through
``swap_pools`` + ``quote_swap`` (the router's fallback, used for any venue without the hook).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["ModelCache", "PoolModel"]


@dataclass(frozen=True, slots=True)
class PoolModel:
    """One pool's pure-function model at one timestamp (see the module docstring for the contract).

    :param pool: the pool id ``Swap.pool`` takes (e.g. ``v3:WETH/USDT:500``, ``3pool``).
    :param decimals_in: decimals of the input token (``quote``'s input unit).
    :param decimals_out: decimals of the output token (``quote``'s output unit).
    :param quote: ``amount_in`` (input base units) -> output base units, or None where the venue refuses.
    :param no_impact_rate: output base units per input base unit at zero size, after the fee.
    :param gas_cost_eth: gas of one swap in the pool, in ETH.
    :param reference_prices: USD prices (``ETH``, the swap's tokens) valuing the gas.
    :param state: the immutable snapshot the math closes over (reserves, ticks, balances / A / fee).
    """

    pool: str
    decimals_in: int
    decimals_out: int
    quote: Callable[[int], int | None]
    no_impact_rate: Decimal
    gas_cost_eth: Decimal = Decimal(0)
    reference_prices: Mapping[str, Decimal] = field(default_factory=dict)
    state: Any = None


class ModelCache:
    """A venue's pool models per pair, kept while the timestamp and every pool's state object are unchanged (pool
    states are immutable: a swap stores a new one), so a venue builds its models once per timestamp and pool state,
    and the quotes' lazily grown step ladders (:meth:`V3Pool.exact_input_quoter`) serve every decision."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[int, tuple[Any, ...], list[PoolModel]]] = {}

    def get(self, key: Any, ts_ns: int, states: tuple[Any, ...]) -> list[PoolModel] | None:
        """The models stored for ``key`` at ``ts_ns`` over exactly these state objects, else None."""
        hit = self._entries.get(key)
        if hit is None or hit[0] != ts_ns or len(hit[1]) != len(states) \
                or any(a is not b for a, b in zip(hit[1], states, strict=True)):
            return None
        return hit[2]

    def put(self, key: Any, ts_ns: int, states: tuple[Any, ...], models: list[PoolModel]) -> list[PoolModel]:
        """Store (replacing ``key``'s previous entry) and return ``models``."""
        self._entries[key] = (ts_ns, states, models)
        return models
