"""Estimators that calibrate and check the square-root slippage model on candle data (pure, numpy floats).

Used by the calibration test on real data and by ``bench/calibrate_slippage.py``; the backtest itself computes
with exact Decimals in :mod:`basis_core.backtest.cex.impact`. Inputs are 1-D float arrays of one market's
candles in time order (high, low, close, quote volume).
"""

from __future__ import annotations

import math

import numpy as np

#: 1 / sqrt(4 ln 2) as a float
PARKINSON_F = 1 / math.sqrt(4 * math.log(2))


def parkinson(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Per-candle Parkinson volatility ``ln(high / low) / sqrt(4 ln 2)``."""
    return np.log(high / low) * PARKINSON_F


def volatility_ratio(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> float:
    """RMS Parkinson volatility over the standard deviation of close-to-close log returns: about 1 when the
    candle range measures the volatility the model needs (Parkinson is unbiased for a driftless diffusion)."""
    p = parkinson(high, low)
    r = np.diff(np.log(close))
    return float(np.sqrt(np.mean(p**2)) / np.std(r))


def abdi_ranaldo_spread(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> tuple[float, float]:
    """The effective spread (fraction of the price) from close, high and low (Abdi and Ranaldo 2017,
    "A simple estimation of bid-ask spreads from daily close, high, and low prices"):
    ``S^2 = 4 E[(c_t - eta_t)(c_t - eta_{t+1})]`` with ``c`` the log close and ``eta`` the log mid-range.
    Returns ``(estimate, upper)``: the estimate (0 when the mean is negative: below what the candles resolve)
    and a one-sided 95 % upper bound, ``sqrt(max(mean + 1.645 x standard error, 0))``."""
    c = np.log(close)
    eta = (np.log(high) + np.log(low)) / 2
    s2 = 4 * (c[:-1] - eta[:-1]) * (c[:-1] - eta[1:])
    mean = float(s2.mean())
    se = float(s2.std(ddof=1) / math.sqrt(len(s2)))
    return math.sqrt(max(mean, 0.0)), math.sqrt(max(mean + 1.645 * se, 0.0))


def aggregate(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
              k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candles of ``k`` consecutive candles (a trailing remainder is dropped): max high, min low, last close,
    summed volume."""
    n = len(high) // k * k
    return (high[:n].reshape(-1, k).max(axis=1), low[:n].reshape(-1, k).min(axis=1), close[k - 1:n:k],
            volume[:n].reshape(-1, k).sum(axis=1))


def impact_bps(high: np.ndarray, low: np.ndarray, volume: np.ndarray, notional: float,
               coefficient: float = 1.0) -> np.ndarray:
    """The model's impact part ``Y x sigma x sqrt(notional / volume)`` in basis points, per candle (candles
    without volume are left out)."""
    ok = volume > 0
    return coefficient * parkinson(high[ok], low[ok]) * np.sqrt(notional / volume[ok]) * 1e4


__all__ = ["PARKINSON_F", "abdi_ranaldo_spread", "aggregate", "impact_bps", "parkinson", "volatility_ratio"]
