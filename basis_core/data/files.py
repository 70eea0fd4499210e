"""Building blocks of a market-data contribution: file kinds made from the core's generic parsers.

Light to import (no pandas / numpy until a file is read), so collecting every venue's contribution stays cheap.
Each returns a :class:`~basis_core.data.contrib.FileLoader`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from basis_core.data.contrib import FileLoader
from basis_core.errors import MarketDataError

if TYPE_CHECKING:
    from basis_core.data.series import Series

_HOUR_NS = 3_600_000_000_000
#: kline cadences a file name may carry
CADENCES_NS = {"1s": 10**9, "1m": 60 * 10**9, "3m": 180 * 10**9, "5m": 300 * 10**9, "15m": 900 * 10**9,
               "30m": 1800 * 10**9, "1h": _HOUR_NS, "2h": 2 * _HOUR_NS, "4h": 4 * _HOUR_NS, "8h": 8 * _HOUR_NS,
               "12h": 12 * _HOUR_NS, "1d": 24 * _HOUR_NS}


def _cadence_ns(cadence: str, where: str) -> int:
    try:
        return CADENCES_NS[cadence]
    except KeyError:
        raise MarketDataError(f"{where}: unknown cadence {cadence!r} (known: {', '.join(CADENCES_NS)})") from None


def klines(pattern: str, series: str, cadence: str | None = "1m", columns: Mapping[str, str] | None = None,
           time_col: str = "timestamp", example: str = "") -> FileLoader:
    """A kline file kind: OHLC bars at ``cadence`` (None: from the pattern's ``cadence`` group, e.g. ``1m``)."""
    rx = re.compile(pattern)

    def load(path: Path, name: str) -> Series:
        cad = cadence
        if cad is None:
            m = rx.match(path.name)
            cad = m.group("cadence") if m else ""
        from basis_core.data.loaders import load_klines

        return load_klines(path, name, _cadence_ns(cad, path.name), time_col=time_col, columns=columns)

    return FileLoader(pattern, series, load, cadence or "from the file name",
                      dict(columns or {"open": "open", "high": "high", "low": "low", "close": "close"}), example)


def funding(pattern: str, series: str, time_col: str = "funding_timestamp", rate_col: str = "funding_rate",
            cadence: str = "", example: str = "") -> FileLoader:
    """A funding file kind: one settlement a row (``rate``, positive: longs pay shorts)."""
    def load(path: Path, name: str) -> Series:
        from basis_core.data.loaders import load_columns

        return load_columns(path, name, {"rate": rate_col}, time_col)

    return FileLoader(pattern, series, load, cadence, {"rate": rate_col}, example)


def oracle(pattern: str, series: str, column: str = "price", example: str = "") -> FileLoader:
    """An oracle file kind (``#`` comment lines; ``oracle_price_usd`` or ``oracle_price_eth`` -> ``column``)."""
    def load(path: Path, name: str) -> Series:
        from basis_core.data.loaders import load_oracle

        return load_oracle(path, name, column)

    return FileLoader(pattern, series, load, "irregular", {column: "oracle_price_usd|oracle_price_eth"}, example)


def columns_file(pattern: str, series: str, columns: Mapping[str, str], time_col: str = "timestamp",
                 cadence: str = "", example: str = "") -> FileLoader:
    """A file kind of named columns (e.g. a lending reserve history)."""
    cols = dict(columns)

    def load(path: Path, name: str) -> Series:
        from basis_core.data.loaders import load_columns

        return load_columns(path, name, cols, time_col)

    return FileLoader(pattern, series, load, cadence, cols, example)
