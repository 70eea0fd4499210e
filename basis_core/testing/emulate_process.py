"""``basis emulate`` in subprocesses: for tests (and harnesses) that drive a venue emulator in another process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: the ``basis`` command line of this interpreter
BASIS_CLI = (sys.executable, "-c", "from basis_core.cli import main; main()")


@contextmanager
def emulate_processes() -> Iterator[Callable[..., dict[str, Any]]]:
    """Yields ``start(*args)``: runs ``basis emulate <args> --port 0 --json`` and returns the details it prints
    (base URL, demo credentials, ``venue_config``); every process started is stopped by its PID on exit
    (terminate, then kill after 5 s)."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> dict[str, Any]:
        p = subprocess.Popen([*BASIS_CLI, "emulate", *args, "--port", "0", "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        procs.append(p)
        assert p.stdout is not None
        line = p.stdout.readline()
        if not line:
            raise RuntimeError(f"basis emulate {' '.join(args)} printed nothing (exit code {p.poll()})")
        return dict(json.loads(line))

    try:
        yield start
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
