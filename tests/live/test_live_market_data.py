"""Live market data behind the backtest's ``get_data``: the CEX venues' reads against their emulators (real ccxt
over HTTP), shared within a step, fresh each step, stale values refused, a venue down or restarted, and a
backtest-mode manager (paper mode) filling on the live snapshot."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("ccxt")

from basis_core.errors import (
    ConfigError,
    MarketDataError,
    MarketDataUnavailableError,
    StaleDataError,
    StaleMarketDataError,
)
from basis_core.hookspecs import hookimpl
from basis_core.live.market_data import LiveMarketData
from basis_core.manager import ExecutionInterfaceManager
from basis_core.testing.http_emulator import Fault

BinanceEmulator = pytest.importorskip("basis_venue_binance.testing.emulator").BinanceEmulator
HyperliquidEmulator = pytest.importorskip("basis_venue_hyperliquid.testing.emulator").HyperliquidEmulator

WALLET = "0x" + "11" * 20


@pytest.fixture(scope="module")
def binance() -> Iterator[Any]:
    with BinanceEmulator("k", "s", spot_balances={"USDT": Decimal(10_000)},
                         prices={"ETHUSDT": Decimal("3000.25"), "BTCUSDT": Decimal("60000.5")}) as emu:
        yield emu


@pytest.fixture(scope="module")
def hyperliquid() -> Iterator[Any]:
    with HyperliquidEmulator(WALLET, marks={"ETH": "3001.5", "BTC": "100010"}) as emu:
        yield emu


def _config(binance: Any = None, hyperliquid: Any = None, **extra: Any) -> dict[str, Any]:
    vc = {}
    if binance is not None:
        vc["binance"] = {"base_url": binance.base_url, "enable_rate_limit": False}
    if hyperliquid is not None:
        vc["hyperliquid"] = {"base_url": hyperliquid.base_url, "enable_rate_limit": False}
    return {"venue_config": vc, **extra}


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_snapshot_holds_what_the_emulators_serve_under_the_backtest_names(binance: Any, hyperliquid: Any) -> None:
    with LiveMarketData(_config(binance, hyperliquid)) as data:
        snap = data.get_data(_now())
        assert snap.get("spot:binance:ETH/USDT") == Decimal("3000.25")
        assert snap.get("spot:ETH/USDT") == Decimal("3000.25")  # the generic name, as with files
        assert snap.get("perp:binance:BTC/USDT:USDT") == Decimal("60000.5")
        assert snap.get("perp:hyperliquid:ETH/USDC:USDC") == Decimal("3001.5")
        assert snap.get("spot:ETH/USDC") == Decimal("3001.5")  # UETH/USDC trades at the ETH mark
        premium = binance.requests_for("GET", "/fapi/v1/premiumIndex")
        assert premium  # the reads went to the emulator
        nxt = snap.row("next_funding:binance:ETH/USDT:USDT")
        assert nxt["rate"] == Decimal("0.0001")
        assert nxt["time"] % (8 * 3600) == 0  # Binance settles at 00 / 08 / 16 UTC
        assert snap.get("next_funding:hyperliquid:ETH/USDC:USDC", "rate") == Decimal("0.0000125")
        # the upcoming settlement is a row of the funding series, invisible until its time
        f = data.series("funding:binance:ETH/USDT:USDT")
        assert f.last_ns == int(nxt["time"]) * 10**9
        with pytest.raises(MarketDataError):
            snap.get("funding:binance:ETH/USDT:USDT", "rate")
        assert f.columns["rate"][-1] == Decimal("0.0001")


def test_reads_are_shared_within_a_step_and_fresh_for_the_next(binance: Any) -> None:
    with LiveMarketData(_config(binance)) as data:
        t1 = _now()
        data.get_data(t1)
        n = len(binance.requests_for("GET", "/api/v3/ticker/price"))
        for _ in range(3):
            assert data.get_data(t1).get("spot:ETH/USDT") == Decimal("3000.25")
        assert len(binance.requests_for("GET", "/api/v3/ticker/price")) == n  # no new request for the same step
        binance.set_price("ETHUSDT", Decimal("3100"))
        try:
            t2 = t1 + pd.Timedelta(seconds=1)
            assert data.get_data(t2).get("spot:ETH/USDT") == Decimal("3100")  # never cached across steps
            assert len(binance.requests_for("GET", "/api/v3/ticker/price")) == n + 1
            assert data.get_data(t1).get("spot:ETH/USDT") == Decimal("3000.25")  # an earlier step is history
            assert len(binance.requests_for("GET", "/api/v3/ticker/price")) == n + 1
            assert list(data.history("spot:ETH/USDT", until=t2).column("close")) == [Decimal("3000.25"),
                                                                                    Decimal("3100")]
        finally:
            binance.set_price("ETHUSDT", Decimal("3000.25"))


def test_a_value_older_than_max_age_is_refused_naming_its_key_and_age(binance: Any) -> None:
    binance.clock_skew_ms = -120_000  # the venue's answers are dated two minutes ago
    try:
        with LiveMarketData(_config(binance), max_age="60s") as data:
            ts = _now()
            snap = data.get_data(ts)
            with pytest.raises(StaleDataError) as e:
                snap.get("perp:binance:ETH/USDT:USDT")
            assert e.value.key == "perp:binance:ETH/USDT:USDT"
            assert 119 < e.value.age_seconds < 200
            assert "perp:binance:ETH/USDT:USDT" in str(e.value) and "max_age 60 s" in str(e.value)
            assert StaleDataError is StaleMarketDataError
    finally:
        binance.clock_skew_ms = 0
    with LiveMarketData(_config(binance), max_age="60s") as data:
        ts = _now()
        data.get_data(ts)
        series = data.series("spot:binance:ETH/USDT")
        assert series.value("close", ts.value) == Decimal("3000.25")
        # without a new read the value ages: a simulator looking it up later is refused too
        with pytest.raises(StaleMarketDataError, match="older than max_age"):
            series.value("close", ts.value + 61 * 10**9)


def test_a_venue_that_is_down_is_named_within_the_timeout(binance: Any) -> None:
    port = _free_port()  # nothing listens there
    cfg = _config(binance)
    cfg["venue_config"]["hyperliquid"] = {"base_url": f"http://127.0.0.1:{port}", "enable_rate_limit": False}
    with LiveMarketData(cfg, timeout_s=2) as data:
        t0 = time.monotonic()
        with pytest.raises(MarketDataUnavailableError) as e:
            data.get_data(_now())
        assert time.monotonic() - t0 < 10
        assert e.value.venue == "hyperliquid" and "hyperliquid" in str(e.value)
        assert data.venue_status()["binance"]["last_error"] is None
    with LiveMarketData(cfg, timeout_s=2, on_venue_error="skip") as data:
        snap = data.get_data(_now())  # the other venues' values still serve
        assert snap.get("spot:ETH/USDT") == Decimal("3000.25")
        assert data.venue_status()["hyperliquid"]["last_error"]


def test_a_restarted_emulator_is_read_again_at_the_next_step() -> None:
    port = _free_port()
    emu = BinanceEmulator("k", "s", prices={"ETHUSDT": Decimal(3000), "BTCUSDT": Decimal(60000)}, port=port)
    emu.start()
    # a generous timeout: the read after the restart must not time out on a loaded machine (the read while the
    # venue is down fails at once: connection refused)
    data = LiveMarketData(_config(emu), timeout_s=30)
    try:
        t = _now()
        assert data.get_data(t).get("spot:ETH/USDT") == Decimal(3000)
        emu.stop()
        with pytest.raises(MarketDataUnavailableError, match="binance"):
            data.get_data(t + pd.Timedelta(seconds=1))
        emu = BinanceEmulator("k", "s", prices={"ETHUSDT": Decimal(3050), "BTCUSDT": Decimal(60000)}, port=port)
        emu.start()
        assert data.get_data(t + pd.Timedelta(seconds=2)).get("spot:ETH/USDT") == Decimal(3050)
    finally:
        data.close()
        emu.stop()


def test_a_venue_without_live_reads_or_no_venue_at_all_is_a_config_error(binance: Any) -> None:
    with pytest.raises(ConfigError, match="no venue"):
        LiveMarketData({})
    with pytest.raises(ConfigError, match="'nowhere'"):
        LiveMarketData(_config(binance), venues=["binance", "nowhere"])


def test_paper_mode_a_backtest_manager_fills_on_the_live_snapshot(binance: Any, hyperliquid: Any) -> None:
    cfg = _config(binance, hyperliquid, initial_balances={"binance:spot:USDT": "10000",
                                                          "hyperliquid:perp-margin:USDC": "10000"})
    with LiveMarketData(cfg) as data:
        m = ExecutionInterfaceManager(cfg, data_provider=data, execution_mode="backtest")
        ts = _now()
        data.get_data(ts)
        m.advance_to(ts)
        spot = m.execute(ts, {"operation": "spot_trade", "venue": "binance", "symbol": "ETH/USDT", "side": "buy",
                              "amount": "1"})
        perp = m.execute(ts, {"operation": "perp_trade", "venue": "hyperliquid", "symbol": "ETH/USDC:USDC",
                              "side": "sell", "amount": "1"})
        assert spot.status == "filled" and perp.status == "filled"
        assert spot.details["reference_price"] == Decimal("3000.25")  # the emulator's quote
        assert perp.details["reference_price"] == Decimal("3001.5")
        assert spot.fill_price > Decimal("3000.25") and perp.fill_price < Decimal("3001.5")  # slippage, as in backtest
        assert m.get_balances(ts, "hyperliquid")["hyperliquid:perp:ETH/USDC:USDC"] == Decimal(-1)
        assert not binance.requests_for("POST", "/api/v3/order")  # nothing was sent to the venue


def test_concurrent_callers_of_one_step_share_one_read(binance: Any) -> None:
    with LiveMarketData(_config(binance)) as data:
        data.get_data(_now())  # clients and markets ready
        n = len(binance.requests_for("GET", "/fapi/v1/premiumIndex"))
        ts = _now()
        barrier = threading.Barrier(4)
        got: list[Decimal] = []

        def ask() -> None:
            barrier.wait(timeout=30)
            got.append(data.get_data(ts).get("perp:binance:ETH/USDT:USDT"))

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert got == [Decimal("3000.25")] * 4
        assert len(binance.requests_for("GET", "/fapi/v1/premiumIndex")) == n + 1


def test_a_venue_that_does_not_answer_in_time_is_named_not_waited_for(binance: Any) -> None:
    with LiveMarketData(_config(binance), timeout_s=1) as data:
        data.get_data(_now())  # clients ready
        answer = threading.Event()  # the venue answers only once the test says so (at most 60 s)
        binance.faults.inject("GET /fapi/v1/premiumIndex", Fault("delay", until=answer))
        try:
            with pytest.raises(MarketDataUnavailableError, match="binance") as e:
                data.get_data(_now())  # returns while the venue still holds the request: bounded by timeout_s
        finally:
            answer.set()
        assert e.value.venue == "binance"


class SlowFeed:
    """A venue whose first read takes 1.5 s (a client library imported and markets loaded on a busy machine) and
    whose later reads answer only once ``release`` is set (so they surely outlast any timeout)."""

    reads = 0
    release = threading.Event()

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        from basis_core.live.market_data import LiveValue

        SlowFeed.reads += 1
        if SlowFeed.reads == 1:
            time.sleep(1.5)
        else:
            SlowFeed.release.wait(60)
        return {"oracle:ETH/USD": LiveValue({"price": Decimal(3000)}, time.time_ns())}


def test_a_venues_first_read_may_take_longer_than_timeout_s_later_reads_may_not() -> None:
    from basis_core.data.contrib import Contributor

    SlowFeed.reads = 0
    SlowFeed.release.clear()
    slow = [(Contributor("slowfeed", "tests"), SlowFeed)]
    try:
        with LiveMarketData(venues=["slowfeed"], plugins=slow, timeout_s=0.5, first_timeout_s=20) as data:
            assert data.get_data(_now()).get("oracle:ETH/USD", "price") == 3000  # warm-up: within first_timeout_s
            with pytest.raises(MarketDataUnavailableError, match=r"slowfeed.*no answer within 0.5 s"):
                data.get_data(_now())
    finally:
        SlowFeed.release.set()


def test_a_scenario_gives_its_live_market_data(binance: Any) -> None:
    from basis_core.backtest.scenario import Scenario
    from basis_core.data.live import live_data_provider

    sc = Scenario.model_validate({"venues": ["binance"], "venue_config": _config(binance)["venue_config"]})
    with live_data_provider(sc, mode="paper", max_age="30s") as data:
        assert data.venues == ["binance"]
        assert data.get_data(_now()).get("spot:ETH/USDT") == Decimal("3000.25")
    with pytest.raises(ConfigError, match="contributes live market data"):
        live_data_provider(Scenario.model_validate({"venues": []}))


def test_paper_funding_settles_at_the_venues_time_and_rate() -> None:
    """A replayed path (8 market hours in 3 wall seconds): the live funding row of the next settlement sits at the
    venue's nextFundingTime with its rate, and a paper short receives size x mark x rate when the clock crosses it."""
    from basis_core.data.provider import DataProvider
    from basis_core.data.series import Series

    hour = 3_600 * 10**9
    t0 = pd.Timestamp("2025-01-01", tz="UTC").value
    times = [t0 + i * hour for i in range(49)]
    marks = [Decimal(3000 + i) for i in range(49)]
    market = DataProvider([Series("spot:binance:ETH/USDT", times, {"close": marks}),
                           Series("perp:binance:ETH/USDT:USDT", times, {"close": marks}),
                           Series("funding:binance:ETH/USDT:USDT", times[8::8],
                                  {"rate": [Decimal("0.0001") * k for k in range(1, 7)]})])
    emu = BinanceEmulator("k", "s", prices={"ETHUSDT": Decimal(3000), "BTCUSDT": Decimal(60000)})
    emu.start()
    try:
        cfg = _config(emu, initial_balances={"binance:futures:USDT": "10000"})
        with LiveMarketData(cfg) as data:
            data.read(_now())  # clients ready before the path starts: the first settlement is 2.6 s ahead
            emu.attach_replay(market, speed=8 * 3_600 / 3, start=t0 + hour)  # a settlement every 3 s
            m = ExecutionInterfaceManager(cfg, data_provider=data, execution_mode="backtest")
            ts1 = _now()
            snap = data.get_data(ts1)
            nxt = snap.row("next_funding:binance:ETH/USDT:USDT")
            assert nxt["rate"] == Decimal("0.0001")  # the file's rate of the next settlement
            mark1 = snap.get("perp:binance:ETH/USDT:USDT")
            m.advance_to(ts1)
            m.execute(ts1, {"operation": "perp_trade", "venue": "binance", "symbol": "ETH/USDT:USDT",
                            "side": "sell", "amount": "1"})
            wallet1 = m.get_balances(ts1, "binance")["binance:futures:USDT"]
            settle_ns = int(nxt["time"] * 10**9)
            while time.time_ns() <= settle_ns + 50_000_000:  # wait until the venue's settlement time has passed
                time.sleep(0.05)
            ts2 = _now()
            data.get_data(ts2)
            funding = data.series("funding:binance:ETH/USDT:USDT")
            assert settle_ns in funding.times and funding.value("rate", settle_ns) == Decimal("0.0001")
            effects = m.advance_to(ts2)
            paid = [d for d in effects if d.operation == "funding"]
            assert len(paid) == 1 and paid[0].timestamp.value == settle_ns
            wallet2 = m.get_balances(ts2, "binance")["binance:futures:USDT"]
            assert wallet2 - wallet1 == mark1 * Decimal("0.0001")  # a short receives size x mark x rate
    finally:
        emu.stop()


