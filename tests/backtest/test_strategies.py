"""The built-in strategies' rules, on the synthetic market. The staked-basis and loop strategies run
against the stand-in DeFi venues of ``fake_defi`` (their logic, not the real venues' economics)."""

from __future__ import annotations

import importlib.util
import sys
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from basis_core.backtest.runner import run
from basis_core.backtest.strategies import STRATEGIES, describe
from basis_core.data.synthetic import synthetic_market
from basis_core.numeric import LIBRARY_CONTEXT

_spec = importlib.util.spec_from_file_location("fake_defi", Path(__file__).with_name("fake_defi.py"))
assert _spec is not None and _spec.loader is not None
fake_defi = importlib.util.module_from_spec(_spec)
sys.modules["fake_defi"] = fake_defi
_spec.loader.exec_module(fake_defi)


def _components_add_up(r: Any) -> bool:
    """The PnL components sum exactly to the equity change (exact Decimals, with the library's 60 digits)."""
    with localcontext(LIBRARY_CONTEXT):
        return bool(sum(r.totals.values(), Decimal(0)) == r.end_equity - r.start_equity)


def _installed(name: str) -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == name for ep in entry_points(group="basis_core.venues"))


needs_binance = pytest.mark.skipif(not _installed("binance"), reason="basis-venue-binance is not installed")
MARKET = synthetic_market(seed=5, hours=24 * 12 + 1)


def _binance() -> Any:
    from basis_venue_binance.venue import BinanceVenue

    return BinanceVenue


def test_every_parameter_is_documented() -> None:
    desc = describe()
    assert set(desc) == set(STRATEGIES) == {"cash_and_carry", "staked_basis", "leveraged_staking_loop",
                                            "restaked_basis"}
    for name, rows in desc.items():
        assert rows, name
        for r in rows:
            assert len(r["description"]) > 10, (name, r["name"])


@needs_binance
def test_staked_basis_is_hedged_and_earns_staking_lending_and_funding() -> None:
    sc = {"name": "sb", "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-12T00:00:00Z"},
          "strategies": [{"name": "staked_basis", "required": True,
                          "params": {"eth_amount": 30, "hedge_venue": "binance", "rebalance_band": "0.01"},
                          "balances": {"ethereum:wallet:ETH": 30, "binance:futures:USDT": 100000}}]}
    r = run(sc, data_provider=MARKET, autoload=False,
            plugins=[fake_defi.FakeLido, fake_defi.FakeAave, _binance()])
    pos = r.positions
    rates = pd.Series([float(MARKET.series("lst:wstETH").value("rate", t.value)) for t in pos.index], index=pos.index)
    eth_value = pos["aave:supplied:wstETH"] * rates
    short = -pos["binance:perp:ETH/USDT:USDT"]
    # the short matches the ETH value of the wstETH within the band (+ one order-size step)
    assert ((short - eth_value).abs() <= 0.01 * eth_value + 0.002).all()
    assert pos["aave:supplied:wstETH"].iloc[0] == pytest.approx(30 / rates.iloc[0])
    t = r.totals
    assert t["staking_yield"] > 0 and t["lending_interest"] > 0 and t["funding"] != 0
    # staking yield = wstETH held x ETH price x rate growth, step by step
    oracle = MARKET.series("oracle:ETH/USD")
    eth = pd.Series([float(oracle.value("price", x.value)) for x in pos.index], index=pos.index)
    expected = (pos["aave:supplied:wstETH"].shift(1) * eth * rates.diff()).sum()
    assert float(t["staking_yield"]) == pytest.approx(expected, rel=1e-9)
    # hedged: the price component is small against the ETH move
    move = abs(eth.iloc[-1] - eth.iloc[0]) * 30
    assert abs(float(t["price"])) < 0.05 * move
    assert _components_add_up(r)


def _loop(extra: tuple[Any, ...] = (), balances: dict[str, Any] | None = None, **params: Any) -> Any:
    sc = {"name": "loop", "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-05T00:00:00Z"},
          "strategies": [{"name": "leveraged_staking_loop", "required": True,
                          "params": {"eth_amount": 10, "swap_venue": "dex", "check_every": 6, **params},
                          "balances": {"ethereum:wallet:ETH": 10, **(balances or {})}}]}
    return run(sc, data_provider=MARKET, autoload=False,
               plugins=[fake_defi.FakeLido, fake_defi.FakeAave, fake_defi.FakeDex, *extra])


def _ltv(r: Any, i: int) -> float:
    pos = r.positions.iloc[i]
    ts = r.positions.index[i].value
    rate = float(MARKET.series("lst:wstETH").value("rate", ts))
    return float(pos.get("aave:debt:WETH", 0)) / (float(pos["aave:supplied:wstETH"]) * rate)


