"""Live market data (issue 15): the cost of one step's reads across all six venues. Prints one JSON object.

Binance and Hyperliquid run as local emulators in their own processes (``basis emulate <venue> --json``; real
ccxt over HTTP on 127.0.0.1); Uniswap, Curve, Aave and Lido are the real contracts on an anvil node (deployed
here). One :class:`~basis_core.live.market_data.LiveMarketData` reads them all: each step is
``get_data(now)`` (every venue once, concurrently) and a look-up of one value per venue.

Reported: ``step_ms`` (median, p90, max of the whole step, wall clock), ``venue_ms`` (median of each venue's own
read, measured inside its thread), ``sequential_ms`` (the sum of the venues' medians: what reading one after
another would cost) and ``concurrency`` (``sequential_ms / step median``: > 1 means the reads overlapped), the
number of series and requests per step. Target: a step <= 50 ms.
Run: ``.venv/bin/python bench/bench_live_reads.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
from _common import emulator as demo_emulator

TARGET_MS = 50.0


@contextlib.contextmanager
def emulator(venue: str) -> Iterator[dict[str, Any]]:
    """``basis emulate <venue>`` in a subprocess; yields its venue_config for reads (no credentials); stops it."""
    with demo_emulator(venue) as cfg:
        yield {"base_url": cfg["base_url"], "enable_rate_limit": False}


def chain_config(url: str) -> dict[str, dict[str, Any]]:
    """Deploy the four on-chain venues on the node at ``url``; their venue_config entries."""
    from basis_venue_aave.testing.deploy import deploy_aave_market
    from basis_venue_curve.deployment import table_from_world
    from basis_venue_curve.testing.deploy import deploy_curve_pools
    from basis_venue_lido.testing.deploy import deploy_lido
    from basis_venue_uniswap.testing.deploy import deploy_uniswap
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}, cache_allowed_requests=True))
    d = w3.eth.accounts[0]
    return {"uniswap": {"rpc_url": url, "deployment_table": deploy_uniswap(w3, d).deployment_table()},
            "curve": {"rpc_url": url, "deployment_table": table_from_world(deploy_curve_pools(w3, d))},
            "lido": {"rpc_url": url, "deployment_table": deploy_lido(w3, d).deployment_table()},
            "aave": {"rpc_url": url, "deployment_table": deploy_aave_market(w3, d).deployment_table()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from basis_core.live.market_data import LiveMarketData
    from basis_core.testing.anvil import start_anvil

    looks = {"binance": "perp:binance:ETH/USDT:USDT", "hyperliquid": "perp:hyperliquid:ETH/USDC:USDC",
             "uniswap": "dex:uniswap:WETH/USDC", "curve": "pool:curve:3pool", "aave": "aave:USDC",
             "lido": "lst:wstETH"}
    node = start_anvil()
    try:
        with emulator("binance") as binance, emulator("hyperliquid") as hyperliquid:
            vc = {"binance": binance, "hyperliquid": hyperliquid, **chain_config(node.url)}
            with LiveMarketData({"venue_config": vc}, max_age=None) as data:
                steps: list[float] = []
                per_venue: dict[str, list[float]] = {v: [] for v in data.venues}
                for i in range(args.steps + 5):
                    t0 = time.perf_counter()
                    snap = data.get_data(pd.Timestamp.now(tz="UTC"))
                    for key in looks.values():
                        snap.row(key)
                    dt = (time.perf_counter() - t0) * 1000
                    if i >= 5:  # warm-up: ccxt / web3 import, clients, markets, token lookups
                        steps.append(dt)
                        for v, st in data.venue_status().items():
                            per_venue[v].append(float(st["duration_ms"]))
                n_series = len(data.names())
    finally:
        node.stop()
    steps.sort()
    venue_ms = {v: round(statistics.median(x), 2) for v, x in per_venue.items()}
    sequential = sum(venue_ms.values())
    median = statistics.median(steps)
    print(json.dumps({
        "bench": "live_reads", "steps": args.steps, "venues": list(venue_ms), "series": n_series,
        "step_ms": {"median": round(median, 2), "p90": round(steps[int(0.9 * (len(steps) - 1))], 2),
                    "max": round(steps[-1], 2)},
        "venue_ms": venue_ms, "sequential_ms": round(sequential, 2),
        "concurrency": round(sequential / median, 2) if median else None,
        "target_ms": TARGET_MS, "meets_target": median <= TARGET_MS,
    }, indent=2))


if __name__ == "__main__":
    main()
