"""What the benchmarks share (imported as ``_common``: each bench runs as a script from this folder).

- :func:`best_rate`: best of ``repeat`` runs of ``fn(n)``, in calls per second of this process's CPU time;
- :func:`best_rate_fresh`: the same where ``make()`` builds a fresh state first (not timed, then a garbage
  collection) and returns the loop that is timed;
- :func:`year_accrual_seconds`: best CPU seconds of a year of hourly ``advance_to`` on a fresh position;
- :func:`emulator`: ``basis emulate <venue> --json`` in a subprocess (its own interpreter), yielding the venue's
  ``venue_config`` (demo credentials); stopped by PID.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

from basis_core.testing.emulate_process import emulate_processes


def best_rate(fn: Callable[[int], Any], n: int, repeat: int = 5) -> float:
    """Best of ``repeat`` runs, in calls per second of this process's CPU time (robust to a busy machine)."""
    best = 0.0
    for _ in range(repeat):
        t = time.process_time()
        fn(n)
        best = max(best, n / (time.process_time() - t))
    return best


def best_rate_fresh(make: Callable[[], Callable[[int], Any]], n: int, repeat: int = 3) -> float:
    """Best of ``repeat`` runs in operations per second of process CPU time; ``make()`` builds a fresh state
    (not timed) and returns the loop ``fn(n)`` that is timed."""
    best = 0.0
    for _ in range(repeat):
        loop = make()
        gc.collect()
        t = time.process_time()
        loop(n)
        best = max(best, n / (time.process_time() - t))
    return best


def year_accrual_seconds(open_position: Callable[[], Any], repeat: int, check: Callable[[Any], bool]) -> float:
    """Best of ``repeat``: CPU seconds of a year of hourly clock steps (8,760 ``advance_to`` from
    2025-01-01 01:00 UTC) on the manager ``open_position()`` builds (not timed); ``check(manager)`` must hold after
    each run."""
    import pandas as pd

    t0 = pd.Timestamp("2025-01-01T00:00:00Z")
    stamps = [t0 + pd.Timedelta(hours=h) for h in range(1, 8761)]
    best = float("inf")
    for _ in range(repeat):
        m = open_position()
        adv = m.advance_to
        gc.collect()
        t = time.process_time()
        for s in stamps:
            adv(s)
        best = min(best, time.process_time() - t)
        assert check(m)
    return best


@contextlib.contextmanager
def emulator(venue: str) -> Iterator[dict[str, Any]]:
    """``basis emulate <venue>`` in a subprocess; yields its venue_config (demo credentials); stops it by PID."""
    with emulate_processes() as start:
        yield dict(start(venue)["venue_config"][venue])
