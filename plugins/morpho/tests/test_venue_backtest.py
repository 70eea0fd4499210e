"""The morpho venue in backtest: supply / collateral / borrow / repay / liquidate through the manager, exactly as
the contract math (:mod:`basis_venue_morpho.math`) computes them; typed errors change nothing; the free flash loan
of an atomic bundle."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from basis_venue_morpho import math as mm
from basis_venue_morpho.venue import MorphoVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data import synthetic_market
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
    mk, _ = s.state[MARKET]
    pos = s.positions[(MARKET, "self")]
    assert pos.borrow_shares == mm.to_shares_up(8 * 10**18, mk.total_borrow_assets - 8 * 10**18,
                                                mk.total_borrow_shares - pos.borrow_shares)
    assert d.positions["ethereum:wallet:WETH"] == Decimal(8)
    assert m.ledger.balance("morpho:debt:WETH") == Decimal(mm.borrowed_assets(mk, pos)) / 10**18
    later = T0 + pd.Timedelta(days=3)
    m.advance_to(later)
    mk2, _ = s.state[MARKET]
    assert mk2 == mm.accrue_interest(mk, later.value // 10**9).market
    assert m.ledger.balance("morpho:debt:WETH") == Decimal(mm.borrowed_assets(mk2, pos)) / 10**18 > 8
    hf = m.get_balances(later, "morpho")["morpho:metric:health_factor"]
    assert Decimal("1.3") < hf < Decimal("1.5")
    m.execute(later, {"venue": "morpho", "operation": "repay", "asset": "WETH", "amount": "max"})
    assert m.ledger.balance("morpho:debt:WETH") == 0
    assert s.positions[(MARKET, "self")].borrow_shares == 0


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
    limit = mm.max_borrow(s.positions[(MARKET, "self")], price, spec.lltv)
    m.execute(T0, {"venue": "morpho", "operation": "borrow", "asset": "WETH",
                   "amount": str(Decimal(limit - 10**12) / 10**18)})
    assert mk.total_borrow_assets > 0
    m.advance_to(T0 + pd.Timedelta(days=15))
    kinds = [r.status for r in m.execution_history if getattr(r, "venue", "") == "morpho"]
    assert "liquidated" in kinds
    assert m.ledger.balance("morpho:collateral:wstETH") < 10
