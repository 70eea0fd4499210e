"""Binance's live market data (the ``live_market_data`` hook): public ccxt endpoints, no credentials.

Per step (``venue_config.binance``: ``base_url`` for an emulator, ``enable_rate_limit``), two requests:
``GET /api/v3/ticker/price?symbols=[...]`` (spot last prices) and ``GET /fapi/v1/premiumIndex`` (every USD-M
mark, the predicted rate of the next funding and its time); on the first read of a perp, one
``GET /fapi/v1/fundingRate?limit=1`` (its last settlement), and after each settlement time that passed, one
``GET /fapi/v1/fundingRate`` from that time (the rate it settled at; asked again next read while the venue has
not published it). Series (the backtest's names):

- ``spot:binance:<pair>`` ``close`` (the last price), as of the answer's ``time`` (or its arrival);
- ``perp:binance:<symbol>`` ``close`` (the mark price), as of premiumIndex ``time``;
- ``funding:binance:<symbol>`` ``rate`` at settlement times: the last settlement, and the next one at its
  ``nextFundingTime`` with the rate predicted now (revised each read until that time passes), replaced by the
  settled rate (a final row) once the venue publishes it, so a paper run books what the venue booked;
- ``next_funding:binance:<symbol>``: ``rate`` (predicted) and ``time`` (the settlement, epoch seconds).

Values are the exact decimal strings Binance sends. ccxt is imported on the first read only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from basis_core.backtest.cex.spec import CexSpec, SymbolSpec
from basis_venue_binance.spec import BINANCE_SPEC

_MS = 1_000_000


def _wanted(keys: frozenset[str] | None, *names: str) -> bool:
    return keys is None or any(n in keys for n in names)


def _market_id(sym: SymbolSpec) -> str:
    return f"{sym.base}{sym.quote}"


def _client(context: Any) -> Any:
    client = context.state.get("client")
    if client is None:
        from basis_venue_binance.client import make_binance_client

        s = context.settings
        client = make_binance_client("", "", base_url=s.base_url, timeout_ms=int(context.timeout_s * 1000),
                                     enable_rate_limit=s.enable_rate_limit)
        context.state["client"] = client
    return client


def _rows(answer: Any) -> list[dict[str, Any]]:
    return [answer] if isinstance(answer, dict) else list(answer)


def read_market_data(keys: frozenset[str] | None, context: Any, spec: CexSpec = BINANCE_SPEC) -> dict[str, Any]:
    """The hook's body: ``{series name: LiveValue or (LiveValue, ...)}`` of the listed symbols ``keys`` wants."""
    from basis_core.live.market_data import LiveValue, SettlementTracker

    client = _client(context)
    out: dict[str, Any] = {}
    spots = {_market_id(s): s for s in spec.symbols if s.market == "spot"
             and _wanted(keys, f"spot:binance:{s.symbol}", f"spot:{s.symbol}")}
    perps = {_market_id(s): s for s in spec.symbols if s.market == "perp"
             and _wanted(keys, *(f"{k}:binance:{s.symbol}" for k in ("perp", "funding", "next_funding")))}
    if spots:
        ids = json.dumps(sorted(spots), separators=(",", ":"))
        answer = client.publicGetTickerPrice({"symbols": ids})
        now = time.time_ns()
        for row in _rows(answer):
            sym = spots.get(row.get("symbol", ""))
            if sym is not None:
                as_of = int(row["time"]) * _MS if row.get("time") else now
                out[f"spot:binance:{sym.symbol}"] = LiveValue({"close": Decimal(row["price"])}, as_of)
    if perps:
        answer = client.fapiPublicGetPremiumIndex()
        now = time.time_ns()
        for row in _rows(answer):
            sym = perps.get(row.get("symbol", ""))
            if sym is None:
                continue
            as_of = int(row["time"]) * _MS if row.get("time") else now
            out[f"perp:binance:{sym.symbol}"] = LiveValue({"close": Decimal(row["markPrice"])}, as_of)
            rate, nxt = Decimal(row["lastFundingRate"]), int(row.get("nextFundingTime") or 0)
            funding = list(_last_settlement(client, context.state, sym, as_of))
            funding += _settled(client, context.state, sym, now)
            if nxt > 0:  # 0: no settlement scheduled
                SettlementTracker.of(context.state).expect(sym.symbol, nxt * _MS, now)
                funding.append(LiveValue({"rate": rate}, as_of, nxt * _MS))
                out[f"next_funding:binance:{sym.symbol}"] = LiveValue(
                    {"rate": rate, "time": Decimal(nxt) / 1000}, as_of)
            if funding:
                out[f"funding:binance:{sym.symbol}"] = tuple(funding)
    return out


def _settled(client: Any, state: dict[str, Any], sym: SymbolSpec, now: int) -> list[Any]:
    """Final rows for the announced settlements of ``sym`` that passed: the rates the venue settled them at (one
    request, only when a settlement passed unconfirmed)."""
    from basis_core.live.market_data import SettlementTracker

    tracker = SettlementTracker.of(state)
    due = tracker.due(sym.symbol, now)
    if not due:
        return []
    start_ms = (min(due) - tracker.tolerance_ns) // _MS
    rows = _rows(client.fapiPublicGetFundingRate({"symbol": _market_id(sym), "startTime": start_ms, "limit": 100}))
    return tracker.confirm(sym.symbol, [(int(r["fundingTime"]) * _MS, Decimal(r["fundingRate"])) for r in rows], now)


def _last_settlement(client: Any, state: dict[str, Any], sym: SymbolSpec, as_of: int) -> Iterable[Any]:
    """The last settled funding of ``sym`` (asked once per provider: later ones are the predicted rows)."""
    from basis_core.live.market_data import LiveValue

    seeded: set[str] = state.setdefault("funding_seeded", set())
    if sym.symbol in seeded:
        return ()
    rows = _rows(client.fapiPublicGetFundingRate({"symbol": _market_id(sym), "limit": 1}))
    seeded.add(sym.symbol)
    return [LiveValue({"rate": Decimal(r["fundingRate"])}, as_of, int(r["fundingTime"]) * _MS, final=True)
            for r in rows[-1:]]
