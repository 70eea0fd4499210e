"""The Hyperliquid emulator's money in and out: ``withdraw3``, ``usdSend`` and bridge deposits over a shared
:class:`~basis_core.testing.transfer_network.TransferNetwork`, as ccxt 4.5.90 signs them.

- ``withdraw3`` (user-signed, ``HyperliquidTransaction:Withdraw`` over hyperliquidChain, destination, amount,
  time; the master key only; ``time`` is the nonce): debits ``amount`` from the withdrawable perp USDC at once
  ("Insufficient balance for withdrawal." otherwise: nothing changes) and, ``withdraw_seconds`` later on the network's
  clock, the bridge on ``ARBITRUM`` sends ``amount - withdraw_fee`` (1 USDC) to ``destination``. The ledger
  (``userNonFundingLedgerUpdates``) gets ``{"type": "withdraw", "usdc", "nonce", "fee"}`` with the action's hash;
  the on-chain transaction carries that hash as its id (the real bridge's Arbitrum hash differs: a simplification
  that lets a receiver match a deposit to the withdrawal).
- ``usdSend`` (user-signed, ``HyperliquidTransaction:UsdSend``; ``time`` is the nonce): moves perp USDC to another
  address on this venue at once, no fee (an unknown destination gets an account); ledger rows
  ``{"type": "internalTransfer", "usdc", "user", "destination", "fee"}`` on both sides.
- Deposits: USDC sent on ``ARBITRUM`` to the bridge address (:data:`BRIDGE_ADDRESS`, Hyperliquid's Bridge2) is
  credited to the SENDER's perp balance once it has ``deposit_confirmations`` confirmations; ledger row
  ``{"type": "deposit", "usdc"}``. (A CEX's withdrawal to the bridge would credit the CEX's hot wallet: it is not
  a way in.)
"""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from basis_core.testing.transfer_network import TransferNetwork

#: Hyperliquid's Bridge2 contract on Arbitrum (deposits to it are credited to their sender)
BRIDGE_ADDRESS = "0x2df1c51e09aecf9cacb7bc98cb1742757f163df7"
BRIDGE_NETWORK = "ARBITRUM"
ZERO = Decimal(0)


class HyperliquidWallet:
    """Mixin of :class:`~basis_venue_hyperliquid.testing.emulator.HyperliquidEmulator` (module docstring)."""

    network: TransferNetwork | None = None
    withdraw_fee: Decimal = Decimal(1)
    withdraw_seconds: int = 300
    deposit_confirmations: int = 60

    def attach_network(self, network: TransferNetwork, *, withdraw_seconds: int | None = None,
                       deposit_confirmations: int | None = None) -> None:
        """Send withdrawals over ``network`` and credit bridge deposits from it (times on its clock)."""
        self.network = network
        if withdraw_seconds is not None:
            self.withdraw_seconds = withdraw_seconds
        if deposit_confirmations is not None:
            self.deposit_confirmations = deposit_confirmations

    def _wallet_now_ms(self) -> int:
        """Ledger times: the emulator's own clock (as its other ledger rows); the bridge runs on the network's."""
        return self.now_ms()  # type: ignore[attr-defined,no-any-return]

    def _sync_deposits(self) -> None:
        """Credit bridge deposits that have their confirmations (under the lock, before every request)."""
        if self.network is None:
            return
        seen: set[str] = self.__dict__.setdefault("_credited_deposits", set())
        now = self.network.now_ns()
        for tx in self.network.transfers_to([BRIDGE_ADDRESS], BRIDGE_NETWORK):
            if tx.txid in seen or tx.coin != "USDC" or tx.confirmations(now) < self.deposit_confirmations:
                continue
            seen.add(tx.txid)
            acct = self._account_or_new(tx.sender)
            acct.perp_usdc += tx.amount
            acct.ledger.append({"time": self._wallet_now_ms(), "hash": tx.txid,
                                "delta": {"type": "deposit", "usdc": _fmt(tx.amount)}})

    def _account_or_new(self, address: str) -> Any:
        a = address.lower()
        if a not in self.accounts:  # type: ignore[attr-defined]
            self.add_account(a)  # type: ignore[attr-defined]
        return self.accounts[a]  # type: ignore[attr-defined]

    @staticmethod
    def _destination_and_amount(action: dict[str, Any]) -> tuple[str, Decimal] | dict[str, Any]:
        """A user-signed transfer's ``destination`` (0x + 40 characters) and positive ``amount`` (USDC), or the
        venue's error answer when either is invalid."""
        dest, raw = action.get("destination"), action.get("amount")
        if not isinstance(dest, str) or not (dest.startswith("0x") and len(dest) == 42):
            return _err("Invalid destination address.")
        try:
            amount = Decimal(raw) if isinstance(raw, str) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount <= 0:
            return _err("Invalid amount.")
        return dest, amount

    def _act_withdraw3(self, acct: Any, action: dict[str, Any]) -> Any:
        got = self._destination_and_amount(action)
        if isinstance(got, dict):
            return got
        dest, amount = got
        if amount <= self.withdraw_fee:
            return _err(f"Withdrawal amount must exceed the fee of {_fmt(self.withdraw_fee)} USDC.")
        if self._withdrawable(acct) < amount:  # type: ignore[attr-defined]
            return _err("Insufficient balance for withdrawal.")
        acct.perp_usdc -= amount
        h = "0x" + secrets.token_hex(32)
        acct.ledger.append({"time": self._wallet_now_ms(), "hash": h, "delta": {
            "type": "withdraw", "usdc": _fmt(amount), "nonce": action["time"], "fee": _fmt(self.withdraw_fee)}})
        if self.network is not None:
            self.network.send(BRIDGE_NETWORK, "USDC", amount - self.withdraw_fee, BRIDGE_ADDRESS, dest,
                              delay_s=self.withdraw_seconds, txid=h)
        return {"status": "ok", "response": {"type": "default"}}

    def _act_usd_send(self, acct: Any, action: dict[str, Any]) -> Any:
        got = self._destination_and_amount(action)
        if isinstance(got, dict):
            return got
        dest, amount = got
        if dest.lower() == acct.master:
            return _err("Cannot send to self.")
        if self._withdrawable(acct) < amount:  # type: ignore[attr-defined]
            return _err("Insufficient balance for internal transfer.")
        other = self._account_or_new(dest)
        acct.perp_usdc -= amount
        other.perp_usdc += amount
        h = "0x" + secrets.token_hex(32)
        row = {"time": self._wallet_now_ms(), "hash": h, "delta": {
            "type": "internalTransfer", "usdc": _fmt(amount), "user": acct.master, "destination": other.master,
            "fee": "0.0"}}
        acct.ledger.append(row)
        other.ledger.append(dict(row))
        return {"status": "ok", "response": {"type": "default"}}


def _fmt(d: Decimal) -> str:
    from basis_venue_hyperliquid.testing.emulator import _fmt as fmt

    return fmt(d)


def _err(message: str) -> dict[str, Any]:
    return {"status": "err", "response": message}


__all__ = ["BRIDGE_ADDRESS", "BRIDGE_NETWORK", "HyperliquidWallet"]
