"""``basis run``: a backtest scenario's strategies in paper or live mode, on the wall clock.

- :class:`~basis_core.run.loop.Runner`: the loop (steps, resume, stop, clock jumps);
- :mod:`basis_core.run.clock`: the clocks it steps on (wall, scaled, manual for tests) and the gap policy;
- :mod:`basis_core.run.preflight`: every leg checked before anything is sent;
- :mod:`basis_core.run.proxy`: deterministic client ids and the instruction log a restart replays;
- :mod:`basis_core.run.state`: the state folder's files.
"""

from __future__ import annotations

from basis_core.run.clock import ManualClock, ScaledClock, SystemClock, next_step
from basis_core.run.loop import RUN_HISTORY_LIMIT, Runner, RunResult, StepReport, build_manager
from basis_core.run.preflight import Problem

__all__ = ["RUN_HISTORY_LIMIT", "ManualClock", "Problem", "RunResult", "Runner", "ScaledClock", "StepReport",
           "SystemClock", "build_manager", "next_step"]
