"""Loaders for market data files: generic parsers (klines at any cadence, funding, oracle files with ``#``
comment lines, gas, any named columns) and :func:`load_data_dir`, which reads a directory with the file
loaders that the installed venues and the core contribute (:mod:`basis_core.data.contrib`). Values are parsed
from the CSV text as exact Decimals.

Candles are stamped at their CLOSE (open time + interval) so a bar's close is never visible early.
"""

from __future__ import annotations

import logging
import re
from array import array
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from basis_core.data.contrib import MarketDataFiles
from basis_core.data.frames import int_array, text_column
from basis_core.data.provider import DEFAULT_MAX_STALENESS, DataProvider, Staleness
from basis_core.data.series import FixedColumn, Series
from basis_core.errors import MarketDataError

log = logging.getLogger(__name__)
_HOUR_NS = 3_600_000_000_000

def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, comment="#", keep_default_na=False)
    except (OSError, pd.errors.ParserError) as e:
        raise MarketDataError(f"cannot read {path}: {e}") from None


def _times(col: pd.Series) -> list[int]:
    """UTC ns from ISO strings (Z / +00:00 / naive = UTC) or unix seconds / milliseconds."""
    return _times_ns(col).tolist()  # type: ignore[no-any-return]


def _times_ns(col: pd.Series) -> np.ndarray:
    sample = str(col.iloc[0])
    if re.fullmatch(r"\d{9,11}", sample):
        return col.astype(np.int64).to_numpy() * 1_000_000_000
    if re.fullmatch(r"\d{12,14}", sample):
        return col.astype(np.int64).to_numpy() * 1_000_000
    text = col.str.replace(r"\+00:00Z$", "Z", regex=True)
    try:
        idx = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        idx = pd.to_datetime(text, utc=True, format="mixed")
    return idx.dt.as_unit("ns").astype("int64").to_numpy()


def _frame_to_series(name: str, times: list[int], df: pd.DataFrame, columns: dict[str, str]) -> Series:
    """Sort, drop duplicate times (keep the last row), convert columns to Decimal."""
    order = sorted(range(len(times)), key=times.__getitem__)
    kept: list[int] = []
    for i in order:
        if kept and times[kept[-1]] == times[i]:
            kept[-1] = i
        else:
            kept.append(i)
    out_cols: dict[str, list[Decimal]] = {}
    for out, src in columns.items():
        if src not in df.columns:
            raise MarketDataError(f"{name}: column {src!r} missing (has {', '.join(df.columns)})")
        raw = df[src].tolist()
        out_cols[out] = [Decimal(raw[i]) if raw[i] != "" else Decimal(0) for i in kept]
    return Series(name, [times[i] for i in kept], out_cols)


#: optional kline columns: series column -> the file columns that may hold it (the first present is read)
KLINE_OPTIONAL: dict[str, tuple[str, ...]] = {"quote_volume": ("quote_volume", "turnover")}
#: columns whose first row (at the first bar's open time) is 0, not the open price: nothing traded yet
_FLOW_COLUMNS = frozenset({"quote_volume", "volume"})


def _header(p: Path) -> list[str]:
    """The column names of a CSV file (its first line that is not a ``#`` comment); [] when unreadable."""
    try:
        with p.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    return [c.strip().strip('"') for c in line.rstrip("\r\n").split(",")]
    except OSError:
        pass
    return []


