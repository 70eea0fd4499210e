"""Pool models (the ``swap_pool_models`` hook): each AMM venue gives its pools' state at a timestamp as pure math,
the router searches the split on it and verifies only the chosen legs through ``quote_swap``.

Specifications: a model quotes exactly what the venue's ``quote_swap`` quotes; the decision on models is the
exact search's decision through ``quote_swap`` alone (same amounts), with one hook quote per leg; a venue that
only implements ``quote_swap`` (a third-party plugin) still takes part; a model that is not exact is caught by the
verification and the router plans through ``quote_swap`` instead.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from basis_venue_curve.venue import CurveVenue
from basis_venue_uniswap.venue import UniswapVenue
from hypothesis import given, settings
from hypothesis import strategies as st

from basis_core import ExecutionDeltas, ExecutionInterfaceManager, hookimpl
from basis_core.best_execution.model import PoolModel
from basis_core.best_execution.router import plan_route
from basis_core.data import synthetic_market
from basis_core.instructions import Swap
from basis_core.interfaces import DEXExecutionInterface

T0 = pd.Timestamp("2025-02-01T00:00:00Z")
D = Decimal
WALLET = {"ethereum:wallet:USDC": "50000000", "ethereum:wallet:ETH": "10"}
MARKET = synthetic_market()


def _manager(plugins: list[Any] | None = None, **router: Any) -> ExecutionInterfaceManager:
    cfg: dict[str, Any] = {"initial_balances": WALLET, "autoload": False}
    if router:
        cfg["venue_config"] = {"auto": router}
    return ExecutionInterfaceManager(cfg, MARKET, "backtest", plugins=plugins or [UniswapVenue, CurveVenue])


def _swap(amount: int, token_out: str = "WETH") -> Swap:
    return Swap(venue="auto", token_in="USDC", token_out=token_out, amount_in=D(amount))


M = _manager()


@settings(max_examples=15, deadline=None)
@given(units=st.integers(1, 40_000_000 * 10**6), token_out=st.sampled_from(["WETH", "USDT", "DAI"]))
def test_a_pool_model_quotes_exactly_what_quote_swap_quotes(units: int, token_out: str) -> None:
    probe = Swap(venue="uniswap", token_in="USDC", token_out=token_out, amount_in=D(1))
    for venue in ("uniswap", "curve") if token_out != "WETH" else ("uniswap",):
        v = M.venue(venue)
        for model in v.swap_pool_models(T0, probe.model_copy(update={"venue": venue})):
            assert isinstance(model, PoolModel) and model.decimals_in == 6
            human = D(units).scaleb(-6)
            try:
                q = v.quote_swap(T0, probe.model_copy(update={"venue": venue, "pool": model.pool,
                                                               "amount_in": human}))
            except Exception:  # the venue refuses the amount (beyond the pool): so does the model
                assert model.quote(units) is None
                continue
            assert model.quote(units) == int(q.details["amount_out"].scaleb(model.decimals_out))
            assert model.gas_cost_eth == q.details["gas_cost_eth"]


@pytest.mark.parametrize(("amount", "token_out"), [(300_000, "WETH"), (10_000_000, "WETH"), (3_000_000, "USDT"),
                                                   (20_000_000, "USDT"), (500_000, "DAI")])
def test_the_decision_on_pool_models_is_the_exact_searchs_through_quote_swap(amount: int, token_out: str) -> None:
    fast = plan_route(M, T0, _swap(amount, token_out))
    exact = plan_route(_manager(search="exact", pool_models=False), T0, _swap(amount, token_out))
    assert fast.searched_on == "pool_models" and exact.searched_on == "quotes"
    assert fast.split.amounts == exact.split.amounts and fast.split.net == exact.split.net
    # the hooks were asked once per chosen leg and once for the best single pool (the verification), the exact
    # search many times
    single_is_the_split = fast.split.used == (fast.split.single,)
    assert sum(len(p.quotes) for p in fast.pools) == len(fast.split.used) + (not single_is_the_split)
    assert sum(len(p.quotes) for p in exact.pools) > 5 * len(fast.pools)


def test_a_routed_swap_on_pool_models_executes_its_verified_quotes() -> None:
    m = _manager()
    quote = m.quote(T0, _swap(10_000_000))
    assert quote.details["searched_on"] == "pool_models" and len(quote.details["legs"]) >= 2
    d = m.execute(T0, _swap(10_000_000))
    assert d.details["amount_out"] == quote.details["amount_out"] == d.positions["ethereum:wallet:WETH"]
    assert d.details["quotes"] == len(d.details["legs"]) + 1 and d.details["model_quotes"] > 0  # + best single
    # the swap moved the pools: the next models (same timestamp) are of the moved pools and still exact
    probe = Swap(venue="uniswap", token_in="USDC", token_out="WETH", amount_in=D(1))
    moved = m.venue("uniswap").swap_pool_models(T0, probe)
    assert moved is m.venue("uniswap").swap_pool_models(T0, probe)  # built once per timestamp and pool states
    assert moved is not M.venue("uniswap").swap_pool_models(T0, probe)
    assert {mdl.pool: mdl.state for mdl in moved} != {mdl.pool: mdl.state for mdl in
                                                      M.venue("uniswap").swap_pool_models(T0, probe)}
    after = plan_route(m, T0, _swap(1_000_000))
    again = plan_route(_manager(search="exact", pool_models=False), T0, _swap(1_000_000))
    assert after.split.outputs != again.split.outputs  # m's pools moved, the fresh manager's did not
    assert after.model_note is None  # ... and every leg verified against m's quote_swap


class ThirdPartyAmm(DEXExecutionInterface):
    """A third-party AMM plugin with only ``quote_swap`` / ``execute_swap`` (no ``swap_pools``, no models): one
    constant-product USDC/WETH pool (v2 formula, 0.3 %) anchored at the ETH oracle, ``DEPTH_USD`` a side."""

    name = "thirdamm"
    key_namespaces = ("ethereum:wallet:",)
    DEPTH_USD = 30_000_000

    def reserves(self, ts: Any) -> tuple[int, int]:
        assert self.context is not None and self.context.data_provider is not None
        eth = self.context.data_provider.get_data(ts).get("oracle:ETH/USD", "price")
        return self.DEPTH_USD * 10**6, int((D(self.DEPTH_USD) / eth).scaleb(18))

    def _fill(self, ts: Any, ins: Any, status: str) -> ExecutionDeltas:
        if (ins.token_in, ins.token_out) != ("USDC", "WETH"):
            from basis_core.errors import InstructionError
            raise InstructionError("token_out", "thirdamm trades USDC -> WETH only")
        r_in, r_out = self.reserves(ts)
        x = int(ins.amount_in.scaleb(6))
        out = D(x * 997 * r_out // (r_in * 1000 + x * 997)).scaleb(-18)
        pos = {"ethereum:wallet:USDC": -ins.amount_in, "ethereum:wallet:WETH": out}
        details = {"amount_in": ins.amount_in, "amount_out": out, "gas_cost_eth": D(0)}
        if status == "quoted":
            return ExecutionDeltas(self.name, "swap", ts, {}, status="quoted", details={**details, "positions": pos})
        return ExecutionDeltas(self.name, "swap", ts, pos, details=details)

    @hookimpl
    def quote_swap(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self._fill(timestamp, instruction, "quoted")

    @hookimpl
    def execute_swap(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self._fill(timestamp, instruction, "filled")


def test_a_plugin_with_only_quote_swap_still_takes_part() -> None:
    m = _manager([UniswapVenue, CurveVenue, ThirdPartyAmm])
    plan = plan_route(m, T0, _swap(20_000_000))
    third = next(i for i, p in enumerate(plan.pools) if p.venue == "thirdamm")
    assert plan.pools[third].model is None and plan.searched_on == "pool_models"  # mixed: models + hook quotes
    assert third in plan.split.used
    # its leg is its own closed form (without swap_pools the router learns its decimals from a quote: whole
    # USDC in, 18 out), and the split beats every single pool net of gas
    x = plan.split.amounts[third] * 10 ** (6 - plan.unit_decimals)
    r_in, r_out = m.venue("thirdamm").reserves(T0)  # type: ignore[attr-defined]
    assert plan.split.outputs[third] == x * 997 * r_out // (r_in * 1000 + x * 997)
    assert plan.split.single_net is not None and plan.split.net > plan.split.single_net
    d = m.execute(T0, _swap(20_000_000))
    assert "thirdamm" in {leg["venue"] for leg in d.details["legs"]}


class OffByOneUniswap(UniswapVenue):
    """Uniswap whose models quote one base unit more than its ``quote_swap`` (a model breaking its contract)."""

    @hookimpl
    def swap_pool_models(self, timestamp: Any, instruction: Any) -> list[Any] | None:
        def plus_one(q: Any) -> Any:
            return lambda x: None if q(x) is None else q(x) + 1
        return [dataclasses.replace(mdl, quote=plus_one(mdl.quote))
                for mdl in self.backend.swap_models(timestamp, instruction)]


def test_a_model_that_is_not_exact_is_caught_and_the_router_plans_through_quote_swap() -> None:
    m = _manager([OffByOneUniswap])
    plan = plan_route(m, T0, _swap(10_000_000))
    assert plan.model_note is not None and "quote_swap" in plan.model_note
    assert plan.searched_on == "quotes"
    reference = plan_route(_manager([UniswapVenue], pool_models=False), T0, _swap(10_000_000))
    assert plan.split.amounts == reference.split.amounts
    d = m.quote(T0, _swap(10_000_000))
    assert d.details["pool_models_note"] == plan.model_note


def test_pool_models_can_be_switched_off() -> None:
    plan = plan_route(_manager(pool_models=False), T0, _swap(3_000_000))
    assert plan.searched_on == "quotes" and all(p.model is None for p in plan.pools)
    with pytest.raises(Exception, match=r"venue_config\.auto\.pool_models"):
        plan_route(_manager(pool_models="yes"), T0, _swap(3_000_000))
