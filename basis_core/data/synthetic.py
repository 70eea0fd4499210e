"""The seeded synthetic market: the project's own default data (no downloads). Same seed, same data.

Hourly ETH and BTC spot (correlated GBM candles), perp marks with an OU basis for Binance and
Hyperliquid, funding (Binance every 8 h at 00/08/16 UTC, Hyperliquid hourly; mean ~10%/yr, positive:
longs pay shorts), Aave daily reserve snapshots (indices grown from OU rates), the ETH/USD oracle,
wstETH / weETH exchange rates (~3%/yr), and gas prices. Values are Decimals with fixed decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from basis_core.data.provider import DataProvider
from basis_core.data.series import Series

HOUR_NS = 3_600_000_000_000
YEAR_HOURS = 365 * 24


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of the synthetic market (documented defaults)."""

    seed: int = 7
    start: str = "2025-01-01T00:00:00Z"
    hours: int = YEAR_HOURS + 1
    eth_start: float = 3300.0
    btc_start: float = 95000.0
    eth_vol: float = 0.65          # annualised
    btc_vol: float = 0.50
    correlation: float = 0.8
    funding_8h_mean: float = 0.0001    # per 8h interval (~11% a year)
    funding_8h_vol: float = 0.00008
    basis_mean: float = 0.0004         # perp mark / spot - 1
    wsteth_rate_start: float = 1.2050  # ETH per wstETH
    weeth_rate_start: float = 1.0650
    lst_apr: float = 0.03


def _dec(values: np.ndarray, places: int) -> list[Decimal]:
    fmt = f"{{:.{places}f}}"
    return [Decimal(fmt.format(v)) for v in values.tolist()]


def _ou(rng: np.random.Generator, n: int, mean: float, vol: float, kappa: float = 0.02) -> np.ndarray:
    x = np.empty(n)
    x[0] = mean
    shocks = rng.standard_normal(n) * vol
    for i in range(1, n):
        x[i] = x[i - 1] + kappa * (mean - x[i - 1]) + shocks[i] * np.sqrt(2 * kappa)
    return x


def _candles(name: str, times: list[int], close: np.ndarray, rng: np.random.Generator) -> Series:
    openp = np.concatenate([[close[0]], close[:-1]])
    wiggle = np.abs(rng.standard_normal(len(close))) * 0.002
    high = np.maximum(openp, close) * (1 + wiggle)
    low = np.minimum(openp, close) * (1 - wiggle * 0.9)
    return Series(name, times, {"open": _dec(openp, 2), "high": _dec(high, 2), "low": _dec(low, 2),
                                "close": _dec(close, 2)})


