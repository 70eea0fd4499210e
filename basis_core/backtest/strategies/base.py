"""The strategy interface of the backtest runner.

A strategy is written only against the public manager API (``manager.execute``,
``manager.get_balances``, ``manager.venues()``, ``manager.data_provider``), so it runs unchanged in a
host application. The runner calls :meth:`Strategy.prepare` once (return a reason to skip, e.g. a venue
is not installed), then :meth:`Strategy.start` at the first step and :meth:`Strategy.step` at every
step (including the first), and :meth:`Strategy.finish` after the last.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from basis_core.errors import BasisError

log = logging.getLogger(__name__)


class StrategyParams(BaseModel):
    """Base of every strategy's parameter model (unknown fields are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Strategy:
    """Base class: subclasses set ``name``, ``Params`` and override the hooks they need."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(self, params: StrategyParams | dict[str, Any] | None = None) -> None:
        if params is None or isinstance(params, dict):
            params = self.Params.model_validate(params or {})
        self.params: Any = params
        self.errors = 0
        #: things the report should mention (e.g. a leg given up); the runner adds them to the summary
        self.notes: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    def prepare(self, manager: Any) -> str | None:
        """Check the installed venues; return a reason to skip this strategy, or None to run it."""
        return None

    def start(self, manager: Any, ts: Any) -> None:
        """Open the positions (first step)."""

    def step(self, manager: Any, ts: Any) -> None:
        """Rebalance (every step)."""

    def finish(self, manager: Any, ts: Any) -> None:
        """After the last step (positions are left open: the report marks them to market)."""

    # -- helpers for subclasses (public manager API only) ---------------------------------------------
    @staticmethod
    def installed(manager: Any) -> dict[str, set[str]]:
        """Installed venues and their operations."""
        return {v["name"]: set(v["operations"]) for v in manager.venues()}

    @classmethod
    def missing_ops(cls, manager: Any, needs: Mapping[str, Iterable[str]]) -> str | None:
        """A reason string if a needed venue or operation is missing, else None."""
        have = cls.installed(manager)
        for venue, ops in needs.items():
            if venue not in have:
                return f"venue {venue!r} is not installed (pip install basis-venue-{venue})"
            lacking = sorted(set(ops) - have[venue])
            if lacking:
                return f"venue {venue!r} does not support {', '.join(lacking)}"
        return None

    def try_execute(self, manager: Any, ts: Any, instruction: dict[str, Any]) -> Any:
        """Execute; on a typed error log it, count it and return None (the ledger is unchanged)."""
        try:
            return manager.execute(ts, instruction)
        except BasisError as exc:
            self.errors += 1
            log.info("%s: %s %s failed at %s: %s", self.name, instruction.get("venue"),
                     instruction.get("operation"), ts, exc)
            return None


def round_down(x: Decimal, places: int) -> Decimal:
    """``x`` rounded toward zero to ``places`` decimals (order sizes)."""
    return x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)




class LendingBook:
    """This strategy's own part of a shared lending account (one Aave account per wallet: other
    strategies may supply or borrow the same assets).

    Amounts are kept scaled by the reserve's index from the market data (``aave:<asset>``:
    ``liquidity_index`` for supplied, ``variable_borrow_index`` for debt), as Aave scales balances, so
    they grow with interest: ``amount(ts) = scaled x index(ts)``. Feed every own deltas to :meth:`record`.
    """

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.scaled: dict[tuple[str, str], Decimal] = {}

    @staticmethod
    def index(manager: Any, ts: Any, kind: str, asset: str) -> Decimal:
        col = "liquidity_index" if kind == "supplied" else "variable_borrow_index"
        try:
            value: Decimal = manager.data_provider.get_data(ts).get(f"aave:{asset}", col)
        except BasisError:
            return Decimal(1)
        return value if value > 0 else Decimal(1)

    def record(self, manager: Any, ts: Any, positions: Mapping[str, Decimal]) -> None:
        prefix = f"{self.venue}:"
        for key, delta in positions.items():
            if not key.startswith(prefix) or not delta:
                continue
            _, kind, asset = key.split(":", 2)
            if kind in ("supplied", "debt"):
                k = (kind, asset)
                new = self.scaled.get(k, Decimal(0)) + delta / self.index(manager, ts, kind, asset)
                self.scaled[k] = max(new, Decimal(0))

    def amount(self, manager: Any, ts: Any, kind: str, asset: str) -> Decimal:
        s = self.scaled.get((kind, asset), Decimal(0))
        return s * self.index(manager, ts, kind, asset) if s else Decimal(0)


__all__ = ["LendingBook", "Strategy", "StrategyParams", "round_down"]
