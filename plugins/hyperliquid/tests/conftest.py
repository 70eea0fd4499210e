"""Make ``basis_venue_hyperliquid`` importable when the plugin is not pip-installed yet."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("basis_venue_hyperliquid") is None:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
