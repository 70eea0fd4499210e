"""What one step of a paper / live run looks like, read from a manager: balances, venue metrics (health factor,
margin ratio), open orders. Pure reads through the public manager API (``venues()``, ``get_balances``,
``venue(name).current_orders``); a venue that cannot answer is noted, never fatal."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import Any

from basis_core.errors import BasisError

log = logging.getLogger(__name__)

#: order fields kept in the store (whatever the venue's order object holds of them)
ORDER_FIELDS: tuple[str, ...] = ("order_id", "client_id", "symbol", "side", "amount", "price", "filled", "status",
                                 "time_in_force", "post_only", "reduce_only", "created_ns")


class StepBalances:
    """The venues' ``get_balances`` answers of one step, each venue asked at most once (the valuer's metrics and
    the risk sample share them).

    :param manager: the run's manager.
    :param timestamp: the step's time.
    """

    def __init__(self, manager: Any, timestamp: Any) -> None:
        self.manager = manager
        self.timestamp = timestamp
        self.answers: dict[str, Mapping[str, Decimal]] = {}
        #: venue -> why its balances could not be read this step
        self.errors: dict[str, str] = {}

    def __call__(self, timestamp: Any, venue: str) -> Mapping[str, Decimal]:
        """``balances_of(timestamp, venue)`` for :class:`~basis_core.backtest.valuation.Valuer` (cached)."""
        got = self.answers.get(venue)
        if got is None:
            if venue in self.errors:
                raise BasisError(self.errors[venue])
            try:
                got = self.manager.get_balances(self.timestamp, venue)
            except BasisError as exc:
                self.errors[venue] = f"{type(exc).__name__}: {exc}"
                raise
            self.answers[venue] = got
        return got

    def prefetch(self, venues: list[str], pool: Executor) -> None:
        """Ask ``venues`` concurrently now (a live step's reads go out together, not one after another)."""
        todo = [v for v in venues if v not in self.answers and v not in self.errors]
        if len(todo) > 1:
            list(pool.map(self.get, todo))

    def get(self, venue: str) -> Mapping[str, Decimal] | None:
        """The venue's answer, or None when it failed (the reason is in :attr:`errors`)."""
        try:
            return self(self.timestamp, venue)
        except BasisError:
            return None


def venue_names(manager: Any) -> list[str]:
    """Names of the manager's working venues, sorted."""
    return sorted(v["name"] for v in manager.venues())


def risk_venues(manager: Any) -> list[str]:
    """Venues that report risk metrics: CEXs (margin ratio) and lenders (health factor), as the backtest samples."""
    return sorted(v["name"] for v in manager.venues() if v.get("kind") == "cex" or "borrow" in v["operations"])


def book_balances(manager: Any, answers: StepBalances,
                  last: Mapping[str, Decimal] | None = None) -> dict[str, Decimal]:
    """The run's balances by instrument key: the ledger's (backtest, paper) or the venues' own (live). A live venue
    that cannot answer this step keeps its balances of ``last`` (the previous step's book; its keys are those
    starting ``<venue>:``), so a venue down for a step is not a loss of its whole value; :attr:`StepBalances.errors`
    says which."""
    if manager.ledger is not None:
        return manager.ledger.balances  # type: ignore[no-any-return]
    out: dict[str, Decimal] = {}
    for venue in venue_names(manager):
        got = answers.get(venue)
        if got is None:
            prefix = f"{venue}:"
            out.update({k: v for k, v in (last or {}).items() if k.startswith(prefix)})
            continue
        for key, value in got.items():
            if key.split(":", 2)[1:2] != ["metric"]:
                out[key] = Decimal(value)
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


def order_dict(order: Any) -> dict[str, Any]:
    """One open order as a plain dict of :data:`ORDER_FIELDS` (Decimals as strings)."""
    if is_dataclass(order) and not isinstance(order, type):
        src: Mapping[str, Any] = asdict(order)
    elif isinstance(order, Mapping):
        src = order
    else:
        src = {f: getattr(order, f) for f in ORDER_FIELDS if hasattr(order, f)}
    return {f: _plain(src[f]) for f in ORDER_FIELDS if f in src}


def _venue_orders(manager: Any, name: str) -> tuple[list[dict[str, Any]], str | None]:
    try:
        current = getattr(manager.venue(name), "current_orders", None)
        if current is None:
            return [], None
        snapshot = getattr(current, "snapshot", None)
        orders = snapshot() if callable(snapshot) else dict(current)
    except BasisError as exc:
        return [], f"{type(exc).__name__}: {exc}"
    rows = []
    for oid, order in orders.items():
        row = order_dict(order)
        row.setdefault("order_id", str(oid))
        rows.append({"venue": name, **row})
    return rows, None


def open_orders(manager: Any, pool: Executor | None = None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every venue's open orders (``venue`` added to each) and the venues that could not list theirs (why).
    A live CEX's ``current_orders`` asks the venue (one round of calls per venue); with a ``pool`` the venues are
    asked concurrently."""
    names = venue_names(manager)
    if pool is not None and len(names) > 1:
        answers = list(pool.map(lambda n: _venue_orders(manager, n), names))
    else:
        answers = [_venue_orders(manager, n) for n in names]
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for name, (got, error) in zip(names, answers, strict=True):
        rows.extend(got)
        if error is not None:
            errors[name] = error
    return rows, errors


__all__ = ["ORDER_FIELDS", "StepBalances", "book_balances", "open_orders", "order_dict", "risk_venues",
           "venue_names"]
