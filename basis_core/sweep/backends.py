"""Where variants run: ``serial`` (this process), ``local`` (a process pool sized to the machine, the default)
and ``ray`` (:mod:`basis_core.sweep.ray_backend`, a local Ray instance or a cluster).

A backend's :meth:`~Backend.run` calls ``on_result(record)`` in the calling thread as each variant finishes
(in completion order: the driver orders the table). On Ctrl-C it stops the workers, drops what has not
finished and re-raises :class:`KeyboardInterrupt`; the records already delivered are kept by the driver.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from basis_core.errors import SweepError
from basis_core.sweep.worker import init_worker, run_variant

log = logging.getLogger(__name__)

Task = dict[str, Any]
OnResult = Callable[[dict[str, Any]], None]

#: how often a pool may break (a worker killed by the OS, e.g. out of memory) before the rest are failed
MAX_POOL_RESTARTS = 2


class Backend(Protocol):
    name: str
    workers: int

    def run(self, tasks: Sequence[Task], on_result: OnResult) -> None:
        """Run every task; deliver each record to ``on_result`` as it finishes."""


def cpu_count() -> int:
    """CPUs this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class SerialBackend:
    """Every variant in this process, one after another (debugging, and the baseline of the benchmark)."""

    name = "serial"
    workers = 1

    def run(self, tasks: Sequence[Task], on_result: OnResult) -> None:
        for task in tasks:
            on_result(run_variant(task))


def _context() -> Any:
    # forkserver: workers fork from a clean server process (no threads of the host, e.g. a progress bar,
    # are copied), with basis_core imported once there; spawn where there is no forkserver.
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["basis_core.sweep.preload"])
        return ctx
    return mp.get_context("spawn")


class LocalBackend:
    """A :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` processes (default: the CPUs this
    process may use), at most two tasks in flight per worker so Ctrl-C has little to drop."""

    name = "local"

    def __init__(self, workers: int | None = None, quiet: bool = True) -> None:
        if workers is not None and workers < 1:
            raise SweepError("--workers", f"must be at least 1, got {workers}")
        self.workers = workers or cpu_count()
        self.quiet = quiet
        #: the worker processes ended by the last interruption (for inspection)
        self.stopped: list[Any] = []

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=_context(), initializer=init_worker,
                                   initargs=(self.quiet,))

    def run(self, tasks: Sequence[Task], on_result: OnResult) -> None:
        todo = list(tasks)
        restarts = 0
        while todo:
            pending = self._run_pool(todo, on_result)
            if not pending:
                return
            restarts += 1
            if restarts > MAX_POOL_RESTARTS:
                for task in pending:
                    on_result({"key": task["key"], "index": task["index"], "status": "failed", "summary": None,
                               "metrics": {}, "error": "BrokenProcessPool: a worker process died (killed by the "
                               "operating system, e.g. out of memory?) while this variant was queued or running",
                               "error_type": "BrokenProcessPool", "seconds": 0.0})
                return
            log.warning("a worker process died; restarting the pool for the %d unfinished variants", len(pending))
            todo = pending

    def _run_pool(self, tasks: list[Task], on_result: OnResult) -> list[Task]:
        """Run ``tasks`` on one pool; return the tasks left unfinished when the pool broke (else [])."""
        pool = self._pool()
        queue = list(reversed(tasks))
        running: dict[Future[dict[str, Any]], Task] = {}
        try:
            while queue or running:
                while queue and len(running) < 2 * self.workers:
                    task = queue.pop()
                    try:
                        running[pool.submit(run_variant, task)] = task
                    except BrokenProcessPool:
                        return sorted([task, *running.values(), *queue], key=lambda t: t["index"])
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: running[f]["index"]):
                    task = running.pop(fut)
                    try:
                        rec = fut.result()
                    except BrokenProcessPool:
                        left = [task, *running.values(), *reversed(queue)]
                        running.clear()
                        return sorted(left, key=lambda t: t["index"])
                    on_result(rec)
        except BaseException:
            self.stopped = _stop(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return []


def _stop(pool: ProcessPoolExecutor) -> list[Any]:
    """Cancel what is queued and end the worker processes now (a backtest cannot be interrupted politely);
    return them (ended)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10)
    return procs


def make_backend(name: str, *, workers: int | None = None, address: str | None = None,
                 ray_init: dict[str, Any] | None = None, quiet: bool = True) -> Backend:
    """The backend called ``name`` (``local``, ``serial`` or ``ray``).

    :raises SweepError: unknown name, a bad worker count, or ``--address`` without the ray backend.
    """
    if address is not None and name != "ray":
        raise SweepError("--address", "only the ray backend connects to an address (add --backend ray)")
    if name == "local":
        return LocalBackend(workers, quiet=quiet)
    if name == "serial":
        return SerialBackend()
    if name == "ray":
        from basis_core.sweep.ray_backend import RayBackend

        return RayBackend(address=address, workers=workers, init_kwargs=ray_init, quiet=quiet)
    raise SweepError("--backend", f"unknown backend {name!r}; choose local, ray or serial")


__all__ = ["MAX_POOL_RESTARTS", "Backend", "LocalBackend", "SerialBackend", "cpu_count", "make_backend"]
