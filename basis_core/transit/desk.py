"""The transit desk: timed moves of capital between venues (backtest).

``manager.execute(ts, {"operation": "move", "asset": "USDT", "amount": "5000", "source": "binance:futures:USDT",
"destination": "ethereum:wallet:USDT"})`` debits the source now and credits ``transit:<src venue>-<dst
venue>:<asset>`` with the amount less the route's fee (:mod:`basis_core.transit.routes`); the funds there earn
nothing (no venue accrues on them) but still count as equity. When the clock passes the arrival time the desk's
``accrue`` moves them to the destination as an ``arrival`` event (history, ledger), stamped with the arrival time.
Strategies see what is where and when with :func:`in_transit`.

Deltas of the move: ``positions`` = source -amount, transit key +(amount - fee); ``fees`` = the fee on the source;
``pnl["trading_fees"]`` = -fee in USD; ``details``: ``route``, ``arrives_at``, ``seconds``, ``transfer_id``.
Bad input (no such route, an amount the source does not hold, a key whose asset is not ``asset``) raises a typed
error naming the field; nothing changes. Live mode: :mod:`basis_core.transit.live` (same instruction, deltas and
:func:`in_transit` view).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self

import pandas as pd
from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError, model_validator

from basis_core.deltas import ExecutionDeltas, split_key
from basis_core.errors import InstructionValidationError, InsufficientFundsError
from basis_core.hookspecs import hookimpl
from basis_core.instructions import Amount, ClientId, Token
from basis_core.transit.routes import Route, build_routes

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]*:[a-z][a-z0-9_\-]*:[A-Za-z][A-Za-z0-9.\-]*$")]
PENDING_TABLE = "transit.pending"


class Move(BaseModel):
    """Move ``amount`` of ``asset`` from the ``source`` key to the ``destination`` key (different venues)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    operation: Literal["move"] = "move"
    venue: Literal["transit"] = "transit"
    client_id: ClientId | None = None
    asset: Token
    amount: Amount
    source: Key
    destination: Key

    @model_validator(mode="after")
    def _check(self) -> Move:
        for f in ("source", "destination"):
            if split_key(getattr(self, f))[2] != self.asset:
                raise ValueError(f"{f}: the key's asset must be {self.asset!r}")
        if split_key(self.source)[0] == split_key(self.destination)[0]:
            raise ValueError("destination: a move joins two venues (within one venue use 'transfer')")
        return self


_ADAPTER: TypeAdapter[Move] = TypeAdapter(Move)


def parse_move(obj: Any) -> Move:
    """A validated :class:`Move`; a bad one raises InstructionValidationError naming the field."""
    from basis_core.instructions import _error_from_validation

    if isinstance(obj, Move):
        return obj
    if isinstance(obj, str | bytes):
        import json
        try:
            obj = json.loads(obj)
        except ValueError as e:
            raise InstructionValidationError("instruction", f"not valid JSON: {e}") from None
    try:
        return _ADAPTER.validate_python(obj)
    except ValidationError as e:
        raise _error_from_validation(e) from None


@dataclass(frozen=True)
class Pending:
    """A move on its way (immutable: stored in the ledger's transactional table)."""

    transfer_id: str
    asset: str
    amount: Decimal
    source: str
    destination: str
    transit_key: str
    sent_ns: int
    arrives_ns: int
    route: str


class DeskPlugin:
    """What the backtest and the live transit desk share: one desk per manager, a pluggy plugin registered under
    ``plugin_name`` on first use (:meth:`of`), and its routes (setting ``transit_routes``)."""

    plugin_name: ClassVar[str]

    def __init__(self, manager: Any) -> None:
        self.m = manager
        self.routes: dict[str, Route] = build_routes(manager.settings.transit_routes)

    @classmethod
    def of(cls, manager: Any) -> Self:
        """The manager's desk of this class, made and registered on first use."""
        desk = manager.pm.get_plugin(cls.plugin_name)
        if desk is None:
            desk = cls(manager)
            manager.pm.register(desk, name=cls.plugin_name)
        return desk  # type: ignore[no-any-return]

    def route(self, move: Move) -> Route:
        """The route from the move's source venue and kind to its destination's; none: an
        :class:`InstructionValidationError` on ``destination``."""
        sv, sk, _ = split_key(move.source)
        dv, dk, _ = split_key(move.destination)
        name = f"{sv}:{sk}->{dv}:{dk}"
        r = self.routes.get(name)
        if r is None:
            known = ", ".join(sorted(self.routes))
            raise InstructionValidationError("destination", f"no transfer route {name}; routes: {known} (setting "
                                                            "transit_routes)")
        return r


