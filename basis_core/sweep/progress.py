"""Progress of a sweep: counts, rate and ETA, shown as a rich bar on a terminal or as periodic log lines.

:class:`SweepProgress` is what the driver updates and what a ``progress`` callback of
:func:`basis_core.sweep.run` receives. The rate counts only the variants computed in this run (variants
reused from an earlier run are done but cost nothing), and the ETA divides what is left by it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class SweepProgress:
    """Where a sweep stands. ``done`` = ``reused`` + computed (``ok`` or ``failed`` in this run)."""

    total: int
    reused: int = 0
    ok: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)
    last: dict[str, Any] | None = None

    @property
    def computed(self) -> int:
        return self.ok + self.failed

    @property
    def done(self) -> int:
        return self.reused + self.computed

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float | None:
        """Variants computed per minute in this run (None before the first)."""
        if not self.computed or self.elapsed <= 0:
            return None
        return self.computed / self.elapsed * 60.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None before the first variant)."""
        rate = self.rate
        if rate is None:
            return None
        return (self.total - self.done) / rate * 60.0

    def line(self) -> str:
        """``12/40 variants (3 reused, 1 failed), 4.2/min, ETA 6m40s``."""
        extra = [f"{n} {what}" for n, what in ((self.reused, "reused"), (self.failed, "failed")) if n]
        rate = f"{self.rate:.1f}/min" if self.rate is not None else "-/min"
        eta = _duration(self.eta) if self.eta is not None else "?"
        more = f" ({', '.join(extra)})" if extra else ""
        return f"{self.done}/{self.total} variants{more}, {rate}, elapsed {_duration(self.elapsed)}, ETA {eta}"


def _duration(seconds: float) -> str:
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


ProgressCallback = Callable[[SweepProgress], None]


class LogProgress:
    """A log line (INFO on ``basis_core.sweep``) at most every ``interval`` seconds and at the end."""

    def __init__(self, interval: float = 30.0, logger: logging.Logger | None = None) -> None:
        self.interval = interval
        self.log = logger or log
        self._next = time.monotonic() + interval

    def __call__(self, state: SweepProgress) -> None:
        now = time.monotonic()
        if state.done >= state.total or now >= self._next:
            self._next = now + self.interval
            self.log.info("sweep: %s", state.line())


class RichProgress:
    """A rich progress bar on stderr (variants done / total, rate, ETA); use as a context manager."""

    def __init__(self, title: str = "sweep") -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(TextColumn(f"[bold]{title}[/bold]"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[detail]}"), console=Console(stderr=True),
                                  transient=False)
        self._task = self._progress.add_task(title, total=None, detail="starting")

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, state: SweepProgress) -> None:
        detail = state.line().split(" variants", 1)[1].lstrip(" ,")
        self._progress.update(self._task, completed=state.done, total=state.total, detail=detail)


__all__ = ["LogProgress", "ProgressCallback", "RichProgress", "SweepProgress"]