def test_paper_funding_is_corrected_to_the_rate_the_venue_settled() -> None:
    """The emulator announces a predicted rate that converges on the path's as the interval elapses (as a venue's
    premium average does) and settles at the path's rate. A paper short whose step passed the settlement before
    the venue published it settles on the predicted rate, then is corrected to the settled one; a step after the
    venue published settles on the settled rate at once. Either way paper books the emulator's own settled rate
    x the mark x the size, as a live short would. The venue's clock is driven by hand (a wall of its own, set in
    the past so that its settlement times have passed for ours) and the paper steps are on that clock."""
    from basis_core.data.provider import DataProvider
    from basis_core.data.series import Series
    from basis_core.testing.replay import ReplayClock

    hour = 3_600 * 10**9
    t0 = pd.Timestamp("2025-01-01", tz="UTC").value
    times = [t0 + i * hour for i in range(49)]
    flat = [Decimal(3000)] * len(times)
    rates = [Decimal("0.0001"), Decimal("0.0009")] * 4
    market = DataProvider([Series("spot:binance:ETH/USDT", times, {"close": flat}),
                           Series("perp:binance:ETH/USDT:USDT", times, {"close": flat}),
                           Series("funding:binance:ETH/USDT:USDT", times[::8][:7], {"rate": rates[:7]})])
    wall = [float(int(time.time()) - 60)]  # the venue's wall: settlements 3 s apart, the first 1.5 s after it
    emu = BinanceEmulator("k", "s", prices={"ETHUSDT": Decimal(3000), "BTCUSDT": Decimal(60000)})
    emu.start()
    try:
        emu.attach_replay(market, clock=ReplayClock(t0 + 4 * hour, speed=8 * 3_600 / 3, wall=lambda: wall[0]),
                          funding_prediction="converging")
        cfg = _config(emu, initial_balances={"binance:futures:USDT": "10000"})
        with LiveMarketData(cfg, max_age=None) as data:
            m = ExecutionInterfaceManager(cfg, data_provider=data, execution_mode="backtest")
            now = [pd.Timestamp(wall[0], unit="s", tz="UTC")]

            def step(at: Any) -> list[Any]:
                now[0] = at
                data.get_data(at)
                return [d for d in m.advance_to(at) if d.operation == "funding"]

            step(now[0])
            nxt = data.get_data(now[0]).row("next_funding:binance:ETH/USDT:USDT")
            assert nxt["rate"] == Decimal("0.0005")  # half way from 0.0001 to the 0.0009 it will settle at
            settle = pd.Timestamp(int(nxt["time"] * 1000), unit="ms", tz="UTC")
            m.execute(now[0], {"operation": "perp_trade", "venue": "binance", "symbol": "ETH/USDT:USDT",
                               "side": "sell", "amount": "1"})
            wallet0 = m.get_balances(now[0], "binance")["binance:futures:USDT"]

            (early,) = step(settle + pd.Timedelta(seconds=1))  # past the settlement; the venue has not settled yet
            assert early.details["payments"]["ETH/USDT:USDT"]["rate"] == Decimal("0.0005")
            assert emu.funding_settlements == []
            wall[0] += 2  # the venue's clock passes the settlement: it settles and publishes it
            (fix,) = step(settle + pd.Timedelta(seconds=2))
            (settled,) = emu.funding_settlements
            assert settled["rate"] == Decimal("0.0009") and settled["time"] == settle.value // 10**6
            assert fix.details["correction"] is True
            assert fix.details["payments"]["ETH/USDT:USDT"]["predicted_rate"] == Decimal("0.0005")
            assert fix.positions == {"binance:futures:USDT": settled["mark"] * Decimal("0.0004")}

            nxt = data.get_data(now[0]).row("next_funding:binance:ETH/USDT:USDT")
            settle = pd.Timestamp(int(nxt["time"] * 1000), unit="ms", tz="UTC")
            wall[0] += 3  # the next settlement (at 0.0001) is published before the paper step passes it
            (on_time,) = step(settle + pd.Timedelta(seconds=1))
            assert emu.funding_settlements[1]["rate"] == on_time.details["payments"]["ETH/USDT:USDT"]["rate"]
            assert "correction" not in on_time.details
            paid = m.get_balances(now[0], "binance")["binance:futures:USDT"] - wallet0
            assert paid == sum(s["mark"] * s["rate"] for s in emu.funding_settlements) == Decimal("3.0")
    finally:
        emu.stop()


