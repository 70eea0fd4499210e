"""The run's shared clock: it only moves forward."""

from __future__ import annotations

from basis_core.errors import ClockError
from basis_core.timeutil import from_ns


class Clock:
    """Monotonic time of one run, in UTC nanoseconds. ``advance`` refuses to go backwards."""

    __slots__ = ("now_ns",)

    def __init__(self, start_ns: int | None = None) -> None:
        self.now_ns: int | None = start_ns

    def check(self, ts_ns: int) -> None:
        """Raise :class:`ClockError` if ``ts_ns`` is earlier than the clock."""
        if self.now_ns is not None and ts_ns < self.now_ns:
            raise ClockError(
                f"timestamp: {from_ns(ts_ns).isoformat()} is before the run's clock "
                f"{from_ns(self.now_ns).isoformat()}; time never goes backwards in a run"
            )

    def advance(self, ts_ns: int) -> int | None:
        """Move to ``ts_ns``; return the previous time (None on the first call)."""
        self.check(ts_ns)
        prev = self.now_ns
        self.now_ns = ts_ns
        return prev
