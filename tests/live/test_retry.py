"""RetryPolicy: delays (0.1 s, exponential), attempt budget, what is retried, injected sleeper."""

from __future__ import annotations

import pytest

from basis_core.config import load_settings
from basis_core.errors import AmbiguousOutcomeError, ConfigError, InstructionError, RetryableError
from basis_core.live.retry import RetryPolicy, no_sleep


class Flaky:
    """Fails with ``errors`` in order, then returns ``"ok"``; counts calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_defaults_are_the_documented_schedule() -> None:
    p = RetryPolicy()
    assert (p.max_attempts, p.first_delay, p.backoff) == (3, 0.1, 2.0)
    assert p.delays() == [0.1, 0.2]
    assert [p.delay(i) for i in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.8]
    assert RetryPolicy(max_attempts=20, first_delay=1, max_delay=5).delay(10) == 5


def test_retries_retryable_errors_with_backoff_and_no_real_sleep() -> None:
    slept: list[float] = []
    p = RetryPolicy(sleeper=slept.append)
    fn = Flaky(RetryableError("429"), RetryableError("429"))
    assert p.call(fn) == "ok"
    assert fn.calls == 3 and slept == [0.1, 0.2]


def test_at_most_max_attempts_then_the_last_error() -> None:
    slept: list[float] = []
    p = RetryPolicy(max_attempts=3, sleeper=slept.append)
    last = RetryableError("third")
    fn = Flaky(RetryableError("1"), RetryableError("2"), last, RetryableError("never reached"))
    with pytest.raises(RetryableError) as ei:
        p.call(fn)
    assert ei.value is last and fn.calls == 3 and slept == [0.1, 0.2]


@pytest.mark.parametrize("exc", [InstructionError("amount", "bad"), AmbiguousOutcomeError("maybe"), ValueError("x")])
def test_non_retryable_errors_are_never_repeated(exc: BaseException) -> None:
    slept: list[float] = []
    fn = Flaky(exc)
    with pytest.raises(type(exc)):
        RetryPolicy(sleeper=slept.append).call(fn)
    assert fn.calls == 1 and slept == []


def test_custom_classifier_and_base_exceptions() -> None:
    fn = Flaky(TimeoutError("t"), TimeoutError("t"))
    assert RetryPolicy(sleeper=no_sleep).call(fn, retryable=lambda e: isinstance(e, TimeoutError)) == "ok"
    crash = Flaky(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        RetryPolicy(sleeper=no_sleep).call(crash, retryable=lambda e: True)
    assert crash.calls == 1


def test_from_settings_and_validation() -> None:
    s = load_settings({"max_retry_attempts": 5, "retry_delay_seconds": 0.25})
    p = RetryPolicy.from_settings(s, sleeper=no_sleep)
    assert (p.max_attempts, p.first_delay) == (5, 0.25) and p.delays() == [0.25, 0.5, 1.0, 2.0]
    assert RetryPolicy.from_settings(load_settings({})).delays() == [0.1, 0.2]
    with pytest.raises(ConfigError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ConfigError):
        RetryPolicy(first_delay=-1)
    one = RetryPolicy(max_attempts=1, sleeper=no_sleep)
    fn = Flaky(RetryableError("x"))
    with pytest.raises(RetryableError):
        one.call(fn)
    assert fn.calls == 1
