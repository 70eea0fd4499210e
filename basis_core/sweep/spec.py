"""What a sweep varies: ``--grid KEY=V1,V2`` arguments, their Cartesian product (or a seeded random sample of
it), and the application of one variant's overrides to a scenario by dotted path.

A key is a dotted path into the scenario as its YAML reads: ``period.end``, ``market.seed``,
``venue_config.binance.taker_fee``, ``initial_balances.binance:spot:USDT``, and for lists an index or, for
strategies, the strategy's name: ``strategies.cash_and_carry.params.margin_fraction`` (same as
``strategies.0.params.margin_fraction``). A segment holding dots is written in brackets:
``venue_config.uniswap.pools[v3:WETH/wstETH:100].tvl_usd``.

Fields of the scenario's models must exist (a typo is a :class:`~basis_core.errors.SweepKeyError` naming the
key, the segment and what exists there); free-form mappings (``venue_config``, ``initial_balances``, a
strategy's ``params``) accept new keys, which the scenario's own validation then checks per variant.
"""

from __future__ import annotations

import itertools
import random
import re
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel

from basis_core.backtest.scenario import Scenario, StrategySpec, _Loader
from basis_core.errors import SweepError, SweepKeyError

#: one variant: key -> value, in the order the grid names the keys
Overrides = dict[str, Any]

_SEGMENT = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")
_STRATEGY_FILE = re.compile(r"^(?P<file>.+\.py):(?P<cls>[A-Za-z_][A-Za-z0-9_]*)$")


# -- parsing --------------------------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """A command-line value read as YAML scalars are in scenarios: ``0.3`` -> Decimal('0.3'), ``5`` -> 5,
    ``true`` -> True, dates stay strings, ``[a, b]`` -> a list."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        return text


def parse_grid(items: Iterable[str]) -> dict[str, list[Any]]:
    """``["KEY=V1,V2", ...]`` -> ``{KEY: [V1, V2]}``. A value list may also be a YAML flow sequence
    (``KEY=[[binance], [binance, hyperliquid]]``) for values that hold commas.

    :raises SweepError: malformed item, empty value list, or a key given twice.
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SweepError("--grid", f"{item!r}: expected KEY=V1,V2,... (KEY a dotted path such as "
                                       "strategies.cash_and_carry.params.margin_fraction)")
        if key in grid:
            raise SweepError("--grid", f"{key}: given twice")
        text = values.strip()
        if text.startswith("["):
            parsed = parse_value(text)
            if not isinstance(parsed, list):
                raise SweepError("--grid", f"{key}: {text!r} is not a YAML list")
            vals = parsed
        else:
            vals = [parse_value(v.strip()) for v in text.split(",") if v.strip()]
        if not vals:
            raise SweepError("--grid", f"{key}: no values")
        grid[key] = vals
    return grid


def split_key(key: str) -> list[str]:
    """``a.b[c.d].e`` -> ``["a", "b", "c.d", "e"]``."""
    parts: list[str] = []
    pos = 0
    text = key.strip()
    while pos < len(text):
        if text[pos] == "." and parts:
            pos += 1
        m = _SEGMENT.match(text, pos)
        if m is None:
            raise SweepKeyError(key, text[pos:], f"cannot read the key at {text[pos:]!r}")
        parts.append(m.group(1) if m.group(1) is not None else m.group(2))
        pos = m.end()
    if not parts or any(p == "" for p in parts):
        raise SweepKeyError(key, key, "empty key or segment")
    return parts


# -- the variants ---------------------------------------------------------------------------------------
def grid_size(grid: Mapping[str, Sequence[Any]]) -> int:
    n = 1
    for values in grid.values():
        n *= len(values)
    return n


def grid_point(grid: Mapping[str, Sequence[Any]], index: int) -> Overrides:
    """The ``index``-th point of the Cartesian product, in :func:`itertools.product` order (last key fastest)."""
    out: Overrides = {}
    keys = list(grid)
    for key in reversed(keys):
        values = grid[key]
        index, i = divmod(index, len(values))
        out[key] = values[i]
    return {k: out[k] for k in keys}


def expand(grid: Mapping[str, Sequence[Any]], sample: int | None = None, seed: int = 0) -> list[Overrides]:
    """Every point of the grid in product order, or ``sample`` distinct points drawn with ``seed`` (kept in
    product order: the same seed gives the same variants in the same order).

    :raises SweepError: ``sample`` below 1.
    """
    total = grid_size(grid)
    if sample is None or sample >= total:
        keys = list(grid)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]
    if sample < 1:
        raise SweepError("--random", f"must be at least 1, got {sample}")
    picked = sorted(random.Random(seed).sample(range(total), sample))
    return [grid_point(grid, i) for i in picked]


# -- scenario <-> plain data ----------------------------------------------------------------------------
def _fmt_step(td: pd.Timedelta) -> str:
    secs = int(td.total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if secs and secs % n == 0:
            return f"{secs // n}{unit}"
    return str(td)


def to_plain(value: Any) -> Any:
    """Scenario data as plain Python (dicts, lists, str, int, bool, Decimal): timestamps become ISO strings,
    durations ``1h`` / ``15min``, paths strings."""
    if isinstance(value, BaseModel):
        return to_plain(value.model_dump(exclude={"source_path"}))
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return _fmt_step(value)
    if isinstance(value, Path):
        return str(value)
    return value


def scenario_plain(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain data that :func:`~basis_core.backtest.scenario.load_scenario` reads back to an
    equal scenario. Strategy files (``file.py:Class``) are made absolute against the scenario's own file."""
    plain: dict[str, Any] = to_plain(scenario)
    base = scenario.source_path.parent if scenario.source_path is not None else None
    for spec in plain.get("strategies", []):
        m = _STRATEGY_FILE.match(str(spec.get("name", "")))
        if m and base is not None and not Path(m["file"]).is_absolute():
            spec["name"] = f"{(base / m['file']).resolve()}:{m['cls']}"
    return plain


