"""The files ``basis run`` keeps in its state folder, and how they are written so a crash loses nothing.

=========================  ======================================================================================
``run.json``               who the folder belongs to: scenario name and fingerprint, mode, run id (written once)
``state.json``             where the run is: steps done, the step in flight, the next step's time, each strategy's
                           saved state, unhedged exposures, the last events; replaced atomically (write a temporary
                           file, fsync, rename) at the start and the end of every step
``instructions.jsonl``     every instruction the strategies sent: ``sending`` (before it goes out, fsync'd) then
                           ``done`` (its deltas) or ``failed``; a restart replays the step that was in flight
                           from it (see :mod:`basis_core.run.proxy`)
``ledger.pickle``          paper mode: the simulated venues' ledger (balances and their tables: open orders, perp
                           entries ...) at the end of the last step, replaced atomically
``journal.sqlite``         live mode: the manager's execution journal (``journal_path``)
``runstate.sqlite``        the run-state store ``basis status`` reads (:mod:`basis_core.runstate`), when installed
=========================  ======================================================================================
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import threading
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from basis_core.errors import RunResumeError

RUN_FILE = "run.json"
STATE_FILE = "state.json"
INSTRUCTIONS_FILE = "instructions.jsonl"
LEDGER_FILE = "ledger.pickle"
JOURNAL_FILE = "journal.sqlite"
#: events kept in ``state.json`` (the newest)
MAX_EVENTS = 50


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    return str(o)


def dumps(obj: Any) -> str:
    """Compact JSON (Decimals as strings)."""
    return json.dumps(obj, default=_default, separators=(",", ":"), sort_keys=True)


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace ``path`` with ``data``: a reader (or a restart after the process was killed) sees the old or the new
    file whole. ``durable``: also fsync the file and its folder, so it survives an OS crash or a power loss."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if not durable:
        return
    with contextlib.suppress(OSError):  # the rename itself durable (POSIX); not available everywhere
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fingerprint(scenario: Mapping[str, Any]) -> str:
    """A short hash of a scenario's content (what decides the run's positions)."""
    return hashlib.sha256(dumps(scenario).encode()).hexdigest()[:16]


class StateFolder:
    """A run's state folder (created when missing). See the module docstring for its files."""

    def __init__(self, path: str | Path, durable: bool = True) -> None:
        self.path = Path(path)
        #: fsync every write (survives an OS crash; a killed process loses nothing either way)
        self.durable = durable
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunResumeError(f"state: cannot create {self.path}: {e.strerror}") from None

    def file(self, name: str) -> Path:
        return self.path / name

    # -- identity -------------------------------------------------------------------------------
    def claim(self, scenario_name: str, scenario_fp: str, mode: str) -> tuple[str, bool]:
        """``(run id, resumed)``: the folder's run when it is this scenario's in this mode, else a new one;
        :class:`RunResumeError` when the folder belongs to another scenario or mode."""
        f = self.file(RUN_FILE)
        if f.exists():
            try:
                info = json.loads(f.read_text())
            except (OSError, ValueError) as e:
                raise RunResumeError(f"state: {f} is unreadable ({e})") from None
            if info.get("mode") != mode:
                raise RunResumeError(f"state: {self.path} holds a {info.get('mode')} run; this is a {mode} run "
                                     "(use another --state folder)")
            if info.get("scenario_fingerprint") != scenario_fp:
                raise RunResumeError(f"state: {self.path} holds a run of another scenario "
                                     f"({info.get('scenario')!r}, fingerprint {info.get('scenario_fingerprint')}); "
                                     "the scenario changed since: use another --state folder")
            return str(info["run_id"]), True
        run_id = hashlib.sha256(f"{scenario_fp}:{time.time_ns()}:{os.getpid()}".encode()).hexdigest()[:8]
        write_atomic(f, dumps({"run_id": run_id, "scenario": scenario_name, "scenario_fingerprint": scenario_fp,
                               "mode": mode, "created_ns": time.time_ns()}).encode())
        return run_id, False

    # -- state.json -----------------------------------------------------------------------------
    def load_state(self) -> dict[str, Any] | None:
        f = self.file(STATE_FILE)
        if not f.exists():
            return None
        try:
            data: dict[str, Any] = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            raise RunResumeError(f"state: {f} is unreadable ({e})") from None
        return data

    def save_state(self, state: Mapping[str, Any]) -> None:
        write_atomic(self.file(STATE_FILE), json.dumps(state, default=_default, indent=1, sort_keys=True).encode(),
                     self.durable)

    # -- the paper ledger -----------------------------------------------------------------------
    def save_ledger(self, ledger: Any) -> None:
        """The ledger's balances and tables (their values are immutable by the ledger's rule: picklable)."""
        tables = {name: dict(t.data) for name, t in ledger._tables.items()}  # the ledger lists no table names
        write_atomic(self.file(LEDGER_FILE), pickle.dumps({"balances": ledger.balances, "tables": tables},
                                                          protocol=pickle.HIGHEST_PROTOCOL), self.durable)

    def load_ledger(self, ledger: Any) -> bool:
        """Put the saved balances and tables into ``ledger`` (replacing what it holds); False when none saved."""
        f = self.file(LEDGER_FILE)
        if not f.exists():
            return False
        try:
            saved = pickle.loads(f.read_bytes())  # our own file, written by save_ledger
        except Exception as e:
            raise RunResumeError(f"state: {f} is unreadable ({type(e).__name__}: {e})") from None
        for key in list(ledger.balances):
            ledger.set_balance(key, Decimal(0))
        for key, value in saved["balances"].items():
            ledger.set_balance(key, value)
        for name, rows in saved["tables"].items():
            table = ledger.table(name)
            for k in list(table.keys()):
                del table[k]
            for k, v in rows.items():
                table[k] = v
        return True


class InstructionLog:
    """``instructions.jsonl``: one JSON line per event of an instruction, appended and fsync'd."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        self._f = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, row: Mapping[str, Any]) -> None:
        line = dumps(row) + "\n"
        with self._lock:
            self._f.write(line)
            self._f.flush()
            if self.durable:
                os.fsync(self._f.fileno())

    def close(self) -> None:
        with self._lock:
            self._f.close()

    @staticmethod
    def read(path: Path) -> Iterator[dict[str, Any]]:
        """The rows written so far (a torn last line, from a crash mid-write, is ignored)."""
        if not path.exists():
            return
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue

    def of_step(self, step: int) -> dict[str, dict[str, Any]]:
        """client id -> the last row of each instruction of step ``step``, plus its ``instruction``."""
        out: dict[str, dict[str, Any]] = {}
        for row in self.read(self.path):
            if row.get("step") != step:
                continue
            cid = row["client_id"]
            prev = out.get(cid, {})
            out[cid] = {**prev, **row, "instruction": row.get("instruction") or prev.get("instruction")}
        return out


__all__ = ["INSTRUCTIONS_FILE", "JOURNAL_FILE", "LEDGER_FILE", "RUN_FILE", "STATE_FILE", "InstructionLog",
           "StateFolder", "dumps", "fingerprint", "write_atomic"]