class TransitDesk(DeskPlugin):
    """The core plugin that runs moves and lands them (one per backtest manager, registered on first use)."""

    plugin_name = "basis_core.transit"

    def __init__(self, manager: Any) -> None:
        super().__init__(manager)
        self.pending = manager.ledger.table(PENDING_TABLE)

    def move(self, ts: pd.Timestamp, move: Move) -> ExecutionDeltas:
        from basis_core.data.prices import usd_price

        r = self.route(move)
        fee = r.cost(move.asset, move.amount)
        if fee >= move.amount:
            raise InstructionValidationError("amount", f"{move.amount} {move.asset} does not cover the route's fee "
                                                       f"{fee}")
        sv, dv = split_key(move.source)[0], split_key(move.destination)[0]
        tkey = f"transit:{sv}-{dv}:{move.asset}"
        arrives = ts.value + r.seconds * 1_000_000_000
        tid = move.client_id or f"tr-{len(self.pending) + 1}-{ts.value}"
        sv_, sk_, _ = split_key(move.source)
        if sv_ in {v["name"] for v in self.m.venues()}:  # what the venue lets leave the account (margin in use)
            bal = self.m.get_balances(ts, sv_)
            free = bal.get(f"{sv_}:metric:available:{move.asset}")
            if free is not None and sk_ not in ("spot", "wallet") and move.amount > free:
                raise InsufficientFundsError(move.source, move.amount, Decimal(free), "amount")
        ledger = self.m.ledger
        positions = {move.source: -move.amount, tkey: move.amount - fee}
        guard = self.m._min_corridor
        if guard is not None:  # the pre-trade corridor check (basis_core.risk.guard), as for every instruction
            from basis_core.manager import _GUARD_TOL
            from basis_core.risk.corridor import corridor
            from basis_core.risk.guard import refusal

            before = corridor(self.m, ts, drivers=("eth",), tol=_GUARD_TOL).eth_move
        ledger.begin()
        try:
            ledger.apply(positions)
            self.pending[tid] = Pending(tid, move.asset, move.amount - fee, move.source, move.destination, tkey,
                                        ts.value, arrives, r.name)
            if guard is not None:
                err = refusal(before, corridor(self.m, ts, drivers=("eth",), tol=_GUARD_TOL), guard, "move", False)
                if err is not None:
                    raise err
        except BaseException as exc:
            ledger.rollback()
            if guard is not None:
                self.m._record_failure(ts, move, exc)
            raise
        ledger.commit()
        try:
            usd = fee * usd_price(self.m.data_provider.get_data(ts), move.asset)
        except LookupError:
            usd = Decimal(0)
        d = ExecutionDeltas("transit", "move", ts, positions, {move.source: -fee} if fee else {}, "requested",
                            move.client_id, tid, fill_amount=move.amount, pnl={"trading_fees": -usd} if usd else {},
                            details={"route": r.name, "seconds": r.seconds, "transfer_id": tid,
                                     "arrives_at": pd.Timestamp(arrives, tz="UTC").isoformat(), "fee": fee})
        self.m._record_success(ts, d)
        return d

    @hookimpl
    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        """Arrivals in ``(previous, timestamp]``, oldest first, each stamped with its arrival time."""
        if not len(self.pending):
            return None
        due = sorted((p for p in self.pending.values() if p.arrives_ns <= timestamp.value),
                     key=lambda p: (p.arrives_ns, p.transfer_id))
        out = []
        for p in due:
            del self.pending[p.transfer_id]
            out.append(ExecutionDeltas("transit", "arrival", pd.Timestamp(p.arrives_ns, tz="UTC"),
                                       {p.transit_key: -p.amount, p.destination: p.amount}, {}, "settled",
                                       order_id=p.transfer_id, fill_amount=p.amount,
                                       details={"route": p.route, "transfer_id": p.transfer_id,
                                                "sent_at": pd.Timestamp(p.sent_ns, tz="UTC").isoformat()}))
        return out or None