def load_klines(path: str | Path, name: str, interval_ns: int = _HOUR_NS, time_col: str = "timestamp",
                columns: Mapping[str, str] | None = None,
                optional: Mapping[str, Sequence[str]] | None = None) -> Series:
    """OHLC candles (exchange / DEX kline exports) at any cadence; each row visible at its close time.

    ``interval_ns`` is the bar length (1-minute klines: ``60 * 10**9``); ``columns`` maps series columns to
    file columns (default open/high/low/close by those names); ``optional`` maps series columns to file
    columns read when the file has one of them (default :data:`KLINE_OPTIONAL`: ``quote_volume`` from
    ``quote_volume`` or ``turnover``, what the square-root slippage model reads). A first row at the first bar's
    open time carries its open price in every price column (0 in volume columns). Columns are exact fixed-point
    (:class:`FixedColumn`), so a year of 1-minute candles (525,600 rows) takes ~20 MB.
    """
    cols = dict(columns or {"open": "open", "high": "high", "low": "low", "close": "close"})
    p = Path(path)
    opt = KLINE_OPTIONAL if optional is None else optional
    if opt:
        head = set(_header(p))
        for out, sources in opt.items():
            if out not in cols:
                src = next((c for c in sources if c in head), None)
                if src is not None:
                    cols[out] = src
    fast = _read_klines_arrow(p, time_col, cols)
    if fast is not None:
        opens, values = fast
        return _klines_series(name, opens, values, interval_ns)
    try:
        df = pd.read_csv(p, dtype=str, comment="#", keep_default_na=False,
                         usecols=lambda c: c == time_col or c in cols.values())
    except (OSError, pd.errors.ParserError, ValueError) as e:
        raise MarketDataError(f"cannot read {p}: {e}") from None
    missing = [c for c in (time_col, *cols.values()) if c not in df.columns]
    if missing:
        raise MarketDataError(f"{name}: column(s) {', '.join(map(repr, missing))} missing in {p.name} "
                              f"(has {', '.join(df.columns)})")
    if df.empty:
        raise MarketDataError(f"{name}: {p.name} has no rows")
    return _klines_series(name, _times_ns(df[time_col]),
                          {out: df[src].to_numpy(dtype=str) for out, src in cols.items()}, interval_ns)


def _read_klines_arrow(p: Path, time_col: str, cols: Mapping[str, str]) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The fast path (pyarrow's streaming CSV reader and compute kernels, no Python object per value, ~1 MB
    blocks): open times in UTC ns and exact fixed-point columns, or None when the file needs the general path
    (comment lines, exponents, more than 18 digits, unusual timestamps) or lacks a column (the general path
    names it). Also None without pyarrow (it comes with the ``report`` extra, not with the core)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv
    except ImportError:
        return None

    srcs = list(dict.fromkeys(cols.values()))
    names = [time_col, *srcs]
    times: list[np.ndarray] = []
    parts: dict[str, list[tuple[np.ndarray, int, int]]] = {c: [] for c in srcs}  # (units, places, width)
    unit: int | None = None
    try:
        reader = pcsv.open_csv(p, read_options=pcsv.ReadOptions(block_size=1 << 20),
                               convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                                   include_columns=names))
        for batch in reader:
            if batch.num_rows == 0:
                continue
            ts = batch.column(time_col)
            if unit is None:
                first = str(ts[0].as_py())
                if re.fullmatch(r"\d{9,11}", first):
                    unit = 1_000_000_000
                elif re.fullmatch(r"\d{12,14}", first):
                    unit = 1_000_000
                elif re.fullmatch(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)", first):
                    unit = 0
                else:
                    return None
            if unit:
                times.append(pc.cast(ts, pa.int64()).to_numpy() * unit)
            else:
                times.append(pc.cast(pc.cast(ts, pa.timestamp("ns", "UTC")), pa.int64()).to_numpy())
            for src in srcs:
                a = pc.utf8_trim_whitespace(batch.column(src))
                a = pc.if_else(pc.equal(pc.utf8_length(a), 0), "0", a)
                dot = pc.find_substring(a, ".")
                frac = pc.if_else(pc.less(dot, 0), 0, pc.subtract(pc.subtract(pc.utf8_length(a), dot), 1)).to_numpy()
                places = int(frac.max())
                digits = pc.replace_substring(pc.replace_substring(a, ".", ""), "+", "")
                width = int(pc.max(pc.utf8_length(pc.utf8_ltrim(pc.utf8_ltrim(digits, "-"), "0"))).as_py() or 0)
                if width + places - int(frac.min()) > 18:
                    return None
                units = pc.cast(digits, pa.int64()).to_numpy() * (10 ** (places - frac)).astype(np.int64)
                parts[src].append((units, places, width + places - int(frac.min())))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError, OverflowError, ValueError):
        return None
    if not times:
        return None
    values: dict[str, tuple[np.ndarray, int]] = {}
    for src, chunks in parts.items():
        top = max(pl for _, pl, _ in chunks)
        if max(w + top - pl for _, pl, w in chunks) > 18:
            return None
        if len(chunks) == 1:
            values[src] = (chunks[0][0], top)
        else:
            values[src] = (np.concatenate([u * np.int64(10 ** (top - pl)) for u, pl, _ in chunks]), top)
        chunks.clear()
    return np.concatenate(times), {out: values[src] for out, src in cols.items()}