def test_settlement_tracker_waits_for_announced_settlements_and_matches_the_nearest_settled_row() -> None:
    from basis_core.live.market_data import SettlementTracker

    s = 10**9
    tracker = SettlementTracker(tolerance_ns=60 * s)
    tracker.expect("ETH", 1000 * s, now_ns=0)
    tracker.expect("ETH", 1200 * s, now_ns=10 * s)  # the schedule moved before 1000 s came: 1000 s is not awaited
    assert tracker.due("ETH", 1100 * s) == [] and tracker.due("ETH", 1200 * s) == [1200 * s]
    tracker.expect("ETH", 1300 * s, now_ns=1250 * s)  # announced after 1200 s passed: both are awaited
    assert tracker.due("ETH", 1300 * s) == [1200 * s, 1300 * s]
    rows = tracker.confirm("ETH", [(1197 * s, Decimal("0.1")), (1201 * s, Decimal("0.2"))], as_of_ns=1301 * s)
    assert [(r.time_ns, r.columns["rate"], r.final) for r in rows] == [(1200 * s, Decimal("0.2"), True)]
    assert tracker.due("ETH", 1400 * s) == [1300 * s]  # not published yet: asked again
    assert tracker.confirm("ETH", [(1500 * s, Decimal("0.3"))], as_of_ns=0) == []  # too far from 1300 s
    state: dict[str, Any] = {}
    assert SettlementTracker.of(state) is SettlementTracker.of(state)


