"""The manager is safe to call from several threads (docs/live.md, "Threads").

Backtest: 4 threads execute, query and fail instructions on one manager at once; afterwards the ledger equals
the initial balances plus the sum of the returned deltas, and the statistics and history counts add up.
Live: venue calls run concurrently (no manager-wide lock around them) while the bookkeeping stays exact.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from basis_venue_paper import PaperVenue, PaperVenueTwo

from basis_core import ExecutionDeltas, ExecutionInterfaceManager, hookimpl
from basis_core.data import DataProvider
from basis_core.deltas import merge_positions
from basis_core.errors import BasisError

T0 = "2025-02-01T00:00:00Z"
INITIAL = {"paper:spot:USDT": Decimal(20000), "paper2:spot:USDT": Decimal(20000), "paper:spot:ETH": Decimal(1)}
THREADS, ROUNDS = 4, 400


@pytest.fixture(autouse=True)
def _switch_often() -> Iterator[None]:
    """Thread switches every few microseconds, so the threads interleave inside the manager's calls."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _work(worker: int, i: int) -> dict[str, Any]:
    venue = "paper" if (worker + i) % 2 else "paper2"
    side = "buy" if i % 3 else "sell"
    amount = "0.05" if i % 7 else "50"  # every 7th is far too big: refused (overdraft) as a venue would
    return {"operation": "spot_trade", "venue": venue, "symbol": "ETH/USDT", "side": side, "amount": amount}


def _drive(m: ExecutionInterfaceManager) -> tuple[list[ExecutionDeltas], int]:
    results: list[list[ExecutionDeltas]] = [[] for _ in range(THREADS)]
    errors = [0] * THREADS
    untyped: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def run(w: int) -> None:
        start.wait(timeout=60)
        for i in range(ROUNDS):
            try:
                results[w].append(m.execute(T0, _work(w, i)))
            except BasisError:
                errors[w] += 1
            except BaseException as exc:  # anything else is a bug this test must show
                untyped.append(exc)
            if i % 10 == 0:
                m.get_balances(T0, "paper")
                m.get_execution_status()
                len(m.venue("paper").execution_history)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads) and untyped == []
    return [d for r in results for d in r], sum(errors)


def test_four_threads_on_one_backtest_manager_keep_the_ledger_invariant(market: DataProvider) -> None:
    m = ExecutionInterfaceManager({"initial_balances": {k: str(v) for k, v in INITIAL.items()}}, market, "backtest",
                                  autoload=False, plugins=[PaperVenue, PaperVenueTwo])
    done, failed = _drive(m)
    assert failed > 0 and len(done) + failed == THREADS * ROUNDS
    expected = merge_positions(INITIAL, *(d.positions for d in done))
    assert m.ledger.balances == expected  # type: ignore[union-attr]
    assert len(m.execution_history) == THREADS * ROUNDS
    assert m.execution_history.successes() == len(done)
    status = m.get_execution_status()
    assert (status["succeeded"], status["failed"]) == (len(done), failed)
    for name in ("paper", "paper2"):
        v = m.venue(name)
        mine = [d for d in done if d.venue == name]
        assert v.orders_executed == len(mine) and v.orders_executed + v.orders_failed == len(v.execution_history)
        assert sum(r.success for r in v.execution_history) == len(mine)


class SlowPaper(PaperVenue):
    """Holds every call until all threads are inside a venue call at once (proves no lock serialises them)."""

    name = "slowpaper"
    inside = threading.Barrier(THREADS)

    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        if instruction.client_id and instruction.client_id.endswith("-0"):
            type(self).inside.wait(timeout=60)  # the first call of each thread meets the others'
        return super().execute_spot_trade(timestamp, instruction)  # type: ignore[no-any-return]


def test_live_venue_calls_run_concurrently_and_the_bookkeeping_adds_up(market: DataProvider) -> None:
    m = ExecutionInterfaceManager({"venues": ["slowpaper"]}, market, "live", autoload=False, plugins=[SlowPaper])
    SlowPaper.inside.reset()
    out: list[ExecutionDeltas] = []
    lock = threading.Lock()

    def run(w: int) -> None:
        for i in range(ROUNDS // 3):
            d = m.execute(T0, {"operation": "spot_trade", "venue": "slowpaper", "symbol": "ETH/USDT", "side": "buy",
                               "amount": "0.01", "client_id": f"w{w}-{i}"})
            with lock:
                out.append(d)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)  # the barrier inside the venue was passed: calls overlapped
    n = THREADS * (ROUNDS // 3)
    assert len(out) == n == len(m.execution_history) == m.venue("slowpaper").orders_executed
    assert len(m.venue("slowpaper").execution_history) == n
    assert sorted(r.client_id for r in m.execution_history) == sorted(d.client_id for d in out)
