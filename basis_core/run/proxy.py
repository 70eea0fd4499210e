"""What a strategy's ``manager`` is during ``basis run``: the run's manager, with every instruction given a
deterministic client id and written to the run's instruction log, so that a step interrupted by a crash is
replayed without sending anything twice.

Client ids: ``r<run>-<step>-<actor>-<n>`` (the run's id, the step number, the strategy's index or ``s`` for
the scenario's schedule, the instruction's number within the step), unless the instruction carries its own.
Before an instruction goes out its ``sending`` row is fsync'd; its ``done`` (with the deltas) or ``failed`` row
follows.

Replaying a step (live mode, after a crash in it), for each instruction the strategy asks again, by client id:

- ``done`` in the log: the logged deltas are returned; nothing is sent;
- ``sending`` without an outcome: the *logged* instruction is executed again with the same client id, so the
  live journal finds it (adopted when it reached the venue, sent once more only when verifiably absent);
- ``failed``, or not in the log: executed as usual.

A replayed instruction on another venue or of another operation than the logged one raises
:class:`~basis_core.errors.RunResumeError` (the strategy took another path: stopping is the only safe move).
Everything else (``get_balances``, ``venues``, ``data_provider`` ...) is the manager's own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import BasisError, RunResumeError
from basis_core.instructions import InstructionBase, parse_instruction
from basis_core.run.state import InstructionLog
from basis_core.timeutil import to_utc

log = logging.getLogger(__name__)


def deltas_from_dict(d: Mapping[str, Any]) -> ExecutionDeltas:
    """An :class:`ExecutionDeltas` back from :meth:`ExecutionDeltas.to_dict` (Decimals exact)."""
    def dec(m: Mapping[str, Any]) -> dict[str, Decimal]:
        return {k: Decimal(v) for k, v in m.items()}

    return ExecutionDeltas(
        venue=d["venue"], operation=d["operation"], timestamp=to_utc(d["timestamp"]).to_pydatetime(),
        positions=dec(d.get("positions", {})), fees=dec(d.get("fees", {})), status=d.get("status", "filled"),
        client_id=d.get("client_id"), order_id=d.get("order_id"),
        fill_price=None if d.get("fill_price") is None else Decimal(d["fill_price"]),
        fill_amount=None if d.get("fill_amount") is None else Decimal(d["fill_amount"]),
        pnl=dec(d.get("pnl", {})), details=dict(d.get("details", {})))


class RunManager:
    """The manager a strategy sees in ``basis run`` (see the module docstring).

    :param manager: the run's :class:`~basis_core.manager.ExecutionInterfaceManager`.
    :param run_id: the run's id (part of every client id).
    :param log_: the run's instruction log.
    """

    def __init__(self, manager: Any, run_id: str, log_: InstructionLog) -> None:
        self._manager = manager
        self._run_id = run_id
        self._log = log_
        self._step = 0
        self._actor = "s"
        self._n = 0
        self._replay: dict[str, dict[str, Any]] = {}
        #: client ids of the replayed step the strategies asked again
        self.replayed: set[str] = set()
        #: deltas of the instructions executed in this step (for the step's record)
        self.sent = 0

    @property
    def manager(self) -> Any:
        return self._manager

    def begin_step(self, step: int, replay: Mapping[str, dict[str, Any]] | None = None) -> None:
        """Start step ``step``; ``replay``: the log's rows of this step when it is replayed after a crash."""
        self._step = step
        self._replay = dict(replay or {})
        self.replayed = set()
        self.sent = 0

    @property
    def replaying(self) -> bool:
        """This step is a replay with logged instructions."""
        return bool(self._replay)

    def act_as(self, actor: str) -> None:
        """Instructions from now on come from ``actor`` (a strategy's index, or ``s`` for the schedule)."""
        self._actor = actor
        self._n = 0

    def unreplayed(self) -> list[dict[str, Any]]:
        """Logged instructions of the replayed step that went out (or may have) and were not asked again."""
        return [r for cid, r in self._replay.items() if cid not in self.replayed and r.get("phase") != "failed"]

    def _client_id(self) -> str:
        self._n += 1
        return f"r{self._run_id}-{self._step}-{self._actor}-{self._n}"

    def execute(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        """Execute through the run's manager with a deterministic client id, logged before it is sent."""
        if isinstance(instruction, str | bytes):
            instruction = parse_instruction(instruction)
        given = instruction.client_id if isinstance(instruction, InstructionBase) else (
            instruction.get("client_id") if isinstance(instruction, Mapping) else None)
        cid = given or self._client_id()
        if given is None:
            if isinstance(instruction, InstructionBase):
                instruction = instruction.model_copy(update={"client_id": cid})
            else:
                instruction = {**instruction, "client_id": cid}
        venue = instruction.venue if isinstance(instruction, InstructionBase) else instruction.get("venue")
        op = getattr(instruction, "operation", None) if isinstance(instruction, InstructionBase) else instruction.get(
            "operation")
        logged = self._replay.get(cid)
        if logged is not None:
            self.replayed.add(cid)
            was = logged.get("instruction") or {}
            if (was.get("venue"), was.get("operation")) != (venue, op):
                raise RunResumeError(f"step {self._step}: replayed instruction {cid} is {venue} {op}, but the "
                                     f"interrupted step had sent {was.get('venue')} {was.get('operation')}; "
                                     "stopping rather than guessing")
            if logged.get("phase") == "done":
                log.info("step %s: %s was done before the restart: its deltas are reused", self._step, cid)
                return deltas_from_dict(logged["deltas"])
            if logged.get("phase") == "sending":
                log.warning("step %s: %s may have been sent before the restart: resolving it by client id",
                            self._step, cid)
                instruction = was
        as_json = instruction.model_dump(mode="json") if isinstance(instruction, InstructionBase) else instruction
        self._log.write({"step": self._step, "client_id": cid, "phase": "sending", "instruction": as_json})
        try:
            d: ExecutionDeltas = self._manager.execute(timestamp, instruction)
        except BasisError as exc:
            self._log.write({"step": self._step, "client_id": cid, "phase": "failed",
                             "error": f"{type(exc).__name__}: {exc}"})
            raise
        self._log.write({"step": self._step, "client_id": cid, "phase": "done", "deltas": d.to_dict()})
        self.sent += 1
        return d

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)


__all__ = ["RunManager", "deltas_from_dict"]
