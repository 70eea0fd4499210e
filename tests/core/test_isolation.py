"""Failure isolation, as pytest and stevedore do it: a venue that fails to import, construct, configure, describe
itself or accrue is reported as failed with the reason and taken out; every other venue keeps working.

The broken venues are real third-party distributions (a *.dist-info with entry points on sys.path, see the
``fake_dist`` fixture) or plugin classes registered by hand, as a host application would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from basis_core import ExecutionInterfaceManager
from basis_core.cli import _register, app
from basis_core.data import DataProvider
from basis_core.errors import (
    BasisError,
    FrozenInstructionError,
    UnknownVenueError,
    VenueContractError,
    VenueUnavailableError,
)
from basis_core.instructions import AddLiquidity, SpotTrade

T0 = "2025-02-01T00:00:00Z"
T1 = "2025-02-01T08:00:00Z"
BUY = {"operation": "spot_trade", "venue": "paper", "symbol": "ETH/USDT", "side": "buy", "amount": "1"}

HEADER = """
from decimal import Decimal
from basis_core import CEXExecutionInterface, DEXExecutionInterface, ExecutionDeltas, hookimpl
from basis_core.interfaces import VenueInfo

class Base(CEXExecutionInterface):
    @hookimpl
    def execute_spot_trade(self, timestamp, instruction):
        return ExecutionDeltas(self.name, "spot_trade", timestamp, {f"{self.name}:spot:ETH": instruction.amount})
"""

BROKEN = {
    "import": "raise ImportError('needs libfoo, which is not installed')\n",
    "construct": HEADER + """
class Broken(Base):
    name = "broken"
    def __init__(self):
        raise RuntimeError("constructor exploded")
""",
    "configure": HEADER + """
class Broken(Base):
    name = "broken"
    def on_configure(self, context):
        raise KeyError("a setting the plugin forgot to default")
""",
    "venue_info": HEADER + """
class Broken(Base):
    name = "broken"
    @hookimpl
    def venue_info(self):
        raise ZeroDivisionError("describing myself divided by zero")
""",
    "venue_info junk": HEADER + """
class Broken(Base):
    name = "broken"
    @hookimpl
    def venue_info(self):
        return {"name": "broken"}
""",
}
STAGE_AND_REASON = {
    "import": ("import", "needs libfoo"),
    "construct": ("construct", "constructor exploded"),
    "configure": ("configure", "a setting the plugin forgot"),
    "venue_info": ("venue_info", "divided by zero"),
    "venue_info junk": ("venue_info", "not a VenueInfo"),
}


def _manager(market: DataProvider, **kw: Any) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"initial_balances": {"paper:spot:USDT": "100000"}}, market, "backtest", **kw)


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_venue_failing_to_load_is_reported_and_the_others_work(
        case: str, fake_dist: Callable[..., None], market: DataProvider) -> None:
    fake_dist("basis-venue-broken", {"broken": "basis_venue_broken_mod:Broken"},
              {"basis_venue_broken_mod": BROKEN[case]})
    m = _manager(market)  # does not raise
    stage, reason = STAGE_AND_REASON[case]
    (failed,) = [f for f in m.discovery.failed if f.name == "broken"]
    assert failed.stage == stage and reason in failed.error and failed.distribution == "basis-venue-broken"
    assert "broken" not in [v["name"] for v in m.venues()]
    status = m.get_execution_status()["venues"]["broken"]
    assert status["status"] == "failed" and reason in status["reason"]
    with pytest.raises(VenueUnavailableError) as info:
        m.execute(T0, {**BUY, "venue": "broken"})
    assert reason in str(info.value) and "pip install" not in str(info.value)
    assert info.value.field == "venue" and m.execution_history[-1].success is False
    assert m.execute(T0, BUY).venue == "paper"  # every other venue keeps working


@pytest.mark.parametrize("case", ["construct", "configure", "venue_info"])
def test_basis_venues_exits_0_and_shows_the_failure(case: str, fake_dist: Callable[..., None]) -> None:
    fake_dist("basis-venue-broken", {"broken": "basis_venue_broken_mod:Broken"},
              {"basis_venue_broken_mod": BROKEN[case]})
    _register()
    stage, reason = STAGE_AND_REASON[case]
    res = CliRunner().invoke(app, ["venues", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [(f["name"], f["stage"]) for f in out["failed"]] == [("broken", stage)]
    assert reason in out["failed"][0]["error"] and "paper" in [v["name"] for v in out["venues"]]
    res = CliRunner().invoke(app, ["venues"], env={"COLUMNS": "300"})
    assert res.exit_code == 0
    assert f"failed ({stage})" in res.output and reason in res.output and "1 venue(s) failed" in res.output


def test_a_host_registering_a_broken_venue_by_hand_gets_a_typed_error_and_no_change(market: DataProvider) -> None:
    class Exploding(_paper_class()):  # type: ignore[misc]
        name = "exploding"

        def on_configure(self, context: Any) -> None:
            raise RuntimeError("boom")

    m = _manager(market, autoload=False)
    with pytest.raises(VenueUnavailableError, match="configure raised RuntimeError: boom"):
        m.register(Exploding)
    assert m.pm.get_plugin("exploding") is None
    m2 = _manager(market, autoload=False, plugins=[Exploding, _paper_class()])  # at construction: isolated
    assert [f.stage for f in m2.discovery.failed] == ["configure"] and m2.execute(T0, BUY).venue == "paper"


def _paper_class() -> type:
    from basis_venue_paper import PaperVenue
    return PaperVenue


ACCRUING = HEADER + """
class Good(Base):
    name = "good"
    @hookimpl
    def accrue(self, previous, timestamp):
        return [ExecutionDeltas("good", "interest", timestamp, {"good:spot:USDT": Decimal(1)}, status="accrued")]

