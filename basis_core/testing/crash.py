"""A process killed at a chosen point (SIGKILL): for tests of what a restarted process finds in the journal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def kill_at_crash_point(script: Path, spec: Path, root: Path) -> None:
    """Run ``python script spec`` (``root`` first on its ``PYTHONPATH``) until it prints a line starting with
    ``CRASH-POINT`` (it blocks there), then kill it with SIGKILL: nothing of it runs after that point.
    AssertionError when it prints anything else first or is not killed by the signal."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, str(script), str(spec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=env)
    try:
        line = child.stdout.readline() if child.stdout else ""  # blocks until the child is at its crash point
        assert line.startswith("CRASH-POINT"), line
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
