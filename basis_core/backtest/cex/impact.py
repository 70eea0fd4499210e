"""Square-root market-impact slippage for CEX market orders (pure functions, exact Decimals).

The cost of a market order of notional ``Q`` (quote units at the reference price), as a fraction of the reference
price, is::

    rate = half_spread + Y x sigma x sqrt(Q / V)        (capped at max_bps / 10^4)

- ``half_spread``: half the quoted spread; by default half the market's smallest price increment at the reference
  price (its tick, or the significant-figure increment of Hyperliquid-style markets), else ``half_spread_bps``.
- ``sigma``: the volatility of one candle, Parkinson's estimate from its high and low,
  ``ln(high / low) / sqrt(4 ln 2)`` (root-mean-square over the last ``window`` candles).
- ``V``: the candle's traded volume in quote units (mean over the last ``window`` candles).
- ``Y``: the impact coefficient (``coefficient``), of order 1 (the square-root law: Toth et al. 2011,
  "Anomalous price impact and the critical nature of liquidity"; Bouchaud et al. 2018, "Trades, Quotes and
  Prices", ch. 12).

``sigma x sqrt(Q / V)`` does not depend on the candle length (sigma grows like sqrt(T), V like T), so the model
gives the same cost on 1-minute and 1-hour candles of the same market up to sampling noise; the candle is the one
visible at the order time (closed at or before it: no look-ahead). Calibration and limits: docs/backtest.md
("Slippage"); :mod:`basis_core.backtest.cex.impact_calibration` holds the estimators the calibration uses.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

_BPS = Decimal(10_000)
_ZERO = Decimal(0)
#: the arithmetic of the model's transcendental steps (ln, sqrt): 28 digits, whatever the caller's context
_CTX = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
#: 1 / sqrt(4 ln 2): Parkinson's factor from a high / low range to one standard deviation
PARKINSON = Decimal(1) / _CTX.sqrt(_CTX.multiply(Decimal(4), _CTX.ln(Decimal(2))))
#: rates are rounded to this quantum (1e-10 = 0.000001 bp), so fill prices have a bounded number of digits
RATE_QUANTUM = Decimal("1e-10")

#: names of the model in ``venue_config.<venue>.slippage_model``
SQRT_IMPACT = "sqrt_impact"
BUCKETS = "buckets"


def parkinson_sigma(high: Decimal, low: Decimal) -> Decimal:
    """One candle's volatility (standard deviation of the log return over the candle) from its range:
    ``ln(high / low) / sqrt(4 ln 2)``; 0 for a candle without range. ValueError unless ``high >= low > 0``."""
    if not (low > 0 and high >= low):
        raise ValueError(f"a candle needs high >= low > 0, got high {high}, low {low}")
    if high == low:
        return _ZERO
    return _CTX.multiply(_CTX.ln(_CTX.divide(high, low)), PARKINSON)


def price_increment(price: Decimal, tick: Decimal | None, sig_figs: int | None = None,
                    max_decimals: int | None = None) -> Decimal:
    """The smallest price step of a market at ``price``: its ``tick``, else the step of ``sig_figs`` significant
    figures (never coarser than 1: integers are valid; never finer than ``max_decimals`` decimals); 0 when neither."""
    if tick is not None:
        return tick
    if sig_figs is None or price <= 0:
        return _ZERO
    exp = min(price.adjusted() - sig_figs + 1, 0)  # an integer price is always valid
    if max_decimals is not None:
        exp = max(exp, -max_decimals)
    return Decimal(1).scaleb(exp)


def sqrt_impact_rate(notional: Decimal, volume: Decimal, sigma: Decimal, half_spread: Decimal,
                     coefficient: Decimal, cap: Decimal) -> Decimal:
    """``min(half_spread + coefficient x sigma x sqrt(notional / volume), cap)``, rounded to :data:`RATE_QUANTUM`.

    A candle without volume charges the ``cap`` (nothing traded: no liquidity to measure); a zero notional
    pays the half-spread. All inputs are non-negative fractions / quote amounts. See :func:`impact_rate`."""
    return impact_rate(notional, float(coefficient) * float(sigma), float(volume), half_spread, cap)


def impact_rate(notional: Decimal, scale: float, volume: float, half_spread: Decimal, cap: Decimal) -> Decimal:
    """:func:`sqrt_impact_rate` with ``scale = float(coefficient) x float(sigma)`` and ``volume`` as floats (what
    the simulator memoises per candle). The impact term is computed in IEEE-754 double precision (``*``, ``/``
    and ``sqrt`` are correctly rounded, so every platform gets the same bits), rounded to a whole number of
    :data:`RATE_QUANTUM` and added to the exact half-spread; the rate is a model output, the fill built from it
    is exact Decimal arithmetic."""
    if notional <= 0:
        rate = half_spread
    elif volume <= 0:
        rate = cap
    else:
        rate = half_spread + Decimal(round(scale * math.sqrt(float(notional) / volume) * 1e10)).scaleb(-10)
    if rate > cap:
        rate = cap
    return rate.quantize(RATE_QUANTUM, rounding=decimal.ROUND_HALF_EVEN, context=_CTX)


def window_stats(highs: Sequence[Decimal], lows: Sequence[Decimal], volumes: Sequence[Decimal], end: int,
                 window: int, sigma_of: Any = None) -> tuple[Decimal, Decimal]:
    """``(sigma, volume)`` over the candles ``end - window + 1 .. end`` (those that exist, at least ``end``):
    the root-mean-square of their Parkinson sigmas and the mean of their quote volumes. ``sigma_of(i)`` may
    supply a memoised per-candle sigma."""
    start = max(end - window + 1, 0)
    n = end - start + 1
    sig = sigma_of or (lambda i: parkinson_sigma(highs[i], lows[i]))
    if n == 1:
        return sig(end), volumes[end]
    var = sum((_CTX.multiply(s, s) for s in map(sig, range(start, end + 1))), _ZERO)
    vol = sum((volumes[i] for i in range(start, end + 1)), _ZERO)
    return _CTX.sqrt(_CTX.divide(var, n)), _CTX.divide(vol, n)


@dataclass(frozen=True, slots=True)
class ImpactModel:
    """Parameters of the square-root model (see the module docstring).

    ``half_spread_bps``: None = half the market's price increment at the reference price; ``coefficient``: ``Y``;
    ``max_bps``: the cap of the rate; ``window``: candles averaged for sigma and volume (1 = the candle)."""

    half_spread_bps: Decimal | None = None
    coefficient: Decimal = Decimal(1)
    max_bps: Decimal = Decimal(500)
    window: int = 1

    def __post_init__(self) -> None:
        if self.half_spread_bps is not None and not (0 <= self.half_spread_bps < _BPS):
            raise ValueError("half_spread_bps must be in [0, 10000)")
        if not self.coefficient >= 0:
            raise ValueError("coefficient must be >= 0")
        if not (0 < self.max_bps < _BPS):
            raise ValueError("max_bps must be in (0, 10000)")
        if not (isinstance(self.window, int) and 1 <= self.window <= 10_000):
            raise ValueError("window must be an integer in [1, 10000]")

    @property
    def cap(self) -> Decimal:
        """The largest rate (``max_bps / 10^4``)."""
        return self.max_bps / _BPS

    def half_spread(self, reference: Decimal, increment: Decimal) -> Decimal:
        """Half-spread as a fraction of ``reference``: ``half_spread_bps`` when set, else half of ``increment``."""
        if self.half_spread_bps is not None:
            return self.half_spread_bps / _BPS
        if increment <= 0 or reference <= 0:
            return _ZERO
        return _CTX.divide(increment, reference * 2)

    def rate(self, notional: Decimal, volume: Decimal, sigma: Decimal, half_spread: Decimal) -> Decimal:
        """The slippage rate of an order of ``notional`` in a candle of ``volume`` and ``sigma``."""
        return sqrt_impact_rate(notional, volume, sigma, half_spread, self.coefficient, self.cap)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> ImpactModel:
        """From ``{"half_spread_bps", "coefficient", "max_bps", "window"}`` (all optional); ValueError naming the
        key when a value is unusable or a key unknown."""
        known = {"model", "half_spread_bps", "coefficient", "max_bps", "window"}
        for k in raw:
            if k not in known:
                raise ValueError(f"unknown key {k!r} (known: {', '.join(sorted(known))})")
        kwargs: dict[str, Any] = {}
        for k in ("half_spread_bps", "coefficient", "max_bps"):
            if k in raw and not (k == "half_spread_bps" and raw[k] is None):
                try:
                    v = Decimal(str(raw[k]))
                except (InvalidOperation, ValueError):
                    raise ValueError(f"{k}: not a number: {raw[k]!r}") from None
                if not v.is_finite():
                    raise ValueError(f"{k}: must be finite")
                kwargs[k] = v
        if "window" in raw:
            w = raw["window"]
            if isinstance(w, bool) or not isinstance(w, int):
                raise ValueError(f"window: an integer number of candles, got {w!r}")
            kwargs["window"] = w
        return cls(**kwargs)


__all__ = ["BUCKETS", "PARKINSON", "RATE_QUANTUM", "SQRT_IMPACT", "ImpactModel", "impact_rate", "parkinson_sigma",
           "price_increment", "sqrt_impact_rate", "window_stats"]
