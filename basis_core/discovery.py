"""Venue discovery: stevedore loads entry points of group ``basis_core.venues``.

One broken plugin is reported (venue, distribution, error) and the others still load; two
distributions claiming one venue name raise :class:`DuplicateVenueError` naming both; an allow-list
loads only the named venues (``NamedExtensionManager``) and reports the missing ones.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stevedore import ExtensionManager, NamedExtensionManager

from basis_core.errors import DuplicateVenueError
from basis_core.isolation import failure_reason

ENTRY_POINT_GROUP = "basis_core.venues"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedVenue:
    """A venue plugin class found through an entry point."""

    name: str
    distribution: str
    version: str
    plugin_class: Any
    entry_point: str


@dataclass(frozen=True)
class FailedVenue:
    """A venue that failed: its entry point did not import (``stage`` ``import``), or the manager could not
    construct, configure or describe it (``construct``, ``configure``, ``venue_info``), or it failed later
    (``accrue``). ``error`` is the bounded reason."""

    name: str
    distribution: str
    error: str
    stage: str = "import"


@dataclass
class DiscoveryReport:
    """What discovery found: loaded venues, load failures, allow-listed names not installed, blocked names."""

    loaded: list[LoadedVenue] = field(default_factory=list)
    failed: list[FailedVenue] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "loaded": [{"name": v.name, "distribution": v.distribution, "version": v.version,
                        "entry_point": v.entry_point} for v in self.loaded],
            "failed": [{"name": f.name, "distribution": f.distribution, "error": f.error, "stage": f.stage}
                       for f in self.failed],
            "missing": list(self.missing),
            "blocked": list(self.blocked),
        }


def _dist_of(ep: Any) -> tuple[str, str]:
    """(distribution name, version) of an entry point, via importlib.metadata when stevedore's cache lacks it."""
    dist = getattr(ep, "dist", None)
    if dist is not None:
        return _name_version(dist)
    key = (str(ep.name), str(getattr(ep, "value", "")))
    index = _dist_index()  # first: a changed sys.path drops the names memoised below
    known = _DIST_NAMES.get(key)
    if known is None:
        dist = index.get(key)
        known = _DIST_NAMES[key] = ("unknown", "unknown") if dist is None else _name_version(dist)
    return known


def _name_version(dist: Any) -> tuple[str, str]:
    return str(dist.metadata["Name"] or dist.name), str(dist.version)


def _dist_index() -> dict[tuple[str, str], Any]:
    """(entry point name, value) -> its distribution, for this group. One scan of the installed metadata per state
    of ``sys.path``: the scan is kept while the path entries and their modification times are unchanged (installing
    or removing a distribution adds or removes a ``*.dist-info`` directory in an entry, changing its mtime)."""
    global _DIST_INDEX
    key = _path_state()
    if _DIST_INDEX is not None and _DIST_INDEX[0] == key:
        return _DIST_INDEX[1]
    from importlib.metadata import entry_points
    index = {(ep.name, ep.value): ep.dist for ep in entry_points(group=ENTRY_POINT_GROUP)}
    _DIST_INDEX = (key, index)
    _DIST_NAMES.clear()
    return index


_DIST_INDEX: tuple[tuple[tuple[str, int], ...], dict[tuple[str, str], Any]] | None = None
#: (entry point name, value) -> (distribution name, version), read from the metadata of ``_DIST_INDEX``'s scan
_DIST_NAMES: dict[tuple[str, str], tuple[str, str]] = {}


def _path_state() -> tuple[tuple[str, int], ...]:
    """Each ``sys.path`` entry with its modification time (-1: missing)."""
    out = []
    for p in sys.path:
        try:
            out.append((p, os.stat(p or ".").st_mtime_ns))
        except (OSError, TypeError, ValueError):
            out.append((str(p), -1))
    return tuple(out)


def discover_venues(names: Iterable[str] | None = None, blocked: Iterable[str] = ()) -> DiscoveryReport:
    """Load venue plugin classes (not instances) from the ``basis_core.venues`` entry points."""
    report = DiscoveryReport()
    blocked_set = set(blocked)

    def on_fail(_mgr: Any, ep: Any, err: BaseException) -> None:
        dist, _ = _dist_of(ep)
        log.warning("venue plugin %r from %s failed to load: %s", ep.name, dist, err)
        report.failed.append(FailedVenue(ep.name, dist, failure_reason("import", err)))

    common: dict[str, Any] = {"invoke_on_load": False, "on_load_failure_callback": on_fail}
    wanted = None if names is None else [n for n in names if n not in blocked_set]
    # stevedore memoises entry points per group for the process; a venue installed (or removed)
    # since the last discovery must be seen, so start from the on-disk metadata every time.
    ExtensionManager.ENTRY_POINT_CACHE.pop(ENTRY_POINT_GROUP, None)
    if wanted is not None:
        mgr: ExtensionManager = NamedExtensionManager(ENTRY_POINT_GROUP, names=wanted, name_order=True, **common)
    else:
        mgr = ExtensionManager(ENTRY_POINT_GROUP, **common)

    by_name: dict[str, list[LoadedVenue]] = {}
    for ext in mgr.extensions:
        if ext.name in blocked_set:
            report.blocked.append(ext.name)
            continue
        dist, version = _dist_of(ext.entry_point)
        ep_value = getattr(ext.entry_point, "value", str(ext.entry_point))
        rec = LoadedVenue(ext.name, dist, version, ext.plugin, ep_value)
        same = by_name.setdefault(ext.name, [])
        if any(r.distribution == dist for r in same):  # the same distribution seen twice on sys.path
            continue
        same.append(rec)
    for name, recs in by_name.items():
        if len(recs) > 1:
            raise DuplicateVenueError(name, [r.distribution for r in recs])
        report.loaded.append(recs[0])
    if blocked_set:
        report.blocked = sorted(set(report.blocked) | (blocked_set & set(by_name)))
    if wanted is not None:
        found = {v.name for v in report.loaded} | {f.name for f in report.failed}
        report.missing = [n for n in wanted if n not in found]
    report.loaded.sort(key=lambda v: v.name)
    return report
