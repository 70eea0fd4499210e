"""The ccxt Hyperliquid client as basis-core uses it, and client-order-id (cloid) helpers.

:func:`make_hyperliquid_client` returns a ``ccxt.hyperliquid`` subclass instance that never approves
ccxt's builder fee, never sets ccxt's referrer and never attaches a ``builder`` field to an order
(ccxt 4.5.90 does all three by default on the first credentialed call). ccxt is imported lazily, so
importing this module costs nothing in backtest mode.

Signing mode: with ``testnet=False`` (default) ccxt signs L1 actions with phantom-agent source
``"a"`` and user-signed actions with ``hyperliquidChain="Mainnet"``; with ``testnet=True`` it uses
``"b"`` / ``"Testnet"``. The emulator must be built with the same ``testnet`` flag.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import TYPE_CHECKING, Any

from basis_core.errors import InstructionError
from basis_core.live.ccxt_context import keep_decimal_context

if TYPE_CHECKING:  # pragma: no cover
    import ccxt

__all__ = ["cloid_from_client_id", "make_hyperliquid_client", "validate_cloid"]

_CLOID_RE = re.compile(r"^0x[0-9a-fA-F]{32}$")

#: ccxt options that would (re)enable the builder fee or the referrer; the factory always overrides them.
_FORCED_OPTIONS: dict[str, Any] = {
    "builderFee": False,
    "approvedBuilderFee": False,  # while False, create_orders_request attaches no `builder`
    "refSet": True,  # set_ref() becomes a no-op
}


def validate_cloid(s: str) -> str:
    """Return ``s`` lower-cased if it is a Hyperliquid cloid (``0x`` + 32 hex digits).

    Raises :class:`basis_core.errors.InstructionError` (field ``client_id``) otherwise. The value sent
    to the venue must be the returned (lower-case) form: the venue hashes the action as sent.
    """
    if not isinstance(s, str) or not _CLOID_RE.match(s):
        shown = s if isinstance(s, str) and len(s) <= 80 else f"{type(s).__name__} value"
        raise InstructionError("client_id", f"a Hyperliquid cloid is '0x' + 32 hex digits, got {shown!r}")
    return s.lower()


def cloid_from_client_id(client_id: str) -> str:
    """Deterministic cloid for any non-empty client id: ``"0x"`` + the first 16 bytes of sha256(utf-8).

    The same client id always gives the same cloid, so a retry after an ambiguous failure can look
    the order up by it. Raises ``InstructionError("client_id", ...)`` for an empty or non-string id.
    """
    if not isinstance(client_id, str) or client_id == "":
        raise InstructionError("client_id", "must be a non-empty string")
    return "0x" + hashlib.sha256(client_id.encode("utf-8")).digest()[:16].hex()


@functools.cache
def _client_class() -> type[ccxt.hyperliquid]:
    import ccxt

    class BasisHyperliquid(ccxt.hyperliquid):  # type: ignore[misc,name-defined]
        """ccxt.hyperliquid without builder-fee approval, referrer, or builder attribution."""

        def handle_builder_fee_approval(self) -> bool:
            return True  # pretend it is handled; never sends approveBuilderFee

        def approve_builder_fee(self, builder: str, maxFeeRate: str) -> Any:
            raise ccxt.NotSupported("basis-core never approves a builder fee")

        def set_ref(self) -> bool:
            return True  # never sends setReferrer

        def create_orders_request(self, orders: list[Any], params: dict[str, Any] | None = None) -> Any:
            request = super().create_orders_request(orders, params or {})
            if "builder" in request.get("action", {}):  # belt and braces: options were tampered with
                raise ccxt.InvalidOrder("refusing to send an order carrying a builder field")
            return request

        def incrementing_nonce(self) -> Any:
            pinned = self.__dict__.get("pinned_nonce")
            nonce = pinned if pinned is not None else super().incrementing_nonce()
            self.last_nonce = nonce
            return nonce

        def sign_l1_action(self, action: Any, nonce: Any, vaultAdress: Any = None,
                           expiresAfter: Any = None) -> Any:
            window = getattr(self, "expires_after_ms", None)
            if expiresAfter is None and window is not None:
                expiresAfter = int(self.milliseconds()) + int(window)
                self.last_expires_after = expiresAfter
                pending = self.__dict__.setdefault("_expires_by_nonce", {})
                if len(pending) > 64:  # signed but never sent (a request building error): forget the oldest
                    pending.pop(next(iter(pending)))
                pending[nonce] = expiresAfter
            return super().sign_l1_action(action, nonce, vaultAdress, expiresAfter)

        def sign(self, path: str, api: Any = ("public",), method: str = "GET", params: Any = None,
                 *more: Any) -> Any:  # ccxt before 4.5.90 also passes headers and body
            pending = self.__dict__.get("_expires_by_nonce")
            if pending and path == "exchange" and isinstance(params, dict) and "expiresAfter" not in params:
                expires = pending.pop(params.get("nonce"), None)
                if expires is not None:  # the request carries the expiresAfter its signature covers
                    params = {**params, "expiresAfter": expires}
            return super().sign(path, api, method, params if params is not None else {}, *more)

    return BasisHyperliquid


def make_hyperliquid_client(
    wallet_address: str,
    private_key: str,
    base_url: str | None = None,
    timeout_ms: int = 10000,
    enable_rate_limit: bool = True,
    testnet: bool = False,
    expires_after_ms: int | None = None,
    **options: Any,
) -> ccxt.hyperliquid:
    """A configured ccxt Hyperliquid client.

    - ``wallet_address``: the master account (the ``user`` of every /info query);
    - ``private_key``: the master key or an API-wallet (agent) key of that account (hex, ``0x`` optional);
      held by ccxt only, never logged here;
    - ``base_url``: e.g. an emulator's ``http://127.0.0.1:PORT``; both the public (/info) and private
      (/exchange) APIs point at it;
    - ``timeout_ms``: ccxt's request timeout in milliseconds; ``enable_rate_limit``: ccxt's throttle
      (turn it off against a local emulator, it costs ~0.5 s per /info call);
    - ``testnet``: sign as testnet (source ``"b"``, chain ``"Testnet"``); without ``base_url`` it also
      points ccxt at the public testnet;
    - ``expires_after_ms``: when set, every L1 action (order, cancel, modify, leverage) carries
      ``expiresAfter`` = signing time + this many ms, covered by its signature (ccxt 4.5.90 sends none for
      these actions); the venue refuses the action once that time has passed, so a request delayed in
      transit cannot take effect later. ``client.last_expires_after`` is the last value sent. User-signed
      actions (transfers) cannot carry it; a re-sent transfer reuses its first nonce instead
      (``client.pinned_nonce``; ``client.last_nonce`` is the last nonce signed), so the venue accepts at most one;
    - ``options``: extra ccxt options, merged over the defaults (markets ``spot`` + ``swap`` only,
      ``maxRetriesOnFailure`` 0, unified-margin lookup off). Builder-fee / referrer options are forced off.

    The client's calls leave the caller's Decimal context as it was
    (:func:`basis_core.live.ccxt_context.keep_decimal_context`).
    """
    cls = _client_class()
    opts: dict[str, Any] = {
        "fetchMarkets": {"types": ["spot", "swap"]},
        "maxRetriesOnFailure": 0,
        "enableUnifiedMargin": False,  # no userAbstraction query; balances are per spot / perp class
        "sandboxMode": bool(testnet),
    }
    opts.update(options)
    opts.update(_FORCED_OPTIONS)
    client = cls(
        {
            "walletAddress": wallet_address,
            "privateKey": private_key,
            "timeout": int(timeout_ms),
            "enableRateLimit": bool(enable_rate_limit),
            "options": opts,
        }
    )
    client.expires_after_ms = None if expires_after_ms is None else int(expires_after_ms)
    client.last_expires_after = None
    client.pinned_nonce = None  # when set, the next signed action uses this nonce (a re-send of the same action)
    client.last_nonce = None
    if base_url is not None:
        base = base_url.rstrip("/")
        client.urls["api"] = {"public": base, "private": base}
        client.options["sandboxMode"] = bool(testnet)
    elif testnet:
        client.set_sandbox_mode(True)
    return keep_decimal_context(client)
