"""The aave venue's backtest: interest accrual from index snapshots, risk rules, liquidations, real data.

Independent results: closed forms in exact rational arithmetic (``fractions.Fraction``) from the snapshot
values the test writes itself (linear interest for supply, Aave's per-second compounding for debt,
sum(collateral x price x LT) / sum(debt x price), LiquidationLogic's close factor and bonus) and, for real
data, the indices read from the CSV files with the ``csv`` module.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_aave.venue import AaveVenue
from hypothesis import given, settings
from hypothesis import strategies as st

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider
from basis_core.data.series import Series
from basis_core.errors import HealthFactorError, InstructionError, InsufficientFundsError

D = Decimal
F = Fraction
YEAR = 365 * 24 * 3600
T0 = pd.Timestamp("2025-01-01T00:00:00Z")
DAY = pd.Timedelta("1D")
DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def reserve_rows(rows: list[tuple[str, str, str, str]]) -> dict[str, list[Decimal]]:
    """(liquidity_index, liquidity_rate, variable_borrow_index, variable_borrow_rate) per row."""
    return {"liquidity_index": [D(r[0]) for r in rows], "liquidity_rate": [D(r[1]) for r in rows],
            "variable_borrow_index": [D(r[2]) for r in rows], "variable_borrow_rate": [D(r[3]) for r in rows],
            "price": [D(1)] * len(rows)}


FLAT = [("1", "0", "1", "0")]


def market(reserves: dict[str, list[tuple[str, str, str, str]]], eth: list[tuple[pd.Timestamp, str]] | None = None,
           rate: str = "1.2", gas: bool = False) -> DataProvider:
    """Daily reserve rows from T0; ETH/USD (default 3000) and the wstETH rate; optional 10 gwei gas."""
    series = []
    for asset, rows in reserves.items():
        times = [int((T0 + i * DAY).value) for i in range(len(rows))]
        series.append(Series(f"aave:{asset}", times, reserve_rows(rows)))
    eth = eth or [(T0, "3000")]
    series.append(Series("oracle:ETH/USD", [int(t.value) for t, _ in eth], {"price": [D(p) for _, p in eth]}))
    series.append(Series("lst:wstETH", [int(T0.value)], {"rate": [D(rate)]}))
    if gas:
        series.append(Series("gas", [int(T0.value)], {"gas_price_gwei": [D(10)], "base_fee_gwei": [D(9)],
                                                       "priority_fee_gwei": [D(1)]}))
    return DataProvider(series)


def manager(provider: DataProvider, balances: dict[str, str], **aave: Any) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"initial_balances": balances, "autoload": False,
                                      "venue_config": {"aave": aave}}, provider, "backtest", plugins=[AaveVenue])


def ex(m: ExecutionInterfaceManager, ts: Any, op: str, asset: str, amount: str, **kw: Any) -> Any:
    return m.execute(ts, {"venue": "aave", "operation": op, "asset": asset, "amount": amount, **kw})


def state(m: ExecutionInterfaceManager) -> Any:
    led = m.ledger
    assert led is not None
    return led.balances, {n: t.snapshot() for n, t in led._tables.items() if len(t)}


# ---------------------------------------------------------------------------------------------- interest
def linear(index: str, rate: str, dt: int) -> Fraction:
    return F(index) * (1 + F(rate) * dt / YEAR)


def compounded(index: str, rate: str, dt: int) -> Fraction:
    """Aave's MathUtils.calculateCompoundedInterest without its integer rounding."""
    x = F(rate) / YEAR
    return F(index) * (1 + x * dt + F(dt * (dt - 1)) * x * x / 2 + F(dt * (dt - 1) * max(dt - 2, 0)) * x ** 3 / 6)


ROWS = [("1.05", "0.04", "1.10", "0.06"), ("1.0512", "0.09", "1.1020", "0.11"), ("1.0530", "0.02", "1.1040", "0.03")]