def test_basis_run_in_paper_mode_trades_on_the_live_data(binance: Any, tmp_path: Any) -> None:
    from basis_core.backtest.scenario import load_scenario
    from basis_core.data.live import live_data_provider
    from basis_core.run import ManualClock, Runner

    sc = load_scenario({
        "name": "paper-live", "period": {"step": "1s"}, "venues": ["binance"],
        "venue_config": {"binance": {"base_url": binance.base_url, "enable_rate_limit": False}},
        "strategies": [{"name": "cash_and_carry", "required": True,
                        "params": {"legs": [{"spot_venue": "binance", "perp_venue": "binance"}], "capital": 10_000},
                        "balances": {"binance:spot:USDT": 10_000}}]})
    sent = len(binance.request_log)
    with live_data_provider(sc, mode="paper") as data:
        result = Runner(sc, mode="paper", state_dir=tmp_path, data_provider=data, steps=3,
                        clock=ManualClock(_now().value)).run()
    assert (result.status, result.steps, result.error) == ("finished", 3, None), result.events
    assert result.positions["binance:spot:ETH"] > 0 > result.positions["binance:perp:ETH/USDT:USDT"]
    paths = {r.path for r in binance.request_log[sent:]}
    assert paths <= {"/api/v3/ticker/price", "/fapi/v1/premiumIndex", "/fapi/v1/fundingRate"}  # reads only


