"""Claiming a client id is atomic: of several threads or processes sharing one journal file with the same key,
exactly one writes the intent (and would send); the others find it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from basis_core.live.journal import ExecutionJournal

CLAIM = """
import sys, time
from basis_core.live.journal import ExecutionJournal
j = ExecutionJournal(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
c = j.claim("venue", "cid-1", "cid-1", "spot_trade", {"i": 1}, "fp", wait_s=0)
print("sent" if c.intent is not None else "found")
c.release()
"""


def test_eight_threads_one_intent(tmp_path: Path) -> None:
    j = ExecutionJournal(tmp_path / "j.sqlite")
    barrier = threading.Barrier(8)
    won: list[bool] = []

    def claim() -> None:
        barrier.wait()
        c = j.claim("venue", "cid", "cid", "spot_trade", {"i": 1}, "fp", wait_s=0)
        won.append(c.intent is not None)
        # the winner keeps the key while it "sends"; the others did not wait (wait_s=0)
        barrier.wait()
        c.release()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert won.count(True) == 1
    assert [r.kind for r in j.rows()] == ["intent"]


def test_two_processes_one_intent(tmp_path: Path) -> None:
    import time

    path = tmp_path / "j.sqlite"
    ExecutionJournal(path).close()
    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", CLAIM, str(path), str(start)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outs == ["found", "sent"]
    assert [r.kind for r in ExecutionJournal(path).rows()].count("intent") == 1