def test_supply_and_debt_accrue_from_the_last_snapshot_with_its_rates() -> None:
    """Between snapshots the liquidity index grows linearly and the borrow index compounds per second, both at
    the rates of the last snapshot at or before the time; at a new snapshot its index takes over."""
    m = manager(market({"USDC": ROWS, "WETH": ROWS}), {"ethereum:wallet:USDC": "1000000", "ethereum:wallet:WETH": "0"},
                charge_gas=False)
    t1, t2, t3 = T0 + pd.Timedelta("6h"), T0 + pd.Timedelta("20h"), T0 + DAY + pd.Timedelta("2h")
    ex(m, t1, "supply", "USDC", "1000000")
    ex(m, t1, "borrow", "WETH", "10")
    dt1, dt2 = 6 * 3600, 20 * 3600
    m.advance_to(t2)
    b = m.get_balances(t2, "aave")
    want_s = 1_000_000 * linear(*ROWS[0][:2], dt2) / linear(*ROWS[0][:2], dt1)
    want_d = 10 * compounded(*ROWS[0][2:], dt2) / compounded(*ROWS[0][2:], dt1)
    assert abs(F(b["aave:supplied:USDC"]) - want_s) <= F(1, 10**6)  # one USDC base unit
    # Aave truncates the per-second powers of the rate to integers (the 3rd term loses up to ~15 % of its
    # ~1e-13): the contract's result agrees with the exact expansion to 1e-12
    assert abs(F(b["aave:debt:WETH"]) / want_d - 1) < F(1, 10**12)
    m.advance_to(t3)  # past the second snapshot: its index, accrued 2 h at its own rates
    b = m.get_balances(t3, "aave")
    want_s = 1_000_000 * linear(*ROWS[1][:2], 7200) / linear(*ROWS[0][:2], dt1)
    want_d = 10 * compounded(*ROWS[1][2:], 7200) / compounded(*ROWS[0][2:], dt1)
    assert abs(F(b["aave:supplied:USDC"]) - want_s) <= F(1, 10**6)
    assert abs(F(b["aave:debt:WETH"]) / want_d - 1) < F(1, 10**12)
    # the ledger holds the same balances, accrued as deltas with interest pnl
    assert m.ledger.balance("aave:supplied:USDC") == b["aave:supplied:USDC"]  # type: ignore[union-attr]
    interest = [r for r in m.execution_history if r.operation == "interest"]
    assert interest and all(r.success for r in interest)


def test_no_look_ahead() -> None:
    """Changing a later snapshot changes nothing before it becomes visible."""
    other = [ROWS[0], ("9.99", "5", "9.99", "5"), ROWS[2]]
    out = []
    for rows in (ROWS, other):
        m = manager(market({"USDC": rows, "WETH": rows}), {"ethereum:wallet:USDC": "1000", "ethereum:wallet:WETH": "0"},
                    charge_gas=False)
        ex(m, T0, "supply", "USDC", "1000")
        ex(m, T0, "borrow", "WETH", "0.1")
        ts = T0 + DAY - pd.Timedelta("1s")
        m.advance_to(ts)
        b = m.get_balances(ts, "aave")
        out.append((b["aave:supplied:USDC"], b["aave:debt:WETH"]))
    assert out[0] == out[1]


def test_path_independence_and_daily_vs_hourly() -> None:
    """Scaled balances: the balance at a time does not depend on how often the clock stopped on the way."""
    finals = []
    for step in ("1h", "1D"):
        m = manager(market({"USDC": ROWS, "WETH": ROWS}), {"ethereum:wallet:USDC": "5000"}, charge_gas=False)
        ex(m, T0, "supply", "USDC", "5000")
        end = T0 + pd.Timedelta("2D") + pd.Timedelta("5h")
        for ts in pd.date_range(T0, end, freq=step)[1:]:
            m.advance_to(ts)
        m.advance_to(end)
        finals.append(m.ledger.balance("aave:supplied:USDC"))  # type: ignore[union-attr]
    assert finals[0] == finals[1]


def test_gas_is_charged_at_the_as_of_gas_price() -> None:
    m = manager(market({"USDC": FLAT}, gas=True), {"ethereum:wallet:USDC": "100", "ethereum:wallet:ETH": "1"})
    d = ex(m, T0, "supply", "USDC", "100")
    assert d.positions["ethereum:wallet:ETH"] == -D(250_000) * 10 * D("1e-9")  # DEFAULT_GAS_UNITS["supply"]
    assert d.pnl["gas"] == -D("0.0025") * 3000


