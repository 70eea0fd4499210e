"""Withdrawals and deposits of a ccxt CEX live backend: the venue side of a live ``move``
(:mod:`basis_core.transit.live`, hooks ``transfer_*`` of :mod:`basis_core.hookspecs`).

:class:`CexWithdrawals` is a mixin of :class:`~basis_core.live.cex.CexLiveBackend`. A withdrawal is one
:class:`~basis_core.live.orders.LiveCall` of the backend's :class:`~basis_core.live.orders.IdempotentExecutor`
under the intent ``withdraw:<transfer id>``: its venue idempotency key (:meth:`withdrawal_key`: Binance's
``withdrawOrderId``, Hyperliquid's nonce) is journaled BEFORE the request; after an ambiguous failure, a retry or a
restart the withdrawal is looked up by that key (:meth:`find_withdrawal`) and adopted, and a re-send carries the
same key, so the venue holds at most one withdrawal per move.

A plugin implements the venue adapter: :meth:`withdraw_networks`, :meth:`deposit_address_of`,
:meth:`withdrawal_key`, :meth:`send_withdrawal`, :meth:`find_withdrawal`, :meth:`find_deposit`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from basis_core.deltas import ExecutionDeltas, split_key
from basis_core.errors import AmbiguousOutcomeError, BasisError, InstructionError, UnsupportedOperationError
from basis_core.live.journal import dumps, fingerprint
from basis_core.live.orders import ErrorKind, LiveCall, to_basis_error
from basis_core.transit.legs import ArrivalState, TransferLeg, TransferState

#: how far before a move's journaled time lookups of its withdrawal start (clock differences), ms
LOOKUP_MARGIN_MS = 120_000


class CexWithdrawals:
    """The ``transfer_*`` hooks of a CEX live backend (see the module docstring)."""

    # provided by CexLiveBackend
    name: str
    spec: Any
    executor: Any
    journal: Any
    redactor: Any

    # -- venue adapter ------------------------------------------------------------------------------------
    def withdraw_networks(self, asset: str, kind: str) -> list[str]:
        """Networks ``asset`` can be withdrawn on from the account kind ``kind`` (``spot`` / ``margin``)."""
        raise UnsupportedOperationError(self.name, "move")

    def deposit_address_of(self, asset: str, kind: str, network: str) -> str | None:
        """The deposit address crediting ``asset`` on ``network`` to the account kind ``kind``, or None."""
        raise UnsupportedOperationError(self.name, "move")

    def withdrawal_key(self, transfer_id: str, journaled: str | None) -> str:
        """The venue idempotency key of the move ``transfer_id`` (``journaled``: the key of its earlier intent,
        which a re-send must reuse)."""
        raise UnsupportedOperationError(self.name, "move")

    def send_withdrawal(self, asset: str, amount: Decimal, address: str, network: str, key: str) -> Any:
        raise UnsupportedOperationError(self.name, "move")

    def find_withdrawal(self, asset: str, key: str, since_ms: int) -> TransferState | None:
        """The withdrawal carrying ``key`` (None when the venue does not know it)."""
        raise UnsupportedOperationError(self.name, "move")

    def find_deposit(self, asset: str, txid: str, since_ms: int) -> ArrivalState:
        raise UnsupportedOperationError(self.name, "move")

    # -- hook targets ---------------------------------------------------------------------------------------
    def _kind_of(self, key: str, fld: str) -> str:
        """``spot`` / ``margin``: the role of the account of ``key`` on this venue (InstructionError otherwise)."""
        venue, kind, _asset = split_key(key)
        if venue == self.name and kind == self.spec.spot_kind:
            return "spot"
        if venue == self.name and kind == self.spec.margin_kind:
            return "margin"
        raise InstructionError(fld, f"{key!r} is not a {self.name} account that funds can move from or to")

    def transfer_networks(self, ts: Any, leg: TransferLeg) -> list[str]:
        nets = self._read(lambda: self.withdraw_networks(leg.asset, self._kind_of(leg.source, "source")),  # type: ignore[attr-defined]
                          "withdraw networks")
        if not nets:
            raise InstructionError("asset", f"{self.name} cannot withdraw {leg.asset} from {leg.source}")
        return list(nets)

    def transfer_address(self, ts: Any, leg: TransferLeg) -> str | None:
        kind = self._kind_of(leg.destination, "destination")
        assert leg.network is not None
        net = leg.network
        return self._read(lambda: self.deposit_address_of(leg.asset, kind, net), "deposit address")  # type: ignore[attr-defined,no-any-return]

    def _withdraw_call(self, ts: Any, leg: TransferLeg) -> LiveCall:
        intent_id = f"withdraw:{leg.transfer_id}"
        st = self.journal.state(self.name, intent_id)
        key = self.withdrawal_key(leg.transfer_id, None if st is None else st.intent.venue_client_id)
        request = {"asset": leg.asset, "amount": leg.amount, "source": leg.source, "destination": leg.destination,
                   "address": leg.address, "network": leg.network}
        fp = fingerprint(request)
        since = (leg.sent_ms or int(time.time() * 1000)) - LOOKUP_MARGIN_MS
        src_kind = self._kind_of(leg.source, "source")
        assert leg.address is not None and leg.network is not None
        address, network = leg.address, leg.network

        def send() -> Any:
            return self.send_withdrawal(leg.asset, leg.amount, address, network, key)

        def lookup() -> Any:
            return self.find_withdrawal(leg.asset, key, since)

        def build(answer: Any, adopted: bool) -> ExecutionDeltas:
            state = answer if isinstance(answer, TransferState) else self._read(  # type: ignore[attr-defined]
                lookup, "withdrawal lookup")
            if state is None:
                raise AmbiguousOutcomeError(f"{self.name}: the withdrawal {key} was accepted but is not listed yet")
            return ExecutionDeltas(self.name, "withdrawal", pd.Timestamp(ts), {leg.source: -leg.amount},
                                   {leg.source: -state.fee} if state.fee else {}, "requested", leg.transfer_id,
                                   state.withdrawal_id, fill_amount=leg.amount,
                                   details={"key": key, "fee": str(state.fee), "amount_sent": str(state.amount_sent),
                                            "adopted": adopted, "account": src_kind})

        def map_error(exc: BaseException, kind: ErrorKind) -> BasisError:
            return to_basis_error(exc, self.name, kind=kind, redactor=self.redactor, funds_key=leg.source,
                                  required=leg.amount)

        return LiveCall(self.name, "withdrawal", intent_id, key, dumps({"request": request}), fp, send, lookup, build,
                        map_error, landing_window_s=self.landing_window_s,  # type: ignore[attr-defined]
                        classify=self.classify,  # type: ignore[attr-defined]
                        signed_at=self.signed_at)  # type: ignore[attr-defined]

    def withdrawal_call_for_intent(self, st: Any) -> LiveCall | None:
        """The call of a journaled withdrawal intent (restart reconciliation: looked up by its key)."""
        req = st.intent.payload.get("request")
        if not isinstance(req, Mapping) or not st.intent.intent_id.startswith("withdraw:"):
            return None
        leg = TransferLeg(st.intent.intent_id[len("withdraw:"):], str(req["asset"]), Decimal(str(req["amount"])),
                          str(req["source"]), str(req["destination"]), req.get("network"), req.get("address"),
                          sent_ms=st.intent.written_ns // 1_000_000)
        return self._withdraw_call(pd.Timestamp(st.intent.written_ns, unit="ns", tz="UTC"), leg)

    def transfer_send(self, ts: Any, leg: TransferLeg) -> TransferState:
        d = self.executor.run(self._withdraw_call(ts, leg))
        return TransferState("pending", d.order_id, Decimal(d.details.get("fee", "0")),
                             Decimal(d.details.get("amount_sent", leg.amount)))

    def transfer_status(self, ts: Any, leg: TransferLeg) -> TransferState | None:
        st = self.journal.state(self.name, f"withdraw:{leg.transfer_id}")
        if st is None:
            return None
        key = st.intent.venue_client_id
        since = (leg.sent_ms or st.intent.written_ns // 1_000_000) - LOOKUP_MARGIN_MS
        return self._read(lambda: self.find_withdrawal(leg.asset, key, since), "withdrawal status")  # type: ignore[attr-defined,no-any-return]

    def transfer_arrival(self, ts: Any, leg: TransferLeg) -> ArrivalState:
        self._kind_of(leg.destination, "destination")
        if not leg.txid:
            return ArrivalState(False)
        txid = leg.txid
        since = (leg.sent_ms or int(time.time() * 1000)) - LOOKUP_MARGIN_MS
        return self._read(lambda: self.find_deposit(leg.asset, txid, since), "deposit lookup")  # type: ignore[attr-defined,no-any-return]


def status_of(raw: Mapping[str, Any]) -> str:
    """ccxt's unified transaction status -> ``pending`` / ``sent`` / ``failed``."""
    s = raw.get("status")
    return "sent" if s == "ok" else "failed" if s in ("failed", "canceled") else "pending"


__all__ = ["LOOKUP_MARGIN_MS", "CexWithdrawals", "status_of"]