def in_transit(manager: Any, ts: Any = None, queues: bool = False) -> list[dict[str, Any]]:
    """What is on its way (oldest arrival first): asset, amount (net of fees), source, destination, sent and
    arrival times; empty before the first move. Live: the moves this manager's journal holds pending (sent, not yet
    credited; ``arrives_at`` is the route's expected time), resumed from the journal after a restart.

    With ``queues`` (and ``ts``), also the venues' queued withdrawals (staking exits): every balance key
    ``<venue>:withdrawal:<id>`` a venue reports, with ``arrives_at`` from its ``<venue>:metric:claimable_at:<id>``
    (UTC seconds; None when the venue does not say) and ``claimable`` from its ``<venue>:metric:claimable:<id>``
    (True / False; None when the venue does not say) -- the convention withdrawal-queue venues follow (Lido,
    EtherFi; live, read from the chain: the queue's open requests of the account until they are claimed)."""
    ledger = manager.ledger
    out: list[dict[str, Any]] = []
    if ledger is not None:
        rows = sorted(ledger.table(PENDING_TABLE).values(), key=lambda p: p.arrives_ns)
        out = [{"transfer_id": p.transfer_id, "asset": p.asset, "amount": p.amount, "source": p.source,
                "destination": p.destination, "route": p.route, "sent_at": pd.Timestamp(p.sent_ns, tz="UTC"),
                "arrives_at": pd.Timestamp(p.arrives_ns, tz="UTC")} for p in rows]
    elif manager.execution_mode == "live":
        from basis_core.transit.live import LiveTransitDesk

        desk = LiveTransitDesk.of(manager)
        desk.resume(ts if ts is not None else pd.Timestamp.now(tz="UTC"))
        out = desk.in_transit()
    if queues and ts is not None:
        from basis_core.errors import BasisError

        for v in manager.venues():
            name = v["name"]
            try:
                bal = manager.get_balances(ts, name)
            except BasisError:
                continue
            prefix = f"{name}:withdrawal:"
            for key, amount in bal.items():
                if not key.startswith(prefix) or not amount:
                    continue
                rid = key[len(prefix):]
                at = bal.get(f"{name}:metric:claimable_at:{rid}")
                ready = bal.get(f"{name}:metric:claimable:{rid}")
                out.append({"transfer_id": f"{name}:{rid}", "asset": None, "amount": amount, "source": key,
                            "destination": f"{name} claim", "route": f"{name} withdrawal queue", "sent_at": None,
                            "arrives_at": None if at is None else pd.Timestamp(int(at * 10**9), tz="UTC"),
                            "claimable": None if ready is None else bool(ready)})
    return out


def execute_move(manager: Any, timestamp: Any, instruction: Any) -> ExecutionDeltas:
    """Run a ``move`` instruction on ``manager`` (backtest; live: :func:`basis_core.transit.live.execute_move_live`)."""
    from basis_core.timeutil import to_utc

    try:
        move = parse_move(instruction)
    except InstructionValidationError as exc:
        manager._record_early_failure(timestamp, instruction, exc)
        raise
    ts = to_utc(timestamp)
    if manager.ledger is None:  # live: a withdrawal tracked until the destination credits it
        from basis_core.transit.live import execute_move_live

        return execute_move_live(manager, ts, move)
    desk = TransitDesk.of(manager)
    desk.route(move)  # an unknown route is refused before the clock moves
    if manager.clock.now_ns is None or ts.value != manager.clock.now_ns:
        manager.advance_to(ts)
    return desk.move(ts, move)


__all__ = ["Move", "Pending", "TransitDesk", "execute_move", "in_transit", "parse_move"]
