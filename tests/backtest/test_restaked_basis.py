"""The bundled ``restaked_basis`` strategy and scenarios with the real plugins (EtherFi, Aave or Morpho, Binance):
ETH -> weETH -> collateral -> borrow WETH -> restake -> perp hedge, on the synthetic market and on the real files.

Independent results: the book read back from the positions (weETH collateral x the data's lst:weETH rate - WETH
debt) against the short, the scenario's own numbers, and the PnL components summing exactly to the equity change.
"""

from __future__ import annotations

import json
from decimal import Decimal, localcontext
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from basis_core.backtest.runner import run
from basis_core.data.synthetic import synthetic_market
from basis_core.numeric import LIBRARY_CONTEXT
from basis_core.testing.chain import basis_cli

INSTALLED = {ep.name for ep in entry_points(group="basis_core.venues")}
pytestmark = pytest.mark.skipif(not {"binance", "etherfi", "aave"} <= INSTALLED,
                                reason="needs basis-venue-binance, -etherfi and -aave installed")
MARKET = synthetic_market(seed=11, hours=24 * 8 + 1)


def scenario(lending: str, **params: Any) -> dict[str, Any]:
    return {"name": "rb", "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-08T00:00:00Z"},
            "venues": ["binance", "etherfi", lending],
            "strategies": [{"name": "restaked_basis", "required": True,
                            "params": {"eth_amount": 20, "hedge_venue": "binance", "lending_venue": lending,
                                       "rebalance_band": "0.01", **params},
                            "balances": {"ethereum:wallet:ETH": "20.2", "binance:futures:USDT": 80000}}]}


def check_hedged_book(r: Any, coll_key: str, debt_key: str, target_ltv: float) -> None:
    pos = r.positions
    rate = pd.Series([float(MARKET.series("lst:weETH").value("rate", t.value)) for t in pos.index], index=pos.index)
    coll, debt = pos[coll_key], pos[debt_key]
    net = coll * rate - debt
    short = -pos["binance:perp:ETH/USDT:USDT"]
    assert net.iloc[0] == pytest.approx(20, rel=0.01)  # own 20 ETH, less costs
    # target_ltv of the first collateral's ETH value (the own ETH) was borrowed and restaked into more collateral
    assert debt.iloc[0] == pytest.approx(target_ltv * net.iloc[0], rel=2e-3)
    assert coll.iloc[0] * rate.iloc[0] == pytest.approx(net.iloc[0] + debt.iloc[0], rel=1e-9)
    assert ((short - net).abs() <= 0.01 * net + 0.002).all()  # hedged within the band (+ a size step)
    t = r.totals
    assert t["staking_yield"] > 0 and t["borrow_interest"] < 0 and t["funding"] != 0
    with localcontext(LIBRARY_CONTEXT):
        assert sum(r.totals.values(), Decimal(0)) == r.end_equity - r.start_equity
    assert r.summary["failed"] == 0 and not r.summary["notes"]


def test_restaked_basis_on_aave_is_hedged_and_earns_restaking_minus_borrowing() -> None:
    r = run(scenario("aave"), data_provider=MARKET)
    check_hedged_book(r, "aave:supplied:weETH", "aave:debt:WETH", 0.5)


@pytest.mark.skipif("morpho" not in INSTALLED, reason="basis-venue-morpho is not installed")
def test_restaked_basis_on_morpho_posts_the_collateral_in_the_weeth_market() -> None:
    r = run(scenario("morpho"), data_provider=MARKET)
    check_hedged_book(r, "morpho:collateral:weETH", "morpho:debt:WETH", 0.5)


basis = basis_cli  # ``basis ARGS`` in this process


def shared_data() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


@pytest.mark.parametrize("data", [False, pytest.param(True, marks=pytest.mark.realdata)], ids=["synthetic", "real"])
def test_basis_backtest_restaked_basis_runs_the_bundled_scenario(tmp_path: Path, data: bool) -> None:
    """``basis backtest restaked_basis`` (a week of it) on the synthetic market and with ``--data`` on the real
    files: every instruction succeeds, the book is levered and hedged, nothing is unpriced."""
    args = ["backtest", "restaked_basis", "--end", "2024-05-20", "--json", "--no-html", "--out", str(tmp_path)]
    if data:
        d = shared_data()
        if d is None:
            pytest.skip("real market data (shared/data) not found")
        args += ["--data", str(d)]
    out = basis(args)
    assert out.exit_code == 0, out.output[-3000:]
    s = json.loads(out.stdout)
    assert s["failed"] == 0 and s["executions"] >= 6 and not s["unpriced_keys"] and not s["notes"]
    assert s["components"]["staking_yield"] > 0 and s["components"]["borrow_interest"] < 0
    positions = pd.read_parquet(tmp_path / "history.parquet")
    last = positions.iloc[-1]
    assert last["pos:aave:supplied:weETH"] > 100 and last["pos:aave:debt:WETH"] > 40
    assert last["pos:binance:perp:ETH/USDT:USDT"] < 0
