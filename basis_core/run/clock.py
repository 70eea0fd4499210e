"""The clocks a paper / live run steps on, and when its next step is due.

A run asks its clock for the time (:meth:`RunClock.now`, UTC ns) and waits on it for the next step
(:meth:`RunClock.wait_until`, which returns early when the run is asked to stop). Three clocks:

- :class:`SystemClock`: the wall clock. Waits are cut into slices of at most a second and re-read the wall
  time after each, so a machine that slept (a laptop lid closed; the monotonic clock stops while suspended)
  is noticed as soon as it wakes;
- :class:`ScaledClock`: ``start + (wall - t0) x speed``, the clock of ``basis run --start T --speed N``, to
  follow an emulator replaying a path at the same speed (``basis emulate --replay FILE --speed N --start T``);
- :class:`ManualClock`: moves only when told (tests): :meth:`ManualClock.wait_until` jumps to the target at
  once, :meth:`ManualClock.jump` moves it forward as a sleeping laptop would. Deterministic; nothing sleeps.

:func:`next_step` is the pure scheduling rule, including the policy for a clock that jumped forward past
whole steps (``skip`` or a bounded ``catch_up``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

GapPolicy = Literal["skip", "catch_up"]
_NS = 1_000_000_000


class RunClock(Protocol):
    """What the run loop needs of a clock."""

    def now(self) -> int:
        """The time now, UTC ns."""
        ...

    def wait_until(self, ts_ns: int, stop: threading.Event) -> bool:
        """Wait until ``ts_ns``; False when ``stop`` was set first."""
        ...


class SystemClock:
    """The wall clock (``time.time_ns``), waiting in slices of at most ``slice_s`` seconds."""

    def __init__(self, slice_s: float = 1.0) -> None:
        self.slice_s = slice_s

    def now(self) -> int:
        return time.time_ns()

    def wait_until(self, ts_ns: int, stop: threading.Event) -> bool:
        while True:
            left = (ts_ns - self.now()) / _NS
            if left <= 0:
                return not stop.is_set()
            if stop.wait(min(left, self.slice_s)):
                return False


class ScaledClock:
    """``start_ns + (wall - t0) x speed``: a run on an accelerated (or slowed) clock, starting at ``start_ns``."""

    def __init__(self, start_ns: int, speed: float = 1.0, *, wall: Callable[[], float] = time.time,
                 slice_s: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self.start_ns = start_ns
        self.speed = float(speed)
        self._wall = wall
        self._t0 = wall()
        self.slice_s = slice_s

    def now(self) -> int:
        return self.start_ns + int((self._wall() - self._t0) * self.speed * _NS)

    def wait_until(self, ts_ns: int, stop: threading.Event) -> bool:
        while True:
            left = (ts_ns - self.now()) / _NS / self.speed
            if left <= 0:
                return not stop.is_set()
            if stop.wait(min(left, self.slice_s)):
                return False


class ManualClock:
    """A clock for tests: :meth:`wait_until` moves it to the target at once (never backwards);
    :meth:`jump` moves it forward by hand. ``on_wait(ts_ns)`` is called after each wait (a test moves an
    emulator's replay clock there, or stops the run after some steps)."""

    def __init__(self, start_ns: int, on_wait: Callable[[int], None] | None = None) -> None:
        self._now = start_ns
        self.on_wait = on_wait
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            return self._now

    def jump(self, ns: int) -> None:
        """Move the clock forward by ``ns`` (a laptop that slept)."""
        with self._lock:
            self._now += max(ns, 0)

    def set(self, ts_ns: int) -> None:
        """Move the clock to ``ts_ns`` (never backwards)."""
        with self._lock:
            self._now = max(self._now, ts_ns)

    def wait_until(self, ts_ns: int, stop: threading.Event) -> bool:
        if stop.is_set():
            return False
        self.set(ts_ns)
        if self.on_wait is not None:
            self.on_wait(ts_ns)
        return not stop.is_set()


@dataclass(frozen=True)
class NextStep:
    """When the next step runs (``at_ns``, on the step grid) and how many grid steps were given up for it."""

    at_ns: int
    skipped: int = 0


def next_step(due_ns: int, now_ns: int, step_ns: int, policy: GapPolicy = "skip", max_catch_up: int = 3) -> NextStep:
    """The next step, given the step ``due_ns`` on the grid and the time ``now_ns``.

    On time or less than a whole step late: ``due_ns``. Later than that (the clock jumped forward: the machine
    slept, the process was stopped), whole steps were missed:

    - ``skip`` (default): they are not run; the next step is the latest grid time not after now;
    - ``catch_up``: they run one after another (each at its own grid time) when at most ``max_catch_up`` were
      missed; more than that are skipped as with ``skip``.
    """
    if step_ns <= 0:
        raise ValueError("step_ns must be positive")
    if now_ns < due_ns + step_ns:
        return NextStep(due_ns)
    missed = (now_ns - due_ns) // step_ns
    if policy == "catch_up" and missed <= max_catch_up:
        return NextStep(due_ns)
    return NextStep(due_ns + missed * step_ns, missed)


__all__ = ["GapPolicy", "ManualClock", "NextStep", "RunClock", "ScaledClock", "SystemClock", "next_step"]