def _klines_series(name: str, opens: np.ndarray, raw: Mapping[str, Any], interval_ns: int) -> Series:
    """Sort by open time (a duplicate keeps its last row), stamp at the close, prepend the first open.

    ``raw`` values are ``(int64 units, places)`` (the fast path) or numpy string arrays."""
    ordered = bool((opens[1:] > opens[:-1]).all())
    rows: np.ndarray | None = None
    if ordered:
        t = opens
    else:
        order = np.argsort(opens, kind="stable")
        t = opens[order]
        keep = np.ones(len(t), dtype=bool)
        keep[:-1] = t[1:] != t[:-1]  # a duplicate time keeps its last row
        rows = order[keep]
        t = t[keep]
    times = int_array(np.concatenate([t[:1], t + interval_ns]))  # the first open, then every close
    cols: dict[str, Any] = {}
    for out, col in raw.items():
        if isinstance(col, tuple):
            units, places = col
            if rows is not None:
                units = units[rows]
            cols[out] = (units, places)
        else:
            cols[out] = text_column(col if rows is None else col[rows], f"{name}.{out}")
    first_src = cols.get("open")
    values: dict[str, Any] = {}
    for out, col in cols.items():
        if out in _FLOW_COLUMNS:
            values[out] = _with_first(col, _zero_like(col))
        else:
            values[out] = _with_first(col, first_src if first_src is not None else col)
    return Series(name, times, values)


def _zero_like(col: Any) -> Any:
    """A one-row column holding 0 in ``col``'s representation (the first row of a volume column)."""
    if isinstance(col, tuple):
        return (np.zeros(1, dtype=np.int64), col[1])
    return [Decimal(0)]


def _first(col: Any) -> Decimal:
    if isinstance(col, tuple):
        return Decimal(int(col[0][0])).scaleb(-col[1])
    return col[0]  # type: ignore[no-any-return]


def _with_first(col: Any, first_of: Any) -> Any:
    """``col`` with the first open prepended (the first bar's open is known at its open time)."""
    value = _first(first_of)
    if isinstance(col, tuple):
        units, places = col
        scaled = value.scaleb(places)
        if scaled == scaled.to_integral_value() and abs(scaled) < 2**62:
            out = array("q", [int(scaled)])
            out.frombytes(np.ascontiguousarray(units, dtype=np.int64).tobytes())
            return FixedColumn(out, places)
        return [value, *FixedColumn(int_array(units), places)]
    if isinstance(col, FixedColumn):
        return _with_first((np.frombuffer(col.units, dtype=np.int64), col.places), first_of)
    return [value, *col]


def load_columns(path: str | Path, name: str, columns: Mapping[str, str], time_col: str = "timestamp") -> Series:
    """Any time-stamped CSV: ``columns`` maps series columns to file columns (each row visible at its time)."""
    df = _read(Path(path))
    if time_col not in df.columns:
        raise MarketDataError(f"{name}: column {time_col!r} missing (has {', '.join(df.columns)})")
    return _frame_to_series(name, _times(df[time_col]), df, dict(columns))


def load_funding(path: str | Path, name: str) -> Series:
    """Funding settlements: ``funding_timestamp``, ``funding_rate`` -> column ``rate``."""
    df = _read(Path(path))
    return _frame_to_series(name, _times(df["funding_timestamp"]), df, {"rate": "funding_rate"})


def load_oracle(path: str | Path, name: str, column: str = "rate") -> Series:
    """Oracle files with ``#`` comment lines; the value column is ``oracle_price_usd`` or ``oracle_price_eth``."""
    df = _read(Path(path))
    src = "oracle_price_usd" if "oracle_price_usd" in df.columns else "oracle_price_eth"
    return _frame_to_series(name, _times(df["timestamp"]), df, {column: src})


def load_gas(path: str | Path, name: str = "gas") -> Series:
    """Ethereum gas history: base fee, median priority fee and gas price, in gwei."""
    df = _read(Path(path))
    return _frame_to_series(name, _times(df["timestamp"]), df, {
        "base_fee_gwei": "base_fee_gwei",
        "priority_fee_gwei": "priority_fee_p50_gwei",
        "gas_price_gwei": "gas_price_gwei",
    })


