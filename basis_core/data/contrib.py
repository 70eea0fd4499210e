"""Market data as a plugin surface: what a venue distribution contributes, and how the core collects it.

A venue plugin class implements the data hooks of :mod:`basis_core.hookspecs` as static methods (they run
before any manager exists, on the class found through the ``basis_core.venues`` entry point):

- ``market_data_files()`` -> :class:`MarketDataFiles`: file loaders (a file-name pattern, the series it
  makes, its cadence and columns), proxy aliases and gap fills for ``basis backtest --data DIR``;
- ``synthetic_series(market)`` -> series for its instruments in the seeded synthetic market;
- ``live_market_data(timestamp, keys, context)``: live reads for live and paper runs, collected by
  :class:`basis_core.live.market_data.LiveMarketData` (every venue serves its own keys).

The core's own generic contribution (:mod:`basis_core.data.builtin`) is registered the same way, last, so a
venue's patterns win over the generic exchange-export convention for the files they match.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pluggy

from basis_core.errors import MarketDataError
from basis_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from basis_core.data.series import Series

#: a file loader: (path, series name) -> Series
LoadFn = Callable[[Path, str], "Series"]


@dataclass(frozen=True)
class FileLoader:
    """One kind of file: ``pattern`` (a regex matched against the file name, with named groups) makes the
    series ``series`` (a template filled from the groups, e.g. ``"perp:okx:{base}/USDT:USDT"``) with ``load``.

    ``cadence`` ("1m", "1h", "8h", "1d", "irregular") and ``columns`` (series column -> file column) document
    the file; ``example`` is a matching file name shown when a directory has no recognised file.
    """

    pattern: str
    series: str
    load: LoadFn
    cadence: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)
    example: str = ""

    def match(self, file_name: str) -> str | None:
        """The series name for ``file_name``, or None if the pattern does not match it."""
        m = re.match(self.pattern, file_name)
        if m is None:
            return None
        return self.series.format(**m.groupdict())

    def describe(self, columns: bool = True) -> str:
        cols = ", ".join(f"{k}<-{v}" for k, v in self.columns.items()) if columns else ""
        return (f"{self.example or self.pattern} -> {self.series}" + (f" [{self.cadence}]" if self.cadence else "")
                + (f" ({cols})" if cols else ""))


@dataclass(frozen=True)
class MarketDataFiles:
    """A distribution's file contribution.

    :param loaders: the file kinds it reads.
    :param aliases: series name -> proxy series used when the name has no data of its own
        (e.g. a venue's perp mark proxied by another venue's same contract).
    :param gap_fills: series name -> series whose rows fill its gaps longer than an hour.
    """

    loaders: tuple[FileLoader, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    gap_fills: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Contributor:
    """Who contributed: the venue name (or ``"core"``) and its distribution."""

    name: str
    distribution: str


def data_plugin_manager(plugins: Iterable[tuple[Contributor, Any]] | None = None) -> pluggy.PluginManager:
    """A pluggy manager with the data hooks, the installed venue classes and the core's generic contribution.

    ``plugins`` replaces discovery: pairs of (contributor, object with data hookimpls). Each registered
    object's name is its contributor's name.
    """
    from basis_core import hookspecs
    from basis_core.data import builtin

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs.DataHooks)
    pm.register(builtin, name="core")  # collect_files reads it after the venues
    if plugins is None:
        plugins = installed_contributors()
    for who, obj in plugins:
        if pm.has_plugin(who.name):
            continue
        pm.register(obj, name=who.name)
    return pm


def installed_contributors() -> list[tuple[Contributor, Any]]:
    """The venue classes of the ``basis_core.venues`` entry points (broken ones are skipped, as discovery does)."""
    from basis_core.discovery import discover_venues

    return [(Contributor(v.name, v.distribution), v.plugin_class) for v in discover_venues().loaded]


@dataclass
class FileContributions:
    """Every contribution collected: loaders in priority order with their contributor, aliases and gap fills."""

    loaders: list[tuple[str, FileLoader]] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    gap_fills: dict[str, str] = field(default_factory=dict)

    def accepted(self) -> str:
        """One line per accepted file kind (for 'no recognised files' errors and ``basis venues --data``); without
        the column mappings, so the list of every installed venue's files fits an error message."""
        return "\n".join(f"  {who}: {fl.describe(columns=False)}" for who, fl in self.loaders)


def collect_files(pm: pluggy.PluginManager) -> FileContributions:
    """Call ``market_data_files`` on every contributor (venues first, the core's generic patterns last)."""
    out = FileContributions()
    impls = pm.hook.market_data_files.get_hookimpls()
    for impl in impls:  # venues in registration order, then the core
        if impl.plugin_name == "core":
            continue
        _add(out, impl.plugin_name, impl.function())
    for impl in impls:
        if impl.plugin_name == "core":
            _add(out, "core", impl.function())
    return out


def _add(out: FileContributions, who: str, got: Any) -> None:
    if got is None:
        return
    if not isinstance(got, MarketDataFiles):
        raise MarketDataError(f"{who}: market_data_files must return MarketDataFiles, got {type(got).__name__}")
    out.loaders.extend((who, fl) for fl in got.loaders)
    for k, v in got.aliases.items():
        out.aliases.setdefault(k, v)
    for k, v in got.gap_fills.items():
        out.gap_fills.setdefault(k, v)


class DataModuleHooks:
    """Mixin for a venue class whose market data lives in one module of its distribution.

    Set ``data_module`` to that module's import path; it must define ``FILES`` (a :class:`MarketDataFiles`) and
    ``synthetic_series(market)``. The module is imported only when the core asks for data (never at discovery),
    and both hooks work on the class, before any manager exists, like hand-written static methods.
    """

    data_module: ClassVar[str]

    @classmethod
    @hookimpl
    def market_data_files(cls) -> Any:
        return importlib.import_module(cls.data_module).FILES

    @classmethod
    @hookimpl
    def synthetic_series(cls, market: Any) -> Any:
        return importlib.import_module(cls.data_module).synthetic_series(market)


class LiveDataModuleHooks:
    """Mixin for a venue class whose live market data (the ``live_market_data`` hook) lives in one module of its
    distribution.

    Set ``live_data_module`` to that module's import path; it must define ``read_market_data(keys, context)``
    (the hook's answer). The module is imported at the first live read only, so a backtest never imports it.
    """

    live_data_module: ClassVar[str]

    @classmethod
    @hookimpl
    def live_market_data(cls, timestamp: Any, keys: Any, context: Any) -> Any:
        return importlib.import_module(cls.live_data_module).read_market_data(keys, context)
