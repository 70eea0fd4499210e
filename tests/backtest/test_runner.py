"""The runner: PnL components add up exactly and match closed forms; determinism; failures; valuation."""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

import pandas as pd
import pytest
from basis_venue_paper import PaperVenue

from basis_core.backtest.runner import COMPONENTS, run
from basis_core.backtest.valuation import Valuer, lst_rate_gain
from basis_core.data.provider import DataProvider
from basis_core.data.series import Series
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import InsufficientFundsError, ScenarioError
from basis_core.numeric import LIBRARY_CONTEXT

H = 3_600_000_000_000
T0 = pd.Timestamp("2025-01-01T00:00:00Z").value
FEE = Decimal("0.001")  # the paper venue's fee rate (its documented constant)


def market(prices: list[Decimal]) -> DataProvider:
    times = [T0 + i * H for i in range(len(prices))]
    return DataProvider([Series("spot:ETH/USDT", times, {c: list(prices) for c in ("open", "high", "low", "close")})])


def at(h: int) -> str:
    return pd.Timestamp(T0 + h * H, tz="UTC").isoformat()


def trade(h: int, side: str, amount: str) -> dict[str, Any]:
    return {"at": at(h), "instruction": {"venue": "paper", "operation": "spot_trade", "symbol": "ETH/USDT",
                                         "side": side, "amount": amount}}


def scenario(schedule: list[dict[str, Any]], hours: int, **extra: Any) -> dict[str, Any]:
    return {"name": "t", "period": {"start": at(0), "end": at(hours), "step": "1h"},
            "initial_balances": {"paper:spot:USDT": "100000"}, "schedule": schedule, **extra}


def go(sc: dict[str, Any], provider: DataProvider) -> Any:
    return run(sc, data_provider=provider, plugins=[PaperVenue], autoload=False)


def assert_identity(r: Any) -> None:
    with localcontext(LIBRARY_CONTEXT):  # exact, Decimal, with the library's 60 digits
        total = sum(r.totals.values(), Decimal(0))
        assert total == r.end_equity - r.start_equity
    last = r.equity.iloc[-1]
    assert last["equity"] == pytest.approx(float(r.end_equity))
    assert sum(last[c] for c in COMPONENTS) == pytest.approx(float(r.end_equity - r.start_equity), abs=1e-6)
    assert r.pnl.sum().to_dict() == pytest.approx({c: float(v) for c, v in r.totals.items()}, abs=1e-6)


def test_constant_price_price_component_is_zero_and_fees_closed_form() -> None:
    px = Decimal("2000")
    sched = [trade(1, "buy", "1"), trade(5, "buy", "2"), trade(10, "sell", "1.5"), trade(20, "sell", "0.25")]
    r = go(scenario(sched, 24), market([px] * 25))
    assert r.totals["price"] == 0
    expected_fees = -(FEE * px * (Decimal("1") + Decimal("2") + Decimal("1.5") + Decimal("0.25")))
    assert r.totals["trading_fees"] == expected_fees == Decimal("-9.5")
    assert r.end_equity - r.start_equity == expected_fees
    assert all(v == 0 for c, v in r.totals.items() if c not in ("price", "trading_fees"))
    assert_identity(r)
    assert r.positions["paper:spot:ETH"].iloc[-1] == pytest.approx(1.25)
    assert len(r.executions) == 4 and r.executions["success"].all()


def test_moving_price_component_equals_closed_form() -> None:
    prices = [Decimal(2000 + 10 * i) for i in range(49)]
    r = go(scenario([trade(1, "buy", "1"), trade(30, "sell", "0.4")], 48), market(prices))
    # 1 ETH held from hour 1 (bought at 2010) to 30 (0.4 sold at 2300), 0.6 held to hour 48 (2480)
    price_pnl = 1 * (prices[30] - prices[1]) + Decimal("0.6") * (prices[48] - prices[30])
    assert r.totals["price"] == price_pnl
    assert r.totals["trading_fees"] == -FEE * (prices[1] + Decimal("0.4") * prices[30])
    assert_identity(r)
    # per step: after the buy the book gains 10 USD per hour per ETH held
    assert r.pnl["price"].iloc[2] == pytest.approx(10.0)
    assert r.pnl["price"].iloc[40] == pytest.approx(6.0)
    assert r.summary["return"] == pytest.approx(float((r.end_equity / r.start_equity) - 1))


