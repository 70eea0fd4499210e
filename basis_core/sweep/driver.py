"""The sweep driver: resolve the variants, skip the finished ones, run the rest on a backend, keep each
record as it arrives, and build the table, the ranking and the picture.

The table is ordered by variant (the grid's product order, or the seeded sample in that order), never by
completion, so the same sweep gives the same table on any backend and any number of workers.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from basis_core.backtest.scenario import Scenario, load_scenario, resolve_scenario
from basis_core.errors import BasisError, SweepError, SweepKeyError
from basis_core.sweep.backends import Backend, make_backend
from basis_core.sweep.keys import variant_key
from basis_core.sweep.progress import ProgressCallback, SweepProgress
from basis_core.sweep.results import Store, rank, ranking_metric, swept_keys, table, write_tables
from basis_core.sweep.spec import (
    Overrides,
    apply_overrides,
    dump_yaml,
    expand,
    iter_keys,
    parse_grid,
    scenario_plain,
    split_key,
)

log = logging.getLogger(__name__)


@dataclass
class Variant:
    """One point of the sweep: its position, overrides, resolved scenario (plain data) and key."""

    index: int
    params: Overrides
    scenario: dict[str, Any] | None
    key: str
    error: str | None = None


@dataclass
class SweepOutcome:
    """What :func:`sweep` produced: ``table`` (variant order), ``ranking`` (best first), the ranking
    ``metric``, the swept ``keys``, the ``files`` written, and how many variants were ``computed``,
    ``reused`` (from an earlier run) and ``failed``; ``interrupted`` when Ctrl-C stopped it."""

    table: pd.DataFrame
    ranking: pd.DataFrame
    metric: str | None
    keys: list[str]
    files: dict[str, Path] = field(default_factory=dict)
    computed: int = 0
    reused: int = 0
    failed: int = 0
    interrupted: bool = False
    picture_note: str | None = None


def _base_scenario(scenario: Scenario | str | Path | Mapping[str, Any] | None,
                   data_dir: str | Path | None) -> dict[str, Any]:
    if isinstance(scenario, Scenario):
        sc = scenario
    elif isinstance(scenario, Mapping):
        sc = load_scenario(scenario)
    else:
        sc = load_scenario(resolve_scenario(scenario))
    plain = scenario_plain(sc)
    if data_dir is not None:
        d = Path(data_dir)
        if not d.is_dir():
            raise SweepError("--data", f"{d} is not a directory")
        plain["market"] = {**plain.get("market", {}), "source": "data_dir", "data_dir": str(d.resolve())}
    return plain


def _variants(grid: Mapping[str, Sequence[Any]] | Sequence[str] | None, variants: Sequence[Overrides] | None,
              sample: int | None, seed: int) -> list[Overrides]:
    if variants is not None:
        if grid:
            raise SweepError("variants", "give a grid or a list of variants, not both")
        if sample is not None:
            raise SweepError("--random", "samples a grid; with an explicit list of variants, pick them yourself")
        out = [dict(v) for v in variants]
        if not out:
            raise SweepError("variants", "the list of variants is empty")
        return out
    if grid is None:
        return [{}]
    g = parse_grid(grid) if not isinstance(grid, Mapping) else {k: list(v) for k, v in grid.items()}
    for k, v in g.items():
        if not v:
            raise SweepError("--grid", f"{k}: no values")
    return expand(g, sample, seed)


def resolve(base: Mapping[str, Any], overrides: Sequence[Overrides], *,
            hash_data: bool = False) -> list[Variant]:
    """Every variant's resolved scenario and key. A key that leads nowhere raises
    :class:`~basis_core.errors.SweepKeyError` (the sweep is wrong); a value the scenario rejects makes that
    variant fail (recorded with the error) while the others run."""
    out = []
    for i, ov in enumerate(overrides):
        plain = apply_overrides(base, ov)
        try:
            resolved = scenario_plain(load_scenario(plain))
        except BasisError as exc:
            _unknown_key(exc, ov)
            out.append(Variant(i, ov, None, variant_key(plain, content=hash_data), f"{type(exc).__name__}: {exc}"))
            continue
        out.append(Variant(i, ov, resolved, variant_key(resolved, content=hash_data)))
    return out


def _unknown_key(exc: BaseException, overrides: Overrides) -> None:
    """Raise :class:`SweepKeyError` when the scenario rejects a swept key itself as an unknown field (e.g. a
    misspelt strategy parameter): that is the sweep's mistake, not one variant's."""
    if getattr(exc, "reason", None) != "unknown field":
        return
    field = str(getattr(exc, "field", ""))
    last = re.split(r"[.\[\]]", field.rstrip("]"))[-1]
    for key in overrides:
        seg = split_key(key)[-1]
        if seg == last:
            raise SweepKeyError(key, seg, f"unknown field {seg!r} ({field}: not a field there)") from None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def sweep(scenario: Scenario | str | Path | Mapping[str, Any] | None = None,
          grid: Mapping[str, Sequence[Any]] | Sequence[str] | None = None, *,
          variants: Sequence[Overrides] | None = None, random: int | None = None, seed: int = 0,
          backend: str | Backend = "local", workers: int | None = None, address: str | None = None,
          out: str | Path | None = None, retry_failed: bool = False, reports: bool = False,
          rank_by: str | None = None, progress: ProgressCallback | None = None,
          data_dir: str | Path | None = None, hash_data: bool = False, picture: bool = True,
          ray_init: dict[str, Any] | None = None, quiet_workers: bool = True) -> SweepOutcome:
    """Run a parameter sweep; see :func:`basis_core.sweep.run` (which returns only the table)."""
    if reports and out is None:
        raise SweepError("reports", "full reports need an output directory (out=)")
    base = _base_scenario(scenario, data_dir)
    overrides = _variants(grid, variants, random, seed)
    param_keys = list(iter_keys(overrides))
    resolved = resolve(base, overrides, hash_data=hash_data)
    be = backend if not isinstance(backend, str) else make_backend(
        backend, workers=workers, address=address, ray_init=ray_init, quiet=quiet_workers)
    store = Store(out)

    store.write_text("sweep.json", json.dumps({
        "scenario": _jsonable(base), "keys": param_keys, "random": random, "seed": seed,
        "variants": [{"variant": v.index, "key": v.key, "params": _jsonable(v.params)} for v in resolved],
    }, indent=1) + "\n")
    records: dict[str, dict[str, Any]] = {}
    tasks: list[dict[str, Any]] = []
    reused = invalid = 0
    queued: set[str] = set()
    for v in resolved:
        if v.key in records or v.key in queued:
            continue  # two variants that resolve to the same scenario run once
        old = store.load(v.key)
        if old is not None and (old["status"] == "ok" or not retry_failed):
            records[v.key] = old
            reused += 1
            continue
        if v.scenario is None:
            rec = {"key": v.key, "index": v.index, "status": "failed", "summary": None, "metrics": {},
                   "error": v.error, "error_type": (v.error or "").split(":", 1)[0], "seconds": 0.0}
            rec["params"] = _jsonable(v.params)
            store.save(rec)
            records[v.key] = rec
            invalid += 1
            continue
        if store.out is not None and not store.path(v.key, ".yaml").exists():
            store.write_text(f"variants/{v.key}.yaml", dump_yaml(v.scenario))
        task = {"key": v.key, "index": v.index, "scenario": v.scenario}
        if reports:
            task["report_dir"] = str(Path(out) / "reports" / v.key)  # type: ignore[arg-type]
        tasks.append(task)
        queued.add(v.key)
    by_key = {v.key: v for v in resolved}
    state = SweepProgress(total=len({v.key for v in resolved}), reused=reused, failed=invalid)
    t0 = time.monotonic()

    def on_result(rec: dict[str, Any]) -> None:
        v = by_key[rec["key"]]
        rec["params"] = _jsonable(v.params)
        rec["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        store.save(rec)
        records[rec["key"]] = rec
        if rec["status"] == "ok":
            state.ok += 1
        else:
            state.failed += 1
            log.warning("variant %d (%s) failed: %s", v.index, v.key, rec.get("error"))
        state.last = rec
        if progress is not None:
            progress(state)

    interrupted = False
    if progress is not None:
        progress(state)
    try:
        if tasks:
            be.run(tasks, on_result)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("sweep interrupted: %d of %d variants finished and saved", len(records), state.total)
    log.debug("sweep ran %d variants in %.1f s on %s", state.computed, time.monotonic() - t0, be.name)

    finished = [v for v in resolved if v.key in records]
    rows = []
    for v in finished:
        rec = dict(records[v.key])
        rec["index"], rec["params"] = v.index, v.params
        rows.append(rec)
    df = table(rows, param_keys)
    metric = ranking_metric(df, rank_by) if len(df) else None
    ranked = rank(df, metric)
    keys = swept_keys(param_keys, rows)
    outcome = SweepOutcome(table=df, ranking=ranked, metric=metric, keys=keys, computed=state.computed,
                           reused=reused, failed=int((df["status"] != "ok").sum()) if len(df) else 0,
                           interrupted=interrupted)
    if store.out is not None:
        outcome.files = write_tables(df, ranked, store.out)
        if picture and not interrupted:
            from basis_core.sweep.plots import MATPLOTLIB_MISSING, plot_sweep

            try:
                import matplotlib  # noqa: F401
            except ImportError:
                outcome.picture_note = MATPLOTLIB_MISSING
            else:
                png = plot_sweep(df, keys, metric, store.out / "sweep.png")
                if png is not None:
                    outcome.files["picture"] = png
    df.attrs.update(metric=metric, keys=keys, computed=outcome.computed, reused=reused, failed=outcome.failed,
                    interrupted=interrupted, files={k: str(p) for k, p in outcome.files.items()})
    if interrupted:
        raise SweepInterrupted(outcome)
    return outcome


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the sweep; ``outcome`` holds the variants finished (all saved) and the partial table."""

    def __init__(self, outcome: SweepOutcome) -> None:
        super().__init__("sweep interrupted")
        self.outcome = outcome


