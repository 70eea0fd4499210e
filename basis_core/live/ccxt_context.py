"""ccxt's Decimal-context side effect, contained to the ccxt call that causes it.

ccxt's ``decimal_to_precision`` (behind every client's ``amount_to_precision``, ``price_to_precision``,
``cost_to_precision``, ``fee_to_precision`` ...; ccxt 4.x) sets ``rounding = ROUND_HALF_UP`` and traps ``Underflow``
on the calling thread's Decimal context *in place*. Unshielded, every order a live venue sends would change the
host's context (and, inside a manager call, the library's own per-thread context, so later backtest arithmetic on
that thread would round half up).

:func:`keep_decimal_context` makes one client run that function in a copy of the caller's context
(``decimal.localcontext``): ccxt computes with the caller's precision as before, and the caller's context is the
same object with the same settings and flags afterwards. Every ccxt client class in ccxt's Python code reaches the
function through the instance attribute ``decimal_to_precision`` (set by ``Exchange.__init__``), which is the one
attribute replaced. :class:`~basis_core.live.cex.CexLiveBackend` applies it to the client its plugin's
``make_client`` returns; a ccxt client a plugin makes for other calls (market data) gets it from its factory.
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Callable
from typing import Any, TypeVar

C = TypeVar("C")

_MARK = "_basis_keeps_decimal_context"


def _in_a_copy(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run in a copy of the caller's Decimal context (what it changes there is dropped)."""

    @functools.wraps(fn)
    def decimal_to_precision(*args: Any, **kwargs: Any) -> Any:
        with decimal.localcontext():
            return fn(*args, **kwargs)

    setattr(decimal_to_precision, _MARK, True)
    return decimal_to_precision


def keep_decimal_context(client: C) -> C:
    """``client`` (a ccxt exchange) changed so that its calls leave the caller's Decimal context as it was; returns
    it. Idempotent; an object without ccxt's ``decimal_to_precision`` attribute is returned unchanged."""
    fn = getattr(client, "decimal_to_precision", None)
    if fn is not None and not getattr(fn, _MARK, False):
        client.decimal_to_precision = _in_a_copy(fn)  # type: ignore[attr-defined]
    return client
