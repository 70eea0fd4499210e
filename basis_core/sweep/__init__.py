"""Parameter sweeps: many variants of one backtest scenario, on a local process pool or on Ray.

    import basis_core.sweep

    table = basis_core.sweep.run("default", {"strategies.cash_and_carry.params.margin_fraction": [0.2, 0.3],
                                             "period.end": ["2025-04-01", "2025-07-01"]}, out="sweep-out")

``basis sweep`` is the same from the command line. Modules: :mod:`~basis_core.sweep.spec` (grid, sampling,
dotted paths), :mod:`~basis_core.sweep.keys` (variant keys), :mod:`~basis_core.sweep.worker` (one variant,
plain data in and out), :mod:`~basis_core.sweep.backends` / :mod:`~basis_core.sweep.ray_backend`,
:mod:`~basis_core.sweep.results` (records, table, ranking), :mod:`~basis_core.sweep.plots`,
:mod:`~basis_core.sweep.progress`, :mod:`~basis_core.sweep.driver`.
"""

from __future__ import annotations

from basis_core.sweep.driver import SweepInterrupted, SweepOutcome, run, sweep
from basis_core.sweep.progress import SweepProgress

__all__ = ["SweepInterrupted", "SweepOutcome", "SweepProgress", "run", "sweep"]
