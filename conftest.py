"""Suite-wide guard: every test starts in the Decimal context the session started with, and a test (or a fixture
set up for it) that changes the thread's context (its type, precision, rounding, traps or exponent limits) fails.

The library promises to keep the host's context (basis_core.numeric); code that changes it leaks into every later
test on the same xdist worker (``import vyper`` installs a 78-digit context, which made a 60-digit closed form in
another plugin's test disagree; ccxt's ``decimal_to_precision`` sets ROUND_HALF_UP and traps Underflow on the
calling thread's context in place, which the live venues contain with basis_core.live.ccxt_context). Before each
test (module or session fixtures set up for it may have changed the context) and after it, the guard puts a copy
of the session's context back (so later tests run as they would alone) and fails the test if what the context
computes with had changed (its flags change with every inexact operation and are not compared).

Property tests (hypothesis) draw the same examples on every run (profile ``ci``: derandomized, no example
database), so a suite that passed passes again; ``HYPOTHESIS_PROFILE=explore`` draws new examples each run to look
for new failures (with ``BASIS_FUZZ_EXAMPLES`` for more of them in the fuzz tests).
"""

from __future__ import annotations

import decimal
import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _settings(ctx: decimal.Context) -> tuple[object, ...]:
    """What a context computes with (its flags change with every inexact operation, so they are left out)."""
    traps = tuple(sorted(t.__name__ for t, on in ctx.traps.items() if on))
    return (type(ctx).__name__, ctx.prec, ctx.rounding, ctx.Emin, ctx.Emax, ctx.capitals, ctx.clamp, traps)


_SESSION_CONTEXT = decimal.getcontext().copy()  # a copy: code that mutates the thread's context object in place
_SESSION_SETTINGS = _settings(_SESSION_CONTEXT)  # cannot change what is put back
_DEFAULT_COPY = decimal.DefaultContext.copy()
_DEFAULT_SETTINGS = _settings(decimal.DefaultContext)


def _restore_and_report(when: str) -> str | None:
    """Put the session's contexts back; say what change there had been (None when none)."""
    problems = []
    now = _settings(decimal.getcontext())
    if now != _SESSION_SETTINGS:
        decimal.setcontext(_SESSION_CONTEXT.copy())
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
