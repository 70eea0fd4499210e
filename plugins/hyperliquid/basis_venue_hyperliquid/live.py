"""Hyperliquid live backend (ccxt ``hyperliquid``: perps + spot), on the core's
:class:`~basis_core.live.cex.CexLiveBackend`.

Settings (``venue_config.hyperliquid``): ``private_key`` (SecretStr: the master key or an API-wallet
key; environment ``BASIS_VENUE_CONFIG__HYPERLIQUID__PRIVATE_KEY`` or a ``secrets_file``),
``wallet_address`` (the master account; default: the private key's own address), ``base_url``,
``timeout_ms``, ``enable_rate_limit`` and the options ``testnet`` (sign as testnet),
``market_slippage`` (default 0.05: market orders are IOC limits at mid x (1 +/- it), as ccxt sends
them), ``landing_window_ms`` (default 2000) and ``clock_margin_ms`` (default 1000), ``rate_limit_ms``.

Landing window: every L1 action (order, cancel, modify, leverage) is signed with ``expiresAfter`` = signing
time + ``landing_window_ms``; Hyperliquid refuses an action once that time is past, so a request delayed in
transit can no longer take effect after it. After an ambiguous failure an order not found by cloid is
looked up again once ``expiresAfter + clock_margin_ms`` has passed (the margin covers the difference
between our clock and the venue's) and only then re-sent: exactly-once rests on the venue's expiry, not
on its refusal of a reused cloid (which is kept as a second line of defence).

Transfers (``usdClassTransfer``) are user-signed and cannot carry ``expiresAfter``. A transfer whose outcome is
unknown is looked up in the ledger (``userNonFundingLedgerUpdates``) and adopted if it landed; if not, it is
re-sent with the **same nonce** as the request whose outcome was unknown, and Hyperliquid accepts a nonce once
per signer: of the late original and the re-send at most one lands (a re-send refused as "Invalid nonce" means
the original landed: it is looked up and adopted). This holds within one process; after a restart a pending
transfer is reconciled by the ledger and a later re-submission signs a new nonce.

The client never approves a builder fee, never sets a referrer and never attaches ``builder`` to an
order (:func:`basis_venue_hyperliquid.client.make_hyperliquid_client`).

Client ids: an instruction's ``client_id`` that is already a cloid (``0x`` + 32 hex) is used as is
(lower-cased), any other is mapped by :func:`~basis_venue_hyperliquid.client.cloid_from_client_id`;
without one a random cloid is journaled before sending. Every cloid is validated before it is sent.

ccxt's ``create_order`` answer is sparse (``{"filled": {totalSz, avgPx, oid}}`` or ``{"resting":
{oid}}``): the order is filled in from the request, a follow-up ``orderStatus`` when it rests, and the
account's fills (``userFillsByTime``: price, size, fee and fee token, closed PnL) for what it executed.
An IOC order that cannot match is refused by Hyperliquid; it is reported as ``cancelled`` (as in backtest).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from basis_core.backtest.cex.market import Market
from basis_core.errors import InstructionError
from basis_core.live.cex import CexLiveBackend, FundingPayment, OrderView, Target, VenueFill, dec, rows_since
from basis_core.live.orders import ErrorKind
from basis_venue_hyperliquid.client import cloid_from_client_id, validate_cloid
from basis_venue_hyperliquid.withdrawals import HyperliquidWithdrawals

_CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")
_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")

#: Hyperliquid order status -> OrderView status (anything ending in "Rejected" is a rejection)
_STATUS = {"open": "open", "filled": "closed", "triggered": "open", "canceled": "canceled",
           "marginCanceled": "canceled", "reduceOnlyCanceled": "canceled", "selfTradeCanceled": "canceled",
           "scheduledCancel": "canceled", "siblingFilledCanceled": "canceled", "liquidatedCanceled": "canceled",
           "openInterestCapCanceled": "canceled", "vaultWithdrawalCanceled": "canceled",
           "delistedCanceled": "canceled"}

ZERO = Decimal(0)


def hyperliquid_cloid(client_id: str) -> str:
    """The cloid sent for an instruction ``client_id`` (deterministic, validated)."""
    cloid = client_id if _CLOID.match(client_id) else cloid_from_client_id(client_id)
    return validate_cloid(cloid)


class HyperliquidLiveBackend(HyperliquidWithdrawals, CexLiveBackend):
    """Hyperliquid perps + spot through ccxt (see the module docstring)."""

    @classmethod
    def credentials_problem(cls, settings: Any) -> str | None:
        if cls.missing_secrets(settings, ("private_key",)):
            return ("venue_config.hyperliquid: live mode needs private_key (environment "
                    "BASIS_VENUE_CONFIG__HYPERLIQUID__PRIVATE_KEY or a secrets_file) and wallet_address")
        if not _KEY.match(settings.private_key.get_secret_value()):
            return "venue_config.hyperliquid.private_key: expected 32 bytes of hex (64 hex digits, 0x optional)"
        addr = settings.wallet_address
        if addr is not None and not re.match(r"^0x[0-9a-fA-F]{40}$", addr):
            return "venue_config.hyperliquid.wallet_address: expected 0x + 40 hex digits"
        return None

    def make_client(self) -> Any:
        from basis_venue_hyperliquid.client import make_hyperliquid_client

        s = self.settings
        opts = s.options
        key = s.private_key.get_secret_value()
        wallet = s.wallet_address
        if wallet is None:
            from eth_account import Account

            wallet = str(Account.from_key(key).address)
        self.wallet = wallet
        self._window_ms = int(opts.get("landing_window_ms", 2000))
        self._margin_ms = int(opts.get("clock_margin_ms", 1000))
        self._transfer_nonces: dict[str, int] = {}  # transfer intent -> nonce of its request of unknown outcome
        self._resent_nonce: int | None = None
        self._slippage = str(self.spec.market_slippage)  # the simulator holds the same (option market_slippage)
        client = make_hyperliquid_client(wallet, key, base_url=s.base_url, timeout_ms=s.timeout_ms,
                                         enable_rate_limit=s.enable_rate_limit,
                                         testnet=bool(opts.get("testnet", False)), expires_after_ms=self._window_ms)
        if "rate_limit_ms" in opts:
            client.rateLimit = float(opts["rate_limit_ms"])
        return client

    @property
    def landing_window_s(self) -> float:
        """From signing to ``expiresAfter`` (``landing_window_ms``) plus the clock margin."""
        return (self._window_ms + self._margin_ms) / 1000

    def signed_at(self) -> float | None:
        """When the last L1 action was signed (epoch s): its ``expiresAfter`` less the window."""
        expires = getattr(self.client, "last_expires_after", None)
        return None if expires is None else (expires - self._window_ms) / 1000

    def venue_client_id(self, client_id: str) -> str:
        return hyperliquid_cloid(client_id)

    def new_venue_client_id(self) -> str:
        return validate_cloid("0x" + uuid.uuid4().hex)

    def send_transfer(self, intent_id: str, asset: str, amount: Decimal, from_account: str, to_account: str) -> Any:
        """A transfer request; after an ambiguous failure of this intent, re-sent with the same nonce."""
        pinned = self._transfer_nonces.get(intent_id)
        self.client.pinned_nonce = pinned
        self._resent_nonce = pinned
        try:
            answer = self.transfer_request(asset, amount, from_account, to_account)
        except Exception as e:
            if pinned is None and self.classify(e) == "ambiguous":  # it may have landed: keep its nonce
                self._transfer_nonces[intent_id] = self.client.last_nonce
            raise
        finally:
            self.client.pinned_nonce = None
        self._transfer_nonces.pop(intent_id, None)
        return answer

    def classify(self, exc: BaseException) -> ErrorKind:
        """As the core classifies, except that a nonce refusal of a re-sent transfer means its first request
        used the nonce (it landed): ambiguous, so it is looked up."""
        kind = super().classify(exc)
        nonce = self._resent_nonce
        if kind == "transient" and nonce is not None and "invalid nonce" in str(exc).lower() and str(nonce) in str(exc):
            return "ambiguous"
        return kind

    def rejection_as_outcome(self, exc: BaseException, kind: ErrorKind) -> str | None:
        return "cancelled" if "could not immediately match" in str(exc) else None

    # -- orders ------------------------------------------------------------------------------------
    def _ccxt_market(self, m: Market) -> Any:
        return self.client.market(m.symbol)

    def prepare_order(self, m: Market, ins: Any) -> None:
        if ins.order_type == "market":  # ccxt sends market orders as IOC limits around this price
            self._prepared_price = (m.symbol, self.reference_price(m), time.monotonic())

    def send_order(self, m: Market, ins: Any, vcid: str) -> Any:
        params: dict[str, Any] = {"clientOrderId": validate_cloid(vcid)}
        if ins.post_only:
            params["postOnly"] = True
        elif ins.order_type == "limit" and ins.time_in_force == "IOC":
            params["timeInForce"] = "Ioc"
        if m.is_perp and ins.reduce_only:
            params["reduceOnly"] = True
        if ins.order_type == "market":
            price = self._market_price(m)
            params["slippage"] = self._slippage
        else:
            price = ins.price
        self._sent_ms = int(time.time() * 1000)
        return self.client.create_order(m.symbol, ins.order_type, ins.side, str(ins.amount), str(price), params)

    def _market_price(self, m: Market) -> Decimal:
        got = getattr(self, "_prepared_price", None)
        if got is not None and got[0] == m.symbol and time.monotonic() - got[2] < 30:
            return Decimal(got[1])
        return self.reference_price(m)

    def find_transfers(self, asset: str, amount: Decimal, from_kind: str, to_kind: str,
                       since_ms: int) -> list[str]:
        """``userNonFundingLedgerUpdates``: the hashes of the spot <-> perp USDC transfers of ``amount`` in the
        requested direction since ``since_ms``, oldest first."""
        rows = self.client.publicPostInfo({"type": "userNonFundingLedgerUpdates", "user": self.wallet,
                                           "startTime": since_ms})
        to_perp = to_kind == "margin"
        return [str(r["hash"]) for r in sorted(rows, key=lambda r: int(r["time"]))
                if (d := r.get("delta") or {}).get("type") == "accountClassTransfer" and asset == "USDC"
                and dec(d.get("usdc", "0")) == amount and bool(d.get("toPerp")) == to_perp]

    def funding_payments(self, since_ms: int) -> list[FundingPayment]:
        """Perp funding payments from ``since_ms`` on (``userFunding``, 500 an answer)."""
        by_coin = {m.base: m.symbol for m in self.markets.values() if m.is_perp}
        rows = rows_since(lambda start: self.client.publicPostInfo(
            {"type": "userFunding", "user": self.wallet, "startTime": start}), since_ms, 500)
        out: list[FundingPayment] = []
        for r in rows:
            d = r.get("delta") or {}
            sym = by_coin.get(d.get("coin", ""))
            if sym is not None and d.get("type") == "funding":
                out.append(FundingPayment(sym, int(r["time"]), dec(d["usdc"]), dec(d.get("fundingRate", "0")),
                                          f"{r.get('hash')}:{d.get('coin')}"))
        return out

    def order_view(self, m: Market, answer: Any, ins: Any | None = None, fills: bool = True) -> OrderView:
        info = answer["info"] if isinstance(answer, Mapping) and "info" in answer else answer
        if not isinstance(info, Mapping):
            raise ValueError("not a Hyperliquid order")
        if "oid" in info and "limitPx" in info and "order" not in info:  # frontendOpenOrders: an open order
            info = {"order": info, "status": "open"}
        if isinstance(info.get("order"), Mapping):  # orderStatus: the full order
            o = info["order"]
            raw = str(info.get("status", "open"))
            status = "rejected" if raw.endswith("Rejected") else _STATUS.get(raw, "open")
            amount = dec(o["origSz"])
            filled = amount - dec(o.get("sz", "0"))
            oid = str(o["oid"])
            got = self._fills(m, oid, filled, int(o.get("timestamp", 0))) if fills and filled > 0 else ()
            return OrderView(oid, o.get("cloid"), m.symbol, "buy" if o["side"] == "B" else "sell", status, amount,
                             dec(o["limitPx"]), filled, got, post_only=o.get("tif") == "Alo",
                             reduce_only=bool(o.get("reduceOnly", False)), raw_status=raw)
        if isinstance(info.get("resting"), Mapping):  # sparse: rests (maybe partly filled): ask the venue
            oid = str(info["resting"]["oid"])
            full = self._read(lambda: self.fetch_order(m, order_id=oid), "fetch_order")
            if full is None:
                raise ValueError(f"order {oid} is not known to the venue")
            return self.order_view(m, full, ins, fills)
        if isinstance(info.get("filled"), Mapping):  # sparse: executed (an IOC remainder is cancelled)
            f = info["filled"]
            oid = str(f["oid"])
            if ins is None:
                full = self._read(lambda: self.fetch_order(m, order_id=oid), "fetch_order")
                if full is None:
                    raise ValueError(f"order {oid} is not known to the venue")
                return self.order_view(m, full, None, fills)
            filled = dec(f["totalSz"])
            since = getattr(self, "_sent_ms", int(time.time() * 1000)) - 60_000
            got = self._fills(m, oid, filled, since) if fills and filled > 0 else ()
            return OrderView(oid, f.get("cloid"), m.symbol, ins.side, "closed", ins.amount, ins.price, filled, got,
                             post_only=ins.post_only, reduce_only=bool(getattr(ins, "reduce_only", False)),
                             raw_status="filled")
        raise ValueError("not a Hyperliquid order")

    def _fee_asset(self, m: Market, token: str) -> str:
        if token == m.quote or token == m.settle:
            return token
        mk = self._ccxt_market(m)
        if token in (m.base, mk.get("baseName")):
            return m.base
        mapped: str = self.client.options.get("spotCurrencyMapping", {}).get(token, token)
        return mapped

    def _fills(self, m: Market, oid: str, filled: Decimal, since_ms: int) -> tuple[VenueFill, ...]:
        since = max(since_ms - 1000, 0)

        def fetch() -> tuple[VenueFill, ...]:
            trades = self.client.fetch_my_trades(m.symbol, since)
            out = tuple(
                VenueFill(dec(t["info"]["px"]), dec(t["info"]["sz"]), dec(t["info"].get("fee", "0")),
                          self._fee_asset(m, str(t["info"].get("feeToken", m.quote))),
                          dec(t["info"].get("closedPnl", "0")) if m.is_perp else ZERO,
                          not bool(t["info"].get("crossed", True)))
                for t in trades if str(t["info"].get("oid")) == oid
            )
            if sum((f.qty for f in out), ZERO) != filled:
                from basis_core.errors import RetryableError

                raise RetryableError(f"fills of order {oid} not complete yet")
            return out

        got: tuple[VenueFill, ...] = self.policy.call(fetch, what=f"{self.name} fills")
        return got

    def cancel_request(self, target: Target) -> Any:
        params = {"clientOrderId": target.client_id} if target.client_id else {}
        return self.client.cancel_order(None if target.client_id else target.order_id, target.market.symbol, params)

    def edit_request(self, target: Target, current: OrderView, amount: Decimal, price: Decimal) -> Any:
        params: dict[str, Any] = {}
        if current.client_id:
            params["clientOrderId"] = current.client_id
        if current.post_only:
            params["postOnly"] = True
        if current.reduce_only:
            params["reduceOnly"] = True
        return self.client.edit_order(current.order_id, target.market.symbol, "limit", current.side, str(amount),
                                      str(price), params)

    def set_leverage(self, m: Market, leverage: int) -> None:
        if not m.is_perp:
            raise InstructionError("leverage", "leverage applies to perpetuals only")
        self.client.set_leverage(leverage, m.symbol)

    # -- account -----------------------------------------------------------------------------------
    def balances(self, options: Any = None) -> dict[str, Decimal]:
        v = self.name
        out: dict[str, Decimal] = {}
        include_metrics = not (isinstance(options, Mapping) and not options.get("include_metrics", True))
        perp = self.client.fetch_balance()["info"]
        summary = perp.get("marginSummary", {})
        account_value = dec(summary.get("accountValue", "0"))
        upnl = ZERO
        mk = f"{v}:metric:"
        for ap in perp.get("assetPositions", []):
            p = ap.get("position", {})
            szi = dec(p.get("szi", "0"))
            if not szi:
                continue
            sym = self._perp_symbol(str(p.get("coin")))
            u = dec(p.get("unrealizedPnl", "0"))
            upnl += u
            if sym is None:
                continue
            out[f"{v}:perp:{sym}"] = szi
            if include_metrics:
                out[f"{mk}entry_price:{sym}"] = dec(p.get("entryPx") or "0")
                out[f"{mk}notional:{sym}"] = dec(p.get("positionValue", "0"))
                out[f"{mk}unrealised_pnl:{sym}"] = u
                out[f"{mk}initial_margin:{sym}"] = dec(p.get("marginUsed", "0"))
        settle = self.spec.margin_assets[0]
        out[f"{v}:{self.spec.margin_kind}:{settle}"] = account_value - upnl
        if include_metrics:
            out[f"{mk}margin_balance:{settle}"] = account_value
            out[f"{mk}unrealised_pnl:{settle}"] = upnl
            out[f"{mk}initial_margin:{settle}"] = dec(summary.get("totalMarginUsed", "0"))
            out[f"{mk}maintenance_margin:{settle}"] = dec(perp.get("crossMaintenanceMarginUsed", "0"))
            out[f"{mk}available:{settle}"] = dec(perp.get("withdrawable", "0"))
        spot = self.client.fetch_balance({"type": "spot"})["info"]
        mapping = self.client.options.get("spotCurrencyMapping", {})
        for b in spot.get("balances", []):
            total, hold = dec(b.get("total", "0")), dec(b.get("hold", "0"))
            code = mapping.get(b["coin"], b["coin"])
            if total:
                out[f"{v}:{self.spec.spot_kind}:{code}"] = total
            if hold and include_metrics:
                out[f"{mk}locked:{code}"] = hold
        return out

    def _perp_symbol(self, coin: str) -> str | None:
        for sym, mk in self.client.markets.items():
            if mk.get("swap") and mk.get("baseName", mk.get("base")) == coin:
                return str(sym)
        return None

    def reference_price(self, m: Market) -> Decimal:
        mk = self._ccxt_market(m)
        key = mk["info"].get("name", mk["baseName"]) if mk.get("swap") else mk["id"]
        mids = self.client.publicPostInfo({"type": "allMids"})
        return dec(mids[key])
