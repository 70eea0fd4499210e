"""A child process for the crash tests of live moves: runs one move and stops dead (blocks until killed) at
``crash_at``, printing ``CRASH-POINT`` so the parent knows where it is:

- ``before_send``: the move and its withdrawal intent are journaled, the request is not sent (the venue
  backend's ``send_withdrawal`` is reached and blocks instead of sending);
- ``after_send``: the withdrawal was accepted and the move returned (it is in transit).

argv: a JSON file with ``config`` (manager settings), ``ts``, ``move`` and ``crash_at``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from basis_core import ExecutionInterfaceManager


def main() -> None:
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)
    m = ExecutionInterfaceManager(config=spec["config"], execution_mode="live")
    if spec["crash_at"] == "before_send":
        backend = m.venue("hyperliquid").backend

        def stop(*_args: Any) -> Any:
            print("CRASH-POINT before_send", flush=True)
            sys.stdin.readline()  # wait here to be killed
            raise SystemExit(1)

        backend.send_withdrawal = stop
    m.execute(spec["ts"], spec["move"])
    print("CRASH-POINT after_send", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    main()