def test_a_replayed_path_is_read_as_the_emulator_serves_it() -> None:
    from basis_core.data.provider import DataProvider
    from basis_core.data.series import Series
    from basis_core.testing.replay import ReplayClock

    hour = 3_600 * 10**9
    t0 = pd.Timestamp("2025-01-01", tz="UTC").value
    times = [t0 + i * hour for i in range(4)]
    marks = [Decimal("3000.5"), Decimal("3010.25"), Decimal("2990"), Decimal("3005.75")]
    market = DataProvider([Series("perp:hyperliquid:ETH/USDC:USDC", times, {"close": marks})])
    emu = HyperliquidEmulator(WALLET, marks={"ETH": "1", "BTC": "100000"})
    emu.start()
    try:
        clock = ReplayClock(t0, speed=0)  # the path's clock stands still until moved
        emu.attach_replay(market, clock=clock)
        with LiveMarketData(_config(hyperliquid=emu)) as data:
            seen = []
            ts = _now()
            for i in range(4):
                clock.seek(times[i])
                seen.append(data.get_data(ts + pd.Timedelta(seconds=i)).get("perp:hyperliquid:ETH/USDC:USDC"))
            assert seen == marks
            assert data.get_data(ts + pd.Timedelta(seconds=3)).get("spot:ETH/USDC") == marks[3]  # UETH follows ETH
    finally:
        emu.stop()
