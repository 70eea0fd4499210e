"""A protocol-faithful local Binance (spot + USD-M futures) that the real ccxt client talks to.

It serves the REST endpoints ccxt 4.5.90 uses for the unified calls (see :data:`SERVED_ROUTES`),
checks ``X-MBX-APIKEY`` and the HMAC-SHA256 signature of the exact signed payload (query string
+ body, without ``&signature=``), rejects timestamps outside ``recvWindow`` of :meth:`now_ms` and
answers Binance's error codes and messages, so ccxt raises the same typed exceptions it raises
against binance.com (given :func:`basis_venue_binance.client.make_binance_client`).

Market model (deliberately simple, deterministic):
- One price per symbol and market (``set_price``); infinite liquidity at that price. A market order
  or a marketable limit order fills completely at the current price (taker). A resting limit order
  fills completely at its limit price (maker) once ``set_price`` crosses it.
- Spot: fees are charged in the asset RECEIVED (base on a buy, quote on a sell) at the taker /
  maker rate, rounded UP to 8 decimals, and reported in ``fills[].commission/commissionAsset``.
  Resting orders lock funds (buy: qty x limit quote; sell: qty base). Post-only is ``LIMIT_MAKER``.
- USD-M: one-way mode, cross margin, one margin asset per symbol (USDT). Fees (rounded up to 8
  decimals) and realised PnL go to the wallet. Initial margin = notional / leverage (positions at
  the mark, open orders at their limit). An order that adds exposure needs that margin (+ the taker
  fee of a market order) out of ``availableBalance`` (else -2019). Reduce-only orders that would
  increase the position are rejected (-2022); larger ones are cut to the position size. Post-only is
  ``timeInForce=GTX`` (rejected with -5022 if it would take). No liquidation engine; ``apply_funding``
  settles one funding payment on demand.
- A market that moves: :meth:`BinanceEmulator.attach_replay` follows a price path (spot prices, perp marks,
  a funding schedule; :mod:`basis_core.testing.replay`) on an accelerated clock. Prices change as the path's
  rows are crossed (resting orders fill at the prices they cross), market orders fill at the replayed price,
  and funding settles at the schedule's times at the mark of that time (income rows, ``fundingRate``
  history, ``premiumIndex`` with the next rate and settlement time). ``basis emulate binance --replay FILE
  --speed N`` serves one.
- Client order ids must be unique among OPEN orders of a market (spot -2010 "Duplicate order
  sent.", futures -4116). Orders are found by ``orderId`` or ``origClientOrderId`` (the latest
  order with that id).

Responses of creating orders follow ``newOrderRespType`` (spot default FULL with fills, futures
RESULT when asked, ACK otherwise). Everything is kept under ``self.lock`` (taken by the base
server around each request); test helpers take it too.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import parse_qsl

from basis_core.testing.http_emulator import EmulatorServer, Response, json_response
from basis_core.testing.replay import ReplayEvent
from basis_venue_binance.testing.wallet import BinanceWallet

log = logging.getLogger(__name__)

MarketKind = Literal["spot", "linear"]
ZERO = Decimal(0)
E8 = Decimal("0.00000001")
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
MAX_RECV_WINDOW = 60_000


@dataclass(frozen=True)
class SymbolSpec:
    """One listed symbol and its exchange filters (human units)."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_notional: Decimal
    min_qty: Decimal
    max_qty: Decimal = Decimal(9000)
    max_leverage: int = 125


@dataclass(frozen=True)
class FeeRates:
    """Maker / taker fee rates as fractions (0.001 = 10 bp)."""

    maker: Decimal
    taker: Decimal


DEFAULT_SPOT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.0001"), Decimal(5), Decimal("0.0001")),
    SymbolSpec("BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.0001"), Decimal(5), Decimal("0.0001")),
)
DEFAULT_PERP_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec("ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal(20), Decimal("0.001")),
    SymbolSpec("BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.001"), Decimal(20), Decimal("0.001")),
)
DEFAULT_SPOT_FEES = FeeRates(maker=Decimal("0.001"), taker=Decimal("0.001"))
DEFAULT_FUTURES_FEES = FeeRates(maker=Decimal("0.0002"), taker=Decimal("0.0005"))

# Leverage brackets of USD-M (notional floor, cap, max leverage, maintenance margin ratio, cum).
DEFAULT_BRACKETS: tuple[tuple[int, int, int, Decimal, Decimal], ...] = (
    (0, 50_000, 125, Decimal("0.004"), Decimal(0)),
    (50_000, 600_000, 100, Decimal("0.005"), Decimal(50)),
    (600_000, 3_000_000, 75, Decimal("0.0065"), Decimal(950)),
    (3_000_000, 12_000_000, 50, Decimal("0.01"), Decimal(11_450)),
    (12_000_000, 50_000_000, 25, Decimal("0.02"), Decimal(131_450)),
)

#: Binance's -1007 answer: "execution status unknown", the order may or may not exist. Inject it with
#: ``Fault("venue_error", payload=TIMEOUT_1007)`` (not placed) or ``Fault("venue_error_after_place", ...)``.
TIMEOUT_1007: dict[str, Any] = {
    "code": -1007,
    "msg": "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
}

SERVED_ROUTES: tuple[str, ...] = (
    "GET /api/v3/ping",
    "GET /api/v3/time",
    "GET /api/v3/exchangeInfo",
    "GET /api/v3/ticker/price",
    "GET /api/v3/ticker/bookTicker",
    "GET /api/v3/ticker/24hr",
    "POST /api/v3/order",
    "GET /api/v3/order",
    "DELETE /api/v3/order",
    "POST /api/v3/order/cancelReplace",
    "GET /api/v3/openOrders",
    "DELETE /api/v3/openOrders",
    "GET /api/v3/allOrders",
    "GET /api/v3/myTrades",
    "GET /api/v3/account",
    "GET /fapi/v1/ping",
    "GET /fapi/v1/time",
    "GET /fapi/v1/exchangeInfo",
    "GET /fapi/v1/ticker/price",
    "GET /fapi/v1/ticker/bookTicker",
    "GET /fapi/v1/ticker/24hr",
    "GET /fapi/v1/premiumIndex",
    "GET /fapi/v1/fundingRate",
    "POST /fapi/v1/order",
    "GET /fapi/v1/order",
    "DELETE /fapi/v1/order",
    "PUT /fapi/v1/order",
    "GET /fapi/v1/openOrders",
    "DELETE /fapi/v1/allOpenOrders",
    "GET /fapi/v1/allOrders",
    "GET /fapi/v1/userTrades",
    "GET /fapi/v1/income",
    "GET /fapi/v2/account",
    "GET /fapi/v3/account",
    "GET /fapi/v2/balance",
    "GET /fapi/v3/balance",
    "GET /fapi/v1/leverageBracket",
    "GET /fapi/v2/positionRisk",
    "GET /fapi/v3/positionRisk",
    "POST /fapi/v1/leverage",
    "POST /sapi/v1/asset/transfer",
    "GET /sapi/v1/asset/transfer",
    "POST /sapi/v1/capital/withdraw/apply",
    "GET /sapi/v1/capital/withdraw/history",
    "GET /sapi/v1/capital/deposit/hisrec",
    "GET /sapi/v1/capital/deposit/address",
    "GET /sapi/v1/capital/config/getall",
)


class BinanceError(Exception):
    """An error answer: HTTP ``status`` with body ``{"code": code, "msg": msg}`` (+ ``data``)."""

    def __init__(self, code: int, msg: str, status: int = 400, data: Any = None) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.data = data

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            out["data"] = self.data
        return out


