"""Gas in backtests: units x gas price (from the ``gas`` series) x ETH price, charged in ETH.

Default gas units per on-chain operation are estimates in line with mainnet usage (the 2024-2025
operation summary beside the real data: swap 180k, supply 250k, borrow 300k ...); venues may
override them through their settings (``gas_units``).
"""

from __future__ import annotations

from decimal import Decimal

from basis_core.data.prices import usd_price
from basis_core.data.provider import MarketSnapshot
from basis_core.deltas import instrument_key

#: gas units per operation (documented defaults; override per venue with ``gas_units: {op: units}``)
DEFAULT_GAS_UNITS: dict[str, int] = {
    "swap": 180_000,
    "swap_v2": 130_000,
    "swap_curve": 200_000,
    "add_liquidity": 350_000,
    "remove_liquidity": 250_000,
    "supply": 250_000,
    "withdraw": 220_000,
    "borrow": 300_000,
    "repay": 280_000,
    "stake": 150_000,
    "wrap": 110_000,
    "unwrap": 100_000,
    "unstake_request": 200_000,
    "unstake_claim": 120_000,
    "approve": 55_000,
    "set_emode": 55_000,
    "atomic_entry": 1_250_000,
    "transfer": 65_000,
}

_GWEI = Decimal("1e-9")
#: the wallet key gas is charged to
GAS_KEY = instrument_key("ethereum", "wallet", "ETH")


def gas_price_gwei(snapshot: MarketSnapshot) -> Decimal:
    """As-of gas price (base fee + priority fee) in gwei."""
    return snapshot.get("gas", "gas_price_gwei")


def gas_cost_eth(snapshot: MarketSnapshot, units: int) -> Decimal:
    """ETH paid for ``units`` of gas at the as-of gas price (exact Decimal)."""
    return Decimal(units) * gas_price_gwei(snapshot) * _GWEI


_Maps = tuple[dict[str, Decimal], dict[str, Decimal], dict[str, Decimal]]


def gas_charge(snapshot: MarketSnapshot, units: int) -> _Maps:
    """(positions, fees, pnl) of paying gas: ``ethereum:wallet:ETH`` -cost; pnl ``gas`` in USD."""
    cost = gas_cost_eth(snapshot, units)
    usd = cost * usd_price(snapshot, "ETH")
    return {GAS_KEY: -cost}, {GAS_KEY: -cost}, {"gas": -usd}
