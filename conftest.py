"""Suite-wide guard: no test or fixture may leave the thread's Decimal context (or the default for new threads)
changed.

The library promises to keep the host's context (basis_core.numeric); code that changes it leaks into every later
test on the same xdist worker (e.g. ``import vyper`` installs a 78-digit context). The guard compares the context
with the one the session started with before each test (a module or session fixture set up for it may have changed
it) and after it, fails the test whose setup or run changed it, and puts the context back so later tests run as
they would alone.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator

import pytest


def _settings(ctx: decimal.Context) -> tuple[object, ...]:
    """What a context computes with (its flags change with every inexact operation, so they are left out)."""
    traps = tuple(sorted(t.__name__ for t, on in ctx.traps.items() if on))
    return (type(ctx).__name__, ctx.prec, ctx.rounding, ctx.Emin, ctx.Emax, ctx.capitals, ctx.clamp, traps)


_SESSION_CONTEXT = decimal.getcontext()
_SESSION_SETTINGS = _settings(_SESSION_CONTEXT)
_DEFAULT_COPY = decimal.DefaultContext.copy()
_DEFAULT_SETTINGS = _settings(decimal.DefaultContext)


def _restore_and_report(when: str) -> str | None:
    """Put the session's contexts back; say what had changed (None when nothing had)."""
    problems = []
    now = _settings(decimal.getcontext())
    if now != _SESSION_SETTINGS:
        decimal.setcontext(_SESSION_CONTEXT)
        problems.append(f"the thread's Decimal context changed {when}: {_SESSION_SETTINGS} -> {now}")
    default_now = _settings(decimal.DefaultContext)
    if default_now != _DEFAULT_SETTINGS:
        for name in ("prec", "rounding", "Emin", "Emax", "capitals", "clamp"):
            setattr(decimal.DefaultContext, name, getattr(_DEFAULT_COPY, name))
        decimal.DefaultContext.traps = _DEFAULT_COPY.traps.copy()
        problems.append(f"decimal.DefaultContext changed {when}: {_DEFAULT_SETTINGS} -> {default_now}")
    return "; ".join(problems) or None


@pytest.fixture(autouse=True)
def _decimal_context_unchanged() -> Iterator[None]:
    problem = _restore_and_report("while fixtures were set up for this test (or by an earlier teardown)")
    assert problem is None, problem
    yield
    problem = _restore_and_report("during this test")
    assert problem is None, problem
