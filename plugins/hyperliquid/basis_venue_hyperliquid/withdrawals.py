"""Hyperliquid withdrawals for live moves (the venue adapter of :class:`basis_core.live.withdrawals.
CexWithdrawals`), through ccxt's ``withdraw`` (the user-signed ``withdraw3`` action, master key) and the
``userNonFundingLedgerUpdates`` ledger.

USDC leaves the perp account (its withdrawable part) over the bridge on Arbitrum; Hyperliquid charges 1 USDC.
The idempotency key is the action's nonce (its signed ``time``): chosen and journaled before the first request,
reused by every re-send (``client.pinned_nonce``), so Hyperliquid, which accepts a nonce once per signer, carries
out at most one withdrawal per move; a re-send refused as a duplicate nonce means the first landed and is looked up.
The ledger lists a withdrawal (``{"type": "withdraw", "usdc", "nonce", "fee"}``) once accepted; Hyperliquid reports
no later status, so it is ``sent`` from then on and its hash is the ``txid`` a destination matches.

Deposits: Hyperliquid's bridge credits a deposit to the address that SENT it, so a withdrawal from another venue
cannot be deposited here (``transfer_address`` refuses it with a typed error naming ``destination``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core.errors import InstructionError
from basis_core.transit.legs import ArrivalState, TransferState


class HyperliquidWithdrawals:
    """Mixin of :class:`basis_venue_hyperliquid.live.HyperliquidLiveBackend`."""

    client: Any
    name: str
    wallet: str
    _resent_nonce: int | None

    def withdraw_networks(self, asset: str, kind: str) -> list[str]:
        if asset != "USDC":
            raise InstructionError("asset", f"{self.name} withdraws USDC only, not {asset!r}")
        if kind != "margin":
            raise InstructionError("source", f"{self.name} withdraws from the perp account only: transfer {asset} "
                                             "to perp first")
        return ["ARBITRUM"]

    def deposit_address_of(self, asset: str, kind: str, network: str) -> str | None:
        raise InstructionError("destination", f"{self.name}'s bridge credits a deposit to the address that sent it: "
                                              "a withdrawal from another venue cannot be deposited to it")

    def withdrawal_key(self, transfer_id: str, journaled: str | None) -> str:
        """The journaled nonce, else a fresh one from the client's own sequence (never one an order used)."""
        return journaled or str(int(self.client.incrementing_nonce()))

    def send_withdrawal(self, asset: str, amount: Decimal, address: str, network: str, key: str) -> Any:
        nonce = int(key)
        self.client.pinned_nonce = nonce
        self._resent_nonce = nonce  # a duplicate-nonce refusal means it landed: looked up (classify)
        try:
            return self.client.withdraw(asset, format(amount, "f"), address)
        finally:
            self.client.pinned_nonce = None
            self._resent_nonce = None

    def _ledger(self, since_ms: int) -> list[dict[str, Any]]:
        rows = self.client.publicPostInfo({"type": "userNonFundingLedgerUpdates", "user": self.wallet,
                                           "startTime": max(since_ms, 0)})
        return sorted(rows, key=lambda r: int(r["time"]))

    def find_withdrawal(self, asset: str, key: str, since_ms: int) -> TransferState | None:
        for r in self._ledger(since_ms):
            d = r.get("delta") or {}
            if d.get("type") == "withdraw" and str(d.get("nonce")) == key:
                fee, usdc = Decimal(str(d.get("fee", "0"))), Decimal(str(d["usdc"]))
                return TransferState("sent", str(r["hash"]), fee, usdc - fee, str(r["hash"]))
        return None

    def find_deposit(self, asset: str, txid: str, since_ms: int) -> ArrivalState:
        for r in self._ledger(since_ms):
            d = r.get("delta") or {}
            if d.get("type") == "deposit" and str(r.get("hash")) == txid:
                return ArrivalState(True, True, Decimal(str(d["usdc"])))
        return ArrivalState(False)


__all__ = ["HyperliquidWithdrawals"]
