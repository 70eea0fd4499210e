"""Paired cross-venue execution: legs on several venues run as a saga under a legging-risk budget.

``manager.execute(ts, {"operation": "paired", "legs": [...], "budget": {...}})`` -- see
:mod:`basis_core.paired.model` (the instruction) and :mod:`basis_core.paired.saga` (how it runs).
"""

from basis_core.paired.model import LatencyModel, LeggingBudget, Paired, parse_paired
from basis_core.paired.saga import execute_paired

__all__ = ["LatencyModel", "LeggingBudget", "Paired", "execute_paired", "parse_paired"]
