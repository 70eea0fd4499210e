"""Binance withdrawals and deposits for live moves (the venue adapter of :class:`basis_core.live.withdrawals.
CexWithdrawals`), through ccxt: ``withdraw`` (``POST /sapi/v1/capital/withdraw/apply``), ``fetch_withdrawals``
(``GET /sapi/v1/capital/withdraw/history``), ``fetch_deposits`` (``GET /sapi/v1/capital/deposit/hisrec``),
``fetch_deposit_address`` and, once, ``fetch_currencies`` (``GET /sapi/v1/capital/config/getall``: the coins'
networks, fees and minimums; markets are reloaded with it the first time a move needs them).

Binance withdraws from and deposits to the spot wallet (a move from ``binance:futures`` is refused: transfer to
spot first). The withdrawal's idempotency key is its ``withdrawOrderId``: the move's transfer id when Binance accepts
it as is (``[.A-Za-z0-9:/_-]{1,36}``), else ``bh-`` + 32 hex digits of its sha256; a withdrawal is looked up by it
in the history. Statuses: 6 (completed: broadcast, ``txId`` set) is ``sent``; 1 (cancelled), 3 (rejected) and 5
(failure) are ``failed``; the others (email sent, awaiting approval, processing) ``pending``. A deposit is found
by its ``txId`` and has arrived once its status is 1 (success) or 6 (credited).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from basis_core.errors import InstructionError
from basis_core.transit.legs import ArrivalState, TransferState

_FAILED = {1, 3, 5}


class BinanceWithdrawals:
    """Mixin of :class:`basis_venue_binance.live.BinanceLiveBackend`."""

    client: Any
    name: str

    def _coin(self, asset: str) -> dict[str, Any]:
        c = self.client
        cur = c.currencies.get(asset) if c.currencies else None
        if cur is None or not cur.get("networks"):
            c.options["fetchCurrencies"] = True
            c.load_markets(True)
            cur = c.currencies.get(asset)
        if cur is None or not cur.get("networks"):
            raise InstructionError("asset", f"{self.name} lists no network for {asset!r}")
        return dict(cur)

    def _networks(self, asset: str, flag: str) -> list[str]:
        nets = [n["info"] for n in self._coin(asset)["networks"].values() if n["info"].get(flag)]
        nets.sort(key=lambda n: not n.get("isDefault"))
        return [str(n["network"]) for n in nets]

    def withdraw_networks(self, asset: str, kind: str) -> list[str]:
        if kind != "spot":
            raise InstructionError("source", f"{self.name} withdraws from the spot wallet only: transfer {asset} "
                                             "to spot first")
        return self._networks(asset, "withdrawEnable")

    def deposit_address_of(self, asset: str, kind: str, network: str) -> str | None:
        if kind != "spot":
            raise InstructionError("destination", f"{self.name} credits deposits to the spot wallet only")
        if network not in self._networks(asset, "depositEnable"):
            return None
        return str(self.client.fetch_deposit_address(asset, {"network": network})["address"])

    def withdrawal_key(self, transfer_id: str, journaled: str | None) -> str:
        from basis_venue_binance.live import binance_client_id

        return journaled or binance_client_id(transfer_id)

    def send_withdrawal(self, asset: str, amount: Decimal, address: str, network: str, key: str) -> Any:
        return self.client.withdraw(asset, format(amount, "f"), address, {"network": network,
                                                                          "withdrawOrderId": key})

    def find_withdrawal(self, asset: str, key: str, since_ms: int) -> TransferState | None:
        self._coin(asset)
        rows = self.client.fetch_withdrawals(asset, None, None, {"withdrawOrderId": key})
        for r in rows:
            info = r["info"]
            if info.get("withdrawOrderId") != key:
                continue
            status = int(info["status"])
            fee, amount = Decimal(str(info.get("transactionFee", "0"))), Decimal(str(info["amount"]))
            state: Literal["pending", "sent", "failed"] = (
                "sent" if status == 6 else "failed" if status in _FAILED else "pending")
            return TransferState(state, str(info["id"]), fee, amount - fee, str(info.get("txId") or "") or None)
        return None

    def find_deposit(self, asset: str, txid: str, since_ms: int) -> ArrivalState:
        self._coin(asset)  # ccxt needs the currency loaded
        rows = self.client.fetch_deposits(asset, None, None, {"txId": txid})
        for r in rows:
            info = r["info"]
            if info.get("txId") != txid:
                continue
            arrived = int(info["status"]) in (1, 6)
            return ArrivalState(arrived, True, Decimal(str(info["amount"])), str(info.get("confirmTimes") or ""))
        return ArrivalState(False)


__all__ = ["BinanceWithdrawals"]
