"""``basis run --mode live`` against the signature-checking Binance emulator, replaying a price path through the
real ccxt client (issue 15: "Tests that must exist").

- the same scenario (cash-and-carry on Binance and on Hyperliquid) in live mode ends with the backtest's positions
  (within fees and the slippage model); so does paper mode on the market data read live from the replaying emulator;
- a live ``basis run`` process killed with SIGKILL in the middle of opening its legs, then restarted on its state
  folder: no leg opened twice (the emulator's orders and transfers are counted), nothing lost, the run and its PnL
  record go on;
- a venue that goes down and an emulator restarted mid-run: typed errors recorded, nothing sent twice, the run
  continues and ends with its state saved.

The run's clock is a :class:`ManualClock` that also moves the emulator's replay clock (deterministic); the killed
runner is a real ``basis run`` process on an accelerated clock against a paused replay (constant prices).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from basis_venue_binance.testing.emulator import BinanceEmulator

from basis_core.backtest.runner import run
from basis_core.backtest.scenario import Scenario, load_scenario
from basis_core.data.provider import DataProvider
from basis_core.data.series import Series
from basis_core.data.synthetic import synthetic_market
from basis_core.run import ManualClock, Runner
from basis_core.testing.replay import ReplayClock, load_replay, write_market_csv
from basis_core.timeutil import to_ns

KEY, SECRET = "run-key-0123456789abcdef0123", "run-secret-0123456789abcdef0123456789"
START = "2025-01-01T00:00:00Z"
HOUR = 3_600_000_000_000
SERIES = ["spot:ETH/USDT", "perp:binance:ETH/USDT:USDT", "funding:binance:ETH/USDT:USDT"]
CAPITAL = 10_000
SCENARIO = {
    "name": "live-carry", "period": {"start": START, "end": "2025-01-01T20:00:00Z", "step": "1h"},
    "venues": ["binance"],
    "strategies": [{"name": "cash_and_carry", "required": True,
                    "params": {"legs": [{"spot_venue": "binance", "perp_venue": "binance"}], "capital": CAPITAL,
                               "delta_band": "0.001"},
                    "balances": {"binance:spot:USDT": CAPITAL}}],
}


@pytest.fixture(scope="module")
def path_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days of the synthetic market's ETH spot, Binance and Hyperliquid marks and funding, as a market CSV;
    ``spot:ETH/USDC`` is the Hyperliquid mark (the emulator prices its spot pair off the coin's mark)."""
    syn = synthetic_market(hours=24 * 3, start=START, seed=5)
    names = [*SERIES, "perp:hyperliquid:ETH/USDC:USDC", "funding:hyperliquid:ETH/USDC:USDC"]
    mark = syn.series("perp:hyperliquid:ETH/USDC:USDC")
    both = DataProvider([*(syn.series(n) for n in names),
                         Series("spot:ETH/USDC", list(mark.times), {"close": list(mark.columns["close"])})])
    return write_market_csv(both, tmp_path_factory.mktemp("path") / "path.csv", [*names, "spot:ETH/USDC"])


@pytest.fixture(scope="module")
def market(path_file: Path) -> DataProvider:
    return load_replay(path_file)


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(KEY, SECRET, spot_balances={"USDT": D(CAPITAL)}, futures_balances={},
                         prices={"ETHUSDT": D(1), "BTCUSDT": D(60_000)}) as e:
        yield e


def scenario() -> Scenario:
    return load_scenario(SCENARIO)


def live_config(emu: BinanceEmulator) -> dict[str, Any]:
    return {"retry_delay_seconds": 0, "venue_config": {"binance": {
        "api_key": KEY, "api_secret": SECRET, "base_url": emu.base_url, "enable_rate_limit": False,
        "recv_window_ms": 1000, "clock_margin_ms": 200}}}


def filled_orders(emu: BinanceEmulator) -> list[Any]:
    with emu.lock:
        return [o for o in emu.orders if o.executed_qty > 0]