def test_atomic_bundle_pnl_is_counted_once() -> None:
    px = Decimal("2500")
    bundle = {"at": at(3), "instruction": {"operation": "atomic", "steps": [
        {"venue": "paper", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy", "amount": "2"},
        {"venue": "paper", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "sell", "amount": "1"}]}}
    r = go(scenario([bundle], 6), market([px] * 7))
    assert r.totals["trading_fees"] == -FEE * px * 3  # two steps, counted once each
    assert r.totals["price"] == 0
    assert r.end_equity - r.start_equity == -FEE * px * 3
    assert list(r.executions["operation"]) == ["spot_trade", "spot_trade", "atomic"]


def test_same_seed_same_result_and_other_seed_differs() -> None:
    sc = {"name": "seeded", "market": {"source": "synthetic", "seed": 3},
          "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-04T00:00:00Z", "step": "1h"},
          "initial_balances": {"paper:spot:USDT": "50000"},
          "schedule": [{"at": "2025-01-01T05:00:00Z", "instruction": {
              "venue": "paper", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy", "amount": "3"}}]}
    a = run(sc, plugins=[PaperVenue], autoload=False)
    b = run(sc, plugins=[PaperVenue], autoload=False)
    pd.testing.assert_frame_equal(a.equity, b.equity)
    pd.testing.assert_frame_equal(a.positions, b.positions)
    assert a.totals == b.totals
    sa = {k: v for k, v in a.summary.items() if k != "runtime"}
    sb = {k: v for k, v in b.summary.items() if k != "runtime"}
    assert sa == sb
    c = run({**sc, "market": {"source": "synthetic", "seed": 4}}, plugins=[PaperVenue], autoload=False)
    assert c.end_equity != a.end_equity
    assert_identity(a)
    assert len(a.equity) == 73


def test_failed_instruction_is_recorded_and_stop_raises() -> None:
    prices = [Decimal(2000)] * 11
    sched = [trade(1, "buy", "1000"), trade(2, "buy", "1")]  # the first overdraws 100k USDT
    r = go(scenario(sched, 10), market(prices))
    assert r.summary["failed_scheduled"] == 1 and r.summary["failed"] == 1
    ok = r.executions[r.executions["success"]]
    assert len(ok) == 1
    bad = r.executions[~r.executions["success"]].iloc[0]
    assert bad["error_field"] == "amount" and "InsufficientFundsError" in bad["error"]
    assert r.totals["trading_fees"] == -FEE * 2000
    with pytest.raises(InsufficientFundsError):
        go(scenario(sched, 10, on_error="stop"), market(prices))


def test_schedule_outside_period_is_an_error() -> None:
    with pytest.raises(ScenarioError, match="outside the period"):
        go(scenario([trade(30, "buy", "1")], 10), market([Decimal(2000)] * 40))


def test_strategies_without_their_venues_are_skipped_or_fail_when_required() -> None:
    sc = scenario([], 5, strategies=[{"name": "cash_and_carry"}, {"name": "staked_basis"},
                                     {"name": "leveraged_staking_loop"}])
    r = go(sc, market([Decimal(2000)] * 6))
    assert [s.active for s in r.strategies] == [False, False, False]
    assert all(s.reason for s in r.strategies)
    assert r.end_equity == r.start_equity
    sc["strategies"][0]["required"] = True
    with pytest.raises(ScenarioError, match="cash_and_carry cannot run"):
        go(sc, market([Decimal(2000)] * 6))


def test_lst_holdings_earn_staking_yield_closed_form() -> None:
    times = [T0 + i * H for i in range(25)]
    eth = [Decimal(3000 + 5 * i) for i in range(25)]
    rate = [Decimal("1.2") + Decimal("0.0001") * i for i in range(25)]
    provider = DataProvider([Series("oracle:ETH/USD", times, {"price": eth}),
                             Series("lst:wstETH", times, {"rate": rate})])
    sc = {"name": "lst", "period": {"start": at(0), "end": at(24)},
          "initial_balances": {"ethereum:wallet:wstETH": "4", "aave:debt:wstETH": "1"}}
    r = run(sc, data_provider=provider, autoload=False)
    expected = sum((Decimal(3) * eth[i] * (rate[i] - rate[i - 1]) for i in range(1, 25)), Decimal(0))
    assert r.totals["staking_yield"] == expected
    assert r.start_equity == 3 * eth[0] * rate[0]
    assert r.end_equity == 3 * eth[24] * rate[24]
    assert_identity(r)
    off = run(sc, data_provider=provider, autoload=False, attribute_lst_yield=False)
    assert off.totals["staking_yield"] == 0 and off.totals["price"] == off.end_equity - off.start_equity


def _perp_provider(mark: Decimal) -> DataProvider:
    return DataProvider([Series("perp:x:ETH/USDT:USDT", [T0], {"close": [mark]})])


def _d(positions: dict[str, str], fees: dict[str, str], price: str) -> ExecutionDeltas:
    return ExecutionDeltas("x", "perp_trade", pd.Timestamp(T0, tz="UTC"),
                           {k: Decimal(v) for k, v in positions.items()}, fees={k: Decimal(v) for k, v in fees.items()},
                           fill_price=Decimal(price))


@pytest.mark.parametrize("realises", [True, False])
def test_perp_valuation_from_fills_is_independent_of_the_venues_realised_split(realises: bool) -> None:
    """Short 2 @ 100 (fee 0.1), buy back 1 @ 90 (fee 0.09); mark 95. Economic PnL: 2*100 - 90 - 95 = 15."""
    w, p = "x:futures:USDT", "x:perp:ETH/USDT:USDT"
    fills = [_d({p: "-2", w: "-0.1"}, {w: "-0.1"}, "100"),
             _d({p: "1", w: "9.91" if realises else "-0.09"}, {w: "-0.09"}, "90")]
    v = Valuer(_perp_provider(Decimal(95)))
    v.observe(fills)
    wallet = Decimal(1000) - Decimal("0.19") + (Decimal(10) if realises else 0)
    val = v.value(_perp_provider(Decimal(95)).get_data(T0), {w: wallet, p: Decimal(-1)})
    assert val.equity == Decimal(1000) - Decimal("0.19") + Decimal(15)
    assert val.exposures[p] == Decimal(-95)


def test_perp_valuation_prefers_the_venues_entry_price_metric() -> None:
    w, p = "x:futures:USDT", "x:perp:ETH/USDT:USDT"
    metrics = {"x:metric:entry_price:ETH/USDT:USDT": Decimal(100)}
    v = Valuer(_perp_provider(Decimal(95)), balances_of=lambda ts, venue: metrics)
    val = v.value(_perp_provider(Decimal(95)).get_data(T0), {w: Decimal(500), p: Decimal(-2)})
    assert val.equity == Decimal(500) + Decimal(10)


def test_lst_rate_gain_signs() -> None:
    times = [T0, T0 + H]
    prov = DataProvider([Series("oracle:ETH/USD", times, {"price": [Decimal(3000), Decimal(3100)]}),
                         Series("lst:wstETH", times, {"rate": [Decimal("1.2"), Decimal("1.21")]})])
    gain = lst_rate_gain(prov.get_data(T0), prov.get_data(T0 + H),
                         {"aave:supplied:wstETH": Decimal(10), "aave:debt:wstETH": Decimal(2),
                          "aave:metric:wstETH": Decimal(99), "x:spot:USDT": Decimal(5)})
    assert gain == Decimal(8) * Decimal(3100) * Decimal("0.01")


# -- with the real CEX venues (skipped when their plugins are not installed) -----------------------------
def _installed(name: str) -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == name for ep in entry_points(group="basis_core.venues"))


needs_binance = pytest.mark.skipif(not _installed("binance"), reason="basis-venue-binance is not installed")


def _cex_market(prices: list[Decimal], rate: str = "0.0001") -> DataProvider:
    times = [T0 + i * H for i in range(len(prices))]
    ohlc = {c: list(prices) for c in ("open", "high", "low", "close")}
    settle = [t for t in times if (t // H) % 8 == 0]
    return DataProvider([Series("spot:ETH/USDT", times, ohlc), Series("perp:binance:ETH/USDT:USDT", times, ohlc),
                         Series("funding:binance:ETH/USDT:USDT", settle, {"rate": [Decimal(rate)] * len(settle)})])


@needs_binance
def test_binance_basis_at_constant_price_closed_form() -> None:
    """Buy 1 ETH spot, short 1 ETH perp at a constant 2000 USDT; Binance base-tier fees and the plugin's
    documented slippage buckets (spot 5 bps, perp 3 bps under 10k); funding 0.01% per 8 h for a day."""
    px = Decimal(2000)
    leg = {"venue": "binance", "symbol": "ETH/USDT", "amount": "1"}
    sc = {"name": "c", "period": {"start": at(0), "end": at(24)}, "venues": ["binance"],
          "initial_balances": {"binance:spot:USDT": "10000", "binance:futures:USDT": "2000"},
          "schedule": [{"at": at(1), "instruction": {**leg, "operation": "spot_trade", "side": "buy"}},
                       {"at": at(1), "instruction": {**leg, "symbol": "ETH/USDT:USDT", "operation": "perp_trade",
                                                     "side": "sell"}}]}
    r = run(sc, data_provider=_cex_market([px] * 25))
    spot_fill, perp_fill = px * Decimal("1.0005"), px * Decimal("0.9997")
    assert r.totals["price"] == 0
    assert r.totals["slippage"] == -(spot_fill - px) - (px - perp_fill)
    assert r.totals["trading_fees"] == -(Decimal("0.001") * px) - Decimal("0.0005") * perp_fill
    assert r.totals["funding"] == 3 * px * Decimal("0.0001")  # settlements at 08:00, 16:00, 00:00
    assert_identity(r)


@needs_binance
def test_cash_and_carry_stays_delta_neutral_and_keeps_its_collateral_when_eth_rallies() -> None:
    # ETH +60% in 60 hours, then flat: the short loses, the strategy moves cash to the margin account
    prices = [Decimal(2000) + Decimal(20) * min(i, 60) for i in range(100)]
    sc = {"name": "carry", "period": {"start": at(0), "end": at(99)}, "venues": ["binance"],
          "strategies": [{"name": "cash_and_carry", "params": {"capital": 50000, "margin_fraction": "0.2"},
                          "balances": {"binance:spot:USDT": 50000}}]}
    r = run(sc, data_provider=_cex_market(prices))
    pos = r.positions
    spot, perp = pos["binance:spot:ETH"], pos["binance:perp:ETH/USDT:USDT"]
    assert spot.iloc[0] > 19
    assert ((spot + perp).abs() <= 0.01 * spot).all()  # delta-neutral at every step
    assert r.totals["liquidation"] == 0
    transfers = r.executions[(r.executions["operation"] == "transfer") & r.executions["success"]]
    assert len(transfers) >= 2  # the initial margin, then at least one top-up
    bal = r.manager.get_balances(pd.Timestamp(T0 + 99 * H, tz="UTC"), "binance")
    ratio = bal["binance:metric:margin_balance:USDT"] / bal["binance:metric:notional:ETH/USDT:USDT"]
    assert ratio > Decimal("0.25") * Decimal("0.6")  # never below the top-up threshold at the end
    assert abs(r.totals["price"]) < 0.002 * float(r.start_equity)  # hedged: ETH +60% barely moves equity
    assert_identity(r)


def test_host_strategy_object_runs_through_the_public_api() -> None:
    from basis_core.backtest.strategies import Strategy

    class BuyTheDip(Strategy):
        name = "buy_the_dip"

        def step(self, manager: Any, ts: Any) -> None:
            px = manager.data_provider.get_data(ts).get("spot:ETH/USDT")
            if px < 1950 and not self.errors:
                self.try_execute(manager, ts, {"venue": "paper", "operation": "spot_trade", "symbol": "ETH/USDT",
                                               "side": "buy", "amount": "1"})
                self.errors += 1  # once

    prices = [Decimal(2000 - 10 * i) for i in range(11)]
    r = run(scenario([], 10), data_provider=market(prices), plugins=[PaperVenue], autoload=False,
            strategies=[BuyTheDip()])
    assert [(s.name, s.active) for s in r.strategies] == [("buy_the_dip", True)]
    assert r.totals["trading_fees"] == -FEE * prices[6]  # first close below 1950 is hour 6 (1940)
    assert r.totals["price"] == 4 * Decimal(-10)


def test_default_scenario_same_seed_same_result_over_ten_days() -> None:
    from basis_core.backtest.scenario import default_scenario_path, load_scenario

    base = load_scenario(default_scenario_path())
    period = base.period.model_copy(update={"end": pd.Timestamp("2025-01-11T00:00:00Z")})
    sc = base.model_copy(update={"period": period})
    a, b = run(sc), run(sc)
    pd.testing.assert_frame_equal(a.equity, b.equity)
    pd.testing.assert_frame_equal(a.positions, b.positions)
    assert a.totals == b.totals and a.end_equity == b.end_equity
    assert len(a.executions) == len(b.executions)
    assert_identity(a)
    other = run(sc.model_copy(update={"market": sc.market.model_copy(update={"seed": 8})}))
    if any(s.active for s in a.strategies):
        assert other.end_equity != a.end_equity


def test_venue_valued_keys_and_unpriced_keys() -> None:
    prov = DataProvider([Series("oracle:ETH/USD", [T0], {"price": [Decimal(3000)]})])
    metrics = {"lido:metric:value_usd:withdrawal:7": Decimal("6000.5")}
    v = Valuer(prov, balances_of=lambda ts, venue: metrics if venue == "lido" else {})
    val = v.value(prov.get_data(T0), {"lido:withdrawal:7": Decimal(2), "uniswap:lp:v2:WETH/USDC": Decimal(5),
                                      "ethereum:wallet:ETH": Decimal(1), "aave:metric:health_factor": Decimal(9)})
    assert val.values["lido:withdrawal:7"] == Decimal("6000.5")
    assert val.values["uniswap:lp:v2:WETH/USDC"] == 0 and v.unpriced == {"uniswap:lp:v2:WETH/USDC"}
    assert val.equity == Decimal("6000.5") + 3000


def test_lp_positions_of_the_installed_amm_venues_are_valued_not_unpriced() -> None:
    """Uniswap v2 / v3 and Curve LP keys are valued through the venues' ``value_usd`` metrics: a fresh deposit
    is worth what was deposited (within rounding), so equity does not drop when a strategy provides liquidity."""
    from basis_core import ExecutionInterfaceManager
    from basis_core.data import synthetic_market

    market = synthetic_market()
    ts = pd.Timestamp("2025-06-02T12:00:00Z")
    bal = {"ethereum:wallet:WETH": "100", "ethereum:wallet:USDC": "1000000", "ethereum:wallet:USDT": "1000000",
           "ethereum:wallet:ETH": "10"}
    m = ExecutionInterfaceManager({"initial_balances": bal, "venues": ["uniswap", "curve"]}, market, "backtest")
    valuer = Valuer(market, m.get_balances)
    before = valuer.value(market.get_data(ts), m.ledger.balances).equity  # type: ignore[union-attr]
    gas = Decimal(0)
    for pool, amounts in (("v2:WETH/USDC", {"WETH": "1", "USDC": "5000"}),
                          ("v3:WETH/USDC:500", {"WETH": "1", "USDC": "5000"})):
        d = m.execute(ts, {"venue": "uniswap", "operation": "add_liquidity", "pool": pool, "amounts": amounts})
        gas += d.pnl["gas"]
    d = m.execute(ts, {"venue": "curve", "operation": "add_liquidity", "pool": "2pool",
                       "amounts": {"USDC": "1000", "USDT": "1000"}})
    gas += d.pnl["gas"]
    val = valuer.value(market.get_data(ts), m.ledger.balances)  # type: ignore[union-attr]
    assert not valuer.unpriced
    lp = {k: v for k, v in val.values.items() if ":lp:" in k}
    assert len(lp) == 3 and all(v > 0 for v in lp.values())
    # only gas was spent, up to rounding and the pools' ETH/USDC series differing from the valuation's ETH
    # price (the ETH/USDT close) by a few hundredths of a percent on the 2 WETH deposited
    assert abs(val.equity - (before + gas)) < Decimal("2")
