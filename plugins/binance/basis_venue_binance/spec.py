"""Binance as data: listed symbols and filters, fees, slippage, USD-M leverage brackets, funding, wallets.

Defaults (override per run with ``venue_config.binance``; see :mod:`basis_core.backtest.cex.spec`):

- Fees: Binance's public base tier (Regular user / VIP 0, no BNB discount).
  Spot 0.1000% maker / 0.1000% taker, charged in the asset the order RECEIVES (a buy of ETH pays its
  fee in ETH, a sell in USDT), as Binance does when BNB fee payment is off.
  USD-M futures 0.0200% maker / 0.0500% taker, charged in USDT from the futures wallet.
  Liquidation clearance fee 1.25% of the liquidated notional (an approximation: Binance publishes
  per-contract clearance fees; set ``fees.liquidation`` to the contract's current value).
- Filters (exchangeInfo, 2024): spot ETH/USDT tick 0.01, step 0.0001, min notional 5 USDT;
  spot BTC/USDT tick 0.01, step 0.00001, min notional 5; USD-M ETH/USDT:USDT tick 0.01, step 0.001,
  min notional 20; USD-M BTC/USDT:USDT tick 0.10, step 0.001, min notional 100 (reduce-only exempt).
- Margin tiers (USD-M leverage brackets ``(notional cap, max leverage, maintenance margin rate)``,
  maintenance amounts derived): 50k 125x 0.40%, 600k 100x 0.50%, 3M 75x 0.65%, 12M 50x 1.00%,
  50M 25x 2.00%, 100M 10x 5.00%, 200M 5x 10.00%, 300M 4x 12.50%, 500M 3x 15.00%, 800M 2x 25.00%,
  above 1x 50.00%. Values modelled on Binance's published ETHUSDT brackets; Binance revises them.
  Default leverage 20x (Binance's default for a new symbol).
- Slippage (bps by order notional in USDT, first bucket whose cap is >= the notional): spot
  <=10k: 5, <=100k: 7, <=1M: 13, above: 25; perps <=10k: 3, <=100k: 4, <=1M: 8, above: 15. The
  <=1M buckets are the project's execution-cost table (``../shared/data/execution_costs_lookup.json``,
  ETH_USDT and ETHUSDT-PERP); above 1M is an extrapolation.
- Funding every 8 h at 00:00 / 08:00 / 16:00 UTC (rows of ``funding:binance:<symbol>``).
- Keys: spot ``binance:spot:<asset>``; USD-M wallet ``binance:futures:USDT``; positions
  ``binance:perp:<symbol>`` (signed base units); metrics ``binance:metric:<name>:<symbol | asset>``.
  Transfer accounts: ``spot`` and ``futures`` (aliases ``future``, ``swap``, ``usdm``, ``linear``).
- Reduce-only orders larger than the position are refused (Binance -2022), not clamped.
"""

from __future__ import annotations

from decimal import Decimal

from basis_core.backtest.cex import CexSpec, FeeRates, FeeSchedule, SlippageModel, perp, spot

#: USD-M leverage brackets ``(cap, max leverage, maintenance margin rate)``.
USDM_TIERS: tuple[tuple[int | None, int, str], ...] = (
    (50_000, 125, "0.004"),
    (600_000, 100, "0.005"),
    (3_000_000, 75, "0.0065"),
    (12_000_000, 50, "0.01"),
    (50_000_000, 25, "0.02"),
    (100_000_000, 10, "0.05"),
    (200_000_000, 5, "0.1"),
    (300_000_000, 4, "0.125"),
    (500_000_000, 3, "0.15"),
    (800_000_000, 2, "0.25"),
    (None, 1, "0.5"),
)

SPOT_FEES = FeeRates(maker=Decimal("0.001"), taker=Decimal("0.001"))
USDM_FEES = FeeRates(maker=Decimal("0.0002"), taker=Decimal("0.0005"))
LIQUIDATION_FEE = Decimal("0.0125")

SPOT_SLIPPAGE = SlippageModel.from_rows([[10_000, 5], [100_000, 7], [1_000_000, 13], [None, 25]])
PERP_SLIPPAGE = SlippageModel.from_rows([[10_000, 3], [100_000, 4], [1_000_000, 8], [None, 15]])

BINANCE_SPEC = CexSpec(
    venue="binance",
    symbols=(
        spot("ETH/USDT", tick="0.01", step="0.0001", min_notional="5"),
        spot("BTC/USDT", tick="0.01", step="0.00001", min_notional="5"),
        perp("ETH/USDT:USDT", tick="0.01", step="0.001", min_notional="20", tiers=USDM_TIERS),
        perp("BTC/USDT:USDT", tick="0.10", step="0.001", min_notional="100", tiers=USDM_TIERS),
    ),
    fees=FeeSchedule(spot=SPOT_FEES, perp=USDM_FEES, spot_fee_asset="received", perp_fee_asset="settle",
                     liquidation=LIQUIDATION_FEE),
    slippage={"spot": SPOT_SLIPPAGE, "perp": PERP_SLIPPAGE},
    funding_interval_hours=8,
    margin_assets=("USDT",),
    accounts={"spot": "spot", "futures": "margin", "future": "margin", "swap": "margin", "usdm": "margin",
              "linear": "margin"},
    spot_kind="spot",
    margin_kind="futures",
    default_leverage=Decimal(20),
    reduce_only_clamp=False,
)