#: cash-and-carry on both exchanges with its default fee_buffer: the strategy sizes its Hyperliquid buy so the 5 %
#: the venue holds for a market buy fits (the rules' market_buy_hold), in the backtest as live
TWO_VENUES = {**SCENARIO, "name": "live-carry-2", "venues": ["binance", "hyperliquid"], "strategies": [{
    "name": "cash_and_carry", "required": True,
    "params": {"legs": [{"spot_venue": "binance", "perp_venue": "binance"},
                        {"spot_venue": "hyperliquid", "perp_venue": "hyperliquid"}],
               "capital": CAPITAL, "delta_band": "0.001"},
    "balances": {"binance:spot:USDT": CAPITAL, "hyperliquid:spot:USDC": CAPITAL}}]}


def test_live_on_both_exchanges_ends_with_the_backtests_positions_within_fees_and_slippage(
        market: DataProvider, emu: BinanceEmulator, tmp_path: Path) -> None:
    """Both accounts also hold funds that are not the strategy's (margin wallets already funded, a Binance short of
    10 ETH opened at 4500, far in profit): the strategy deploys its own capital as in the backtest and leaves them
    alone."""
    import hashlib

    from basis_venue_hyperliquid.testing import HyperliquidEmulator
    from eth_account import Account

    key = "0x" + hashlib.sha256(b"basis-run-live-hl").hexdigest()
    wallet = Account.from_key(key).address
    steps = 5
    sc = load_scenario(TWO_VENUES)
    period = sc.period.model_copy(update={"end": sc.period.start + (steps - 1) * sc.period.step})
    bt = run(sc.model_copy(update={"period": period}), data_provider=market)
    expected = dict(bt.manager.ledger.balances)  # type: ignore[union-attr]
    other = {"binance:futures:USDT": D(40_000), "hyperliquid:perp-margin:USDC": D(20_000)}  # not the strategy's
    with emu.lock:
        emu.futures_wallet["USDT"] = other["binance:futures:USDT"]
        emu.positions["ETHUSDT"].amount, emu.positions["ETHUSDT"].entry_price = D(-10), D(4500)
    hl = HyperliquidEmulator(wallet, perp_usdc=other["hyperliquid:perp-margin:USDC"],
                             spot_balances={"USDC": D(CAPITAL)})
    hl.start()
    try:
        replay = ReplayClock(START, speed=0)
        emu.attach_replay(market, clock=replay)
        hl.attach_replay(market, clock=replay)
        cfg = live_config(emu)
        cfg["venue_config"]["hyperliquid"] = {"private_key": key, "wallet_address": wallet, "base_url": hl.base_url,
                                              "enable_rate_limit": False}
        result = Runner(sc, mode="live", state_dir=tmp_path, data_provider=market, steps=steps,
                        clock=ManualClock(to_ns(START), on_wait=replay.seek), config=cfg, record=False).run()
    finally:
        hl.stop()
    assert (result.status, result.steps, result.error, result.unhedged) == ("finished", steps, None, [])
    got = result.positions
    other["binance:perp:ETH/USDT:USDT"] = D(-10)
    for key_ in ("binance:spot:ETH", "binance:perp:ETH/USDT:USDT", "hyperliquid:spot:ETH",
                 "hyperliquid:perp:ETH/USDC:USDC"):
        assert got[key_] - other.get(key_, 0) == expected[key_] != 0, key_  # the same decisions on the same prices
    costs = abs(bt.totals["slippage"]) + abs(bt.totals["trading_fees"])  # USD, the backtest's cost model
    for key_ in ("binance:spot:USDT", "binance:futures:USDT", "hyperliquid:spot:USDC", "hyperliquid:perp-margin:USDC"):
        assert abs(got[key_] - other.get(key_, 0) - expected[key_]) <= costs, key_  # the other funds left alone
    assert emu.spot_balance("ETH")[0] == got["binance:spot:ETH"]  # the venue's own book agrees


