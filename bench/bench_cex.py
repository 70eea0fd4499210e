"""CEX simulator benchmarks (issue 4: Binance / Hyperliquid backtest). Prints one JSON object.

- spot_market_orders_per_s: Binance spot market order through the manager (target >= 150,000/s), every order at
  the same timestamp; ``*_bar_by_bar``: each order at a new 1-minute timestamp (the clock advances and the venues
  accrue between orders); ``*_venue_only`` is the venue's own path (the hook body without the manager).
- perp_market_orders_per_s: Binance USD-M market order incl. the margin check (target >= 100,000/s);
  every order increases the position, so every order runs the margin check.
- funding_year_s: one year of hourly clock steps with 10 open perp positions, through the manager's
  ``advance_to`` (funding settlements, liquidation checks; target <= 0.5 s), for Binance (8-hourly
  funding) and Hyperliquid (hourly funding: 10x the settlements).
- flat_fill_cost: 100,000 buys into one perp position vs 100,000 alternating buys / sells, per-order
  rate of each and of the first / last 10,000 of the buys (must stay flat, ratio ~1).
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pandas as pd
from _common import best_rate_fresh as best_rate
from basis_venue_binance.spec import BINANCE_SPEC, USDM_TIERS
from basis_venue_binance.venue import BinanceVenue
from basis_venue_hyperliquid.spec import HYPERLIQUID_SPEC
from basis_venue_hyperliquid.venue import HyperliquidVenue

from basis_core import ExecutionInterfaceManager
from basis_core.backtest.cex import perp
from basis_core.data import synthetic_market
from basis_core.data.series import Series
from basis_core.instructions import PerpTrade, SpotTrade
from basis_core.timeutil import NS_PER_HOUR, from_ns

TS = pd.Timestamp("2025-03-01T00:00:00Z")
#: 1-minute timestamps from TS on (bar-by-bar orders: a new time for each)
BARS = [TS + pd.Timedelta(minutes=i + 1) for i in range(60_000)]


def manager(venue: Any, balances: dict[str, str], market: Any = None) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"initial_balances": balances}, market or synthetic_market(hours=24 * 90),
                                     "backtest", autoload=False, plugins=[venue])


def bench_spot() -> dict[str, float]:
    """Alternating buys and sells of 0.01 ETH (a fresh manager per repeat)."""
    buy = SpotTrade(venue="binance", symbol="ETH/USDT", side="buy", amount=Decimal("0.01"))
    sell = SpotTrade(venue="binance", symbol="ETH/USDT", side="sell", amount=Decimal("0.01"))
    balances = {"binance:spot:USDT": "1e12", "binance:spot:ETH": "1e6"}

    def run_venue() -> Any:
        m = manager(BinanceVenue, balances)
        m.execute(TS, buy)
        f = m.venue("binance").backend.spot_trade

        def loop(n: int) -> None:
            for _ in range(n // 2):
                f(TS, buy)
                f(TS, sell)
        return loop

    def run() -> Any:
        m = manager(BinanceVenue, balances)
        ex = m.execute
        ex(TS, buy)

        def loop(n: int) -> None:
            for _ in range(n // 2):
                ex(TS, buy)
                ex(TS, sell)
        return loop
    def run_bars() -> Any:
        m = manager(BinanceVenue, balances)
        ex = m.execute
        ex(TS, buy)

        def loop(n: int) -> None:
            for i in range(0, n, 2):
                ex(BARS[i], buy)
                ex(BARS[i + 1], sell)
        return loop
    return {"spot_market_orders_per_s_venue_only": round(best_rate(run_venue, 100_000)),
            "spot_market_orders_per_s": round(best_rate(run, 50_000)),
            "spot_market_orders_per_s_bar_by_bar": round(best_rate(run_bars, 50_000))}


def bench_perp() -> dict[str, float]:
    """Buys of 0.02 ETH into one long: every order grows the position and runs the margin check."""
    buy = PerpTrade(venue="binance", symbol="ETH/USDT:USDT", side="buy", amount=Decimal("0.02"))
    balances = {"binance:futures:USDT": "1e12"}

    def run_venue() -> Any:
        m = manager(BinanceVenue, balances)
        m.execute(TS, buy)
        f = m.venue("binance").backend.perp_trade
        apply = m.ledger.apply  # type: ignore[union-attr]

        def loop(n: int) -> None:
            for _ in range(n):
                apply(f(TS, buy).positions)  # keep the wallet in step with the position
        return loop

    def run() -> Any:
        m = manager(BinanceVenue, balances)
        ex = m.execute
        ex(TS, buy)

        def loop(n: int) -> None:
            for _ in range(n):
                ex(TS, buy)
        return loop
    def run_bars() -> Any:
        m = manager(BinanceVenue, balances)
        ex = m.execute
        ex(TS, buy)

        def loop(n: int) -> None:
            for i in range(n):
                ex(BARS[i], buy)
        return loop
    return {"perp_market_orders_per_s_venue_only": round(best_rate(run_venue, 60_000)),
            "perp_market_orders_per_s": round(best_rate(run, 40_000)),
            "perp_market_orders_per_s_bar_by_bar": round(best_rate(run_bars, 40_000))}


def _ten_symbol_market(venue: str, settle: str, base_market: Any) -> tuple[Any, list[str]]:
    """The synthetic market plus 10 perp symbols (copies of the ETH mark and funding series)."""
    src = "ETH/USDT:USDT" if venue == "binance" else "ETH/USDC:USDC"
    mark = base_market.series(f"perp:{venue}:{src}")
    fund = base_market.series(f"funding:{venue}:{src}")
    symbols = [f"C{i}/{settle}:{settle}" for i in range(10)]
    for s in symbols:
        base_market.add(Series(f"perp:{venue}:{s}", mark.times, mark.columns))
        base_market.add(Series(f"funding:{venue}:{s}", fund.times, fund.columns))
    return base_market, symbols


def bench_funding(venue_cls: Any, base_spec: Any, settle: str, margin_key: str) -> dict[str, Any]:
    market, symbols = _ten_symbol_market(base_spec.venue, settle, synthetic_market())
    extra = tuple(perp(s, tick="0.01", step="0.001", min_notional="5", tiers=USDM_TIERS) for s in symbols)
    spec = replace(base_spec, symbols=base_spec.symbols + extra)
    venue = venue_cls(spec)
    m = ExecutionInterfaceManager({"initial_balances": {margin_key: "1e9"}}, market, "backtest",
                                  autoload=False, plugins=[venue])
    start = pd.Timestamp("2025-01-01T00:00:00Z")
    for i, s in enumerate(symbols):
        m.execute(start, PerpTrade(venue=base_spec.venue, symbol=s, side="buy" if i % 2 else "sell",
                                   amount=Decimal("1")))
    stamps = [from_ns(start.value + h * NS_PER_HOUR) for h in range(1, 365 * 24 + 1)]
    effects: list[Any] = []
    keep = effects.extend
    gc.collect()
    t = time.process_time()  # CPU time of this process: robust to other work on a shared machine
    adv = m.advance_to
    for ts in stamps:
        keep(adv(ts))
    elapsed = time.process_time() - t
    funding = [e for e in effects if e.operation == "funding"]
    return {"seconds": round(elapsed, 3), "funding_records": len(funding),
            "position_settlements": sum(len(e.details["payments"]) for e in funding),
            "liquidations": sum(1 for e in effects if e.operation == "liquidation")}


def bench_flat() -> dict[str, Any]:
    n = 100_000
    m = manager(BinanceVenue, {"binance:futures:USDT": "1e13"})
    buy = PerpTrade(venue="binance", symbol="ETH/USDT:USDT", side="buy", amount=Decimal("0.02"))
    sell = PerpTrade(venue="binance", symbol="ETH/USDT:USDT", side="sell", amount=Decimal("0.02"))
    ex = m.execute
    chunks: list[float] = []
    t0 = time.perf_counter()
    for _ in range(10):
        t = time.perf_counter()
        for _ in range(n // 10):
            ex(TS, buy)
        chunks.append((n // 10) / (time.perf_counter() - t))
    accumulate = n / (time.perf_counter() - t0)
    m2 = manager(BinanceVenue, {"binance:futures:USDT": "1e13"})
    ex2 = m2.execute
    t0 = time.perf_counter()
    for _ in range(n // 2):
        ex2(TS, buy)
        ex2(TS, sell)
    alternate = n / (time.perf_counter() - t0)
    size = m.ledger.balance("binance:perp:ETH/USDT:USDT") if m.ledger else None
    return {"accumulate_orders_per_s": round(accumulate), "alternate_orders_per_s": round(alternate),
            "accumulate_over_alternate": round(accumulate / alternate, 3),
            "first_10k_per_s": round(chunks[0]), "last_10k_per_s": round(chunks[-1]),
            "last_over_first": round(chunks[-1] / chunks[0], 3), "final_position": str(size)}


def main() -> None:
    out: dict[str, Any] = {}
    out.update(bench_spot())
    out["spot_market_orders_per_s_target"] = 150_000
    out.update(bench_perp())
    out["perp_market_orders_per_s_target"] = 100_000
    out["funding_year_binance"] = min((bench_funding(BinanceVenue, BINANCE_SPEC, "USDT", "binance:futures:USDT")
                                       for _ in range(3)), key=lambda r: r["seconds"])
    out["funding_year_hyperliquid"] = min((bench_funding(HyperliquidVenue, HYPERLIQUID_SPEC, "USDC",
                                                         "hyperliquid:perp-margin:USDC") for _ in range(3)),
                                          key=lambda r: r["seconds"])
    out["funding_year_s_target"] = 0.5
    out["flat_fill_cost"] = bench_flat()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
