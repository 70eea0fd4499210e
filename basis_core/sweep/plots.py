"""The sweep's picture: a heat-map of the ranking metric over two swept keys, parallel coordinates for
three or more (one line per variant, coloured by the metric), the metric against the key for one.

matplotlib is imported lazily (Agg canvas, no pyplot); :func:`plot_sweep` returns None with a reason
logged when it is not installed or there is nothing to draw.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

MATPLOTLIB_MISSING = "matplotlib is not installed (pip install 'basis-execution[report]'): no sweep picture"


def _axis(values: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Positions (0..n-1) of a parameter's values and their labels, numbers in numeric order."""
    uniq = list(dict.fromkeys(values.tolist()))
    try:
        uniq = sorted(uniq, key=lambda v: (v is None, float(v)))
    except (TypeError, ValueError):
        uniq = sorted(uniq, key=str)
    pos = {json_key(v): i for i, v in enumerate(uniq)}
    return np.array([pos[json_key(v)] for v in values.tolist()], dtype=float), uniq


def json_key(v: Any) -> str:
    return repr(v)


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_sweep(df: pd.DataFrame, keys: Sequence[str], metric: str | None, path: str | Path) -> Path | None:
    """Draw the sweep's picture into ``path``; None (and the reason logged) when there is none to draw."""
    if metric is None or not keys:
        log.info("no sweep picture: %s", "no ranking metric" if metric is None else "no key takes two values")
        return None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log.warning(MATPLOTLIB_MISSING)
        return None
    name = metric.lstrip("-")
    ok = df[df["status"] == "ok"]
    if not len(ok):
        log.info("no sweep picture: no variant succeeded")
        return None
    values = pd.to_numeric(ok[name], errors="coerce")
    if len(keys) == 1:
        _line(ok, keys[0], values, name, path)
    elif len(keys) == 2:
        _heatmap(ok, keys, values, name, path)
    else:
        _parallel(ok, keys, values, name, path)
    return Path(path)


def _line(ok: pd.DataFrame, key: str, values: pd.Series, name: str, path: str | Path) -> None:
    fig = _figure(8, 4.5)
    ax = fig.add_subplot()
    x, labels = _axis(ok[key])
    order = np.argsort(x, kind="stable")
    ax.plot(x[order], values.to_numpy()[order], marker="o")
    ax.set_xticks(range(len(labels)), [str(v) for v in labels], rotation=30, ha="right")
    ax.set_xlabel(key)
    ax.set_ylabel(name)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"sweep: {name} by {key}", fontsize=10)
    fig.savefig(path)


def _heatmap(ok: pd.DataFrame, keys: Sequence[str], values: pd.Series, name: str, path: str | Path) -> None:
    kx, ky = keys[0], keys[1]
    x, xl = _axis(ok[kx])
    y, yl = _axis(ok[ky])
    grid = np.full((len(yl), len(xl)), np.nan)
    counts = np.zeros_like(grid)
    for xi, yi, v in zip(x.astype(int), y.astype(int), values.to_numpy(), strict=True):
        if np.isnan(v):
            continue
        grid[yi, xi] = v if counts[yi, xi] == 0 else grid[yi, xi] + v
        counts[yi, xi] += 1
    with np.errstate(invalid="ignore"):
        grid = np.where(counts > 0, grid / np.maximum(counts, 1), np.nan)
    fig = _figure(max(6, 1.1 * len(xl) + 3), max(4, 0.6 * len(yl) + 2))
    ax = fig.add_subplot()
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(im, ax=ax, label=name + (" (mean over other keys)" if counts.max() > 1 else ""))
    ax.set_xticks(range(len(xl)), [str(v) for v in xl], rotation=30, ha="right")
    ax.set_yticks(range(len(yl)), [str(v) for v in yl])
    ax.set_xlabel(kx)
    ax.set_ylabel(ky)
    finite = grid[np.isfinite(grid)]
    mid = float(np.nanmean(finite)) if finite.size else 0.0
    for (yi, xi), v in np.ndenumerate(grid):
        if np.isfinite(v):
            ax.text(xi, yi, f"{v:.4g}", ha="center", va="center", fontsize=8,
                    color="white" if v < mid else "black")
    ax.set_title(f"sweep: {name}", fontsize=10)
    fig.savefig(path)


def _parallel(ok: pd.DataFrame, keys: Sequence[str], values: pd.Series, name: str, path: str | Path) -> None:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    axes = [*keys, name]
    cols = []
    labels = []
    for k in keys:
        x, lab = _axis(ok[k])
        cols.append(x / max(len(lab) - 1, 1))
        labels.append(lab)
    v = values.to_numpy(dtype=float)
    lo, hi = (float(np.nanmin(v)), float(np.nanmax(v))) if np.isfinite(v).any() else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    cols.append((v - lo) / span)
    data = np.vstack(cols).T
    fig = _figure(max(8, 1.8 * len(axes)), 5)
    ax = fig.add_subplot()
    norm = Normalize(lo, hi)
    cmap = colormaps["viridis"]
    for row, val in sorted(zip(data, v, strict=True), key=lambda rv: (np.isnan(rv[1]), rv[1])):
        ax.plot(range(len(axes)), row, color=cmap(norm(val)) if np.isfinite(val) else "lightgrey", alpha=0.8, lw=1.2)
    for i, lab in enumerate(labels):
        for j, text in enumerate(lab):
            ax.text(i, j / max(len(lab) - 1, 1), f" {text}", fontsize=7, va="center")
    ax.text(len(axes) - 1, 0, f" {lo:.4g}", fontsize=7, va="center")
    ax.text(len(axes) - 1, 1, f" {hi:.4g}", fontsize=7, va="center")
    ax.set_xticks(range(len(axes)), axes, rotation=20, ha="right", fontsize=8)
    ax.set_yticks([])
    for i in range(len(axes)):
        ax.axvline(i, color="black", lw=0.6)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=name)
    ax.set_title(f"sweep: {name} over {len(keys)} keys ({len(ok)} variants)", fontsize=10)
    fig.savefig(path)


__all__ = ["MATPLOTLIB_MISSING", "plot_sweep"]
