"""Pre-flight: before a strategy sends anything, check every leg it will need, and report every missing piece
at once.

For each :class:`~basis_core.backtest.strategies.base.Leg` of each strategy
(:meth:`~basis_core.backtest.strategies.base.Strategy.required_legs`):

- ``venue``: installed, and working (not failed at load / configure, not ``degraded``);
- ``operation``: the venue offers each operation the leg sends;
- ``market_data``: the manager has a data provider, and each series (``"series"`` or ``"series.column"``) has a
  value at the start time that is not stale (:class:`~basis_core.errors.MarketDataError` /
  ``StaleMarketDataError`` otherwise);
- ``balance``: ``manager.get_balances(ts, venue)`` holds at least what the legs need of each key (summed over the
  legs of all strategies); a venue that cannot answer is a problem too;
- ``instrument``: the symbol is one of the venue's published instruments (venues that publish none: not checked).

:func:`check` returns the problems; :func:`require` raises :class:`~basis_core.errors.PreflightError` listing them
all. Reads only: nothing is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from basis_core.errors import BasisError, PreflightError


@dataclass(frozen=True)
class Problem:
    """One missing piece: which strategy, venue and check, and why."""

    strategy: str
    venue: str
    check: str
    reason: str

    def __str__(self) -> str:
        return f"{self.strategy}: {self.venue} {self.check}: {self.reason}"


def _venue_problems(manager: Any, label: str, venue: str, ops: Iterable[str], have: dict[str, dict[str, Any]],
                    failed: dict[str, str]) -> list[Problem]:
    if venue not in have:
        why = failed.get(venue)
        reason = f"failed: {why}" if why else f"not installed (pip install basis-venue-{venue})"
        return [Problem(label, venue, "venue", reason)]
    info = have[venue]
    out: list[Problem] = []
    if info.get("status") not in (None, "healthy"):
        out.append(Problem(label, venue, "venue", f"{info.get('status')}: {info.get('reason')}"))
    lacking = sorted(set(ops) - set(info.get("operations", ())))
    if lacking:
        out.append(Problem(label, venue, "operation", f"does not support {', '.join(lacking)}"))
    return out


def check(manager: Any, strategies: Sequence[tuple[str, Any]], ts: Any) -> list[Problem]:
    """Every problem of the legs of ``strategies`` (``(label, strategy)`` pairs) at ``ts``; [] when all is ready."""
    have = {v["name"]: v for v in manager.venues()}
    try:
        status = manager.get_execution_status()["venues"]
        failed = {n: str(s.get("reason")) for n, s in status.items() if s.get("status") == "failed"}
    except (BasisError, KeyError, TypeError):
        failed = {}
    problems: list[Problem] = []
    needs: dict[tuple[str, str], tuple[Decimal, str]] = {}  # (venue, key) -> (amount, the strategies needing it)
    provider = manager.data_provider
    snap: Any = None
    if provider is not None:
        try:
            snap = provider.get_data(ts)
        except BasisError as exc:
            problems.append(Problem("*", "market", "market_data", f"{type(exc).__name__}: {exc}"))
    for label, strat in strategies:
        legs = strat.required_legs(manager)
        if legs and provider is None:
            problems.append(Problem(label, "market", "market_data", "the manager has no data_provider"))
        for leg in legs:
            problems += _venue_problems(manager, label, leg.venue, leg.operations, have, failed)
            if snap is not None:
                for ref in leg.series:
                    series, _, column = ref.partition(".")
                    try:
                        snap.get(series, column or "close")
                    except BasisError as exc:
                        problems.append(Problem(label, leg.venue, "market_data",
                                                f"{ref}: {type(exc).__name__}: {exc}"))
            if leg.symbol is not None and leg.venue in have:
                try:
                    info = manager.venue_info(leg.venue)
                    known = set(getattr(info, "rules", {}) or {})
                except BasisError:
                    known = set()
                if known and leg.symbol not in known:
                    problems.append(Problem(label, leg.venue, "instrument",
                                            f"{leg.symbol} is not one of its instruments"))
            for key, amount in leg.balances.items():
                if amount > 0:
                    got, who = needs.get((leg.venue, key), (Decimal(0), ""))
                    needs[(leg.venue, key)] = (got + Decimal(amount), f"{who}, {label}" if who else label)
    by_venue: dict[str, dict[str, Decimal] | None] = {}
    for (venue, key), (amount, who) in needs.items():
        if venue not in have:
            continue
        if venue not in by_venue:
            try:
                by_venue[venue] = manager.get_balances(ts, venue)
            except BasisError as exc:
                by_venue[venue] = None
                problems.append(Problem(who, venue, "balance", f"balances cannot be read: {type(exc).__name__}: "
                                                               f"{exc}"))
        bal = by_venue[venue]
        if bal is None:
            continue
        held = bal.get(key, Decimal(0))
        if held < amount:
            problems.append(Problem(who, venue, "balance", f"{key} is {held}, {amount} needed"))
    return problems


def require(manager: Any, strategies: Sequence[tuple[str, Any]], ts: Any) -> None:
    """:func:`check`, raising :class:`~basis_core.errors.PreflightError` with every problem found."""
    problems = check(manager, strategies, ts)
    if problems:
        raise PreflightError(problems)


__all__ = ["Problem", "check", "require"]