def test_paper_on_the_emulators_live_data_ends_with_the_backtests_positions(
        market: DataProvider, emu: BinanceEmulator, tmp_path: Path) -> None:
    """Paper mode as users run it: market data read live from the emulator (basis_core.data.live), which replays
    the path an hour per run second; the backtest runs the same strategy hourly on the path file itself."""
    from basis_core.data.live import live_data_provider

    steps = 6
    sc_bt = scenario()
    bt = run(sc_bt.model_copy(update={"period": sc_bt.period.model_copy(
        update={"end": sc_bt.period.start + (steps - 1) * sc_bt.period.step})}), data_provider=market)
    expected = dict(bt.manager.ledger.balances)  # type: ignore[union-attr]
    replay = ReplayClock(START, speed=0)
    emu.attach_replay(market, clock=replay)
    t0 = time.time_ns() // 1000 * 1000

    def path_hour_per_second(ts_ns: int) -> None:
        replay.seek(to_ns(START) + (ts_ns - t0) * 3600)

    sc = load_scenario({**SCENARIO, "period": {"step": "1s"},
                        "venue_config": {"binance": {"base_url": emu.base_url, "enable_rate_limit": False}}})
    # the run's clock runs ahead of the wall's (no age bound); a loaded machine may answer slowly (a long timeout)
    with live_data_provider(sc, mode="paper", max_age=None, timeout_s=60) as data:
        runner = Runner(sc, mode="paper", state_dir=tmp_path, data_provider=data, steps=steps, record=False,
                        clock=ManualClock(t0, on_wait=path_hour_per_second))
        result = runner.run()
    assert (result.status, result.steps, result.error) == ("finished", steps, None), result.events
    assert emu.orders == []  # paper: nothing sent
    got = result.positions
    assert got["binance:spot:ETH"] == expected["binance:spot:ETH"] > 0  # same sizes: the same prices seen
    assert got["binance:perp:ETH/USDT:USDT"] == expected["binance:perp:ETH/USDT:USDT"] < 0

    def costs(history: Any) -> D:
        return sum((abs(v) for r in history if r.success for c, v in r.pnl.items()
                    if c in ("slippage", "trading_fees")), D(0))

    bound = costs(bt.manager.execution_history) + costs(runner.manager.execution_history)  # type: ignore[union-attr]
    for key_ in ("binance:spot:USDT", "binance:futures:USDT"):
        assert abs(got[key_] - expected[key_]) <= bound, key_  # fills within the slippage model (and fees)


