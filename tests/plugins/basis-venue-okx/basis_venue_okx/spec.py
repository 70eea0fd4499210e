"""OKX as data: symbols and rules, fees, slippage, funding every 8 h, accounts.

Fees: OKX's regular tier (spot 0.08 % maker / 0.10 % taker; swaps 0.02 % / 0.05 %). Rules: spot ETH-USDT
tick 0.01, lot 0.000001, min notional 1; ETH-USDT-SWAP tick 0.01, lot 0.01 (contracts of 0.1 ETH shown
in ETH), min notional 5. Accounts: ``trading`` (spot) and ``swap`` (margin), with the generic names
``spot`` / ``futures`` as aliases (the built-in strategies transfer between those).
"""

from __future__ import annotations

from decimal import Decimal

from basis_core.backtest.cex import CexSpec, FeeRates, FeeSchedule, SlippageModel, perp, spot

TIERS: tuple[tuple[int | None, int, str], ...] = ((1_000_000, 50, "0.008"), (None, 10, "0.05"))

OKX_SPEC = CexSpec(
    venue="okx",
    symbols=(
        spot("ETH/USDT", tick="0.01", step="0.000001", min_notional="1"),
        perp("ETH/USDT:USDT", tick="0.01", step="0.01", min_notional="5", tiers=TIERS),
    ),
    fees=FeeSchedule(spot=FeeRates(maker=Decimal("0.0008"), taker=Decimal("0.001")),
                     perp=FeeRates(maker=Decimal("0.0002"), taker=Decimal("0.0005")),
                     spot_fee_asset="received", perp_fee_asset="settle", liquidation=Decimal("0.01")),
    slippage={"spot": SlippageModel.from_rows([[100_000, 4], [None, 12]]),
              "perp": SlippageModel.from_rows([[100_000, 3], [None, 10]])},
    funding_interval_hours=8,
    margin_assets=("USDT",),
    accounts={"trading": "spot", "swap": "margin", "spot": "spot", "futures": "margin"},
    spot_kind="spot",
    margin_kind="swap",
    default_leverage=Decimal(10),
    reduce_only_clamp=False,
)
