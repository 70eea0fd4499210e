"""Retry policy of live calls: first delay 0.1 s, exponential backoff, at most ``max_attempts`` attempts.

Only what is safe to repeat is retried: :meth:`RetryPolicy.call` repeats a call only when the
caller's ``retryable(exc)`` says so (by default :class:`~basis_core.errors.RetryableError`); every
other error propagates at once. Sending an order is NOT such a call: the order flow
(:mod:`basis_core.live.orders`) looks the order up by client id after an ambiguous failure and uses
the policy only for its delays and its attempt budget.

The backoff sleeper is injectable (default :func:`time.sleep`), so tests never really sleep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from basis_core.errors import ConfigError, RetryableError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Upper bound of one backoff delay (seconds), whatever the attempt number.
MAX_DELAY_SECONDS = 30.0


def _default_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableError)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a live call is repeated.

    :param max_attempts: total attempts including the first (``max_retry_attempts``, default 3).
    :param first_delay: seconds before the second attempt (``retry_delay_seconds``, default 0.1).
    :param backoff: factor between consecutive delays (2: 0.1, 0.2, 0.4 ...).
    :param max_delay: cap of one delay in seconds.
    :param sleeper: ``sleeper(seconds)`` for the backoff delays; inject a no-op in tests.
    """

    max_attempts: int = 3
    first_delay: float = 0.1
    backoff: float = 2.0
    max_delay: float = MAX_DELAY_SECONDS
    sleeper: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError("max_retry_attempts: must be >= 1")
        if self.first_delay < 0 or self.max_delay < 0:
            raise ConfigError("retry_delay_seconds: must be >= 0")
        if self.backoff < 1:
            raise ConfigError("backoff: must be >= 1")

    @classmethod
    def from_settings(cls, settings: Any, *, sleeper: Callable[[float], None] | None = None) -> RetryPolicy:
        """A policy from :class:`~basis_core.config.BasisSettings` (``max_retry_attempts``,
        ``retry_delay_seconds``)."""
        kw: dict[str, Any] = {
            "max_attempts": int(settings.max_retry_attempts),
            "first_delay": float(settings.retry_delay_seconds),
        }
        if sleeper is not None:
            kw["sleeper"] = sleeper
        return cls(**kw)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the second attempt)."""
        if retry < 1:
            raise ValueError("retry numbers start at 1")
        return float(min(self.max_delay, self.first_delay * self.backoff ** (retry - 1)))

    def delays(self) -> list[float]:
        """Every delay of a call that uses all its attempts (``max_attempts - 1`` values)."""
        return [self.delay(i) for i in range(1, self.max_attempts)]

    def sleep_before(self, retry: int) -> None:
        """Sleep the backoff delay of retry number ``retry``."""
        d = self.delay(retry)
        if d > 0:
            self.sleeper(d)

    def call(self, fn: Callable[[], T], *, retryable: Callable[[BaseException], bool] = _default_retryable,
             what: str = "call") -> T:
        """``fn()``, repeated after the backoff delays while it raises a ``retryable`` error.

        At most :attr:`max_attempts` attempts; the last error propagates unchanged. Errors that are
        not retryable (and ``BaseException``s such as ``KeyboardInterrupt``) propagate at once.
        """
        attempt = 1
        while True:
            try:
                return fn()
            except Exception as exc:
                if attempt >= self.max_attempts or not retryable(exc):
                    raise
                log.info("%s failed (%s), attempt %d of %d; retrying", what, type(exc).__name__, attempt,
                         self.max_attempts)
                self.sleep_before(attempt)
                attempt += 1


def no_sleep(seconds: float) -> None:
    """A sleeper that does not sleep (tests)."""
