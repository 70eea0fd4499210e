"""The Binance emulator replaying a price path (issue 15, "emulators that move"), through the real ccxt client.

Expected values come from the path's source, not from the emulator: the synthetic market's own series (the
replay reads them back from a market CSV), or the real CSV files parsed here with the ``csv`` module. Funding
expectations are closed forms: position x the mark of the settlement time x the schedule's rate.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from basis_venue_binance.client import make_binance_client
from basis_venue_binance.testing.emulator import BinanceEmulator

from basis_core import ExecutionInterfaceManager
from basis_core.data.provider import DataProvider
from basis_core.data.synthetic import synthetic_market
from basis_core.errors import MarketDataError
from basis_core.testing.emulate_process import emulate_processes
from basis_core.testing.replay import ReplayClock, book_funding_until, load_replay, write_market_csv
from basis_core.timeutil import to_ns

D = Decimal
KEY, SECRET = "replay-key-0123456789abcdef", "replay-secret-0123456789abcdef0123"
SPOT, PERP = "ETH/USDT", "ETH/USDT:USDT"
SERIES = ["spot:ETH/USDT", "perp:binance:ETH/USDT:USDT", "funding:binance:ETH/USDT:USDT"]
START = "2025-01-01T00:00:00Z"
HOUR = 3_600_000_000_000
#: ../shared/data next to the project root, or $BASIS_SHARED_DATA (e.g. from a git worktree elsewhere)
DATA = Path(os.environ.get("BASIS_SHARED_DATA") or Path(__file__).resolve().parents[3].parent / "shared" / "data")


@pytest.fixture(scope="module")
def synthetic() -> DataProvider:
    return synthetic_market(hours=24 * 4)


@pytest.fixture
def path_file(synthetic: DataProvider, tmp_path: Path) -> Path:
    """Four days of the synthetic market's ETH spot, Binance perp mark and funding, as a market CSV."""
    return write_market_csv(synthetic, tmp_path / "path.csv", SERIES)


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(KEY, SECRET, spot_balances={"USDT": D(100_000), "ETH": D(10)},
                         futures_balances={"USDT": D(50_000)}, prices={"ETHUSDT": D(1), "BTCUSDT": D(60_000)}) as e:
        yield e


@pytest.fixture
def client(emu: BinanceEmulator) -> Any:
    c = make_binance_client(KEY, SECRET, base_url=emu.base_url, enable_rate_limit=False)
    c.load_markets()
    return c


def close(p: DataProvider, series: str, ts_ns: int) -> Decimal:
    return p.series(series).value("close", ts_ns)


@pytest.mark.parametrize("offset_s", [0, 1799, 3600, 5 * 3600 + 1, 2 * 86_400 + 7 * 3600 + 30 * 60])
def test_ticker_mark_and_market_fills_follow_the_path(synthetic: DataProvider, path_file: Path, emu: BinanceEmulator,
                                                      client: Any, offset_s: int) -> None:
    clock = ReplayClock(START, speed=0)  # stopped: the test moves it
    emu.attach_replay(load_replay(path_file), clock=clock)
    t = to_ns(START) + offset_s * 1_000_000_000
    clock.seek(t)
    spot_px, mark = close(synthetic, "spot:ETH/USDT", t), close(synthetic, "perp:binance:ETH/USDT:USDT", t)
    assert D(str(client.fetch_ticker(SPOT)["last"])) == spot_px
    fr = client.fetch_funding_rate(PERP)
    assert D(str(fr["markPrice"])) == mark and D(str(fr["indexPrice"])) == spot_px
    nxt = synthetic.series("funding:binance:ETH/USDT:USDT")
    i = next(i for i, ft in enumerate(nxt.times) if ft > t)
    assert D(str(fr["info"]["lastFundingRate"])) == nxt.columns["rate"][i]  # the next settlement's rate
    buy = client.create_order(SPOT, "market", "buy", 0.01, None, {"clientOrderId": f"rs-{offset_s}"})
    sell = client.create_order(PERP, "market", "sell", 0.01, None, {"clientOrderId": f"rp-{offset_s}"})
    assert D(str(buy["average"])) == spot_px and D(str(sell["average"])) == mark
    assert emu.position("ETHUSDT").entry_price == mark


