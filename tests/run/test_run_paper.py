"""``basis run --mode paper`` (issue 15 items 2 and 3): the backtest's strategies and simulators on a clock that
steps in real time, with a state folder that survives stops, crashes and clock jumps, and a pre-flight that
refuses to start a strategy whose legs are not all ready.

Expected values come from the backtest runner on the same market (one code path: the same positions, exactly),
or from the market data itself; the run's clock is a :class:`ManualClock` (deterministic, nothing sleeps).
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from basis_core.backtest.runner import make_manager, run
from basis_core.backtest.scenario import Scenario, load_scenario
from basis_core.backtest.strategies import CashAndCarry
from basis_core.data.provider import DataProvider
from basis_core.data.series import Series
from basis_core.data.synthetic import synthetic_market
from basis_core.errors import MarketDataError, RunResumeError
from basis_core.run import ManualClock, Runner, next_step
from basis_core.run.state import INSTRUCTIONS_FILE, InstructionLog
from basis_core.timeutil import from_ns, to_ns

START = "2025-01-01T00:00:00Z"
HOUR = 3_600_000_000_000
STEPS = 16


def carry(capital: int = 100_000, **extra: Any) -> Scenario:
    return load_scenario({
        "name": "carry", "period": {"start": START, "end": "2025-01-01T15:00:00Z", "step": "1h"},
        "venues": ["binance"],
        "strategies": [{"name": "cash_and_carry", "required": True,
                        "params": {"legs": [{"spot_venue": "binance", "perp_venue": "binance"}], "capital": capital,
                                   "margin_fraction": "0.3", "delta_band": "0.001"},
                        "balances": {"binance:spot:USDT": capital}}],
        **extra})


@pytest.fixture(scope="module")
def market() -> DataProvider:
    return synthetic_market(hours=24 * 3, start=START, seed=11)


@pytest.fixture(scope="module")
def backtest_positions(market: DataProvider) -> dict[str, D]:
    """The backtest's book after the same 30 hourly steps (exact Decimals from its ledger)."""
    result = run(carry(), data_provider=market)
    assert result.manager is not None and len(result.equity) == STEPS
    return dict(result.manager.ledger.balances)


def paper(market: DataProvider, state: Path, steps: int | None, clock: ManualClock | None = None,
          **kw: Any) -> Runner:
    return Runner(kw.pop("scenario", carry()), mode="paper", state_dir=state, data_provider=market,
                  clock=clock or ManualClock(to_ns(START)), steps=steps, **kw)


def opened(state: Path) -> list[dict[str, Any]]:
    """Instructions the run sent and that were done (the ``done`` row with the instruction of its ``sending`` row)."""
    sent: dict[str, Any] = {}
    out = []
    for r in InstructionLog.read(state / INSTRUCTIONS_FILE):
        if r["phase"] == "sending":
            sent[r["client_id"]] = r["instruction"]
        elif r["phase"] == "done":
            out.append({**r, "instruction": sent[r["client_id"]]})
    return out


def test_paper_ends_with_the_backtests_positions(market: DataProvider, backtest_positions: dict[str, D],
                                                 tmp_path: Path) -> None:
    result = paper(market, tmp_path, STEPS).run()
    assert (result.status, result.steps, result.error) == ("finished", STEPS, None)
    assert result.positions == backtest_positions
    assert backtest_positions["binance:perp:ETH/USDT:USDT"] < 0 < backtest_positions["binance:spot:ETH"]


def test_a_stopped_run_resumes_without_reopening_legs(market: DataProvider, backtest_positions: dict[str, D],
                                                      tmp_path: Path) -> None:
    first = paper(market, tmp_path, 7).run()
    assert (first.status, first.steps, first.resumed) == ("finished", 7, False)
    starts = [r for r in opened(tmp_path) if r["instruction"]["operation"] == "transfer"]
    assert len(starts) == 1  # the collateral moved once, at the start
    # a new process: the clock stands wherever the wall clock is; the next step is due 1h after the last
    second = paper(market, tmp_path, STEPS - 7, clock=ManualClock(to_ns(START) + 7 * HOUR)).run()
    assert (second.status, second.steps, second.resumed) == ("finished", STEPS, True)
    assert second.positions == backtest_positions  # same book as one uninterrupted run: PnL continued
    assert len([r for r in opened(tmp_path) if r["instruction"]["operation"] == "transfer"]) == 1
    buys = [r for r in opened(tmp_path) if r["instruction"].get("side") == "buy"
            and r["instruction"]["operation"] == "spot_trade"]
    assert buys[0]["step"] == 0  # the spot leg was opened at step 0 only (later buys are rebalances, if any)


