"""Hyperliquid's live market data (the ``live_market_data`` hook): public ``/info`` through ccxt, no credentials.

Per step (``venue_config.hyperliquid``: ``base_url`` for an emulator, ``enable_rate_limit``, option ``testnet``),
two requests: ``metaAndAssetCtxs`` (every perp's mark and current hourly funding rate) and
``spotMetaAndAssetCtxs`` (spot marks); on the first read of a perp, one ``fundingHistory`` (its last
settlement), and after each hour that passed, one ``fundingHistory`` from that hour (the rate it settled at; asked
again next read while the venue has not published it). Hyperliquid dates none of these: values are as of their
arrival. Series (the backtest's names):

- ``spot:hyperliquid:<pair>`` ``close`` (the spot mark; ccxt's names, e.g. UETH/USDC is ``ETH/USDC``);
- ``perp:hyperliquid:<symbol>`` ``close`` (the mark price);
- ``funding:hyperliquid:<symbol>`` ``rate`` at settlement times (every hour): the last settlement, and the next
  hour with the rate now (revised each read until that hour passes), replaced by the settled rate (a final row)
  once the venue publishes it, so a paper run books what the venue booked;
- ``next_funding:hyperliquid:<symbol>``: ``rate`` and ``time`` (the next hour, epoch seconds).

ccxt is imported on the first read only.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from basis_core.backtest.cex.spec import CexSpec
from basis_venue_hyperliquid.spec import HYPERLIQUID_SPEC

_MS = 1_000_000
_HOUR_MS = 3_600_000


def _wanted(keys: frozenset[str] | None, *names: str) -> bool:
    return keys is None or any(n in keys for n in names)


def _client(context: Any) -> Any:
    client = context.state.get("client")
    if client is None:
        from basis_venue_hyperliquid.client import make_hyperliquid_client

        s = context.settings
        client = make_hyperliquid_client(s.wallet_address or "", "", base_url=s.base_url,
                                         timeout_ms=int(context.timeout_s * 1000),
                                         enable_rate_limit=s.enable_rate_limit,
                                         testnet=bool(s.options.get("testnet", False)))
        context.state["client"] = client
    return client


def read_market_data(keys: frozenset[str] | None, context: Any, spec: CexSpec = HYPERLIQUID_SPEC) -> dict[str, Any]:
    """The hook's body: ``{series name: LiveValue or (LiveValue, ...)}`` of the listed symbols ``keys`` wants."""
    from basis_core.live.market_data import LiveValue, SettlementTracker

    client = _client(context)
    out: dict[str, Any] = {}
    spots = {s.symbol for s in spec.symbols if s.market == "spot"
             and _wanted(keys, f"spot:hyperliquid:{s.symbol}", f"spot:{s.symbol}")}
    perps = {s.base: s for s in spec.symbols if s.market == "perp"
             and _wanted(keys, *(f"{k}:hyperliquid:{s.symbol}" for k in ("perp", "funding", "next_funding")))}
    if perps:
        meta, ctxs = client.publicPostInfo({"type": "metaAndAssetCtxs"})
        now = time.time_ns()
        nxt_ms = (now // _MS // _HOUR_MS + 1) * _HOUR_MS  # Hyperliquid settles every hour on the hour
        for asset, ctx in zip(meta["universe"], ctxs, strict=False):
            sym = perps.get(asset["name"])
            if sym is None:
                continue
            rate = Decimal(ctx["funding"])
            out[f"perp:hyperliquid:{sym.symbol}"] = LiveValue({"close": Decimal(ctx["markPx"])}, now)
            last = _last_settlement(client, context.state, asset["name"], now)
            settled = _settled(client, context.state, asset["name"], now)
            SettlementTracker.of(context.state).expect(asset["name"], nxt_ms * _MS, now)
            out[f"funding:hyperliquid:{sym.symbol}"] = (*last, *settled, LiveValue({"rate": rate}, now, nxt_ms * _MS))
            out[f"next_funding:hyperliquid:{sym.symbol}"] = LiveValue(
                {"rate": rate, "time": Decimal(nxt_ms) / 1000}, now)
    if spots:
        meta, ctxs = client.publicPostInfo({"type": "spotMetaAndAssetCtxs"})
        now = time.time_ns()
        mapping = client.options.get("spotCurrencyMapping") or {}
        tokens = {t["index"]: t["name"] for t in meta["tokens"]}
        for pair, ctx in zip(meta["universe"], ctxs, strict=False):
            base, quote = (tokens.get(i, "") for i in pair["tokens"])
            symbol = f"{mapping.get(base, base)}/{mapping.get(quote, quote)}"
            if symbol in spots and ctx.get("markPx") is not None:
                out[f"spot:hyperliquid:{symbol}"] = LiveValue({"close": Decimal(ctx["markPx"])}, now)
    return out


def _settled(client: Any, state: dict[str, Any], coin: str, now_ns: int) -> list[Any]:
    """Final rows for the hours of ``coin`` that passed: the rates Hyperliquid settled them at (one request, only
    when an hour passed unconfirmed)."""
    from basis_core.live.market_data import SettlementTracker

    tracker = SettlementTracker.of(state)
    due = tracker.due(coin, now_ns)
    if not due:
        return []
    rows = client.publicPostInfo({"type": "fundingHistory", "coin": coin,
                                  "startTime": (min(due) - tracker.tolerance_ns) // _MS})
    return tracker.confirm(coin, [(int(r["time"]) * _MS, Decimal(r["fundingRate"])) for r in rows], now_ns)


def _last_settlement(client: Any, state: dict[str, Any], coin: str, now_ns: int) -> tuple[Any, ...]:
    """The last settled funding of ``coin`` in the past day (asked once per provider)."""
    from basis_core.live.market_data import LiveValue

    seeded: set[str] = state.setdefault("funding_seeded", set())
    if coin in seeded:
        return ()
    rows = client.publicPostInfo({"type": "fundingHistory", "coin": coin,
                                  "startTime": now_ns // _MS - 24 * _HOUR_MS})
    seeded.add(coin)
    return tuple(LiveValue({"rate": Decimal(r["fundingRate"])}, now_ns, int(r["time"]) * _MS, final=True)
                 for r in rows[-1:])
