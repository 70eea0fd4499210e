"""The morpho venue in backtest: supply / collateral / borrow / repay / liquidate through the manager, exactly as
the contract math (:mod:`basis_venue_morpho.math`) computes them; typed errors change nothing; the free flash loan
of an atomic bundle."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_morpho import math as mm
from basis_venue_morpho.venue import MorphoVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data import load_data_dir, synthetic_market
from basis_core.errors import HealthFactorError, InstructionError, InsufficientFundsError

T0 = pd.Timestamp("2025-03-02T12:00:00Z")
MARKET = "wstETH/WETH-94.5"
DATA = synthetic_market(hours=24 * 20)


def manager(**options: Any) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager(
        {"initial_balances": {"ethereum:wallet:ETH": "10", "ethereum:wallet:WETH": "100",
                              "ethereum:wallet:wstETH": "100"},
         "venue_config": {"morpho": options}}, DATA, "backtest", autoload=False, plugins=[MorphoVenue])


def sim(m: ExecutionInterfaceManager) -> Any:
    return m.venue("morpho").backend


def test_collateral_borrow_accrue_repay_follow_the_contract_math() -> None:
    m = manager()
    m.execute(T0, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "10", "market": MARKET})
    d = m.execute(T0, {"venue": "morpho", "operation": "borrow", "asset": "WETH", "amount": "8"})
    s = sim(m)
    mk = s.state[MARKET][0]
    pos = s.position(MARKET)
    assert pos.borrow_shares == mm.to_shares_up(8 * 10**18, mk.total_borrow_assets - 8 * 10**18,
                                                mk.total_borrow_shares - pos.borrow_shares)
    assert d.positions["ethereum:wallet:WETH"] == Decimal(8)
    assert m.ledger.balance("morpho:debt:WETH") == Decimal(mm.borrowed_assets(mk, pos)) / 10**18
    later = T0 + pd.Timedelta(days=3)
    m.advance_to(later)
    mk2 = s.state[MARKET][0]
    assert mk2 == mm.accrue_interest(mk, later.value // 10**9).market
    assert m.ledger.balance("morpho:debt:WETH") == Decimal(mm.borrowed_assets(mk2, pos)) / 10**18 > 8
    hf = m.get_balances(later, "morpho")["morpho:metric:health_factor"]
    assert Decimal("1.3") < hf < Decimal("1.5")
    m.execute(later, {"venue": "morpho", "operation": "repay", "asset": "WETH", "amount": "max"})
    assert m.ledger.balance("morpho:debt:WETH") == 0
    assert s.position(MARKET).borrow_shares == 0


def test_borrow_beyond_lltv_is_refused_and_changes_nothing() -> None:
    m = manager()
    m.execute(T0, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "10", "market": MARKET})
    before = dict(m.ledger.balances)
    with pytest.raises(HealthFactorError, match="insufficient collateral"):
        m.execute(T0, {"venue": "morpho", "operation": "borrow", "asset": "WETH", "amount": "12"})
    assert dict(m.ledger.balances) == before


@pytest.mark.parametrize(("ins", "error", "field"), [
    ({"operation": "supply", "asset": "wstETH", "amount": "1"}, InstructionError, "market"),  # two markets
    ({"operation": "supply", "asset": "WETH", "amount": "1", "market": "zzz/WETH-1"}, InstructionError, "market"),
    ({"operation": "borrow", "asset": "wstETH", "amount": "1", "market": MARKET}, InstructionError, "asset"),
    ({"operation": "supply", "asset": "WETH", "amount": "1000", "market": MARKET}, InsufficientFundsError, "amount"),
    ({"operation": "repay", "asset": "WETH", "amount": "1", "market": MARKET}, InstructionError, "amount"),
    ({"operation": "liquidate", "market": MARKET, "borrower": "nobody"}, InstructionError, "borrower"),
])
def test_bad_input_is_a_typed_error_naming_the_field(ins: dict[str, str], error: type, field: str) -> None:
    m = manager()
    before = dict(m.ledger.balances)
    with pytest.raises(error) as e:
        m.execute(T0, {"venue": "morpho", **ins})
    assert e.value.field == field
    assert dict(m.ledger.balances) == before


def test_execute_liquidate_repays_and_seizes_as_the_contract() -> None:
    m = manager(accounts={"bob": {"market": MARKET, "collateral": "10", "borrow": "12"}})
    s = sim(m)
    mk = s.market(s.markets[MARKET], T0)  # opens bob
    bob = s.positions[(MARKET, "bob")]
    price = s.price(s.markets[MARKET], T0)
    lltv = s.markets[MARKET].lltv
    full = mm.mul_div_down(mm.w_mul_down(mm.borrowed_assets(mk, bob) - 1, mm.liquidation_incentive_factor(lltv)),
                           mm.ORACLE_PRICE_SCALE, price)
    # "max": every borrow share, or all the collateral when that is less than the full repay needs
    expect = (mm.liquidate(mk, bob, bob.collateral, 0, price, lltv) if full > bob.collateral
              else mm.liquidate(mk, bob, 0, bob.borrow_shares, price, lltv))
    d = m.execute(T0, {"venue": "morpho", "operation": "liquidate", "market": MARKET, "borrower": "bob"})
    assert d.status == "liquidated"
    assert d.positions["ethereum:wallet:WETH"] == -Decimal(expect.repaid_assets) / 10**18
    assert d.positions["ethereum:wallet:wstETH"] == Decimal(expect.seized_assets) / 10**18
    assert s.positions[(MARKET, "bob")] == expect.borrower
    assert d.pnl["liquidation"] > 0  # the incentive
    with pytest.raises(InstructionError):  # nothing left to liquidate
        m.execute(T0, {"venue": "morpho", "operation": "liquidate", "market": MARKET, "borrower": "bob"})


def test_healthy_position_cannot_be_liquidated() -> None:
    m = manager(accounts={"carol": {"market": MARKET, "collateral": "10", "borrow": "5"}})
    before = dict(m.ledger.balances)
    with pytest.raises(HealthFactorError, match="healthy"):
        m.execute(T0, {"venue": "morpho", "operation": "liquidate", "market": MARKET, "borrower": "carol"})
    assert dict(m.ledger.balances) == before


def test_flash_loan_from_morpho_is_free() -> None:
    m = manager()
    m.execute(T0, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "20", "market": MARKET})
    d = m.execute(T0, {"operation": "atomic", "venue": "atomic",
                       "flash_loan": {"venue": "morpho", "asset": "WETH", "amount": "10"},
                       "steps": [{"operation": "supply", "venue": "morpho", "asset": "WETH", "amount": "10",
                                  "market": MARKET},
                                 {"operation": "borrow", "venue": "morpho", "asset": "WETH", "amount": "10"}],
                       "min_health_factor": "1.05", "health_factor_venue": "morpho"})
    assert "flash_loan_fee" not in d.pnl or d.pnl["flash_loan_fee"] == 0
    # borrow shares round up: the debt is worth the 10 WETH borrowed, or one wei more
    assert Decimal(10) <= d.positions["morpho:debt:WETH"] <= Decimal("10.000000000000000001")
    assert d.positions.get("ethereum:wallet:WETH", 0) == 0  # borrowed 10, lent 10, flash loan repaid without a fee


def test_own_unhealthy_position_is_liquidated_at_accrual() -> None:
    m = manager(markets={MARKET: {"loan": "WETH", "collateral": "wstETH", "lltv": "0.945"}})
    m.execute(T0, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "10"})
    s = sim(m)
    spec = s.markets[MARKET]
    mk = s.state[MARKET][0]
    price = s.price(spec, T0)
    # borrow right at the limit, then a year of interest makes it unhealthy
    limit = mm.max_borrow(s.position(MARKET), price, spec.lltv)
    m.execute(T0, {"venue": "morpho", "operation": "borrow", "asset": "WETH",
                   "amount": str(Decimal(limit - 10**12) / 10**18)})
    assert mk.total_borrow_assets > 0
    m.advance_to(T0 + pd.Timedelta(days=15))
    kinds = [r.status for r in m.execution_history if getattr(r, "venue", "") == "morpho"]
    assert "liquidated" in kinds
    assert m.ledger.balance("morpho:collateral:wstETH") < 10


# -- basis backtest --data with morpho's own files ---------------------------------------------------------------
MARKET_FILE = "morpho_blue_wstETH-WETH-94.5_market_2025-03-01_2025-03-04.csv"
STRATEGY = '''
from basis_core.backtest.strategies import Strategy


class CollateralLoop(Strategy):
    """Post 10 wstETH on Morpho, borrow 8 WETH, lend 5 of them, and after a day repay everything and withdraw."""

    name = "collateral_loop"

    def start(self, manager, ts):
        self.steps = 0
        manager.execute(ts, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "10",
                             "market": "wstETH/WETH-94.5"})
        manager.execute(ts, {"venue": "morpho", "operation": "borrow", "asset": "WETH", "amount": "8"})
        manager.execute(ts, {"venue": "morpho", "operation": "supply", "asset": "WETH", "amount": "5",
                             "market": "wstETH/WETH-94.5"})

    def step(self, manager, ts):
        self.steps += 1
        if self.steps == 24:
            manager.execute(ts, {"venue": "morpho", "operation": "withdraw", "asset": "WETH", "amount": "max",
                                 "market": "wstETH/WETH-94.5"})
            manager.execute(ts, {"venue": "morpho", "operation": "repay", "asset": "WETH", "amount": "max"})
            manager.execute(ts, {"venue": "morpho", "operation": "withdraw", "asset": "wstETH", "amount": "max",
                                 "market": "wstETH/WETH-94.5"})
'''


def write_market_files(d: Path) -> list[tuple[pd.Timestamp, mm.Market, int]]:
    """Daily states of wstETH/WETH-94.5 in the contract's numbers (others' totals, 90 % utilised, rate at target
    3 %/year, oracle 1.19) and an hourly WETH / USD oracle file; returns the rows (time, market, oracle price)."""
    rows = []
    m = mm.Market(250_000 * 10**18, 250_000 * 10**24, 225_000 * 10**18, 225_000 * 10**24, 0, 0,
                  3 * 10**16 // mm.SECONDS_PER_YEAR)
    for day in range(4):
        t = pd.Timestamp("2025-03-01T00:00:00Z") + pd.Timedelta(days=day)
        m = mm.Market(m.total_supply_assets, m.total_supply_shares, m.total_borrow_assets, m.total_borrow_shares,
                      int(t.value // 10**9), 0, m.rate_at_target)
        if day:
            m = mm.accrue_interest(rows[-1][1], m.last_update).market
        rows.append((t, m, 119 * 10**34))
    lines = ["timestamp,total_supply_assets,total_supply_shares,total_borrow_assets,total_borrow_shares,fee,"
             "rate_at_target,oracle_price"]
    lines += [f"{t.isoformat()},{m.total_supply_assets},{m.total_supply_shares},{m.total_borrow_assets},"
              f"{m.total_borrow_shares},{m.fee},{m.rate_at_target},{px}" for t, m, px in rows]
    (d / MARKET_FILE).write_text("\n".join(lines) + "\n")
    times = pd.date_range("2025-03-01", periods=96, freq="h", tz="UTC")
    oracle = [f"{t.strftime('%Y-%m-%d %H:%M:%S+00:00')},{2500 + i * 0.5:.4f}" for i, t in enumerate(times)]
    (d / "WETH_USD_oracle_2025-03-01_2025-03-04.csv").write_text(
        "# Source: test\ntimestamp,oracle_price_usd\n" + "\n".join(oracle) + "\n")
    return rows


def test_the_market_file_loads_through_morphos_contribution(tmp_path: Path) -> None:
    """``morpho_blue_<coll>-<loan>-<lltv>_market_*.csv`` becomes ``morpho:<alias>`` with every column, the oracle
    price included, and the backtest's oracle price is the file's."""
    rows = write_market_files(tmp_path)
    data = load_data_dir(tmp_path)
    t, m, px = rows[2]
    snap = data.get_data(t + pd.Timedelta(hours=3))
    assert snap.get(f"morpho:{MARKET}", "total_borrow_shares") == m.total_borrow_shares
    assert snap.get(f"morpho:{MARKET}", "oracle_price") == px
    mgr = ExecutionInterfaceManager({"initial_balances": {"ethereum:wallet:wstETH": "10"}, "autoload": False},
                                    data, "backtest", plugins=[MorphoVenue])
    assert sim(mgr).price(sim(mgr).markets[MARKET], t) == px


def test_morpho_backtests_through_basis_backtest_with_its_own_data(tmp_path: Path) -> None:
    """A scenario with a strategy on Morpho (collateral, borrow, lend, a day of interest, repay all, withdraw all)
    runs through ``basis backtest --data DIR`` on the venue's own market file, and the repay pays more than was
    borrowed (a day of the file's interest)."""
    data = tmp_path / "data"
    data.mkdir()
    write_market_files(data)
    (tmp_path / "collateral_loop.py").write_text(STRATEGY)
    scenario = tmp_path / "morpho.yaml"
    scenario.write_text(f"""
name: morpho_loop
market: {{source: data_dir, data_dir: {data}}}
period: {{start: 2025-03-01T01:00:00Z, end: 2025-03-03T00:00:00Z, step: 1h}}
venues: [morpho]
strategies:
  - name: collateral_loop.py:CollateralLoop
    required: true
    balances:
      ethereum:wallet:wstETH: 10
      ethereum:wallet:WETH: 1
""")
    from typer.testing import CliRunner

    from basis_core.cli import _register, app

    if not app.registered_commands:
        _register()
    out = CliRunner().invoke(app, ["backtest", str(scenario), "--data", str(data), "--json",
                                   "--out", str(tmp_path / "report"), "--no-html"])
    assert out.exit_code == 0, out.output[-3000:]
    summary = json.loads(out.stdout)
    assert summary["failed"] == 0 and summary["executions"] == 6, summary
    executions = pd.read_parquet(tmp_path / "report" / "executions.parquet")
    assert [s for s in executions["status"] if s != "accrued"] == ["filled"] * 6
    ops = executions[executions["status"] == "filled"]["operation"].tolist()
    assert ops == ["supply", "borrow", "supply", "withdraw", "repay", "withdraw"]
    repaid = Decimal(str(executions[executions["operation"] == "repay"]["fill_amount"].iloc[0]))
    assert Decimal(8) < repaid < Decimal("8.01")