def test_a_crash_mid_step_is_redone_from_the_ledger_of_the_step_before(
        market: DataProvider, backtest_positions: dict[str, D], tmp_path: Path) -> None:
    class Crash(BaseException):
        pass

    sc = carry()
    manager = make_manager(sc, market)
    real = manager.execute
    calls = {"n": 0}

    def crash_on_the_second(ts: Any, instruction: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # step 0 moved the collateral; the process dies before the spot buy
            raise Crash
        return real(ts, instruction)

    manager.execute = crash_on_the_second  # type: ignore[method-assign]
    with pytest.raises(Crash):
        paper(market, tmp_path, STEPS, scenario=sc, manager=manager).run()
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["in_flight"] == 0 and saved["steps"] == 0
    result = paper(market, tmp_path, STEPS).run()
    assert result.steps == STEPS
    assert result.positions == backtest_positions  # the half-done step was redone from scratch, once


def test_the_clock_jumping_forward_skips_whole_steps_and_says_so(market: DataProvider, tmp_path: Path) -> None:
    seen: list[int] = []

    def laptop_sleeps_after_step_3(ts_ns: int) -> None:
        seen.append(ts_ns)
        if len(seen) == 4:
            clock.jump(5 * HOUR + HOUR // 2)

    clock = ManualClock(to_ns(START), on_wait=laptop_sleeps_after_step_3)
    result = paper(market, tmp_path, 8, clock=clock).run()
    assert result.status == "finished" and result.skipped_steps == 5
    steps = sorted({r["step"] for r in InstructionLog.read(tmp_path / INSTRUCTIONS_FILE)})
    assert steps == sorted(set(steps))  # each step sent its instructions once
    jump = [e for e in result.events if e["kind"] == "clock_jump"]
    assert len(jump) == 1 and "5 step(s) skipped" in jump[0]["message"]
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["last_step_ns"] == to_ns(START) + (8 - 1 + 5) * HOUR  # back on the step grid after the gap


def test_catch_up_runs_a_few_missed_steps_back_to_back() -> None:
    assert next_step(10, 9, 5) .at_ns == 10
    assert next_step(10, 14, 5).at_ns == 10  # late, but less than a step
    assert next_step(10, 27, 5) == next_step(10, 27, 5, "skip") and next_step(10, 27, 5).at_ns == 25
    assert next_step(10, 27, 5).skipped == 3
    assert next_step(10, 27, 5, "catch_up", max_catch_up=3).at_ns == 10
    assert next_step(10, 27, 5, "catch_up", max_catch_up=2).skipped == 3


def test_stale_market_data_skips_steps_and_sends_nothing_on_it(tmp_path: Path) -> None:
    full = synthetic_market(hours=24 * 3, start=START, seed=11)
    cut = to_ns(START) + 6 * HOUR  # the feed stops after six hours; values older than 2h are stale
    series = []
    for name in ("spot:ETH/USDT", "perp:binance:ETH/USDT:USDT", "funding:binance:ETH/USDT:USDT"):
        s = full.series(name)
        keep = [i for i, t in enumerate(s.times) if t <= cut]
        series.append(Series(name, [s.times[i] for i in keep], {c: [v[i] for i in keep] for c, v in s.columns.items()}))
    stale = DataProvider(series, max_staleness="2h")
    result = paper(stale, tmp_path, 12).run()
    assert result.status == "finished" and result.steps == 12
    sent_steps = {r["step"] for r in opened(tmp_path)}
    assert sent_steps and max(sent_steps) <= 8  # nothing traded once the data was more than 2h old
    skipped = [e for e in result.events if e["kind"] == "market_data"]
    assert skipped and all("StaleMarketDataError" in e["message"] for e in skipped)
    assert json.loads((tmp_path / "state.json").read_text())["in_flight"] is None


def stopping_file(tmp_path: Path, hours: int) -> Path:
    """A market CSV (``basis run --data FILE``) of the synthetic path's first ``hours``: hourly prices and marks,
    8-hourly funding; then nothing."""
    from basis_core.testing.replay import write_market_csv

    full = synthetic_market(hours=24 * 3, start=START, seed=11)
    names = ("spot:ETH/USDT", "perp:binance:ETH/USDT:USDT", "funding:binance:ETH/USDT:USDT")
    cut = DataProvider([full.history(n, since=START, until=to_ns(START) + hours * HOUR) for n in names])
    return write_market_csv(cut, tmp_path / "stops.csv", list(names))


def test_a_replayed_file_goes_stale_once_its_rows_stop_as_live_data_does(tmp_path: Path) -> None:
    from basis_core.errors import StaleDataError
    from basis_core.testing.replay import load_replay

    data = load_replay(stopping_file(tmp_path, 10), max_age="60s")
    snap = data.get_data(to_ns(START) + 15 * HOUR)  # funding settled at 08:00 holds until 16:00 (+60 s) ...
    assert snap.get("funding:binance:ETH/USDT:USDT", "rate") == data.series("funding:binance:ETH/USDT:USDT").columns[
        "rate"][-1]
    with pytest.raises(StaleDataError) as err:  # ... while the hourly price that stopped at 10:00 is stale at 11:01
        snap.get("spot:ETH/USDT")
    assert (err.value.key, err.value.age_seconds) == ("spot:ETH/USDT", 5 * 3600)
    assert data.get_data(to_ns(START) + 11 * HOUR + 60 * 10**9).get("spot:ETH/USDT") > 0  # 60 s: still fresh

    result = paper(data, tmp_path / "run", 16).run()  # steps at 00:00 ... 15:00
    assert (result.status, result.steps, result.error) == ("finished", 16, None)
    assert {r["step"] for r in opened(tmp_path / "run")} <= set(range(12))  # nothing sent once stale (from 12:00)
    skipped = [e["message"] for e in result.events if e["kind"] == "market_data"]
    assert len(skipped) == 4 and all("StaleMarketDataError" in m for m in skipped)  # 12:00 ... 15:00, as live
    assert "step 12 at 2025-01-01T12:00:00+00:00 skipped" in skipped[0]
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["in_flight"] is None and len(state["last_failures"]) == 2  # the spot price and the perp mark


def test_basis_run_data_file_refuses_to_start_on_a_stale_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from basis_core.cli import _register, app

    if not any(c.name == "run" for c in app.registered_commands):
        _register()
    (tmp_path / "sc.json").write_text(json.dumps(carry().model_dump(mode="json", exclude={"source_path"})))
    args = ["run", str(tmp_path / "sc.json"), "--mode", "paper", "--data", str(stopping_file(tmp_path, 4)),
            "--start", "2025-01-01T06:00:00Z", "--steps", "1"]
    late = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(app, [*args, "--state", str(tmp_path / "a")])
    assert late.exit_code == 1, late.output  # the prices stopped at 04:00: at 06:00 they are stale, as live
    assert "pre-flight failed" in late.output and "StaleMarketDataError" in late.output
    assert not (tmp_path / "a" / "instructions.jsonl").read_text()  # nothing was sent
    unbounded = CliRunner().invoke(app, [*args, "--state", str(tmp_path / "b"), "--max-age", "3h"])
    assert unbounded.exit_code == 0, unbounded.output  # a bound wide enough: the run starts


def test_preflight_reports_every_missing_piece_and_sends_nothing(market: DataProvider, tmp_path: Path) -> None:
    sc = load_scenario({
        "name": "short", "period": {"start": START, "step": "1h"}, "venues": ["binance"],
        "strategies": [{"name": "cash_and_carry", "params": {
            "legs": [{"spot_venue": "binance", "perp_venue": "binance"},
                     {"spot_venue": "binance", "perp_venue": "binance", "spot_symbol": "SOL/USDT",
                      "perp_symbol": "SOL/USDT:USDT"}], "capital": 100000},
            "balances": {"binance:spot:USDT": 120000}}]})
    runner = paper(market, tmp_path, 3, scenario=sc)
    result = runner.run()
    assert result.status == "failed"
    assert "pre-flight failed" in (result.error or "")
    joined = "\n".join(result.problems)
    assert "binance balance: binance:spot:USDT is 120000, 200000 needed" in joined  # both legs' cash, summed
    assert "market_data: spot:SOL/USDT: MarketDataError" in joined  # no SOL market data
    assert "market_data: perp:binance:SOL/USDT:USDT: MarketDataError" in joined
    assert "instrument: SOL/USDT is not one of its instruments" in joined  # nor a SOL market on the venue
    assert "instrument: SOL/USDT:USDT is not one of its instruments" in joined
    assert len(result.problems) == 5
    assert opened(tmp_path) == [] and runner.manager.ledger.balances == {"binance:spot:USDT": D(120000)}


def test_a_strategy_without_market_data_raises_before_sending_anything() -> None:
    m = make_manager(carry(), synthetic_market(hours=48, start=START))
    strat = CashAndCarry({"legs": [{"spot_venue": "binance", "perp_venue": "binance"}], "capital": 1000})
    assert strat.prepare(m) is None
    m.ledger.set_balance("binance:spot:USDT", D(1000))
    m.data_provider = None  # a live manager built without market data, as docs/live.md once showed
    with pytest.raises(MarketDataError, match="no data_provider"):
        strat.start(m, START)
    assert len(m.execution_history) == 0 and m.ledger.balances == {"binance:spot:USDT": D(1000)}


def test_a_folder_of_another_scenario_is_refused(market: DataProvider, tmp_path: Path) -> None:
    paper(market, tmp_path, 1).run()
    with pytest.raises(RunResumeError, match="another scenario"):
        paper(market, tmp_path, 1, scenario=carry(capital=5000)).run()


@pytest.mark.parametrize("name", ["cash_and_carry", "staked_basis", "leveraged_staking_loop"])
def test_builtin_strategies_save_and_restore_their_state_as_json(name: str) -> None:
    from basis_core.backtest.runner import _strategies
    from basis_core.backtest.scenario import bundled_scenarios

    sc = load_scenario(bundled_scenarios()["default"])
    spec = next(s for s in sc.strategies if s.name == name)
    sc = sc.model_copy(update={"strategies": [spec]})
    m = make_manager(sc, synthetic_market(hours=24 * 3, start=START))
    (strat,), _ = _strategies(sc, m, [])
    for h in range(4):
        ts = from_ns(to_ns(START) + h * HOUR)
        m.advance_to(ts)
        if h == 0:
            strat.start(m, ts)
        strat.step(m, ts)
    saved = json.loads(json.dumps(strat.state_dict()))  # plain JSON
    (fresh,), _ = _strategies(sc, make_manager(sc, synthetic_market(hours=24 * 3, start=START)), [])
    assert fresh.state_dict() != saved
    fresh.load_state_dict(saved)
    assert fresh.state_dict() == saved
    assert any(v not in (0, None, [], {}) for v in saved.values())


def test_a_later_leg_failing_at_run_time_runs_the_declared_unwind(market: DataProvider, tmp_path: Path) -> None:
    # the collateral posted (0.01 % of the capital) cannot carry the short: the perp leg fails after the spot buy
    sc = carry()
    params = {**sc.strategies[0].params, "margin_fraction": "0.0001"}
    sc = sc.model_copy(update={"strategies": [sc.strategies[0].model_copy(update={"params": params})]})
    runner = paper(market, tmp_path, 3, scenario=sc)
    result = runner.run()
    assert result.status == "finished" and result.unhedged == []
    ops = [(r["instruction"]["operation"], r["instruction"].get("side")) for r in opened(tmp_path)]
    assert ops[:3] == [("transfer", None), ("spot_trade", "buy"), ("spot_trade", "sell")]  # bought, then unwound
    assert result.positions.get("binance:spot:ETH", D(0)) < D("0.001")  # (what the size step left)
    assert "binance:perp:ETH/USDT:USDT" not in result.positions
    strat_state = json.loads((tmp_path / "state.json").read_text())["strategies"]["cash_and_carry"]
    assert strat_state["legs"][0]["$obj"]["disabled"] is True