def fill_gaps(primary: Series, secondary: Series, max_gap_ns: int = _HOUR_NS) -> Series:
    """``primary`` with every gap longer than ``max_gap_ns`` filled by ``secondary``'s rows inside the gap.

    Used for the same contract on another venue (a venue's perp file with day-long holes that another
    venue's covers): a stale mark for a day would otherwise show as a spike in every hedged PnL.
    """
    times, cols = list(primary.times), {c: list(v) for c, v in primary.columns.items()}
    out_t: list[int] = []
    out_c: dict[str, list[Decimal]] = {c: [] for c in cols}
    sec_cols = {c: secondary.column(c) for c in cols}
    for i, t in enumerate(times):
        if i and t - times[i - 1] > max_gap_ns:
            for j in secondary.range_between(times[i - 1], t - 1):
                out_t.append(secondary.times[j])
                for c in cols:
                    out_c[c].append(sec_cols[c][j])
        out_t.append(t)
        for c in cols:
            out_c[c].append(cols[c][i])
    return Series(primary.name, out_t, out_c)


_SPOT = re.compile(r"^spot:(?P<venue>[^:]+):(?P<pair>[^:]+)$")


def load_data_dir(directory: str | Path, aliases: Mapping[str, str] | None = None,
                  max_staleness: Staleness = DEFAULT_MAX_STALENESS,
                  contributions: MarketDataFiles | None = None) -> DataProvider:
    """Load every recognised ``*.csv`` of ``directory`` into a DataProvider (see :func:`load_data_files`).

    Other files are ignored (logged); a directory with no recognised file is an error listing the accepted
    file kinds.
    """
    d = Path(directory)
    if not d.is_dir():
        raise MarketDataError(f"data directory {d} does not exist")
    return load_data_files(sorted(d.glob("*.csv")), aliases, max_staleness, contributions, name=str(d),
                           strict=False)


def load_data_files(paths: Sequence[str | Path], aliases: Mapping[str, str] | None = None,
                    max_staleness: Staleness = DEFAULT_MAX_STALENESS, contributions: MarketDataFiles | None = None,
                    *, name: str = "files", strict: bool = True) -> DataProvider:
    """Load market data files into a DataProvider with the file loaders the installed venues and the core
    contribute (``market_data_files`` hooks; ``contributions`` replaces them, e.g. in tests).

    Two files making one series are an error naming both. A venue's spot series ``spot:<venue>:<pair>`` also
    answers as ``spot:<pair>`` when exactly one venue has that pair; with several, ``spot:<pair>`` is an error
    naming them until ``aliases`` chooses one (e.g. ``{"spot:ETH/USDT": "spot:bybit:ETH/USDT"}``). Gaps longer
    than an hour in a series with a contributed gap fill are filled from its counterpart. ``strict``: an
    unrecognised file is an error listing the accepted file kinds (else it is skipped, and only having no
    recognised file at all is an error).
    """
    from basis_core.data.contrib import FileContributions, collect_files, data_plugin_manager

    if contributions is None:
        contrib = collect_files(data_plugin_manager())
    else:
        contrib = FileContributions([("given", fl) for fl in contributions.loaders], dict(contributions.aliases),
                                    dict(contributions.gap_fills))
    series: dict[str, Series] = {}
    source: dict[str, str] = {}
    ignored: list[str] = []
    for path in map(Path, paths):
        for who, loader in contrib.loaders:
            sname = loader.match(path.name)
            if sname is None:
                continue
            if sname in series:
                raise MarketDataError(f"two files make the series {sname!r}: {source[sname]} and {path.name} "
                                      "(keep one, or rename one so another loader reads it)")
            series[sname] = loader.load(path, sname)
            source[sname] = path.name
            log.debug("%s: %s read by %s", path.name, sname, who)
            break
        else:
            ignored.append(path.name)
    if not series or (strict and ignored):
        listed = ", ".join(ignored[:10]) + (" ..." if len(ignored) > 10 else "") if ignored else "no *.csv files"
        raise MarketDataError(f"no recognised market data files in {name} ({listed}); accepted file names:\n"
                              + contrib.accepted())
    if ignored:
        log.info("%s: ignored %d unrecognised file(s): %s", name, len(ignored), ", ".join(ignored))
    for sname, other in contrib.gap_fills.items():
        if sname in series and other in series:
            series[sname] = fill_gaps(series[sname], series[other])
    al: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    for sname in series:
        m = _SPOT.match(sname)
        if m:
            ambiguous.setdefault(f"spot:{m['pair']}", []).append(sname)
    for generic, names in ambiguous.items():
        if len(names) == 1:
            al[generic] = names[0]
    al.update({k: v for k, v in contrib.aliases.items() if k not in al})
    al.update(aliases or {})
    return DataProvider(series, aliases={k: v for k, v in al.items() if k not in series}, name=name,
                        max_staleness=max_staleness,
                        ambiguous={k: v for k, v in ambiguous.items() if len(v) > 1 and k not in al})
