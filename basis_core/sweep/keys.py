"""Variant keys: a hash of everything that decides a variant's result.

The key covers the resolved scenario (after the overrides), the data it reads (the synthetic market's
parameters, or the name, size and modification time of every CSV file of a ``data_dir``, or with
``content=True`` their SHA-256), the user strategy files it names (their SHA-256), and the code (basis-core's
version and sources, the installed venue plugins' distributions, versions and sources). Same key, same
result: a resumed sweep skips the variants whose key already has a record.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from basis_core.sweep.spec import strategy_files

KEY_LENGTH = 16


def canonical(value: Any) -> Any:
    """JSON-ready data with one spelling per value (Decimal 0.30 and 0.3 alike; integral Decimals as ints)."""
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return str(value.normalize()) if value.is_finite() else str(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, float):
        return value
    return str(value)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_fingerprint(plain: Mapping[str, Any], *, content: bool = False) -> dict[str, Any]:
    """What the variant reads: the synthetic market's parameters, or the data directory's CSV files (name,
    size, mtime; or SHA-256 with ``content``); plus the user strategy files' SHA-256."""
    market = plain.get("market") or {}
    out: dict[str, Any] = {}
    if market.get("source") == "data_dir" and market.get("data_dir"):
        d = Path(str(market["data_dir"]))
        files = sorted(d.glob("*.csv")) if d.is_dir() else []
        if content:
            out["data"] = {p.name: _sha256(p) for p in files}
        else:
            out["data"] = {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in files}
    else:
        from basis_core.data.synthetic import SyntheticSpec

        out["synthetic"] = dataclasses.asdict(SyntheticSpec())
    code = {}
    for f in strategy_files(plain):
        code[str(f)] = _sha256(f) if f.is_file() else "missing"
    if code:
        out["strategy_files"] = code
    return out


def _source_digest(root: Path) -> str:
    """SHA-256 over the Python sources under ``root`` (relative path and content of every ``*.py``)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def code_fingerprint() -> dict[str, Any]:
    """The code a variant runs: basis-core's version and a digest of its sources, and every installed venue
    plugin (entry point -> distribution, version and a digest of its package's sources). A change to the
    code, released or not, makes new keys: results of other code are not reused."""
    import importlib.util
    from importlib.metadata import entry_points

    import basis_core

    venues: dict[str, str] = {}
    for ep in entry_points(group="basis_core.venues"):
        dist = ep.dist
        label = f"{dist.name}=={dist.version}" if dist is not None else ep.value
        top = ep.value.split(":", 1)[0].split(".", 1)[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            label += f" {_source_digest(Path(next(iter(spec.submodule_search_locations))))}"
        venues[ep.name] = label
    core = Path(basis_core.__file__).parent
    return {"basis_core": f"{getattr(basis_core, '__version__', '?')} {_source_digest(core)}",
            "venues": dict(sorted(venues.items()))}


def variant_key(plain: Mapping[str, Any], *, content: bool = False) -> str:
    """The variant's key: the first :data:`KEY_LENGTH` hex digits of the SHA-256 of the canonical JSON of the
    resolved scenario, its data fingerprint and the code fingerprint."""
    payload = {"scenario": canonical(plain), "reads": canonical(data_fingerprint(plain, content=content)),
               "code": code_fingerprint()}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


__all__ = ["KEY_LENGTH", "canonical", "code_fingerprint", "data_fingerprint", "variant_key"]
