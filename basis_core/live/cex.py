"""``CexLiveBackend``: the live backend shared by ccxt CEX plugins (Binance, Hyperliquid).

It implements the backend methods :class:`~basis_core.backtest.cex.venue.CexVenue` dispatches to
(``spot_trade``, ``perp_trade``, ``transfer``, ``cancel_order``, ``modify_order``, ``get_balances``,
``estimate_notional``) with the same validation (:mod:`basis_core.backtest.cex.validation`) and the same
delta builders (:mod:`basis_core.backtest.cex.fills`) as the simulator, so a live fill produces the same
keys and the same arithmetic as a simulated one, with the venue's own prices, amounts and fees.

Every state-changing call goes through :class:`~basis_core.live.orders.IdempotentExecutor` (journal
intent before the request, lookup by client id after an ambiguous failure, retry policy). A plugin
subclasses this class and implements the venue adapter methods (``make_client``, ``send_order``,
``fetch_order``, ``order_view`` ...; see "venue adapter" below); it never parses instructions or builds
deltas itself.

Restart: the backend is created at the first live call of a manager; before it serves anything it
reconciles every pending intent of its venue in the journal by client id (:meth:`reconcile`), so a
crash between send and answer never leads to a second order; adopted orders are reported to the
manager's history.

Resting orders: an order still open when its instruction returns is remembered (``open_orders``);
``manager.advance_to`` asks the venue for its fills and reports the new ones (:meth:`accrue`,
:mod:`basis_core.live.resting`), as the backtest reports resting fills from ``accrue``. At a process's
first accrual the venue's open orders that an earlier process placed (found in the journal) are taken
over, so fills made while no process watched are reported too.

Settings (``venue_config.<venue>``): credentials (SecretStr), ``base_url``, ``timeout_ms``,
``enable_rate_limit`` (ccxt's limiter, on by default) and the options ``rate_limit_ms`` (ccxt's
``rateLimit``); the run's ``max_retry_attempts``, ``retry_delay_seconds`` and ``journal_path``
(None: an in-memory journal; restart reconciliation then needs a path, a warning says so).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from json.encoder import encode_basestring_ascii as _quote  # a str as dumps writes it
from typing import Any

import pandas as pd

from basis_core.backtest.cex.fills import perp_fill, spot_fill
from basis_core.backtest.cex.market import Market, trade_notional
from basis_core.backtest.cex.spot_quote import book_price, quote_spot, spot_market
from basis_core.backtest.cex.validation import (
    account_key,
    account_kind,
    check_amount,
    check_notional,
    check_price,
    check_time_in_force,
    market_for,
    validate_order,
)
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import (
    AmbiguousOutcomeError,
    BasisError,
    ConfigError,
    InstructionError,
    LiveExecutionError,
    MarginError,
    OrderNotFoundError,
)
from basis_core.instructions import Transfer, parse_instruction
from basis_core.live.ccxt_context import keep_decimal_context
from basis_core.live.journal import ExecutionJournal, IntentState, dumps
from basis_core.live.orders import (
    ErrorKind,
    IdempotentExecutor,
    LiveCall,
    classify_ccxt_error,
    deltas_from_json,
    deltas_to_json,
    read_retried,
    to_basis_error,
    venue_message,
)
from basis_core.live.resting import OpenOrder, new_fills, open_order
from basis_core.live.retry import RetryPolicy
from basis_core.live.secrets import RedactingFilter, Redactor, secret_values
from basis_core.live.withdrawals import CexWithdrawals
from basis_core.numeric import dec as dec  # the venues' exact numbers (re-exported for plugins)

log = logging.getLogger(__name__)

ZERO = Decimal(0)

#: ccxt logs request headers (the API key) at DEBUG: every live backend's secrets are masked there.
_CCXT_LOG_REDACTOR = Redactor()
_CCXT_LOG_FILTER = RedactingFilter(_CCXT_LOG_REDACTOR)
for _name in ("ccxt", "ccxt.base.exchange"):
    logging.getLogger(_name).addFilter(_CCXT_LOG_FILTER)


def instruction_json(ins: Any) -> tuple[str, str]:
    """``(canonical JSON of the instruction, its sha256 fingerprint)`` (pydantic's serializer: fields in
    declaration order, Decimals as given, None left out)."""
    raw = ins.__pydantic_serializer__.to_json(ins, exclude_none=True)  # model_dump_json's bytes, before decoding
    return raw.decode(), hashlib.sha256(raw).hexdigest()


def intent_payload(ins_json: str, **extra: Any) -> str:
    """The JSON text of an intent payload: ``{"instruction": <ins_json>, **extra}`` (extra values as :func:`dumps`
    writes them)."""
    text = '{"instruction":' + ins_json
    for k, v in extra.items():
        text += f",{_quote(k)}:{_quote(v) if type(v) is str else dumps(v)}"
    return text + "}"


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution as the venue reports it: price, base quantity (unsigned), fee and its asset,
    realised PnL (perps, as reported), maker flag."""

    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    realised: Decimal = ZERO
    maker: bool | None = None


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One funding settlement of one perp position as the venue booked it: ``amount`` in the settle asset
    (+ received, - paid), the ``rate``, the venue's time (ms) and its id for the payment (``ref``)."""

    symbol: str
    time_ms: int
    amount: Decimal
    rate: Decimal | None
    ref: str


def rows_since(fetch: Callable[[int], Sequence[Any]], since_ms: int, page_size: int,
               time_ms: Callable[[Any], int] = lambda row: int(row["time"])) -> list[Any]:
    """Every row of a venue history paged by time, from ``since_ms`` on: ``fetch(start_ms)`` answers at most
    ``page_size`` rows, oldest first, and the next page starts at the last row's time, so rows at that time
    come twice (callers drop repeats by the venue's id)."""
    out: list[Any] = []
    start = since_ms
    while True:
        rows = list(fetch(start))
        out += rows
        if len(rows) < page_size:
            return out
        nxt = time_ms(rows[-1])
        if nxt == start:  # a full page within one millisecond: nothing more to page through
            return out
        start = nxt


