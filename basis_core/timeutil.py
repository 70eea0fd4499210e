"""Timestamps: every timestamp is timezone-aware; internally UTC nanoseconds since the epoch.

pandas is imported on first use, not at ``import basis_core`` (it is most of the import time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from basis_core.errors import ClockError

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


def to_utc(ts: datetime | str | pd.Timestamp) -> pd.Timestamp:
    """A UTC ``pd.Timestamp`` from an aware datetime or an ISO string with an offset.

    Raises :class:`ClockError` (field ``timestamp``) for a naive timestamp.
    """
    pdm = _pd or _pandas()
    if type(ts) is pdm.Timestamp and ts.tzinfo is _PD_UTC:  # type: ignore[union-attr]
        return ts  # type: ignore[return-value]
    if isinstance(ts, pdm.Timestamp):
        if ts.tzinfo is None:
            raise ClockError("timestamp: has no timezone; give an aware timestamp (e.g. ...Z or +00:00)")
        return ts.tz_convert("UTC")
    if isinstance(ts, str):
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
        raise ClockError(f"timestamp: cannot parse {text!r}: {e}") from None
    return to_utc(parsed)


def to_ns(ts: datetime | str | pd.Timestamp) -> int:
    """UTC nanoseconds since the epoch of an aware timestamp (see :func:`to_utc`)."""
    pdm = _pd or _pandas()
    if type(ts) is pdm.Timestamp and ts.tzinfo is not None:  # type: ignore[union-attr]
        return int(ts.value)  # type: ignore[union-attr]
    return int(to_utc(ts).value)


def from_ns(ns: int) -> pd.Timestamp:
    """The UTC timestamp of ``ns`` nanoseconds since the epoch."""
    return (_pd or _pandas()).Timestamp(ns, unit="ns", tz="UTC")


NS_PER_SECOND = 1_000_000_000
NS_PER_HOUR = 3600 * NS_PER_SECOND
