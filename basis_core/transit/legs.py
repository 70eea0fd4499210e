"""What the core and the venues exchange about a live move (plain data; the ``transfer_*`` hooks).

A live ``move`` is a withdrawal at the source venue to a deposit address of the destination venue, on a network
both serve. The core (:mod:`basis_core.transit.live`) asks, through hooks (it names no venue):

- the source: ``transfer_networks`` (the networks it can send ``asset`` from the source account on, preferred
  first), ``transfer_send`` (withdraw, exactly once per ``transfer_id``), ``transfer_status`` (the withdrawal now);
- the destination: ``transfer_address`` (where to send, on a network), ``transfer_arrival`` (whether the
  transaction ``txid`` has been credited to the destination account).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal


@dataclass(frozen=True)
class TransferLeg:
    """One move as the venues see it: ``asset`` / ``amount`` (debited at the source, human units) from the
    ``source`` key to the ``destination`` key; ``address`` / ``network`` once chosen; ``txid`` once broadcast."""

    transfer_id: str
    asset: str
    amount: Decimal
    source: str
    destination: str
    network: str | None = None
    address: str | None = None
    txid: str | None = None
    sent_ms: int | None = None  # wall ms when the move was journaled (lookups start a little before)

    def with_(self, **changes: Any) -> TransferLeg:
        return replace(self, **changes)


@dataclass(frozen=True)
class TransferState:
    """A withdrawal at the source: ``pending`` (processing), ``sent`` (broadcast: ``txid`` set), ``failed``
    (refused or cancelled by the venue: the funds stayed); ``fee`` is what the venue charged (asset units) and
    ``amount_sent`` what left on the network (``amount - fee``)."""

    status: Literal["pending", "sent", "failed"]
    withdrawal_id: str | None
    fee: Decimal
    amount_sent: Decimal
    txid: str | None = None


@dataclass(frozen=True)
class ArrivalState:
    """A deposit at the destination: ``arrived`` once credited (``amount`` credited); ``seen`` once the venue
    lists it (confirming)."""

    arrived: bool
    seen: bool = False
    amount: Decimal | None = None
    confirmations: str | None = None


__all__ = ["ArrivalState", "TransferLeg", "TransferState"]
