"""The corridor's liquidation prices are the venues' own: a backtest that walks the market to just above and just
below the reported price sees no liquidation, then the venue's liquidation (each venue, and the joint position).

The market is the seeded synthetic one frozen at T0 (every series as of T0), with the ETH prices (spot, perps'
marks, the ETH oracle) moved by a factor at T1 and T2, seconds later (no funding settles, interest is negligible).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.data.provider import DataProvider
from basis_core.data.series import Series
from basis_core.data.synthetic import synthetic_market
from basis_core.risk import Shock
from basis_core.risk.corridor import corridor, leg_states

D = Decimal
T0 = pd.Timestamp("2025-01-02T00:00:00Z")
T1, T2 = T0 + pd.Timedelta(seconds=10), T0 + pd.Timedelta(seconds=20)
EPS = D("1e-6")
PRICE_COLUMNS = ("open", "high", "low", "close", "price")


@functools.cache
def base() -> DataProvider:
    return synthetic_market()


def walked(f1: Decimal, f2: Decimal) -> DataProvider:
    """The base market as of T0, the ETH prices times ``f1`` at T1 and ``f2`` at T2."""
    out = []
    for name, sr in base().items():
        i = sr.index_at(T0.value)
        row = {c: v[i] for c, v in sr.columns.items()}
        t = sr.times[i]
        if ("ETH/" in name and not name.startswith("funding:")) or name == "oracle:ETH/USD":
            # a walked bar is flat (open = high = low = close): the venue sees exactly the walked price
            px = row.get("close", row.get("price"))
            cols = {c: [v, *(px * f if c in PRICE_COLUMNS else v for f in (f1, f2))]
                    for c, v in row.items()}
            out.append(Series(name, [t, T1.value, T2.value], cols))
        else:
            out.append(Series(name, [t], {c: [v] for c, v in row.items()}))
    return DataProvider(out)


BALANCES = {"binance:futures:USDT": "2000", "hyperliquid:perp-margin:USDC": "1500", "ethereum:wallet:wstETH": "20",
            "ethereum:wallet:ETH": "1"}
BINANCE_SHORT = {"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT", "side": "sell",
                 "amount": "3"}
HL_LONG = {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC", "side": "buy", "amount": "3"}
AAVE = [{"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "10"},
        {"venue": "aave", "operation": "borrow", "asset": "USDC", "amount": "25000"}]
MORPHO = [{"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "10", "market": "wstETH/USDC-86"},
          {"venue": "morpho", "operation": "borrow", "asset": "USDC", "amount": "25000", "market": "wstETH/USDC-86"}]


def opened(market: DataProvider, instructions: list[dict[str, Any]]) -> ExecutionInterfaceManager:
    m = ExecutionInterfaceManager({"venues": ["binance", "hyperliquid", "aave", "morpho"],
                                   "initial_balances": BALANCES},
                                  data_provider=market, execution_mode="backtest")
    for ins in instructions:
        m.execute(T0, ins)
    return m


def liquidations(m: ExecutionInterfaceManager) -> list[tuple[str, int]]:
    return [(r.venue, r.ts_ns) for r in m.execution_history if r.operation == "liquidation" and r.success]


def walk(instructions: list[dict[str, Any]], factor: Decimal) -> list[tuple[str, int]]:
    """Open at T0, walk ETH to ``factor x (1 + EPS)`` (safe side) at T1 and ``factor x (1 - EPS)`` at T2 when it is
    a drop (the other way round for a rise); the venues' liquidations, by venue and time."""
    towards = -1 if factor < 1 else 1
    m = opened(walked(factor * (1 - towards * EPS), factor * (1 + towards * EPS)), instructions)
    m.advance_to(T1)
    m.advance_to(T2)
    return liquidations(m)


