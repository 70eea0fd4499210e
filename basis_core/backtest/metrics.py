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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

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
        keep = (executions["success"] & (executions["operation"] != "atomic")).fillna(False).astype(bool)  # NA: out
        ok = executions if keep.all() else executions[keep]  # every record kept: the same rows, no copy
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


class ExchangeBlock(NamedTuple):
    """Exchanges within a strategy's book (trades with no price of their own, e.g. spot trades) of one kind, as
    columns: for :func:`pnl_by_strategy`, the same as one ``(step, strategy, {key: change}, {})`` event per row, at
    position ``seqs[r]`` of the sequence of all strategy events (``own`` fills the positions the blocks leave)."""

    steps: Sequence[int]  # the step of each row
    seqs: Sequence[int]  # each row's position among all strategy events (ascending)
    labels: Sequence[str]  # each row's strategy
    keys: tuple[str, ...]  # the position keys of every row
    values: Sequence[Sequence[float]]  # per key, its change in each row (floats of the changes)


#: a chunk of held-position changes applied in one pass (numpy, a running sum per strategy and key) rather than row
#: by row
_BULK = 32


def pnl_by_strategy(px: pd.DataFrame,
                    own: Iterable[tuple[int, str, Mapping[str, Any], Mapping[str, float] | None]],
                    accruals: Iterable[tuple[int, float, Iterable[str]]], total_pnl: float,
                    exchanges: Iterable[ExchangeBlock] = ()) -> dict[str, float]:
    """Approximate PnL per strategy (USD).

    ``px``: unit prices per step (:func:`unit_prices`). ``own``: ``(step, strategy, position deltas, costs)``
    for a strategy's capital (``costs`` None: valued at ``px`` when added) and for every successful execution it
    made (``costs``: entry prices of its perp keys, NaN for ``px``; its other changes are exchanges within the
    strategy's book). ``accruals``: ``(step, USD value, keys touched)`` of funding and interest. ``exchanges``:
    more exchanges within strategies' books as columns (:class:`ExchangeBlock`), interleaved with ``own``.

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
    own = list(own)
    blocks = [b for b in exchanges if len(b.steps)]
    own_seq: Sequence[int] = range(len(own))
    first: dict[str, int] = {}  # each strategy's first event: the order of the result
    if blocks:
        taken = np.zeros(len(own) + sum(len(b.steps) for b in blocks), dtype=bool)
        for b in blocks:
            taken[np.asarray(b.seqs, dtype=np.int64)] = True
            for label in set(b.labels):
                at = b.seqs[list(b.labels).index(label)]
                if at < first.get(label, at + 1):
                    first[label] = at
        own_seq = np.flatnonzero(~taken).tolist()
    for i, (_, name, _, _) in enumerate(own):
        if name not in first or own_seq[i] < first[name]:
            first[name] = own_seq[i]
    names = {name: a for a, name in enumerate(sorted(first, key=first.__getitem__))}
    if not names or n == 0:
        return {"unattributed": float(total_pnl)}
    # events in time order; at one step the accruals (made while the clock advanced) come before the trades
    events: list[tuple[int, int, int, Any, Any]] = [
        (min(step, n - 1), 1, own_seq[i], names[name], (positions, fills))
        for i, (step, name, positions, fills) in enumerate(own)]
    for seq, (step, usd, touched) in enumerate(accruals):
        events.append((min(step, n - 1), 0, seq, usd, touched))
    events.sort()  # by (step, kind, seq): unique per event, so the comparison never reaches the payloads
    # held and value as Python floats (the same IEEE arithmetic as numpy's, a tenth of its per-element cost);
    # numpy for the few vector steps (accrual shares, the final mark)
    held = [[0.0] * len(keys) for _ in names]
    value = [0.0] * len(names)
    accruing = np.array([k.split(":")[1] in ("perp", "supplied", "debt") for k in keys])
    venue_of = np.array([_venue_of(k) for k in keys])
    # the blocks' changes of held keys, in event order (step, then position): applied before each event they precede
    # (every position and accrual number is below ``span``)
    span = max(len(own) + sum(len(b.steps) for b in blocks), len(events)) + 1
    ch_key, ch_a, ch_j, ch_v = _block_changes(blocks, names, col, n, span)
    m = len(ch_key)
    p = 0
    if m:
        upto = np.searchsorted(ch_key, [(step * 2 + kind) * span + seq for step, kind, seq, _, _ in events],
                               side="left").tolist()
    for e, (step, kind, _, a, b) in enumerate(events):
        if m and upto[e] > p:
            q = upto[e]
            _apply_changes(held, ch_a, ch_j, ch_v, p, q)
            p = q
        if kind == 1:
            positions, costs = b
            row = held[a]
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
    if p < m:
        _apply_changes(held, ch_a, ch_j, ch_v, p, m)
    value = (np.array(value) + (np.array(held).reshape(len(names), len(keys)) * prices[-1]).sum(axis=1)).tolist()
    out = {name: float(value[i]) for name, i in names.items()}
    out["unattributed"] = float(total_pnl) - sum(out.values())
    return out


def _block_changes(blocks: list[ExchangeBlock], names: Mapping[str, int], col: Mapping[str, int], n: int,
                   span: int) -> tuple[Any, Any, Any, Any]:
    """The held-key changes of ``blocks`` sorted by event order: ``(order key, strategy, key column, change)``
    arrays; the order key of a change at step ``s``, position ``q`` is ``(2 s + 1) span + q``, below an event's
    ``(2 s + kind) span + seq`` exactly when the change precedes the event (every ``q`` and ``seq`` below
    ``span``)."""
    parts: list[tuple[Any, Any, Any, Any]] = []
    for b in blocks:
        steps = np.minimum(np.asarray(b.steps, dtype=np.int64), n - 1)
        order = (steps * 2 + 1) * span + np.asarray(b.seqs, dtype=np.int64)
        who = np.array([names[label] for label in b.labels], dtype=np.int64)
        for key, vals in zip(b.keys, b.values, strict=True):
            jk = col.get(key)
            if jk is not None:
                parts.append((order, who, np.full(len(order), jk, dtype=np.int64), np.asarray(vals, dtype=float)))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0)
    okey, a, j, v = (np.concatenate([p[i] for p in parts]) for i in range(4))
    srt = np.argsort(okey, kind="stable")
    return okey[srt], a[srt], j[srt], v[srt]


def _apply_changes(held: list[list[float]], a: Any, j: Any, v: Any, p: int, q: int) -> None:
    """Add the changes ``p`` to ``q`` to ``held`` in their order (per strategy and key a running sum, the same
    float additions one by one or in a numpy accumulation)."""
    if q - p < _BULK:
        for aa, jj, vv in zip(a[p:q].tolist(), j[p:q].tolist(), v[p:q].tolist(), strict=True):
            held[aa][jj] += vv
        return
    group = a[p:q] * (int(j.max()) + 1) + j[p:q]
    srt = np.argsort(group, kind="stable")  # each strategy and key's changes, in their order
    g = group[srt]
    vals = v[p:q][srt]
    cuts = [0, *(np.flatnonzero(np.diff(g)) + 1).tolist(), len(g)]
    width = int(j.max()) + 1
    for c0, c1 in itertools.pairwise(cuts):
        aa, jj = divmod(int(g[c0]), width)
        row = held[aa]
        # a running sum from the current value: np.add.accumulate adds in order, as row[jj] += each would
        row[jj] = float(np.add.accumulate(np.concatenate(([row[jj]], vals[c0:c1])))[-1])


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


__all__ = ["STABLE_ASSETS", "ExchangeBlock", "downsample", "downsample_extremes", "exposure_shares", "performance",
           "periods_per_year", "pnl_by_strategy", "pnl_by_venue", "price_pnl_by_key", "risk_metrics", "unit_prices"]
