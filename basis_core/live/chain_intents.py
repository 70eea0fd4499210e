"""Exactly-once on-chain intents: the journal flow every EVM venue backend (Uniswap, Curve, Aave, Lido and the
Aave atomic bundle executor) runs its state-changing instructions through.

One instruction is one **intent** in the shared :class:`~basis_core.live.journal.ExecutionJournal` (the CEX
venues' journal), keyed by the instruction's ``client_id`` (without one: a fresh ``auto-<uuid>`` id, as the
CEX venues do; such an intent is still found and resumed by a restarted manager, but re-issuing the
instruction makes a new intent). :meth:`ChainIntents.run`:

1. claims the key atomically (:meth:`ExecutionJournal.claim`): the intent (venue, operation, client id,
   instruction fingerprint) is committed before anything is signed; the same client id already ``done``
   returns the journaled deltas, one being executed by another thread or live process is waited for, a
   pending one whose writer is gone (crash, timeout, node stall) is resumed (4.);
2. runs the backend's operation with the intent as the thread's *scope*: every transaction the
   :class:`~basis_core.live.evm.EvmClient` sends in it is signed with the next nonce and journaled -- label,
   signed raw bytes, hash, nonce, fields -- and committed BEFORE it is broadcast. The label names the
   transaction within the intent (``approve@<token>#0``, ``supply@<pool>#0``; a backend may pass its own);
   the transaction that completes the instruction carries ``final`` (a JSON context: what turns its
   receipts into deltas);
3. the deltas (from the receipts, by the backend's ``finish``) are journaled ``done``. A refusal before
   anything was signed is journaled ``rejected``; so is a mined revert (its gas is spent; re-issuing the
   client id makes a new attempt, as after a CEX rejection). Anything else after a signature (receipt
   timeout, node stall, connection error, a crash) leaves the intent pending and raises
   :class:`~basis_core.errors.TransactionTimeoutError` (an AmbiguousOutcomeError) carrying hash and nonce;
4. resuming a pending intent never signs a journaled label again: for each journaled transaction, a receipt
   is adopted; a transaction the node still holds is waited for; one the node does not know (dropped from
   the pool, or never broadcast because the process died after signing) is re-broadcast with the SAME signed
   bytes (same nonce, same hash). With the final transaction journaled the deltas are rebuilt from the
   receipts and the journaled context (no re-validation against the changed chain); without it the operation
   runs again in the intent's scope, its journaled transactions (approvals ...) resumed by label.

A stuck transaction is replaced only by :meth:`ChainIntents.bump_fee`: the same nonce and fields with higher
fees, journaled under the same label; whichever of them is mined is adopted. A restarted backend resumes its
venue's pending intents when it is created (:meth:`ChainIntents.resume_pending`, before it sends anything:
their journaled nonces are registered so a new transaction never takes one) and reports the ones it
completes to the manager (``VenueContext.report``: they appear in ``execution_history``); what is still in
the pool then completes on a re-issue of the instruction or a later :meth:`ChainIntents.resume_pending`
(``manager.advance_to``).

Test hook: the environment variable ``BASIS_CRASH_AT`` = ``after_sign`` | ``after_broadcast`` kills the
process (SIGKILL) right after a transaction is journaled / broadcast, for crash tests in a subprocess.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import (
    AmbiguousOutcomeError,
    BasisError,
    ContractRevertError,
    OrderNotFoundError,
    TransactionTimeoutError,
)
from basis_core.live.evm import EvmClient, PendingTx, Receipt
from basis_core.live.journal import ExecutionJournal, IntentState, JournalRow, dumps
from basis_core.live.orders import deltas_from_json, deltas_to_json, settled, venue_message

log = logging.getLogger(__name__)

__all__ = ["ChainIntents", "Finish", "IntentScope", "current_scope"]

_SCOPE: ContextVar[IntentScope | None] = ContextVar("basis_chain_intent", default=None)

#: ``finish(ts, instruction, receipts, ctx)``: the deltas of an intent from its receipts (every transaction
#: of the intent, in order) and the journaled context of its final transaction.
Finish = Callable[[Any, Any, list[Receipt], Mapping[str, Any]], ExecutionDeltas]


def current_scope(client: EvmClient) -> IntentScope | None:
    """The intent the calling thread runs for ``client`` (None outside one)."""
    scope = _SCOPE.get()
    return scope if scope is not None and scope.client is client else None


def _crash_point(name: str) -> None:
    if os.environ.get("BASIS_CRASH_AT") == name:  # test hook (module docstring)
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class SignedTx:
    """A journaled transaction of an intent."""

    label: str
    tx_hash: str
    nonce: int
    raw: bytes = field(repr=False)
    fields: dict[str, Any] = field(repr=False)
    final: Mapping[str, Any] | None = None

    def pending(self) -> PendingTx:
        return PendingTx(self.tx_hash, self.nonce, self.raw, 0.0, self.fields.get("to"), self.fields)


def _signed_rows(rows: list[JournalRow]) -> dict[str, list[SignedTx]]:
    """label -> its journaled transactions (a fee bump adds one with the same nonce), in journal order."""
    out: dict[str, list[SignedTx]] = {}
    for r in rows:
        if r.kind != "outcome" or r.payload.get("event") != "signed":
            continue
        p = r.payload
        out.setdefault(p["label"], []).append(SignedTx(p["label"], p["tx_hash"], int(p["nonce"]),
                                                       bytes.fromhex(p["raw"]), dict(p["fields"]), p.get("final")))
    return out


def _jsonable_fields(tx: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in tx.items():
        out[k] = v if isinstance(v, str | int) or v is None else "0x" + bytes(v).hex()
    return out


class IntentScope:
    """One intent being executed or resumed by the calling thread (see the module docstring)."""

    def __init__(self, owner: ChainIntents, intent: JournalRow, journaled: dict[str, list[SignedTx]]) -> None:
        self.owner = owner
        self.client = owner.client
        self.intent = intent
        self.journaled = journaled
        self.receipts: list[Receipt] = []
        self.signed: list[str] = []  # hashes signed or resumed in this run
        self.last: tuple[str, int] | None = None  # (hash, nonce) of the latest transaction
        self.settled = 0  # transactions of this run whose receipt was seen (mined, or mined and reverted)
        self._counts: dict[str, int] = {}

    def label_for(self, fn_or_tx: Any, label: str | None) -> str:
        if label is None:
            if isinstance(fn_or_tx, dict):
                name, to = "call", str(fn_or_tx.get("to") or "create")
            else:
                name, to = str(getattr(fn_or_tx, "fn_name", "call")), str(fn_or_tx.address)
            label = f"{name}@{to.lower()}"
        k = self._counts.get(label, 0)
        self._counts[label] = k + 1
        return f"{label}#{k}"

    def has_journaled(self, label: str) -> bool:
        """Whether the next transaction labelled ``label`` (without ``#k``) is already journaled in this intent."""
        return f"{label}#{self._counts.get(label, 0)}" in self.journaled

    def submit(self, fn_or_tx: Any, value: int, gas: int | None, label: str | None, final: Any) -> PendingTx:
        lab = self.label_for(fn_or_tx, label)
        known = self.journaled.get(lab)
        if known:
            p = self.owner.revive(known)
        else:
            p = self.owner.sign_and_send(self.intent, lab, fn_or_tx, value, gas, final)
        self.signed.append(p.tx_hash)
        self.last = (p.tx_hash, p.nonce)
        return p

    def send(self, fn_or_tx: Any, value: int, gas: int | None, timeout: float | None, label: str | None,
             final: Any) -> Receipt:
        p = self.submit(fn_or_tx, value, gas, label, final)
        hashes = [s.tx_hash for s in self.owner.same_nonce(self.intent, p.nonce)] or [p.tx_hash]
        try:
            receipt = self.client.wait_any(hashes, p.nonce, timeout)
        except ContractRevertError:
            self.settled += 1
            raise
        self.settled += 1
        self.receipts.append(receipt)
        return receipt


class ChainIntents:
    """The exactly-once flow of one on-chain venue backend (see the module docstring).

    :param venue: venue id (journal key). :param client: the backend's EvmClient.
    :param journal: the shared execution journal. :param finish: rebuilds an intent's deltas from receipts.
    :param report: ``report(ts, deltas)`` for intents completed outside an instruction (a restart).
    """

    def __init__(self, venue: str, client: EvmClient, journal: ExecutionJournal, finish: Finish,
                 report: Callable[[Any, ExecutionDeltas], None] | None = None) -> None:
        self.venue = venue
        self.client = client
        self.journal = journal
        self.finish = finish
        self.report = report
        self._lock = threading.Lock()

    @classmethod
    def for_backend(cls, venue: str, client: EvmClient, context: Any, finish: Finish) -> ChainIntents:
        """The flow of a backend configured by ``context`` (a VenueContext: ``journal_path``, ``report``)."""
        settings = getattr(context, "settings", None)
        path = getattr(settings, "journal_path", None)
        if path is None:
            log.warning("%s live: no journal_path set; the execution journal is in memory, so a restarted manager "
                        "cannot resume transactions sent before the restart", venue)
        journal = ExecutionJournal.shared(path)
        return cls(venue, client, journal, finish, getattr(context, "report", None))

    # -- running -------------------------------------------------------------------------------------
    def run(self, ts: Any, ins: Any, body: Callable[[], ExecutionDeltas]) -> ExecutionDeltas:
        """Execute ``body`` (the backend's operation) as the intent of ``ins``, exactly once (module docstring)."""
        from basis_core.live.cex import instruction_json

        ins_json, fp = instruction_json(ins)
        intent_id = str(ins.client_id) if ins.client_id else f"auto-{uuid.uuid4().hex}"
        payload = '{"instruction":' + ins_json + ',"kind":"onchain","ts":' + dumps(str(ts)) + "}"
        claim = self.journal.claim(self.venue, intent_id, intent_id, ins.operation, payload, fp)
        try:
            intent = claim.intent
            journaled: dict[str, list[SignedTx]] = {}
            if intent is None:
                prior = claim.prior
                assert prior is not None
                done = settled(prior, self.venue, intent_id, fp)
                if done is not None:
                    return done
                intent = prior.intent
                journaled = _signed_rows(self.journal.rows_of(self.venue, intent_id))
                final = self._final(journaled)
                if final is not None:
                    return self._complete(ts, ins, intent, journaled, final, None)
            return self._execute(ts, ins, intent, journaled, body)
        finally:
            claim.release()

    def _execute(self, ts: Any, ins: Any, intent: JournalRow, journaled: dict[str, list[SignedTx]],
                 body: Callable[[], ExecutionDeltas]) -> ExecutionDeltas:
        scope = IntentScope(self, intent, journaled)
        token = _SCOPE.set(scope)
        try:
            deltas = body()
        except Exception as e:
            # definitive when nothing signed is still in flight (refused before sending, or a mined revert)
            if scope.settled >= len(scope.signed) and not isinstance(e, AmbiguousOutcomeError):
                if journaled and not scope.signed:  # a resumed intent refused before it got to its transactions
                    raise
                self._failed(intent, e)
                raise
            raise self._ambiguous(intent, scope, e) from None
        finally:
            _SCOPE.reset(token)
        self.journal.record_outcome(intent, "done", {"event": "mined", "deltas": deltas_to_json(deltas)},
                                    defer=True)
        return deltas

    def _failed(self, intent: JournalRow, e: BaseException) -> None:
        self.journal.record_outcome(intent, "rejected", {"event": "rejected", "error": venue_message(e),
                                                         "tx_hash": getattr(e, "tx_hash", None)})

    def _ambiguous(self, intent: JournalRow, scope: IntentScope, e: BaseException) -> BasisError:
        tx_hash, nonce = scope.last if scope.last else (None, None)
        tx_hash = getattr(e, "tx_hash", None) or tx_hash
        nonce = getattr(e, "nonce", None) if getattr(e, "nonce", None) is not None else nonce
        self.journal.record_outcome(intent, "unknown", {"event": "ambiguous", "error": venue_message(e),
                                                        "tx_hash": tx_hash})
        if isinstance(e, AmbiguousOutcomeError) and getattr(e, "tx_hash", None):
            return e
        return TransactionTimeoutError(
            f"{self.venue}: {intent.operation} {intent.intent_id}: outcome unknown after transaction {tx_hash} "
            f"(nonce {nonce}) was sent ({venue_message(e)}); it stays pending in the journal: re-issue the "
            "instruction (same client_id) to resume it, it is never sent with a new nonce",
            tx_hash=tx_hash, nonce=nonce)

    @staticmethod
    def _final(journaled: dict[str, list[SignedTx]]) -> SignedTx | None:
        for txs in journaled.values():
            if txs[0].final is not None:
                return txs[-1]
        return None

    def _complete(self, ts: Any, ins: Any, intent: JournalRow, journaled: dict[str, list[SignedTx]],
                  final: SignedTx, timeout: float | None) -> ExecutionDeltas:
        """Resume every journaled transaction (in nonce order) and build the deltas from the receipts."""
        receipts: list[Receipt] = []
        for txs in sorted(journaled.values(), key=lambda t: t[0].nonce):
            p = self.revive(txs)
            try:
                receipts.append(self.client.wait_any([t.tx_hash for t in txs], p.nonce, timeout))
            except ContractRevertError as e:
                self._failed(intent, e)
                raise
            except TransactionTimeoutError:
                raise
        assert final.final is not None
        deltas = self.finish(ts, ins, receipts, final.final)
        self.journal.record_outcome(intent, "done", {"event": "resumed", "deltas": deltas_to_json(deltas)})
        return deltas

    # -- transactions --------------------------------------------------------------------------------
    def sign_and_send(self, intent: JournalRow, label: str, fn_or_tx: Any, value: int, gas: int | None,
                      final: Any) -> PendingTx:
        """Build and sign the next transaction of ``intent``, journal it (committed), then broadcast it."""
        client = self.client
        tx = client.build(fn_or_tx, value, gas)
        with client.lock:
            p = client.sign(tx)
            self._journal_signed(intent, label, p, final)
            _crash_point("after_sign")
            client.broadcast(p)
        _crash_point("after_broadcast")
        return p

    def _journal_signed(self, intent: JournalRow, label: str, p: PendingTx, final: Any,
                        replaces: str | None = None) -> None:
        payload: dict[str, Any] = {"event": "signed", "label": label, "tx_hash": p.tx_hash, "nonce": p.nonce,
                                   "raw": p.raw_transaction.hex(), "fields": _jsonable_fields(p.fields or {})}
        if final is not None:
            payload["final"] = dict(final)
        if replaces is not None:
            payload["replaces"] = replaces
        self.journal.record_outcome(intent, "unknown", payload)

    def revive(self, txs: list[SignedTx]) -> PendingTx:
        """A journaled transaction (and its fee bumps) back in flight: nothing if one is mined or the node holds
        one; else the latest signed bytes are broadcast again (same nonce, same hash)."""
        from web3.exceptions import TransactionNotFound

        client = self.client
        latest = txs[-1]
        w3 = client.w3
        for t in txs:
            try:
                if w3.eth.get_transaction_receipt(t.tx_hash) is not None:
                    return t.pending()
            except TransactionNotFound:
                pass
        for t in txs:
            try:
                w3.eth.get_transaction(t.tx_hash)
                with client.lock:
                    client.pending.setdefault(t.tx_hash, t.pending())
                return t.pending()  # in the pool: wait for it
            except TransactionNotFound:
                pass
        log.warning("%s: %s (nonce %d) is not known to the node: broadcasting the same signed bytes again",
                    self.venue, latest.tx_hash, latest.nonce)
        with client.lock:
            try:
                client.broadcast(latest.pending())
            except BasisError as e:  # e.g. "nonce too low": another transaction took it
                if w3.eth.get_transaction_count(client.address, "latest") > latest.nonce:
                    for t in txs:  # one of ours may have been mined meanwhile
                        try:
                            if w3.eth.get_transaction_receipt(t.tx_hash) is not None:
                                return t.pending()
                        except TransactionNotFound:
                            pass
                raise AmbiguousOutcomeError(
                    f"{self.venue}: journaled transaction {latest.tx_hash} (nonce {latest.nonce}) could not be "
                    f"re-broadcast ({venue_message(e)}); check the account's transactions") from None
        return latest.pending()

    def same_nonce(self, intent: JournalRow, nonce: int) -> list[SignedTx]:
        """The journaled transactions of ``intent`` with ``nonce`` (a transaction and its fee bumps)."""
        rows = _signed_rows(self.journal.rows_of(self.venue, intent.intent_id))
        return [t for txs in rows.values() for t in txs if t.nonce == nonce]

    # -- restart / fee bump --------------------------------------------------------------------------
    def resume_pending(self, timeout: float = 2.0, report: bool = True) -> list[ExecutionDeltas]:
        """Resume this venue's pending intents that no live thread or process is working on (oldest first):
        re-broadcast what the node lost, adopt what was mined (deltas journaled ``done`` and reported), leave
        what is still in the pool pending after ``timeout`` seconds (its nonces stay registered). An intent
        whose final transaction was never signed is journaled ``absent`` once its other transactions are mined
        (the instruction had no effect; re-issuing it runs it). ``report``: also tell the manager (a restart);
        False when the caller returns them itself (``accrue``)."""
        out: list[ExecutionDeltas] = []
        for st in self.journal.pending(self.venue):
            payload = st.intent.payload
            if payload.get("kind") != "onchain":
                continue
            d = self._resume_one(st, timeout, report)
            if d is not None:
                out.append(d)
        return out

    def _resume_one(self, st: IntentState, timeout: float, report: bool) -> ExecutionDeltas | None:
        from basis_core.instructions import parse_instruction
        from basis_core.timeutil import to_utc

        i = st.intent
        claim = self.journal.claim(self.venue, i.intent_id, i.venue_client_id, i.operation, "", i.fingerprint,
                                   new_intent=False, wait_s=0)
        if not claim.owned:
            return None
        try:
            journaled = _signed_rows(self.journal.rows_of(self.venue, i.intent_id))
            for txs in journaled.values():  # register their nonces first: nothing new may take one
                with self.client.lock:
                    for t in txs:
                        self.client.pending.setdefault(t.tx_hash, t.pending())
            final = self._final(journaled)
            ins = parse_instruction(dict(i.payload["instruction"]))
            ts = to_utc(i.payload.get("ts") or str(i.written_ns))
            if final is None:
                for txs in journaled.values():
                    self.revive(txs)
                    self.client.wait_any([t.tx_hash for t in txs], txs[-1].nonce, timeout)
                self.journal.record_outcome(i, "absent", {"event": "resumed", "note": "final transaction never signed"})
                return None
            try:
                d = self._complete(ts, ins, i, journaled, final, timeout)
            except ContractRevertError as e:
                log.warning("%s: pending %s %s reverted: %s", self.venue, i.operation, i.intent_id, e)
                return None
            if report and self.report is not None:
                self.report(d.timestamp, d)
            return d
        except (TransactionTimeoutError, AmbiguousOutcomeError) as e:
            log.info("%s: pending %s %s not settled yet: %s", self.venue, i.operation, i.intent_id, e)
            return None
        finally:
            claim.release()

    def bump_fee(self, client_id: str, max_fee_per_gas: int | None = None,
                 max_priority_fee_per_gas: int | None = None) -> str:
        """Replace the pending transaction of intent ``client_id`` by the same transaction (same nonce) with
        higher fees (at least +12.5 %); journaled before it is broadcast; returns its hash. Whichever of the
        two is mined is adopted when the intent resumes. OrderNotFoundError if nothing of it is pending."""
        st = self.journal.state(self.venue, client_id)
        if st is None or not st.pending:
            raise OrderNotFoundError("client_id", f"no pending on-chain intent {client_id!r} on {self.venue}")
        journaled = _signed_rows(self.journal.rows_of(self.venue, client_id))
        from web3.exceptions import TransactionNotFound

        for label, txs in sorted(journaled.items(), key=lambda kv: -kv[1][0].nonce):
            mined = False
            for t in txs:
                try:
                    mined = self.client.w3.eth.get_transaction_receipt(t.tx_hash) is not None
                except TransactionNotFound:
                    mined = False
                if mined:
                    break
            if mined:
                continue
            old = txs[-1]
            with self.client.lock:
                p = self.client.replacement(old.pending(), max_fee_per_gas, max_priority_fee_per_gas)
                self._journal_signed(st.intent, label, p, txs[0].final, replaces=old.tx_hash)
                self.client.broadcast(p)
            log.info("%s: %s replaced by %s (nonce %d, maxFee %s)", self.venue, old.tx_hash, p.tx_hash, p.nonce,
                     (p.fields or {}).get("maxFeePerGas"))
            return p.tx_hash
        raise OrderNotFoundError("client_id", f"intent {client_id!r} on {self.venue} has no unmined transaction")

    def journaled_deltas(self, client_id: str) -> ExecutionDeltas | None:
        """The deltas journaled for ``client_id`` when it is done (None otherwise)."""
        st = self.journal.state(self.venue, client_id)
        if st is None or st.status != "done" or st.outcome is None:
            return None
        return deltas_from_json(st.outcome.payload["deltas"])
