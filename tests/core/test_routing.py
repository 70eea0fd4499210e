"""Routing: exactly one venue implementation runs, wrapped by the core's wrappers; typed routing errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from basis_core import CEXExecutionInterface, ExecutionDeltas, ExecutionInterfaceManager, hookimpl
from basis_core.data import DataProvider
from basis_core.errors import (
    ConfigError,
    DuplicateClientIdError,
    InsufficientFundsError,
    RiskLimitError,
    UnknownVenueError,
    UnsupportedOperationError,
    VenueContractError,
)
from basis_core.timeutil import to_utc

T0 = "2025-02-01T00:00:00Z"


def _trade(venue: str, **kw: Any) -> dict[str, Any]:
    return {"operation": "spot_trade", "venue": venue, "symbol": "ETH/USDT", "side": "buy", "amount": "1", **kw}


class Spy(CEXExecutionInterface):
    """Records every call it receives; returns a fixed fill."""

    name = "spy"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        self.calls.append(instruction.venue)
        return ExecutionDeltas(self.name, "spot_trade", timestamp, {f"{self.name}:spot:ETH": instruction.amount})


class SpyTwo(Spy):
    name = "spy2"


def test_routing_reaches_only_the_named_venue(market: DataProvider) -> None:
    a, b = Spy(), SpyTwo()
    m = ExecutionInterfaceManager(data_provider=market, autoload=False, plugins=[a, b])
    m.execute(T0, _trade("spy2"))
    m.execute(T0, _trade("spy2"))
    m.execute(T0, _trade("spy"))
    assert a.calls == ["spy"]
    assert b.calls == ["spy2", "spy2"]


def test_routing_among_installed_venues_reaches_only_the_named_one(manager: ExecutionInterfaceManager) -> None:
    d = manager.execute(T0, _trade("paper2"))
    assert set(d.positions) == {"paper2:spot:ETH", "paper2:spot:USDT"}
    assert manager.ledger.balance("paper:spot:ETH") == 0  # type: ignore[union-attr]
    assert manager.ledger.balance("paper2:spot:ETH") == 1  # type: ignore[union-attr]


def test_wrappers_record_history_and_venue_statistics(manager: ExecutionInterfaceManager) -> None:
    manager.execute(T0, _trade("paper"))
    with pytest.raises(InsufficientFundsError):
        manager.execute(T0, _trade("paper", amount="1000"))
    st = manager.venue("paper").get_execution_status()
    assert (st["orders_executed"], st["orders_failed"]) == (1, 1)
    assert [r.success for r in manager.execution_history] == [True, False]
    assert manager.get_execution_status()["failed"] == 1


def test_history_records_the_fill_price_and_amount(manager: ExecutionInterfaceManager) -> None:
    d = manager.execute(T0, _trade("paper", amount="0.5"))
    rec = manager.execution_history[-1]
    assert (rec.fill_price, rec.fill_amount) == (d.fill_price, Decimal("0.5"))
    assert rec.to_dict()["fill_amount"] == "0.5"


def test_wrapper_applies_deltas_to_the_ledger(manager: ExecutionInterfaceManager) -> None:
    d = manager.execute(T0, _trade("paper"))
    assert manager.ledger.balance("paper:spot:USDT") == Decimal("100000") + d.positions["paper:spot:USDT"]  # type: ignore[union-attr]


def test_unsupported_operation_is_typed(manager: ExecutionInterfaceManager) -> None:
    with pytest.raises(UnsupportedOperationError) as info:
        manager.execute(T0, {"operation": "supply", "venue": "paper", "asset": "USDT", "amount": "1"})
    assert "supply" in str(info.value) and "spot_trade" in str(info.value)


def test_a_venue_returning_none_breaks_the_contract(market: DataProvider) -> None:
    class Lazy(CEXExecutionInterface):
        name = "lazy"

        @hookimpl
        def execute_spot_trade(self, timestamp: Any, instruction: Any) -> None:
            return None

    m = ExecutionInterfaceManager(data_provider=market, autoload=False, plugins=[Lazy])
    with pytest.raises(VenueContractError):
        m.execute(T0, _trade("lazy"))
    assert m.execution_history[-1].success is False


def test_a_venue_returning_floats_breaks_the_contract_and_changes_nothing(market: DataProvider) -> None:
    class Sloppy(CEXExecutionInterface):
        name = "sloppy"

        @hookimpl
        def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
            return ExecutionDeltas(self.name, "spot_trade", timestamp, {"sloppy:spot:ETH": 1.0})  # type: ignore[dict-item]

    m = ExecutionInterfaceManager(data_provider=market, autoload=False, plugins=[Sloppy])
    with pytest.raises(VenueContractError):
        m.execute(T0, _trade("sloppy"))
    assert m.ledger.balances == {}  # type: ignore[union-attr]


def test_manual_registration_with_autoload_off(market: DataProvider) -> None:
    m = ExecutionInterfaceManager(data_provider=market, autoload=False)
    assert m.venues() == []
    with pytest.raises(UnknownVenueError):
        m.execute(T0, _trade("spy"))
    m.register(Spy())
    assert [v["name"] for v in m.venues()] == ["spy"]
    assert m.execute(T0, _trade("spy")).positions == {"spy:spot:ETH": Decimal(1)}


def test_configure_is_historic_a_late_registered_venue_gets_the_context(market: DataProvider) -> None:
    m = ExecutionInterfaceManager(data_provider=market, autoload=False)
    late = Spy()
    assert late.context is None
    m.register(late)  # after the manager called the `configure` hook
    assert late.context is m.context
    assert late.context.ledger is m.ledger and late.context.data_provider is market
    assert late.mode == "backtest"


def test_registering_a_venue_twice_is_an_error(market: DataProvider) -> None:
    m = ExecutionInterfaceManager(data_provider=market, autoload=False, plugins=[Spy])
    with pytest.raises(ConfigError):
        m.register(Spy)


def test_two_managers_in_one_process_are_independent(market: DataProvider) -> None:
    cfg = {"initial_balances": {"paper:spot:USDT": "100000"}, "venues": ["paper"]}
    m1 = ExecutionInterfaceManager(cfg, market, "backtest")
    m2 = ExecutionInterfaceManager(cfg, market, "backtest")
    m1.execute(T0, _trade("paper"))
    assert m1.ledger.balance("paper:spot:ETH") == 1  # type: ignore[union-attr]
    assert m2.ledger.balance("paper:spot:ETH") == 0  # type: ignore[union-attr]
    assert m1.venue("paper") is not m2.venue("paper")
    assert m2.venue("paper").orders_executed == 0


def test_max_notional_refuses_before_the_venue_runs(market: DataProvider) -> None:
    cfg = {"initial_balances": {"paper:spot:USDT": "1000000"}, "venues": ["paper"], "max_notional": "10000"}
    m = ExecutionInterfaceManager(cfg, market, "backtest")
    m.execute(T0, _trade("paper", amount="1"))
    before = m.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(RiskLimitError) as info:
        m.execute(T0, _trade("paper", amount="100"))
    assert info.value.field == "amount"
    assert m.ledger.balances == before  # type: ignore[union-attr]


def test_same_client_id_twice_executes_once(manager: ExecutionInterfaceManager) -> None:
    d1 = manager.execute(T0, _trade("paper", client_id="order-1"))
    d2 = manager.execute(T0, _trade("paper", client_id="order-1"))
    assert d1 is d2
    assert manager.ledger.balance("paper:spot:ETH") == 1  # type: ignore[union-attr]
    assert manager.venue("paper").orders_executed == 1


def test_same_client_id_for_a_different_instruction_is_refused(manager: ExecutionInterfaceManager) -> None:
    manager.execute(T0, _trade("paper", client_id="order-2"))
    before = manager.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(DuplicateClientIdError) as info:
        manager.execute(T0, _trade("paper", client_id="order-2", amount="2"))
    assert info.value.field == "client_id"
    assert manager.ledger.balances == before  # type: ignore[union-attr]


def test_client_ids_are_remembered_for_the_whole_backtest_and_the_latest_ones_with_a_history_limit(
        market: DataProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a history limit every result stays answerable by its client id; with one (a long live or paper run)
    the latest max(history_limit, DONE_KEPT_MIN) do, so memory stays flat (older ids: the venue's journal)."""
    import basis_core.manager as manager_module

    monkeypatch.setattr(manager_module, "DONE_KEPT_MIN", 3)
    cfg = {"initial_balances": {"paper:spot:USDT": "100000"}, "venues": ["paper"]}
    whole = ExecutionInterfaceManager(config=cfg, data_provider=market, execution_mode="backtest")
    bounded = ExecutionInterfaceManager(config={**cfg, "history_limit": 1}, data_provider=market,
                                        execution_mode="backtest")
    for m in (whole, bounded):
        for i in range(6):
            m.execute(T0, _trade("paper", client_id=f"o-{i}"))
    assert sorted(c for _, c in whole._done) == [f"o-{i}" for i in range(6)]
    assert sorted(c for _, c in bounded._done) == ["o-3", "o-4", "o-5"]
    again = bounded.execute(T0, _trade("paper", client_id="o-5"))  # a remembered id: nothing executed again
    assert again is bounded._done[("paper", "o-5")][1] and bounded.venue("paper").orders_executed == 6


