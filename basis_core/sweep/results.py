"""A sweep's results: one record per variant on disk (what makes a sweep resumable), the table of
parameters x metrics, and its ranking.

Layout of the output directory::

    sweep.json                 the sweep: base scenario, grid / variants, seed, and every variant's key
    variants/KEY.yaml          the variant's resolved scenario (``basis backtest variants/KEY.yaml`` reruns it)
    variants/KEY.json          its record, written atomically when it finishes: status, params, metrics,
                               the full backtest summary or the error
    reports/KEY/               the variant's full report (with ``reports=True``)
    results.parquet / .csv     the table, one row per variant in variant order
    ranking.csv                the table sorted by the ranking metric (failed variants last)
    sweep.png                  heat-map (two swept keys), parallel coordinates (more), or a line (one)
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

#: leading columns of the table
ID_COLUMNS = ("variant", "key", "status")
#: ranking metrics tried in order when none is named
DEFAULT_RANKING = ("sharpe", "annualised_return", "return")


class Store:
    """The per-variant records of a sweep in ``out/variants`` (or in memory when ``out`` is None)."""

    def __init__(self, out: str | Path | None) -> None:
        self.out = Path(out) if out is not None else None
        self._mem: dict[str, dict[str, Any]] = {}
        if self.out is not None:
            (self.out / "variants").mkdir(parents=True, exist_ok=True)

    def path(self, key: str, suffix: str = ".json") -> Path:
        assert self.out is not None
        return self.out / "variants" / f"{key}{suffix}"

    def load(self, key: str) -> dict[str, Any] | None:
        """The finished record of ``key``, or None (absent or unreadable: a torn write is not a result)."""
        if self.out is None:
            return self._mem.get(key)
        p = self.path(key)
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return rec if isinstance(rec, dict) and rec.get("key") == key and "status" in rec else None

    def save(self, rec: dict[str, Any]) -> None:
        """Keep ``rec`` (atomically on disk: a temporary file renamed over the final name)."""
        if self.out is None:
            self._mem[rec["key"]] = rec
            return
        p = self.path(rec["key"])
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rec, indent=1, default=str, allow_nan=True) + "\n", encoding="utf-8")
        os.replace(tmp, p)

    def write_text(self, name: str, text: str) -> Path | None:
        if self.out is None:
            return None
        p = self.out / name
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
        return p


def _cell(value: Any) -> Any:
    """A parameter value as a table cell: numbers as float, text as is, lists / mappings as JSON."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal | int | float):
        return float(value)
    return json.dumps(value, default=str, sort_keys=True)


def table(records: Sequence[Mapping[str, Any]], param_keys: Sequence[str]) -> pd.DataFrame:
    """One row per record in variant order: ``variant``, ``key``, ``status``, the parameters (one column per
    swept key), the metrics (the summary's numbers, first-seen order), ``error``. Metrics that are undefined
    for every variant are left out."""
    recs = sorted(records, key=lambda r: r["index"])
    metric_cols: dict[str, None] = {}
    for r in recs:
        for k in r.get("metrics") or {}:
            metric_cols.setdefault(k)
    rows = []
    for r in recs:
        row: dict[str, Any] = {"variant": int(r["index"]), "key": r["key"], "status": r["status"]}
        params = r.get("params") or {}
        for k in param_keys:
            row[k] = _cell(params.get(k))
        metrics = r.get("metrics") or {}
        for k in metric_cols:
            v = metrics.get(k)
            row[f"m:{k}"] = float("nan") if v is None else float(v)
        row["error"] = r.get("error")
        rows.append(row)
    cols = [*ID_COLUMNS, *param_keys, *(f"m:{k}" for k in metric_cols), "error"]
    df = pd.DataFrame(rows, columns=cols)
    # metric columns carry their summary name; the "m:" prefix only kept them apart from parameters
    rename = {f"m:{k}": (k if k not in param_keys and k not in ID_COLUMNS and k != "error" else f"metric:{k}")
              for k in metric_cols}
    df = df.rename(columns=rename)
    empty = [rename[f"m:{k}"] for k in metric_cols if df[rename[f"m:{k}"]].isna().all() and len(df)]
    df = df.drop(columns=empty)
    df["error"] = df["error"].astype("object")
    return df.reset_index(drop=True)


def ranking_metric(df: pd.DataFrame, requested: str | None = None) -> str | None:
    """The metric to rank by: ``requested`` (must be a column), else the first of :data:`DEFAULT_RANKING`
    present with a value."""
    from basis_core.errors import SweepError

    if requested is not None:
        name = requested.lstrip("-")
        if name not in df.columns:
            metrics = [c for c in df.columns if c not in ID_COLUMNS and c != "error"]
            raise SweepError("--rank", f"{name!r} is not a column of the table (columns: {', '.join(metrics)})")
        return requested
    for name in DEFAULT_RANKING:
        if name in df.columns and df[name].notna().any():
            return name
    return None


def rank(df: pd.DataFrame, metric: str | None) -> pd.DataFrame:
    """The table sorted best first by ``metric`` (descending; ``-name`` for ascending, e.g. ``-max_drawdown``),
    ties and undefined values in variant order, failed variants last; a ``rank`` column first."""
    if metric is None or not len(df):
        out = df.copy()
    else:
        ascending = metric.startswith("-")
        name = metric.lstrip("-")
        failed = df["status"] != "ok"
        vals = pd.to_numeric(df[name], errors="coerce")
        key = vals if ascending else -vals
        order = pd.DataFrame({"failed": failed, "nan": vals.isna(), "key": key.fillna(0), "variant": df["variant"]})
        out = df.loc[order.sort_values(["failed", "nan", "key", "variant"], kind="mergesort").index]
    out = out.reset_index(drop=True)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


def write_tables(df: pd.DataFrame, ranked: pd.DataFrame, out: Path) -> dict[str, Path]:
    """``results.parquet``, ``results.csv`` and ``ranking.csv`` in ``out``."""
    files = {"results_csv": out / "results.csv", "ranking": out / "ranking.csv"}
    df.to_csv(files["results_csv"], index=False)
    ranked.to_csv(files["ranking"], index=False)
    try:
        files["results"] = out / "results.parquet"
        df.to_parquet(files["results"], index=False)
    except ImportError:
        files.pop("results")
        log.info("pyarrow is not installed (pip install 'basis-execution[report]'): results.csv only")
    return files


def swept_keys(param_keys: Iterable[str], records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The keys that take more than one value over the records."""
    out = []
    for k in param_keys:
        values = {json.dumps(_cell((r.get("params") or {}).get(k)), default=str) for r in records}
        if len(values) > 1:
            out.append(k)
    return out


def is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and not (isinstance(x, float) and math.isnan(x))


__all__ = ["DEFAULT_RANKING", "ID_COLUMNS", "Store", "rank", "ranking_metric", "swept_keys", "table",
           "write_tables"]