# ---------------------------------------------------------------------------------------------- risk rules
def closed_form(supplied: dict[str, Decimal], debt: dict[str, Decimal], px: dict[str, Decimal],
                ltv: dict[str, int], lt: dict[str, int]) -> tuple[Fraction, Fraction]:
    """(health factor, borrowing power USD): collateral x LT / debt and collateral x LTV - debt, where LT and LTV
    are the collateral-value-weighted averages in whole basis points (rounded down, as GenericLogic does)."""
    values = {s: F(a) * F(px[s]) for s, a in supplied.items()}
    total = sum(values.values(), F(0))
    avg_lt = (sum((v * lt[s] for s, v in values.items()), F(0)) / total).__floor__()
    avg_ltv = (sum((v * ltv[s] for s, v in values.items()), F(0)) / total).__floor__()
    owed = sum((F(a) * F(px[s]) for s, a in debt.items()), F(0))
    return total * F(avg_lt, 10_000) / owed, total * F(avg_ltv, 10_000) - owed


@pytest.mark.parametrize("emode", [0, 1])
def test_health_factor_and_borrowing_power_closed_form(emode: int) -> None:
    """Documented defaults (Aave v3 Ethereum): standard LTV / LT wstETH 78.5 / 81 %, WETH 80.5 / 83 %, USDC
    75 / 78 %; e-mode ETH-correlated 93 / 95 % for WETH and wstETH."""
    px = {"wstETH": D("3000") * D("1.2"), "WETH": D("3000"), "USDC": D(1)}
    ltv = {"wstETH": 7850, "WETH": 8050, "USDC": 7500}
    lt = {"wstETH": 8100, "WETH": 8300, "USDC": 7800}
    supplied = {"wstETH": D(10), "WETH": D(2)}
    if emode:
        ltv.update(wstETH=9300, WETH=9300)
        lt.update(wstETH=9500, WETH=9500)
    else:
        supplied["USDC"] = D(5000)
    debt = {"WETH": D(7)}
    balances = {f"ethereum:wallet:{s}": str(a) for s, a in supplied.items()}
    m = manager(market({s: FLAT for s in px}), balances, charge_gas=False)
    for s, a in supplied.items():
        ex(m, T0, "supply", s, str(a), e_mode_category=emode)
    ex(m, T0, "borrow", "WETH", "7")
    b = m.get_balances(T0, "aave")
    hf, power = closed_form(supplied, debt, px, ltv, lt)
    assert abs(F(b["aave:metric:health_factor"]) - hf) < F(1, 10**15)
    assert abs(F(b["aave:metric:borrowing_power_usd"]) - power) <= F(1, 10**8)
    coll = sum((F(a) * F(px[s]) for s, a in supplied.items()), F(0))
    assert abs(F(b["aave:metric:ltv"]) - F(7 * 3000) / coll) < F(1, 10**17)
    assert b["aave:metric:e_mode_category"] == emode


