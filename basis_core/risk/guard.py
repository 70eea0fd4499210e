"""The pre-trade corridor check (setting ``min_corridor_move``): one rule for backtest and live.

An instruction is refused (:class:`~basis_core.errors.CorridorError` naming the leg that would be liquidated first)
when, after it, an ETH move smaller than the bound liquidates a leg and the corridor is narrower than before it (an
instruction that widens a corridor already below the bound is allowed: de-risking must stay possible).

- Backtest: the instruction runs in a ledger transaction and the corridor is read after it (rolled back when
  refused).
- Live: nothing is sent first; each venue's ``risk_state`` projects the instruction onto its own state
  (:attr:`basis_core.risk.Shock.pending`) with :func:`pending_for`: the instructions addressed to it, in order -- the
  instruction itself, the legs of a ``paired`` instruction, the steps of an ``atomic`` bundle, and for a ``move``
  the withdrawal at its source venue (the move itself, whose ``source`` key names that venue's account).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from basis_core.errors import CorridorError
from basis_core.risk.corridor import Corridor


def _flatten(pending: Any) -> list[Any]:
    if pending is None:
        return []
    if isinstance(pending, list | tuple):
        return [x for p in pending for x in _flatten(p)]
    op = getattr(pending, "operation", None)
    if op == "paired":
        return _flatten(list(pending.legs))
    if op == "atomic":
        return _flatten(list(pending.steps))
    return [pending]


def pending_for(pending: Any, venue: str) -> list[Any]:
    """The instructions of ``pending`` (an instruction, a paired, an atomic bundle or a list of them) that change
    ``venue``'s state, in order (a ``move`` counts for the venue of its ``source`` key)."""
    out = []
    for ins in _flatten(pending):
        if getattr(ins, "operation", None) == "move":
            if str(ins.source).split(":", 1)[0] == venue:
                out.append(ins)
        elif getattr(ins, "venue", None) == venue:
            out.append(ins)
    return out


@dataclass(frozen=True)
class LendingChange:
    """What a pending supply / withdraw / borrow / repay does to one asset of a lending venue (human units):
    ``collateral`` / ``debt`` deltas, ``withdraw_all`` / ``repay_all`` for ``"max"``, ``e_mode`` when the
    instruction sets an e-mode category, ``market`` for venues with isolated markets."""

    asset: str
    market: str | None = None
    collateral: Decimal = Decimal(0)
    debt: Decimal = Decimal(0)
    withdraw_all: bool = False
    repay_all: bool = False
    e_mode: int | None = None


def lending_changes(pending: Any, venue: str) -> list[LendingChange]:
    """The lending instructions of ``pending`` for ``venue`` (:func:`pending_for`) as :class:`LendingChange` s."""
    out = []
    for ins in pending_for(pending, venue):
        op = getattr(ins, "operation", None)
        if op not in ("supply", "withdraw", "borrow", "repay"):
            continue
        amount = ins.amount if isinstance(ins.amount, Decimal) else Decimal(0)
        market = getattr(ins, "market", None)
        out.append(LendingChange(
            ins.asset, None if market is None else str(getattr(market, "id", market)),
            amount if op == "supply" else -amount if op == "withdraw" else Decimal(0),
            amount if op == "borrow" else -amount if op == "repay" else Decimal(0),
            op == "withdraw" and not isinstance(ins.amount, Decimal),
            op == "repay" and not isinstance(ins.amount, Decimal),
            getattr(ins, "e_mode_category", None)))
    return out


def refusal(before: Decimal | None, after: Corridor, bound: Decimal, operation: str,
            live: bool) -> CorridorError | None:
    """The CorridorError refusing an instruction that leaves ``after`` narrower than ``before`` (the ETH move that
    liquidated a leg before it) and below ``bound``; None when it passes."""
    move = after.eth_move
    if move is None or move >= bound or (before is not None and move >= before):
        return None
    leg = after.nearest_leg_down if after.eth_down is not None and move == 1 - after.eth_down else after.nearest_leg_up
    verb = "would liquidate" if live else "liquidates"
    return CorridorError(leg or "instruction", f"after this {operation}, an ETH move of {move:.2%} {verb} {leg}: "
                                               f"below min_corridor_move {bound:.2%}")


__all__ = ["LendingChange", "lending_changes", "pending_for", "refusal"]