def test_instruction_accepted_as_model_dict_or_json(manager: ExecutionInterfaceManager) -> None:
    import json

    from basis_core.instructions import SpotTrade

    manager.execute(T0, SpotTrade(venue="paper", symbol="ETH/USDT", side="buy", amount=Decimal("0.5")))
    manager.execute(T0, _trade("paper", amount="0.25"))
    manager.execute(T0, json.dumps(_trade("paper", amount="0.25")))
    assert manager.ledger.balance("paper:spot:ETH") == 1  # type: ignore[union-attr]


class HostWrapper:
    """A host application's own wrapper (e.g. tracing): it must run around venue calls too."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> Any:
        self.seen.append(f"before {instruction.venue}")
        result = yield
        self.seen.append(f"after {result.venue}")
        return result


def test_a_host_wrapper_registered_later_wraps_routed_calls(market: DataProvider) -> None:
    a = Spy()
    m = ExecutionInterfaceManager(data_provider=market, autoload=False, plugins=[a])
    m.execute(T0, _trade("spy"))  # the route exists before the host wrapper is registered
    host = HostWrapper()
    m.pm.register(host, name="host.tracing")
    d = m.execute(T0, _trade("spy"))
    assert host.seen == ["before spy", "after spy"]
    assert d.positions == {"spy:spot:ETH": Decimal(1)}
    assert m.ledger.balance("spy:spot:ETH") == 2  # type: ignore[union-attr]
    assert [r.success for r in m.execution_history] == [True, True]
    m.pm.unregister(host)
    m.execute(T0, _trade("spy"))
    assert len(host.seen) == 2


def test_core_wrapper_behaves_the_same_with_or_without_other_wrappers(market: DataProvider) -> None:
    def run(with_host: bool) -> tuple[Any, ...]:
        cfg = {"initial_balances": {"paper:spot:USDT": "3000"}, "venues": ["paper"]}
        m = ExecutionInterfaceManager(cfg, market, "backtest")
        if with_host:
            m.pm.register(HostWrapper(), name="host")
        out: list[Any] = []
        for amount in ("1", "5", "0.5"):
            try:
                out.append(m.execute(T0, _trade("paper", amount=amount)).positions)
            except InsufficientFundsError as e:
                out.append(("refused", e.field, e.key))
        return (tuple(map(str, out)), m.ledger.balances, [(r.success, r.error) for r in m.execution_history])  # type: ignore[union-attr]

    assert run(False) == run(True)


class BalanceSpy(Spy):
    """Answers ``get_balances`` with the options it was given."""

    name = "bspy"

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Any]:
        self.calls.append(f"balances {instruction}")
        return {"bspy:spot:ETH": Decimal(1), "options": instruction}


class HostBalances:
    """A host app's wrapper around every venue's ``get_balances``."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)
    def get_balances(self, timestamp: Any, instruction: Any) -> Any:
        self.seen.append("before")
        result = yield
        self.seen.append("after")
        return {**result, "host": True}