def test_borrow_beyond_ltv_and_unsafe_withdraw_are_refused_and_change_nothing() -> None:
    m = manager(market({"wstETH": FLAT, "WETH": FLAT, "USDC": FLAT}),
                {"ethereum:wallet:wstETH": "10", "ethereum:wallet:USDC": "100"}, charge_gas=False)
    ex(m, T0, "supply", "wstETH", "10", e_mode_category=1)
    ex(m, T0, "borrow", "WETH", "10")  # HF = 10 x 3600 x 0.95 / 30000 = 1.14
    before = state(m)
    refused = [
        ("borrow", "WETH", "1.2", HealthFactorError, "amount"),  # 11.2 x 3000 > 36000 x 0.93
        ("withdraw", "wstETH", "1.3", HealthFactorError, "amount"),  # HF (8.7 x 3600 x 0.95) / 30000 < 1
        ("withdraw", "wstETH", "max", HealthFactorError, "amount"),
        ("withdraw", "wstETH", "11", InsufficientFundsError, "amount"),
        ("borrow", "USDC", "1", InstructionError, "asset"),  # not in the e-mode category (Aave error 58)
        ("borrow", "WETH", "0.1", HealthFactorError, "e_mode_category"),  # leaving e-mode: HF 10x3600x.81/30000 < 1
        ("repay", "USDC", "1", InstructionError, "asset"),  # nothing owed (error 39)
        ("supply", "ZZZ", "1", InstructionError, "asset"),
    ]
    for op, asset, amount, err, field in refused:
        kw = {"e_mode_category": 0} if field == "e_mode_category" else {}
        with pytest.raises(err) as info:
            ex(m, T0, op, asset, amount, **kw)
        assert info.value.field == field, (op, asset, info.value)
        assert state(m) == before, (op, asset)
    ex(m, T0, "withdraw", "wstETH", "1.2")  # HF (8.8 x 3600 x 0.95) / 30000 = 1.0032: allowed (>= 1)
    # entering e-mode with a USDC debt is refused (58)
    m2 = manager(market({"wstETH": FLAT, "USDC": FLAT}), {"ethereum:wallet:wstETH": "10"}, charge_gas=False)
    ex(m2, T0, "supply", "wstETH", "10")
    ex(m2, T0, "borrow", "USDC", "100")
    with pytest.raises(InstructionError) as info:
        ex(m2, T0, "borrow", "USDC", "1", e_mode_category=1)
    assert info.value.field == "e_mode_category"


def test_repay_and_withdraw_max() -> None:
    rows = [("1", "0.03", "1", "0.05")]
    m = manager(market({"wstETH": rows, "WETH": rows}), {"ethereum:wallet:wstETH": "10", "ethereum:wallet:WETH": "1"},
                charge_gas=False)
    ex(m, T0, "supply", "wstETH", "10", e_mode_category=1)
    ex(m, T0, "borrow", "WETH", "5")
    t = T0 + pd.Timedelta("30D")
    m.advance_to(t)
    owed = m.get_balances(t, "aave")["aave:debt:WETH"]
    assert owed > 5
    d = ex(m, t, "repay", "WETH", "max")
    assert d.positions["ethereum:wallet:WETH"] == -owed and d.positions["aave:debt:WETH"] == -owed
    supplied = m.get_balances(t, "aave")["aave:supplied:wstETH"]
    d = ex(m, t, "withdraw", "wstETH", "max")
    assert d.positions["ethereum:wallet:wstETH"] == supplied
    assert not [k for k in m.ledger.balances if k.startswith("aave:")]  # type: ignore[union-attr]


def test_initial_aave_balances_are_adopted() -> None:
    rows = [("1.1", "0.05", "1.2", "0.07")]
    m = manager(market({"USDC": rows}), {"aave:supplied:USDC": "1000"}, charge_gas=False)
    t = T0 + pd.Timedelta("10D")
    m.advance_to(T0)
    m.advance_to(t)
    want = 1000 * linear("1.1", "0.05", 10 * 86400) / F("1.1")
    assert abs(F(m.ledger.balance("aave:supplied:USDC")) - want) <= F(1, 10**6)  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------- liquidation
@pytest.mark.parametrize(("eth_after", "close"), [("3200", F(1, 2)), ("3400", F(1))])
def test_liquidation_close_factor_and_bonus(eth_after: str, close: Fraction) -> None:
    """USDC collateral (LT 78 %, bonus 4.5 %) against 2.5 WETH: ETH rises, the health factor falls below 1 at the
    next accrual point and a liquidator repays close x debt and seizes debt x price / 1 x 1.045 USDC (close
    factor 50 % above HF 0.95, 100 % below)."""
    t1 = T0 + pd.Timedelta("1h")
    m = manager(market({"USDC": FLAT, "WETH": FLAT}, eth=[(T0, "3000"), (t1, eth_after)]),
                {"ethereum:wallet:USDC": "10000"}, charge_gas=False)
    ex(m, T0, "supply", "USDC", "10000")
    ex(m, T0, "borrow", "WETH", "2.5")  # the LTV limit: 10000 x 0.75 / 3000
    effects = m.advance_to(t1)
    liq = [e for e in effects if e.status == "liquidated"]
    assert len(liq) == 1
    px = F(eth_after)
    repaid = F(5, 2) * close
    seized = repaid * px * F(1045, 1000)
    assert abs(-F(liq[0].positions["aave:debt:WETH"]) - repaid) <= F(1, 10**18)
    assert abs(-F(liq[0].positions["aave:supplied:USDC"]) - seized) <= F(1, 10**6)
    assert abs(F(liq[0].pnl["liquidation"]) + (seized - repaid * px)) <= F(1, 10**5)
    hf = F(m.get_balances(t1, "aave")["aave:metric:health_factor"])
    assert hf >= 1
    assert [r.operation for r in m.execution_history][-1] == "liquidation"


