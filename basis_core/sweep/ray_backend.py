"""The Ray backend: the same variants as Ray tasks, on a local Ray instance or a cluster.

- ``address=None``: start a local Ray instance with ``workers`` CPUs (default: this machine's) and stop it
  at the end; ``"auto"``: join the cluster this machine belongs to (``ray start --head`` / a node);
  ``"ray://HOST:10001"``: connect through Ray Client. A Ray already initialised by the host application is
  used as it is and left running.
- Each variant is one task of one CPU running :func:`basis_core.sweep.worker.run_variant`; only plain data
  travels (the scenario dict there, the record back). Every node needs basis-core and the venue plugins
  the scenario uses installed (or a ``runtime_env`` passed in ``init_kwargs``), and a ``data_dir`` market
  must be readable at the same path on every node.
- Ray is an optional extra: ``pip install 'basis-execution[ray]'``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from basis_core.errors import SweepError
from basis_core.sweep.backends import OnResult, Task
from basis_core.sweep.worker import run_variant

log = logging.getLogger(__name__)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SweepError("--backend", "ray is not installed; pip install 'basis-execution[ray]' (or ray) or use "
                                      "--backend local") from None
    return ray


def _ray_variant(task: Task, quiet: bool) -> dict[str, Any]:
    """A Ray task: quiet the library's logs as a pool worker does, then run the variant."""
    import logging as _logging

    if quiet:
        _logging.getLogger("basis_core").setLevel(_logging.ERROR)
    return run_variant(task)


class RayBackend:
    """Variants as Ray tasks (see the module docstring); at most ``2 x CPUs`` tasks in flight."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 init_kwargs: dict[str, Any] | None = None, quiet: bool = True) -> None:
        if workers is not None and workers < 1:
            raise SweepError("--workers", f"must be at least 1, got {workers}")
        if address is not None and address != "auto" and not address.startswith("ray://") and ":" not in address:
            raise SweepError("--address", f"{address!r}: expected auto, ray://HOST:PORT or HOST:PORT")
        self.address = address
        self.workers = workers or 0
        self.init_kwargs = dict(init_kwargs or {})
        self.quiet = quiet
        self._ray = _ray()

    def _init(self) -> bool:
        """Start or join Ray; True when this backend started it (and so stops it)."""
        ray = self._ray
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": not self.quiet,
                                  "configure_logging": False}
        kwargs.update(self.init_kwargs)
        if self.address is None:
            if self.workers:
                kwargs.setdefault("num_cpus", self.workers)
            ray.init(**kwargs)
        else:
            kwargs.pop("include_dashboard", None)
            ray.init(address=self.address, **kwargs)
        return True

    def run(self, tasks: Sequence[Task], on_result: OnResult) -> None:
        ray = self._ray
        ours = self._init()
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1)) or 1
            if not self.workers:
                self.workers = cpus
            remote = ray.remote(num_cpus=1, max_retries=1)(_ray_variant)
            queue = list(reversed(tasks))
            running: dict[Any, Task] = {}
            try:
                while queue or running:
                    while queue and len(running) < 2 * max(self.workers, 1):
                        task = queue.pop()
                        running[remote.remote(task, self.quiet)] = task
                    done, _ = ray.wait(list(running), num_returns=1)
                    for ref in done:
                        task = running.pop(ref)
                        try:
                            rec = ray.get(ref)
                        except Exception as exc:  # the task itself died (node lost, worker killed)
                            rec = {"key": task["key"], "index": task["index"], "status": "failed", "summary": None,
                                   "metrics": {}, "error": f"{type(exc).__name__}: {exc}",
                                   "error_type": type(exc).__name__, "seconds": 0.0}
                        on_result(rec)
            except BaseException:
                for ref in running:
                    ray.cancel(ref, force=True)
                raise
        finally:
            if ours:
                ray.shutdown()


__all__ = ["RayBackend"]