def test_a_query_of_one_plain_implementation_answers_as_pluggy_does_and_wrappers_and_monitors_still_see_it(
        market: DataProvider) -> None:
    """A query route with one plain implementation calls it directly (no pluggy loop): the same answer, the
    venue's exceptions unchanged; a host wrapper registered later, and pluggy's call monitoring, still see it."""
    spy = BalanceSpy()
    m = ExecutionInterfaceManager(data_provider=market, autoload=False, plugins=[spy])
    direct = m.get_balances(T0, "bspy", {"include_metrics": False})
    assert direct == {"bspy:spot:ETH": Decimal(1), "options": {"include_metrics": False}}
    subset = m.pm.subset_hook_caller("get_balances", remove_plugins=[])
    assert subset(timestamp=to_utc(T0), instruction={"include_metrics": False}) == direct  # pluggy's own call
    assert spy.calls == ["balances {'include_metrics': False}"] * 2

    monitored: list[str] = []
    undo = m.pm.add_hookcall_monitoring(lambda name, impls, kwargs: monitored.append(name),
                                        lambda outcome, name, impls, kwargs: monitored.append(f"done {name}"))
    assert m.get_balances(T0, "bspy") == {"bspy:spot:ETH": Decimal(1), "options": None}
    assert monitored == ["get_balances", "done get_balances"]
    undo()
    m.get_balances(T0, "bspy")
    assert len(monitored) == 2  # monitoring off: the direct call again

    host = HostBalances()
    m.pm.register(host, name="host.balances")
    assert m.get_balances(T0, "bspy") == {"bspy:spot:ETH": Decimal(1), "options": None, "host": True}
    assert host.seen == ["before", "after"]
    m.pm.unregister(host)
    assert "host" not in m.get_balances(T0, "bspy")
    assert len(host.seen) == 2


