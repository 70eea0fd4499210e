"""Imported once by the local pool's fork server: what every worker needs, loaded before the workers fork
(the backtest runner, and the installed venue plugins' modules through the ordinary discovery), so a new
pool's workers start warm."""

from __future__ import annotations

import logging

import basis_core.backtest.runner
import basis_core.sweep.worker  # noqa: F401
from basis_core.discovery import discover_venues

try:
    discover_venues()
except Exception as exc:  # a broken plugin is reported again, per variant, by the manager
    logging.getLogger(__name__).debug("venue discovery in the fork server failed: %s", exc)
