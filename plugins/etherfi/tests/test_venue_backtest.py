"""The etherfi venue's backtest: staking / wrapping at the data's rate, eETH rebases, the withdraw-request queue
(delay, typed refusal, payout), its market-data contribution (files and synthetic), and ``basis backtest --data``.

Independent results: closed forms at rates chosen so the exact answer is known (1.25 ETH per weETH: 10 ETH buys
8 shares exactly), the weETH oracle CSV read with ``csv`` (real data, skipped when absent).
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_etherfi.venue import EtherFiVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider, synthetic_market
from basis_core.data.contrib import collect_files, data_plugin_manager
from basis_core.data.loaders import load_data_files
from basis_core.data.series import Series
from basis_core.errors import InstructionError
from basis_core.testing.chain import basis_cli

D = Decimal
T0 = pd.Timestamp("2025-01-01T00:00:00Z")


def shared_data() -> Path | None:
    """``shared/data`` next to the checkout (or a worktree's parent): the real market files, if present."""
    for parent in Path(__file__).resolve().parents:
        d = parent / "shared" / "data"
        if d.is_dir():
            return d
    return None


basis = basis_cli  # ``basis ARGS`` in this process


def market(rates: list[tuple[pd.Timestamp, str]], eth_usd: str = "3000") -> DataProvider:
    return DataProvider([Series("lst:weETH", [int(t.value) for t, _ in rates], {"rate": [D(r) for _, r in rates]}),
                         Series("oracle:ETH/USD", [int(T0.value)], {"price": [D(eth_usd)]})])


def manager(provider: DataProvider, balances: dict[str, str], **etherfi: Any) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"initial_balances": balances, "autoload": False,
                                      "venue_config": {"etherfi": etherfi}}, provider, "backtest",
                                     plugins=[EtherFiVenue])


def ex(m: ExecutionInterfaceManager, ts: Any, **ins: Any) -> Any:
    return m.execute(ts, {"venue": "etherfi", **ins})