# ---------------------------------------------------------------------------------------------- real data
def _csv_rows(name: str) -> list[dict[str, str]]:
    path = next(DATA.glob(name), None)
    if path is None:
        pytest.skip(f"real data not available ({DATA}/{name})")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _row_on(rows: list[dict[str, str]], date: str) -> dict[str, str]:
    return next(r for r in rows if r["targetDate"].startswith(date))


def test_real_data_supply_and_borrow_follow_the_index_ratio() -> None:
    """1,000 USDT supplied 2024-01-01 -> 2025-01-01 grows by liquidityIndex(2025-01-01) / liquidityIndex(2024-01-01);
    10 WETH borrowed grows by the variableBorrowIndex ratio (rows read with the csv module)."""
    usdt = _csv_rows("aave_v3_aave-v3-ethereum_USDT_rates_*.csv")
    weth = _csv_rows("aave_v3_aave-v3-ethereum_WETH_rates_*.csv")
    from basis_venue_aave.data import load_aave_rates

    weth_series = load_aave_rates(next(DATA.glob("aave_v3_aave-v3-ethereum_WETH_rates_*.csv")), "aave:WETH")
    # ETH/USD: the Aave oracle price recorded with each WETH snapshot (the hourly oracle file starts at 01:00)
    oracle = Series("oracle:ETH/USD", weth_series.times, {"price": weth_series.columns["price"]})
    provider = DataProvider([load_aave_rates(next(DATA.glob("aave_v3_aave-v3-ethereum_USDT_rates_*.csv")), "aave:USDT"),
                             weth_series, oracle])
    start, end = pd.Timestamp("2024-01-01T00:00:00Z"), pd.Timestamp("2025-01-01T00:00:00Z")
    m1 = manager(provider, {"ethereum:wallet:USDT": "1000"}, charge_gas=False)
    ex(m1, start, "supply", "USDT", "1000")
    m2 = manager(provider, {"ethereum:wallet:USDT": "200000"}, charge_gas=False)
    ex(m2, start, "supply", "USDT", "200000")
    ex(m2, start, "borrow", "WETH", "10")
    for ts in pd.date_range(start, end, freq="1D")[1:]:
        m1.advance_to(ts)
        m2.advance_to(ts)
    i0, i1 = F(_row_on(usdt, "2024-01-01")["liquidityIndex"]), F(_row_on(usdt, "2025-01-01")["liquidityIndex"])
    v0 = F(_row_on(weth, "2024-01-01")["variableBorrowIndex"])
    v1 = F(_row_on(weth, "2025-01-01")["variableBorrowIndex"])
    assert abs(F(m1.ledger.balance("aave:supplied:USDT")) - 1000 * i1 / i0) <= F(1, 10**6)  # type: ignore[union-attr]
    assert abs(F(m2.ledger.balance("aave:debt:WETH")) - 10 * v1 / v0) <= F(1, 10**18)  # type: ignore[union-attr]
    assert m2.get_balances(end, "aave")["aave:metric:health_factor"] > 1


# ---------------------------------------------------------------------------------------------- internals vs reference
@settings(max_examples=200, deadline=None, derandomize=True)
@given(index=st.decimals(min_value=D(1), max_value=D(3), places=18), rate=st.decimals(min_value=D(0), max_value=D(2),
       places=16), dt=st.integers(min_value=0, max_value=400 * 86400))