def _basis_run(state: Path, scenario_file: Path, path_file: Path, emu: BinanceEmulator, steps: int,
               start: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BASIS_VENUE_CONFIG__BINANCE__API_KEY": KEY,
           "BASIS_VENUE_CONFIG__BINANCE__API_SECRET": SECRET,
           "BASIS_VENUE_CONFIG__BINANCE__BASE_URL": emu.base_url,
           "BASIS_VENUE_CONFIG__BINANCE__ENABLE_RATE_LIMIT": "false",
           "BASIS_VENUE_CONFIG__BINANCE__RECV_WINDOW_MS": "1000",
           "BASIS_VENUE_CONFIG__BINANCE__CLOCK_MARGIN_MS": "200",
           "BASIS_RETRY_DELAY_SECONDS": "0"}
    cmd = [sys.executable, "-c", "from basis_core.cli import main; main()", "run", str(scenario_file),
           "--mode", "live", "--state", str(state), "--data", str(path_file), "--steps", str(steps),
           "--start", start, "--speed", "36000", "--json",
           # staleness is not this test's subject: at 36,000x a few ms of lag on a loaded machine is a minute
           "--max-age", "none"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def flat_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A flat path (ETH at 3000, mark 3001, funding 0.0001 every 8h): the process on its own accelerated clock
    and the emulator see the same prices whenever they look."""
    times = [to_ns(START) + h * HOUR for h in range(24 * 3)]
    flat = DataProvider([
        Series("spot:ETH/USDT", times, {"close": [D(3000)] * len(times)}),
        Series("perp:binance:ETH/USDT:USDT", times, {"close": [D(3001)] * len(times)}),
        Series("funding:binance:ETH/USDT:USDT", times[::8], {"rate": [D("0.0001")] * len(times[::8])})])
    return write_market_csv(flat, tmp_path_factory.mktemp("flat") / "flat.csv", SERIES)


def test_sigkill_mid_step_then_restart_opens_no_leg_twice(flat_file: Path, emu: BinanceEmulator,
                                                          tmp_path: Path) -> None:
    path_file = flat_file
    emu.attach_replay(load_replay(flat_file), clock=ReplayClock(START, speed=0))
    # the perp order (the last leg) is held by the venue: the process is killed while it is in flight; the venue
    # takes it only after the restarted run's re-send (events, not a delay: past its recvWindow, so it is refused)
    from basis_core.testing.http_emulator import Fault

    resent, late_answered = threading.Event(), threading.Event()
    emu.faults.inject("POST /fapi/v1/order", Fault("delay", until=resent, handled=late_answered, delay_s=600))
    emu.faults.inject("POST /fapi/v1/order", Fault("delay", handled=resent))
    scenario_file = tmp_path / "scenario.json"
    scenario_file.write_text(json.dumps(SCENARIO))
    state = tmp_path / "state"
    proc = _basis_run(state, scenario_file, path_file, emu, 6, START)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:  # until the venue holds the perp order
            if len(emu.faults.pending().get("POST /fapi/v1/order", [])) < 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    killed = json.loads((state / "state.json").read_text())
    assert killed["in_flight"] == 0 and killed["steps"] == 0
    assert len(filled_orders(emu)) == 1 and len(emu.transfers) == 1  # the spot leg and the collateral went out

    # restarted (here in the test's process, on the same folder): step 0 is replayed from the instruction log
    result = Runner(scenario(), mode="live", state_dir=state, data_provider=load_replay(flat_file), steps=5,
                    clock=ManualClock(to_ns("2025-01-01T01:00:00Z")), config=live_config(emu)).run()
    assert (result.status, result.steps, result.resumed, result.error) == ("finished", 5, True, None)
    assert late_answered.wait(60)  # the killed process's order, released by the re-send: refused, past recvWindow
    late = [r for r in emu.request_log if r.route == "POST /fapi/v1/order"]
    assert [r.status for r in late] == [200, 400]
    orders = filled_orders(emu)
    assert len(emu.transfers) == 1  # the collateral moved once
    cids = [o.client_order_id for o in orders]
    assert len(cids) == len(set(cids)) == 2  # one spot buy, one perp short: no leg opened twice
    qty = emu.spot_balance("ETH")[0]
    assert qty > 0 and 0 <= qty + emu.position("ETHUSDT").amount < D("0.001")  # hedged (to the size step)
    assert result.positions["binance:spot:ETH"] == qty and result.unhedged == []
    assert any(e["kind"] == "resume" for e in result.events)
    with sqlite3.connect(state / "runstate.sqlite") as db:  # PnL record: both processes' runs, steps continue
        runs = db.execute("SELECT count(*), max(resumed) FROM runs").fetchone()
        n_steps = db.execute("SELECT count(*) FROM steps").fetchone()[0]
    assert runs == (2, 1) and n_steps == 5


def test_a_venue_down_and_an_emulator_restarted_mid_run(market: DataProvider, emu: BinanceEmulator,
                                                        tmp_path: Path) -> None:
    replay = ReplayClock(START, speed=0)
    emu.attach_replay(market, clock=replay)
    port = emu.port
    waits: list[int] = []

    def outage(ts_ns: int) -> None:
        replay.seek(ts_ns)
        waits.append(ts_ns)
        if len(waits) == 3:
            emu.stop()  # the venue goes away before step 2
        if len(waits) == 5:
            emu._port = port  # the emulator process comes back on its address before step 4
            emu.start()

    result = Runner(scenario(), mode="live", state_dir=tmp_path, data_provider=market, steps=8,
                    clock=ManualClock(to_ns(START), on_wait=outage), config=live_config(emu)).run()
    assert (result.status, result.steps, result.error) == ("finished", 8, None)
    down = [e for e in result.events if e["kind"] == "strategy"]
    assert down and all("Error" in e["message"] for e in down)  # typed errors while it was down
    assert any("step 2" in e["message"] for e in down)
    cids = [o.client_order_id for o in filled_orders(emu)]
    assert len(cids) == len(set(cids))  # nothing sent twice
    assert len(emu.transfers) == 1
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["in_flight"] is None and state["steps"] == 8
    qty = emu.spot_balance("ETH")[0]
    assert qty > 0 and 0 <= qty + emu.position("ETHUSDT").amount < D("0.001")  # still hedged after the outage
