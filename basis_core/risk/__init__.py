"""The joint risk corridor: every leg's liquidation risk across venues, under named market shocks.

Venues report their legs' health under a :class:`Shock` through the ``risk_state`` hook (their own math);
:func:`~basis_core.risk.corridor.corridor` finds, for each leg and for the whole book, the ETH move (down and up),
the LST depeg, the funding flip and the borrow-rate spike that would liquidate it. See docs/risk-corridor.md.
"""

from basis_core.risk.shocks import NAMED_SHOCKS, NO_SHOCK, LegRisk, Shock

__all__ = ["NAMED_SHOCKS", "NO_SHOCK", "LegRisk", "Shock"]
