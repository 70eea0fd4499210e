"""Binance plugin tests: make the plugin importable from the source tree when it is not installed."""

from __future__ import annotations

import sys
from pathlib import Path

try:  # the plugin is normally pip-installed; fall back to the source tree
    import basis_venue_binance  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
