"""Binance live backend (ccxt ``binance``, spot + USD-M), on the core's :class:`~basis_core.live.cex.CexLiveBackend`.

Settings (``venue_config.binance``): ``api_key`` and ``api_secret`` (SecretStr, from the environment
``BASIS_VENUE_CONFIG__BINANCE__API_KEY`` / ``..._API_SECRET`` or a ``secrets_file``), ``base_url`` (an
emulator), ``timeout_ms``, ``enable_rate_limit`` (ccxt's limiter, default on) and the options:

- ``recv_window_ms`` (default 5000): Binance's ``recvWindow`` on every signed request. After an
  ambiguous failure, an order not found by client id is only re-sent once ``recv_window_ms +
  clock_margin_ms`` have passed since the request's own ``timestamp`` (recorded when ccxt signs it):
  by then Binance rejects the original request (-1021) if it was still in flight, so a re-send can
  never make a second order (after a restart the window counts from the journaled intent);
- ``clock_margin_ms`` (default 1000): Binance refuses timestamps more than 1000 ms ahead of its clock,
  so an accepted request's timestamp is at most that far behind Binance's clock;
- ``rate_limit_ms``: ccxt's ``rateLimit`` (ms between requests when the limiter is on).

Client ids: an instruction's ``client_id`` is sent as ``newClientOrderId`` as is when Binance accepts it
(``[.A-Za-z0-9:/_-]{1,36}``), else as ``bh-`` + the first 32 hex digits of its sha256; without one, a
random ``bs-`` + 32 hex id is journaled before sending. Fees are the venue's: spot fills from the
FULL answer (``fills[].commission``), USD-M fills from ``userTrades`` (commission, realizedPnl).

New orders: the plugin builds Binance's request itself (:func:`order_request`) and sends it through ccxt's
signed endpoint methods. ccxt is a range (``>=4.4.97,<5``), so the first order of each kind (see
:func:`order_kind`) on a client proves the hand-built request equal to the one the installed ccxt's own
``create_order_request`` builds for it; a kind whose requests differ (or that cannot be checked) is sent
with ccxt's ``create_order`` from then on, with one warning. ``backend.request_checks`` holds the verdicts.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from basis_core.backtest.cex.market import Market
from basis_core.live.cex import CexLiveBackend, FundingPayment, OrderView, Target, VenueFill, dec, rows_since
from basis_venue_binance.withdrawals import BinanceWithdrawals

log = logging.getLogger(__name__)

_CID = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")

#: Binance order status -> OrderView status
_STATUS = {
    "NEW": "open", "PARTIALLY_FILLED": "open", "PENDING_NEW": "open", "PENDING_CANCEL": "open",
    "FILLED": "closed", "CANCELED": "canceled", "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired",
    "REJECTED": "rejected",
}

ZERO = Decimal(0)


def binance_client_id(client_id: str) -> str:
    """``newClientOrderId`` for an instruction ``client_id`` (deterministic; see the module docstring)."""
    if _CID.match(client_id):
        return client_id
    return "bh-" + hashlib.sha256(client_id.encode("utf-8")).hexdigest()[:32]


def order_request(market_id: str, perp: bool, ins: Any, vcid: str) -> dict[str, str]:
    """Binance's new-order parameters for a validated spot / perp trade (the same request ccxt's
    ``create_order`` builds for these order kinds): ``LIMIT_MAKER`` for a spot post-only order, ``GTX``
    time in force for a USD-M one; spot answers are ``FULL`` (with fills), USD-M ``RESULT``."""
    req = {"symbol": market_id, "side": ins.side.upper(), "quantity": format(ins.amount, "f"),
           "newClientOrderId": vcid, "newOrderRespType": "RESULT" if perp else "FULL"}
    if ins.order_type == "market":
        req["type"] = "MARKET"
    else:
        req["price"] = format(ins.price, "f")
        if ins.post_only and not perp:
            req["type"] = "LIMIT_MAKER"
        else:
            req["type"] = "LIMIT"
            req["timeInForce"] = "GTX" if ins.post_only else ins.time_in_force
    if perp and ins.reduce_only:
        req["reduceOnly"] = "true"
    return req


#: (perp, order type, post only, time in force, reduce only): what :func:`order_request` branches on
OrderKind = tuple[bool, str, bool, str, bool]


def order_kind(perp: bool, ins: Any) -> OrderKind:
    """The kind of an order as far as the request builder is concerned: one self-check per kind and client."""
    limit = ins.order_type != "market"
    return (perp, ins.order_type, bool(limit and ins.post_only), ins.time_in_force if limit else "",
            bool(perp and ins.reduce_only))


def ccxt_order_arguments(symbol: str, perp: bool, ins: Any, vcid: str) -> tuple[Any, ...]:
    """ccxt ``create_order`` / ``create_order_request`` arguments for the order :func:`order_request` builds:
    ``(symbol, type, side, amount, price, params)`` (amount and price as decimal strings, no price for a
    market order: ccxt would turn a spot market buy with a price into ``quoteOrderQty``)."""
    params: dict[str, Any] = {"newClientOrderId": vcid}
    price = None
    if ins.order_type != "market":
        price = format(ins.price, "f")
        if ins.post_only:
            params["postOnly"] = True
        else:
            params["timeInForce"] = ins.time_in_force
    if perp and ins.reduce_only:
        params["reduceOnly"] = True
    return symbol, ins.order_type, ins.side, format(ins.amount, "f"), price, params


def _kind_name(kind: OrderKind) -> str:
    perp, typ, post_only, tif, reduce_only = kind
    words = ["perp" if perp else "spot", typ, "post-only" if post_only else tif, "reduce-only" if reduce_only else ""]
    return " ".join(w for w in words if w)


_NUMERIC_FIELDS = ("quantity", "price")


def request_differences(ours: Mapping[str, str], theirs: Mapping[str, Any]) -> list[str]:
    """The fields where ccxt's request ``theirs`` differs from ``ours`` (empty: the same request). Quantity and
    price compare as numbers (``0.50`` == ``0.5``); other values as Binance reads them (booleans lower case)."""

    def text(v: Any) -> str:
        return str(v).lower() if isinstance(v, bool) else str(v)

    diff = []
    for key in sorted(set(ours) | set(theirs)):
        if key not in ours or key not in theirs:
            diff.append(key)
        elif key in _NUMERIC_FIELDS:
            try:
                if Decimal(text(ours[key])) != Decimal(text(theirs[key])):
                    diff.append(key)
            except ArithmeticError:
                diff.append(key)
        elif text(ours[key]) != text(theirs[key]):
            diff.append(key)
    return diff


class BinanceLiveBackend(BinanceWithdrawals, CexLiveBackend):
    """Binance spot + USD-M through ccxt (see the module docstring)."""

    _ids: dict[str, str]  # unified symbol -> Binance market id
    #: order kind -> True when the hand-built request proved equal to ccxt's on this client (False: the kind
    #: goes through ccxt's ``create_order``); filled by the first order of each kind
    request_checks: dict[OrderKind, bool]

    @classmethod
    def credentials_problem(cls, settings: Any) -> str | None:
        missing = cls.missing_secrets(settings, ("api_key", "api_secret"))
        if missing:
            return (f"venue_config.binance: live mode needs {' and '.join(missing)} (environment "
                    f"BASIS_VENUE_CONFIG__BINANCE__{missing[0].upper()} or a secrets_file)")
        return None

    def make_client(self) -> Any:
        from basis_venue_binance.client import make_binance_client

        opts = self.settings.options
        self._recv_ms = int(opts.get("recv_window_ms", 5000))
        self._margin_ms = int(opts.get("clock_margin_ms", 1000))
        s = self.settings
        client = make_binance_client(s.api_key.get_secret_value(), s.api_secret.get_secret_value(),
                                     base_url=s.base_url, timeout_ms=s.timeout_ms,
                                     enable_rate_limit=s.enable_rate_limit, recvWindow=self._recv_ms)
        if "rate_limit_ms" in opts:
            client.rateLimit = float(opts["rate_limit_ms"])
        real_nonce = client.nonce
        self._signed_at: float | None = None

        def nonce() -> Any:  # the request timestamp: recvWindow counts from here
            self._signed_at = time.time()
            return real_nonce()

        client.nonce = nonce
        self._ids = {}
        self.request_checks = {}
        return client

    def signed_at(self) -> float | None:
        return self._signed_at

    @property
    def landing_window_s(self) -> float:
        return (self._recv_ms + self._margin_ms) / 1000

    def venue_client_id(self, client_id: str) -> str:
        return binance_client_id(client_id)

    def new_venue_client_id(self) -> str:
        return "bs-" + uuid.uuid4().hex

    # -- orders ------------------------------------------------------------------------------------
    def send_order(self, m: Market, ins: Any, vcid: str) -> Any:
        """POST the order (spot ``/api/v3/order``, USD-M ``/fapi/v1/order``) through ccxt's signed endpoint
        methods with the request built here from the validated instruction, and return Binance's own
        answer: :meth:`order_view` reads that raw answer anyway, so ccxt's unified order building and
        parsing (about 0.2 ms per order) is skipped. Signing, rate limiting and error mapping are ccxt's.
        An order kind whose hand-built request is not proven equal to ccxt's (:meth:`request_check`) is
        sent with ccxt's ``create_order`` instead (its answer carries Binance's in ``info``)."""
        req = order_request(self._market_id(m), m.is_perp, ins, vcid)
        if self.request_check(m, ins, vcid, req):
            return (self.client.fapiPrivatePostOrder if m.is_perp else self.client.privatePostOrder)(req)
        return self.client.create_order(*ccxt_order_arguments(m.symbol, m.is_perp, ins, vcid))

    def request_check(self, m: Market, ins: Any, vcid: str, req: Mapping[str, str]) -> bool:
        """Whether ``req`` (hand-built) may be sent for this order's kind: the first order of a kind on this
        client compares it with the installed ccxt's ``create_order_request`` for the same order (no network)
        and the verdict is kept in :attr:`request_checks`. A check that cannot run answers False for this
        order only."""
        kind = order_kind(m.is_perp, ins)
        verdict = self.request_checks.get(kind)
        if verdict is not None:
            return verdict
        try:
            theirs = self.client.create_order_request(*ccxt_order_arguments(m.symbol, m.is_perp, ins, vcid))
        except Exception as exc:  # an older / newer ccxt without it, or one that refuses: use create_order
            log.warning("binance: cannot compare the order request with ccxt's (%s); this order goes through "
                        "ccxt's create_order", type(exc).__name__)
            return False
        diff = request_differences(req, theirs)
        self.request_checks[kind] = not diff
        if diff:
            import ccxt

            log.warning("binance: ccxt %s builds a different %s request (fields %s): orders of this kind go "
                        "through ccxt's create_order", ccxt.__version__, _kind_name(kind), ", ".join(diff))
        return not diff

    def _market_id(self, m: Market) -> str:
        client = self.client  # created on first use (with the id cache)
        mid = self._ids.get(m.symbol)
        if mid is None:
            mid = self._ids[m.symbol] = str(client.market(m.symbol)["id"])
        return mid

    def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """USD-M ``FUNDING_FEE`` income rows from ``since_ms`` on (``GET /fapi/v1/income``, 1000 a page)."""
        by_id = {self._market_id(m): m.symbol for m in self.markets.values() if m.is_perp}
        rows = rows_since(lambda start: self.client.fapiPrivateGetIncome(
            {"incomeType": "FUNDING_FEE", "startTime": start, "limit": 1000}), since_ms, 1000)
        return [FundingPayment(by_id[r["symbol"]], int(r["time"]), dec(r["income"]), None, str(r["tranId"]))
                for r in rows if r.get("symbol") in by_id]

    def find_transfers(self, asset: str, amount: Decimal, from_kind: str, to_kind: str,
                       since_ms: int) -> list[str]:
        """``GET /sapi/v1/asset/transfer`` (type ``MAIN_UMFUTURE`` / ``UMFUTURE_MAIN``, 100 a page): the ids
        of the confirmed transfers of ``amount`` ``asset`` since ``since_ms``, oldest first."""
        typ = "MAIN_UMFUTURE" if from_kind == "spot" else "UMFUTURE_MAIN"
        found: list[tuple[int, str]] = []
        page = 1
        while True:
            got = self.client.sapiGetAssetTransfer({"type": typ, "startTime": since_ms, "size": 100,
                                                    "current": page})
            rows = got.get("rows") or []
            found += [(int(r["timestamp"]), str(r["tranId"])) for r in rows
                      if r.get("asset") == asset and dec(r.get("amount", "0")) == amount
                      and r.get("status", "CONFIRMED") == "CONFIRMED"]
            if len(rows) < 100:
                return [tid for _, tid in sorted(found)]
            page += 1

    def order_view(self, m: Market, answer: Any, ins: Any | None = None, fills: bool = True) -> OrderView:
        if type(answer) is dict:  # Binance's own answer (send_order), or ccxt's order with it in ``info``
            info = answer.get("info", answer)
        else:
            info = answer["info"] if isinstance(answer, Mapping) and "info" in answer else answer
        if not (type(info) is dict or isinstance(info, Mapping)) or "orderId" not in info:
            raise ValueError("not a Binance order")
        get = info.get
        raw = str(get("status", ""))
        filled = dec(get("executedQty", "0"))
        typ = str(get("type", ""))
        price = dec(get("price", "0"))
        order_id = str(info["orderId"])
        got: tuple[VenueFill, ...] = ()
        if fills and filled > 0:
            got = self._fills(m, info, order_id, filled)
        return OrderView(order_id, get("clientOrderId"), m.symbol, str(info["side"]).lower(), _STATUS.get(raw, "open"),
                         dec(get("origQty", "0")), None if typ == "MARKET" or price == 0 else price, filled, got,
                         typ == "LIMIT_MAKER" or get("timeInForce") == "GTX", bool(get("reduceOnly", False)), raw)

    def _fills(self, m: Market, info: Mapping[str, Any], order_id: str, filled: Decimal) -> tuple[VenueFill, ...]:
        raw = info.get("fills")
        if raw:  # spot FULL answer
            out = tuple([VenueFill(dec(f["price"]), dec(f["qty"]), dec(f["commission"]), str(f["commissionAsset"]))
                         for f in raw])
            total = ZERO
            for f in out:
                total += f.qty
            if total == filled:
                return out
        # Binance's own trade rows (``GET /fapi/v1/userTrades`` / ``/api/v3/myTrades``, the endpoints ccxt's
        # fetch_my_trades calls for a USD-M / spot market with these parameters): only the raw rows are read,
        # so ccxt's unified trade parsing is skipped. Signing, rate limiting and error mapping are ccxt's.
        client = self.client
        get = client.fapiPrivateGetUserTrades if m.is_perp else client.privateGetMyTrades
        req = {"symbol": self._market_id(m), "orderId": order_id}
        trades = self._read(lambda: get(req), "fetch_my_trades")
        return tuple(
            VenueFill(dec(t["price"]), dec(t["qty"]), dec(t.get("commission", "0")),
                      str(t.get("commissionAsset") or m.quote), dec(t.get("realizedPnl", "0")),
                      bool(t.get("maker", t.get("isMaker", False))))
            for t in trades if str(t.get("orderId")) == order_id
        )

    def cancel_request(self, target: Target) -> Any:
        params = {"clientOrderId": target.client_id} if target.client_id else {}
        return self.client.cancel_order(None if target.client_id else target.order_id, target.market.symbol, params)

    def edit_request(self, target: Target, current: OrderView, amount: Decimal, price: Decimal) -> Any:
        params: dict[str, Any] = {}
        if not target.market.is_perp:
            # cancel-replace: the replacement keeps the client id (free once the original is cancelled)
            if current.client_id:
                params["clientOrderId"] = current.client_id
            if current.post_only:
                params["postOnly"] = True
        return self.client.edit_order(current.order_id, target.market.symbol, "limit", current.side, str(amount),
                                      str(price), params)

    def set_leverage(self, m: Market, leverage: int) -> None:
        self.client.set_leverage(leverage, m.symbol)

    # -- account -----------------------------------------------------------------------------------
    def balances(self, options: Any = None) -> dict[str, Decimal]:
        v = self.name
        out: dict[str, Decimal] = {}
        spot = self.client.fetch_balance()["info"]
        for b in spot.get("balances", []):
            free, locked = dec(b.get("free", "0")), dec(b.get("locked", "0"))
            if free or locked:
                out[f"{v}:{self.spec.spot_kind}:{b['asset']}"] = free + locked
            if locked:
                out[f"{v}:metric:locked:{b['asset']}"] = locked
        fut = self.client.fetch_balance({"type": "future"})["info"]
        include_metrics = not (isinstance(options, Mapping) and not options.get("include_metrics", True))
        for a in fut.get("assets", []):
            asset = a["asset"]
            wallet = dec(a.get("walletBalance", "0"))
            if wallet or asset in self.spec.margin_assets:
                out[f"{v}:{self.spec.margin_kind}:{asset}"] = wallet
            if include_metrics and (wallet or dec(a.get("initialMargin", "0"))):
                mk = f"{v}:metric:"
                out[f"{mk}margin_balance:{asset}"] = dec(a.get("marginBalance", "0"))
                out[f"{mk}unrealised_pnl:{asset}"] = dec(a.get("unrealizedProfit", "0"))
                out[f"{mk}initial_margin:{asset}"] = dec(a.get("initialMargin", "0"))
                out[f"{mk}maintenance_margin:{asset}"] = dec(a.get("maintMargin", "0"))
                out[f"{mk}available:{asset}"] = dec(a.get("maxWithdrawAmount", a.get("availableBalance", "0")))
        by_id = {mk["id"]: s for s, mk in self.client.markets.items() if mk.get("linear") and mk.get("swap")}
        for p in fut.get("positions", []):
            amt = dec(p.get("positionAmt", "0"))
            sym = by_id.get(p.get("symbol"))
            if not amt or sym is None:
                continue
            out[f"{v}:perp:{sym}"] = amt
            if include_metrics:
                out[f"{v}:metric:notional:{sym}"] = abs(dec(p.get("notional", "0")))
                out[f"{v}:metric:unrealised_pnl:{sym}"] = dec(p.get("unrealizedProfit", "0"))
                out[f"{v}:metric:initial_margin:{sym}"] = dec(p.get("initialMargin", "0"))
                out[f"{v}:metric:maintenance_margin:{sym}"] = dec(p.get("maintMargin", "0"))
        return out

    def reference_price(self, m: Market) -> Decimal:
        t = self.client.fetch_ticker(m.symbol)
        info = t.get("info") or {}
        return dec(info.get("lastPrice") or info.get("price") or t["last"])
