"""Replayed markets for the emulators (``basis_core.testing.replay``): the accelerated clock, the path's events in
order, market CSVs read back exactly, replay sources and their typed errors."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from basis_core.data import DataProvider, Series, synthetic_market
from basis_core.errors import MarketDataError
from basis_core.testing.replay import (
    Feed,
    MarketReplay,
    ReplayClock,
    ReplayEvent,
    feeds_for,
    load_replay,
    read_market_csv,
    write_market_csv,
)
from basis_core.timeutil import to_ns

NS = 10**9
T0 = to_ns("2025-01-01T00:00:00Z")
D = Decimal
DATA = Path(os.environ.get("BASIS_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")


class Wall:
    """A wall clock the test moves by hand (epoch seconds)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_clock_runs_speed_times_the_wall_and_pauses_resumes_seeks_and_changes_speed() -> None:
    wall = Wall()
    c = ReplayClock(T0, speed=3600, wall=wall)
    assert c.now_ns() == T0
    wall.now += 2.5  # 2.5 s of wall time: 2.5 hours of market time
    assert c.now_ns() == T0 + 9000 * NS
    assert c.wall_at(T0 + 10 * 3600 * NS) == 1_000_000.0 + 10  # when it will reach hour 10
    assert c.pause() == T0 + 9000 * NS
    wall.now += 100
    assert c.now_ns() == T0 + 9000 * NS and c.wall_at(T0 + 10**15) == wall.now  # paused: now
    c.resume()
    wall.now += 1
    assert c.now_ns() == T0 + 12600 * NS
    c.set_speed(60)  # no jump, slower from here
    wall.now += 1
    assert c.now_ns() == T0 + 12660 * NS
    c.seek("2025-03-01T00:00:00Z")
    assert c.now_ns() == to_ns("2025-03-01T00:00:00Z")
    with pytest.raises(ValueError, match="speed"):
        ReplayClock(T0, speed=-1)


def _feeds() -> list[Feed]:
    price = Series("perp:x", [T0 + i * 3600 * NS for i in range(6)], {"close": [D(100 + i) for i in range(6)]})
    funding = Series("funding:x", [T0 + 2 * 3600 * NS, T0 + 4 * 3600 * NS], {"rate": [D("0.0001"), D("-0.0002")]})
    return [Feed("p", "price", price, "close"), Feed("f", "funding", funding, "rate")]


def test_advance_hands_out_every_row_crossed_in_time_order_prices_before_funding() -> None:
    wall = Wall()
    r = MarketReplay(_feeds(), ReplayClock(T0 + 1800 * NS, speed=3600, wall=wall))
    assert r.advance() == [ReplayEvent(T0 + 1800 * NS, "price", "p", D(100))]  # the as-of value at the start
    assert r.advance() == []
    wall.now += 3.5  # to hour 4: crosses hours 1..4 and both settlements
    got = r.advance()
    h = 3600 * NS
    assert got == [ReplayEvent(T0 + h, "price", "p", D(101)), ReplayEvent(T0 + 2 * h, "price", "p", D(102)),
                   ReplayEvent(T0 + 2 * h, "funding", "f", D("0.0001")), ReplayEvent(T0 + 3 * h, "price", "p", D(103)),
                   ReplayEvent(T0 + 4 * h, "price", "p", D(104)), ReplayEvent(T0 + 4 * h, "funding", "f", D("-0.0002"))]
    assert r.price("p") == D(104) and r.next_funding("f") is None
    wall.now += 100  # far past the end: the last row once, then nothing
    assert r.advance() == [ReplayEvent(T0 + 5 * h, "price", "p", D(105))] and r.advance() == [] and r.finished
    r.clock.seek(T0 + h + 1)  # backwards: the as-of values again, no settlement repeated
    assert r.advance() == [ReplayEvent(T0 + h + 1, "price", "p", D(101))]
    assert r.next_funding("f") == (T0 + 2 * h, D("0.0001"))


def test_market_csv_round_trip_is_exact(tmp_path: Path) -> None:
    market = synthetic_market(hours=30)
    names = ["spot:ETH/USDT", "perp:binance:ETH/USDT:USDT", "funding:binance:ETH/USDT:USDT", "aave:WETH"]
    back = read_market_csv(write_market_csv(market, tmp_path / "m.csv", names))
    assert back.names() == sorted(names)
    for n in names:
        a, b = market.series(n), back.series(n)
        assert list(a.times) == list(b.times)
        assert {c: list(v) for c, v in a.columns.items()} == {c: list(v) for c, v in b.columns.items()}
    cut = read_market_csv(write_market_csv(market, tmp_path / "cut.csv", ["spot:ETH/USDT"],
                                           start=T0 + 3600 * NS, end=T0 + 5 * 3600 * NS))
    assert list(cut.series("spot:ETH/USDT").times) == [T0 + i * 3600 * NS for i in (1, 2, 3, 4, 5)]


def test_feeds_follow_the_first_series_found_and_aliases() -> None:
    s = Series("perp:binance:ETH/USDT:USDT", [T0], {"close": [D(1)]})
    p = DataProvider([s], aliases={"perp:hyperliquid:ETH/USDC:USDC": "perp:binance:ETH/USDT:USDT"})
    feeds = feeds_for(p, {"a": ("price", ["nope", "perp:hyperliquid:ETH/USDC:USDC"]), "b": ("funding", ["none"])})
    assert [(f.key, f.series.name, f.column) for f in feeds] == [("a", "perp:binance:ETH/USDT:USDT", "close")]
    with pytest.raises(MarketDataError, match="at least one feed"):
        MarketReplay([], ReplayClock(T0))


@pytest.mark.parametrize(("content", "name", "match"), [
    (None, "missing.csv", "does not exist"),
    ("a,b\n1,2\n", "prices.csv", "not a market CSV"),
    ("time,series,column,value\n2025-01-01T00:00:00Z,x,close\n", "m.csv", "expected 4 fields"),
    ("time,series,column,value\nnot-a-time,x,close,1\n", "m2.csv", "cannot read"),
    ("time,series,column,value\n2025-01-01T00:00:00Z,x,close,abc\n", "m3.csv", "cannot read"),
])
def test_unreadable_replay_sources_are_market_data_errors(tmp_path: Path, content: str | None, name: str,
                                                          match: str) -> None:
    p = tmp_path / name
    if content is not None:
        p.write_text(content)
    with pytest.raises(MarketDataError, match=match):
        load_replay(p)
    with pytest.raises(MarketDataError):
        load_replay([])


@pytest.mark.realdata
def test_real_files_load_by_name_and_as_a_directory() -> None:
    if not DATA.is_dir():
        pytest.skip(f"real market data not found at {DATA}")
    perp = next(iter(sorted(DATA.glob("binance_ETHUSDT_perp_1h_*.csv"))))
    funding = next(iter(sorted(DATA.glob("binance_ETHUSDT_funding_rates_*.csv"))))
    p = load_replay([perp, funding])
    assert {"perp:binance:ETH/USDT:USDT", "funding:binance:ETH/USDT:USDT"} <= set(p.names())
    assert p.find("perp:hyperliquid:ETH/USDC:USDC") is p.series("perp:binance:ETH/USDT:USDT")  # the proxy alias
    whole = load_replay(DATA)
    assert whole.find("spot:ETH/USDT") is not None and whole.find("funding:binance:ETH/USDT:USDT") is not None