@dataclass(frozen=True, slots=True)
class OrderView:
    """A venue order normalised for delta building.

    ``status``: ``open`` | ``closed`` | ``canceled`` | ``expired`` | ``rejected``; ``filled`` base units;
    ``fills`` the executions whose quantities sum to ``filled`` (fetched by the adapter when needed).
    """

    order_id: str
    client_id: str | None
    symbol: str
    side: str
    status: str
    amount: Decimal
    price: Decimal | None
    filled: Decimal
    fills: tuple[VenueFill, ...] = ()
    post_only: bool = False
    reduce_only: bool = False
    raw_status: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Target:
    """The order a cancel / modify refers to: its market and its venue id and / or venue client id."""

    market: Market
    order_id: str | None
    client_id: str | None

    def label(self) -> str:
        return self.client_id or self.order_id or "?"


class CexLiveBackend(CexWithdrawals):
    """Live backend of a ccxt CEX venue plugin (see the module docstring).

    :param plugin: the :class:`~basis_core.backtest.cex.venue.CexVenue` instance (its name, markets,
        spec, settings and context are read, never written).
    """

    #: ccxt account names of the spec's account kinds (``spot`` / ``margin``), for transfers.
    ccxt_accounts: Mapping[str, str] = {"spot": "spot", "margin": "swap"}

    def __init__(self, plugin: Any, *, journal: ExecutionJournal | None = None,
                 policy: RetryPolicy | None = None, waiter: Callable[[float], None] = time.sleep) -> None:
        ctx = plugin.context
        if ctx is None:
            raise ConfigError(f"{plugin.name}: configure the venue before using it")
        self.name: str = plugin.name
        self.plugin = plugin
        self.spec = plugin.spec
        self.markets: dict[str, Market] = plugin.markets
        self.settings = plugin.settings
        self.core_settings = ctx.settings
        problem = self.credentials_problem(self.settings)
        if problem:
            raise ConfigError(problem)
        self.redactor = Redactor(secret_values(self.settings))
        _CCXT_LOG_REDACTOR.add(*secret_values(self.settings))
        self.policy = policy or RetryPolicy.from_settings(self.core_settings)
        if journal is None:
            path = self.core_settings.journal_path
            if path is None:
                log.warning("%s live: no journal_path set; the execution journal is in memory, so a restarted "
                            "manager cannot reconcile orders sent before the restart", self.name)
            journal = ExecutionJournal.shared(path, redactor=self.redactor)
        self.journal = journal
        self.executor = IdempotentExecutor(self.journal, self.policy, redactor=self.redactor, waiter=waiter)
        self._symbols_by_cid: dict[str, str] = {}
        self._symbols_by_oid: dict[str, str] = {}
        self._leverage: dict[str, int] = {}
        self.reconciled: list[ExecutionDeltas] = []
        self.unresolved: list[str] = []
        #: order id -> orders this backend placed, modified or adopted that may still fill (see accrue)
        self.open_orders: dict[str, OpenOrder] = {}
        self._funding_since_ms = int(time.time() * 1000)  # funding is reported from when the backend started
        self._funding_seen: set[str] = set()
        self._claimed_transfers: set[str] = set()  # venue ids of transfers journaled as ours (lookups skip them)
        self._took_over_open_orders = False  # whether the first accrual took over an earlier process's orders
        self.client = keep_decimal_context(self.make_client())  # ccxt rounds in a copy of the caller's context
        self._read(self.client.load_markets, "load_markets")
        self._index_journal()
        self.reconcile()

    @classmethod
    def check_configuration(cls, venue: str, settings: Any, core_settings: Any) -> None:
        """Configure-time check of live settings (``on_configure`` of the plugin, live mode only).

        Raises :class:`ConfigError` when the venue is explicitly configured (it has a ``venue_config``
        entry or is in the ``venues`` allow-list) and its credentials are missing; an auto-discovered
        venue nobody configured only fails when it is first used, so one configured venue is enough to
        start a live manager.
        """
        problem = cls.credentials_problem(settings)
        if not problem:
            return
        chosen = core_settings.names_venue(venue)
        if chosen:
            raise ConfigError(problem)
        log.info("%s: not configured for live mode (%s); it fails if used", venue, problem)

    @staticmethod
    def missing_secrets(settings: Any, fields: tuple[str, ...]) -> list[str]:
        """The names among ``fields`` whose SecretStr setting is absent or empty."""
        out = []
        for f in fields:
            v = getattr(settings, f, None)
            if v is None or not v.get_secret_value():
                out.append(f)
        return out

    # =============================================================================================
    # venue adapter (implemented by the plugin)
    # =============================================================================================
    @classmethod
    def credentials_problem(cls, settings: Any) -> str | None:
        """A message naming the missing / malformed credential settings, or None (never shows a value)."""
        raise NotImplementedError

    def make_client(self) -> Any:
        """The configured ccxt client (markets not loaded yet)."""
        raise NotImplementedError

    def venue_client_id(self, client_id: str) -> str:
        """The venue client id derived deterministically from an instruction's ``client_id``."""
        raise NotImplementedError

    def new_venue_client_id(self) -> str:
        """A fresh venue client id for an instruction without ``client_id`` (journaled before sending)."""
        raise NotImplementedError

    @property
    def landing_window_s(self) -> float:
        """Seconds after a request starts during which it may still take effect at the venue."""
        return 0.0

    def signed_at(self) -> float | None:
        """Wall time (epoch s) the client signed its last request at, when it can tell (Binance); None."""
        return None

    def prepare_order(self, m: Market, ins: Any) -> None:
        """Venue checks and reads before an order is journaled (e.g. a reference price); default none."""

    def send_order(self, m: Market, ins: Any, vcid: str) -> Any:
        """Send one order (spot or perp per ``m``) with client id ``vcid``; return ccxt's answer."""
        raise NotImplementedError

    def fetch_order(self, m: Market, *, client_id: str | None = None, order_id: str | None = None) -> Any:
        """ccxt's order by client id or venue id, or None when the venue does not know it (default: ccxt's
        ``fetch_order`` with the client id as ``clientOrderId``; ``OrderNotFound`` means None)."""
        import ccxt

        params = {"clientOrderId": client_id} if client_id else {}
        try:
            return self.client.fetch_order(None if client_id else order_id, m.symbol, params)
        except ccxt.OrderNotFound:
            return None

    def order_view(self, m: Market, answer: Any, ins: Any | None = None, fills: bool = True) -> OrderView:
        """Normalise ccxt's ``answer`` (of create / edit / fetch) into an :class:`OrderView`; with its fills
        (fetched from the venue when the answer has none) unless ``fills`` is False."""
        raise NotImplementedError

    def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """The account's funding payments booked at or after ``since_ms`` (oldest first); default none."""
        return []

    def fetch_open_orders(self, m: Market) -> list[Any]:
        """ccxt's open orders of market ``m`` (default: ``client.fetch_open_orders(symbol)``)."""
        return list(self.client.fetch_open_orders(m.symbol))

    def cancel_request(self, target: Target) -> Any:
        raise NotImplementedError

    def edit_request(self, target: Target, current: OrderView, amount: Decimal, price: Decimal) -> Any:
        raise NotImplementedError

    def set_leverage(self, m: Market, leverage: int) -> None:
        raise NotImplementedError

    def find_transfers(self, asset: str, amount: Decimal, from_kind: str, to_kind: str,
                       since_ms: int) -> list[str]:
        """Venue ids of the transfers of ``amount`` ``asset`` from the ``from_kind`` to the ``to_kind`` account
        (``spot`` / ``margin``) booked at or after ``since_ms``, oldest first. Default: NotImplementedError (the
        venue's transfers cannot be listed; an ambiguous transfer then waits for :meth:`resolve_transfer`)."""
        raise NotImplementedError

    def transfer_request(self, asset: str, amount: Decimal, from_account: str, to_account: str) -> Any:
        """Move ``amount`` of ``asset`` between ccxt accounts (``spot`` / ``swap``)."""
        return self.client.transfer(asset, str(amount), from_account, to_account)

    def send_transfer(self, intent_id: str, asset: str, amount: Decimal, from_account: str, to_account: str) -> Any:
        """Send one request of the transfer intent ``intent_id`` (called again with the same id for a re-send).
        Default: :meth:`transfer_request`. A venue whose re-send can carry the first request's replay protection
        (Hyperliquid: the same nonce, so at most one of them is accepted) overrides it."""
        return self.transfer_request(asset, amount, from_account, to_account)

    def balances(self, options: Any = None) -> dict[str, Decimal]:
        raise NotImplementedError

    def reference_price(self, m: Market) -> Decimal:
        """The venue's current price of ``m`` (risk estimates, market-order protection)."""
        raise NotImplementedError

    def classify(self, exc: BaseException) -> ErrorKind:
        return classify_ccxt_error(exc)

    def rejection_as_outcome(self, exc: BaseException, kind: ErrorKind) -> str | None:
        """If a refusal is a normal outcome of the order (Hyperliquid: an IOC that could not match is
        refused), the deltas status to report (``cancelled``); else None (an error)."""
        return None

    # =============================================================================================
    # operations (the backend protocol of CexVenue)
    # =============================================================================================
    def spot_trade(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self._order(ts, ins, perp=False)

    def quote_spot(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """The ``quote_spot`` hook live: the swap-terms quote walking the venue's order book (ccxt
        ``fetch_order_book``; reference price: the mid); nothing is placed."""
        m, buy = spot_market(self.markets, self.name, ins.token_in, ins.token_out)
        book = self._read(lambda: self.client.fetch_order_book(m.symbol), "fetch_order_book")
        bids, asks = book.get("bids") or [], book.get("asks") or []
        if not bids or not asks:
            raise InstructionError("token_out", f"{self.name} {m.symbol}: the order book is empty")
        ref = (Decimal(str(bids[0][0])) + Decimal(str(asks[0][0]))) / 2
        return quote_spot(self.name, m, buy, ins.amount_in, ts, ref,
                          book_price(asks if buy else bids, f"{self.name} {m.symbol}"))

    def perp_trade(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self._order(ts, ins, perp=True)

    def cancel_order(self, ts: Any, ins: Any) -> ExecutionDeltas:
        target = self._target(ins)
        intent_id = f"cancel:{self._own_id(ins)}"
        ins_json, fp = instruction_json(ins)
        payload = intent_payload(ins_json)

        def lookup() -> Any:
            found = self.fetch_order(target.market, client_id=target.client_id, order_id=target.order_id)
            if found is None:
                raise OrderNotFoundError("order_id", f"{self.name} does not know order {target.label()!r}")
            v = self.order_view(target.market, found, fills=False)
            if v.status in ("canceled", "expired", "rejected"):
                return found
            if v.status == "closed":
                raise OrderNotFoundError("order_id", f"order {target.label()!r} on {self.name} has already filled")
            return None

        def build(answer: Any, adopted: bool) -> ExecutionDeltas:
            return self._cancel_deltas(ts, ins, target, answer, adopted)

        call = self._call("cancel_order", intent_id, target.label(), payload, lambda: self.cancel_request(target),
                          lookup, build, target.market, ins, fp)
        return self.executor.run(call)

    def modify_order(self, ts: Any, ins: Any) -> ExecutionDeltas:
        target = self._target(ins)
        current_raw = self._read(lambda: self.fetch_order(target.market, client_id=target.client_id,
                                                          order_id=target.order_id), "fetch_order")
        if current_raw is None:
            raise OrderNotFoundError("order_id", f"{self.name} does not know order {target.label()!r}")
        current = self.order_view(target.market, current_raw, fills=False)
        if current.status != "open":
            raise OrderNotFoundError("order_id", f"order {target.label()!r} on {self.name} is {current.status}, "
                                                 "not open")
        m = target.market
        amount = current.amount if ins.amount is None else ins.amount
        price = current.price if ins.price is None else ins.price
        if price is None:
            raise InstructionError("price", f"order {target.label()!r} has no limit price to keep; give one")
        check_amount(m, amount)
        check_price(m, price)
        if not current.reduce_only:
            check_notional(m, amount, price)
        target = Target(m, current.order_id, current.client_id or target.client_id)
        intent_id = f"modify:{self._own_id(ins)}"
        ins_json, fp = instruction_json(ins)
        payload = intent_payload(ins_json, resolved={"amount": str(amount), "price": str(price)})

        def lookup() -> Any:
            found = self.fetch_order(m, client_id=target.client_id, order_id=None if target.client_id
                                     else target.order_id)
            if found is None:
                return None
            v = self.order_view(m, found, fills=False)
            if v.amount == amount and v.price == price and v.status in ("open", "closed"):
                return found
            return None

        def build(answer: Any, adopted: bool) -> ExecutionDeltas:
            return self._track(m, self._modify_deltas(ts, ins, m, current, answer, amount, price, adopted))

        call = self._call("modify_order", intent_id, target.label(), payload,
                          lambda: self.edit_request(target, current, amount, price), lookup, build, m, ins, fp)
        return self.executor.run(call)

    def transfer(self, ts: Any, ins: Any) -> ExecutionDeltas:
        src_kind = account_kind(self.spec, ins.from_account, "from_account")
        dst_kind = account_kind(self.spec, ins.to_account, "to_account")
        if src_kind == dst_kind:
            raise InstructionError("to_account", f"{ins.to_account!r} is the same account as {ins.from_account!r}")
        intent_id = f"transfer:{self._own_id(ins)}"
        ins_json, fp = instruction_json(ins)

        def send() -> Any:
            return self.send_transfer(intent_id, ins.asset, ins.amount, self.ccxt_accounts[src_kind],
                                      self.ccxt_accounts[dst_kind])

        return self.executor.run(self._transfer_call(ts, ins, intent_id, intent_payload(ins_json), fp,
                                                     int(time.time() * 1000), send))

    def _transfer_call(self, ts: Any, ins: Any, intent_id: str, payload: Mapping[str, Any] | str, fp: str,
                       sent_ms: int, send: Callable[[], Any]) -> LiveCall:
        """The journaled call of a transfer; it can be looked up after an ambiguous failure when the venue lists
        its transfers (:meth:`find_transfers`): the oldest matching transfer since ``sent_ms`` (less the
        landing window) that no other journaled transfer has claimed is adopted."""
        src_kind = account_kind(self.spec, ins.from_account, "from_account")
        dst_kind = account_kind(self.spec, ins.to_account, "to_account")
        src = account_key(self.spec, ins.from_account, ins.asset, "from_account")

        def build(answer: Any, adopted: bool) -> ExecutionDeltas:
            tid = answer.get("id") if isinstance(answer, Mapping) else None
            if tid is not None:
                self._claimed_transfers.add(str(tid))
            return self._transfer_deltas(ts, ins, None if tid is None else str(tid), adopted=adopted)

        def map_error(exc: BaseException, kind: ErrorKind) -> BasisError:
            return to_basis_error(exc, self.name, kind=kind, redactor=self.redactor, funds_key=src,
                                  required=ins.amount)

        lookup = None
        if type(self).find_transfers is not CexLiveBackend.find_transfers:
            since = sent_ms - int(self.landing_window_s * 1000) - 1000

            def lookup() -> Any:
                for tid in self.find_transfers(ins.asset, ins.amount, src_kind, dst_kind, since):
                    if tid not in self._claimed_transfers:
                        return {"id": tid}
                return None

        return LiveCall(self.name, "transfer", intent_id, intent_id, payload, fp, send, lookup, build, map_error,
                        landing_window_s=self.landing_window_s, classify=self.classify, signed_at=self.signed_at)

    def get_balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        return self._read(lambda: self.balances(options), "balances")

    def open_orders_now(self) -> dict[str, OrderView]:
        """The venue's open orders on the listed markets, by venue order id (asks the venue now)."""
        out: dict[str, OrderView] = {}
        for m in self.markets.values():
            for raw in self._read(partial(self.fetch_open_orders, m), "fetch_open_orders"):
                v = self.order_view(m, raw, fills=False)
                if v.status == "open":
                    out[v.order_id] = v
        return out

    def order_status(self, symbol: str, order_id: str | None = None, client_id: str | None = None
                     ) -> OrderView | None:
        """One order as the venue knows it now (None if it does not), by venue ``order_id`` or by the
        ``client_id`` of the instruction that placed it; fills included when it has filled."""
        m = self.markets.get(symbol)
        if m is None:
            raise InstructionError("symbol", f"{symbol} is not listed on {self.name}")
        if (order_id is None) == (client_id is None):
            raise InstructionError("order_id", "give exactly one of order_id and client_id")
        vcid = None if client_id is None else self.venue_client_id(client_id)
        found = self._read(partial(self.fetch_order, m, client_id=vcid, order_id=order_id), "fetch_order")
        return None if found is None else self.order_view(m, found, fills=True)

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        if ins.operation == "modify_order":
            if ins.amount is None or ins.price is None:
                return None
            return ins.amount * ins.price  # type: ignore[no-any-return]
        return trade_notional(self.markets, ins, lambda m: self._read(lambda: self.reference_price(m), "price"))

    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        """What happened at the venue since the last call (``manager.advance_to`` in live mode): fills of this
        backend's open orders, each looked up by its venue id (new fills come back as the order's
        ``spot_trade`` / ``perp_trade`` deltas with ``details["resting"]``; an order no longer open is then
        forgotten), and the funding payments the venue booked (:meth:`_funding`). ``previous`` is not used:
        the venue knows what happened. When a venue read fails nothing is reported, and the next call
        reports it all."""
        if not self._took_over_open_orders:
            self._take_over_open_orders()
        seen: list[tuple[str, OpenOrder, OrderView | None]] = []
        for order_id, o in list(self.open_orders.items()):
            found = self._read(partial(self.fetch_order, o.market, order_id=order_id), "fetch_order")
            v = None if found is None else self.order_view(o.market, found, fills=False)
            if v is not None and v.filled > o.filled:  # only then are its fills worth a venue call
                v = self.order_view(o.market, found, fills=True)
            seen.append((order_id, o, v))
        booked = self._read(partial(self.funding_payments, self._funding_since_ms), "funding history")
        # every venue read succeeded: only now is what was reported updated (a failed read changes nothing,
        # so the next call reports it all)
        out: list[ExecutionDeltas] = []
        for order_id, o, v in seen:
            if v is not None and v.filled > o.filled:
                cum = self._order_deltas(timestamp, o, o.market, v.client_id or "", v, False, o.operation)
                d = new_fills(o, cum, timestamp)
                if d is not None:
                    out.append(d)
            if v is None or v.status != "open":
                del self.open_orders[order_id]
        out.extend(self._funding(booked))
        return out or None

    def _take_over_open_orders(self) -> None:
        """At a process's first accrual: track the venue's open orders that an earlier process placed (their
        client id is in the journal, with the deltas that process reported), so their later fills are reported
        too. An order replaced by a modify before the restart is not taken over (its journaled id differs)."""
        for order_id, v in self.open_orders_now().items():
            if order_id in self.open_orders or not v.client_id:
                continue
            st = self.journal.state(self.name, str(v.client_id))
            raw = st.outcome.payload.get("deltas") if st is not None and st.outcome is not None else None
            if st is None or st.status != "done" or not isinstance(raw, Mapping):
                continue
            d = deltas_from_json(raw)
            if str(d.order_id) == order_id and v.symbol in self.markets:
                self.open_orders[order_id] = open_order(self.markets[v.symbol], d)
        self._took_over_open_orders = True

    def _funding(self, booked: list[FundingPayment]) -> list[ExecutionDeltas]:
        """The ``booked`` funding payments not reported yet: one ``funding`` deltas per margin wallet and
        settlement time, per-symbol detail in ``details["payments"]`` (as the backtest reports them)."""
        groups: dict[tuple[int, str], list[FundingPayment]] = {}
        for f in booked:
            m = self.markets.get(f.symbol)
            if m is None or not m.is_perp or f.ref in self._funding_seen:  # a page boundary repeats rows
                continue
            groups.setdefault((f.time_ms, m.margin_key), []).append(f)
            self._funding_seen.add(f.ref)
            self._funding_since_ms = max(self._funding_since_ms, f.time_ms)
        out = []
        for (t_ms, key), fs in sorted(groups.items()):
            amount = sum((f.amount for f in fs), ZERO)
            ts = pd.Timestamp(t_ms, unit="ms", tz="UTC")
            payments = {f.symbol: {"payment": f.amount, "rate": f.rate, "ref": f.ref} for f in fs}
            out.append(ExecutionDeltas(self.name, "funding", ts, {key: amount}, {}, "settled", pnl={"funding": amount},
                                       details={"payments": payments, "live": True}))
        return out

    def _track(self, m: Market, d: ExecutionDeltas) -> ExecutionDeltas:
        """Remember an order that may still fill (and forget one that cannot); for an order already tracked
        (a modified one) return only the fills not reported yet."""
        known = self.open_orders.get(str(d.order_id)) if d.order_id is not None else None
        if known is not None and d.fill_amount:
            d = new_fills(known, d, d.timestamp, d.operation) or ExecutionDeltas(
                d.venue, d.operation, d.timestamp, {}, {}, d.status, d.client_id, d.order_id, details=d.details)
        if d.status in ("open", "partially_filled") or (d.operation == "modify_order" and d.status == "modified"):
            if known is None and d.order_id is not None:
                self.open_orders[str(d.order_id)] = open_order(m, d)
        elif d.order_id is not None:
            self.open_orders.pop(str(d.order_id), None)
        return d

    # =============================================================================================
    # reconciliation
    # =============================================================================================
    def reconcile(self) -> list[ExecutionDeltas]:
        """Settle every pending intent of this venue in the journal by client id (oldest first).

        Orders found at the venue are adopted (their deltas journaled, kept in :attr:`reconciled` and
        reported to the manager, whose ``execution_history`` then lists them);
        orders verifiably absent are journaled ``absent``. Intents that cannot be looked up (transfers on a venue
        whose transfers cannot be listed)
        stay pending and are listed in :attr:`unresolved` (re-submitting them raises
        AmbiguousOutcomeError instead of sending twice). Raises AmbiguousOutcomeError when the venue
        cannot be asked: the backend then refuses to start until it can.
        """
        out: list[ExecutionDeltas] = []
        for st in self.journal.pending(self.name):
            call = self._call_for_intent(st)
            if call is None or call.lookup is None:
                self.unresolved.append(st.intent.intent_id)
                log.warning("%s: pending %s %s cannot be reconciled by client id; left pending", self.name,
                            st.intent.operation, st.intent.intent_id)
                continue
            i = st.intent
            claim = self.journal.claim(self.name, i.intent_id, i.venue_client_id, i.operation, "", i.fingerprint,
                                       new_intent=False, wait_s=0)
            if not claim.owned or claim.prior is None:
                continue  # being executed by a live thread / process (it settles it), or settled meanwhile
            try:
                d = self.executor.resolve(claim.prior, call)
            except InstructionError as e:
                log.info("%s: pending %s %s resolved as rejected: %s", self.name, st.intent.operation,
                         st.intent.intent_id, e)
                continue
            finally:
                claim.release()
            if d is not None:
                out.append(d)
                self._remember(d, st.intent.payload.get("instruction", {}).get("symbol"))
        if out:
            log.info("%s: reconciled %d pending intent(s) with the venue", self.name, len(out))
        self.reconciled.extend(out)
        report = self.plugin.context.report if self.plugin.context is not None else None
        if report is not None:
            for d in out:  # the manager's execution_history shows what was adopted
                report(d.timestamp, d)
        return out

    def resolve_transfer(self, client_id: str, happened: bool, note: str = "") -> ExecutionDeltas | None:
        """Settle by hand a transfer whose outcome is unknown, on a venue whose transfers cannot be listed
        (Binance and Hyperliquid transfers are found in the venue's history by :meth:`find_transfers`).

        ``happened``: whether the venue shows the transfer (check its transfer history). Journals ``done``
        (and returns the transfer's deltas, which re-submitting the instruction then returns without
        sending) or ``absent`` (re-submitting sends it). Raises OrderNotFoundError if nothing is pending.
        """
        st = self.journal.state(self.name, f"transfer:{client_id}")
        if st is None or not st.pending:
            raise OrderNotFoundError("client_id", f"no pending transfer {client_id!r} in the {self.name} journal")
        if not happened:
            self.journal.record_outcome(st.intent, "absent", {"event": "by_hand", "note": note})
            return None
        ins = parse_instruction(dict(st.intent.payload["instruction"]))
        if not isinstance(ins, Transfer):
            raise OrderNotFoundError("client_id", f"{client_id!r} is not a transfer")
        d = self._transfer_deltas(pd.Timestamp(st.intent.written_ns, unit="ns", tz="UTC"), ins, None, by_hand=True)
        self.journal.record_outcome(st.intent, "done", {"event": "by_hand", "note": note,
                                                        "deltas": deltas_to_json(d)})
        return d

    def _transfer_deltas(self, ts: Any, ins: Any, transfer_id: str | None, **details: Any) -> ExecutionDeltas:
        """A transfer's deltas: ``amount`` out of the source account, into the destination (no fee)."""
        src = account_key(self.spec, ins.from_account, ins.asset, "from_account")
        dst = account_key(self.spec, ins.to_account, ins.asset, "to_account")
        return ExecutionDeltas(self.name, "transfer", ts, {src: -ins.amount, dst: ins.amount}, {}, "filled",
                               ins.client_id, transfer_id, details={"from": src, "to": dst, "live": True, **details})

    def _call_for_intent(self, st: IntentState) -> LiveCall | None:
        if st.intent.operation == "withdrawal":  # a live move's withdrawal (basis_core.live.withdrawals)
            return self.withdrawal_call_for_intent(st)
        payload = st.intent.payload
        raw = payload.get("instruction")
        if not isinstance(raw, Mapping):
            return None
        try:
            ins = parse_instruction(dict(raw))
        except BasisError:
            return None
        ts = pd.Timestamp(st.intent.written_ns, unit="ns", tz="UTC")
        if ins.operation in ("spot_trade", "perp_trade"):
            m = market_for(self.markets, self.name, ins.symbol, ins.operation == "perp_trade")
            return self._order_call(ts, ins, m, st.intent.venue_client_id)
        if ins.operation == "cancel_order":
            target = self._target(ins)
            return self._call("cancel_order", st.intent.intent_id, target.label(), payload,
                              lambda: None, lambda: self._cancel_lookup(target),
                              lambda a, ad: self._cancel_deltas(ts, ins, target, a, ad), target.market, ins,
                              fp=st.intent.fingerprint)
        if ins.operation == "modify_order":
            resolved = payload.get("resolved") or {}
            if "amount" not in resolved:
                return None
            target = self._target(ins)
            amount, price = Decimal(resolved["amount"]), Decimal(resolved["price"])
            m = target.market

            def lookup() -> Any:
                found = self.fetch_order(m, client_id=target.client_id, order_id=target.order_id)
                if found is None:
                    return None
                v = self.order_view(m, found, fills=False)
                return found if v.amount == amount and v.price == price and v.status != "canceled" else None

            def build(a: Any, ad: bool) -> ExecutionDeltas:
                v = self.order_view(m, a, fills=False)
                return self._track(m, self._modify_deltas(ts, ins, m, v, a, amount, price, ad))

            return self._call("modify_order", st.intent.intent_id, target.label(), payload, lambda: None,
                              lookup, build, m, ins, fp=st.intent.fingerprint)
        if ins.operation == "transfer" and isinstance(ins, Transfer):
            return self._transfer_call(ts, ins, st.intent.intent_id, payload, st.intent.fingerprint,
                                       st.intent.written_ns // 1_000_000, lambda: None)
        return None

    def _cancel_lookup(self, target: Target) -> Any:
        found = self.fetch_order(target.market, client_id=target.client_id, order_id=target.order_id)
        if found is None:
            return None
        v = self.order_view(target.market, found, fills=False)
        return found if v.status in ("canceled", "expired") else None

    # =============================================================================================
    # internals
    # =============================================================================================
    def _read(self, fn: Callable[[], Any], what: str) -> Any:
        """A read-only venue call, retried on ambiguous / transient errors; typed errors otherwise."""
        def failed(e: BaseException, kind: ErrorKind) -> BasisError:
            if kind in ("ambiguous", "transient"):
                return AmbiguousOutcomeError(f"{self.name} {what}: {venue_message(e, self.redactor)}")
            return to_basis_error(e, self.name, kind=kind, redactor=self.redactor)

        return read_retried(self.policy, fn, self.classify, f"{self.name} {what}", failed)

    def _own_id(self, ins: Any) -> str:
        return str(ins.client_id) if ins.client_id else self.new_venue_client_id()

    def _index_journal(self) -> None:
        """Remember the symbols of journaled orders (client id / order id -> symbol) for cancel / modify, and the
        venue ids of journaled transfers (a transfer lookup never adopts one of them twice)."""
        for row in self.journal.rows(self.name):
            instr = row.payload.get("instruction") if row.kind == "intent" else None
            if isinstance(instr, Mapping) and instr.get("symbol") and row.operation in ("spot_trade", "perp_trade"):
                self._symbols_by_cid[row.venue_client_id] = str(instr["symbol"])
                if instr.get("client_id"):
                    self._symbols_by_cid[str(instr["client_id"])] = str(instr["symbol"])
            deltas = row.payload.get("deltas") if row.kind == "outcome" else None
            if isinstance(deltas, Mapping) and deltas.get("order_id") and deltas.get("details", {}).get("symbol"):
                self._symbols_by_oid[str(deltas["order_id"])] = str(deltas["details"]["symbol"])
            if isinstance(deltas, Mapping) and row.operation == "transfer" and deltas.get("order_id"):
                self._claimed_transfers.add(str(deltas["order_id"]))

    def _remember(self, d: ExecutionDeltas, symbol: str | None) -> None:
        sym = symbol or d.details.get("symbol")
        if not sym:
            return
        if d.order_id:
            self._symbols_by_oid[str(d.order_id)] = str(sym)
        vcid = d.details.get("venue_client_id")
        if vcid:
            self._symbols_by_cid[str(vcid)] = str(sym)
        if d.client_id:
            self._symbols_by_cid[str(d.client_id)] = str(sym)

    def _target(self, ins: Any) -> Target:
        """Market and ids of the order a cancel / modify names (``order_id``: venue id or client id)."""
        ref = str(ins.order_id)
        known_cid = ref in self._symbols_by_cid
        is_oid = not known_cid and (ref.isdigit() or ref in self._symbols_by_oid)
        symbol = ins.symbol or (self._symbols_by_oid.get(ref) if is_oid else self._symbols_by_cid.get(ref))
        if symbol is None and not is_oid:
            symbol = self._symbols_by_cid.get(self.venue_client_id(ref))
        if symbol is None:
            raise InstructionError("symbol", f"give the symbol of order {ref!r}: it is not in this {self.name} "
                                             "journal")
        m = self.markets.get(symbol)
        if m is None:
            raise InstructionError("symbol", f"{symbol} is not listed on {self.name}")
        if is_oid:
            return Target(m, ref, None)
        return Target(m, None, self.venue_client_id(ref))

    def _map_order_error(self, m: Market, ins: Any) -> Callable[[BaseException, ErrorKind], BasisError]:
        def map_error(exc: BaseException, kind: ErrorKind) -> BasisError:
            # the balance the order needed (worked out when an order fails: never on the hot path)
            if m.is_perp:
                key, required = m.margin_key, None
            elif ins is not None and getattr(ins, "side", None) == "buy":
                key = m.quote_key
                required = ins.amount * ins.price if ins.price is not None else None
            else:
                key, required = m.base_key, getattr(ins, "amount", None)
            return to_basis_error(exc, self.name, kind=kind, redactor=self.redactor, funds_key=key,
                                  required=required, perp=m.is_perp)

        return map_error

    def _call(self, op: str, intent_id: str, vcid: str, payload: Mapping[str, Any] | str, send: Callable[[], Any],
              lookup: Callable[[], Any] | None, build: Callable[[Any, bool], ExecutionDeltas], m: Market, ins: Any,
              fp: str) -> LiveCall:
        return LiveCall(self.name, op, intent_id, vcid, payload, fp, send, lookup, build,
                        self._map_order_error(m, ins), landing_window_s=self.landing_window_s,
                        classify=self.classify, signed_at=self.signed_at)

    # -- orders ------------------------------------------------------------------------------------
    def _order(self, ts: Any, ins: Any, perp: bool) -> ExecutionDeltas:
        m = market_for(self.markets, self.name, ins.symbol, perp)
        # the instruction's own fields (a spot order has neither: pydantic's __getattr__ miss raises inside)
        fields = ins.__dict__
        reduce_only = bool(fields.get("reduce_only", False))
        validate_order(m, ins.amount, ins.price, None, reduce_only)
        check_time_in_force(self.name, self.spec.time_in_force, ins)
        lev = fields.get("leverage")
        if lev is not None:
            self._ensure_leverage(m, lev)
        if type(self).prepare_order is not CexLiveBackend.prepare_order:
            self._read(lambda: self.prepare_order(m, ins), "prepare_order")
        vcid = self.venue_client_id(ins.client_id) if ins.client_id else self.new_venue_client_id()
        return self.executor.run(self._order_call(ts, ins, m, vcid))

    def _order_call(self, ts: Any, ins: Any, m: Market, vcid: str) -> LiveCall:
        ins_json, fp = instruction_json(ins)
        payload = intent_payload(ins_json, venue_client_id=vcid)

        def lookup() -> Any:
            return self.fetch_order(m, client_id=vcid)

        def build(answer: Any, adopted: bool) -> ExecutionDeltas:
            d = self._track(m, self._order_deltas(ts, ins, m, vcid, self.order_view(m, answer, ins), adopted))
            self._remember(d, m.symbol)
            return d

        def matches(found: Any) -> bool:
            v = self.order_view(m, found, None, fills=False)
            return v.symbol == m.symbol and v.side == ins.side and v.amount == ins.amount

        def is_rejected(found: Any) -> str | None:
            v = self.order_view(m, found, None, fills=False)
            return f"order {vcid} is {v.raw_status or v.status}" if v.status == "rejected" else None

        map_error = self._map_order_error(m, ins)
        on_rejected = None
        if ins.time_in_force in ("IOC", "FOK") and ins.order_type == "limit":
            def on_rejected(exc: BaseException, kind: ErrorKind) -> ExecutionDeltas | None:
                status = self.rejection_as_outcome(exc, kind)
                if status is None:
                    return None
                return ExecutionDeltas(self.name, ins.operation, ts, {}, {}, status, ins.client_id, None,
                                       details={"reason": venue_message(exc, self.redactor), "symbol": m.symbol,
                                                "venue_client_id": vcid, "live": True})

        return LiveCall(self.name, ins.operation, vcid, vcid, payload, fp,
                        lambda: self.send_order(m, ins, vcid), lookup, build, map_error, matches,
                        self.landing_window_s, is_rejected, on_rejected, self.classify, self.signed_at)

    def _ensure_leverage(self, m: Market, lev: Decimal) -> None:
        if lev != lev.to_integral_value():
            raise InstructionError("leverage", f"{self.name} takes a whole-number leverage, got {lev}")
        if lev > m.spec.max_leverage:
            raise MarginError("leverage", f"{lev}x exceeds the maximum {m.spec.max_leverage}x for {m.symbol}")
        n = int(lev)
        if self._leverage.get(m.symbol) == n:
            return
        self._read(lambda: self.set_leverage(m, n), "set_leverage")  # idempotent: safe to repeat
        self._leverage[m.symbol] = n

    def _fill_parts(self, m: Market, side: str, fills: tuple[VenueFill, ...]) -> tuple[dict[str, Decimal],
                                                                                        dict[str, Decimal],
                                                                                        dict[str, Decimal]]:
        """Positions, fees and PnL of ``fills`` through the shared builders (one call per fill, summed key by key in
        the fills' order as :func:`~basis_core.deltas.merge_positions` sums them, exact zeros dropped)."""
        buy = side == "buy"
        perp = m.is_perp
        pos: dict[str, Decimal] = {}
        fees: dict[str, Decimal] = {}
        pnl: dict[str, Decimal] = {}
        for f in fills:
            if perp:
                p, fe, pn = perp_fill(m, f.qty if buy else -f.qty, f.price, f.fee, f.realised)
            else:
                p, fe, pn = spot_fill(m, buy, f.qty, f.price, f.fee, f.fee_asset)
            for k, v in p.items():
                pos[k] = pos.get(k, ZERO) + v
            for k, v in fe.items():
                fees[k] = fees.get(k, ZERO) + v
            for k, v in pn.items():
                pnl[k] = pnl.get(k, ZERO) + v
        return ({k: v for k, v in pos.items() if v != 0}, {k: v for k, v in fees.items() if v != 0}, pnl)

    def _order_deltas(self, ts: Any, ins: Any, m: Market, vcid: str, v: OrderView, adopted: bool,
                      operation: str | None = None) -> ExecutionDeltas:
        fills = v.fills
        perp = m.is_perp
        # one pass over the fills: the sums in the fills' order (as sum() adds them), makers, fee assets
        filled = realised = ZERO
        makers: set[bool] = set()
        assets: set[str] = set()
        for f in fills:
            filled += f.qty
            if perp:
                realised += f.realised
            if f.maker is not None:
                makers.add(f.maker)
            if f.fee:
                assets.add(f.fee_asset)
        if filled != v.filled:
            raise LiveExecutionError(f"{self.name}: order {v.order_id} reports {v.filled} filled but its fills sum "
                                     f"to {filled}")
        positions, fees, pnl = self._fill_parts(m, v.side, fills)
        if filled == 0:
            status = "open" if v.status == "open" else "cancelled"
        elif filled < v.amount and (v.status == "open" or not v.reduce_only):
            status = "partially_filled"
        else:  # complete, or a reduce-only order the venue cut to the position size
            status = "filled"
        avg = None
        if filled:
            if len(fills) == 1:
                avg = (ZERO + fills[0].qty * fills[0].price) / filled
            else:
                avg = sum((f.qty * f.price for f in fills), ZERO) / filled
        details: dict[str, Any] = {
            "symbol": m.symbol, "side": v.side, "venue_status": v.raw_status or v.status, "venue_client_id": vcid,
            "live": True, "adopted": adopted, "fills": len(fills),
        }
        if makers:
            details["liquidity"] = "maker" if makers == {True} else "taker" if makers == {False} else "mixed"
        if len(assets) == 1:
            details["fee_asset"] = assets.pop()
        if perp:
            details["realised_pnl"] = realised
        if status == "open" or status == "partially_filled":
            details.update({"price": v.price, "amount": v.amount, "remaining": v.amount - filled})
        return ExecutionDeltas(self.name, operation or ins.operation, ts, positions, fees, status,
                               ins.client_id, v.order_id, avg, filled if filled else None, pnl, details)

    def _cancel_deltas(self, ts: Any, ins: Any, target: Target, answer: Any, adopted: bool) -> ExecutionDeltas:
        m = target.market
        details: dict[str, Any] = {"symbol": m.symbol, "live": True, "adopted": adopted,
                                   "order_client_id": target.client_id}
        order_id = target.order_id
        try:
            v = self.order_view(m, answer)
        except Exception:  # a sparse cancel answer (Hyperliquid: "success")
            v = None
        if v is not None:
            order_id = v.order_id or order_id
            details.update({"side": v.side, "amount": v.amount, "price": v.price, "filled": v.filled})
        return ExecutionDeltas(self.name, "cancel_order", ts, {}, {}, "cancelled", ins.client_id, order_id,
                               details=details)

    def _modify_deltas(self, ts: Any, ins: Any, m: Market, current: OrderView, answer: Any, amount: Decimal,
                       price: Decimal, adopted: bool) -> ExecutionDeltas:
        v = self.order_view(m, answer)
        if v.filled > 0:
            return self._order_deltas(ts, ins, m, v.client_id or current.client_id or "", v, adopted,
                                      operation="modify_order")
        return ExecutionDeltas(self.name, "modify_order", ts, {}, {}, "modified", ins.client_id, v.order_id,
                               details={"symbol": m.symbol, "amount": amount, "price": price, "live": True,
                                        "adopted": adopted, "previous_order_id": current.order_id,
                                        "venue_client_id": v.client_id})
