"""The state of a paper / live run: the run-state store its runner writes once per step
(:class:`RunStateStore`, :mod:`basis_core.runstate.store`) and what ``basis status`` shows of it."""

from __future__ import annotations

from basis_core.runstate.store import JOURNAL_FILE, STORE_FILE, RunInfo, RunStateStore, StepRecord, store_path

__all__ = ["JOURNAL_FILE", "STORE_FILE", "RunInfo", "RunStateStore", "StepRecord", "store_path"]
