"""Atomic bundles in backtest: all steps or none, flash loans repaid with their premium, post-conditions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from basis_core import ExecutionDeltas, ExecutionInterfaceManager, OnChainExecutionInterface, hookimpl
from basis_core.data import DataProvider
from basis_core.errors import HealthFactorError, InsufficientFundsError

T0 = "2025-02-01T00:00:00Z"
D = Decimal


class Lender(OnChainExecutionInterface):
    """A toy lending venue: supply moves wallet -> supplied; health factor = supplied / 10 (for the test)."""

    name = "lender"
    key_namespaces = ("lender:", "ethereum:wallet:")  # the wallet is shared: declared explicitly

    def flash_loan_premium(self) -> Decimal:
        return D("0.0005")

    @hookimpl
    def execute_supply(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        a = instruction.asset
        amt = instruction.amount
        return ExecutionDeltas(self.name, "supply", timestamp,
                               {f"ethereum:wallet:{a}": -amt, f"lender:supplied:{a}": amt})

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Decimal]:
        assert self.context is not None and self.context.ledger is not None
        return {"lender:metric:health_factor": self.context.ledger.balance("lender:supplied:WETH") / 10}


def _manager(market: DataProvider, wallet: str = "10") -> ExecutionInterfaceManager:
    balances = {"paper:spot:USDT": "100000", "ethereum:wallet:WETH": wallet}
    return ExecutionInterfaceManager({"initial_balances": balances, "venues": ["paper", "lender"]}, market,
                                     "backtest", plugins=[Lender])


def test_a_failing_step_undoes_the_steps_before_it(market: DataProvider) -> None:
    m = _manager(market)
    before = m.ledger.balances  # type: ignore[union-attr]
    bundle = {"operation": "atomic", "steps": [
        {"operation": "spot_trade", "venue": "paper", "symbol": "ETH/USDT", "side": "buy", "amount": "1"},
        {"operation": "spot_trade", "venue": "paper", "symbol": "ETH/USDT", "side": "buy", "amount": "1000"},
    ]}
    with pytest.raises(InsufficientFundsError) as info:
        m.execute(T0, bundle)
    assert info.value.field == "steps.1.amount"
    assert m.ledger.balances == before  # type: ignore[union-attr]
    assert [r.success for r in m.execution_history] == [False]
    assert m.venue("paper").orders_executed == 0


def test_a_bundle_lands_whole_with_net_deltas(market: DataProvider) -> None:
    m = _manager(market)
    d = m.execute(T0, {"operation": "atomic", "steps": [
        {"operation": "spot_trade", "venue": "paper", "symbol": "ETH/USDT", "side": "buy", "amount": "1"},
        {"operation": "spot_trade", "venue": "paper", "symbol": "ETH/USDT", "side": "sell", "amount": "1"},
    ]})
    assert "paper:spot:ETH" not in d.positions  # bought and sold: nets to zero
    assert d.positions["paper:spot:USDT"] == m.ledger.balance("paper:spot:USDT") - D(100000)  # type: ignore[union-attr]
    assert [r.operation for r in m.execution_history] == ["spot_trade", "spot_trade", "atomic"]
    assert [r.bundle for r in m.execution_history] == [1, 1, 1]  # the steps and their bundle share a number
    m.execute(T0, {"operation": "spot_trade", "venue": "paper", "symbol": "ETH/USDT", "side": "buy", "amount": "1"})
    assert m.execution_history[-1].bundle is None and m.execution_history[-1].to_dict()["bundle"] is None


def test_flash_loan_is_repaid_with_its_premium(market: DataProvider) -> None:
    m = _manager(market)
    d = m.execute(T0, {"operation": "atomic", "venue": "atomic",
                       "flash_loan": {"venue": "lender", "asset": "WETH", "amount": "20"},
                       "steps": [{"operation": "supply", "venue": "lender", "asset": "WETH", "amount": "9.98"}]})
    # wallet: 10 + 20 borrowed - 9.98 supplied - (20 + 20 * 0.0005) repaid
    assert m.ledger.balance("ethereum:wallet:WETH") == D("0.01")  # type: ignore[union-attr]
    assert m.ledger.balance("lender:supplied:WETH") == D("9.98")  # type: ignore[union-attr]
    assert d.fees == {"ethereum:wallet:WETH": D("-0.01")}


def test_flash_loan_that_cannot_be_repaid_changes_nothing(market: DataProvider) -> None:
    m = _manager(market)
    before = m.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(InsufficientFundsError) as info:
        m.execute(T0, {"operation": "atomic", "flash_loan": {"venue": "lender", "asset": "WETH", "amount": "20"},
                       "steps": [{"operation": "supply", "venue": "lender", "asset": "WETH", "amount": "10"}]})
    assert info.value.field == "flash_loan.amount"
    assert m.ledger.balances == before  # type: ignore[union-attr]


def test_post_condition_on_the_health_factor(market: DataProvider) -> None:
    m = _manager(market)
    before = m.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(HealthFactorError):
        m.execute(T0, {"operation": "atomic", "health_factor_venue": "lender", "min_health_factor": "2",
                       "steps": [{"operation": "supply", "venue": "lender", "asset": "WETH", "amount": "5"}]})
    assert m.ledger.balances == before  # type: ignore[union-attr]
    m.execute(T0, {"operation": "atomic", "health_factor_venue": "lender", "min_health_factor": "0.5",
                   "steps": [{"operation": "supply", "venue": "lender", "asset": "WETH", "amount": "5"}]})
    assert m.ledger.balance("lender:supplied:WETH") == 5  # type: ignore[union-attr]