class Raises(Base):
    name = "raises"
    @hookimpl
    def accrue(self, previous, timestamp):
        raise RuntimeError("accrual bug")

class Junk(Base):
    name = "junk"
    @hookimpl
    def accrue(self, previous, timestamp):
        return "not a list of deltas"

class FloatJunk(Base):
    name = "floatjunk"
    @hookimpl
    def accrue(self, previous, timestamp):
        return [ExecutionDeltas("floatjunk", "interest", timestamp, {"floatjunk:spot:USDT": 1.5})]

class Trespasser(Base):
    name = "trespasser"
    @hookimpl
    def accrue(self, previous, timestamp):
        return [ExecutionDeltas("trespasser", "interest", timestamp, {"good:spot:USDT": Decimal(-1000)})]
"""
BAD_ACCRUERS = {"raises": "accrual bug", "junk": "not a list of ExecutionDeltas", "floatjunk": "not a finite Decimal",
                "trespasser": "outside the venue's key namespaces"}


@pytest.mark.parametrize("bad", list(BAD_ACCRUERS))
def test_an_accrue_that_raises_or_returns_junk_takes_only_that_venue_out(
        bad: str, fake_dist: Callable[..., None], market: DataProvider) -> None:
    cls = {"raises": "Raises", "junk": "Junk", "floatjunk": "FloatJunk", "trespasser": "Trespasser"}[bad]
    eps = {"good": "basis_venue_acc_mod:Good", bad: f"basis_venue_acc_mod:{cls}"}
    fake_dist("basis-venue-accruers", eps, {"basis_venue_acc_mod": ACCRUING})
    balances = {"good:spot:USDT": "10", "paper:spot:USDT": "100000"}
    m = ExecutionInterfaceManager({"initial_balances": balances, "venues": ["good", bad, "paper"]}, market, "backtest")
    m.execute(T0, BUY)
    effects = m.advance_to(T1)
    assert [(d.venue, d.positions) for d in effects] == [("good", {"good:spot:USDT": Decimal(1)})]
    assert m.ledger.balance("good:spot:USDT") == Decimal(11)  # type: ignore[union-attr]  # the good one accrued
    (failed,) = m.discovery.failed
    assert failed.name == bad and failed.stage == "accrue" and BAD_ACCRUERS[bad] in failed.error
    failure = [r for r in m.execution_history if r.venue == bad]
    assert [(r.operation, r.success) for r in failure] == [("accrue", False)]
    assert m.get_execution_status()["venues"][bad]["status"] == "failed"
    with pytest.raises(VenueUnavailableError, match=BAD_ACCRUERS[bad]):
        m.execute(T1, {**BUY, "venue": bad})
    assert m.advance_to("2025-02-01T16:00:00Z")[0].venue == "good"  # the next step: still only the good one
    assert m.execute("2025-02-01T16:00:00Z", BUY).venue == "paper"


def test_a_hook_writing_another_venues_keys_is_refused_and_changes_nothing(market: DataProvider) -> None:
    from basis_core import ExecutionDeltas, hookimpl

    class Thief(_paper_class()):  # type: ignore[misc]
        name = "thief"

        @hookimpl
        def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
            return ExecutionDeltas("thief", "spot_trade", timestamp,
                                   {"thief:spot:ETH": Decimal(1), "paper:spot:USDT": Decimal(-50000)})

    m = _manager(market, autoload=False, plugins=[_paper_class(), Thief])
    before = m.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(VenueContractError, match="'paper:spot:USDT' is outside the venue's key namespaces"):
        m.execute(T0, {**BUY, "venue": "thief"})
    assert m.ledger.balances == before  # type: ignore[union-attr]
    assert m.execution_history[-1].success is False and m.venue("thief").orders_failed == 1


def test_shared_keys_declared_explicitly_are_allowed(market: DataProvider) -> None:
    from basis_core import ExecutionDeltas, hookimpl

    class Wallet(_paper_class()):  # type: ignore[misc]
        name = "walletvenue"
        key_namespaces = ("walletvenue:", "ethereum:wallet:")

        @hookimpl
        def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
            return ExecutionDeltas("walletvenue", "spot_trade", timestamp, {"ethereum:wallet:WETH": Decimal(1)})

    m = _manager(market, autoload=False, plugins=[Wallet])
    m.execute(T0, {**BUY, "venue": "walletvenue"})
    assert m.ledger.balance("ethereum:wallet:WETH") == 1  # type: ignore[union-attr]


def test_a_plugin_cannot_change_the_callers_frozen_instruction(market: DataProvider) -> None:
    from basis_core import ExecutionDeltas, hookimpl

    class Rewriter(_paper_class()):  # type: ignore[misc]
        name = "rewriter"

        @hookimpl
        def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
            object.__setattr__(instruction, "amount", Decimal(1000))
            return ExecutionDeltas("rewriter", "spot_trade", timestamp, {"rewriter:spot:ETH": instruction.amount})

    m = _manager(market, autoload=False, plugins=[Rewriter])
    ins = SpotTrade(venue="rewriter", symbol="ETH/USDT", side="buy", amount=Decimal("1"))
    before = m.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(FrozenInstructionError, match="'amount' is frozen"):
        m.execute(T0, ins)
    assert ins.amount == Decimal("1") and m.ledger.balances == before  # type: ignore[union-attr]
    assert isinstance(m.execution_history[-1].error, str) and not m.execution_history[-1].success


def test_a_plugin_changing_a_dict_inside_the_instruction_is_refused_and_the_caller_sees_no_change(
        market: DataProvider) -> None:
    from basis_core import DEXExecutionInterface, ExecutionDeltas, hookimpl

    class Pool(DEXExecutionInterface):
        name = "pool"

        @hookimpl
        def execute_add_liquidity(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
            instruction.amounts["WETH"] = Decimal(999)  # a dict field is mutable in place
            return ExecutionDeltas("pool", "add_liquidity", timestamp, {"pool:lp:x": Decimal(1)})

    m = _manager(market, autoload=False, plugins=[Pool])
    ins = AddLiquidity(venue="pool", pool="x", amounts={"WETH": Decimal(1)})
    with pytest.raises(VenueContractError, match="changed the instruction"):
        m.execute(T0, ins)
    assert ins.amounts == {"WETH": Decimal(1)} and m.ledger.balance("pool:lp:x") == 0  # type: ignore[union-attr]


def test_routing_to_an_uninstalled_venue_still_says_how_to_install_it(market: DataProvider) -> None:
    m = _manager(market)
    with pytest.raises(UnknownVenueError, match="pip install basis-venue-kraken"):
        m.execute(T0, {**BUY, "venue": "kraken"})


def test_the_seed_status_and_each_venues_own_history(market: DataProvider) -> None:
    m = _manager(market, autoload=False, plugins=[_paper_class()])
    m.execute(T0, BUY)
    with pytest.raises(BasisError):
        m.execute(T0, {**BUY, "amount": "1000"})  # overdraft
    m.execute(T0, {**BUY, "order_type": "market", "amount": "2"})
    venue = m.venue("paper")
    status = venue.get_execution_status()
    assert status["status"] == "healthy" and status["reason"] is None
    assert status["execution_mode"] == "backtest" and status["active_orders"] == 0
    assert status["orders_executed"] == 2 and status["orders_failed"] == 1
    assert [(r.success, r.fill_amount) for r in venue.execution_history] == [
        (True, Decimal(1)), (False, None), (True, Decimal(2))]
    assert venue.execution_history[-1].to_dict() == m.execution_history[-1].to_dict()
    assert m.get_execution_status()["venues"]["paper"]["status"] == "healthy"
