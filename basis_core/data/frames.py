"""Exact decimal columns from pandas / numpy data: the building block of ``DataProvider.from_frames`` and the
file loaders.

Text columns (``"3456.78"``) become a :class:`~basis_core.data.series.FixedColumn` (int64 units, exact) when
every value fits 18 digits, else a list of Decimals; float columns go through each float's shortest repr
(``0.1`` -> ``Decimal("0.1")``); Decimal / int columns are kept exact.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from basis_core.data.series import FixedColumn, Series
from basis_core.errors import MarketDataError

_MAX_DIGITS = 18  # int64 holds every 18-digit integer


def int_array(values: np.ndarray) -> array[int]:
    """A compact ``array('q')`` of int64 values (8 bytes a row; bisect and indexing work on it)."""
    out = array("q")
    out.frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    return out


def decimal_column(values: Any, what: str) -> Sequence[Decimal]:
    """Exact Decimals of ``values`` (strings, floats, ints or Decimals); MarketDataError names ``what``."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return FixedColumn(int_array(arr), 0)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise MarketDataError(f"{what}: NaN or infinite values (fill or drop them first)")
        return text_column(np.array([repr(v) for v in arr.tolist()]), what)
    if arr.dtype.kind == "U":
        return text_column(arr, what)
    try:
        return [v if isinstance(v, Decimal) else Decimal(str(v) if v != "" else 0) for v in arr.tolist()]
    except (InvalidOperation, TypeError, ValueError):
        raise MarketDataError(f"{what}: values must be numbers") from None


def text_column(text: np.ndarray, what: str) -> Sequence[Decimal]:
    """Decimals of a numpy string array; empty strings are 0 (as the CSV exports mean them)."""
    s = np.strings.strip(text)
    s = np.where(np.strings.str_len(s) == 0, "0", s)
    simple = np.strings.find(s, "e") < 0
    simple &= np.strings.find(s, "E") < 0
    if bool(simple.all()):
        dot = np.strings.find(s, ".")
        lens = np.strings.str_len(s)
        frac = np.where(dot >= 0, lens - dot - 1, 0)
        places = int(frac.max()) if len(frac) else 0
        digits = np.strings.replace(s, ".", "")
        width = np.strings.str_len(np.strings.lstrip(np.strings.lstrip(digits, "-+"), "0"))
        if int(width.max(initial=0)) + places - int(frac.min(initial=0)) <= _MAX_DIGITS:
            try:
                units = digits.astype(np.int64) * (10 ** (places - frac)).astype(np.int64)
            except ValueError:
                raise MarketDataError(f"{what}: values must be numbers") from None
            return FixedColumn(int_array(units), places)
    try:
        return [Decimal(v) for v in s.tolist()]
    except InvalidOperation:
        raise MarketDataError(f"{what}: values must be numbers") from None


def times_ns(index: Any, what: str) -> np.ndarray:
    """UTC ns (int64) of a DatetimeIndex / datetime column (aware) or of ints already in ns."""
    if isinstance(index, pd.DatetimeIndex) or (isinstance(index, pd.Series) and
                                               isinstance(index.dtype, pd.DatetimeTZDtype | np.dtype)
                                               and index.dtype.kind == "M"):
        dt = pd.DatetimeIndex(index)
        if dt.tz is None:
            raise MarketDataError(f"{what}: timestamps have no timezone (localize them to UTC)")
        return np.asarray(dt.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)
    arr = np.asarray(index)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    raise MarketDataError(f"{what}: the index must be timezone-aware timestamps (got {arr.dtype})")


def series_from_frame(name: str, frame: pd.DataFrame, time_col: str | None = None) -> Series:
    """A :class:`Series` named ``name`` from ``frame`` (rows sorted by time; a duplicate time keeps its last row).

    Times come from ``time_col``, else a ``timestamp`` column, else the index (aware).
    """
    if not isinstance(frame, pd.DataFrame):
        raise MarketDataError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    col = time_col or ("timestamp" if "timestamp" in frame.columns else None)
    times = times_ns(frame[col] if col else frame.index, name)
    data = frame.drop(columns=[col]) if col else frame
    if data.shape[1] == 0:
        raise MarketDataError(f"{name}: the frame has no value columns")
    order = np.argsort(times, kind="stable")
    t = times[order]
    keep = np.ones(len(t), dtype=bool)
    keep[:-1] = t[1:] != t[:-1]
    rows = order[keep]
    return Series(name, int_array(t[keep]), {str(c): decimal_column(data[c].to_numpy()[rows], f"{name}.{c}")
                                          for c in data.columns})
