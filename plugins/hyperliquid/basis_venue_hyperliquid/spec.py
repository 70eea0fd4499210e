"""Hyperliquid as data: listed symbols and price / size rules, fees, slippage, margin, funding, wallets.

Defaults (override per run with ``venue_config.hyperliquid``; see :mod:`basis_core.backtest.cex.spec`):

- Fees: Hyperliquid's base tier (tier 0, no staking discount, no referral).
  Perps 0.015% maker / 0.045% taker, charged in USDC from the perp margin account.
  Spot 0.040% maker / 0.070% taker, charged in the token the order RECEIVES (a buy of ETH pays in
  ETH, a sell in USDC). Liquidations are market orders: the liquidation fee defaults to the perp
  taker rate (0.045% of the liquidated notional).
- Size / price rules (meta): size step ``10^-szDecimals`` (ETH perp 4, BTC perp 5, spot UETH 4);
  prices need <= 5 significant figures (integers always allowed) and <= 6 - szDecimals decimals
  (perps) or 8 - szDecimals (spot); minimum order value 10 USDC (reduce-only exempt).
- Margin: one tier per asset: max leverage ETH 25x, BTC 40x; maintenance margin = half the initial
  margin at max leverage (ETH 2%, BTC 1.25%). Default leverage 20x, capped at the asset's maximum.
- Slippage (bps by order notional in USDC): the same buckets as the Binance plugin (spot <=10k: 5,
  <=100k: 7, <=1M: 13, above: 25; perps 3 / 4 / 8 / 15), from the project's execution-cost table.
- Funding every hour (rows of ``funding:hyperliquid:<symbol>``).
- Keys: spot ``hyperliquid:spot:<token>`` (ccxt names: ETH for UETH); perp margin (the USDC
  "perp" balance) ``hyperliquid:perp-margin:USDC``; positions ``hyperliquid:perp:<symbol>``;
  metrics ``hyperliquid:metric:<name>:<symbol | asset>``. Transfer accounts: ``spot`` and ``perp``
  (aliases ``perps``, ``swap``, ``perp_margin``), as Hyperliquid's usdClassTransfer.
- Reduce-only orders larger than the position are clamped to the position size (as Hyperliquid does).
- Market orders are IOC limits 5 % through the mark (``market_slippage``, as ccxt sends them, live and simulated
  alike): a spot market buy needs ``amount x mark x 1.05`` USDC free when placed (the venue holds it).
"""

from __future__ import annotations

from decimal import Decimal

from basis_core.backtest.cex import CexSpec, FeeRates, FeeSchedule, SlippageModel, perp, spot

PERP_FEES = FeeRates(maker=Decimal("0.00015"), taker=Decimal("0.00045"))
SPOT_FEES = FeeRates(maker=Decimal("0.0004"), taker=Decimal("0.0007"))
LIQUIDATION_FEE = PERP_FEES.taker

SPOT_SLIPPAGE = SlippageModel.from_rows([[10_000, 5], [100_000, 7], [1_000_000, 13], [None, 25]])
PERP_SLIPPAGE = SlippageModel.from_rows([[10_000, 3], [100_000, 4], [1_000_000, 8], [None, 15]])

HYPERLIQUID_SPEC = CexSpec(
    venue="hyperliquid",
    symbols=(
        spot("ETH/USDC", step="0.0001", min_notional="10", sig_figs=5, max_decimals=4),
        perp("ETH/USDC:USDC", step="0.0001", min_notional="10", sig_figs=5, max_decimals=2,
             tiers=((None, 25, "0.02"),)),
        perp("BTC/USDC:USDC", step="0.00001", min_notional="10", sig_figs=5, max_decimals=1,
             tiers=((None, 40, "0.0125"),)),
    ),
    fees=FeeSchedule(spot=SPOT_FEES, perp=PERP_FEES, spot_fee_asset="received", perp_fee_asset="settle",
                     liquidation=LIQUIDATION_FEE),
    slippage={"spot": SPOT_SLIPPAGE, "perp": PERP_SLIPPAGE},
    funding_interval_hours=1,
    margin_assets=("USDC",),
    accounts={"spot": "spot", "perp": "margin", "perps": "margin", "swap": "margin", "perp_margin": "margin"},
    spot_kind="spot",
    margin_kind="perp-margin",
    time_in_force=("GTC", "IOC"),
    default_leverage=Decimal(20),
    reduce_only_clamp=True,
    market_slippage=Decimal("0.05"),
)
