"""The eigenlayer venue's backtest: StrategyBase share math, delegation, the withdrawal delay in blocks (typed
refusal, nothing changes), rebasing strategies, rewards from its own data contribution, ``basis backtest --data``.

Independent results: closed forms (a fresh strategy is 1:1; a 10 % rebase of the strategy's stETH pays 10 % more
tokens per share up to the virtual offset, computed here with Fractions).
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_eigenlayer.venue import EigenLayerVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider, synthetic_market
from basis_core.data.contrib import collect_files, data_plugin_manager
from basis_core.data.series import Series
from basis_core.errors import ConfigError, InstructionError, InsufficientFundsError
from basis_core.testing.chain import basis_cli

D = Decimal
T0 = pd.Timestamp("2025-01-01T00:00:00Z")
E18 = 10**18


basis = basis_cli  # ``basis ARGS`` in this process


def market(rates: list[tuple[pd.Timestamp, str]] | None = None, apr: str | None = None) -> DataProvider:
    series = [Series("oracle:ETH/USD", [int(T0.value)], {"price": [D(3000)]})]
    if rates:
        series.append(Series("lst:wstETH", [int(t.value) for t, _ in rates], {"rate": [D(r) for _, r in rates]}))
    if apr is not None:
        series.append(Series("eigenlayer:rewards:stETH", [int(T0.value)], {"apr": [D(apr)]}))
    return DataProvider(series)


def manager(provider: DataProvider, balances: dict[str, str], **opts: Any) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"initial_balances": balances, "autoload": False,
                                      "venue_config": {"eigenlayer": opts}}, provider, "backtest",
                                     plugins=[EigenLayerVenue])


def ex(m: ExecutionInterfaceManager, ts: Any, **ins: Any) -> Any:
    return m.execute(ts, {"venue": "eigenlayer", **ins})


def test_deposit_delegates_and_a_rebase_raises_the_share_value() -> None:
    t1 = T0 + pd.Timedelta(hours=1)
    m = manager(market([(T0, "1.2"), (t1, "1.32")]), {"ethereum:wallet:stETH": "30"}, operator="p2p")
    d = ex(m, T0, operation="stake", asset="stETH", amount="10")
    assert d.positions == {"ethereum:wallet:stETH": D(-10), "eigenlayer:position:stETH": D(10)}  # 1:1 when fresh
    assert d.details["delegated_to"] == "p2p"
    assert "delegated_to" not in ex(m, T0, operation="stake", asset="stETH", amount="5").details
    m.advance_to(t1)  # the strategy's stETH rebases by 10 %
    bal = m.get_balances(t1, "eigenlayer")
    # (balance + 1e3) x shares / (total + 1e3): 16.5e18 + 1e3 over 15e18 + 1e3
    want = Fraction(165 * E18 // 10 + 1000) * 15 * E18 // (15 * E18 + 1000)
    assert bal["eigenlayer:metric:underlying:stETH"] == D(int(want)).scaleb(-18)
    assert bal["eigenlayer:metric:delegated"] == 1
    # a deposit now buys fewer shares: amount x (total + 1e3) // (balance + 1e3)
    d = ex(m, t1, operation="stake", asset="stETH", amount="11")
    assert d.positions["eigenlayer:position:stETH"] == D(11 * E18 * (15 * E18 + 1000) // (165 * E18 // 10 + 1000)
                                                         ).scaleb(-18)


def test_the_queue_holds_for_the_delay_in_blocks_then_pays_the_shares_value() -> None:
    m = manager(market(), {"ethereum:wallet:stETH": "10"}, withdrawal_delay_blocks=100, block_time=12)
    ex(m, T0, operation="stake", asset="stETH", amount="10")
    d = ex(m, T0, operation="unstake", action="request", asset="stETH", amount="4")
    assert d.status == "requested" and d.details["request_id"] == "0"
    assert d.positions == {"eigenlayer:position:stETH": D(-4), "eigenlayer:withdrawal:0": D(4)}
    ready = T0 + pd.Timedelta(seconds=101 * 12)  # more than 100 blocks
    assert d.details["claimable_at"] == ready.isoformat()
    bal = m.get_balances(T0, "eigenlayer")
    assert bal["eigenlayer:withdrawal:0"] == 4 and bal["eigenlayer:metric:claimable:0"] == 0
    assert bal["eigenlayer:metric:claimable_at:0"] == D(ready.value) / 10**9
    early = ready - pd.Timedelta(seconds=1)
    m.advance_to(early)
    before = m.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(InstructionError) as info:
        ex(m, early, operation="unstake", action="claim", request_id="0")
    assert info.value.field == "request_id" and "WithdrawalDelayNotElapsed" in str(info.value)
    assert m.ledger.balances == before  # type: ignore[union-attr]
    m.advance_to(ready)
    d = ex(m, ready, operation="unstake", action="claim", request_id="0")
    assert d.status == "claimed"
    assert d.positions == {"eigenlayer:withdrawal:0": D(-4), "ethereum:wallet:stETH": D(4)}
    with pytest.raises(InstructionError):
        ex(m, ready, operation="unstake", action="claim", request_id="0")


def test_bad_input_and_settings_are_refused() -> None:
    m = manager(market(), {"ethereum:wallet:stETH": "1"})
    before = m.ledger.balances  # type: ignore[union-attr]
    for ins, err, field in [({"operation": "stake", "asset": "rETH", "amount": "1"}, InstructionError, "asset"),
                            ({"operation": "stake", "asset": "stETH", "amount": "2"}, InsufficientFundsError, "amount"),
                            ({"operation": "unstake", "action": "request", "asset": "stETH", "amount": "1"},
                             InsufficientFundsError, "amount"),
                            ({"operation": "unstake", "action": "claim", "request_id": "3"}, InstructionError,
                             "request_id")]:
        with pytest.raises(err) as info:
            ex(m, T0, **ins)
        assert info.value.field == field, ins
    assert m.ledger.balances == before  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="withdrawal_delay_blocks"):
        manager(market(), {}, withdrawal_delay_blocks=-1).venue("eigenlayer")


def test_rewards_accrue_from_the_data_at_the_positions_value() -> None:
    t1 = T0 + pd.Timedelta(days=365)
    m = manager(market(apr="0.02"), {"ethereum:wallet:stETH": "10"})
    ex(m, T0, operation="stake", asset="stETH", amount="10")
    effects = m.advance_to(t1)
    [r] = [e for e in effects if e.venue == "eigenlayer"]
    assert r.positions == {"eigenlayer:rewards:ETH": D("0.2")}  # 10 stETH x 2 % over a year, stETH = ETH
    assert r.pnl["staking_yield"] == D(600)


def test_the_plugin_contributes_its_rewards_series() -> None:
    loaders = collect_files(data_plugin_manager()).loaders
    assert [who for who, fl in loaders if fl.match("eigenlayer_stETH_rewards_2025.csv")] == ["eigenlayer"]
    apr = synthetic_market(hours=72).series("eigenlayer:rewards:stETH")
    assert len(apr.times) == 3 and all(D(0) <= v < D("0.1") for v in apr.columns["apr"])


STRATEGY = '''
from basis_core.backtest.strategies import Strategy


class Restake(Strategy):
    """Restake stETH, queue half of the shares after a day, complete the withdrawal when the delay lets it."""

    name = "restake"

    def start(self, manager, ts):
        self.steps, self.rid = 0, None
        manager.execute(ts, {"venue": "eigenlayer", "operation": "stake", "asset": "stETH", "amount": "10"})

    def step(self, manager, ts):
        self.steps += 1
        if self.steps == 24:
            d = manager.execute(ts, {"venue": "eigenlayer", "operation": "unstake", "action": "request",
                                     "asset": "stETH", "amount": "5"})
            self.rid = d.details["request_id"]
        elif self.rid is not None and manager.get_balances(ts, "eigenlayer").get(
                f"eigenlayer:metric:claimable:{self.rid}"):
            manager.execute(ts, {"venue": "eigenlayer", "operation": "unstake", "action": "claim",
                                 "request_id": self.rid})
            self.rid = None
'''


def test_eigenlayer_backtests_through_basis_backtest_with_its_own_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    times = pd.date_range("2025-03-01", periods=96, freq="h", tz="UTC")
    (data / "WETH_USD_oracle_2025-03-01_2025-03-04.csv").write_text(
        "# Source: test\ntimestamp,oracle_price_usd\n"
        + "\n".join(f"{t.strftime('%Y-%m-%d %H:%M:%S+00:00')},{2500 + i}" for i, t in enumerate(times)) + "\n")
    (data / "eigenlayer_stETH_rewards_2025-03.csv").write_text(
        "timestamp,apr\n" + "\n".join(f"{t.isoformat()},0.03" for t in times[::24]) + "\n")
    (tmp_path / "restake.py").write_text(STRATEGY)
    scenario = tmp_path / "restake.yaml"
    scenario.write_text(f"""
name: restake
market: {{source: data_dir, data_dir: {data}}}
period: {{start: 2025-03-01T01:00:00Z, end: 2025-03-03T23:00:00Z, step: 1h}}
venues: [eigenlayer]
venue_config: {{eigenlayer: {{withdrawal_delay_blocks: 3600}}}}
strategies:
  - name: restake.py:Restake
    required: true
    balances:
      ethereum:wallet:stETH: 10
      ethereum:wallet:ETH: 0.5
""")
    out = basis(["backtest", str(scenario), "--data", str(data), "--json",
                                   "--out", str(tmp_path / "report"), "--no-html"])
    assert out.exit_code == 0, out.output[-3000:]
    summary = json.loads(out.stdout)
    assert summary["executions"] == 3 and summary["failed"] == 0, summary
    assert summary["components"]["staking_yield"] > 0  # rewards from the file
    executions = pd.read_parquet(tmp_path / "report" / "executions.parquet")
    assert [s for s in executions["status"] if s != "accrued"] == ["filled", "requested", "claimed"]
