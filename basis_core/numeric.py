"""The library's Decimal context: 60 significant digits, entered at the library's entry points only.

Python's default 28 digits can round wei-exact products (an 18-decimal amount times an 18-decimal price). The
library never changes the host's context: the manager's ``execute`` / ``advance_to`` / ``get_balances`` /
``quote``, ``backtest.run`` and the market builders run their arithmetic in :data:`LIBRARY_CONTEXT` through
:func:`library_context` (a thread-local ``decimal.localcontext``), and the host's context is as it was when
they return.
"""

from __future__ import annotations

import decimal
import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

#: precision of the library's arithmetic (significant digits)
PRECISION = 60

#: the context the library computes in (the default context's rounding and traps, 60 digits)
LIBRARY_CONTEXT = decimal.Context(prec=PRECISION, rounding=decimal.ROUND_HALF_EVEN, Emin=-999999, Emax=999999,
                                  traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])

P = ParamSpec("P")
R = TypeVar("R")


_thread = threading.local()


def _thread_context() -> decimal.Context:
    """This thread's own copy of :data:`LIBRARY_CONTEXT` (its flags are per thread)."""
    ctx = _thread.ctx = LIBRARY_CONTEXT.copy()
    return ctx


def library_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` in :data:`LIBRARY_CONTEXT` and give the host its own context back afterwards.

    Calls already inside a context of at least :data:`PRECISION` digits run as they are. Otherwise the thread's
    copy of the library context is installed with ``decimal.setcontext`` and the caller's context object is put
    back in ``finally`` (about a third of the cost of ``decimal.localcontext``, which copies a context per call).
    """
    getcontext = decimal.getcontext
    setcontext = decimal.setcontext

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        prev = getcontext()
        if prev.prec >= PRECISION:
            return fn(*args, **kwargs)
        try:
            setcontext(_thread.ctx)
        except AttributeError:
            setcontext(_thread_context())
        try:
            return fn(*args, **kwargs)
        finally:
            setcontext(prev)

    return wrapper


__all__ = ["LIBRARY_CONTEXT", "PRECISION", "library_context"]


def dec(x: object) -> decimal.Decimal:
    """Exact Decimal of a number a venue (or its emulator) gives as a string, int or float (floats go through
    ``repr``, so ``0.1`` is ``Decimal("0.1")``)."""
    if type(x) is str:  # the common case: a venue's number string
        return decimal.Decimal(x)
    if isinstance(x, decimal.Decimal):
        return x
    if isinstance(x, float):
        return decimal.Decimal(repr(x))
    return decimal.Decimal(str(x))