def strategy_files(plain: Mapping[str, Any]) -> list[Path]:
    """The user strategy files (``file.py:Class``) a plain scenario names."""
    out = []
    for spec in plain.get("strategies", []):
        m = _STRATEGY_FILE.match(str(spec.get("name", "")))
        if m:
            out.append(Path(m["file"]))
    return out


class _Dumper(yaml.SafeDumper):
    """Writes Decimals as plain numbers (read back exactly by the scenario loader)."""


def _decimal_repr(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = str(value)
    if text.lstrip("-").isdigit():
        return dumper.represent_scalar("tag:yaml.org,2002:int", text)
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(Decimal, _decimal_repr)


def dump_yaml(plain: Mapping[str, Any]) -> str:
    """A scenario file for ``plain`` (``basis backtest FILE`` runs exactly that variant)."""
    return yaml.dump(dict(plain), Dumper=_Dumper, sort_keys=False, allow_unicode=True)


# -- dotted paths ---------------------------------------------------------------------------------------
def _model_of(annotation: Any) -> tuple[str, type[BaseModel] | None]:
    """How to walk into a field: ``("model", M)``, ``("list", M)`` (a list of models) or ``("free", None)``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    if origin in (list, Sequence) and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return "list", args[0]
    for a in args:  # Optional[Model]
        if isinstance(a, type) and issubclass(a, BaseModel):
            return "model", a
    return "free", None


def _list_index(key: str, seg: str, items: list[Any], model: type[BaseModel] | None) -> int:
    names = [str(it.get("name")) for it in items if isinstance(it, Mapping) and "name" in it]
    if seg.lstrip("-").isdigit():
        i = int(seg)
        if not -len(items) <= i < len(items):
            raise SweepKeyError(key, seg, f"index {i} is out of range (the list has {len(items)} items)", names)
        return i % len(items)
    hits = [i for i, it in enumerate(items) if isinstance(it, Mapping) and str(it.get("name")) == seg]
    if model is StrategySpec:
        hits += [i for i, it in enumerate(items) if i not in hits and str(it.get("name", "")).endswith(f":{seg}")]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise SweepKeyError(key, seg, f"{seg!r} names {len(hits)} items; use the index (0 .. {len(items) - 1})",
                            names)
    what = f"names: {', '.join(names)}" if names else f"{len(items)} items"
    raise SweepKeyError(key, seg, f"no item named {seg!r} ({what}; or use an index)", names)


def set_path(plain: dict[str, Any], key: str, value: Any, model: type[BaseModel] = Scenario) -> None:
    """Set ``key`` (a dotted path) to ``value`` in ``plain`` (scenario data from :func:`scenario_plain`),
    walking the scenario's models alongside. Missing intermediate mappings of free-form fields are created.

    :raises SweepKeyError: a segment that names no field / item, or a path that goes through a plain value.
    """
    parts = split_key(key)
    cur: Any = plain
    kind: str = "model"
    cur_model: type[BaseModel] | None = model
    for depth, seg in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "the scenario"
        if isinstance(cur, list):
            i = _list_index(key, seg, cur, cur_model)
            if last:
                cur[i] = value
                return
            cur, kind = cur[i], ("model" if cur_model is not None else "free")
            continue
        if not isinstance(cur, dict):
            raise SweepKeyError(key, seg, f"{where} is a value ({cur!r}), not a mapping or list")
        if kind == "model" and cur_model is not None:
            fields = cur_model.model_fields
            names = [n for n in fields if n != "source_path"]
            if seg not in names:
                raise SweepKeyError(key, seg, f"unknown field {seg!r} in {where} (fields: {', '.join(names)})",
                                    names)
            if last:
                cur[seg] = value
                return
            nxt_kind, nxt_model = _model_of(fields[seg].annotation)
            if cur.get(seg) is None:
                cur[seg] = [] if nxt_kind == "list" else {}
            cur = cur[seg]
            kind, cur_model = nxt_kind if nxt_kind != "list" else "model", nxt_model
            if nxt_kind == "model" and not isinstance(cur, dict):
                raise SweepKeyError(key, seg, f"{where}.{seg} is not a mapping")
            continue
        # a free-form mapping (venue_config, initial_balances, params ...)
        if last:
            cur[seg] = value
            return
        if seg not in cur or cur[seg] is None:
            cur[seg] = {}
        cur = cur[seg]
        kind, cur_model = "free", None


def apply_overrides(plain: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``plain`` with every override set (in order)."""
    import copy

    out = copy.deepcopy(dict(plain))
    for key, value in overrides.items():
        set_path(out, key, copy.deepcopy(value))
    return out


def check_keys(plain: Mapping[str, Any], keys: Iterable[str], sample: Mapping[str, Any]) -> None:
    """Check that every key leads somewhere, by applying one variant's values (raises :class:`SweepKeyError`)."""
    apply_overrides(plain, {k: sample[k] for k in keys})


def iter_keys(variants: Iterable[Overrides]) -> Iterator[str]:
    """Keys in first-seen order over the variants."""
    seen: dict[str, None] = {}
    for v in variants:
        for k in v:
            if k not in seen:
                seen[k] = None
                yield k


__all__ = ["Overrides", "apply_overrides", "check_keys", "dump_yaml", "expand", "grid_point", "grid_size",
           "iter_keys", "parse_grid", "parse_value", "scenario_plain", "set_path", "split_key", "strategy_files",
           "to_plain"]