def test_resting_orders_fill_where_the_path_crosses_them(synthetic: DataProvider, path_file: Path,
                                                         emu: BinanceEmulator, client: Any) -> None:
    clock = ReplayClock(START, speed=0)
    emu.attach_replay(load_replay(path_file), clock=clock)
    spot = synthetic.series("spot:ETH/USDT")
    t0 = to_ns(START)
    p0 = spot.value("close", t0)
    low_i = min(range(1, 72), key=lambda i: spot.columns["close"][i])  # the path's low within three days
    assert spot.columns["close"][low_i] < p0
    limit = ((p0 + spot.columns["close"][low_i]) / 2).quantize(D("0.01"))
    crossed_at = next(spot.times[i] for i in range(1, 72) if spot.columns["close"][i] <= limit)
    o = client.create_order(SPOT, "limit", "buy", 0.1, str(limit), {"clientOrderId": "rest-1"})
    assert o["status"] == "open"
    clock.seek(crossed_at - 1)  # just before the first row at or below the limit: still resting
    assert client.fetch_order(None, SPOT, {"clientOrderId": "rest-1"})["status"] == "open"
    clock.seek(spot.times[low_i] + HOUR // 2)  # past it (every row on the way is applied in order)
    done = client.fetch_order(None, SPOT, {"clientOrderId": "rest-1"})
    assert done["status"] == "closed" and D(str(done["average"])) == limit  # maker fill at its limit


def test_accelerated_funding_is_booked_at_the_schedule_through_the_manager(
        synthetic: DataProvider, path_file: Path, emu: BinanceEmulator, tmp_path: Path) -> None:
    funding = synthetic.series("funding:binance:ETH/USDT:USDT")
    start = funding.times[1] - 60 * 1_000_000_000  # a minute before a settlement
    clock = ReplayClock(start, speed=8 * 3600 / 0.3)  # 8 hours of the path every 0.3 s
    clock.pause()
    emu.attach_replay(load_replay(path_file), clock=clock)
    cfg = {"venues": ["binance"], "retry_delay_seconds": 0, "journal_path": str(tmp_path / "j.sqlite"),
           "venue_config": {"binance": {"api_key": KEY, "api_secret": SECRET, "base_url": emu.base_url,
                                        "enable_rate_limit": False}}}
    m = ExecutionInterfaceManager(config=cfg, execution_mode="live")
    ts = "2025-06-01T00:00:00Z"
    opened = m.execute(ts, {"venue": "binance", "operation": "perp_trade", "symbol": PERP, "side": "sell",
                            "amount": "0.5", "client_id": "short-1"})
    assert opened.fill_price == close(synthetic, "perp:binance:ETH/USDT:USDT", start)
    wallet0 = emu.futures_wallet["USDT"]
    booked = book_funding_until(m, emu, clock, ts)  # each request moves the market on
    settled = emu.funding_settlements
    assert len(settled) >= 3
    k = len(settled)
    assert [s["market_time_ns"] for s in settled] == list(funding.times[1:1 + k])  # at the schedule's times
    expected = []
    for s, ft in zip(settled, funding.times[1:1 + k], strict=True):
        mark = close(synthetic, "perp:binance:ETH/USDT:USDT", ft)
        rate = funding.value("rate", ft)
        assert (s["rate"], s["mark"]) == (rate, mark)
        expected.append((D("0.5") * mark * rate).quantize(D("0.00000001")))  # the short receives a positive rate
    assert [s["payment"] for s in settled] == expected
    assert emu.futures_wallet["USDT"] - wallet0 == sum(expected)
    assert sum((d.positions["binance:futures:USDT"] for d in booked), D(0)) == sum(expected)  # booked once each
    assert [s["time"] for s in settled] == sorted(s["time"] for s in settled)  # wall-clock stamps, in order
    hist = make_binance_client(KEY, SECRET, base_url=emu.base_url, enable_rate_limit=False)
    rows = hist.fetch_funding_rate_history(PERP)
    assert [D(str(r["fundingRate"])) for r in rows] == [funding.value("rate", ft) for ft in funding.times[1:1 + k]]


def test_replay_needs_a_price_series(emu: BinanceEmulator, tmp_path: Path) -> None:
    only_gas = write_market_csv(synthetic_market(hours=3), tmp_path / "gas.csv", ["gas"])
    with pytest.raises(MarketDataError, match="no price series"):
        emu.attach_replay(load_replay(only_gas))
    assert emu.replay is None


@pytest.fixture
def run_basis_emulate() -> Iterator[Callable[..., dict[str, Any]]]:
    """``basis emulate ... --json`` in a subprocess: its printed details; stopped by PID afterwards."""
    with emulate_processes() as start:
        yield start


def test_basis_emulate_replays_a_market_csv(synthetic: DataProvider, path_file: Path,
                                            run_basis_emulate: Callable[..., dict[str, Any]]) -> None:
    start = "2025-01-02T05:30:00+00:00"
    info = run_basis_emulate("binance", "--replay", str(path_file), "--speed", "0", "--start", start)
    assert info["replay"]["start"] == start and info["replay"]["series"] == sorted(SERIES)
    cfg = info["venue_config"]["binance"]
    c = make_binance_client(cfg["api_key"], cfg["api_secret"], base_url=cfg["base_url"], enable_rate_limit=False)
    assert D(str(c.fetch_ticker(SPOT)["last"])) == close(synthetic, "spot:ETH/USDT", to_ns(start))
    assert D(str(c.fetch_funding_rate(PERP)["markPrice"])) == close(synthetic, "perp:binance:ETH/USDT:USDT",
                                                                     to_ns(start))
    # steered from this process: jump ahead (a laptop that slept), then run again at another speed
    later = "2025-01-03T17:00:00+00:00"
    state = _control(info["base_url"], {"pause": True, "seek": later})
    assert state["paused"] is True and state["market_time"] == later and state["speed"] == 0
    assert D(str(c.fetch_ticker(SPOT)["last"])) == close(synthetic, "spot:ETH/USDT", to_ns(later))
    state = _control(info["base_url"], {"speed": 7200, "resume": True})
    assert state["paused"] is False and state["speed"] == 7200 and to_ns(state["market_time"]) >= to_ns(later)
    with pytest.raises(urllib.error.HTTPError) as bad:
        _control(info["base_url"], {"seek": "not a time"})
    assert bad.value.code == 400


def _control(base_url: str, change: dict[str, Any]) -> dict[str, Any]:
    """POST /_emulator/replay: steer a replaying emulator's clock; its state after the change."""
    req = urllib.request.Request(base_url + "/_emulator/replay", data=json.dumps(change).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return dict(json.loads(resp.read()))


def test_basis_emulate_refuses_an_unreadable_replay(tmp_path: Path) -> None:
    junk = tmp_path / "prices.csv"
    junk.write_text("a,b\n1,2\n")
    out = subprocess.run([sys.executable, "-c", "from basis_core.cli import main; main()", "emulate", "binance",
                          "--replay", str(junk)], capture_output=True, text=True, timeout=120)
    flat = " ".join(out.stderr.replace("│", " ").split())
    assert out.returncode != 0 and "not a market CSV" in flat


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.realdata
def test_real_binance_klines_and_funding_replayed(emu: BinanceEmulator, client: Any) -> None:
    """The real perp klines and funding files: the mark is the close of the last 1 h candle closed by the replay
    time, the next funding rate the file's next settlement (both read here with the csv module)."""
    if not DATA.is_dir():
        pytest.skip(f"real market data not found at {DATA}")
    perp_file = next(iter(sorted(DATA.glob("binance_ETHUSDT_perp_1h_*.csv"))), None)
    funding_file = next(iter(sorted(DATA.glob("binance_ETHUSDT_funding_rates_*.csv"))), None)
    if perp_file is None or funding_file is None:
        pytest.skip("Binance ETHUSDT perp klines / funding files not found")
    start = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    rep = emu.attach_replay(load_replay([perp_file, funding_file]), start=start.isoformat(), speed=0)
    assert {f.series.name for f in rep.feeds} == {"perp:binance:ETH/USDT:USDT", "funding:binance:ETH/USDT:USDT"}
    bars = [r for r in _csv_rows(perp_file)
            if datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp() + 3600 <= start.timestamp()]
    settlements = [r for r in _csv_rows(funding_file)
                   if datetime.fromisoformat(r["funding_timestamp"].replace("Z", "+00:00")) > start]
    fr = client.fetch_funding_rate(PERP)
    assert D(str(fr["markPrice"])) == D(bars[-1]["close"])
    assert D(fr["info"]["lastFundingRate"]) == D(settlements[0]["funding_rate"])
