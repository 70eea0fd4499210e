"""Timestamps: every timestamp is timezone-aware; internally UTC nanoseconds since the epoch.

pandas is imported on first use, not at ``import basis_core`` (it is most of the import time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from basis_core.errors import ClockError, short_repr

if TYPE_CHECKING:
    import pandas as pd

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_pd: Any = None
_PD_UTC: Any = None
_PD_TIMESTAMP: Any = None  # pd.Timestamp once pandas is imported


def _pandas() -> Any:
    global _pd, _PD_UTC, _PD_TIMESTAMP
    if _pd is None:
        import pandas

        _PD_UTC = pandas.Timestamp(0, tz="UTC").tzinfo
        _PD_TIMESTAMP = pandas.Timestamp
        _pd = pandas
    return _pd


def is_utc_timestamp(ts: object) -> bool:
    """Whether ``ts`` already is what :func:`to_utc` returns (a UTC ``pd.Timestamp``): the cheap check."""
    return type(ts) is _PD_TIMESTAMP and ts.tzinfo is _PD_UTC  # type: ignore[attr-defined]


#: the range of nanosecond timestamps (pandas' own), quoted in errors
_RANGE = "1677-09-22 .. 2262-04-11"


def to_utc(ts: datetime | str | pd.Timestamp) -> pd.Timestamp:
    """A UTC ``pd.Timestamp`` from an aware datetime or an ISO string with an offset.

    Raises :class:`ClockError` (field ``timestamp``) for a naive timestamp, a value that is no timestamp,
    or one outside the nanosecond range (years 1677 .. 2262).
    """
    pdm = _pd or _pandas()
    if type(ts) is pdm.Timestamp and ts.tzinfo is _PD_UTC:  # type: ignore[union-attr]
        if ts.unit != "ns":  # type: ignore[union-attr]
            return _in_range(ts)  # type: ignore[arg-type]
        return ts  # type: ignore[return-value]
    try:
        return _in_range(_to_utc(pdm, ts))
    except (OverflowError, ValueError) as e:
        if isinstance(e, ClockError):
            raise
        raise ClockError(f"timestamp: {short_repr(ts)} is not a usable timestamp ({_RANGE}): "
                         f"{short_repr(str(e))}") from None


def _in_range(ts: pd.Timestamp) -> pd.Timestamp:
    """``ts`` in nanoseconds, or ClockError when it is outside the nanosecond range."""
    try:
        return ts.as_unit("ns") if ts.unit != "ns" else ts
    except (OverflowError, ValueError):
        raise ClockError(f"timestamp: year {ts.year} is outside the supported range {_RANGE}") from None


def _to_utc(pdm: Any, ts: Any) -> pd.Timestamp:
    if isinstance(ts, pdm.Timestamp):
        if ts.tzinfo is None:
            raise ClockError("timestamp: has no timezone; give an aware timestamp (e.g. ...Z or +00:00)")
        return ts.tz_convert("UTC")
    if isinstance(ts, str):
        if len(ts) > 64:
            raise ClockError(f"timestamp: {short_repr(ts, 40)} is too long for an ISO timestamp")
        return _parse_utc(ts)
    if isinstance(ts, datetime):
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ClockError("timestamp: has no timezone; give an aware timestamp (e.g. ...Z or +00:00)")
        return pdm.Timestamp(ts).tz_convert("UTC")
    raise ClockError(f"timestamp: expected a datetime or ISO string, got {type(ts).__name__}")


@lru_cache(maxsize=1024)
def _parse_utc(text: str) -> pd.Timestamp:
    """:func:`to_utc` of an ISO string, memoised (live callers pass the same few strings again and again;
    timestamps are immutable, so sharing them is safe)."""
    try:
        parsed = (_pd or _pandas()).Timestamp(text)
    except ValueError as e:
        raise ClockError(f"timestamp: cannot parse {short_repr(text)}: {short_repr(str(e))}") from None
    return to_utc(parsed)


def to_ns(ts: datetime | str | pd.Timestamp) -> int:
    """UTC nanoseconds since the epoch of an aware timestamp (see :func:`to_utc`)."""
    pdm = _pd or _pandas()
    if type(ts) is pdm.Timestamp and ts.tzinfo is not None:  # type: ignore[union-attr]
        return int(ts.value)  # type: ignore[union-attr]
    return int(to_utc(ts).value)


def from_ns(ns: int) -> pd.Timestamp:
    """The UTC timestamp of ``ns`` nanoseconds since the epoch."""
    return (_pd or _pandas()).Timestamp(ns, unit="ns", tz="UTC")  # any int64 ns is in range


NS_PER_SECOND = 1_000_000_000
NS_PER_HOUR = 3600 * NS_PER_SECOND
