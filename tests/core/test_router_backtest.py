"""The core's router in backtest: ``venue: "auto"`` splits a swap across the installed AMM venues' pools (Uniswap
v2 / v3 fee tiers, Curve), asks them only through their hooks, and executes the split atomically on the ledger."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider
from basis_core.errors import ConfigError, InstructionError, InsufficientFundsError, SlippageError
from basis_core.instructions import Swap

T0 = "2025-02-01T00:00:00Z"
D = Decimal
WALLET = {"ethereum:wallet:USDC": "50000000", "ethereum:wallet:ETH": "10"}


def _manager(market: DataProvider, wallet: dict[str, str] | None = None, **router: object) -> ExecutionInterfaceManager:
    cfg: dict[str, object] = {"initial_balances": WALLET if wallet is None else wallet,
                              "venues": ["uniswap", "curve"]}
    if router:
        cfg["venue_config"] = {"auto": router}
    return ExecutionInterfaceManager(cfg, market, "backtest")


def _routed(amount: str, token_out: str = "WETH", **extra: object) -> dict[str, object]:
    return {"operation": "swap", "venue": "auto", "token_in": "USDC", "token_out": token_out, "amount_in": amount,
            **extra}


def test_swap_pools_lists_every_pool_of_the_pair(market: DataProvider) -> None:
    m = _manager(market)
    probe = Swap(venue="uniswap", token_in="USDC", token_out="WETH", amount_in=D(1))
    pools = m.venue("uniswap").swap_pools(pd.Timestamp(T0), probe)
    assert {p["pool"] for p in pools} == {"v2:WETH/USDC", "v3:WETH/USDC:500", "v3:WETH/USDC:3000"}
    assert all(p["decimals_in"] == 6 and p["decimals_out"] == 18 for p in pools)
    curve = m.venue("curve").swap_pools(pd.Timestamp(T0), probe.model_copy(update={"token_out": "USDT"}))
    assert {p["pool"] for p in curve} == {"2pool", "3pool"}
    with pytest.raises(InstructionError) as info:
        m.venue("curve").swap_pools(pd.Timestamp(T0), probe.model_copy(update={"token_in": "XYZ"}))
    assert info.value.field == "token_in"


def test_a_large_swap_is_split_and_beats_the_best_single_pool(market: DataProvider) -> None:
    m = _manager(market)
    before = m.ledger.balances  # type: ignore[union-attr]
    d = m.execute(T0, _routed("10000000"))
    legs = d.details["legs"]
    assert len(legs) >= 2 and {leg["venue"] for leg in legs} == {"uniswap"}
    assert sum(leg["amount_in"] for leg in legs) == D("10000000")
    # the deltas are the legs' fills, and the ledger moved by exactly the deltas
    assert d.positions["ethereum:wallet:USDC"] == D("-10000000")
    assert d.positions["ethereum:wallet:WETH"] == sum(leg["amount_out"] for leg in legs) == d.details["amount_out"]
    assert d.positions["ethereum:wallet:ETH"] == -d.details["gas_cost_eth"] == -sum(leg["gas_cost_eth"] for leg in legs)
    after = m.ledger.balances  # type: ignore[union-attr]
    for key, change in d.positions.items():
        assert after[key] - D(before.get(key, 0)) == change
    # the best single pool, executed alone on an identical fresh manager, pays less net of gas
    best = d.details["best_single"]
    solo = _manager(market).execute(T0, {"operation": "swap", "venue": best["venue"], "pool": best["pool"],
                                         "token_in": "USDC", "token_out": "WETH", "amount_in": "10000000"})
    assert solo.details["amount_out"] == best["amount_out"]
    assert d.details["amount_out"] > best["amount_out"]
    assert d.details["output_gain"] > 0 and d.details["impact_saved_bps"] > 0
    assert d.details["price_impact_bps"] < solo.details["price_impact_bps"]


def test_a_small_swap_stays_in_one_pool_because_gas_costs_more_than_splitting_saves(market: DataProvider) -> None:
    m = _manager(market)
    d = m.execute(T0, _routed("10000"))
    assert len(d.details["legs"]) == 1
    assert d.details["output_gain"] == 0
    assert d.details["legs"][0]["pool"] == d.details["best_single"]["pool"]


def test_stablecoin_swaps_route_across_curve_and_uniswap(market: DataProvider) -> None:
    m = _manager(market)
    d = m.execute(T0, _routed("20000000", "USDT"))
    assert {leg["venue"] for leg in d.details["legs"]} == {"curve", "uniswap"}
    assert d.details["output_gain"] > 0


def test_the_modelled_search_pays_what_the_exact_search_pays_with_fewer_quotes(market: DataProvider) -> None:
    # through quote_swap alone (a venue without pool models): the modelled search runs on constant-product fits
    # and quotes only its legs exactly (plus one exact water-filling round); the exhaustive search quotes every
    # grid point: same pools, outputs within 0.01 bps
    modelled = _manager(market, search="model", pool_models=False).quote(T0, _routed("20000000", "USDT"))
    exact = _manager(market, search="exact", pool_models=False).quote(T0, _routed("20000000", "USDT"))
    assert {leg["pool"] for leg in modelled.details["legs"]} == {leg["pool"] for leg in exact.details["legs"]}
    assert modelled.details["quotes"] < exact.details["quotes"] / 2
    assert abs(modelled.details["net_amount_out"] - exact.details["net_amount_out"]) \
        <= exact.details["net_amount_out"] * D("0.000001")


def test_the_split_is_all_or_nothing_on_the_ledger(market: DataProvider) -> None:
    m = _manager(market, {"ethereum:wallet:USDC": "10000000", "ethereum:wallet:ETH": "0.001"})
    before = m.ledger.balances  # type: ignore[union-attr]
    pools_before = dict(m.ledger.table("uniswap.pools"))  # type: ignore[union-attr]
    with pytest.raises(InsufficientFundsError):  # gas for the second leg is missing: the first is undone too
        m.execute(T0, _routed("10000000"))
    assert m.ledger.balances == before  # type: ignore[union-attr]
    assert dict(m.ledger.table("uniswap.pools")) == pools_before  # type: ignore[union-attr]
    assert [r.success for r in m.execution_history] == [False]


def test_bounds_apply_to_the_whole_split_before_anything_changes(market: DataProvider) -> None:
    m = _manager(market)
    quote = m.quote(T0, _routed("10000000"))
    assert quote.status == "quoted" and m.ledger.balances == {k: D(v) for k, v in WALLET.items()}  # type: ignore[union-attr]
    with pytest.raises(SlippageError) as info:
        m.execute(T0, _routed("10000000", min_amount_out=str(quote.details["amount_out"] + 1)))
    assert info.value.field == "min_amount_out"
    with pytest.raises(SlippageError) as info:
        m.execute(T0, _routed("10000000", max_slippage_bps="1"))
    assert info.value.field == "max_slippage_bps"
    assert m.ledger.balances == {k: D(v) for k, v in WALLET.items()}  # type: ignore[union-attr]
    d = m.execute(T0, _routed("10000000", min_amount_out=str(quote.details["amount_out"])))
    assert d.details["amount_out"] == quote.details["amount_out"]  # the quote is what executes


@pytest.mark.parametrize(("instruction", "field"), [
    (_routed("1000", "XYZ"), "token_out"),
    (_routed("1000", pool="v2:WETH/USDC"), "pool"),
    (_routed("1000000000000"), "amount_in"),
])
def test_a_route_that_cannot_exist_is_refused_naming_the_field(market: DataProvider, instruction: dict[str, object],
                                                               field: str) -> None:
    m = _manager(market, {"ethereum:wallet:USDC": "10000000000000", "ethereum:wallet:ETH": "10"})
    with pytest.raises(InstructionError) as info:
        m.execute(T0, instruction)
    assert info.value.field == field
    assert not m.execution_history[-1].success


def test_router_settings_are_checked(market: DataProvider) -> None:
    with pytest.raises(ConfigError, match=r"venue_config\.auto\.gird"):
        _manager(market, gird=5).quote(T0, _routed("1000"))
    with pytest.raises(ConfigError, match="grid"):
        _manager(market, grid=0).quote(T0, _routed("1000"))
    with pytest.raises(ConfigError, match=r"venue_config\.auto\.search"):
        _manager(market, search="fast").quote(T0, _routed("1000"))
    only_curve = _manager(market, venues=["curve"]).quote(T0, _routed("1000000", "USDT"))
    assert {leg["venue"] for leg in only_curve.details["legs"]} == {"curve"}
