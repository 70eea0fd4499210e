"""Performance and attribution metrics of a backtest (pure functions over the result's frames).

Annualisation: the run's step returns ``r_t = equity_t / equity_(t-1) - 1`` are scaled by the number of
steps in a year, ``periods_per_year = 365.25 days / step`` (8,766 for a 1-hour step, 525,960 for 1 minute):
the market trades around the clock, so calendar time is the clock. The risk-free rate is 0.

- volatility = std(r, ddof=1) x sqrt(periods_per_year)
- Sharpe = mean(r) / std(r, ddof=1) x sqrt(periods_per_year)
- Sortino = mean(r) / downside deviation x sqrt(periods_per_year), downside deviation = sqrt(mean(min(r, 0)^2))
- Calmar = annualised return / max drawdown (compounded annual growth; NaN without a drawdown)

A metric that cannot be computed (fewer than two steps, no variation, no downside) is NaN (``null`` in JSON).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

_YEAR_SECONDS = 365.25 * 24 * 3600

#: stable assets (valued at about 1 USD): not counted as exposure in leverage / net delta
STABLE_ASSETS = frozenset({"USDT", "USDC", "DAI", "USD", "USDS", "FDUSD", "USDe", "GHO", "LUSD", "FRAX"})


def periods_per_year(step: pd.Timedelta) -> float:
    """Steps in a year of 365.25 days."""
    return _YEAR_SECONDS / step.total_seconds()


def _nan_to_none(x: float) -> float | None:
    return None if x is None or math.isnan(x) or math.isinf(x) else float(x)


def performance(equity: pd.Series, step: pd.Timedelta, annualised_return: float,
                max_drawdown: float) -> dict[str, float | None]:
    """Volatility, Sharpe, Sortino and Calmar (see the module docstring) of an equity curve sampled every
    ``step``; NaN-free (``None`` where undefined)."""
    ppy = periods_per_year(step)
    eq = equity.to_numpy(dtype=float)
    if len(eq) < 3 or (eq[:-1] <= 0).any():
        return {"volatility": None, "sharpe": None, "sortino": None, "calmar": None, "periods_per_year": ppy}
    r = eq[1:] / eq[:-1] - 1.0
    mean = float(r.mean())
    sd = float(r.std(ddof=1))
    down = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
    root = math.sqrt(ppy)
    return {
        "volatility": _nan_to_none(sd * root),
        "sharpe": _nan_to_none(mean / sd * root) if sd > 0 else None,
        "sortino": _nan_to_none(mean / down * root) if down > 0 else None,
        "calmar": _nan_to_none(annualised_return / max_drawdown) if max_drawdown > 0 else None,
        "periods_per_year": ppy,
    }


def _venue_of(key: str) -> str:
    return key.partition(":")[0]


def price_pnl_by_key(positions: pd.DataFrame, exposures: pd.DataFrame) -> pd.Series:
    """Mark-to-market PnL of holding each key from one step to the next, summed over the run (USD):
    ``sum_t position_(t-1) x (price_t - price_(t-1))`` with ``price = exposure / position`` (the valuation's
    own per-unit USD value). Accruals that change a balance are not price PnL (they are booked by component)."""
    keys = [k for k in exposures.columns if k in positions.columns]
    if len(positions) < 2 or not keys:
        return pd.Series(0.0, index=keys, dtype=float)
    pos = positions[keys]
    exp = exposures[keys]
    with np.errstate(divide="ignore", invalid="ignore"):
        px = (exp / pos).where(pos != 0)
    px = px.ffill().bfill()
    pnl = (pos.shift(1) * px.diff()).fillna(0.0)
    return pnl.sum()


def pnl_by_venue(positions: pd.DataFrame, exposures: pd.DataFrame, executions: pd.DataFrame,
                 total_pnl: float) -> dict[str, float]:
    """Approximate PnL per venue (USD): the price PnL of the venue's keys plus every PnL component booked by the
    venue's executions and accruals; ``other`` is what neither explains (staking yield of held LSTs, residuals),
    so the values add up to ``total_pnl``."""
    out: dict[str, float] = {}
    for key, v in price_pnl_by_key(positions, exposures).items():
        out[_venue_of(str(key))] = out.get(_venue_of(str(key)), 0.0) + float(v)
    if len(executions):
        ok = executions[executions["success"] & (executions["operation"] != "atomic")]
        comp_cols = [c for c in ok.columns if c.startswith("pnl_")]
        if comp_cols:
            per = ok.groupby("venue")[comp_cols].sum().sum(axis=1)
            for venue, v in per.items():
                out[str(venue)] = out.get(str(venue), 0.0) + float(v)
    out = {k: v for k, v in sorted(out.items()) if abs(v) > 1e-9}
    out["other"] = float(total_pnl) - sum(out.values())
    return out


def unit_prices(positions: pd.DataFrame, exposures: pd.DataFrame, extra: Iterable[str] = ()) -> pd.DataFrame:
    """USD value of one unit of each key per step (``exposure / position``), carried over steps where the
    position is zero. ``extra`` keys never held at a step's end (a wallet balance passed through within a step)
    take the unit price of another non-perp key of the same asset (negated for debt); without one they are
    left out."""
    keys = [k for k in exposures.columns if k in positions.columns]
    with np.errstate(divide="ignore", invalid="ignore"):
        px = (exposures[keys] / positions[keys]).where(positions[keys] != 0)
    px = px.ffill().bfill().fillna(0.0)
    by_asset: dict[str, pd.Series] = {}
    for k in keys:
        _, kind, asset = k.split(":", 2)
        if kind != "perp" and asset not in by_asset and (px[k] != 0).any():
            by_asset[asset] = px[k].abs()
    for k in extra:
        if k in px.columns or k.count(":") < 2:
            continue
        _, kind, asset = k.split(":", 2)
        if kind != "perp" and asset in by_asset:
            px[k] = -by_asset[asset] if kind == "debt" else by_asset[asset]
    return px


def pnl_by_strategy(px: pd.DataFrame,
                    own: Iterable[tuple[int, str, Mapping[str, Any], Mapping[str, float] | None]],
                    accruals: Iterable[tuple[int, float, Iterable[str]]], total_pnl: float) -> dict[str, float]:
    """Approximate PnL per strategy (USD).

    ``px``: unit prices per step (:func:`unit_prices`). ``own``: ``(step, strategy, position deltas, costs)``
    for a strategy's capital (``costs`` None: valued at ``px`` when added) and for every successful execution it
    made (``costs``: entry prices of its perp keys, NaN for ``px``; its other changes are exchanges within the
    strategy's book). ``accruals``: ``(step, USD value, keys touched)`` of funding and interest.

    A strategy's PnL = the value now of what its capital and executions left it holding (perps: size x (mark -
    entry)) - its capital's value when added + its share of each accrual, split by its share (in USD) of the
    venue's accruing positions (perps, supplied, debt) at that step. ``unattributed`` (scheduled instructions,
    staking yield of shared LST balances, flash-loan fees booked on the bundle, residuals) makes the values
    add up to ``total_pnl``.
    """
    keys = list(px.columns)
    col = {k: j for j, k in enumerate(keys)}
    prices = px.to_numpy(dtype=float)
    n = len(prices)
    names: dict[str, int] = {}
    # events in time order; at one step the accruals (made while the clock advanced) come before the trades
    events: list[tuple[int, int, int, Any, Any]] = []
    for seq, (step, name, positions, fills) in enumerate(own):
        events.append((min(step, n - 1), 1, seq, names.setdefault(name, len(names)), (positions, fills)))
    if not names or n == 0:
        return {"unattributed": float(total_pnl)}
    for seq, (step, usd, touched) in enumerate(accruals):
        events.append((min(step, n - 1), 0, seq, usd, touched))
    events.sort()  # by (step, kind, seq): unique per event, so the comparison never reaches the payloads
    # held and value as Python floats (the same IEEE arithmetic as numpy's, a tenth of its per-element cost);
    # numpy for the few vector steps (accrual shares, the final mark)
    held = [[0.0] * len(keys) for _ in names]
    value = [0.0] * len(names)
    accruing = np.array([k.split(":")[1] in ("perp", "supplied", "debt") for k in keys])
    venue_of = np.array([_venue_of(k) for k in keys])
    # float of a change by value: a run repeats many (the same amount, the same fill); a zero is converted anew
    # (Decimal("-0") == Decimal("0"), their floats differ in sign)
    floats: dict[Any, float] = {}
    float_of = floats.get
    for step, kind, _, a, b in events:
        if kind == 1:
            positions, costs = b
            row = held[a]
            if costs is not None and not costs:  # an exchange within the strategy's book: holdings only
                for k, v in positions.items():
                    j = col.get(k)
                    if j is not None:
                        f = float_of(v)
                        if not f:  # not seen yet (None), or zero
                            f = floats[v] = float(v)
                        row[j] += f
                continue
            for k, v in positions.items():
                j = col.get(k)
                if j is None:
                    continue
                row[j] += float(v)
                if costs is None or k in costs:  # capital, or a perp valued from its entry price
                    c = prices[step, j] if costs is None or math.isnan(costs[k]) else costs[k]
                    value[a] -= float(v) * c
            continue
        mask = accruing & np.isin(venue_of, list({_venue_of(k) for k in b}))
        if not mask.any():
            continue
        shares = np.abs(np.array(held)[:, mask] * prices[step, mask]).sum(axis=1)
        tot = shares.sum()
        if tot > 0:
            value = (np.array(value) + a * shares / tot).tolist()
    value = (np.array(value) + (np.array(held).reshape(len(names), len(keys)) * prices[-1]).sum(axis=1)).tolist()
    out = {name: float(value[i]) for name, i in names.items()}
    out["unattributed"] = float(total_pnl) - sum(out.values())
    return out


def risk_metrics(balances: Mapping[str, Any]) -> dict[str, float]:
    """Health factor, LTV and margin ratio(s) in a venue's ``get_balances`` answer (its ``<venue>:metric:...``
    keys): ``<venue>:health_factor`` (left out without debt: infinite), ``<venue>:ltv``,
    ``<venue>:margin_ratio:<asset>`` (maintenance margin / margin balance)."""
    out: dict[str, float] = {}
    for key, value in balances.items():
        if "metric" not in key:  # not a metric key (most of a book): no split
            continue
        venue, kind, name = key.partition(":")[0], *key.split(":", 2)[1:]
        if kind != "metric":
            continue
        metric, _, asset = name.partition(":")
        if metric in ("health_factor", "ltv"):
            if metric == "health_factor" and balances.get(f"{venue}:metric:debt_usd", 1) == 0:
                continue  # no debt: the health factor is infinite
            out[f"{venue}:{metric}"] = float(value)
        elif metric == "margin_ratio" and asset:
            out[f"{venue}:margin_ratio:{asset}"] = float(value)
    return out


def exposure_shares(exposures: pd.DataFrame, equity: pd.Series) -> pd.DataFrame:
    """Per step: ``leverage`` = gross exposure / equity (gross: the absolute USD exposure of every perp,
    debt and non-stable holding; stablecoin cash is not exposure) and ``net_delta`` = net USD exposure to
    non-stable assets / equity (perps signed, debts negative)."""
    risky = [c for c in exposures.columns
             if c.split(":")[1] in ("perp", "debt") or c.split(":", 2)[2] not in STABLE_ASSETS]
    net_cols = [c for c in risky if c.split(":")[1] == "perp" or c.split(":", 2)[2] not in STABLE_ASSETS]
    eq = equity.where(equity > 0)
    gross = exposures[risky].abs().sum(axis=1) if risky else pd.Series(0.0, index=exposures.index)
    net = exposures[net_cols].sum(axis=1) if net_cols else pd.Series(0.0, index=exposures.index)
    return pd.DataFrame({"leverage": gross / eq, "net_delta": net / eq}, index=exposures.index)


def downsample(frame: pd.DataFrame | pd.Series, max_points: int = 2000) -> Any:
    """At most ``max_points`` rows, evenly spaced, always keeping the first and last (for plots)."""
    n = len(frame)
    if n <= max_points:
        return frame
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return frame.iloc[idx]


def downsample_extremes(series: pd.Series, max_points: int = 2000) -> pd.Series:
    """At most about ``max_points`` rows keeping each bucket's minimum and maximum (drawdowns and spikes stay
    visible in a plot of a long run)."""
    n = len(series)
    if n <= max_points:
        return series
    buckets = max(1, max_points // 2)
    edges = np.linspace(0, n, buckets + 1).astype(int)
    vals = series.to_numpy(dtype=float)
    keep: list[int] = []
    for a, b in itertools.pairwise(edges):
        if b <= a:
            continue
        chunk = vals[a:b]
        if np.isnan(chunk).all():
            keep.append(a)
            continue
        i, j = a + int(np.nanargmin(chunk)), a + int(np.nanargmax(chunk))
        keep.extend(sorted({i, j}))
    keep = sorted({0, *keep, n - 1})
    return series.iloc[keep]


__all__ = ["STABLE_ASSETS", "downsample", "downsample_extremes", "exposure_shares", "performance",
           "periods_per_year", "pnl_by_strategy", "pnl_by_venue", "price_pnl_by_key", "risk_metrics", "unit_prices"]
