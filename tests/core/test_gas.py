"""Gas charges: units x gas price x 1e-9 ETH, valued at the ETH oracle price."""

from __future__ import annotations

from decimal import Decimal

from basis_core.backtest.gas import GAS_KEY, gas_charge
from basis_core.data import synthetic_market


def test_gas_charge_is_units_times_gwei_price_in_eth() -> None:
    snap = synthetic_market(hours=24).get_data("2025-01-01T05:00:00Z")
    gwei = snap.get("gas", "gas_price_gwei")
    pos, fees, pnl = gas_charge(snap, 200_000)
    assert pos == fees == {GAS_KEY: -(gwei * 200_000 / Decimal(10**9))}
    assert pnl == {"gas": pos[GAS_KEY] * snap.get("oracle:ETH/USD", "price")}