CASES: dict[str, tuple[list[dict[str, Any]], str, Callable[[Any], Decimal | None]]] = {
    "binance short, ETH up": ([BINANCE_SHORT], "binance", lambda leg: leg.eth_up),
    "hyperliquid long, ETH down": ([HL_LONG], "hyperliquid", lambda leg: leg.eth_down),
    "aave wstETH/USDC, ETH down": (AAVE, "aave", lambda leg: leg.eth_down),
    "morpho wstETH/USDC-86, ETH down": (MORPHO, "morpho", lambda leg: leg.eth_down),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_venue_liquidates_exactly_where_the_corridor_says(case: str) -> None:
    instructions, venue, pick = CASES[case]
    m = opened(base(), instructions)
    (leg,) = corridor(m, T0, drivers=("eth",)).legs
    factor = pick(leg)
    assert leg.venue == venue and factor is not None
    assert walk(instructions, factor) == [(venue, T2.value)]  # not at factor(1+eps), at factor(1-eps)


def test_a_single_short_matches_the_margin_closed_form() -> None:
    m = opened(base(), [BINANCE_SHORT])
    (leg,) = corridor(m, T0, drivers=("eth",)).legs
    bal = m.get_balances(T0, "binance")
    wallet, size = bal["binance:futures:USDT"], -bal["binance:perp:ETH/USDT:USDT"]
    entry, mmr = bal["binance:metric:entry_price:ETH/USDT:USDT"], bal["binance:metric:maintenance_rate:ETH/USDT:USDT"]
    # wallet + size x (entry - p) = size x p x mmr (first tier, no maintenance amount)
    closed_form = (wallet + size * entry) / (size * (1 + mmr))
    assert abs(leg.liquidation_up["perp:binance:ETH/USDT:USDT"] / closed_form - 1) < D("1e-9")


def test_the_joint_position_liquidates_at_its_nearest_leg_first_both_ways() -> None:
    everything = [BINANCE_SHORT, HL_LONG, *AAVE]
    m = opened(base(), everything)
    c = corridor(m, T0, drivers=("eth",))
    assert c.nearest_leg_down == "hyperliquid:perp-margin:USDC" and c.nearest_leg_up == "binance:futures:USDT"
    assert c.eth_down is not None and c.eth_up is not None
    assert walk(everything, c.eth_down) == [("hyperliquid", T2.value)]  # the Aave account is still safe there
    assert walk(everything, c.eth_up) == [("binance", T2.value)]
    aave = next(leg for leg in c.legs if leg.venue == "aave")
    assert aave.eth_down is not None and aave.eth_down < c.eth_down
    assert [v for v, _ in walk(everything, aave.eth_down)] == ["hyperliquid", "aave"]


def test_rate_shocks_are_the_venues_own_accrual() -> None:
    """A borrow-rate spike the corridor says liquidates within its horizon drives the health factor the Aave
    venue reports below 1 under that shock, and above 1 just under it."""
    m = opened(base(), AAVE)
    (leg,) = corridor(m, T0, drivers=("borrow", "depeg")).legs
    assert leg.borrow_apr is not None and leg.depeg["wstETH"] < 1
    h = {s.leg: s.health for s in leg_states(m, T0, Shock(borrow_apr={"*": leg.borrow_apr}, hours=D(720)))}
    assert h["aave:account"] < 1
    h = {s.leg: s.health for s in leg_states(m, T0, Shock(borrow_apr={"*": leg.borrow_apr * (1 - EPS)},
                                                             hours=D(720)))}
    assert h["aave:account"] >= 1


def test_risk_state_now_is_what_the_venues_report_in_their_balances() -> None:
    """``risk_state`` with no shock agrees with the venues' own metrics: Aave's health factor, and the perp
    wallet's margin balance over its maintenance margin."""
    m = opened(base(), [BINANCE_SHORT, *AAVE])
    (aave,) = m.risk_state(T0, "aave") or []
    assert aave.health == m.get_balances(T0, "aave")["aave:metric:health_factor"]
    (wallet,) = m.risk_state(T0, "binance") or []
    bal = m.get_balances(T0, "binance")
    assert wallet.leg == "binance:futures:USDT"
    assert wallet.details["margin_balance"] == bal["binance:metric:margin_balance:USDT"]
    assert wallet.details["maintenance_margin"] == bal["binance:metric:maintenance_margin:USDT"]
    assert abs(wallet.health - wallet.details["margin_balance"] / wallet.details["maintenance_margin"]) < D("1e-20")
    assert m.risk_state(T0, "hyperliquid") == []  # no position: nothing to liquidate
