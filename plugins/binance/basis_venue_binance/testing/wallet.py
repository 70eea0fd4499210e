"""The Binance emulator's wallet endpoints: withdrawals and deposits over a shared
:class:`~basis_core.testing.transfer_network.TransferNetwork`, as ccxt 4.5.90 calls them.

===========================================  ===================================================================
``POST /sapi/v1/capital/withdraw/apply``     ``coin``, ``address``, ``amount``, ``network`` (default: the coin's
                                             default network), ``withdrawOrderId`` (client id, optional);
                                             answers ``{"id": ...}``
``GET /sapi/v1/capital/withdraw/history``    filters ``coin``, ``withdrawOrderId``, ``status``, ``startTime`` /
                                             ``endTime`` (apply time, ms), ``offset``, ``limit`` (default 1000);
                                             newest first
``GET /sapi/v1/capital/deposit/hisrec``      filters ``coin``, ``status``, ``txId``, ``startTime`` / ``endTime``
                                             (insert time, ms), ``offset``, ``limit`` (default 1000); newest first
``GET /sapi/v1/capital/deposit/address``     ``coin``, ``network``: ``{coin, address, tag, url}``
``GET /sapi/v1/capital/config/getall``       every coin with its networks (fees, minimums, confirmations): what
                                             ccxt's ``fetch_currencies`` reads
===========================================  ===================================================================

Model (per coin and network, :data:`WITHDRAW_NETWORKS`): a withdrawal debits ``amount`` from the free spot balance
at once (``-4026`` "You have insufficient balance." when it is not there; nothing changes), is ``Processing``
(status 4) for ``processing_s`` seconds on the network's clock, then ``Completed`` (6) with the ``txId`` of the
transaction that carries ``amount - transactionFee`` to the address (the fee is deducted from the amount, as the
web UI shows it; ``-4028`` when the amount does not exceed it, ``-4022`` below the minimum). A deposit to one of
this account's deposit addresses appears (status 0, ``confirmTimes`` "n/N") once broadcast and is credited to the
free spot balance (status 1) when it has the network's ``confirmations``.

``withdrawOrderId`` is unique per account: a second withdrawal with an id already used is refused with ``-4001``
"Invalid operation." (the real venue's behaviour for a reused id is not documented; the executor looks a
withdrawal up by this id before it could send it again, so exactly-once does not rest on the refusal).
Unknown coins are refused with ``-4018`` "We don't have this asset.", unknown networks with ``-4019``.
Without an attached network the endpoints answer, but nothing is ever broadcast or received.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from basis_core.testing.transfer_network import ChainTransfer, TransferNetwork, deposit_address

ZERO = Decimal(0)


@dataclass(frozen=True)
class WithdrawNetwork:
    """One network a coin can leave / arrive on: fee (coin units, deducted from the amount), minimum, the
    processing time of a withdrawal and the confirmations a deposit needs."""

    fee: Decimal
    minimum: Decimal
    processing_s: int
    confirmations: int


def _n(fee: str, minimum: str, processing_s: int, confirmations: int) -> WithdrawNetwork:
    return WithdrawNetwork(Decimal(fee), Decimal(minimum), processing_s, confirmations)


#: coin -> network -> parameters; the first network of a coin is its default (round figures of the venue's pages)
WITHDRAW_NETWORKS: dict[str, dict[str, WithdrawNetwork]] = {
    "USDT": {"ETH": _n("1", "10", 600, 6), "ARBITRUM": _n("0.8", "10", 300, 12)},
    "USDC": {"ETH": _n("1", "10", 600, 6), "ARBITRUM": _n("0.8", "10", 300, 12)},
    "ETH": {"ETH": _n("0.0008", "0.001", 600, 6), "ARBITRUM": _n("0.0001", "0.001", 300, 12)},
}


@dataclass
class Withdrawal:
    wid: str
    coin: str
    network: str
    address: str
    amount: Decimal
    fee: Decimal
    client_id: str | None
    apply_ms: int
    tx: ChainTransfer | None


@dataclass
class Deposit:
    did: int
    tx: ChainTransfer
    required: int
    insert_ms: int
    credited: bool = False


def _fmt_time(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")


class BinanceWallet:
    """Mixin of :class:`~basis_venue_binance.testing.emulator.BinanceEmulator` (see the module docstring); its
    state lives under the emulator's lock like the rest."""

    # provided by the emulator
    spot_free: dict[str, Decimal]
    spot_locked: dict[str, Decimal]
    api_key: str

    network: TransferNetwork | None = None
    withdraw_networks: dict[str, dict[str, WithdrawNetwork]] = WITHDRAW_NETWORKS

    def attach_network(self, network: TransferNetwork) -> None:
        """Send withdrawals over ``network`` and receive deposits from it (times on its clock)."""
        self.network = network

    def deposit_address(self, coin: str, network: str | None = None) -> str:
        """This account's deposit address on ``network`` (default: the coin's default network)."""
        nets = self.withdraw_networks[coin]
        return deposit_address(self._wallet_owner(), network or next(iter(nets)))

    def withdrawals(self) -> list[Withdrawal]:
        return list(self._wallet()["withdrawals"])

    def deposits(self) -> list[Deposit]:
        return list(self._wallet()["deposits"])

    # -- state ---------------------------------------------------------------------------------------------
    def _wallet(self) -> dict[str, Any]:
        st = self.__dict__.get("_wallet_state")
        if st is None:
            st = {"withdrawals": [], "deposits": [], "ids": itertools.count(7_000_001)}
            self.__dict__["_wallet_state"] = st
        return st

    def _wallet_owner(self) -> str:
        return "binance:" + hashlib.sha256(self.api_key.encode()).hexdigest()[:16]

    def _wallet_now_ms(self) -> int:
        """Record times (``applyTime``, ``insertTime``): the emulator's own clock, as every other record of it;
        processing and confirmations run on the network's clock."""
        return self.now_ms()  # type: ignore[attr-defined,no-any-return]

    def _wallet_routes(self) -> dict[tuple[str, str], Callable[[dict[str, str]], Any]]:
        return {
            ("POST", "/sapi/v1/capital/withdraw/apply"): self._withdraw_apply,
            ("GET", "/sapi/v1/capital/withdraw/history"): self._withdraw_history,
            ("GET", "/sapi/v1/capital/deposit/hisrec"): self._deposit_history,
            ("GET", "/sapi/v1/capital/deposit/address"): self._deposit_address,
            ("GET", "/sapi/v1/capital/config/getall"): self._coins,
        }

    def _sync_deposits(self) -> None:
        """Take in the network's transactions to this account's addresses; credit the confirmed ones (called
        under the lock before every request)."""
        if self.network is None:
            return
        st = self._wallet()
        owner = self._wallet_owner()
        mine = {deposit_address(owner, net): net for nets in self.withdraw_networks.values() for net in nets}
        known = {d.tx.txid for d in st["deposits"]}
        now = self.network.now_ns()
        for tx in self.network.transfers_to(mine):
            if tx.txid not in known and tx.coin in self.withdraw_networks \
                    and tx.network in self.withdraw_networks[tx.coin]:
                st["deposits"].append(Deposit(next(st["ids"]), tx, self.withdraw_networks[tx.coin][tx.network]
                                              .confirmations, self._wallet_now_ms()))
                known.add(tx.txid)
        for d in st["deposits"]:
            if not d.credited and d.tx.confirmations(now) >= d.required:
                d.credited = True
                self.spot_free[d.tx.coin] = self.spot_free.get(d.tx.coin, ZERO) + d.tx.amount
                self.spot_locked.setdefault(d.tx.coin, ZERO)
        self.network.poll()

    # -- endpoints -------------------------------------------------------------------------------------------
    def _coin_network(self, p: dict[str, str]) -> tuple[str, str, WithdrawNetwork]:
        from basis_venue_binance.testing.emulator import BinanceError, _missing

        coin = p.get("coin")
        if not coin:
            raise _missing("coin")
        nets = self.withdraw_networks.get(coin)
        if nets is None:
            raise BinanceError(-4018, "We don't have this asset.")
        net = p.get("network") or next(iter(nets))
        if net not in nets:
            raise BinanceError(-4019, "Current asset is not open for withdrawal.")
        return coin, net, nets[net]

    def _withdraw_apply(self, p: dict[str, str]) -> dict[str, Any]:
        from basis_venue_binance.testing.emulator import BinanceError, _dec, _missing

        coin, net, spec = self._coin_network(p)
        address = p.get("address")
        if not address:
            raise _missing("address")
        if not (address.startswith("0x") and len(address) == 42):
            raise BinanceError(-4033, "Illegal address.")
        amount = _dec(p, "amount")
        assert amount is not None
        st = self._wallet()
        cid = p.get("withdrawOrderId") or None
        if cid is not None and any(w.client_id == cid for w in st["withdrawals"]):
            raise BinanceError(-4001, "Invalid operation.")
        if amount <= spec.fee:
            raise BinanceError(-4028, "The amount of withdrawal must be greater than the Commission.")
        if amount < spec.minimum:
            raise BinanceError(-4022, f"Not less than the minimum pick-up quantity {spec.minimum}.")
        if self.spot_free.get(coin, ZERO) < amount:
            raise BinanceError(-4026, "You have insufficient balance.")
        self.spot_free[coin] -= amount
        wid = hashlib.sha256(f"{self._wallet_owner()}:{len(st['withdrawals'])}:{cid}".encode()).hexdigest()[:32]
        tx = None
        if self.network is not None:
            tx = self.network.send(net, coin, amount - spec.fee, deposit_address("binance-hot-wallet", net), address,
                                   delay_s=spec.processing_s)
        st["withdrawals"].append(Withdrawal(wid, coin, net, address, amount, spec.fee, cid, self._wallet_now_ms(),
                                            tx))
        return {"id": wid}

    def _withdraw_row(self, w: Withdrawal, now_ns: int) -> dict[str, Any]:
        from basis_venue_binance.testing.emulator import _s

        done = w.tx is not None and w.tx.broadcast_ns <= now_ns
        row: dict[str, Any] = {
            "id": w.wid, "amount": _s(w.amount), "transactionFee": _s(w.fee), "coin": w.coin,
            "status": 6 if done else 4, "address": w.address, "txId": w.tx.txid if done and w.tx else "",
            "applyTime": _fmt_time(w.apply_ms), "network": w.network, "transferType": 0, "info": "",
            "confirmNo": w.tx.confirmations(now_ns) if w.tx is not None else 0, "walletType": 0, "txKey": ""}
        if w.client_id is not None:
            row["withdrawOrderId"] = w.client_id
        return row

    @staticmethod
    def _page(rows: list[dict[str, Any]], p: dict[str, str]) -> list[dict[str, Any]]:
        from basis_venue_binance.testing.emulator import _check_range, _ints

        q = _ints(p, offset=0, limit=1000)
        limit = _check_range(q["limit"], 1, 1000, "limit")
        offset = _check_range(q["offset"], 0, 10**9, "offset")
        return rows[offset:offset + limit]

    def _withdraw_history(self, p: dict[str, str]) -> list[dict[str, Any]]:
        from basis_venue_binance.testing.emulator import _ints

        if self.network is not None:
            self.network.poll()
        now = self.network.now_ns() if self.network is not None else 0
        q = _ints(p, startTime=None, endTime=None)
        rows = [self._withdraw_row(w, now) for w in reversed(self._wallet()["withdrawals"])
                if (not p.get("coin") or w.coin == p["coin"])
                and (not p.get("withdrawOrderId") or w.client_id == p["withdrawOrderId"])
                and (q["startTime"] is None or w.apply_ms >= q["startTime"])
                and (q["endTime"] is None or w.apply_ms <= q["endTime"])]
        if p.get("status"):
            rows = [r for r in rows if str(r["status"]) == p["status"]]
        return self._page(rows, p)

    def _deposit_history(self, p: dict[str, str]) -> list[dict[str, Any]]:
        from basis_venue_binance.testing.emulator import _ints, _s

        now = self.network.now_ns() if self.network is not None else 0
        q = _ints(p, startTime=None, endTime=None)
        rows = []
        for d in reversed(self._wallet()["deposits"]):
            t = d.tx
            insert = d.insert_ms
            if (p.get("coin") and t.coin != p["coin"]) or (p.get("txId") and t.txid != p["txId"]) \
                    or (q["startTime"] is not None and insert < q["startTime"]) \
                    or (q["endTime"] is not None and insert > q["endTime"]):
                continue
            status = 1 if d.credited else 0
            if p.get("status") and str(status) != p["status"]:
                continue
            rows.append({"id": str(d.did), "amount": _s(t.amount), "coin": t.coin, "network": t.network,
                         "status": status, "address": t.to, "addressTag": "", "txId": t.txid, "insertTime": insert,
                         "transferType": 0, "confirmTimes": f"{min(t.confirmations(now), d.required)}/{d.required}",
                         "unlockConfirm": d.required, "walletType": 0})
        return self._page(rows, p)

    def _deposit_address(self, p: dict[str, str]) -> dict[str, Any]:
        coin, net, _spec = self._coin_network(p)
        return {"coin": coin, "address": deposit_address(self._wallet_owner(), net), "tag": "", "url": ""}

    def _coins(self, p: dict[str, str]) -> list[dict[str, Any]]:
        from basis_venue_binance.testing.emulator import _s

        out = []
        for coin in sorted(set(self.spot_free) | set(self.withdraw_networks)):
            nets = self.withdraw_networks.get(coin, {})
            out.append({
                "coin": coin, "name": coin, "depositAllEnable": bool(nets), "withdrawAllEnable": bool(nets),
                "free": _s(self.spot_free.get(coin, ZERO)), "locked": _s(self.spot_locked.get(coin, ZERO)),
                "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
                "isLegalMoney": False, "trading": True,
                "networkList": [{
                    "network": net, "coin": coin, "name": net, "isDefault": i == 0, "depositEnable": True,
                    "withdrawEnable": True, "withdrawFee": _s(n.fee), "withdrawMin": _s(n.minimum),
                    "withdrawMax": "9999999999", "withdrawIntegerMultiple": "0.00000001", "depositDust": "0",
                    "minConfirm": n.confirmations, "unLockConfirm": n.confirmations, "sameAddress": False,
                    "estimatedArrivalTime": n.processing_s // 60, "busy": False, "contractAddress": "",
                } for i, (net, n) in enumerate(nets.items())]})
        return out


__all__ = ["WITHDRAW_NETWORKS", "BinanceWallet", "Deposit", "WithdrawNetwork", "Withdrawal"]