def test_the_registry_finds_the_same_implementations_as_pluggy_for_every_kind_of_plugin() -> None:
    """HookRegistry remembers a class's hook implementations across managers; an instance's own attributes, a module
    and a class registered as such are still looked up each time: the same implementations as pluggy's manager."""
    import types

    import pluggy

    from basis_core import hookspecs
    from basis_core.hookspecs import hookimpl
    from basis_core.routing import HookRegistry

    class Venue:
        @hookimpl
        def venue_info(self) -> dict[str, Any]:
            return {"name": "v"}

        def not_a_hook(self) -> None: ...

    def own_get_balances(timestamp: Any, instruction: Any) -> dict[str, Any]:
        return {}

    def plain_get_balances(timestamp: Any, instruction: Any) -> dict[str, Any]:
        return {}

    with_own, with_plain = Venue(), Venue()
    with_own.get_balances = hookimpl(own_get_balances)  # type: ignore[attr-defined]
    with_plain.get_balances = plain_get_balances  # type: ignore[attr-defined]  # not marked: no implementation
    module = types.ModuleType("host_module")
    module.venue_info = hookimpl(lambda: {"name": "m"})  # type: ignore[attr-defined]

    def impls(pm: pluggy.PluginManager) -> list[tuple[str, str]]:
        return sorted((name, impl.plugin_name) for name in ("venue_info", "get_balances")
                      for impl in getattr(pm.hook, name).get_hookimpls())

    for _ in range(2):  # the second round reads what the first remembered
        plugins = [("a", Venue()), ("b", with_own), ("c", module), ("d", with_plain)]
        ours, theirs = HookRegistry(hookspecs.PROJECT, on_change=lambda: None), pluggy.PluginManager(hookspecs.PROJECT)
        for pm in (ours, theirs):
            pm.add_hookspecs(hookspecs)
            for name, plugin in plugins:
                pm.register(plugin, name)
        assert impls(ours) == impls(theirs) == [("get_balances", "b"), ("venue_info", "a"), ("venue_info", "b"),
                                                ("venue_info", "c"), ("venue_info", "d")]
    assert Venue().not_a_hook() is None
