"""Sweep specifications: grid arguments, product order and seeded sampling, dotted paths into a scenario
(typed errors naming the key), variant keys."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from basis_core.backtest.scenario import default_scenario_path, load_scenario
from basis_core.errors import SweepError, SweepKeyError
from basis_core.sweep.keys import variant_key
from basis_core.sweep.spec import (
    apply_overrides,
    dump_yaml,
    expand,
    grid_point,
    parse_grid,
    scenario_plain,
    split_key,
)

MF = "strategies.cash_and_carry.params.margin_fraction"


@pytest.fixture(scope="module")
def plain() -> dict:
    return scenario_plain(load_scenario(default_scenario_path()))


def test_grid_values_are_read_like_scenario_yaml() -> None:
    g = parse_grid([f"{MF}=0.2,0.35", "period.end=2025-02-01,2025-03-01", "market.seed=1,2",
                    "venues=[[binance], [binance, hyperliquid]]"])
    assert g[MF] == [Decimal("0.2"), Decimal("0.35")]  # exact, as in scenario files
    assert g["period.end"] == ["2025-02-01", "2025-03-01"]
    assert g["market.seed"] == [1, 2]
    assert g["venues"] == [["binance"], ["binance", "hyperliquid"]]


@pytest.mark.parametrize("item", ["noequals", "=1,2", "a.b="])
def test_malformed_grid_items_are_typed_errors(item: str) -> None:
    with pytest.raises(SweepError) as ei:
        parse_grid([item])
    assert ei.value.field == "--grid"


def test_product_order_and_seeded_sample() -> None:
    g = {"a": [1, 2, 3], "b": ["x", "y"]}
    full = expand(g)
    assert full == [{"a": a, "b": b} for a in (1, 2, 3) for b in ("x", "y")]
    assert [grid_point(g, i) for i in range(6)] == full
    s1, s2 = expand(g, sample=4, seed=11), expand(g, sample=4, seed=11)
    assert s1 == s2 and len(s1) == 4 and len({tuple(v.items()) for v in s1}) == 4
    assert s1 == sorted(s1, key=full.index)  # kept in product order
    assert expand(g, sample=10, seed=1) == full
    with pytest.raises(SweepError):
        expand(g, sample=0)


def test_split_key_with_bracketed_segments() -> None:
    assert split_key("venue_config.uniswap.pools[v3:WETH/wstETH:100].tvl_usd") == [
        "venue_config", "uniswap", "pools", "v3:WETH/wstETH:100", "tvl_usd"]
    assert split_key("a[b.c].d") == ["a", "b.c", "d"]


def test_overrides_by_strategy_name_index_and_free_form_mappings(plain: dict) -> None:
    out = apply_overrides(plain, {
        MF: Decimal("0.4"),
        "strategies.1.params.eth_amount": 12,
        "venue_config.uniswap.pools[v3:WETH/wstETH:100].tvl_usd": 1000,
        "venue_config.binance.taker_fee": Decimal("0.0005"),   # a new mapping is created
        "initial_balances.binance:spot:USDT": 5,
        "period.end": "2025-02-01",
    })
    sc = load_scenario(out)
    assert sc.strategies[0].params["margin_fraction"] == Decimal("0.4")
    assert sc.strategies[1].params["eth_amount"] == 12
    assert sc.venue_config["uniswap"]["pools"]["v3:WETH/wstETH:100"]["tvl_usd"] == 1000
    assert sc.venue_config["binance"]["taker_fee"] == Decimal("0.0005")
    assert sc.initial_balances["binance:spot:USDT"] == 5
    assert sc.period.end.isoformat() == "2025-02-01T00:00:00+00:00"
    assert plain["strategies"][0]["params"]["margin_fraction"] == Decimal("0.3")  # the base is untouched


@pytest.mark.parametrize(("key", "segment", "says"), [
    ("perido.end", "perido", "unknown field 'perido'"),
    ("period.ends", "ends", "unknown field 'ends'"),
    ("strategies.no_such.params.x", "no_such", "no item named 'no_such'"),
    ("strategies.7.params.x", "7", "out of range"),
    ("market.seed.x", "x", "is a value"),
])
def test_a_key_that_leads_nowhere_is_a_typed_error_naming_it(plain: dict, key: str, segment: str, says: str) -> None:
    with pytest.raises(SweepKeyError) as ei:
        apply_overrides(plain, {key: 1})
    err = ei.value
    assert err.key == key and err.field == key and err.segment == segment
    assert says in str(err) and str(err).startswith(f"{key}: ")


def test_resolved_scenario_round_trips_through_yaml(plain: dict, tmp_path: Path) -> None:
    f = tmp_path / "variant.yaml"
    f.write_text(dump_yaml(apply_overrides(plain, {MF: Decimal("0.25")})))
    back = scenario_plain(load_scenario(f))
    want = scenario_plain(load_scenario(apply_overrides(plain, {MF: Decimal("0.25")})))
    assert back == want
    assert scenario_plain(load_scenario(plain)) == plain


def test_variant_key_covers_the_scenario_and_the_data_it_reads(plain: dict, tmp_path: Path) -> None:
    k = variant_key(plain)
    assert k == variant_key(scenario_plain(load_scenario(default_scenario_path())))
    assert k != variant_key(apply_overrides(plain, {MF: Decimal("0.31")}))
    assert k != variant_key(apply_overrides(plain, {"market.seed": 8}))
    assert variant_key(apply_overrides(plain, {MF: Decimal("0.30")})) == k  # 0.30 is 0.3
    data = tmp_path / "data"
    data.mkdir()
    (data / "binance_ETHUSDT_1h.csv").write_text("timestamp,open\n")
    on_dir = apply_overrides(plain, {"market.source": "data_dir", "market.data_dir": str(data)})
    k1, c1 = variant_key(on_dir), variant_key(on_dir, content=True)
    (data / "binance_ETHUSDT_1h.csv").write_text("timestamp,open,high\n")
    assert variant_key(on_dir) != k1 and variant_key(on_dir, content=True) != c1
