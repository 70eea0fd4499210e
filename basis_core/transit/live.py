"""Live moves: a transfer between venues is a withdrawal at the source tracked until the destination credits it.

``manager.execute(ts, {"operation": "move", ...})`` in live mode (same instruction as the backtest,
:mod:`basis_core.transit.desk`) runs through the venues' hooks only (``transfer_*``, :mod:`basis_core.transit.legs`):

1. checks, before anything is written or sent (a typed error naming the field; nothing moves): both venues
   configured, a route between the two account kinds (the same ``transit_routes`` as the backtest: its time is the
   expected arrival), ``amount`` within what the source lets leave (``<venue>:metric:available:<asset>`` of a margin
   account, balance less locked of a spot one), a network the source sends ``asset`` on and the destination takes
   deposits on (``transfer_networks`` then ``transfer_address``);
2. journals the move (venue ``transit``, intent = transfer id: ``client_id`` or a fresh one) with the address and
   network BEFORE the source is asked to withdraw;
3. ``transfer_send`` at the source: the venue journals its own idempotency key (withdrawOrderId, nonce) before its
   request and looks the withdrawal up instead of re-sending it on a retry or a restart
   (:mod:`basis_core.live.withdrawals`); the venue's fee is recorded (``unknown`` outcome ``sent``);
4. the move is pending until ``manager.advance_to`` finds it credited at the destination (``transfer_status`` at
   the source for the transaction id, ``transfer_arrival`` at the destination): an ``arrival`` event, the move
   journaled ``done``. A withdrawal the source reports failed is journaled ``rejected`` (a ``failed`` event).

Deltas are the backtest's: the move ``positions`` = source -amount, ``transit:<src>-<dst>:<asset>`` +(amount - fee)
with the fee the venue charged in ``fees``; the arrival moves the net amount from the transit key to the destination.
:func:`basis_core.transit.in_transit` lists the pending moves (``arrives_at``: the route's expected time).

Restart: on first use after a restart the desk resumes every pending move of the journal: a move journaled but never
sent is sent (the venue's own journal prevents a second withdrawal), a sent one is polled. Re-executing a move with
the same ``client_id`` returns its first deltas and sends nothing.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from basis_core.deltas import ExecutionDeltas, split_key
from basis_core.errors import (
    AmbiguousOutcomeError,
    BasisError,
    DuplicateClientIdError,
    InstructionError,
    InsufficientFundsError,
)
from basis_core.hookspecs import hookimpl
from basis_core.live.journal import ExecutionJournal, dumps, fingerprint
from basis_core.live.orders import deltas_from_json, deltas_to_json
from basis_core.transit.desk import DeskPlugin, Move
from basis_core.transit.legs import ArrivalState, TransferLeg, TransferState
from basis_core.transit.wallet import CHAIN, ChainWallet, is_wallet_key

log = logging.getLogger(__name__)

VENUE = "transit"


@dataclass
class LiveMove:
    """A pending live move (in memory; the journal is the record)."""

    move: Move
    leg: TransferLeg
    route: str
    sent_ns: int
    arrives_ns: int
    requested: ExecutionDeltas | None = None
    fee: Decimal = Decimal(0)
    amount_net: Decimal = Decimal(0)
    txid: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def transit_key(self) -> str:
        return f"transit:{split_key(self.move.source)[0]}-{split_key(self.move.destination)[0]}:{self.move.asset}"


class LiveTransitDesk(DeskPlugin):
    """The core plugin that runs live moves and reports their arrivals (one per live manager)."""

    plugin_name = "basis_core.transit.live"

    def __init__(self, manager: Any) -> None:
        super().__init__(manager)
        self.journal = ExecutionJournal.shared(manager.settings.journal_path)
        self.pending: dict[str, LiveMove] = {}
        self.unsent: dict[str, tuple[LiveMove, str]] = {}  # journaled moves whose withdrawal's outcome is unknown
        self._lock = threading.RLock()
        self._resumed = False
        self._wallet: ChainWallet | None = None

    # -- helpers -------------------------------------------------------------------------------------------------
    def wallet(self) -> ChainWallet:
        """The chain wallet's side of moves (:mod:`basis_core.transit.wallet`), made on first use."""
        with self._lock:
            if self._wallet is None:
                self._wallet = ChainWallet(self.m.settings, self.journal)
            return self._wallet

    def _hook(self, venue: str, hook: str, ts: Any, leg: TransferLeg) -> Any:
        if venue == CHAIN:  # the chain's own account, not a venue plugin
            return getattr(self.wallet(), hook)(ts, leg)
        return self.m._caller(venue, hook)(timestamp=ts, instruction=leg)

    def _free(self, ts: Any, move: Move) -> Decimal:
        sv, sk, asset = split_key(move.source)
        if is_wallet_key(move.source):
            return self.wallet().balance(asset)
        bal = self.m.get_balances(ts, sv)
        if sk in ("spot", "wallet"):
            return Decimal(bal.get(move.source, 0)) - Decimal(bal.get(f"{sv}:metric:locked:{asset}", 0))
        free = bal.get(f"{sv}:metric:available:{asset}")
        return Decimal(bal.get(move.source, 0) if free is None else free)

    def _choose_network(self, ts: Any, leg: TransferLeg) -> TransferLeg:
        sv, dv = split_key(leg.source)[0], split_key(leg.destination)[0]
        nets = self._hook(sv, "transfer_networks", ts, leg) or []
        for net in nets:
            address = self._hook(dv, "transfer_address", ts, leg.with_(network=net))
            if address:
                return leg.with_(network=net, address=str(address))
        raise InstructionError("destination", f"{dv} takes no {leg.asset} deposit on a network {sv} sends it on "
                                              f"({', '.join(nets) or 'none'})")

    # -- the move ------------------------------------------------------------------------------------------------
    def move(self, ts: Any, move: Move) -> ExecutionDeltas:
        self.resume(ts)
        tid = move.client_id or f"mv-{uuid.uuid4().hex[:24]}"
        request = {"instruction": move.model_dump(mode="json")}
        fp = fingerprint(request["instruction"])
        prior = self.journal.state(VENUE, tid)
        if prior is not None:
            if prior.intent.fingerprint != fp:
                raise DuplicateClientIdError("client_id", f"{tid!r} was already used for a different move")
            with self._lock:
                known = self.pending.get(tid)
            if known is not None and known.requested is not None:
                return known.requested
            lm = self._from_journal(tid)
            if lm is not None and lm.requested is not None:
                return lm.requested
            if lm is not None and prior.pending:  # journaled, its withdrawal not known to be sent: continue it
                return self._continue(ts, lm, prior.intent.fingerprint)
        r = self.route(move)
        sv, dv = split_key(move.source)[0], split_key(move.destination)[0]
        for v in (sv, dv):  # UnknownVenueError names the installed venues
            if v != CHAIN:
                self.m.venue(v)
        now_ns = time.time_ns()
        leg = self._choose_network(ts, TransferLeg(tid, move.asset, move.amount, move.source, move.destination,
                                                   sent_ms=now_ns // 1_000_000))
        free = self._free(ts, move)
        if move.amount > free:
            raise InsufficientFundsError(move.source, move.amount, free, "amount")
        payload = {**request, "address": leg.address, "network": leg.network, "route": r.name,
                   "sent_ms": leg.sent_ms, "arrives_ns": now_ns + r.seconds * 1_000_000_000}
        claim = self.journal.claim(VENUE, tid, tid, "move", dumps(payload), fp, wait_s=0)
        try:
            if claim.intent is None and not claim.owned:
                raise AmbiguousOutcomeError(f"transit: move {tid!r} is being executed elsewhere; ask again later")
            lm = LiveMove(move, leg, r.name, now_ns, now_ns + r.seconds * 1_000_000_000)
            if claim.intent is None:  # a pending move of a process that is gone: continue it with its journaled leg
                lm = self._from_journal(tid) or lm
            return self._send(ts, lm)
        finally:
            claim.release()

    def _continue(self, ts: Any, lm: LiveMove, fp: str) -> ExecutionDeltas:
        """Send (idempotently) a journaled move whose withdrawal is not known to be sent."""
        tid = lm.leg.transfer_id
        claim = self.journal.claim(VENUE, tid, tid, "move", "", fp, new_intent=False, wait_s=0)
        try:
            if not claim.owned:
                raise AmbiguousOutcomeError(f"transit: move {tid!r} is being executed elsewhere; ask again later")
            return self._send(ts, lm)
        finally:
            claim.release()

    def _send(self, ts: Any, lm: LiveMove) -> ExecutionDeltas:
        """Withdraw at the source (idempotent per transfer id), journal what the venue charged, track the move."""
        sv = split_key(lm.move.source)[0]
        st = self.journal.state(VENUE, lm.leg.transfer_id)
        assert st is not None
        try:
            state: TransferState = self._hook(sv, "transfer_send", ts, lm.leg)
        except BasisError as exc:
            if isinstance(exc, AmbiguousOutcomeError):  # asked again at the next poll (the venue looks it up)
                with self._lock:
                    self.unsent[lm.leg.transfer_id] = (lm, st.intent.fingerprint)
            else:  # refused: nothing left the venue
                self.journal.record_outcome(st.intent, "rejected", {"event": "rejected", "error": str(exc)})
                with self._lock:
                    self.unsent.pop(lm.leg.transfer_id, None)
            raise
        with self._lock:
            self.unsent.pop(lm.leg.transfer_id, None)
        lm.fee, lm.amount_net = state.fee, state.amount_sent
        if state.status == "sent" and state.txid:
            lm.txid = state.txid
        d = self._requested(ts, lm, state)
        lm.requested = d
        self.journal.record_outcome(st.intent, "unknown", {"event": "sent", "withdrawal_id": state.withdrawal_id,
                                                           "fee": state.fee, "amount_sent": state.amount_sent,
                                                           "deltas": deltas_to_json(d)})
        with self._lock:
            self.pending[lm.leg.transfer_id] = lm
        return d

    def _requested(self, ts: Any, lm: LiveMove, state: TransferState) -> ExecutionDeltas:
        mv = lm.move
        # the source pays what left on the network and the fee (a CEX takes its fee out of the amount; gas is on top)
        positions = {mv.source: -max(mv.amount, state.amount_sent + state.fee), lm.transit_key: state.amount_sent}
        return ExecutionDeltas(VENUE, "move", pd.Timestamp(ts), positions, {mv.source: -state.fee} if state.fee else {},
                               "requested", mv.client_id, state.withdrawal_id, fill_amount=mv.amount,
                               details={"route": lm.route, "transfer_id": lm.leg.transfer_id, "fee": state.fee,
                                        "network": lm.leg.network, "address": lm.leg.address,
                                        "withdrawal_id": state.withdrawal_id,
                                        "arrives_at": pd.Timestamp(lm.arrives_ns, tz="UTC").isoformat(),
                                        "live": True})

    # -- journal -------------------------------------------------------------------------------------------------
    def _from_journal(self, tid: str) -> LiveMove | None:
        rows = self.journal.rows_of(VENUE, tid)
        intents = [r for r in rows if r.kind == "intent"]
        if not intents:
            return None
        p = intents[-1].payload
        mv = Move.model_validate(p["instruction"])
        leg = TransferLeg(tid, mv.asset, mv.amount, mv.source, mv.destination, p.get("network"), p.get("address"),
                          sent_ms=p.get("sent_ms"))
        lm = LiveMove(mv, leg, str(p.get("route")), int(p.get("sent_ms", 0)) * 1_000_000, int(p.get("arrives_ns", 0)))
        for r in rows:
            if r.kind == "outcome" and r.payload.get("event") == "sent":
                lm.fee = Decimal(str(r.payload.get("fee", "0")))
                lm.amount_net = Decimal(str(r.payload.get("amount_sent", "0")))
                lm.requested = deltas_from_json(r.payload["deltas"])
        return lm

    def _requested_from_journal(self, tid: str) -> ExecutionDeltas | None:
        lm = self._from_journal(tid)
        return None if lm is None else lm.requested

    def resume(self, ts: Any) -> None:
        """Once per desk: take over the journal's pending moves (send the unsent, poll the sent)."""
        with self._lock:
            if self._resumed:
                return
            self._resumed = True
        for st in self.journal.pending(VENUE):
            tid = st.intent.intent_id
            lm = self._from_journal(tid)
            if lm is None:
                continue
            if lm.requested is not None:
                with self._lock:
                    self.pending[tid] = lm
                continue
            try:
                self._continue(ts, lm, st.intent.fingerprint)
            except BasisError as e:  # refused: journaled; elsewhere / ambiguous: stays pending for the next poll
                log.warning("transit: resuming move %s: %s", tid, e)

    # -- arrivals ------------------------------------------------------------------------------------------------
    def poll(self, ts: Any) -> list[ExecutionDeltas]:
        """Ask the venues about every pending move; the arrivals (and failures) found, oldest first."""
        self.resume(ts)
        with self._lock:
            retry = list(self.unsent.values())
        for lm, fp in retry:
            try:
                self._continue(ts, lm, fp)
            except BasisError as e:
                log.warning("transit: move %s still unsent: %s", lm.leg.transfer_id, e)
        with self._lock:
            todo = sorted(self.pending.values(), key=lambda x: x.sent_ns)
        out: list[ExecutionDeltas] = []
        for lm in todo:
            try:
                got = self._poll_one(ts, lm)
            except BasisError as e:  # a venue that cannot be asked now: asked again at the next poll
                log.warning("transit: move %s could not be polled: %s", lm.leg.transfer_id, e)
                continue
            if got is not None:
                out.append(got)
        return out

    def _poll_one(self, ts: Any, lm: LiveMove) -> ExecutionDeltas | None:
        sv, dv = split_key(lm.move.source)[0], split_key(lm.move.destination)[0]
        tid = lm.leg.transfer_id
        if lm.txid is None:
            state: TransferState | None = self._hook(sv, "transfer_status", ts, lm.leg)
            if state is None or state.status == "pending":
                return None
            if state.status == "failed":
                return self._settle(ts, lm, "rejected", ExecutionDeltas(
                    VENUE, "move_failed", pd.Timestamp(ts), {lm.transit_key: -lm.amount_net,
                                                             lm.move.source: lm.amount_net}, {}, "failed",
                    lm.move.client_id, tid, details={"transfer_id": tid, "withdrawal_id": state.withdrawal_id}))
            lm.txid = state.txid
        arrival: ArrivalState = self._hook(dv, "transfer_arrival", ts, lm.leg.with_(txid=lm.txid))
        if not arrival.arrived:
            return None
        amount = arrival.amount if arrival.amount is not None else lm.amount_net
        d = ExecutionDeltas(VENUE, "arrival", pd.Timestamp(ts), {lm.transit_key: -lm.amount_net,
                                                                lm.move.destination: amount}, {}, "settled",
                            lm.move.client_id, tid, fill_amount=amount,
                            details={"route": lm.route, "transfer_id": tid, "txid": lm.txid,
                                     "sent_at": pd.Timestamp(lm.sent_ns, tz="UTC").isoformat()})
        return self._settle(ts, lm, "done", d)

    def _settle(self, ts: Any, lm: LiveMove, status: str, d: ExecutionDeltas) -> ExecutionDeltas:
        tid = lm.leg.transfer_id
        st = self.journal.state(VENUE, tid)
        if st is not None and st.pending:
            self.journal.record_outcome(st.intent, status, {"event": d.operation, "deltas": deltas_to_json(d)})
        with self._lock:
            self.pending.pop(tid, None)
        return d

    @hookimpl
    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        """Live: the moves credited at their destination (or failed at their source) since the last poll."""
        return self.poll(timestamp) or None

    def in_transit(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = sorted(self.pending.values(), key=lambda x: x.arrives_ns)
        return [{"transfer_id": lm.leg.transfer_id, "asset": lm.move.asset, "amount": lm.amount_net,
                 "source": lm.move.source, "destination": lm.move.destination, "route": lm.route,
                 "sent_at": pd.Timestamp(lm.sent_ns, tz="UTC"), "arrives_at": pd.Timestamp(lm.arrives_ns, tz="UTC"),
                 "fee": lm.fee, "txid": lm.txid, "network": lm.leg.network} for lm in rows]


def execute_move_live(manager: Any, ts: Any, move: Move) -> ExecutionDeltas:
    """Run a ``move`` on a live ``manager`` (see the module docstring); failures are recorded in its history."""
    desk = LiveTransitDesk.of(manager)
    if manager._min_corridor is not None:  # a withdrawal out of a margin wallet narrows its corridor
        manager._check_corridor_live(ts, move)
    try:
        d = desk.move(ts, move)
    except BaseException as exc:
        manager._record_failure(ts, move, exc)
        raise
    manager._record_success(ts, d)
    return d


__all__ = ["LiveMove", "LiveTransitDesk", "execute_move_live"]