def test_index_extrapolation_equals_the_contract_math(index: Decimal, rate: Decimal, dt: int) -> None:
    """The sim's inlined index formulas equal math.normalized_income / normalized_debt (tested against the
    deployed Pool by test_aave_math_vs_contract)."""
    from basis_venue_aave.math import normalized_debt, normalized_income
    from basis_venue_aave.sim import ReserveHistory, ray

    t0 = int(T0.value)
    h = ReserveHistory(Series("aave:X", [t0], reserve_rows([(str(index), str(rate), str(index), str(rate))])))
    li, vi = h.indices(t0 + dt * 10**9)
    assert li == normalized_income(ray(index), ray(rate), 0, dt)
    assert vi == normalized_debt(ray(index), ray(rate), 0, dt)


OPS = st.lists(st.tuples(st.sampled_from(["supply", "borrow", "repay", "withdraw"]),
                         st.sampled_from(["wstETH", "WETH", "USDC"]),
                         st.decimals(min_value=D("0.01"), max_value=D(50), places=6)), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(ops=OPS, emode=st.sampled_from([0, 1]))
def test_cached_account_summary_equals_full_recomputation(ops: list[tuple[str, str, Decimal]], emode: int) -> None:
    """The borrow check's incrementally cached totals equal GenericLogic's full computation after any sequence
    of operations (refused ones included: a rolled-back write must not leave a stale cache)."""
    from basis_core.errors import BasisError

    m = manager(market({"wstETH": ROWS, "WETH": ROWS, "USDC": ROWS}),
                {"ethereum:wallet:wstETH": "500", "ethereum:wallet:WETH": "500", "ethereum:wallet:USDC": "500"},
                charge_gas=False)
    sim = m.venue("aave").backend
    ts = T0
    for i, (op, asset, amount) in enumerate(ops):
        kw = {"e_mode_category": emode} if op in ("supply", "borrow") else {}
        try:
            ex(m, ts, op, asset, str(amount if asset != "USDC" else amount * 100), **kw)
        except BasisError:
            pass
        if i % 5 == 4:
            ts = ts + pd.Timedelta("7h")
            m.advance_to(ts)
        acc = sim.account_data()
        tc, td, ltv, lt, zero = sim.summary()
        assert (tc, td, ltv, lt, zero) == (acc.total_collateral_base, acc.total_debt_base, acc.ltv,
                                           acc.current_liquidation_threshold, acc.has_zero_ltv_collateral)


def test_installed_but_unused_venues_need_no_data() -> None:
    """A clock starting before the market data, stETH held without an lst:wstETH series: advancing never fails."""
    from basis_venue_lido.venue import LidoVenue

    provider = DataProvider([Series("oracle:ETH/USD", [int((T0 + DAY).value)], {"price": [D(3000)]})])
    m = ExecutionInterfaceManager({"initial_balances": {"ethereum:wallet:stETH": "1"}, "autoload": False}, provider,
                                  "backtest", plugins=[AaveVenue, LidoVenue])
    m.advance_to(T0)
    assert m.advance_to(T0 + 2 * DAY) == []
    assert m.ledger.balance("ethereum:wallet:stETH") == 1  # type: ignore[union-attr]


def test_stablecoins_are_valued_at_the_reserve_oracle_price_when_the_data_has_it() -> None:
    """A USDC reserve whose oracle reads 0.998: the collateral is worth 0.998 per token (the real files move
    0.998 .. 1.002), and the health factor is sum(collateral x price x LT) / debt computed here in fractions."""
    mk = market({"USDC": FLAT, "WETH": FLAT})
    usdc = mk.series("aave:USDC")
    usdc.columns["price"] = [D("0.998")]
    m = manager(mk, {"ethereum:wallet:USDC": "10000", "ethereum:wallet:WETH": "0"}, charge_gas=False)
    ex(m, T0, "supply", "USDC", "10000")
    ex(m, T0, "borrow", "WETH", "1")
    b = m.get_balances(T0, "aave")
    assert b["aave:metric:collateral_usd"] == D("9980")
    lt = F(b["aave:metric:liquidation_threshold"])
    assert F(b["aave:metric:health_factor"]) == pytest.approx(F(9980) * lt / 3000, rel=1e-12)
