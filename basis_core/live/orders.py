"""The idempotent live order flow shared by the CEX plugins: never a duplicate order, never a lost one.

One live operation is a :class:`LiveCall`: a ``send`` (one request to the venue), a ``lookup`` (the
order by its venue client id, ``None`` when the venue does not know it), a ``build`` (the venue's answer
-> :class:`~basis_core.deltas.ExecutionDeltas`) and the ``landing_window_s`` after which a request that
was sent can no longer take effect (Binance: ``recvWindow`` + clock margin; 0 for none known).
:meth:`IdempotentExecutor.run` executes it:

1. the journal is asked first: the same key already **done** returns the journaled deltas (a restart
   re-submitting the same ``client_id`` sends nothing); the same key used by a *different* instruction
   raises :class:`~basis_core.errors.DuplicateClientIdError`; a **pending** key is resolved (2.) first;
2. the intent is journaled (committed) **before** the request is sent, with its venue client id;
3. the request is sent; on success the answer is built into deltas and journaled as ``done``;
4. on an error, by kind (:func:`classify_ccxt_error`):

   - ``definitive`` (insufficient funds, invalid order, authentication, bad request ...): journaled as
     ``rejected``, mapped to a typed error (:func:`to_basis_error`), never retried;
   - ``ambiguous`` (ccxt ``OperationFailed``: timeout, dropped connection, 5xx, bad response,
     Binance -1007 "execution status unknown", any unexpected exception): the order is **looked up by
     client id before anything is re-sent**; found: adopted (built, journaled ``done``); not found:
     the lookup is repeated once the request can no longer land (``landing_window_s`` after the send
     started); still not found: re-sent with the same client id, within the attempt budget;
   - ``transient`` (the venue refused this very request: rate limit 429 / 418, Binance -1021
     timestamp outside recvWindow, Hyperliquid "Invalid nonce" or an action past its ``expiresAfter``):
     re-sent after the backoff delay;
   - ``duplicate`` (the venue says the client id is in use): looked up and adopted when it is this
     order, else :class:`~basis_core.errors.DuplicateClientIdError`;
   - ``not_found`` (cancel / modify of an unknown order): after an earlier ambiguous attempt, looked up
     (that attempt may have done it), else :class:`~basis_core.errors.OrderNotFoundError`.

   At most ``policy.max_attempts`` sends. When every attempt failed and the order is verified absent,
   :class:`~basis_core.errors.RetryableError` (nothing exists; safe to retry); when it cannot be
   verified, :class:`~basis_core.errors.AmbiguousOutcomeError` and the intent stays pending until a
   later call (or a restarted manager's reconciliation) resolves it.

ccxt is imported lazily inside functions, never at module import.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _quote  # a str as dumps writes it
from typing import Any, Literal

from basis_core import timeutil
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import (
    AmbiguousOutcomeError,
    AuthenticationError,
    BasisError,
    DuplicateClientIdError,
    InstructionError,
    InsufficientFundsError,
    LiveExecutionError,
    MarginError,
    OrderNotFoundError,
    RetryableError,
)
from basis_core.live.journal import ExecutionJournal, IntentState, JournalRow, dumps
from basis_core.live.retry import RetryPolicy
from basis_core.live.secrets import Redactor

log = logging.getLogger(__name__)

ErrorKind = Literal["ambiguous", "transient", "duplicate", "not_found", "auth", "definitive"]


def _codes(*codes: int) -> re.Pattern[str]:
    """Matches Binance error codes as they appear in ccxt messages (``"code":-1007``), not digits of ids."""
    alt = "|".join(str(abs(c)) for c in codes)
    return re.compile(rf"(?<![\w.])-(?:{alt})(?!\d)")


#: Outcome unknown although some ccxt tables map it to an ExchangeError (Binance -1007).
_AMBIGUOUS_CODES = _codes(1007)
_AMBIGUOUS_TEXT = ("execution status unknown", "send status unknown")
#: The venue refused this very request (not executed) for a reason that may pass.
_TRANSIENT_CODES = _codes(1021, 1003)
_TRANSIENT_TEXT = ("invalid nonce", "outside of the recvwindow", "action expired")
#: Credential / signature problems that some ccxt tables map to BadRequest or InvalidOrder.
_AUTH_CODES = _codes(1022, 2014, 2015)
_AUTH_TEXT = ("user or api wallet", "unable to recover signer", "signature for this request is not valid",
              "invalid api-key", "api-key format invalid", "must deposit before performing actions")
_DUPLICATE_CODES = _codes(4116)
_DUPLICATE_TEXT = ("duplicate cloid", "duplicate order sent", "clientorderid is duplicated")


def classify_ccxt_error(exc: BaseException) -> ErrorKind:
    """What an exception of a ccxt call means for the order it tried to send (see the module docstring).

    Unknown exception types (a parsing bug after the venue answered ...) count as ``ambiguous``: the
    order may exist, so it is looked up before anything is re-sent.
    """
    import ccxt

    raw = str(exc)
    text = raw.lower()
    if _AMBIGUOUS_CODES.search(raw) or any(t in text for t in _AMBIGUOUS_TEXT):
        return "ambiguous"
    if _TRANSIENT_CODES.search(raw) or any(t in text for t in _TRANSIENT_TEXT):
        return "transient"
    if isinstance(exc, ccxt.InvalidNonce | ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return "transient"
    if _AUTH_CODES.search(raw) or any(t in text for t in _AUTH_TEXT) or isinstance(exc, ccxt.AuthenticationError):
        return "auth"
    if (isinstance(exc, ccxt.DuplicateOrderId) or _DUPLICATE_CODES.search(raw)
            or any(t in text for t in _DUPLICATE_TEXT)):
        return "duplicate"
    if isinstance(exc, ccxt.OrderNotFound):
        return "not_found"
    if isinstance(exc, ccxt.OperationFailed):
        return "ambiguous"
    if isinstance(exc, ccxt.BaseError):
        return "definitive"
    if isinstance(exc, BasisError):
        return "definitive"
    return "ambiguous"


_FIELD_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("post only", "post-only", "postonly", "-5022", "limit_maker", "would immediately match",
      "could not be executed as maker"), "post_only"),
    (("reduce only", "reduce-only", "reduceonly", "-2022"), "reduce_only"),
    (("could not immediately match", "immediate or cancel"), "time_in_force"),
    (("leverage",), "leverage"),
    (("price_filter", "tick size", "price must", "invalid price", "-4014", "percent_price",
      "price cannot be", "price too"), "price"),
    (("lot_size", "quantity", "min_notional", "notional", "minimum value", "order size", "-4003", "-1013",
      "-4164"), "amount"),
    (("symbol",), "symbol"),
)


def guess_field(message: str, default: str = "instruction") -> str:
    """The instruction field a venue rejection is most likely about (from the venue's message)."""
    m = message.lower()
    for needles, fld in _FIELD_HINTS:
        if any(n in m for n in needles):
            return fld
    return default


def venue_message(exc: BaseException, redactor: Redactor | None = None, limit: int = 300) -> str:
    """The exception's text, secrets masked, shortened to ``limit`` characters."""
    text = f"{type(exc).__name__}: {exc}" if not str(exc).startswith(type(exc).__name__) else str(exc)
    text = re.sub(r"\s+", " ", text).strip()
    if redactor is not None:
        text = redactor.redact(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def insufficient_funds(key: str, required: Decimal, message: str, field: str = "amount") -> InsufficientFundsError:
    """An :class:`InsufficientFundsError` for a venue refusal whose available amount is unknown."""
    err = InsufficientFundsError(key, required, Decimal(0), field)
    err.available = None  # type: ignore[assignment]  # the venue did not say
    err.reason = f"insufficient {key}: the venue refused {required}: {message}"
    err.args = (f"{field}: {err.reason}",)
    return err


def to_basis_error(exc: BaseException, venue: str, *, kind: ErrorKind | None = None,
                   redactor: Redactor | None = None, funds_key: str | None = None,
                   required: Decimal | None = None, perp: bool = False) -> BasisError:
    """A typed basis-core error for a definitive venue refusal (never containing a secret).

    - credentials / signature -> :class:`AuthenticationError`;
    - insufficient balance -> :class:`InsufficientFundsError` (spot, transfers) or
      :class:`MarginError` (perp orders: the simulator raises the same);
    - unknown order -> :class:`OrderNotFoundError`; client id in use -> :class:`DuplicateClientIdError`;
    - anything else -> :class:`InstructionError` naming the field the message is about.
    """
    if isinstance(exc, BasisError):
        return exc
    import ccxt

    kind = kind or classify_ccxt_error(exc)
    msg = venue_message(exc, redactor)
    if kind == "auth":
        return AuthenticationError(f"{venue} rejected the credentials or the signature ({msg})")
    if kind == "duplicate":
        return DuplicateClientIdError("client_id", f"{venue} refused the client id: {msg}")
    if kind == "not_found":
        return OrderNotFoundError("order_id", f"{venue} does not know this order: {msg}")
    if kind in ("ambiguous", "transient"):
        return AmbiguousOutcomeError(f"{venue}: {msg}")
    if isinstance(exc, ccxt.InsufficientFunds) or "insufficient" in msg.lower():
        if perp:
            return MarginError("amount", f"insufficient margin on {funds_key or venue}: {msg}")
        return insufficient_funds(funds_key or f"{venue}:?", required or Decimal(0), msg)
    if isinstance(exc, ccxt.NotSupported):
        return InstructionError("operation", f"{venue} does not support this: {msg}")
    return InstructionError(guess_field(msg), f"{venue} rejected it: {msg}")


# ---------------------------------------------------------------------------------------------------
# deltas <-> journal
# ---------------------------------------------------------------------------------------------------
def deltas_to_json(d: ExecutionDeltas) -> dict[str, Any]:
    """JSON form of deltas for the journal (Decimals as strings; :func:`deltas_from_json` inverts it).
    Details that are not JSON values (or Decimals) are left out."""
    details: dict[str, Any] = {}
    for k, v in d.details.items():
        if v is None or type(v) in _JSON_TYPES:
            details[k] = v
        elif type(v) is Decimal:
            details[k] = str(v)
    ts = d.timestamp
    # a pandas Timestamp without nanoseconds formats as the datetime it is (datetime's C isoformat, ~3x faster)
    iso = _iso(ts) if type(ts) is timeutil._PD_TIMESTAMP and not ts.nanosecond else ts.isoformat()  # type: ignore[attr-defined]
    return {
        "venue": d.venue, "operation": d.operation, "timestamp": iso, "status": d.status,
        "client_id": d.client_id, "order_id": d.order_id,
        "fill_price": None if d.fill_price is None else str(d.fill_price),
        "fill_amount": None if d.fill_amount is None else str(d.fill_amount),
        "positions": {k: str(v) for k, v in d.positions.items()}, "fees": {k: str(v) for k, v in d.fees.items()},
        "pnl": {k: str(v) for k, v in d.pnl.items()}, "details": details,
    }


_JSON_TYPES = frozenset({str, int, float, bool, list, dict})
_iso = datetime.isoformat


#: (a timestamp, its ISO text) of the latest outcome (timestamps are immutable; the tuple is replaced whole)
_LAST_ISO: tuple[Any, Any] = (object(), None)


def outcome_text(how: str, d: ExecutionDeltas) -> str:
    """The journal text of a ``done`` outcome: exactly ``dumps({"event": how, "deltas": deltas_to_json(d)})`` (the
    canonical JSON: sorted keys, no spaces, ASCII), written directly for the usual deltas (dict maps of str keys,
    str / None ids) without the intermediate dicts and the encoder's sorting; anything else goes through ``dumps``."""
    pos = _amounts_text(d.positions)
    fees = _amounts_text(d.fees)
    pnl = _amounts_text(d.pnl)
    details = _details_text(d.details)
    global _LAST_ISO
    ts = d.timestamp
    last = _LAST_ISO
    if ts is last[0]:  # the timestamp of the previous outcome again (one instruction timestamp, several orders)
        iso = last[1]
    else:
        iso = _iso(ts) if type(ts) is timeutil._PD_TIMESTAMP and not ts.nanosecond else ts.isoformat()  # type: ignore[attr-defined]
        _LAST_ISO = (ts, iso)
    cid, oid, price, amount = d.client_id, d.order_id, d.fill_price, d.fill_amount
    if (pos is None or fees is None or pnl is None or details is None or type(iso) is not str or type(how) is not str
            or type(d.venue) is not str or type(d.operation) is not str or type(d.status) is not str
            or (cid is not None and type(cid) is not str) or (oid is not None and type(oid) is not str)):
        return dumps({"event": how, "deltas": deltas_to_json(d)})
    return (f'{{"deltas":{{"client_id":{"null" if cid is None else _quote(cid)},"details":{details},"fees":{fees},'
            f'"fill_amount":{"null" if amount is None else _quote(str(amount))},'
            f'"fill_price":{"null" if price is None else _quote(str(price))},"operation":{_quote(d.operation)},'
            f'"order_id":{"null" if oid is None else _quote(oid)},"pnl":{pnl},"positions":{pos},'
            f'"status":{_quote(d.status)},"timestamp":{_quote(iso)},"venue":{_quote(d.venue)}}},"event":{_quote(how)}}}')


def _amounts_text(m: Mapping[str, Any]) -> str | None:
    """``{key: str(value)}`` of a dict of str keys as :func:`dumps` writes it; None for anything else."""
    if type(m) is not dict:
        return None
    if not m:
        return "{}"
    parts = []
    for k in sorted(m) if len(m) > 1 else m:
        if type(k) is not str:
            return None
        parts.append(f"{_quote(k)}:{_quote(str(m[k]))}")
    return "{" + ",".join(parts) + "}"


def _details_text(details: Mapping[str, Any]) -> str | None:
    """The details :func:`deltas_to_json` keeps (JSON values; Decimals as strings) as :func:`dumps` writes them;
    None for anything but a dict of str keys."""
    if type(details) is not dict:
        return None
    try:
        keys = sorted(details)
    except TypeError:
        return None
    parts = []
    for k in keys:
        if type(k) is not str:
            return None
        v = details[k]
        t = type(v)
        if t is str:
            text = _quote(v)
        elif v is None:
            text = "null"
        elif t is bool:
            text = "true" if v else "false"
        elif t is Decimal:
            text = _quote(str(v))
        elif t is int:
            text = int.__repr__(v)  # (the encoder's form of an int)
        elif t is float or t is list or t is dict:
            text = dumps(v)
        else:  # not a JSON value: left out
            continue
        parts.append(f"{_quote(k)}:{text}")
    return "{" + ",".join(parts) + "}"


def deltas_from_json(obj: Mapping[str, Any]) -> ExecutionDeltas:
    """Deltas back from :func:`deltas_to_json` (amounts exact: they were stored as strings)."""
    from basis_core.timeutil import to_utc

    def dec(m: Mapping[str, Any]) -> dict[str, Decimal]:
        return {k: Decimal(str(v)) for k, v in m.items()}

    def opt(v: Any) -> Decimal | None:
        return None if v is None else Decimal(str(v))

    return ExecutionDeltas(
        venue=obj["venue"], operation=obj["operation"], timestamp=to_utc(obj["timestamp"]),
        positions=dec(obj.get("positions", {})), fees=dec(obj.get("fees", {})), status=obj.get("status", "filled"),
        client_id=obj.get("client_id"), order_id=obj.get("order_id"), fill_price=opt(obj.get("fill_price")),
        fill_amount=opt(obj.get("fill_amount")), pnl=dec(obj.get("pnl", {})),
        details={**obj.get("details", {}), "from_journal": True},
    )


def settled(prior: IntentState, venue: str, intent_id: str, fp: str) -> ExecutionDeltas | None:
    """The journaled deltas of a ``done`` intent of the same instruction; DuplicateClientIdError when the key
    was used by another instruction; None otherwise."""
    if prior.intent.fingerprint != fp:
        raise DuplicateClientIdError(
            "client_id", f"client id {intent_id!r} was already used on {venue} for a different "
                         f"{prior.intent.operation} instruction (journal seq {prior.intent.seq})")
    if prior.status == "done":
        assert prior.outcome is not None
        log.info("%s %s already done (journal seq %d): returning the journaled result", venue, intent_id,
                 prior.outcome.seq)
        return deltas_from_json(prior.outcome.payload["deltas"])
    return None


def read_retried(policy: RetryPolicy, fn: Callable[[], Any], classify: Callable[[BaseException], ErrorKind],
                 what: str, failed: Callable[[BaseException, ErrorKind], BasisError]) -> Any:
    """``fn()`` (a venue read: safe to repeat) under ``policy``, repeated on ambiguous / transient errors; a
    BasisError passes as is, any other final error is raised as ``failed(error, its kind)``."""
    def retryable(e: BaseException) -> bool:
        return classify(e) in ("ambiguous", "transient")

    try:
        return policy.call(fn, retryable=retryable, what=what)
    except BasisError:
        raise
    except Exception as e:
        raise failed(e, classify(e)) from None


def new_client_id(prefix: str = "basis-") -> str:
    """A fresh random client id (journaled before it is sent)."""
    return prefix + uuid.uuid4().hex


# ---------------------------------------------------------------------------------------------------
# the flow
# ---------------------------------------------------------------------------------------------------
class AdoptionMismatch(Exception):
    """The order found under the client id is not the one this call describes."""


@dataclass(slots=True)
class LiveCall:
    """One live operation of a venue (see the module docstring).

    :param send: one request; returns the venue's answer (raises on failure).
    :param lookup: the order by its venue client id (None when the venue does not know it), or None
        when the operation cannot be looked up (then an ambiguous failure is never re-sent).
    :param build: ``build(answer, adopted)`` -> deltas; ``adopted`` is True for an order found by lookup.
    :param matches: whether an order found by lookup is this call's order (else DuplicateClientIdError).
    :param landing_window_s: seconds after a send starts during which it may still take effect.
    :param signed_at: wall time (epoch s) the last request was signed at, if the client reports it (the
        landing window then starts there; else when ``send`` was called).
    :param map_error: maps a definitive error to a typed basis-core error.
    :param on_rejected: optional ``on_rejected(exc, kind)`` returning deltas for a refusal that is a
        normal outcome (e.g. an IOC order that could not match is "cancelled", not an error).
    """

    venue: str
    operation: str
    intent_id: str
    venue_client_id: str
    request: Mapping[str, Any] | str
    fingerprint: str
    send: Callable[[], Any]
    lookup: Callable[[], Any] | None
    build: Callable[[Any, bool], ExecutionDeltas]
    map_error: Callable[[BaseException, ErrorKind], BasisError]
    matches: Callable[[Any], bool] = field(default=lambda found: True)
    landing_window_s: float = 0.0
    is_rejected: Callable[[Any], str | None] = field(default=lambda found: None)
    on_rejected: Callable[[BaseException, ErrorKind], ExecutionDeltas | None] | None = None
    classify: Callable[[BaseException], ErrorKind] = classify_ccxt_error
    signed_at: Callable[[], float | None] | None = None


class IdempotentExecutor:
    """Runs :class:`LiveCall` s against a journal with a retry policy.

    ``wall`` (epoch seconds) and ``waiter`` (sleep) measure and wait out landing windows; they are real
    time by default (tests of the window logic inject fakes). The policy's own sleeper is only used
    for the backoff delays.
    """

    def __init__(self, journal: ExecutionJournal, policy: RetryPolicy, *, redactor: Redactor | None = None,
                 wall: Callable[[], float] = time.time, waiter: Callable[[float], None] = time.sleep) -> None:
        self.journal = journal
        self.policy = policy
        self.redactor = redactor or journal.redactor
        self.wall = wall
        self.waiter = waiter

    # -- public ------------------------------------------------------------------------------------
    def run(self, call: LiveCall) -> ExecutionDeltas:
        """Execute ``call`` exactly once at the venue (see the module docstring). The journal lookup and the
        intent are one atomic claim (:meth:`ExecutionJournal.claim`): of several threads or processes with
        the same client id one sends, the others wait for its outcome."""
        claim = self.journal.claim(call.venue, call.intent_id, call.venue_client_id, call.operation, call.request,
                                   call.fingerprint)
        try:
            intent = claim.intent
            if intent is None:
                prior = claim.prior
                assert prior is not None
                done = settled(prior, call.venue, call.intent_id, call.fingerprint)
                if done is not None:
                    return done
                done = self.resolve(prior, call)  # a pending intent handed to this claim (its writer is gone)
                if done is not None:
                    return done
                intent = self._intent(call)
            return self._send_loop(call, intent)
        finally:
            claim.release()

    def resolve(self, state: IntentState, call: LiveCall) -> ExecutionDeltas | None:
        """Settle a pending intent by client id: deltas if the venue holds the order (adopted, journaled
        ``done``), None if it verifiably does not (journaled ``absent``). Raises AmbiguousOutcomeError when
        it cannot tell (the intent stays pending)."""
        intent = state.intent
        if call.lookup is None:
            raise AmbiguousOutcomeError(
                f"{call.venue}: an earlier {intent.operation} ({call.intent_id}) has an unknown outcome and cannot be "
                "looked up by client id; check the venue and resolve it by hand")
        last = max(intent.written_ns, state.outcome.written_ns if state.outcome else 0) / 1e9
        found = self._confirm(call, intent, last)
        if found is None:
            self.journal.record_outcome(intent, "absent", {"event": "reconciled", "found": False})
            log.info("%s %s: pending intent not at the venue: recorded absent", call.venue, call.intent_id)
            return None
        return self._adopt(call, intent, found, "reconciled")

    # -- internals ---------------------------------------------------------------------------------
    def _intent(self, call: LiveCall) -> JournalRow:
        return self.journal.record_intent(call.venue, call.intent_id, call.venue_client_id, call.operation,
                                          call.request, call.fingerprint)

    def _done(self, call: LiveCall, intent: JournalRow, deltas: ExecutionDeltas, how: str) -> ExecutionDeltas:
        # deferred: committed with the next intent (a lost "done" is re-derived by reconciliation)
        self.journal.record_outcome(intent, "done", outcome_text(how, deltas), defer=True)
        return deltas

    def _reject(self, call: LiveCall, intent: JournalRow, exc: BaseException, kind: ErrorKind) -> BasisError:
        err = call.map_error(exc, kind)
        self.journal.record_outcome(intent, "rejected", {"event": "rejected", "kind": kind,
                                                         "error": venue_message(err, self.redactor)})
        return err

    def _adopt(self, call: LiveCall, intent: JournalRow, found: Any, how: str) -> ExecutionDeltas:
        if not call.matches(found):
            err = DuplicateClientIdError(
                "client_id", f"{call.venue} already holds a different order under client id {call.venue_client_id!r}")
            self.journal.record_outcome(intent, "rejected", {"event": how, "kind": "duplicate",
                                                             "error": str(err)})
            raise err
        why = call.is_rejected(found)
        if why is not None:
            err2 = InstructionError(guess_field(why), f"{call.venue} rejected the order: {why}")
            self.journal.record_outcome(intent, "rejected", {"event": how, "kind": "definitive", "error": str(err2)})
            raise err2
        log.info("%s %s: adopted the order found by client id (%s)", call.venue, call.venue_client_id, how)
        return self._done(call, intent, call.build(found, True), how)

    def _lookup(self, call: LiveCall) -> Any:
        """The order by client id, lookups retried on ambiguous / transient errors; AmbiguousOutcomeError if
        the venue cannot be asked."""
        assert call.lookup is not None

        def failed(e: BaseException, kind: ErrorKind) -> BasisError:
            if kind == "auth":
                return to_basis_error(e, call.venue, kind="auth", redactor=self.redactor)
            return AmbiguousOutcomeError(
                f"{call.venue}: the outcome of {call.operation} {call.venue_client_id} is unknown and the venue could "
                f"not be asked ({venue_message(e, self.redactor)}); it stays pending in the journal")

        return read_retried(self.policy, call.lookup, call.classify, f"{call.venue} lookup", failed)

    def _lookup_in(self, call: LiveCall, intent: JournalRow) -> Any:
        """:meth:`_lookup`; a lookup that proves the effect impossible (an InstructionError, e.g. cancelling
        an order that has filled) is journaled as ``rejected`` and raised."""
        try:
            return self._lookup(call)
        except InstructionError as e:
            self.journal.record_outcome(intent, "rejected", {"event": "lookup", "kind": "definitive",
                                                             "error": venue_message(e, self.redactor)})
            raise

    def _confirm(self, call: LiveCall, intent: JournalRow, sent_at: float) -> Any:
        """Look the order up; if absent and the request might still land, wait until it cannot and look again."""
        found = self._lookup_in(call, intent)
        if found is not None:
            return found
        deadline = sent_at + call.landing_window_s
        left = deadline - self.wall()
        if left > 0:
            log.info("%s %s not found yet; waiting %.3f s until the request can no longer land", call.venue,
                     call.venue_client_id, left)
            self.waiter(left)
            found = self._lookup_in(call, intent)
        return found

    def _send_loop(self, call: LiveCall, intent: JournalRow) -> ExecutionDeltas:
        policy = self.policy
        sends = 0
        while True:
            sends += 1
            sent_at = self.wall()
            try:
                answer = call.send()
            except Exception as exc:
                kind = call.classify(exc)
                msg = venue_message(exc, self.redactor)
                if kind in ("definitive", "auth"):
                    if call.on_rejected is not None:
                        handled = call.on_rejected(exc, kind)
                        if handled is not None:
                            return self._done(call, intent, handled, "rejected_as_outcome")
                    raise self._reject(call, intent, exc, kind) from None
                if kind in ("duplicate", "not_found"):
                    # "not found" on a first attempt is the answer; after an ambiguous attempt, an earlier
                    # request may have done it (a cancel): look
                    look = call.lookup is not None and (kind == "duplicate" or sends > 1)
                    found = self._lookup_in(call, intent) if look else None
                    if found is not None:
                        return self._adopt(call, intent, found, kind)
                    raise self._reject(call, intent, exc, kind) from None
                if kind == "transient":
                    self.journal.record_outcome(intent, "unknown", {"event": "transient", "attempt": sends,
                                                                    "error": msg})
                    if sends >= policy.max_attempts:
                        self.journal.record_outcome(intent, "absent", {"event": "gave_up", "attempts": sends})
                        raise RetryableError(
                            f"{call.venue} refused {call.operation} {sends} times ({msg}); nothing was placed, "
                            "safe to retry later") from None
                    policy.sleep_before(sends)
                    continue
                # ambiguous: look the order up before anything is re-sent
                signed = call.signed_at() if call.signed_at is not None else None
                if signed is not None and signed > sent_at:
                    sent_at = signed  # the request's own timestamp: the window starts there
                self.journal.record_outcome(intent, "unknown", {"event": "ambiguous", "attempt": sends, "error": msg})
                log.warning("%s %s %s: ambiguous failure (%s); looking it up by client id", call.venue,
                            call.operation, call.venue_client_id, type(exc).__name__)
                if call.lookup is None:
                    raise AmbiguousOutcomeError(
                        f"{call.venue}: {call.operation} may or may not have happened ({msg}); it cannot be looked "
                        "up by client id, so it is not re-sent; it stays pending in the journal") from None
                policy.sleep_before(sends)
                found = self._confirm(call, intent, sent_at)
                if found is not None:
                    return self._adopt(call, intent, found, "ambiguous")
                if sends >= policy.max_attempts:
                    self.journal.record_outcome(intent, "absent", {"event": "gave_up", "attempts": sends})
                    raise RetryableError(
                        f"{call.venue}: {call.operation} failed {sends} times ({msg}); verified by client id that "
                        "nothing was placed, safe to retry") from None
                self.journal.record_outcome(intent, "unknown", {"event": "resend", "attempt": sends + 1})
                continue
            try:
                deltas = call.build(answer, False)
            except BasisError:
                raise
            except Exception as exc:  # the order exists; its answer did not parse: stays pending
                raise LiveExecutionError(
                    f"{call.venue}: {call.operation} {call.venue_client_id} was accepted but its answer could not be "
                    f"read ({type(exc).__name__}); it stays pending in the journal and is reconciled by client id"
                ) from exc
            return self._done(call, intent, deltas, "sent")
