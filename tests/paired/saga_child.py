"""A child process for the crash test: runs one paired instruction live and stops dead (blocks until killed) right
after its ``crash_after``-th leg returned, printing ``CRASH-POINT`` so the parent knows where it is.

argv: a JSON file with ``config`` (manager settings), ``ts``, ``paired`` and ``crash_after``.
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
    real = m.execute
    legs = 0

    def execute(ts: Any, instruction: Any) -> Any:
        nonlocal legs
        out = real(ts, instruction)
        if isinstance(instruction, dict) and instruction.get("operation") != "paired":
            legs += 1
            if legs == spec["crash_after"]:
                print("CRASH-POINT", instruction.get("client_id"), flush=True)
                sys.stdin.readline()  # wait here to be killed
        return out

    m.execute = execute  # type: ignore[method-assign]
    m.execute(spec["ts"], spec["paired"])
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