def test_leveraged_loop_levers_to_the_target_in_one_bundle() -> None:
    r = _loop(target_ltv="0.8", max_ltv="0.86")
    assert _ltv(r, 0) == pytest.approx(0.8, abs=2e-3)
    ex = r.executions
    # own ETH staked and supplied, then one bundle (its steps recorded one by one), then the sweep
    assert list(ex[ex["operation"] != "interest"]["operation"]) == ["stake", "supply", "stake", "supply", "borrow",
                                                                      "atomic", "supply"]
    assert r.totals["flash_loan_fee"] < 0 and r.totals["borrow_interest"] < 0
    # about 1 / (1 - 0.8) = 5x the own 10 ETH is now supplied
    rate0 = float(MARKET.series("lst:wstETH").value("rate", r.positions.index[0].value))
    assert r.positions["aave:supplied:wstETH"].iloc[0] * rate0 == pytest.approx(50, rel=0.01)
    assert r.positions.get("ethereum:wallet:wstETH", pd.Series([0.0])).iloc[0] == 0  # nothing left idle
    lev = _ltv(r, -1)
    assert 0.79 < lev < 0.86
    assert _components_add_up(r)


def test_leveraged_loop_unwinds_when_borrowing_costs_more_than_staking_earns() -> None:
    # a spread of 100% is never reached: unwind at the first check with one day of history
    r = _loop(target_ltv="0.8", max_ltv="0.86", min_spread="1", unwind_ltv="0", yield_lookback_days=1)
    assert _ltv(r, 0) == pytest.approx(0.8, abs=2e-3)
    assert r.positions["aave:debt:WETH"].iloc[-1] == 0
    assert _components_add_up(r)
    ops = list(r.executions[r.executions["operation"] != "interest"]["operation"])
    assert ops.count("atomic") == 2 and "swap" in ops and "repay" in ops


def test_leveraged_loop_is_skipped_without_its_venues() -> None:
    sc = {"name": "x", "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
          "strategies": [{"name": "leveraged_staking_loop", "params": {"swap_venue": "dex"}}]}
    r = run(sc, data_provider=MARKET, autoload=False, plugins=[fake_defi.FakeLido, fake_defi.FakeDex])
    assert not r.strategies[0].active and "aave" in r.strategies[0].reason


@needs_binance
def test_cash_and_carry_gives_up_a_leg_whose_short_cannot_open() -> None:
    """Without a funding series the Binance perp refuses orders: the long is sold back, nothing is left
    unhedged, and the summary says why."""
    from basis_core.data.provider import DataProvider

    market = DataProvider([MARKET.series(n) for n in MARKET.names() if not n.startswith("funding:binance")])
    sc = {"name": "x", "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
          "venues": ["binance"],
          "strategies": [{"name": "cash_and_carry", "params": {"capital": 10000},
                          "balances": {"binance:spot:USDT": 10000}}]}
    r = run(sc, data_provider=market)
    assert r.positions.get("binance:spot:ETH", pd.Series([0.0])).abs().iloc[-1] < 1e-3
    assert "binance:perp:ETH/USDT:USDT" not in r.positions or r.positions["binance:perp:ETH/USDT:USDT"].iloc[-1] == 0
    assert any("could not be opened" in n for n in r.summary["notes"])
    assert r.end_equity > r.start_equity * Decimal("0.99")  # only the round trip's costs


@needs_binance
def test_staked_basis_stakes_nothing_when_the_hedge_cannot_open() -> None:
    from basis_core.data.provider import DataProvider

    market = DataProvider([MARKET.series(n) for n in MARKET.names() if not n.startswith("funding:binance")])
    sc = {"name": "x", "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
          "strategies": [{"name": "staked_basis", "params": {"eth_amount": 5, "hedge_venue": "binance"},
                          "balances": {"ethereum:wallet:ETH": 5, "binance:futures:USDT": 20000}}]}
    r = run(sc, data_provider=market, autoload=False, plugins=[fake_defi.FakeLido, fake_defi.FakeAave, _binance()])
    assert r.positions["ethereum:wallet:ETH"].iloc[-1] == 5  # still unstaked
    assert any("nothing staked" in n for n in r.summary["notes"])
    assert len(r.executions) == 1 and not r.executions["success"].iloc[0]


@needs_binance
def test_leveraged_loop_with_a_hedge_shorts_its_net_eth() -> None:
    r = _loop(extra=(_binance(),), balances={"binance:futures:USDT": 40000}, hedge_venue="binance",
              hedge_band="0.01")
    pos = r.positions
    rates = pd.Series([float(MARKET.series("lst:wstETH").value("rate", t.value)) for t in pos.index], index=pos.index)
    net = pos["aave:supplied:wstETH"] * rates - pos["aave:debt:WETH"]
    short = -pos["binance:perp:ETH/USDT:USDT"]
    assert net.iloc[0] == pytest.approx(10, rel=0.02)  # own 10 ETH less the costs
    assert ((short - net).abs() <= 0.01 * net + 0.002).all()
    assert _components_add_up(r)


def test_the_docs_list_every_parameter() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "backtest.md"
    if not doc.is_file():
        pytest.skip("docs/backtest.md is not in this checkout")
    text = doc.read_text()
    for name, rows in describe().items():
        assert f"**{name}**" in text, name
        for r in rows:
            assert f"| `{r['name']}` |" in text, (name, r["name"])
