"""Timestamps: every timestamp is timezone-aware; internally UTC nanoseconds since the epoch."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from basis_core.errors import ClockError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PD_UTC = pd.Timestamp(0, tz="UTC").tzinfo


def to_utc(ts: datetime | str | pd.Timestamp) -> pd.Timestamp:
    """A UTC ``pd.Timestamp`` from an aware datetime or an ISO string with an offset.

    Raises :class:`ClockError` (field ``timestamp``) for a naive timestamp.
    """
    if type(ts) is pd.Timestamp and ts.tzinfo is _PD_UTC:
        return ts
    if isinstance(ts, pd.Timestamp):
        if ts.tzinfo is None:
            raise ClockError("timestamp: has no timezone; give an aware timestamp (e.g. ...Z or +00:00)")
        return ts.tz_convert("UTC")
    if isinstance(ts, str):
        try:
            parsed = pd.Timestamp(ts)
        except ValueError as e:
            raise ClockError(f"timestamp: cannot parse {ts!r}: {e}") from None
        return to_utc(parsed)
    if isinstance(ts, datetime):
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ClockError("timestamp: has no timezone; give an aware timestamp (e.g. ...Z or +00:00)")
        return pd.Timestamp(ts).tz_convert("UTC")
    raise ClockError(f"timestamp: expected a datetime or ISO string, got {type(ts).__name__}")


def to_ns(ts: datetime | str | pd.Timestamp) -> int:
    """UTC nanoseconds since the epoch of an aware timestamp (see :func:`to_utc`)."""
    if type(ts) is pd.Timestamp and ts.tzinfo is not None:
        return int(ts.value)
    return int(to_utc(ts).value)


def from_ns(ns: int) -> pd.Timestamp:
    """The UTC timestamp of ``ns`` nanoseconds since the epoch."""
    return pd.Timestamp(ns, unit="ns", tz="UTC")


NS_PER_SECOND = 1_000_000_000
NS_PER_HOUR = 3600 * NS_PER_SECOND
