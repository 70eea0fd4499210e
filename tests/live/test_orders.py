"""The idempotent order flow against a scripted in-memory venue (exact counts of orders and sends).

The venue keeps a book ``client id -> order``; each send follows a script step (accept, accept then drop
the answer, time out and land later, 5xx, 429, reject ...). The invariant checked everywhere: after
``run`` returns or raises, the book holds exactly one order for the client id (none for a rejection),
and the journal tells the same story.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import ccxt
import pandas as pd
import pytest

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import (
    AmbiguousOutcomeError,
    AuthenticationError,
    BasisError,
    DuplicateClientIdError,
    InstructionError,
    InsufficientFundsError,
    MarginError,
    RetryableError,
)
from basis_core.instructions import parse_instruction
from basis_core.live.cex import instruction_json, intent_payload
from basis_core.live.journal import ExecutionJournal, dumps, fingerprint
from basis_core.live.orders import (
    ErrorKind,
    IdempotentExecutor,
    LiveCall,
    classify_ccxt_error,
    deltas_from_json,
    deltas_to_json,
    guess_field,
    outcome_text,
    to_basis_error,
)
from basis_core.live.retry import RetryPolicy

TS = pd.Timestamp("2025-03-01T00:00:00Z")


class Crash(BaseException):
    """The process dies (not an Exception: nothing may catch it)."""


class FakeVenue:
    def __init__(self, script: list[str], lookup_script: list[str] | None = None) -> None:
        self.script = list(script)
        self.lookup_script = list(lookup_script or [])
        self.book: dict[str, dict[str, Any]] = {}
        self.sends = 0
        self.lookups = 0
        self.in_flight: list[dict[str, Any]] = []

    def _place(self, cid: str) -> dict[str, Any]:
        if cid in self.book:
            raise ccxt.DuplicateOrderId("binance {\"code\":-4116,\"msg\":\"ClientOrderId is duplicated.\"}")
        order = {"id": str(1000 + len(self.book)), "clientOrderId": cid, "amount": "0.5", "status": "closed"}
        self.book[cid] = order
        return order

    def land(self) -> None:
        """Delayed requests arrive now."""
        for o in self.in_flight:
            self.book.setdefault(o["clientOrderId"], o)
        self.in_flight.clear()

    def send(self, cid: str) -> dict[str, Any]:
        self.sends += 1
        step = self.script.pop(0) if self.script else "ok"
        if step == "ok":
            return self._place(cid)
        if step == "drop":  # accepted, answer lost
            self._place(cid)
            raise ccxt.NetworkError("connection reset by peer")
        if step == "late":  # times out; the request lands later
            self.in_flight.append({"id": "late-1", "clientOrderId": cid, "amount": "0.5", "status": "closed"})
            raise ccxt.RequestTimeout("read timed out")
        if step == "5xx":
            raise ccxt.ExchangeNotAvailable("503 Service Unavailable")
        if step == "-1007":
            self._place(cid)
            raise ccxt.ExchangeError('binance {"code":-1007,"msg":"Timeout waiting for response from backend server. '
                                     'Send status unknown; execution status unknown."}')
        if step == "429":
            raise ccxt.RateLimitExceeded("429 Too Many Requests")
        if step == "reject":
            raise ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}')
        if step == "funds":
            raise ccxt.InsufficientFunds('binance {"code":-2010,"msg":"Account has insufficient balance."}')
        if step == "auth":
            raise ccxt.BadRequest('binance {"code":-1022,"msg":"Signature for this request is not valid."}')
        if step == "crash":
            self._place(cid)
            raise Crash()
        raise AssertionError(step)

    def lookup(self, cid: str) -> dict[str, Any] | None:
        self.lookups += 1
        step = self.lookup_script.pop(0) if self.lookup_script else "ok"
        if step == "fail":
            raise ccxt.RequestTimeout("lookup timed out")
        if step == "land":
            self.land()
        return self.book.get(cid)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.waits: list[float] = []

    def wall(self) -> float:
        return self.now

    def wait(self, s: float) -> None:
        self.waits.append(round(s, 6))
        self.now += s


def make_call(v: FakeVenue, cid: str = "cid-1", window: float = 0.0, amount: str = "0.5") -> LiveCall:
    instr = {"venue": "fake", "operation": "spot_trade", "client_id": cid, "amount": amount}

    def build(order: dict[str, Any], adopted: bool) -> ExecutionDeltas:
        return ExecutionDeltas("fake", "spot_trade", TS, {"fake:spot:ETH": Decimal(order["amount"])}, {}, "filled",
                               cid, order["id"], details={"adopted": adopted})

    def map_error(exc: BaseException, kind: ErrorKind) -> BasisError:
        return to_basis_error(exc, "fake", kind=kind, funds_key="fake:spot:USDT", required=Decimal(amount))

    return LiveCall("fake", "spot_trade", cid, cid, {"instruction": instr}, fingerprint(instr),
                    send=lambda: v.send(cid), lookup=lambda: v.lookup(cid), build=build, map_error=map_error,
                    matches=lambda o: o["amount"] == amount, landing_window_s=window)


@pytest.fixture
def journal(tmp_path: Path) -> ExecutionJournal:
    return ExecutionJournal(tmp_path / "journal.sqlite")


def executor(journal: ExecutionJournal, clock: Clock | None = None, attempts: int = 3,
             slept: list[float] | None = None) -> IdempotentExecutor:
    clock = clock or Clock()
    sleeper = slept.append if slept is not None else (lambda s: None)
    return IdempotentExecutor(journal, RetryPolicy(max_attempts=attempts, sleeper=sleeper), wall=clock.wall,
                              waiter=clock.wait)


def outcomes(journal: ExecutionJournal) -> list[str]:
    return [f"{r.status}:{r.payload.get('event', '')}" for r in journal.rows() if r.kind == "outcome"]


def test_success_journals_intent_before_done(journal: ExecutionJournal) -> None:
    v = FakeVenue(["ok"])
    d = executor(journal).run(make_call(v))
    assert d.order_id == "1000" and v.sends == 1 and v.lookups == 0 and list(v.book) == ["cid-1"]
    rows = journal.rows()
    assert [(r.kind, r.status) for r in rows] == [("intent", "sending"), ("outcome", "done")]
    assert rows[0].venue_client_id == "cid-1" and deltas_from_json(rows[1].payload["deltas"]).order_id == "1000"


@pytest.mark.parametrize("fault", ["drop", "-1007"])
def test_accepted_then_lost_answer_is_adopted_not_resent(journal: ExecutionJournal, fault: str) -> None:
    v = FakeVenue([fault])
    d = executor(journal).run(make_call(v, window=5.0))
    assert v.sends == 1 and v.lookups == 1 and len(v.book) == 1 and d.details["adopted"] is True
    assert outcomes(journal) == ["unknown:ambiguous", "done:ambiguous"]


def test_late_landing_request_is_waited_for_then_adopted(journal: ExecutionJournal) -> None:
    clock = Clock()
    v = FakeVenue(["late"], lookup_script=["ok", "land"])
    d = executor(journal, clock).run(make_call(v, window=2.0))
    # first lookup: not there yet; wait until the request can no longer land; second lookup finds it
    assert clock.waits == [2.0] and v.sends == 1 and v.lookups == 2 and d.order_id == "late-1"
    assert len(v.book) == 1


def test_window_counts_from_the_signed_timestamp(journal: ExecutionJournal) -> None:
    """A client that signs later than ``send`` was called (a rate limiter sleeping first) moves the window."""
    clock = Clock()
    v = FakeVenue(["late"], lookup_script=["ok", "land"])
    call = make_call(v, window=2.0)
    signed = clock.now + 0.5
    call.signed_at = lambda: signed
    executor(journal, clock).run(call)
    assert clock.waits == [2.5] and len(v.book) == 1


def test_without_the_window_wait_a_late_request_would_duplicate(journal: ExecutionJournal) -> None:
    """Control for the test above: window 0 re-sends at once; the late request then hits a used id."""
    v = FakeVenue(["late", "ok"])
    executor(journal).run(make_call(v, window=0.0))
    assert v.sends == 2 and v.book["cid-1"]["id"] == "1000"
    v.land()  # the first request arrives after the re-send: the venue's book keeps one per id here,
    assert len(v.book) == 1  # but a venue that frees ids of filled orders (Binance) would now hold two


def test_verified_absent_is_resent_with_the_same_client_id(journal: ExecutionJournal) -> None:
    clock = Clock()
    slept: list[float] = []
    v = FakeVenue(["5xx", "ok"])
    d = executor(journal, clock, slept=slept).run(make_call(v, window=1.5))
    assert v.sends == 2 and v.lookups == 2 and clock.waits == [1.5] and slept == [0.1]
    assert d.details["adopted"] is False and list(v.book) == ["cid-1"]
    assert outcomes(journal) == ["unknown:ambiguous", "unknown:resend", "done:sent"]


def test_gives_up_after_max_attempts_when_verified_absent(journal: ExecutionJournal) -> None:
    v = FakeVenue(["5xx", "5xx", "5xx", "ok"])
    with pytest.raises(RetryableError, match="nothing was placed"):
        executor(journal).run(make_call(v))
    assert v.sends == 3 and v.book == {} and journal.pending() == []
    assert outcomes(journal)[-1] == "absent:gave_up"


def test_unconfirmable_outcome_stays_pending(journal: ExecutionJournal) -> None:
    v = FakeVenue(["drop"], lookup_script=["fail", "fail", "fail"])
    with pytest.raises(AmbiguousOutcomeError, match="stays pending"):
        executor(journal).run(make_call(v))
    assert v.sends == 1 and v.lookups == 3 and len(v.book) == 1
    (p,) = journal.pending()
    assert p.intent.intent_id == "cid-1"
    # the next run of the same instruction resolves it by client id instead of sending
    d = executor(journal).run(make_call(v))
    assert v.sends == 1 and d.details["adopted"] is True and journal.pending() == []


def test_transient_refusals_are_resent_after_backoff(journal: ExecutionJournal) -> None:
    slept: list[float] = []
    v = FakeVenue(["429", "429", "ok"])
    executor(journal, slept=slept).run(make_call(v))
    assert v.sends == 3 and v.lookups == 0 and slept == [0.1, 0.2] and len(v.book) == 1
    v2 = FakeVenue(["429"] * 5)
    with pytest.raises(RetryableError):
        executor(journal).run(make_call(v2, cid="cid-2"))
    assert v2.sends == 3 and v2.book == {}


@pytest.mark.parametrize(("step", "err", "field"), [
    ("reject", InstructionError, "amount"),
    ("funds", InsufficientFundsError, "amount"),
    ("auth", AuthenticationError, None),
])
def test_definitive_rejections_are_never_retried(journal: ExecutionJournal, step: str, err: type,
                                                 field: str | None) -> None:
    v = FakeVenue([step, "ok"])
    with pytest.raises(err) as ei:
        executor(journal).run(make_call(v))
    assert v.sends == 1 and v.lookups == 0 and v.book == {}
    assert getattr(ei.value, "field", None) == field
    assert outcomes(journal) == ["rejected:rejected"] and journal.pending() == []


def test_duplicate_id_adopts_own_order_refuses_foreign(journal: ExecutionJournal) -> None:
    v = FakeVenue([])
    v.book["cid-1"] = {"id": "7", "clientOrderId": "cid-1", "amount": "0.5", "status": "open"}
    d = executor(journal).run(make_call(v))
    assert d.order_id == "7" and v.sends == 1 and len(v.book) == 1
    v.book["cid-9"] = {"id": "8", "clientOrderId": "cid-9", "amount": "3", "status": "open"}
    with pytest.raises(DuplicateClientIdError):
        executor(journal).run(make_call(v, cid="cid-9"))


def test_same_client_id_is_idempotent_and_guarded(journal: ExecutionJournal) -> None:
    v = FakeVenue(["ok"])
    first = executor(journal).run(make_call(v))
    again = executor(journal).run(make_call(v))
    assert v.sends == 1 and again.order_id == first.order_id and again.positions == first.positions
    assert again.details["from_journal"] is True
    with pytest.raises(DuplicateClientIdError, match="different"):
        executor(journal).run(make_call(v, amount="0.7"))
    assert v.sends == 1


def test_crash_after_send_then_restart_reconciles(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    v = FakeVenue(["crash"])
    with pytest.raises(Crash):
        executor(ExecutionJournal(path)).run(make_call(v))
    assert len(v.book) == 1
    j2 = ExecutionJournal(path)  # a new process
    (st,) = j2.pending()
    d = executor(j2).resolve(st, make_call(v))
    assert d is not None and d.details["adopted"] is True and v.sends == 1 and j2.pending() == []
    assert executor(j2).run(make_call(v)).order_id == d.order_id and v.sends == 1


def test_restart_with_nothing_at_the_venue_waits_out_the_window(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = ExecutionJournal(path)
    instr_call = make_call(FakeVenue([]))
    j.record_intent("fake", "cid-1", "cid-1", "spot_trade", instr_call.request, instr_call.fingerprint)
    clock = Clock()
    import time as _t
    clock.now = _t.time()
    v = FakeVenue([])
    st = j.pending()[0]
    assert executor(j, clock).resolve(st, make_call(v, window=3.0)) is None
    assert len(clock.waits) == 1 and 2.5 < clock.waits[0] <= 3.0 and v.lookups == 2
    assert outcomes(j) == ["absent:reconciled"] and j.pending() == []


def test_error_mapping_and_field_guesses() -> None:
    e = to_basis_error(ccxt.InsufficientFunds("Margin is insufficient."), "binance", perp=True,
                       funds_key="binance:futures:USDT")
    assert isinstance(e, MarginError) and e.field == "amount"
    e2 = to_basis_error(ccxt.InsufficientFunds("Insufficient spot balance"), "hl", funds_key="hl:spot:USDC",
                        required=Decimal(5))
    assert isinstance(e2, InsufficientFundsError) and e2.key == "hl:spot:USDC" and "refused 5" in str(e2)
    assert guess_field("Post only order would have immediately matched") == "post_only"
    assert guess_field('{"code":-2022,"msg":"ReduceOnly Order is rejected."}') == "reduce_only"
    assert guess_field("Filter failure: PRICE_FILTER") == "price"
    assert guess_field("something else") == "instruction"
    assert classify_ccxt_error(ccxt.InvalidOrder("User or API Wallet 0xabc does not exist.")) == "auth"
    assert isinstance(to_basis_error(ccxt.InvalidOrder("Unable to recover signer."), "hl"), AuthenticationError)


def test_deltas_json_round_trip_is_exact() -> None:
    d = ExecutionDeltas("v", "perp_trade", TS, {"v:perp:ETH/USDT:USDT": Decimal("-0.123456789012345678901")},
                        {"v:futures:USDT": Decimal("-0.0000001")}, "filled", "c", "1", Decimal("3000.01"),
                        Decimal("0.123456789012345678901"), {"trading_fees": Decimal("-0.0000001")},
                        {"liquidity": "taker", "ref": Decimal("3000")})
    back = deltas_from_json(deltas_to_json(d))
    assert back.positions == d.positions and back.fees == d.fees and back.pnl == d.pnl
    assert (back.fill_price, back.fill_amount, back.timestamp) == (d.fill_price, d.fill_amount, d.timestamp)


def _outcome_cases() -> list[ExecutionDeltas]:
    """Deltas of every shape a done outcome may carry: the usual ones (written directly) and odd ones (through the
    encoder)."""
    spot = ExecutionDeltas("binance", "spot_trade", TS, {"binance:spot:ETH": Decimal("0.00999000"),
                                                         "binance:spot:USDT": Decimal("-30.0000000000000000")},
                           {"binance:spot:ETH": Decimal("-0.00001000")}, "filled", "fw-4", "1000000000",
                           Decimal("3000.00000000"), Decimal("0.01000000"), {"trading_fees": Decimal("-0.03")},
                           {"symbol": "ETH/USDT", "side": "buy", "venue_status": "FILLED", "venue_client_id": "fw-4",
                            "live": True, "adopted": False, "fills": 1, "fee_asset": "ETH"})
    odd_details = {"price": Decimal("2000.0"), "none": None, "f": 1.5, "nan": float("nan"), "inf": float("-inf"),
                   "nested": {"b": [1, Decimal("2.5"), {"z": None, "a": "x"}], "a": "\u00e9\n\"q\""},
                   "list": [True, "s"], "object": object(), "big": 10**30, "zero": Decimal("0E-8"),
                   "\u00fcnicode key \"quoted\"": "v\u2603\t", "": "empty key", "adopted": False}
    return [
        spot,
        ExecutionDeltas("v", "cancel_order", TS, {}, {}, "cancelled", None, None),
        ExecutionDeltas("v", "perp_trade", pd.Timestamp("2025-03-01T00:00:00.000000001Z"),
                        {"v:perp:ETH/USDT:USDT": Decimal("-1E+2"), "v:futures:USDT": Decimal("0")},
                        {"v:futures:USDT": Decimal("-0.0000001")}, "partially_filled", "c\u00e9", "7",
                        Decimal("3000.01"), Decimal("1E-30"), {"trading_fees": Decimal("-1e-7"), "funding": Decimal(1)},
                        odd_details),
        ExecutionDeltas("v", "spot_trade", datetime(2025, 3, 1, 12, 30, tzinfo=UTC), {"b": Decimal(1), "a": Decimal(2)},
                        details={"k": "v"}),
        # not the usual types: written by the encoder
        ExecutionDeltas("v", "spot_trade", TS, MappingProxyType({"v:spot:ETH": Decimal(1)})),
        ExecutionDeltas("v", "spot_trade", TS, {"v:spot:ETH": Decimal(1)}, client_id=7, order_id=8),  # type: ignore[arg-type]
        ExecutionDeltas("v", "spot_trade", TS, {"v:spot:ETH": Decimal(1)}, details={1: "int key", "a": "b"}),
        ExecutionDeltas("v", "spot_trade", TS, {"v:spot:ETH": Decimal(1)}, details={None: "none key"}),
        ExecutionDeltas("v", "spot_trade", TS, {"v:spot:ETH": Decimal(1)}, details=MappingProxyType({"a": 1})),
    ]


@pytest.mark.parametrize("i", range(9))
def test_outcome_text_is_the_canonical_json_of_the_deltas(i: int) -> None:
    """The done outcome written directly is byte for byte what dumps writes for deltas_to_json (sorted keys, ASCII
    escapes, details that are no JSON value left out), so journals read and compare as before."""
    d = _outcome_cases()[i]
    for how in ("sent", "ambiguous", "r\u00e9"):
        try:
            expected = dumps({"event": how, "deltas": deltas_to_json(d)})
        except TypeError:  # keys the encoder cannot sort: the same error either way
            with pytest.raises(TypeError):
                outcome_text(how, d)
            continue
        assert outcome_text(how, d) == expected


@pytest.mark.parametrize("raw", [
    {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy", "amount": "0.0100",
     "client_id": "fw-1"},
    {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "sell", "amount": "1",
     "order_type": "limit", "price": "3000.50", "post_only": True},
    {"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT", "side": "sell", "amount": "0.5",
     "reduce_only": True, "leverage": "3", "order_type": "limit", "price": "2999", "time_in_force": "IOC"},
    {"venue": "auto", "operation": "swap", "token_in": "WETH", "token_out": "USDC", "amount_in": "1.5",
     "deadline": "2025-06-01T00:00:00Z", "allow_cex": ["binance"], "max_slippage_bps": "30"},
    {"venue": "binance", "operation": "modify_order", "order_id": "x1", "price": "10", "client_id": "m.1"},
    {"venue": "binance", "operation": "cancel_order", "order_id": "x1"},
    {"venue": "binance", "operation": "transfer", "asset": "USDT", "amount": "10", "from_account": "spot",
     "to_account": "futures", "client_id": "t1"},
])
def test_intent_json_and_fingerprint_are_the_model_dump(raw: dict[str, Any]) -> None:
    """The journaled instruction text and its fingerprint are pydantic's model_dump_json (None left out) and the
    sha256 of it: journals written before compare equal (a restart re-submitting the same order sends nothing)."""
    ins = parse_instruction(raw)
    text = ins.model_dump_json(exclude_none=True)
    assert instruction_json(ins) == (text, hashlib.sha256(text.encode()).hexdigest())
    assert intent_payload(text, venue_client_id="v\u00e9", resolved={"amount": "1", "price": "2"}) == (
        '{"instruction":' + text + ',' + json.dumps("venue_client_id") + ':' + dumps("v\u00e9") + ','
        + json.dumps("resolved") + ':' + dumps({"amount": "1", "price": "2"}) + '}')
    assert json.loads(intent_payload(text))["instruction"] == json.loads(text)