def _missing(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


@dataclass
class Fill:
    """One execution of an order."""

    trade_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    maker: bool
    time: int
    realized_pnl: Decimal = ZERO


@dataclass
class EmulatedOrder:
    """An order as the emulator keeps it (quantities in base units, prices in quote units)."""

    market: MarketKind
    order_id: int
    client_order_id: str
    symbol: str
    side: str  # BUY / SELL
    type: str  # LIMIT / MARKET / LIMIT_MAKER
    time_in_force: str | None
    price: Decimal  # 0 for market orders
    orig_qty: Decimal
    time: int
    update_time: int
    reduce_only: bool = False
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    locked: Decimal = ZERO  # spot: funds held by the resting order (quote on buy, base on sell)
    fills: list[Fill] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO

    @property
    def commission(self) -> Decimal:
        return sum((f.commission for f in self.fills), ZERO)


@dataclass
class Position:
    """A one-way USD-M position: signed base amount and average entry price."""

    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    update_time: int = 0


def _s(d: Decimal) -> str:
    """Plain decimal string without exponent or trailing zeros ("0" for zero)."""
    if d == 0:
        return "0"
    t = format(d.normalize(), "f")
    return t


def _ints(p: Mapping[str, str], **defaults: int | None) -> dict[str, int | None]:
    """The integer query parameters ``defaults`` names (their default when absent); -1100 when one is not an
    integer."""
    try:
        return {k: int(p[k]) if k in p else d for k, d in defaults.items()}
    except ValueError:
        raise BinanceError(-1100, "Illegal characters found in a parameter.") from None


def _check_range(value: int | None, lo: int, hi: int, name: str) -> int:
    """-1130 unless ``lo <= value <= hi``."""
    if value is None or not lo <= value <= hi:
        raise BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")
    return value


def _s8(d: Decimal) -> str:
    """Binance spot style: 8 decimals."""
    return f"{d.quantize(E8):f}"


def _ceil8(d: Decimal) -> Decimal:
    return d.quantize(E8, rounding=ROUND_UP)


def _dec(params: Mapping[str, str], name: str, required: bool = True) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise _missing(name)
        return None
    try:
        d = Decimal(raw)
    except InvalidOperation:
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; "
            "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        ) from None
    if not d.is_finite():
        raise _missing(name)
    return d


class BinanceEmulator(BinanceWallet, EmulatorServer):
    """Local Binance spot + USD-M REST server for the real ccxt client.

    ``spot_balances`` / ``futures_balances``: asset -> Decimal (free spot balance; USD-M wallet).
    ``prices``: symbol id -> Decimal, applied to both spot and perp markets of that id.
    Inspect with :attr:`orders`, :meth:`orders_for_client_id`, :meth:`spot_balance`,
    :meth:`position`, :attr:`request_log`; move the market with :meth:`set_price`.
    """

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        spot_balances: Mapping[str, Decimal] | None = None,
        futures_balances: Mapping[str, Decimal] | None = None,
        prices: Mapping[str, Decimal] | None = None,
        spot_symbols: Iterable[SymbolSpec] = DEFAULT_SPOT_SYMBOLS,
        perp_symbols: Iterable[SymbolSpec] = DEFAULT_PERP_SYMBOLS,
        spot_fees: FeeRates = DEFAULT_SPOT_FEES,
        futures_fees: FeeRates = DEFAULT_FUTURES_FEES,
        default_leverage: int = 20,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self._secret = api_secret.encode()
        self.spot_specs: dict[str, SymbolSpec] = {s.symbol: s for s in spot_symbols}
        self.perp_specs: dict[str, SymbolSpec] = {s.symbol: s for s in perp_symbols}
        self.spot_fees = spot_fees
        self.futures_fees = futures_fees
        self.default_leverage = default_leverage
        # state
        self.spot_free: dict[str, Decimal] = {}
        self.spot_locked: dict[str, Decimal] = {}
        for a in {s.base for s in self.spot_specs.values()} | {s.quote for s in self.spot_specs.values()}:
            self.spot_free[a] = ZERO
            self.spot_locked[a] = ZERO
        for a, v in (spot_balances or {}).items():
            self.spot_free[a] = Decimal(v)
            self.spot_locked.setdefault(a, ZERO)
        self.futures_wallet: dict[str, Decimal] = {s.quote: ZERO for s in self.perp_specs.values()}
        for a, v in (futures_balances or {}).items():
            self.futures_wallet[a] = Decimal(v)
        self.spot_prices: dict[str, Decimal] = {}
        self.perp_prices: dict[str, Decimal] = {}
        for sym, p in (prices or {}).items():
            if sym in self.spot_specs:
                self.spot_prices[sym] = Decimal(p)
            if sym in self.perp_specs:
                self.perp_prices[sym] = Decimal(p)
        self.positions: dict[str, Position] = {s: Position() for s in self.perp_specs}
        self.leverage: dict[str, int] = dict.fromkeys(self.perp_specs, default_leverage)
        self.orders: list[EmulatedOrder] = []
        self.transfers: list[dict[str, Any]] = []
        self.income: list[dict[str, Any]] = []  # USD-M income history (FUNDING_FEE rows from apply_funding)
        self._order_ids = {"spot": itertools.count(100_000_001), "linear": itertools.count(800_000_001)}
        self._trade_ids = itertools.count(5_000_001)
        self._tran_ids = itertools.count(300_000_001)
        self._cid_seq = itertools.count(1)
        self._created_ms = self.now_ms()
        self._routes: dict[tuple[str, str], Callable[[dict[str, str]], Any]] = self._route_table()
        self._signed_prefixes = ("/api/v3/", "/fapi/", "/sapi/")
        self._public = {
            ("GET", "/api/v3/ping"),
            ("GET", "/api/v3/time"),
            ("GET", "/api/v3/exchangeInfo"),
            ("GET", "/api/v3/ticker/price"),
            ("GET", "/api/v3/ticker/bookTicker"),
            ("GET", "/api/v3/ticker/24hr"),
            ("GET", "/api/v3/depth"),
            ("GET", "/fapi/v1/ping"),
            ("GET", "/fapi/v1/time"),
            ("GET", "/fapi/v1/exchangeInfo"),
            ("GET", "/fapi/v1/ticker/price"),
            ("GET", "/fapi/v1/ticker/bookTicker"),
            ("GET", "/fapi/v1/ticker/24hr"),
            ("GET", "/fapi/v1/premiumIndex"),
            ("GET", "/fapi/v1/fundingRate"),
        }
        #: base units quoted on each side of the spot book (``GET /api/v3/depth``)
        self.depth_qty = Decimal(1000)
        # funding_settlements (a replay's, oldest first): symbol, market time (ns), wall time (ms), rate, mark and the
        # payment booked (0 when flat)

    @classmethod
    def with_defaults(cls, api_key: str, api_secret: str, port: int = 0) -> BinanceEmulator:
        """A demo venue (for ``basis emulate binance``): spot 100,000 USDT, 10 ETH, 1 BTC; USD-M
        wallet 50,000 USDT; ETHUSDT 3000, BTCUSDT 60000."""
        return cls(
            api_key,
            api_secret,
            spot_balances={"USDT": Decimal(100_000), "ETH": Decimal(10), "BTC": Decimal(1)},
            futures_balances={"USDT": Decimal(50_000)},
            prices={"ETHUSDT": Decimal(3000), "BTCUSDT": Decimal(60_000)},
            port=port,
        )

    def venue_config(self, **over: Any) -> dict[str, Any]:
        """The manager's ``venue_config["binance"]`` for a client of this (started) emulator: its keys and
        ``base_url``, no client-side rate limit, a 30 s timeout, a 2 s ``recvWindow`` (a loaded machine can deliver
        a signed request late; the venue would rightly refuse it unplaced) and a 100 ms clock margin. ``over``
        replaces or adds settings."""
        return {"api_key": self.api_key, "api_secret": self._secret.decode(), "base_url": self.base_url,
                "enable_rate_limit": False, "timeout_ms": 30_000, "recv_window_ms": 2000, "clock_margin_ms": 100,
                **over}

    def __repr__(self) -> str:
        try:
            where = self.base_url
        except RuntimeError:
            where = "stopped"
        return f"BinanceEmulator({where}, api_key={self.api_key[:4]}..., orders={len(self.orders)})"

    # ------------------------------------------------------------------ test helpers (public)
    def set_price(self, symbol: str, price: Decimal, market: MarketKind | None = None) -> list[EmulatedOrder]:
        """Move the price of ``symbol`` (both markets unless ``market``); fill resting limits it crosses.

        Returns the orders filled by the move.
        """
        price = Decimal(price)
        filled: list[EmulatedOrder] = []
        with self.lock:
            if market in (None, "spot") and symbol in self.spot_specs:
                self.spot_prices[symbol] = price
            if market in (None, "linear") and symbol in self.perp_specs:
                self.perp_prices[symbol] = price
            for o in list(self.orders):
                if not o.is_open or o.symbol != symbol or (market is not None and o.market != market):
                    continue
                if o.market == "spot" and symbol in self.spot_specs and self._crosses(o, price):
                    self._spot_fill(o, o.price, o.remaining, maker=True)
                    filled.append(o)
                elif o.market == "linear" and symbol in self.perp_specs and self._crosses(o, price):
                    if o.reduce_only and self._reduce_qty(o) <= 0:
                        o.status = "EXPIRED"
                        o.update_time = self.now_ms()
                        continue
                    qty = min(o.remaining, self._reduce_qty(o)) if o.reduce_only else o.remaining
                    self._perp_fill(o, o.price, qty, maker=True)
                    if o.remaining > 0:
                        o.status = "EXPIRED"
                    filled.append(o)
        return filled

    def fill_order(self, client_order_id: str, qty: Decimal | None = None) -> EmulatedOrder:
        """Fill ``qty`` (default: all that remains) of the newest OPEN order with this client id.

        The fill is a maker fill at the order's limit price, as if the market traded through it;
        a partial ``qty`` leaves the order PARTIALLY_FILLED (to exercise partial-fill handling).
        """
        with self.lock:
            cands = [o for o in self.orders if o.client_order_id == client_order_id and o.is_open]
            if not cands:
                raise KeyError(f"no open order with client id {client_order_id!r}")
            o = cands[-1]
            q = o.remaining if qty is None else Decimal(qty)
            if q <= 0 or q > o.remaining:
                raise ValueError(f"fill qty {q} outside (0, {o.remaining}]")
            if o.market == "spot":
                self._spot_fill(o, o.price, q, maker=True)  # releases the whole lock
                if o.is_open:
                    self._spot_lock(o, self.spot_specs[o.symbol])  # re-lock what remains
            else:
                if o.reduce_only:
                    q = min(q, self._reduce_qty(o))
                    if q <= 0:
                        raise ValueError("reduce-only order has nothing to reduce")
                self._perp_fill(o, o.price, q, maker=True)
            return o

    def orders_for_client_id(self, client_order_id: str) -> list[EmulatedOrder]:
        """Every order (any market, any status) created with this client order id, oldest first."""
        with self.lock:
            return [o for o in self.orders if o.client_order_id == client_order_id]

    def open_orders(self, market: MarketKind | None = None) -> list[EmulatedOrder]:
        with self.lock:
            return [o for o in self.orders if o.is_open and (market is None or o.market == market)]

    def spot_balance(self, asset: str) -> tuple[Decimal, Decimal]:
        """(free, locked) of a spot asset."""
        with self.lock:
            return self.spot_free.get(asset, ZERO), self.spot_locked.get(asset, ZERO)

    def position(self, symbol: str) -> Position:
        with self.lock:
            p = self.positions[symbol]
            return Position(p.amount, p.entry_price, p.update_time)

    def apply_funding(self, symbol: str, rate: Decimal, at_ms: int | None = None) -> Decimal:
        """Settle one funding payment at the mark: longs pay ``rate x notional`` to shorts, booked at ``at_ms``
        (default now).

        Returns the wallet change (negative when paid).
        """
        with self.lock:
            pos = self.positions[symbol]
            spec = self.perp_specs[symbol]
            pay = (-(pos.amount * self.perp_prices[symbol] * Decimal(rate))).quantize(E8)  # paid in 1e-8 units
            self.futures_wallet[spec.quote] += pay
            self.income.append({"symbol": symbol, "incomeType": "FUNDING_FEE", "income": _s8(pay),
                                "asset": spec.quote, "info": "FUNDING_FEE",
                                "time": self.now_ms() if at_ms is None else at_ms,
                                "tranId": next(self._tran_ids), "tradeId": ""})
            return pay

    # ------------------------------------------------------------------ replayed market
    replay_subject = "price series for any Binance symbol"

    def replay_wanted(self) -> dict[str, tuple[Literal["price", "funding"], list[str]]]:
        """Series per listed symbol (the first that exists): spot ``spot:binance:ETH/USDT`` or ``spot:ETH/USDT``;
        perp mark ``perp:binance:ETH/USDT:USDT``; funding ``funding:binance:ETH/USDT:USDT``. Symbols without
        a series keep their fixed price (:meth:`attach_replay` follows them)."""
        wanted: dict[str, tuple[Literal["price", "funding"], list[str]]] = {}
        for sym, spec in self.spot_specs.items():
            pair = f"{spec.base}/{spec.quote}"
            wanted[f"spot:{sym}"] = ("price", [f"spot:binance:{pair}", f"spot:{pair}"])
        for sym, spec in self.perp_specs.items():
            u = f"{spec.base}/{spec.quote}:{spec.quote}"
            wanted[f"linear:{sym}"] = ("price", [f"perp:binance:{u}"])
            wanted[f"funding:{sym}"] = ("funding", [f"funding:binance:{u}"])
        return wanted

    def on_replay_event(self, ev: ReplayEvent) -> None:
        """A new spot / perp price, or a funding settlement (paid on an open position, recorded either way)."""
        kind, sym = ev.key.split(":", 1)
        if ev.kind == "price":
            self.set_price(sym, ev.value, "spot" if kind == "spot" else "linear")
            return
        at_ms = self.replay_wall_ms(ev.time_ns)
        pos = self.positions[sym].amount
        pay = self.apply_funding(sym, ev.value, at_ms) if pos != 0 else ZERO
        self.funding_settlements.append({"symbol": sym, "market_time_ns": ev.time_ns, "time": at_ms,
                                         "rate": ev.value, "mark": self.perp_prices[sym], "payment": pay})

    def _funding_rate_history(self, p: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /fapi/v1/fundingRate``: settled funding of a replay (``symbol``, ``startTime`` / ``endTime`` ms
        inclusive, ``limit`` default 100, max 1000), oldest first."""
        q = _ints(p, limit=100, startTime=None, endTime=None)
        limit = _check_range(q["limit"], 1, 1000, "limit")
        sym = p.get("symbol")
        if sym and sym not in self.perp_specs:
            raise BinanceError(-1121, "Invalid symbol.")
        start, end = q["startTime"], q["endTime"]
        rows = [r for r in self.funding_settlements if (not sym or r["symbol"] == sym)
                and (start is None or r["time"] >= start) and (end is None or r["time"] <= end)]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return [{"symbol": r["symbol"], "fundingTime": r["time"], "fundingRate": f"{r['rate']:.8f}",
                 "markPrice": _s(r["mark"])} for r in rows]

    def requests_for(self, method: str, path: str) -> list[Mapping[str, str]]:
        """Logged params of every request to ``method path`` (signature removed)."""
        with self.lock:
            return [r.params for r in self.request_log if r.method == method and r.path == path]

    # ------------------------------------------------------------------ server hooks
    def loggable_params(self, method: str, path: str, query: dict[str, str], body: bytes) -> dict[str, str]:
        params = dict(query)
        if body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        params.pop("signature", None)
        return params

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> Response:
        fn = self._routes.get((method, path))
        if fn is None:
            log.warning("BinanceEmulator: endpoint not served: %s %s", method, path)
            return json_response(404, {"code": -1000, "msg": f"emulator does not serve {method} {path}"})
        params = dict(query)
        text = body.decode("utf-8", "replace")
        if body:
            params.update(parse_qsl(text, keep_blank_values=True))
        self.replay_step()
        self._sync_deposits()
        try:
            if (method, path) not in self._public:
                self._authenticate(headers, self.raw_query(), text, params)
            result = fn(params)
        except BinanceError as e:
            log.info("BinanceEmulator %s %s -> %s %s", method, path, e.code, e.msg)
            return json_response(e.status, e.body())
        return json_response(200, result)

    # ------------------------------------------------------------------ authentication
    def _authenticate(
        self, headers: Mapping[str, str], raw_query: str, body: str, params: dict[str, str]
    ) -> None:
        key = headers.get("x-mbx-apikey")
        if not key:
            raise BinanceError(-2014, "API-key format invalid.", status=401)
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        signature: str | None = None
        payload_parts: list[str] = []
        for chunk in (raw_query, body):
            kept = []
            for part in chunk.split("&") if chunk else []:
                if part.startswith("signature="):
                    signature = part[len("signature=") :]
                else:
                    kept.append(part)
            if kept:
                payload_parts.append("&".join(kept))
        if signature is None:
            raise _missing("signature")
        payload = "".join(payload_parts)  # Binance: totalParams = query string concatenated with body
        expected = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        ts_raw = params.get("timestamp")
        if not ts_raw or not ts_raw.isdigit():
            raise _missing("timestamp")
        recv_raw = params.get("recvWindow", "5000")
        try:
            recv_window = int(Decimal(recv_raw))
        except InvalidOperation:
            raise _missing("recvWindow") from None
        if recv_window <= 0 or recv_window > MAX_RECV_WINDOW:
            raise BinanceError(-1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        ts = int(ts_raw)
        if ts >= now + 1000:
            raise BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - ts > recv_window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")

    # ------------------------------------------------------------------ routing
    def _route_table(self) -> dict[tuple[str, str], Callable[[dict[str, str]], Any]]:
        return {
            ("GET", "/api/v3/ping"): lambda p: {},
            ("GET", "/api/v3/time"): lambda p: {"serverTime": self.now_ms()},
            ("GET", "/api/v3/exchangeInfo"): self._spot_exchange_info,
            ("GET", "/api/v3/ticker/price"): lambda p: self._ticker_price("spot", p),
            ("GET", "/api/v3/ticker/bookTicker"): lambda p: self._book_ticker("spot", p),
            ("GET", "/api/v3/ticker/24hr"): lambda p: self._ticker_24h("spot", p),
            ("GET", "/api/v3/depth"): self._spot_depth,
            ("POST", "/api/v3/order"): self._spot_new_order,
            ("GET", "/api/v3/order"): lambda p: self._order_json(self._find_order("spot", p, "-2013")),
            ("DELETE", "/api/v3/order"): self._spot_cancel,
            ("POST", "/api/v3/order/cancelReplace"): self._spot_cancel_replace,
            ("GET", "/api/v3/openOrders"): lambda p: self._list_orders("spot", p, open_only=True),
            ("DELETE", "/api/v3/openOrders"): self._spot_cancel_all,
            ("GET", "/api/v3/allOrders"): lambda p: self._list_orders("spot", p, open_only=False),
            ("GET", "/api/v3/myTrades"): lambda p: self._trades("spot", p),
            ("GET", "/api/v3/account"): self._spot_account,
            ("GET", "/fapi/v1/ping"): lambda p: {},
            ("GET", "/fapi/v1/time"): lambda p: {"serverTime": self.now_ms()},
            ("GET", "/fapi/v1/exchangeInfo"): self._perp_exchange_info,
            ("GET", "/fapi/v1/ticker/price"): lambda p: self._ticker_price("linear", p),
            ("GET", "/fapi/v1/ticker/bookTicker"): lambda p: self._book_ticker("linear", p),
            ("GET", "/fapi/v1/ticker/24hr"): lambda p: self._ticker_24h("linear", p),
            ("GET", "/fapi/v1/premiumIndex"): self._premium_index,
            ("GET", "/fapi/v1/fundingRate"): self._funding_rate_history,
            ("POST", "/fapi/v1/order"): self._perp_new_order,
            ("GET", "/fapi/v1/order"): lambda p: self._order_json(self._find_order("linear", p, "-2013")),
            ("DELETE", "/fapi/v1/order"): self._perp_cancel,
            ("PUT", "/fapi/v1/order"): self._perp_modify,
            ("GET", "/fapi/v1/openOrders"): lambda p: self._list_orders("linear", p, open_only=True),
            ("DELETE", "/fapi/v1/allOpenOrders"): self._perp_cancel_all,
            ("GET", "/fapi/v1/allOrders"): lambda p: self._list_orders("linear", p, open_only=False),
            ("GET", "/fapi/v1/userTrades"): lambda p: self._trades("linear", p),
            ("GET", "/fapi/v1/income"): self._income,
            ("GET", "/fapi/v2/account"): lambda p: self._perp_account(v2=True),
            ("GET", "/fapi/v3/account"): lambda p: self._perp_account(v2=False),
            ("GET", "/fapi/v2/balance"): self._perp_balance,
            ("GET", "/fapi/v3/balance"): self._perp_balance,
            ("GET", "/fapi/v1/leverageBracket"): self._leverage_brackets,
            ("GET", "/fapi/v2/positionRisk"): lambda p: self._position_risk(p, v2=True),
            ("GET", "/fapi/v3/positionRisk"): lambda p: self._position_risk(p, v2=False),
            ("POST", "/fapi/v1/leverage"): self._set_leverage,
            ("POST", "/sapi/v1/asset/transfer"): self._transfer,
            ("GET", "/sapi/v1/asset/transfer"): self._transfer_history,
            **self._wallet_routes(),
        }

    # ------------------------------------------------------------------ public data
    def _spot_exchange_info(self, p: dict[str, str]) -> dict[str, Any]:
        symbols = []
        for s in self.spot_specs.values():
            symbols.append(
                {
                    "symbol": s.symbol,
                    "status": "TRADING",
                    "baseAsset": s.base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": s.quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "baseCommissionPrecision": 8,
                    "quoteCommissionPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                    "icebergAllowed": False,
                    "ocoAllowed": False,
                    "otoAllowed": False,
                    "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": False,
                    "cancelReplaceAllowed": True,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": _s8(s.tick_size),
                            "maxPrice": "1000000.00000000",
                            "tickSize": _s8(s.tick_size),
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": _s8(s.min_qty),
                            "maxQty": _s8(s.max_qty),
                            "stepSize": _s8(s.step_size),
                        },
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": _s8(s.min_notional),
                            "applyMinToMarket": True,
                            "maxNotional": "9000000.00000000",
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                    ],
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": [
                        "NONE",
                        "EXPIRE_TAKER",
                        "EXPIRE_MAKER",
                        "EXPIRE_BOTH",
                    ],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def _perp_exchange_info(self, p: dict[str, str]) -> dict[str, Any]:
        symbols = []
        for s in self.perp_specs.values():
            symbols.append(
                {
                    "symbol": s.symbol,
                    "pair": s.symbol,
                    "contractType": "PERPETUAL",
                    "deliveryDate": 4133404800000,
                    "onboardDate": 1569398400000,
                    "status": "TRADING",
                    "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000",
                    "baseAsset": s.base,
                    "quoteAsset": s.quote,
                    "marginAsset": s.quote,
                    "pricePrecision": max(0, -s.tick_size.normalize().as_tuple().exponent),  # type: ignore[operator]
                    "quantityPrecision": max(0, -s.step_size.normalize().as_tuple().exponent),  # type: ignore[operator]
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "underlyingType": "COIN",
                    "underlyingSubType": ["Layer-1"],
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0.015000",
                    "marketTakeBound": "0.05",
                    "maxMoveOrderLimit": 10000,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": _s(s.tick_size),
                            "maxPrice": "1000000",
                            "tickSize": _s(s.tick_size),
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": _s(s.min_qty),
                            "maxQty": _s(s.max_qty),
                            "stepSize": _s(s.step_size),
                        },
                        {
                            "filterType": "MARKET_LOT_SIZE",
                            "minQty": _s(s.min_qty),
                            "maxQty": _s(s.max_qty),
                            "stepSize": _s(s.step_size),
                        },
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                        {"filterType": "MIN_NOTIONAL", "notional": _s(s.min_notional)},
                        {
                            "filterType": "PERCENT_PRICE",
                            "multiplierUp": "1.0500",
                            "multiplierDown": "0.9500",
                            "multiplierDecimal": "4",
                        },
                    ],
                    "orderTypes": ["LIMIT", "MARKET"],
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            ],
            "exchangeFilters": [],
            "assets": [
                {"asset": q, "marginAvailable": True, "autoAssetExchange": "-10000"}
                for q in sorted({s.quote for s in self.perp_specs.values()})
            ],
            "symbols": symbols,
        }

    def _prices(self, market: MarketKind) -> dict[str, Decimal]:
        return self.spot_prices if market == "spot" else self.perp_prices

    def _price_of(self, market: MarketKind, symbol: str) -> Decimal:
        specs = self.spot_specs if market == "spot" else self.perp_specs
        if symbol not in specs:
            raise BinanceError(-1121, "Invalid symbol.")
        px = self._prices(market).get(symbol)
        if px is None:
            raise BinanceError(-1121, "Invalid symbol.")  # listed but never priced: treat as not trading
        return px

    def _selected(self, market: MarketKind, p: dict[str, str]) -> list[str]:
        sym = p.get("symbol")
        if sym:
            self._price_of(market, sym)
            return [sym]
        if p.get("symbols"):  # a JSON list, e.g. ["ETHUSDT","BTCUSDT"]
            try:
                syms = json.loads(p["symbols"])
            except ValueError:
                raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'.") from None
            for s in syms:
                self._price_of(market, s)
            return list(syms)
        return sorted(self._prices(market))

    def _ticker_price(self, market: MarketKind, p: dict[str, str]) -> Any:
        out = [
            {"symbol": s, "price": _s(self._prices(market)[s]), "time": self.now_ms()}
            for s in self._selected(market, p)
        ]
        return out[0] if p.get("symbol") else out

    def _book_ticker(self, market: MarketKind, p: dict[str, str]) -> Any:
        out = []
        for s in self._selected(market, p):
            px = _s(self._prices(market)[s])
            out.append(
                {
                    "symbol": s,
                    "bidPrice": px,
                    "bidQty": "1000",
                    "askPrice": px,
                    "askQty": "1000",
                    "time": self.now_ms(),
                }
            )
        return out[0] if p.get("symbol") else out

    def _spot_depth(self, p: dict[str, str]) -> Any:
        """``GET /api/v3/depth``: the book a market order here fills against -- one level each side at the
        symbol's price (this emulator fills every market order at that price), ``depth_qty`` deep."""
        sym = p.get("symbol")
        if not sym:
            raise _missing("symbol")
        px = _s(self._price_of("spot", sym))
        level = [[px, _s(self.depth_qty)]]
        return {"lastUpdateId": next(self._trade_ids), "bids": level, "asks": level}

    def _ticker_24h(self, market: MarketKind, p: dict[str, str]) -> Any:
        """Spot tickers carry bid/ask (ccxt tells spot from futures tickers by ``bidQty``)."""
        now = self.now_ms()
        out = []
        for s in self._selected(market, p):
            px = _s(self._prices(market)[s])
            t: dict[str, Any] = {
                "symbol": s,
                "priceChange": "0",
                "priceChangePercent": "0",
                "weightedAvgPrice": px,
                "lastPrice": px,
                "lastQty": "0",
                "openPrice": px,
                "highPrice": px,
                "lowPrice": px,
                "volume": "0",
                "quoteVolume": "0",
                "openTime": now - 86_400_000,
                "closeTime": now,
                "firstId": -1,
                "lastId": -1,
                "count": 0,
            }
            if market == "spot":
                t.update({"prevClosePrice": px, "bidPrice": px, "bidQty": "0", "askPrice": px, "askQty": "0"})
            out.append(t)
        return out[0] if p.get("symbol") else out

    def _premium_index(self, p: dict[str, str]) -> Any:
        """Mark, index and the next funding; with a replay, the index is the spot price and the funding the
        schedule's next rate and the wall time the replay clock reaches it (0 when none is left)."""
        now = self.now_ms()
        out = []
        for s in self._selected("linear", p):
            px = _s(self.perp_prices[s])
            rate, nxt = "0.00010000", (now // 28_800_000 + 1) * 28_800_000
            if self.replay is not None and any(f.key == f"funding:{s}" for f in self.replay.feeds):
                upcoming = self.replay.predicted_funding(f"funding:{s}")
                rate, nxt = ("0.00000000", 0) if upcoming is None else (
                    f"{upcoming[1]:.8f}", int(self.replay.clock.wall_at(upcoming[0]) * 1000))
            out.append(
                {
                    "symbol": s,
                    "markPrice": px,
                    "indexPrice": _s(self.spot_prices.get(s, self.perp_prices[s])) if self.replay else px,
                    "estimatedSettlePrice": px,
                    "lastFundingRate": rate,
                    "interestRate": "0.00010000",
                    "nextFundingTime": nxt,
                    "time": now,
                }
            )
        return out[0] if p.get("symbol") else out

    # ------------------------------------------------------------------ orders: shared
    def _new_client_id(self) -> str:
        return f"emu{next(self._cid_seq):020d}"

    def _find_order(self, market: MarketKind, p: dict[str, str], not_found: str) -> EmulatedOrder:
        sym = p.get("symbol")
        if not sym:
            raise _missing("symbol")
        oid = p.get("orderId")
        cid = p.get("origClientOrderId")
        if not oid and not cid:
            raise BinanceError(
                -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        match: EmulatedOrder | None = None
        for o in self.orders:
            if o.market != market or o.symbol != sym:
                continue
            if oid and str(o.order_id) != oid:
                continue
            if cid and o.client_order_id != cid:
                continue
            match = o  # latest wins
        if match is None:
            if not_found == "-2011":
                raise BinanceError(-2011, "Unknown order sent.")
            raise BinanceError(-2013, "Order does not exist.")
        return match

    def _list_orders(self, market: MarketKind, p: dict[str, str], open_only: bool) -> list[dict[str, Any]]:
        sym = p.get("symbol")
        if sym:
            self._price_of(market, sym)
        elif not open_only:
            raise _missing("symbol")
        return [
            self._order_json(o)
            for o in self.orders
            if o.market == market and (not sym or o.symbol == sym) and (o.is_open or not open_only)
        ]

    def _trades(self, market: MarketKind, p: dict[str, str]) -> list[dict[str, Any]]:
        """``myTrades`` / ``userTrades``: the account's trades of ``symbol``, filtered as Binance does by
        ``orderId``, ``fromId`` (trade id, inclusive), ``startTime`` / ``endTime`` (ms, inclusive), at most
        ``limit`` (default 500, max 1000): the oldest from ``fromId`` on, else the most recent."""
        sym = p.get("symbol")
        if not sym:
            raise _missing("symbol")
        q = _ints(p, limit=500, orderId=None, fromId=None, startTime=None, endTime=None)
        limit = _check_range(q["limit"], 1, 1000, "limit")
        order_id, from_id, start, end = q["orderId"], q["fromId"], q["startTime"], q["endTime"]
        out: list[dict[str, Any]] = []
        for o in self.orders:
            if o.market != market or o.symbol != sym or (order_id is not None and o.order_id != order_id):
                continue
            for f in o.fills:
                if ((from_id is not None and f.trade_id < from_id) or (start is not None and f.time < start)
                        or (end is not None and f.time > end)):
                    continue
                t: dict[str, Any] = {
                    "symbol": o.symbol,
                    "id": f.trade_id,
                    "orderId": o.order_id,
                    "price": _s(f.price),
                    "qty": _s(f.qty),
                    "quoteQty": _s(f.quote_qty),
                    "commission": _s8(f.commission),
                    "commissionAsset": f.commission_asset,
                    "time": f.time,
                    "maker": f.maker,
                }
                if market == "spot":
                    t.update(
                        {
                            "orderListId": -1,
                            "isBuyer": o.side == "BUY",
                            "isMaker": f.maker,
                            "isBestMatch": True,
                        }
                    )
                else:
                    t.update(
                        {
                            "side": o.side,
                            "buyer": o.side == "BUY",
                            "positionSide": "BOTH",
                            "realizedPnl": _s(f.realized_pnl),
                            "marginAsset": self.perp_specs[o.symbol].quote,
                        }
                    )
                out.append(t)
        out.sort(key=lambda t: t["id"])
        return out[:limit] if from_id is not None else out[-limit:]

    def _income(self, p: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /fapi/v1/income``: the income history filtered by ``symbol``, ``incomeType``, ``startTime`` /
        ``endTime`` (ms, inclusive; neither: the last 7 days), oldest first, at most ``limit`` (default 100,
        max 1000)."""
        q = _ints(p, limit=100, startTime=None, endTime=None)
        limit = _check_range(q["limit"], 1, 1000, "limit")
        start, end = q["startTime"], q["endTime"]
        if start is None and end is None:
            start = self.now_ms() - 7 * 24 * 3600 * 1000
        rows = [r for r in self.income
                if (not p.get("symbol") or r["symbol"] == p["symbol"])
                and (not p.get("incomeType") or r["incomeType"] == p["incomeType"])
                and (start is None or r["time"] >= start) and (end is None or r["time"] <= end)]
        return [dict(r) for r in rows[:limit]]

    def _order_json(self, o: EmulatedOrder, resp_type: str = "RESULT") -> dict[str, Any]:
        if o.market == "spot":
            d: dict[str, Any] = {
                "symbol": o.symbol,
                "orderId": o.order_id,
                "orderListId": -1,
                "clientOrderId": o.client_order_id,
            }
            if resp_type == "ACK":
                d["transactTime"] = o.time
                return d
            d.update(
                {
                    "price": _s8(o.price),
                    "origQty": _s8(o.orig_qty),
                    "executedQty": _s8(o.executed_qty),
                    "origQuoteOrderQty": "0.00000000",
                    "cummulativeQuoteQty": _s8(o.cum_quote),
                    "status": o.status,
                    "timeInForce": o.time_in_force or "GTC",
                    "type": o.type,
                    "side": o.side,
                    "stopPrice": "0.00000000",
                    "icebergQty": "0.00000000",
                    "time": o.time,
                    "updateTime": o.update_time,
                    "isWorking": o.is_open,
                    "workingTime": o.time,
                    "selfTradePreventionMode": "EXPIRE_MAKER",
                }
            )
            if resp_type == "FULL":
                d.pop("stopPrice")
                d.pop("icebergQty")
                d.pop("time")
                d.pop("updateTime")
                d.pop("isWorking")
                d["transactTime"] = o.update_time
                d["fills"] = [
                    {
                        "price": _s8(f.price),
                        "qty": _s8(f.qty),
                        "commission": _s8(f.commission),
                        "commissionAsset": f.commission_asset,
                        "tradeId": f.trade_id,
                    }
                    for f in o.fills
                ]
            return d
        d = {
            "orderId": o.order_id,
            "symbol": o.symbol,
            "status": o.status,
            "clientOrderId": o.client_order_id,
            "price": _s(o.price),
            "avgPrice": _s(o.avg_price),
            "origQty": _s(o.orig_qty),
            "executedQty": _s(o.executed_qty),
            "cumQty": _s(o.executed_qty),
            "cumQuote": _s(o.cum_quote),
            "timeInForce": o.time_in_force or "GTC",
            "type": o.type,
            "reduceOnly": o.reduce_only,
            "closePosition": False,
            "side": o.side,
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": o.type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
            "time": o.time,
            "updateTime": o.update_time,
        }
        if resp_type == "ACK":  # futures ACK: the order as just accepted
            d.update({"status": "NEW", "executedQty": "0", "cumQty": "0", "cumQuote": "0", "avgPrice": "0"})
        return d

    @staticmethod
    def _crosses(o: EmulatedOrder, price: Decimal) -> bool:
        """Whether a limit order is marketable at ``price``."""
        return price <= o.price if o.side == "BUY" else price >= o.price

    @staticmethod
    def _side(p: dict[str, str]) -> str:
        side = p.get("side", "")
        if not side:
            raise _missing("side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        return side

    def _check_duplicate(self, market: MarketKind, cid: str) -> None:
        for o in self.orders:
            if o.market == market and o.is_open and o.client_order_id == cid:
                if market == "spot":
                    raise BinanceError(-2010, "Duplicate order sent.")
                raise BinanceError(-4116, "ClientOrderId is duplicated.")

    # ------------------------------------------------------------------ spot
    def _spot_validate(
        self, spec: SymbolSpec, qty: Decimal, price: Decimal | None, ref_price: Decimal
    ) -> None:
        if qty <= 0 or qty < spec.min_qty or qty > spec.max_qty or qty % spec.step_size != 0:
            raise BinanceError(-1013, "Filter failure: LOT_SIZE")
        if price is not None and (price <= 0 or price % spec.tick_size != 0):
            raise BinanceError(-1013, "Filter failure: PRICE_FILTER")
        if qty * (price if price is not None else ref_price) < spec.min_notional:
            raise BinanceError(-1013, "Filter failure: NOTIONAL")

    def _spot_new_order(self, p: dict[str, str]) -> dict[str, Any]:
        order = self._spot_place(p, p.get("newClientOrderId") or self._new_client_id())
        return self._order_json(
            order, p.get("newOrderRespType") or ("FULL" if order.type in ("MARKET", "LIMIT") else "ACK")
        )

    def _spot_place(self, p: dict[str, str], cid: str) -> EmulatedOrder:
        sym = p.get("symbol")
        if not sym:
            raise _missing("symbol")
        mkt = self._price_of("spot", sym)
        spec = self.spot_specs[sym]
        side = self._side(p)
        typ = p.get("type", "")
        if not typ:
            raise _missing("type")
        if typ not in ("MARKET", "LIMIT", "LIMIT_MAKER"):
            raise BinanceError(-1116, "Invalid orderType.")
        tif = p.get("timeInForce")
        if typ == "LIMIT" and not tif:
            raise _missing("timeInForce")
        if tif is not None and tif not in ("GTC", "IOC", "FOK"):
            raise BinanceError(-1115, "Invalid timeInForce.")
        self._check_duplicate("spot", cid)
        now = self.now_ms()
        if typ == "MARKET":
            qty = _dec(p, "quantity", required=False)
            quote_qty = _dec(p, "quoteOrderQty", required=False)
            if qty is None and quote_qty is None:
                raise BinanceError(
                    -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
                )
            if qty is None:
                assert quote_qty is not None
                qty = (quote_qty / mkt).quantize(spec.step_size, rounding=ROUND_DOWN)
            self._spot_validate(spec, qty, None, mkt)
            self._spot_check_funds(spec, side, qty, mkt)
            o = EmulatedOrder(
                "spot", next(self._order_ids["spot"]), cid, sym, side, typ, None, ZERO, qty, now, now
            )
            self.orders.append(o)
            self._spot_fill(o, mkt, qty, maker=False)
            return o
        price = _dec(p, "price")
        qty = _dec(p, "quantity")
        assert price is not None and qty is not None
        self._spot_validate(spec, qty, price, mkt)
        o = EmulatedOrder(
            "spot", 0, cid, sym, side, typ, tif if typ == "LIMIT" else None, price, qty, now, now
        )
        marketable = self._crosses(o, mkt)
        if typ == "LIMIT_MAKER" and marketable:
            raise BinanceError(-2010, "Order would immediately match and take.")
        self._spot_check_funds(spec, side, qty, price)
        o.order_id = next(self._order_ids["spot"])
        self.orders.append(o)
        if marketable:
            self._spot_fill(o, mkt, qty, maker=False)
        elif tif in ("IOC", "FOK"):
            o.status = "EXPIRED"
        else:
            self._spot_lock(o, spec)
        return o

    def _spot_check_funds(self, spec: SymbolSpec, side: str, qty: Decimal, price: Decimal) -> None:
        need, asset = (qty * price, spec.quote) if side == "BUY" else (qty, spec.base)
        if self.spot_free.get(asset, ZERO) < need:
            raise BinanceError(-2010, "Account has insufficient balance for requested action.")

    def _spot_lock(self, o: EmulatedOrder, spec: SymbolSpec) -> None:
        asset = spec.quote if o.side == "BUY" else spec.base
        amount = o.remaining * o.price if o.side == "BUY" else o.remaining
        self.spot_free[asset] -= amount
        self.spot_locked[asset] = self.spot_locked.get(asset, ZERO) + amount
        o.locked = amount

    def _spot_unlock(self, o: EmulatedOrder) -> None:
        spec = self.spot_specs[o.symbol]
        asset = spec.quote if o.side == "BUY" else spec.base
        self.spot_locked[asset] -= o.locked
        self.spot_free[asset] += o.locked
        o.locked = ZERO

    def _spot_fill(self, o: EmulatedOrder, price: Decimal, qty: Decimal, maker: bool) -> None:
        spec = self.spot_specs[o.symbol]
        self._spot_unlock(o)
        rate = self.spot_fees.maker if maker else self.spot_fees.taker
        quote = qty * price
        if o.side == "BUY":
            fee, fee_asset = _ceil8(qty * rate), spec.base
            self.spot_free[spec.quote] -= quote
            self.spot_free[spec.base] = self.spot_free.get(spec.base, ZERO) + qty - fee
        else:
            fee, fee_asset = _ceil8(quote * rate), spec.quote
            self.spot_free[spec.base] -= qty
            self.spot_free[spec.quote] = self.spot_free.get(spec.quote, ZERO) + quote - fee
        now = self.now_ms()
        o.fills.append(Fill(next(self._trade_ids), price, qty, quote, fee, fee_asset, maker, now))
        o.executed_qty += qty
        o.cum_quote += quote
        o.status = "FILLED" if o.remaining == 0 else "PARTIALLY_FILLED"
        o.update_time = now

    def _spot_cancel(self, p: dict[str, str]) -> dict[str, Any]:
        o = self._find_order("spot", p, "-2011")
        if not o.is_open:
            raise BinanceError(-2011, "Unknown order sent.")
        self._spot_unlock(o)
        o.status = "CANCELED"
        o.update_time = self.now_ms()
        d = self._order_json(o)
        for k in ("time", "updateTime", "isWorking", "workingTime"):
            d.pop(k, None)
        d["origClientOrderId"] = o.client_order_id
        d["clientOrderId"] = p.get("newClientOrderId") or self._new_client_id()
        d["transactTime"] = o.update_time
        return d

    def _spot_cancel_all(self, p: dict[str, str]) -> list[dict[str, Any]]:
        sym = p.get("symbol")
        if not sym:
            raise _missing("symbol")
        self._price_of("spot", sym)
        targets = [o for o in self.orders if o.market == "spot" and o.symbol == sym and o.is_open]
        if not targets:
            raise BinanceError(-2011, "Unknown order sent.")
        return [self._spot_cancel({"symbol": sym, "orderId": str(o.order_id)}) for o in targets]

    def _spot_cancel_replace(self, p: dict[str, str]) -> dict[str, Any]:
        mode = p.get("cancelReplaceMode")
        if not mode:
            raise _missing("cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise BinanceError(-1145, "Invalid cancelRestrictions")
        lookup = {"symbol": p.get("symbol", "")}
        if p.get("cancelOrderId"):
            lookup["orderId"] = p["cancelOrderId"]
        if p.get("cancelOrigClientOrderId"):
            lookup["origClientOrderId"] = p["cancelOrigClientOrderId"]
        if "orderId" not in lookup and "origClientOrderId" not in lookup:
            raise BinanceError(
                -1102,
                "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!",
            )
        try:
            cancel = self._spot_cancel(
                {
                    **lookup,
                    **(
                        {"newClientOrderId": p["cancelNewClientOrderId"]}
                        if p.get("cancelNewClientOrderId")
                        else {}
                    ),
                }
            )
        except BinanceError as e:
            if mode == "STOP_ON_FAILURE":
                raise BinanceError(
                    -2022,
                    "Order cancel-replace failed.",
                    data={
                        "cancelResult": "FAILURE",
                        "newOrderResult": "NOT_ATTEMPTED",
                        "cancelResponse": e.body(),
                        "newOrderResponse": None,
                    },
                ) from None
            cancel = e.body()
        try:
            new_order = self._spot_place(p, p.get("newClientOrderId") or self._new_client_id())
        except BinanceError as e:
            raise BinanceError(
                -2021,
                "Order cancel-replace partially failed.",
                status=409,
                data={
                    "cancelResult": "SUCCESS" if "orderId" in cancel else "FAILURE",
                    "newOrderResult": "FAILURE",
                    "cancelResponse": cancel,
                    "newOrderResponse": e.body(),
                },
            ) from None
        return {
            "cancelResult": "SUCCESS" if "orderId" in cancel else "FAILURE",
            "newOrderResult": "SUCCESS",
            "cancelResponse": cancel,
            "newOrderResponse": self._order_json(new_order, p.get("newOrderRespType") or "FULL"),
        }

    def _spot_account(self, p: dict[str, str]) -> dict[str, Any]:
        assets = sorted(set(self.spot_free) | set(self.spot_locked))
        return {
            "makerCommission": int(self.spot_fees.maker * 10_000),
            "takerCommission": int(self.spot_fees.taker * 10_000),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": _s8(self.spot_fees.maker),
                "taker": _s8(self.spot_fees.taker),
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.now_ms(),
            "accountType": "SPOT",
            "balances": [
                {
                    "asset": a,
                    "free": _s8(self.spot_free.get(a, ZERO)),
                    "locked": _s8(self.spot_locked.get(a, ZERO)),
                }
                for a in assets
            ],
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    # ------------------------------------------------------------------ futures
    def _unrealized(self, symbol: str) -> Decimal:
        pos = self.positions[symbol]
        mark = self.perp_prices.get(symbol)
        if pos.amount == 0 or mark is None:
            return ZERO
        return pos.amount * (mark - pos.entry_price)

    def _notional(self, symbol: str) -> Decimal:
        mark = self.perp_prices.get(symbol, ZERO)
        return self.positions[symbol].amount * mark

    def _position_im(self, symbol: str) -> Decimal:
        return abs(self._notional(symbol)) / self.leverage[symbol]

    def _order_im(self, symbol: str | None = None) -> Decimal:
        total = ZERO
        for o in self.orders:
            if (
                o.market == "linear"
                and o.is_open
                and not o.reduce_only
                and (symbol is None or o.symbol == symbol)
            ):
                total += o.remaining * o.price / self.leverage[o.symbol]
        return total

    def _maint_margin(self, symbol: str) -> Decimal:
        notional = abs(self._notional(symbol))
        if notional == 0:
            return ZERO
        for floor_, cap, _lev, mmr, cum in DEFAULT_BRACKETS:
            if floor_ <= notional < cap:
                return notional * mmr - cum
        _f, _c, _l, mmr, cum = DEFAULT_BRACKETS[-1]
        return notional * mmr - cum

    def _asset_state(self, asset: str) -> dict[str, Decimal]:
        syms = [s for s, spec in self.perp_specs.items() if spec.quote == asset]
        wallet = self.futures_wallet.get(asset, ZERO)
        upnl = sum((self._unrealized(s) for s in syms), ZERO)
        pos_im = sum((self._position_im(s) for s in syms), ZERO)
        ord_im = sum((self._order_im(s) for s in syms), ZERO)
        mm = sum((self._maint_margin(s) for s in syms), ZERO)
        margin_balance = wallet + upnl
        available = max(ZERO, margin_balance - pos_im - ord_im)
        return {
            "wallet": wallet,
            "upnl": upnl,
            "margin_balance": margin_balance,
            "pos_im": pos_im,
            "ord_im": ord_im,
            "im": pos_im + ord_im,
            "mm": mm,
            "available": available,
            "max_withdraw": max(ZERO, min(available, wallet)),
        }

    def _perp_validate(
        self, spec: SymbolSpec, qty: Decimal, price: Decimal | None, ref: Decimal, reduce_only: bool
    ) -> None:
        if qty <= 0:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        if qty % spec.step_size != 0:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        if qty < spec.min_qty:
            raise BinanceError(-4004, "Quantity less than min quantity.")
        if qty > spec.max_qty:
            raise BinanceError(-4005, "Quantity greater than max quantity.")
        if price is not None:
            if price <= 0:
                raise BinanceError(-4001, "Price less than 0.")
            if price % spec.tick_size != 0:
                raise BinanceError(-4014, "Price not increased by tick size.")
        if not reduce_only and qty * (price if price is not None else ref) < spec.min_notional:
            raise BinanceError(
                -4164,
                f"Order's notional must be no smaller than {_s(spec.min_notional)} "
                "(unless you choose reduce only).",
            )

    def _reduce_qty(self, o: EmulatedOrder) -> Decimal:
        """How much of a reduce-only order may execute now (0 if it would increase the position)."""
        amt = self.positions[o.symbol].amount
        if (o.side == "BUY" and amt < 0) or (o.side == "SELL" and amt > 0):
            return abs(amt)
        return ZERO

    def _added_exposure(self, symbol: str, side: str, qty: Decimal) -> Decimal:
        amt = self.positions[symbol].amount
        new = amt + (qty if side == "BUY" else -qty)
        if amt == 0 or (new > 0) == (amt > 0) or new == 0:
            return max(ZERO, abs(new) - abs(amt))
        return abs(new)  # flipped: the whole new side is new exposure

    def _perp_check_margin(
        self, spec: SymbolSpec, side: str, qty: Decimal, price: Decimal, taker: bool
    ) -> None:
        add = self._added_exposure(spec.symbol, side, qty)
        if add == 0:
            return
        need = add * price / self.leverage[spec.symbol]
        if taker:
            need += qty * price * self.futures_fees.taker
        if need > self._asset_state(spec.quote)["available"]:
            raise BinanceError(-2019, "Margin is insufficient.")

    def _perp_new_order(self, p: dict[str, str]) -> dict[str, Any]:
        sym = p.get("symbol")
        if not sym:
            raise _missing("symbol")
        mark = self._price_of("linear", sym)
        spec = self.perp_specs[sym]
        side = self._side(p)
        typ = p.get("type", "")
        if not typ:
            raise _missing("type")
        if typ not in ("MARKET", "LIMIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        if p.get("positionSide", "BOTH") != "BOTH":
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        reduce_only = p.get("reduceOnly", "false").lower() == "true"
        tif = p.get("timeInForce")
        if typ == "LIMIT" and not tif:
            raise _missing("timeInForce")
        if tif is not None and tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise BinanceError(-1115, "Invalid timeInForce.")
        cid = p.get("newClientOrderId") or self._new_client_id()
        self._check_duplicate("linear", cid)
        qty = _dec(p, "quantity")
        assert qty is not None
        price = _dec(p, "price") if typ == "LIMIT" else None
        self._perp_validate(spec, qty, price, mark, reduce_only)
        now = self.now_ms()
        o = EmulatedOrder(
            "linear", 0, cid, sym, side, typ, tif if typ == "LIMIT" else None, price or ZERO, qty, now, now
        )
        o.reduce_only = reduce_only
        marketable = typ == "MARKET" or self._crosses(o, mark)
        if tif == "GTX" and marketable:
            raise BinanceError(
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be rejected. "
                "The order will not be recorded in the order history",
            )
        if reduce_only and self._reduce_qty(o) == 0:
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")
        if not reduce_only:
            self._perp_check_margin(spec, side, qty, mark if marketable else o.price, taker=marketable)
        o.order_id = next(self._order_ids["linear"])
        self.orders.append(o)
        if marketable:
            fill_qty = min(qty, self._reduce_qty(o)) if reduce_only else qty
            self._perp_fill(o, mark, fill_qty, maker=False)
            if o.remaining > 0:
                o.status = "EXPIRED"
        elif tif in ("IOC", "FOK"):
            o.status = "EXPIRED"
        return self._order_json(o, p.get("newOrderRespType") or "ACK")

    def _perp_fill(self, o: EmulatedOrder, price: Decimal, qty: Decimal, maker: bool) -> None:
        spec = self.perp_specs[o.symbol]
        pos = self.positions[o.symbol]
        signed = qty if o.side == "BUY" else -qty
        realized = ZERO
        amt = pos.amount
        if amt == 0 or (amt > 0) == (signed > 0):
            new = amt + signed
            pos.entry_price = (abs(amt) * pos.entry_price + qty * price) / abs(new)
            pos.amount = new
        else:
            closed = min(abs(amt), qty)
            direction = 1 if amt > 0 else -1
            realized = closed * (price - pos.entry_price) * direction
            new = amt + signed
            if new == 0:
                pos.amount, pos.entry_price = ZERO, ZERO
            elif (new > 0) == (amt > 0):
                pos.amount = new
            else:
                pos.amount, pos.entry_price = new, price
        rate = self.futures_fees.maker if maker else self.futures_fees.taker
        fee = _ceil8(qty * price * rate)
        self.futures_wallet[spec.quote] = self.futures_wallet.get(spec.quote, ZERO) + realized - fee
        now = self.now_ms()
        pos.update_time = now
        o.fills.append(
            Fill(next(self._trade_ids), price, qty, qty * price, fee, spec.quote, maker, now, realized)
        )
        o.executed_qty += qty
        o.cum_quote += qty * price
        o.status = "FILLED" if o.remaining == 0 else "PARTIALLY_FILLED"
        o.update_time = now

    def _perp_cancel(self, p: dict[str, str]) -> dict[str, Any]:
        o = self._find_order("linear", p, "-2011")
        if not o.is_open:
            raise BinanceError(-2011, "Unknown order sent.")
        o.status = "CANCELED"
        o.update_time = self.now_ms()
        return self._order_json(o)

    def _perp_cancel_all(self, p: dict[str, str]) -> dict[str, Any]:
        sym = p.get("symbol")
        if not sym:
            raise _missing("symbol")
        self._price_of("linear", sym)
        now = self.now_ms()
        for o in self.orders:
            if o.market == "linear" and o.symbol == sym and o.is_open:
                o.status = "CANCELED"
                o.update_time = now
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def _perp_modify(self, p: dict[str, str]) -> dict[str, Any]:
        o = self._find_order("linear", p, "-2013")
        if not o.is_open:
            raise BinanceError(-2013, "Order does not exist.")
        if o.type != "LIMIT":
            raise BinanceError(-4028, "Only limit order is supported.")  # modify applies to LIMIT orders only
        side = self._side(p)
        if side != o.side:
            raise BinanceError(-1117, "Invalid side.")
        qty = _dec(p, "quantity")
        price = _dec(p, "price")
        assert qty is not None and price is not None
        spec = self.perp_specs[o.symbol]
        mark = self.perp_prices[o.symbol]
        self._perp_validate(spec, qty, price, mark, o.reduce_only)
        if qty <= o.executed_qty:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        old = (o.price, o.orig_qty)
        o.price, o.orig_qty = price, qty
        marketable = self._crosses(o, mark)
        if o.time_in_force == "GTX" and marketable:
            o.price, o.orig_qty = old
            raise BinanceError(
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be rejected. "
                "The order will not be recorded in the order history",
            )
        if not o.reduce_only:
            o.status = "CANCELED"  # exclude itself from the open-order margin while checking
            try:
                self._perp_check_margin(
                    spec, side, o.remaining, mark if marketable else price, taker=marketable
                )
            except BinanceError:
                o.price, o.orig_qty = old
                raise
            finally:
                o.status = "NEW" if o.executed_qty == 0 else "PARTIALLY_FILLED"
        o.update_time = self.now_ms()
        if marketable:
            fill_qty = min(o.remaining, self._reduce_qty(o)) if o.reduce_only else o.remaining
            if fill_qty > 0:
                self._perp_fill(o, mark, fill_qty, maker=False)
            if o.remaining > 0:
                o.status = "EXPIRED"
        return self._order_json(o)

    def _perp_account(self, v2: bool) -> dict[str, Any]:
        now = self.now_ms()
        assets = []
        tot = dict.fromkeys(
            ("wallet", "upnl", "margin_balance", "pos_im", "ord_im", "im", "mm", "available", "max_withdraw"),
            ZERO,
        )
        for asset in sorted(self.futures_wallet):
            st = self._asset_state(asset)
            for k in tot:
                tot[k] += st[k]
            a = {
                "asset": asset,
                "walletBalance": _s(st["wallet"]),
                "unrealizedProfit": _s(st["upnl"]),
                "marginBalance": _s(st["margin_balance"]),
                "maintMargin": _s(st["mm"]),
                "initialMargin": _s(st["im"]),
                "positionInitialMargin": _s(st["pos_im"]),
                "openOrderInitialMargin": _s(st["ord_im"]),
                "crossWalletBalance": _s(st["wallet"]),
                "crossUnPnl": _s(st["upnl"]),
                "availableBalance": _s(st["available"]),
                "maxWithdrawAmount": _s(st["max_withdraw"]),
                "updateTime": now,
            }
            if v2:
                a["marginAvailable"] = True
            assets.append(a)
        positions = []
        for sym in self.perp_specs:
            pos = self.positions[sym]
            if not v2 and pos.amount == 0 and self._order_im(sym) == 0:
                continue
            d: dict[str, Any] = {
                "symbol": sym,
                "positionSide": "BOTH",
                "positionAmt": _s(pos.amount),
                "unrealizedProfit": _s(self._unrealized(sym)),
                "isolatedMargin": "0",
                "notional": _s(self._notional(sym)),
                "isolatedWallet": "0",
                "initialMargin": _s(self._position_im(sym) + self._order_im(sym)),
                "maintMargin": _s(self._maint_margin(sym)),
                "updateTime": pos.update_time,
            }
            if v2:
                d.update(
                    {
                        "positionInitialMargin": _s(self._position_im(sym)),
                        "openOrderInitialMargin": _s(self._order_im(sym)),
                        "leverage": str(self.leverage[sym]),
                        "isolated": False,
                        "entryPrice": _s(pos.entry_price),
                        "breakEvenPrice": _s(pos.entry_price),
                        "maxNotional": "50000",
                        "bidNotional": "0",
                        "askNotional": "0",
                    }
                )
            positions.append(d)
        out: dict[str, Any] = {
            "totalInitialMargin": _s(tot["im"]),
            "totalMaintMargin": _s(tot["mm"]),
            "totalWalletBalance": _s(tot["wallet"]),
            "totalUnrealizedProfit": _s(tot["upnl"]),
            "totalMarginBalance": _s(tot["margin_balance"]),
            "totalPositionInitialMargin": _s(tot["pos_im"]),
            "totalOpenOrderInitialMargin": _s(tot["ord_im"]),
            "totalCrossWalletBalance": _s(tot["wallet"]),
            "totalCrossUnPnl": _s(tot["upnl"]),
            "availableBalance": _s(tot["available"]),
            "maxWithdrawAmount": _s(tot["max_withdraw"]),
            "assets": assets,
            "positions": positions,
        }
        if v2:
            out.update(
                {
                    "feeTier": 0,
                    "feeBurn": False,
                    "canTrade": True,
                    "canDeposit": True,
                    "canWithdraw": True,
                    "updateTime": 0,
                    "multiAssetsMargin": False,
                    "tradeGroupId": -1,
                }
            )
        return out

    def _perp_balance(self, p: dict[str, str]) -> list[dict[str, Any]]:
        now = self.now_ms()
        out = []
        for asset in sorted(self.futures_wallet):
            st = self._asset_state(asset)
            out.append(
                {
                    "accountAlias": "SgsR",
                    "asset": asset,
                    "balance": _s(st["wallet"]),
                    "crossWalletBalance": _s(st["wallet"]),
                    "crossUnPnl": _s(st["upnl"]),
                    "availableBalance": _s(st["available"]),
                    "maxWithdrawAmount": _s(st["max_withdraw"]),
                    "marginAvailable": True,
                    "updateTime": now,
                }
            )
        return out

    def _leverage_brackets(self, p: dict[str, str]) -> list[dict[str, Any]]:
        syms = [p["symbol"]] if p.get("symbol") else list(self.perp_specs)
        out = []
        for sym in syms:
            if sym not in self.perp_specs:
                raise BinanceError(-1121, "Invalid symbol.")
            out.append(
                {
                    "symbol": sym,
                    "brackets": [
                        {
                            "bracket": i + 1,
                            "initialLeverage": lev,
                            "notionalCap": cap,
                            "notionalFloor": floor_,
                            "maintMarginRatio": float(mmr),
                            "cum": float(cum),
                        }
                        for i, (floor_, cap, lev, mmr, cum) in enumerate(DEFAULT_BRACKETS)
                    ],
                }
            )
        return out

    def _position_risk(self, p: dict[str, str], v2: bool) -> list[dict[str, Any]]:
        sym_filter = p.get("symbol")
        if sym_filter and sym_filter not in self.perp_specs:
            raise BinanceError(-1121, "Invalid symbol.")
        out = []
        for sym, spec in self.perp_specs.items():
            if sym_filter and sym != sym_filter:
                continue
            pos = self.positions[sym]
            if not v2 and pos.amount == 0 and self._order_im(sym) == 0:
                continue  # v3 lists only symbols with a position or open orders
            mark = self.perp_prices.get(sym, ZERO)
            d: dict[str, Any] = {
                "symbol": sym,
                "positionSide": "BOTH",
                "positionAmt": _s(pos.amount),
                "entryPrice": _s(pos.entry_price),
                "breakEvenPrice": _s(pos.entry_price),
                "markPrice": _s(mark),
                "unRealizedProfit": _s(self._unrealized(sym)),
                "liquidationPrice": "0",
                "isolatedMargin": "0",
                "notional": _s(self._notional(sym)),
                "isolatedWallet": "0",
                "updateTime": pos.update_time,
            }
            if v2:
                d.update(
                    {
                        "leverage": str(self.leverage[sym]),
                        "maxNotionalValue": "50000",
                        "marginType": "cross",
                        "isAutoAddMargin": "false",
                    }
                )
            else:
                d.update(
                    {
                        "marginAsset": spec.quote,
                        "initialMargin": _s(self._position_im(sym) + self._order_im(sym)),
                        "maintMargin": _s(self._maint_margin(sym)),
                        "positionInitialMargin": _s(self._position_im(sym)),
                        "openOrderInitialMargin": _s(self._order_im(sym)),
                        "adl": 0,
                        "bidNotional": "0",
                        "askNotional": "0",
                    }
                )
            out.append(d)
        return out

    def _set_leverage(self, p: dict[str, str]) -> dict[str, Any]:
        sym = p.get("symbol")
        if not sym:
            raise _missing("symbol")
        if sym not in self.perp_specs:
            raise BinanceError(-1121, "Invalid symbol.")
        raw = p.get("leverage", "")
        if not raw.isdigit():
            raise _missing("leverage")
        lev = int(raw)
        if lev < 1 or lev > self.perp_specs[sym].max_leverage:
            raise BinanceError(-4028, f"Leverage {lev} is not valid")
        old = self.leverage[sym]
        self.leverage[sym] = lev
        st = self._asset_state(self.perp_specs[sym].quote)
        if st["margin_balance"] < st["im"] and self.positions[sym].amount != 0:
            self.leverage[sym] = old
            raise BinanceError(-2027, "Exceeded the maximum allowable position at current leverage.")
        cap = next(
            (c for _f, c, lv, _m, _c in reversed(DEFAULT_BRACKETS) if lv >= lev), DEFAULT_BRACKETS[0][1]
        )
        return {"leverage": lev, "maxNotionalValue": str(cap), "symbol": sym}

    def _transfer(self, p: dict[str, str]) -> dict[str, Any]:
        typ = p.get("type")
        if not typ:
            raise _missing("type")
        asset = p.get("asset")
        if not asset:
            raise _missing("asset")
        amount = _dec(p, "amount")
        assert amount is not None
        if amount <= 0:
            raise BinanceError(
                -1102, "Mandatory parameter 'amount' was not sent, was empty/null, or malformed."
            )
        if typ == "MAIN_UMFUTURE":
            if self.spot_free.get(asset, ZERO) < amount:
                raise BinanceError(-5002, "You have insufficient balance.")
            self.spot_free[asset] -= amount
            self.futures_wallet[asset] = self.futures_wallet.get(asset, ZERO) + amount
        elif typ == "UMFUTURE_MAIN":
            if asset not in self.futures_wallet or self._asset_state(asset)["max_withdraw"] < amount:
                raise BinanceError(-5002, "You have insufficient balance.")
            self.futures_wallet[asset] -= amount
            self.spot_free[asset] = self.spot_free.get(asset, ZERO) + amount
            self.spot_locked.setdefault(asset, ZERO)
        else:
            raise BinanceError(
                -1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed."
            )
        tran_id = next(self._tran_ids)
        self.transfers.append(
            {"tranId": tran_id, "type": typ, "asset": asset, "amount": amount, "time": self.now_ms()}
        )
        return {"tranId": tran_id}


    def _transfer_history(self, p: dict[str, str]) -> dict[str, Any]:
        """``GET /sapi/v1/asset/transfer``: transfers of ``type`` (required) within ``startTime`` / ``endTime``
        (ms), newest first, page ``current`` (from 1) of ``size`` (default 10, max 100) rows."""
        typ = p.get("type")
        if not typ:
            raise _missing("type")
        q = _ints(p, size=10, current=1, startTime=None, endTime=None)
        size = _check_range(q["size"], 1, 100, "size")
        page = _check_range(q["current"], 1, 10**9, "current")
        start, end = q["startTime"], q["endTime"]
        rows = [t for t in reversed(self.transfers) if t["type"] == typ
                and (start is None or t["time"] >= start) and (end is None or t["time"] <= end)]
        chunk = rows[(page - 1) * size:page * size]
        return {"total": len(rows), "rows": [
            {"asset": t["asset"], "amount": _s(t["amount"]), "type": t["type"], "status": "CONFIRMED",
             "tranId": t["tranId"], "timestamp": t["time"]} for t in chunk]}


def dumps_state(emulator: BinanceEmulator) -> str:
    """A JSON snapshot of balances and positions (for debugging; no secrets)."""
    with emulator.lock:
        return json.dumps(
            {
                "spot": {
                    a: [_s(emulator.spot_free[a]), _s(emulator.spot_locked.get(a, ZERO))]
                    for a in emulator.spot_free
                },
                "futures_wallet": {a: _s(v) for a, v in emulator.futures_wallet.items()},
                "positions": {s: [_s(p.amount), _s(p.entry_price)] for s, p in emulator.positions.items()},
                "leverage": emulator.leverage,
            },
            sort_keys=True,
        )
