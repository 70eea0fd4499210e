"""basis-execution (import package ``basis_core``): one instruction model, one code path for backtest and
live, exact economics.

Import is light: no ccxt / web3 (live clients load lazily), venues are discovered by the manager.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _dist_version

from basis_core.deltas import ExecutionDeltas, instrument_key
from basis_core.hookspecs import hookimpl
from basis_core.instructions import parse_instruction
from basis_core.interfaces import (
    CEXExecutionInterface,
    DEXExecutionInterface,
    OnChainExecutionInterface,
    VenueContext,
    VenueInfo,
)
from basis_core.manager import ExecutionInterfaceManager

# The host's Decimal context is left alone: the library computes in its own 60-digit context at its entry
# points (basis_core.numeric.library_context).

#: the core's distribution name on the package index (``pip install basis-execution``); the import
#: package stays ``basis_core`` and the command ``basis``
DISTRIBUTION = "basis-execution"

try:  # single source: the version in pyproject.toml, as installed
    __version__: str = _dist_version(DISTRIBUTION)
except _PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"

__all__ = [
    "DISTRIBUTION", "CEXExecutionInterface", "DEXExecutionInterface", "ExecutionDeltas", "ExecutionInterfaceManager",
    "OnChainExecutionInterface", "VenueContext", "VenueInfo", "__version__", "hookimpl", "instrument_key",
    "parse_instruction",
]