def run(scenario: Scenario | str | Path | Mapping[str, Any] | None = None,
        grid: Mapping[str, Sequence[Any]] | Sequence[str] | None = None, **kwargs: Any) -> pd.DataFrame:
    """Run a parameter sweep and return its table (one row per variant, in variant order).

    :param scenario: a scenario file, the name of a bundled one (None: ``default``), a dict or a Scenario.
    :param grid: ``{"strategies.cash_and_carry.params.margin_fraction": [0.2, 0.3], ...}`` or the CLI's
        ``["KEY=V1,V2", ...]``; every combination is a variant.
    :param variants: instead of a grid, an explicit list of ``{key: value}`` overrides.
    :param random: sample this many distinct grid points with ``seed`` (same seed, same variants).
    :param backend: ``"local"`` (process pool, default), ``"ray"`` or ``"serial"``; ``workers``: pool size /
        Ray CPUs (default: the machine's); ``address``: a Ray cluster (``"auto"``, ``"ray://host:10001"``).
    :param out: directory for the records (resume), the table, ranking and picture; None keeps nothing.
    :param retry_failed: run variants again that failed in an earlier run (default: keep their error).
    :param reports: write every variant's full backtest report to ``out/reports/KEY``.
    :param rank_by: ranking metric (a table column; ``-name`` ranks ascending); default Sharpe, else
        annualised return.
    :param progress: ``callback(SweepProgress)`` after each variant.
    :param data_dir: run every variant on real data files from this directory.
    :param hash_data: key data files by their SHA-256 (default: name, size and mtime).
    :returns: the table; ``table.attrs`` holds ``metric``, ``keys``, ``computed``, ``reused``, ``failed``,
        ``files``.
    :raises SweepError / SweepKeyError: a malformed sweep (nothing runs).
    :raises SweepInterrupted: Ctrl-C; finished variants are saved and the partial table is in ``.outcome``.
    """
    return sweep(scenario, grid, **kwargs).table


__all__ = ["SweepInterrupted", "SweepOutcome", "Variant", "resolve", "run", "sweep"]
