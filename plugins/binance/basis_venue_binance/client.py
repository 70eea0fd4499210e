"""The ccxt Binance client factory (spot + USD-M), pointed at binance.com or at a local emulator.

ccxt is imported inside :func:`make_binance_client` only: importing this module never imports
ccxt, so a backtest stays free of it.

Error mapping: ccxt picks Binance's per-market error tables ("spot" for ``/api``, ``/sapi``;
"linear" for ``/fapi``) by matching the URL against binance.com hosts, so against a local base
URL every market-specific code (-2019, -2022, -4116, -5022, ...) would degrade to a plain
``ExchangeError``. The client made here recognises its own base URL and picks the same tables by
path, so a local emulator yields the exceptions binance.com would.

One deliberate refinement over stock ccxt 4.5.90, applied for real and local URLs alike (so tests
and production behave the same): a duplicate client order id (USD-M ``-4116``, spot ``-2010
"Duplicate order sent."``) raises :class:`ccxt.DuplicateOrderId` instead of the generic
``InvalidOrder`` (``DuplicateOrderId`` subclasses ``InvalidOrder``, so existing handlers still
catch it).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from basis_core.live.ccxt_context import keep_decimal_context

if TYPE_CHECKING:  # pragma: no cover
    import ccxt

# URL path prefix -> key of ccxt's binance ``exceptions`` table, as get_exceptions_by_url maps hosts.
PATH_MARKET_TYPES: tuple[tuple[str, str], ...] = (
    ("/api/", "spot"),
    ("/sapi/", "spot"),
    ("/fapi/", "linear"),
    ("/futures/", "linear"),
    ("/dapi/", "inverse"),
    ("/eapi/", "option"),
    ("/papi/", "portfolioMargin"),
)

DEFAULT_OPTIONS: dict[str, Any] = {
    "fetchCurrencies": False,  # no /sapi/v1/capital/config/getall on load_markets
    "fetchMargins": False,  # no margin pair listings on load_markets
    "fetchMarkets": {"types": ["spot", "linear"]},  # spot + USD-M exchangeInfo only
    "maxRetriesOnFailure": 0,  # never re-send by itself: the caller looks orders up by client id
}

_CLASS_CACHE: dict[str, type] = {}


def _client_class() -> type[ccxt.binance]:
    """A ccxt.binance subclass whose error-table lookup also recognises its local base URL."""
    cached = _CLASS_CACHE.get("binance")
    if cached is not None:
        return cached
    import ccxt

    class BasisBinance(ccxt.binance):  # type: ignore[misc,name-defined]
        """ccxt.binance that maps error codes by path when talking to a local base URL."""

        basis_local_base: str | None = None

        def get_exceptions_by_url(self, url: str | None, exactOrBroad: str) -> dict[str, Any]:
            base = self.basis_local_base
            if url is not None and base is not None and url.startswith(base + "/"):
                path = url[len(base) :]
                for prefix, market_type in PATH_MARKET_TYPES:
                    if path.startswith(prefix):
                        table = self.safe_dict(self.exceptions, market_type, {})
                        return dict(self.safe_dict(table, exactOrBroad, {}))
                return {}
            return dict(super().get_exceptions_by_url(url, exactOrBroad))

        def __repr__(self) -> str:
            return f"<{type(self).__name__} {self.basis_local_base or 'binance.com'}>"

    _CLASS_CACHE["binance"] = BasisBinance
    return BasisBinance


def rebase_urls(api_urls: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Every string entry of ccxt's ``urls['api']`` moved to ``base_url``, keeping its path."""
    base = base_url.rstrip("/")
    out: dict[str, Any] = {}
    for name, url in api_urls.items():
        if isinstance(url, str):
            out[name] = base + urlsplit(url).path
        elif isinstance(url, dict):
            out[name] = rebase_urls(url, base_url)
        else:
            out[name] = url
    return out


def make_binance_client(
    api_key: str,
    api_secret: str,
    base_url: str | None = None,
    timeout_ms: int = 10000,
    enable_rate_limit: bool = True,
    **options: Any,
) -> ccxt.binance:
    """A ready ccxt ``binance`` client for spot and USD-M.

    ``base_url`` (e.g. a :class:`BinanceEmulator`'s ``http://127.0.0.1:PORT``) replaces the
    scheme and host of every API URL. ``timeout_ms`` is ccxt's per-request timeout in ms.
    ``options`` are merged over :data:`DEFAULT_OPTIONS` into ccxt's ``options``. The secret is
    held by ccxt only; it is never logged or shown in the client's repr. The client's calls leave the caller's
    Decimal context as it was (:func:`basis_core.live.ccxt_context.keep_decimal_context`).
    """
    cls = _client_class()
    merged = {**copy.deepcopy(DEFAULT_OPTIONS), **options}
    client = cls(
        {
            "apiKey": api_key,
            "secret": api_secret,
            "timeout": int(timeout_ms),
            "enableRateLimit": bool(enable_rate_limit),
            "options": merged,
        }
    )
    import ccxt

    exceptions = copy.deepcopy(client.exceptions)
    exceptions.setdefault("linear", {}).setdefault("exact", {})["-4116"] = ccxt.DuplicateOrderId
    exceptions.setdefault("exact", {})["Duplicate order sent."] = ccxt.DuplicateOrderId
    client.exceptions = exceptions
    if base_url is not None:
        client.urls = dict(client.urls)
        client.urls["api"] = rebase_urls(client.urls["api"], base_url)
        client.basis_local_base = base_url.rstrip("/")
    return keep_decimal_context(client)
