"""Importing and using basis-core leaves the host's Decimal context alone; the library still computes with
60 significant digits inside its entry points."""

from __future__ import annotations

import decimal
import subprocess
import sys
from decimal import Decimal

from basis_core.numeric import LIBRARY_CONTEXT, library_context


def test_import_and_a_backtest_leave_the_host_context_alone() -> None:
    code = (
        "import decimal\n"
        "before = (decimal.getcontext().prec, decimal.DefaultContext.prec)\n"
        "import basis_core, basis_core.backtest\n"
        "from basis_core.backtest import run\n"
        "run({'name': 'x', 'period': {'start': '2025-01-01T00:00:00Z', 'end': '2025-01-01T03:00:00Z'},"
        " 'venues': []})\n"
        "after = (decimal.getcontext().prec, decimal.DefaultContext.prec)\n"
        "print(before, after)\n"
        "assert before == after == (28, 28), (before, after)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr


def test_entry_points_compute_in_the_library_context_and_restore_the_host_one() -> None:
    seen: list[int] = []

    @library_context
    def product(a: Decimal, b: Decimal) -> Decimal:
        seen.append(decimal.getcontext().prec)
        return a * b

    a = Decimal("123456789.123456789012345678")
    b = Decimal("0.000000000000000001234567890123456789")
    with decimal.localcontext() as host:
        host.prec = 28
        exact = product(a, b)
        assert decimal.getcontext().prec == 28
        assert a * b != exact  # the host's 28 digits round it
    assert seen == [LIBRARY_CONTEXT.prec]
    assert exact == LIBRARY_CONTEXT.multiply(a, b) and len(exact.as_tuple().digits) > 28


def test_each_thread_computes_in_its_own_copy_of_the_library_context() -> None:
    import decimal
    import threading

    from basis_core.numeric import PRECISION, library_context

    seen = library_context(lambda: (decimal.getcontext().prec, id(decimal.getcontext())))
    here = seen()
    there: list[tuple[tuple[int, int], int]] = []
    t = threading.Thread(target=lambda: there.append((seen(), decimal.getcontext().prec)))
    t.start()
    t.join()
    (prec, ctx_id), host_prec = there[0]
    assert prec == here[0] == PRECISION
    assert ctx_id != here[1]  # flags raised in one thread never show in another's context
    assert host_prec == decimal.getcontext().prec < PRECISION  # each thread's own context is given back
