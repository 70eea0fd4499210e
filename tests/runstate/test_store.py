"""The run-state store a paper / live runner writes once per step: the PnL split is the backtest report's to the
last digit, every step adds up, positions / risk / open orders / failures are recorded, a restart continues the PnL,
a SIGKILL mid-write leaves a readable store, and no secret is ever written."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal, localcontext
from pathlib import Path
from types import ModuleType

import pytest

from basis_core.backtest.attribution import COMPONENTS
from basis_core.backtest.runner import run
from basis_core.errors import InsufficientFundsError, RunStateError
from basis_core.numeric import LIBRARY_CONTEXT
from basis_core.runstate import STORE_FILE, RunStateStore
from basis_core.timeutil import from_ns

HOURS = 30


def _rows(state_dir: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(f"file:{state_dir / STORE_FILE}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture(scope="module")
def recorded(carry: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, object]:
    """HOURS steps of the carry recorded in a fresh state folder: (folder, step records, the run)."""
    state = tmp_path_factory.mktemp("state")
    c = carry.CarryRun(carry.carry_scenario(HOURS))
    with RunStateStore(state) as store:
        info = c.begin(store, step="1h")
        assert not info.resumed
        records = list(c.steps(store))
        store.stop(records[-1].timestamp, "finished")
    return state, records, c


def test_pnl_split_is_the_backtest_reports_exactly(carry: ModuleType, recorded: tuple) -> None:
    _, records, _ = recorded
    result = run(carry.carry_scenario(HOURS))
    assert len(records) == len(result.equity)
    # same valuation, same attribution code: equal Decimals, not just close floats
    assert records[-1].pnl == result.totals
    assert records[-1].equity == result.end_equity
    assert [float(r.equity) for r in records] == result.equity["equity"].tolist()
    for comp in ("funding", "trading_fees", "slippage"):
        assert result.totals[comp] != 0  # the carry really pays fees and earns funding over the period


def test_every_step_adds_up_to_the_equity_change_since_start(recorded: tuple) -> None:
    state, records, _ = recorded
    (start_equity,), = _rows(state, "SELECT start_equity FROM runs")
    with localcontext(LIBRARY_CONTEXT):
        for rec in records:
            assert set(rec.pnl) == set(COMPONENTS)
            assert rec.pnl_total == rec.equity - Decimal(start_equity)
        stored = _rows(state, "SELECT equity, pnl, step_pnl FROM steps ORDER BY seq")
        prev = Decimal(start_equity)
        for equity, pnl, step_pnl in stored:
            assert sum((Decimal(v) for v in json.loads(pnl).values()), Decimal(0)) == Decimal(equity) - Decimal(
                start_equity)
            assert sum((Decimal(v) for v in json.loads(step_pnl).values()), Decimal(0)) == Decimal(equity) - prev
            prev = Decimal(equity)


def test_positions_are_valued_in_usd_and_add_up_to_equity(carry: ModuleType, recorded: tuple) -> None:
    _, records, _ = recorded
    last = records[-1]
    assert carry.equity_total(last) == last.equity
    spot, perp = last.positions["binance:spot:ETH"], last.positions["binance:perp:ETH/USDT:USDT"]
    assert spot[0] > 0 > perp[0] and abs(spot[0] + perp[0]) < spot[0] / 100  # long spot, short perp: hedged
    assert spot[1] > 0 and spot[2] == spot[1]  # spot: value = exposure = amount x price
    assert perp[2] == pytest.approx(-spot[2], rel=Decimal("0.01"))  # the short's exposure hedges the spot
    assert abs(perp[1]) < abs(perp[2]) / 10  # a perp's value is its unrealised PnL, not its notional


def test_risk_records_the_margin_ratio_as_the_backtest_samples_it(recorded: tuple) -> None:
    _, records, _ = recorded
    ratio = records[-1].risk["binance:margin_ratio:USDT"]
    assert 0 < ratio < 1


def test_open_orders_and_failures_are_recorded(carry: ModuleType, tmp_path: Path) -> None:
    c = carry.CarryRun(carry.carry_scenario(4))
    placed: dict[str, object] = {}

    def act(manager: object, ts: object) -> None:
        if placed:
            return
        # a resting bid far below the market, and an order the account cannot pay for
        d = manager.execute(ts, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy",
                                 "amount": "0.1", "order_type": "limit", "price": "100", "client_id": "bid-1"})
        placed["id"] = d.order_id
        with pytest.raises(InsufficientFundsError):
            manager.execute(ts, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT",
                                 "side": "buy", "amount": "1000000"})

    with RunStateStore(tmp_path) as store:
        c.begin(store)
        first, *rest = list(c.steps(store, before_record=act))
    assert [o["order_id"] for o in first.open_orders] == [placed["id"]]
    order = first.open_orders[0]
    assert order["venue"] == "binance" and order["client_id"] == "bid-1" and order["side"] == "buy"
    assert Decimal(order["price"]) == 100 and Decimal(order["amount"]) == Decimal("0.1")
    assert [f["operation"] for f in first.failures] == ["spot_trade"]
    assert "InsufficientFundsError" in first.failures[0]["error"]
    assert all(r.failures == [] for r in rest)  # each failure is recorded once
    events = _rows(tmp_path, "SELECT kind, venue, operation, message FROM events")
    assert events == [("failure", "binance", "spot_trade", first.failures[0]["error"])]


def test_a_restart_continues_the_pnl_where_the_store_left_it(carry: ModuleType, recorded: tuple,
                                                             tmp_path: Path) -> None:
    _, whole, _ = recorded
    c = carry.CarryRun(carry.carry_scenario(HOURS))
    split = 12
    with RunStateStore(tmp_path) as store:  # the first process: 12 steps, then it dies (no stop)
        c.begin(store)
        list(c.steps(store, c.times[:split]))
    with RunStateStore(tmp_path) as store:  # the restarted process resumes on the same folder
        info = store.start(c.manager, whole[split - 1].timestamp)
        assert info.resumed and info.run == 2
        assert info.start_equity == whole[0].equity - whole[0].pnl_total
        rest = list(c.steps(store, c.times[split:]))
    assert rest[-1].pnl == whole[-1].pnl  # same split, to the last digit, as the uninterrupted run
    assert _rows(tmp_path, "SELECT count(*), count(DISTINCT run) FROM steps") == [(HOURS, 2)]


def test_a_step_before_start_is_a_typed_error(carry: ModuleType, tmp_path: Path) -> None:
    c = carry.CarryRun(carry.carry_scenario(2))
    with RunStateStore(tmp_path) as store, pytest.raises(RunStateError, match="start"):
        store.record_step(c.manager, c.times[0])


def test_a_folder_holding_another_sqlite_file_is_refused(tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / STORE_FILE)
    other.execute("CREATE TABLE t (x)")
    other.commit()
    other.close()
    with pytest.raises(RunStateError, match="not a run-state store"):
        RunStateStore(tmp_path)


def test_sigkill_mid_run_leaves_a_readable_store_that_resumes(carry: ModuleType, tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, str(Path(carry.__file__)), str(tmp_path), "2000"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        for line in child.stdout:  # wait for steps to be committed, then kill it while it keeps writing
            if int(line) >= 8:
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    rows = _rows(tmp_path, "SELECT seq, equity, pnl, state FROM steps ORDER BY seq")
    assert len(rows) >= 8
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))  # no hole, no half-written row
    for _, equity, pnl, state in rows:
        Decimal(equity), json.loads(pnl), json.loads(state)
    assert _rows(tmp_path, "PRAGMA integrity_check") == [("ok",)]
    c = carry.CarryRun(carry.carry_scenario(2000))
    with RunStateStore(tmp_path) as store:
        assert store.start(c.manager, from_ns(c.times[len(rows)])).resumed


def test_secrets_never_reach_the_store(carry: ModuleType, tmp_path: Path) -> None:
    secret = "sk-live-9f8e7d6c5b4a39281706"
    c = carry.CarryRun(carry.carry_scenario(3), config={
        "venue_config": {"binance": {"api_key": "key-abcdef123456", "api_secret": secret}}})
    with RunStateStore(tmp_path) as store:
        c.begin(store, note=f"started with {secret}", venue_config=c.manager.settings.venue_config)
        list(c.steps(store))
        store.stop(reason=f"finished ({secret})")
    for f in tmp_path.iterdir():
        data = f.read_bytes()
        assert secret.encode() not in data and b"key-abcdef123456" not in data, f.name
    (meta,), = _rows(tmp_path, "SELECT meta FROM runs")
    assert "**********" in meta


def test_every_built_in_strategy_at_once_matches_the_backtest_and_resumes_exactly(carry: ModuleType,
                                                                                  tmp_path: Path) -> None:
    """Carry on Binance, staked basis (Lido, Aave) and a leveraged staking loop (Aave, Uniswap) hedged on
    Hyperliquid: staking yield of wstETH, interest, funding on two venues, a health factor and two margin ratios;
    recorded across a restart."""
    hours, split = 30, 11
    sc = carry.default_scenario(hours)
    result = run(sc)
    c = carry.CarryRun(sc)
    with RunStateStore(tmp_path) as store:
        c.begin(store)
        first = list(c.steps(store, c.times[:split]))
    with RunStateStore(tmp_path) as store:
        assert store.start(c.manager, first[-1].timestamp).resumed
        rest = list(c.steps(store, c.times[split:]))
    last = rest[-1]
    assert last.pnl == result.totals and last.equity == result.end_equity
    for comp in ("staking_yield", "funding", "lending_interest", "borrow_interest", "trading_fees", "gas"):
        assert last.pnl[comp] != 0, comp
    assert {"aave:health_factor", "binance:margin_ratio:USDT", "hyperliquid:margin_ratio:USDC"} <= set(last.risk)
    assert 1 < last.risk["aave:health_factor"] < 2
    venues = {k.split(":", 1)[0] for k in last.positions}
    assert {"aave", "binance", "ethereum", "hyperliquid"} <= venues
    assert carry.equity_total(last) == last.equity


def test_a_live_step_asks_every_venue_at_once(tmp_path: Path) -> None:
    """Live balances are venue calls: a step's reads go out together (each venue here answers only while the
    other is being asked too, so reads one after another would break the barrier)."""
    import threading

    from basis_core import CEXExecutionInterface, hookimpl
    from basis_core.data.synthetic import synthetic_market
    from basis_core.manager import ExecutionInterfaceManager

    both = threading.Barrier(2, timeout=60)
    asked: list[str] = []

    class Remote(CEXExecutionInterface):
        name = "remote_a"
        description = "a live venue whose reads take a round trip"

        @hookimpl
        def get_balances(self, timestamp: object, instruction: object) -> dict[str, Decimal]:
            asked.append(self.name)
            both.wait()
            return {f"{self.name}:spot:USDT": Decimal(1000)}

    class RemoteB(Remote):
        name = "remote_b"

    market = synthetic_market(hours=48)
    m = ExecutionInterfaceManager({"execution_mode": "live"}, data_provider=market, execution_mode="live",
                                  plugins=[Remote, RemoteB], autoload=False)
    t0, t1 = from_ns(market.start_ns), from_ns(market.start_ns + 3_600_000_000_000)
    with RunStateStore(tmp_path) as store:
        assert store.start(m, t0).start_equity == 2000
        asked.clear()
        rec = store.record_step(m, t1)
    assert sorted(asked) == ["remote_a", "remote_b"]  # each asked once per step, the answer shared
    assert rec.equity == 2000 and rec.positions["remote_b:spot:USDT"] == (1000, 1000, 1000)


def test_a_live_venue_down_for_a_step_keeps_its_last_balances_and_says_so(tmp_path: Path) -> None:
    from basis_core import CEXExecutionInterface, hookimpl
    from basis_core.data.synthetic import synthetic_market
    from basis_core.errors import LiveExecutionError
    from basis_core.manager import ExecutionInterfaceManager

    down: list[bool] = [False]

    class Flaky(CEXExecutionInterface):
        name = "flaky"

        @hookimpl
        def get_balances(self, timestamp: object, instruction: object) -> dict[str, Decimal]:
            if down[0]:
                raise LiveExecutionError("flaky: 503 Service Unavailable")
            return {"flaky:spot:USDT": Decimal(700)}

    market = synthetic_market(hours=48)
    m = ExecutionInterfaceManager({"execution_mode": "live"}, data_provider=market, execution_mode="live",
                                  plugins=[Flaky], autoload=False)
    hour = 3_600_000_000_000
    with RunStateStore(tmp_path) as store:
        store.start(m, from_ns(market.start_ns))
        up = store.record_step(m, from_ns(market.start_ns + hour))
        down[0] = True
        out = store.record_step(m, from_ns(market.start_ns + 2 * hour))
        down[0] = False
        back = store.record_step(m, from_ns(market.start_ns + 3 * hour))
    assert up.equity == out.equity == back.equity == 700  # no fake loss while the venue is down
    assert out.positions == up.positions and out.pnl_total == 0
    assert out.errors == {"flaky": "balances not read (the last step's are kept): "
                                   "LiveExecutionError: flaky: 503 Service Unavailable"}
    assert up.errors == back.errors == {}
