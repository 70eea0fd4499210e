"""The on-chain wallet as a live ``move`` source and destination: ``ethereum:wallet:ETH`` through the same
``transfer_*`` targets the CEX venues implement (:mod:`basis_core.transit.legs`).

The wallet is the chain's account, not a venue: its node and key are ``venue_config.ethereum`` (``rpc_url``,
``private_key``; option ``wallet_confirmations``: blocks a deposit to the wallet needs, default 1). Native ETH on
network ``ETH``:

- source: :meth:`ChainWallet.transfer_send` signs a value transfer to the destination's deposit address and
  journals its hash and signed bytes (venue ``ethereum``, intent ``send:<transfer id>``) BEFORE broadcasting it;
  called again for the same transfer id (a retry, a restart) it re-broadcasts those same bytes (same nonce: the
  chain holds at most one) and waits for that receipt. The fee is the gas paid (ETH), on top of the amount;
- destination: the wallet's address is the deposit address; :meth:`ChainWallet.transfer_arrival` finds the
  transaction ``txid`` mined (with ``wallet_confirmations``) and credits what it paid the wallet.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core.deltas import split_key
from basis_core.errors import ConfigError, InstructionError, InsufficientFundsError
from basis_core.live.evm import EvmClient, PendingTx
from basis_core.live.journal import ExecutionJournal, dumps, fingerprint
from basis_core.live.onchain import client_from_settings
from basis_core.live.units import from_base_units, to_base_units
from basis_core.transit.legs import ArrivalState, TransferLeg, TransferState

#: the chain account's venue part in balance keys (``ethereum:wallet:ETH``)
CHAIN = "ethereum"
NETWORK = "ETH"
_ASSETS = ("ETH",)
_GAS = 21_000  # a plain value transfer (fixed: estimating a transfer the wallet cannot pay fails untyped)


def is_wallet_key(key: str) -> bool:
    """Whether ``key`` is an account of the chain wallet (``ethereum:wallet:<asset>``)."""
    venue, kind, _ = split_key(key)
    return venue == CHAIN and kind == "wallet"


class ChainWallet:
    """The wallet side of live moves (see the module docstring); one per live transit desk."""

    def __init__(self, settings: Any, journal: ExecutionJournal) -> None:
        vs = settings.venue(CHAIN)
        if not vs.rpc_url or vs.private_key is None:
            raise ConfigError(f"venue_config.{CHAIN}: rpc_url and private_key are required to move funds from or "
                              "to the on-chain wallet live")
        self.client: EvmClient = client_from_settings(CHAIN, vs)
        self.confirmations = int(vs.options.get("wallet_confirmations", 1))
        self.journal = journal

    def __repr__(self) -> str:
        return f"ChainWallet({self.client.address})"

    @staticmethod
    def _asset(leg: TransferLeg, fld: str) -> str:
        asset = split_key(getattr(leg, fld))[2]
        if asset not in _ASSETS:
            raise InstructionError("asset", f"the on-chain wallet moves {', '.join(_ASSETS)} live, not {asset}")
        return asset

    def balance(self, asset: str) -> Decimal:
        """The wallet's ``asset`` in token units."""
        return from_base_units(self.client.eth_balance(), 18)

    # -- the transfer_* targets -------------------------------------------------------------------------------
    def transfer_networks(self, ts: Any, leg: TransferLeg) -> list[str]:
        self._asset(leg, "source")
        return [NETWORK]

    def transfer_address(self, ts: Any, leg: TransferLeg) -> str | None:
        self._asset(leg, "destination")
        return self.client.address if leg.network == NETWORK else None

    def _journaled(self, tid: str) -> dict[str, Any] | None:
        rows = [r for r in self.journal.rows_of(CHAIN, f"send:{tid}") if r.kind == "intent"]
        return None if not rows else dict(rows[-1].payload)

    def _rebroadcast(self, p: dict[str, Any]) -> None:
        """Send the journaled signed bytes again (same hash and nonce; a no-op once the node has them)."""
        c = self.client
        c.pending.setdefault(p["tx_hash"], PendingTx(p["tx_hash"], int(p["nonce"]), bytes.fromhex(p["raw"]), 0.0,
                                                     p["to"]))
        c.rebroadcast(p["tx_hash"])

    def transfer_send(self, ts: Any, leg: TransferLeg) -> TransferState:
        self._asset(leg, "source")
        assert leg.address is not None
        p = self._journaled(leg.transfer_id)
        c = self.client
        if p is None:
            value = to_base_units(leg.amount, 18, "amount")
            with c.lock:
                tx = c.build({"to": c.checksum(leg.address), "value": value, "from": c.address}, value, gas=_GAS)
                need = value + tx["gas"] * tx["maxFeePerGas"]
                have = c.eth_balance()
                if need > have:
                    raise InsufficientFundsError(leg.source, from_base_units(need, 18), from_base_units(have, 18),
                                                 "amount")
                pending = c.sign(tx)
                p = {"tx_hash": pending.tx_hash, "nonce": pending.nonce, "raw": pending.raw_transaction.hex(),
                     "to": leg.address, "amount": str(leg.amount)}
                self.journal.claim(CHAIN, f"send:{leg.transfer_id}", pending.tx_hash, "transfer", dumps(p),
                                   fingerprint(p), wait_s=0).release()
                c.broadcast(pending)
        else:  # journaled earlier: the same signed bytes again (a no-op once the node has them)
            self._rebroadcast(p)
        receipt = c.resume(p["tx_hash"])
        return self._mined(leg, p["tx_hash"], receipt.status, receipt.gas_cost_wei, receipt.block_number)

    def _mined(self, leg: TransferLeg, tx_hash: str, status: int, gas_wei: int, block: int) -> TransferState:
        st = self.journal.state(CHAIN, f"send:{leg.transfer_id}")
        if st is not None and st.pending:
            self.journal.record_outcome(st.intent, "done" if status == 1 else "rejected", {"block": block})
        return TransferState("sent" if status == 1 else "failed", tx_hash, from_base_units(gas_wei, 18), leg.amount,
                             txid=tx_hash)

    def transfer_status(self, ts: Any, leg: TransferLeg) -> TransferState | None:
        """The journaled transfer now, without waiting: mined (``sent`` / ``failed``), else ``pending`` (its signed
        bytes broadcast again: a no-op when the node has them); None when nothing was journaled."""
        from web3.exceptions import TransactionNotFound

        p = self._journaled(leg.transfer_id)
        if p is None:
            return None
        try:
            r = self.client.w3.eth.get_transaction_receipt(p["tx_hash"])
        except TransactionNotFound:
            self._rebroadcast(p)
            return TransferState("pending", p["tx_hash"], Decimal(0), leg.amount)
        return self._mined(leg, p["tx_hash"], int(r["status"]), int(r["gasUsed"]) * int(r["effectiveGasPrice"]),
                           int(r["blockNumber"]))

    def transfer_arrival(self, ts: Any, leg: TransferLeg) -> ArrivalState:
        from web3.exceptions import TransactionNotFound

        self._asset(leg, "destination")
        if not leg.txid:
            return ArrivalState(False)
        w3 = self.client.w3
        try:
            receipt = w3.eth.get_transaction_receipt(leg.txid)
        except TransactionNotFound:
            return ArrivalState(False)
        tx = w3.eth.get_transaction(leg.txid)
        if receipt["status"] != 1 or str(tx["to"]).lower() != self.client.address.lower():
            return ArrivalState(False)
        conf = int(w3.eth.block_number) - int(receipt["blockNumber"]) + 1
        amount = from_base_units(int(tx["value"]), 18)
        return ArrivalState(conf >= self.confirmations, True, amount, f"{conf}/{self.confirmations}")


__all__ = ["CHAIN", "NETWORK", "ChainWallet", "is_wallet_key"]