def synthetic_market(spec: SyntheticSpec | None = None, **overrides: object) -> DataProvider:
    """Generate the synthetic market (``overrides`` replace fields of :class:`SyntheticSpec`)."""
    spec = spec or SyntheticSpec()
    if overrides:
        spec = SyntheticSpec(**{**spec.__dict__, **overrides})  # type: ignore[arg-type]
    rng = np.random.default_rng(spec.seed)
    n = spec.hours
    t0 = int(pd.Timestamp(spec.start).value)
    times = [t0 + i * HOUR_NS for i in range(n)]
    dt = 1 / YEAR_HOURS

    z1 = rng.standard_normal(n)
    z2 = spec.correlation * z1 + np.sqrt(1 - spec.correlation**2) * rng.standard_normal(n)
    z1[0] = z2[0] = 0.0
    eth = spec.eth_start * np.exp(np.cumsum(spec.eth_vol * np.sqrt(dt) * z1 - 0.5 * spec.eth_vol**2 * dt))
    btc = spec.btc_start * np.exp(np.cumsum(spec.btc_vol * np.sqrt(dt) * z2 - 0.5 * spec.btc_vol**2 * dt))
    eth_usdc = eth * (1 + rng.standard_normal(n) * 0.0001)

    out: list[Series] = [
        _candles("spot:ETH/USDT", times, eth, rng),
        _candles("spot:BTC/USDT", times, btc, rng),
        _candles("spot:ETH/USDC", times, eth_usdc, rng),
        Series("oracle:ETH/USD", times, {"price": _dec(eth, 2)}),
        Series("oracle:BTC/USD", times, {"price": _dec(btc, 2)}),
    ]
    for venue, base_px, symbol in (("binance", eth, "ETH/USDT:USDT"), ("binance", btc, "BTC/USDT:USDT"),
                                   ("hyperliquid", eth, "ETH/USDC:USDC"), ("hyperliquid", btc, "BTC/USDC:USDC")):
        basis = _ou(rng, n, spec.basis_mean, 0.0003)
        out.append(_candles(f"perp:{venue}:{symbol}", times, base_px * (1 + basis), rng))
    # funding: Binance 8h at 00/08/16, Hyperliquid hourly (the 8h rate / 8)
    f8 = _ou(rng, n, spec.funding_8h_mean, spec.funding_8h_vol, kappa=0.01)
    eight = [i for i in range(n) if (times[i] // HOUR_NS) % 8 == 0]
    for symbol in ("ETH/USDT:USDT", "BTC/USDT:USDT"):
        out.append(Series(f"funding:binance:{symbol}", [times[i] for i in eight],
                          {"rate": _dec(np.array([f8[i] for i in eight]), 8)}))
    for symbol in ("ETH/USDC:USDC", "BTC/USDC:USDC"):
        out.append(Series(f"funding:hyperliquid:{symbol}", times, {"rate": _dec(f8 / 8, 10)}))

    # LST exchange rates grow at ~lst_apr with small noise; hourly
    growth = np.exp(np.cumsum(np.full(n, spec.lst_apr * dt) + rng.standard_normal(n) * 0.00002))
    growth /= growth[0]
    out.append(Series("lst:wstETH", times, {"rate": _dec(spec.wsteth_rate_start * growth, 12)}))
    out.append(Series("lst:weETH", times, {"rate": _dec(spec.weeth_rate_start * growth, 12)}))

    # gas: lognormal base fee around 8 gwei, priority ~0.5 gwei
    base = np.exp(_ou(rng, n, np.log(8.0), 0.15, kappa=0.05))
    prio = np.abs(rng.standard_normal(n) * 0.3) + 0.1
    out.append(Series("gas", times, {"base_fee_gwei": _dec(base, 4), "priority_fee_gwei": _dec(prio, 4),
                                     "gas_price_gwei": _dec(base + prio, 4)}))

    # Aave daily snapshots: APRs as OU, indices grown by the previous day's rate
    days = list(range(0, n, 24))
    dtimes = [times[i] for i in days]
    for asset, borrow_mean, util, price in (
        ("WETH", 0.027, 0.80, eth), ("USDT", 0.065, 0.85, np.ones(n)), ("USDC", 0.062, 0.85, np.ones(n)),
        ("wstETH", 0.003, 0.05, eth * spec.wsteth_rate_start * growth),
        ("weETH", 0.004, 0.08, eth * spec.weeth_rate_start * growth),
    ):
        b = np.abs(_ou(rng, len(days), borrow_mean, borrow_mean * 0.15, kappa=0.1))
        s_rate = b * util * 0.9
        li = np.empty(len(days))
        vi = np.empty(len(days))
        li[0], vi[0] = 1.0 + borrow_mean, 1.0 + borrow_mean * 1.5
        for k in range(1, len(days)):
            li[k] = li[k - 1] * (1 + s_rate[k - 1] / 365)
            vi[k] = vi[k - 1] * np.exp(b[k - 1] / 365)
        out.append(Series(f"aave:{asset}", dtimes, {
            "liquidity_index": _dec(li, 18), "variable_borrow_index": _dec(vi, 18),
            "liquidity_rate": _dec(s_rate, 10), "variable_borrow_rate": _dec(b, 10),
            "price": _dec(np.array([price[i] for i in days]), 2),
        }))
    return DataProvider(out, name=f"synthetic(seed={spec.seed})")
