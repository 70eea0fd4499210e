"""On-chain venue benchmarks (issue 7: Aave and Lido backtest). Prints one JSON object.

- aave_supply_per_s / aave_borrow_per_s: Supply (wstETH, e-mode) and Borrow (WETH, with Aave's collateral check
  every time) through the manager in backtest, gas charged (target >= 100,000/s each); ``*_venue_only`` is the
  venue's own path (the hook body without the manager). Each borrow changes the debt, so the account check runs
  on fresh totals every time.
- manager_trivial_per_s: the same manager path with a venue that does nothing (the framework's share; context).
- aave_year_hourly_accrual_s: one year of hourly clock steps (8,760 ``advance_to``) with a wstETH / WETH e-mode
  position: interest on both sides and a liquidation check at every step (target <= 0.2 s).
- lido_stake_per_s, atomic_loop_per_s: a Lido stake, and the flash-loan loop bundle (stake WETH -> wstETH, supply,
  borrow; core-run on a scratch ledger), through the manager (context, no target).
Rates are best of ``--repeat`` runs in operations per second of process CPU time (robust to a busy machine).
Run: ``.venv/bin/python bench/bench_onchain.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pandas as pd
from _common import best_rate_fresh as rate
from _common import year_accrual_seconds
from basis_venue_aave.venue import AaveVenue
from basis_venue_lido.venue import LidoVenue

from basis_core import ExecutionDeltas, ExecutionInterfaceManager, OnChainExecutionInterface, hookimpl
from basis_core.data import synthetic_market
from basis_core.instructions import Borrow, Stake, Supply, parse_instruction

TS = pd.Timestamp("2025-01-03T00:00:00Z")
MARKET = synthetic_market(hours=24 * 30)
YEAR_MARKET = synthetic_market()


class Trivial(OnChainExecutionInterface):
    """Returns fixed deltas: the framework's own cost per instruction."""

    name = "trivial"
    key_namespaces = ("trivial:", "ethereum:wallet:")  # the shared wallet, as every on-chain venue declares it

    @hookimpl
    def execute_supply(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        a = instruction.amount
        return ExecutionDeltas("trivial", "supply", timestamp, {"ethereum:wallet:WETH": -a, "trivial:supplied:WETH": a})


def aave_manager(balances: dict[str, str], market: Any = MARKET) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"initial_balances": balances}, market, "backtest", autoload=False,
                                     plugins=[AaveVenue, LidoVenue])


def bench_aave(repeat: int) -> dict[str, float]:
    sup = Supply(venue="aave", asset="wstETH", amount=Decimal("0.01"), e_mode_category=1)
    bor = Borrow(venue="aave", asset="WETH", amount=Decimal("0.001"))
    out: dict[str, float] = {}

    def fresh() -> ExecutionInterfaceManager:
        m = aave_manager({"ethereum:wallet:ETH": "1e9", "ethereum:wallet:wstETH": "1e9"})
        m.execute(TS, {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "100000",
                       "e_mode_category": 1})
        return m

    for name, ins in (("supply", sup), ("borrow", bor)):
        def make(ins: Any = ins) -> Callable[[int], None]:
            ex = fresh().execute

            def loop(n: int) -> None:
                for _ in range(n):
                    ex(TS, ins)
            return loop

        def make_venue(ins: Any = ins, name: str = name) -> Callable[[int], None]:
            fn = getattr(fresh().venue("aave").backend, name)

            def loop(n: int) -> None:
                for _ in range(n):
                    fn(TS, ins)
            return loop

        out[f"aave_{name}_per_s"] = round(rate(make, 20_000, repeat))
        out[f"aave_{name}_per_s_venue_only"] = round(rate(make_venue, 20_000, repeat))

    def make_trivial() -> Callable[[int], None]:
        m = ExecutionInterfaceManager({"initial_balances": {"ethereum:wallet:WETH": "1e12"}}, MARKET, "backtest",
                                      autoload=False, plugins=[Trivial])
        ins = Supply(venue="trivial", asset="WETH", amount=Decimal("0.01"))
        ex = m.execute

        def loop(n: int) -> None:
            for _ in range(n):
                ex(TS, ins)
        return loop

    out["manager_trivial_per_s"] = round(rate(make_trivial, 20_000, repeat))
    return out


def bench_accrual(repeat: int) -> float:
    """Best wall-clock (CPU) seconds for a year of hourly advance_to with an e-mode wstETH / WETH position."""
    t0 = pd.Timestamp("2025-01-01T00:00:00Z")

    def opened() -> ExecutionInterfaceManager:
        m = aave_manager({"ethereum:wallet:ETH": "10", "ethereum:wallet:wstETH": "100"}, YEAR_MARKET)
        m.execute(t0, {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "100",
                       "e_mode_category": 1})
        m.execute(t0, {"venue": "aave", "operation": "borrow", "asset": "WETH", "amount": "80"})
        return m

    return year_accrual_seconds(opened, repeat,
                                lambda m: m.ledger is not None and m.ledger.balance("aave:debt:WETH") > 80)


def bench_lido_and_loop(repeat: int) -> dict[str, float]:
    stake = Stake(venue="lido", asset="ETH", amount=Decimal("0.01"), receive="wstETH")
    loop_ins = parse_instruction({
        "operation": "atomic", "venue": "atomic", "flash_loan": {"venue": "aave", "asset": "WETH", "amount": "1"},
        "steps": [{"operation": "stake", "venue": "lido", "asset": "WETH", "amount": "1", "receive": "wstETH"},
                  {"operation": "supply", "venue": "aave", "asset": "wstETH", "amount": "0.8",
                   "e_mode_category": 1},
                  {"operation": "borrow", "venue": "aave", "asset": "WETH", "amount": "1.0005"}],
        "min_health_factor": "1.01"})

    def make_stake() -> Callable[[int], None]:
        ex = aave_manager({"ethereum:wallet:ETH": "1e9"}).execute

        def loop(n: int) -> None:
            for _ in range(n):
                ex(TS, stake)
        return loop

    def make_loop() -> Callable[[int], None]:
        m = aave_manager({"ethereum:wallet:ETH": "1e9", "ethereum:wallet:wstETH": "1e9"})
        m.execute(TS, {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "1000000",
                       "e_mode_category": 1})
        ex = m.execute

        def loop(n: int) -> None:
            for _ in range(n):
                ex(TS, loop_ins)
        return loop

    return {"lido_stake_per_s": round(rate(make_stake, 10_000, repeat)),
            "atomic_loop_per_s": round(rate(make_loop, 3_000, repeat))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    out: dict[str, Any] = {"benchmark": "onchain_venues"}
    out.update(bench_aave(args.repeat))
    out["aave_ops_target_per_s"] = 100_000
    out["aave_year_hourly_accrual_s"] = round(bench_accrual(max(3, args.repeat)), 4)
    out["aave_year_hourly_accrual_target_s"] = 0.2
    out.update(bench_lido_and_loop(max(1, args.repeat // 2)))
    out["within_target"] = (out["aave_supply_per_s"] >= 100_000 and out["aave_borrow_per_s"] >= 100_000
                            and out["aave_year_hourly_accrual_s"] <= 0.2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