def test_stake_wrap_unwrap_at_the_rate_of_the_data() -> None:
    m = manager(market([(T0, "1.25")]), {"ethereum:wallet:ETH": "30", "ethereum:wallet:WETH": "5"})
    d = ex(m, T0, operation="stake", asset="ETH", amount="10", receive="eETH")
    assert d.positions == {"ethereum:wallet:ETH": D(-10), "ethereum:wallet:eETH": D(10)}
    assert d.details["shares"] == 8
    d = ex(m, T0, operation="stake", asset="ETH", amount="10", receive="weETH")
    assert d.positions == {"ethereum:wallet:ETH": D(-10), "ethereum:wallet:weETH": D(8)}
    d = ex(m, T0, operation="stake", asset="WETH", amount="5", receive="weETH")
    assert d.positions == {"ethereum:wallet:WETH": D(-5), "ethereum:wallet:weETH": D(4)}
    d = ex(m, T0, operation="stake", asset="eETH", amount="2.5", receive="weETH")
    assert d.positions == {"ethereum:wallet:eETH": D("-2.5"), "ethereum:wallet:weETH": D(2)}
    d = ex(m, T0, operation="unstake", action="unwrap", asset="weETH", amount="4")
    assert d.positions == {"ethereum:wallet:weETH": D(-4), "ethereum:wallet:eETH": D(5)}
    # a rate that does not divide: shares round down, balances are shares x rate rounded down (to the wei)
    m2 = manager(market([(T0, "1.037")]), {"ethereum:wallet:ETH": "1"})
    d = ex(m2, T0, operation="stake", asset="ETH", amount="1", receive="eETH")
    shares = 10**36 // 1_037_000_000_000_000_000
    assert d.positions["ethereum:wallet:eETH"] == D(shares * 1_037_000_000_000_000_000 // 10**18).scaleb(-18)


def test_eeth_rebases_with_the_rate_and_weeth_does_not() -> None:
    t1 = T0 + pd.Timedelta(hours=1)
    m = manager(market([(T0, "1.25"), (t1, "1.3")]), {"ethereum:wallet:eETH": "10", "ethereum:wallet:weETH": "3"})
    m.advance_to(T0)  # the run's clock starts here
    effects = m.advance_to(t1)
    assert m.ledger.balance("ethereum:wallet:eETH") == D("10.4")  # type: ignore[union-attr]
    assert m.ledger.balance("ethereum:wallet:weETH") == 3  # type: ignore[union-attr]
    [rebase] = [e for e in effects if e.venue == "etherfi"]
    assert rebase.pnl["staking_yield"] == D("0.4") * 3000


def test_the_queue_refuses_an_early_claim_then_pays_the_frozen_rate() -> None:
    """A claim before ``withdrawal_delay`` is an InstructionError naming request_id and changes nothing; the
    pending request is readable (amount, claimable time); once due it pays min(requested, shares x rate then)."""
    t_ready = T0 + pd.Timedelta(days=2)
    # the rate falls before finalization: the request bears the loss (paid: its shares at the lower rate)
    m = manager(market([(T0, "1.25"), (t_ready, "1.2")]), {"ethereum:wallet:eETH": "10",
                                                             "ethereum:wallet:weETH": "4"}, withdrawal_delay="2D")
    d = ex(m, T0, operation="unstake", action="request", asset="eETH", amount="5")
    assert d.status == "requested" and d.details["request_id"] == "1"
    assert d.positions == {"ethereum:wallet:eETH": D(-5), "etherfi:withdrawal:1": D(5)}
    assert d.details["claimable_at"] == t_ready.isoformat()
    d = ex(m, T0, operation="unstake", action="request", asset="weETH", amount="4")
    assert d.positions == {"ethereum:wallet:weETH": D(-4), "etherfi:withdrawal:2": D(5)}
    bal = m.get_balances(T0, "etherfi")
    assert bal["etherfi:withdrawal:1"] == 5 and bal["etherfi:metric:claimable:1"] == 0
    assert bal["etherfi:metric:claimable_at:1"] == D(t_ready.value) / 10**9
    early = t_ready - pd.Timedelta(seconds=1)
    m.advance_to(early)
    before = m.ledger.balances  # type: ignore[union-attr]
    n = len(m.execution_history)
    with pytest.raises(InstructionError) as info:
        ex(m, early, operation="unstake", action="claim", request_id="1")
    assert info.value.field == "request_id" and "not finalized" in str(info.value)
    assert m.ledger.balances == before  # type: ignore[union-attr]
    assert len(m.execution_history) == n + 1 and not m.execution_history[-1].success
    m.advance_to(t_ready)
    assert m.get_balances(t_ready, "etherfi")["etherfi:metric:claimable:1"] == 1
    d = ex(m, t_ready, operation="unstake", action="claim", request_id="1")
    assert d.status == "claimed"
    assert d.positions == {"etherfi:withdrawal:1": D(-5), "ethereum:wallet:ETH": D("4.8")}  # 4 shares x 1.2
    with pytest.raises(InstructionError) as info:
        ex(m, t_ready, operation="unstake", action="claim", request_id="1")
    assert info.value.field == "request_id"


def test_bad_input_is_refused_naming_the_field_and_changes_nothing() -> None:
    m = manager(market([(T0, "1.25")]), {"ethereum:wallet:ETH": "1"})
    before = m.ledger.balances  # type: ignore[union-attr]
    for ins, field in [({"operation": "stake", "asset": "stETH", "amount": "1"}, "asset"),
                       ({"operation": "stake", "asset": "ETH", "amount": "1", "receive": "wstETH"}, "receive"),
                       ({"operation": "stake", "asset": "ETH", "amount": "2"}, "amount"),  # InsufficientFundsError
                       ({"operation": "stake", "asset": "ETH", "amount": "1e-19"}, "amount"),
                       ({"operation": "unstake", "action": "unwrap", "asset": "eETH", "amount": "1"}, "asset"),
                       ({"operation": "unstake", "action": "claim", "request_id": "7"}, "request_id")]:
        with pytest.raises(InstructionError) as info:
            ex(m, T0, **ins)
        assert info.value.field == field, ins
    assert m.ledger.balances == before  # type: ignore[union-attr]


def test_the_plugin_contributes_the_weeth_rate() -> None:
    """lst:weETH comes from etherfi's own contribution (and only from it): the oracle file pattern and the
    synthetic series."""
    loaders = collect_files(data_plugin_manager()).loaders
    readers = [who for who, fl in loaders if fl.match("weETH_ETH_oracle_2024-01-01_2025-09-18.csv") == "lst:weETH"]
    assert readers == ["etherfi"]
    rate = synthetic_market(hours=48).series("lst:weETH")
    assert rate.value("rate", rate.times[-1]) > rate.value("rate", rate.times[0]) > 1


def write_files(d: Path) -> None:
    """Four days of hourly weETH / ETH and ETH / USD oracle rows in the real files' layout (# comment lines)."""
    times = pd.date_range("2025-03-01", periods=96, freq="h", tz="UTC")
    for name, col, start, step in (("weETH_ETH_oracle_2025-03-01_2025-03-04.csv", "oracle_price_eth", 1.06, 1e-6),
                                   ("WETH_USD_oracle_2025-03-01_2025-03-04.csv", "oracle_price_usd", 2500.0, 0.5)):
        rows = [f"{t.strftime('%Y-%m-%d %H:%M:%S+00:00')},{start + i * step:.10f}" for i, t in enumerate(times)]
        (d / name).write_text("# Source: test\n" + f"timestamp,{col}\n" + "\n".join(rows) + "\n")


STRATEGY = '''
from decimal import Decimal
from basis_core.backtest.strategies import Strategy


class StakeAndExit(Strategy):
    """Stake ETH for weETH, request its withdrawal after a day, claim it when the queue lets it."""

    name = "stake_and_exit"

    def start(self, manager, ts):
        self.steps = 0
        self.rid = None
        manager.execute(ts, {"venue": "etherfi", "operation": "stake", "asset": "ETH", "amount": "10",
                             "receive": "weETH"})

    def step(self, manager, ts):
        self.steps += 1
        if self.steps == 24:
            held = manager.get_balances(ts, "etherfi")["ethereum:wallet:weETH"]
            d = manager.execute(ts, {"venue": "etherfi", "operation": "unstake", "action": "request",
                                     "asset": "weETH", "amount": str(held)})
            self.rid = d.details["request_id"]
        elif self.rid is not None and manager.get_balances(ts, "etherfi").get(f"etherfi:metric:claimable:{self.rid}"):
            manager.execute(ts, {"venue": "etherfi", "operation": "unstake", "action": "claim",
                                 "request_id": self.rid})
            self.rid = None
'''


def test_etherfi_backtests_through_basis_backtest_with_its_own_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_files(data)
    (tmp_path / "stake_and_exit.py").write_text(STRATEGY)
    scenario = tmp_path / "etherfi.yaml"
    scenario.write_text(f"""
name: etherfi_exit
market: {{source: data_dir, data_dir: {data}}}
period: {{start: 2025-03-01T01:00:00Z, end: 2025-03-03T23:00:00Z, step: 1h}}
venues: [etherfi]
venue_config: {{etherfi: {{withdrawal_delay: 1D}}}}
strategies:
  - name: stake_and_exit.py:StakeAndExit
    required: true
    balances:
      ethereum:wallet:ETH: 10.5
""")
    out = basis(["backtest", str(scenario), "--data", str(data), "--json",
                                   "--out", str(tmp_path / "report"), "--no-html"])
    assert out.exit_code == 0, out.output[-3000:]
    summary = json.loads(out.stdout)
    assert summary["executions"] == 3 and summary["failed"] == 0, summary
    executions = pd.read_parquet(tmp_path / "report" / "executions.parquet")
    assert [s for s in executions["status"] if s != "accrued"] == ["filled", "requested", "claimed"]


@pytest.mark.realdata
def test_the_real_weeth_oracle_file_is_the_rate_the_venue_stakes_at() -> None:
    """On ../shared/data, lst:weETH (read by etherfi's loader) is the file's oracle_price_eth as of each hour, and
    a stake prices shares at it."""
    d = shared_data()
    if d is None or not list(d.glob("weETH_ETH_oracle_*.csv")):
        pytest.skip("real market data (shared/data) not found")
    path = sorted(d.glob("weETH_ETH_oracle_*.csv"))[0]
    with path.open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    provider = load_data_files([path, *sorted(d.glob("WETH_USD_oracle_*.csv"))])  # read by etherfi's loader
    row = rows[len(rows) // 2]
    ts = pd.Timestamp(row["timestamp"])
    rate = D(row["oracle_price_eth"])
    assert provider.get_data(ts).get("lst:weETH", "rate") == rate
    m = ExecutionInterfaceManager({"initial_balances": {"ethereum:wallet:ETH": "1"}, "autoload": False,
                                   "venue_config": {"etherfi": {"charge_gas": False}}}, provider, "backtest",
                                  plugins=[EtherFiVenue])
    got = ex(m, ts, operation="stake", asset="ETH", amount="1", receive="weETH").positions["ethereum:wallet:weETH"]
    r = int(rate.scaleb(18))
    shares = 10**36 // r
    assert got == D((shares * r // 10**18) * 10**18 // r).scaleb(-18)
