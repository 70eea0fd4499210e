"""The Hyperliquid emulator replaying a price path (issue 15, "emulators that move"), through the real ccxt client.

Expected values come from the synthetic market's own series (the replay reads them back from a market CSV);
funding expectations are closed forms: position x the mark of the settlement time x the schedule's rate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from basis_venue_hyperliquid.client import make_hyperliquid_client
from basis_venue_hyperliquid.testing import HyperliquidEmulator
from eth_account import Account

from basis_core import ExecutionInterfaceManager
from basis_core.data.provider import DataProvider
from basis_core.data.synthetic import synthetic_market
from basis_core.testing.replay import ReplayClock, book_funding_until, load_replay, write_market_csv
from basis_core.timeutil import to_ns

D = Decimal
KEY = "0x" + hashlib.sha256(b"basis-replay-hl").hexdigest()
MASTER = Account.from_key(KEY).address
PERP, SPOT = "ETH/USDC:USDC", "ETH/USDC"
MARK = "perp:hyperliquid:ETH/USDC:USDC"
FUNDING = "funding:hyperliquid:ETH/USDC:USDC"
START = "2025-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def synthetic() -> DataProvider:
    return synthetic_market(hours=24 * 2)


@pytest.fixture
def path_file(synthetic: DataProvider, tmp_path: Path) -> Path:
    return write_market_csv(synthetic, tmp_path / "path.csv", [MARK, FUNDING])


@pytest.fixture
def emu() -> Iterator[HyperliquidEmulator]:
    with HyperliquidEmulator(MASTER, perp_usdc=D(10_000), spot_balances={"USDC": D(5000)}) as e:
        yield e


def mark(p: DataProvider, ts_ns: int) -> Decimal:
    return p.series(MARK).value("close", ts_ns)


@pytest.mark.parametrize("offset_s", [0, 2 * 3600 + 59, 30 * 3600 + 1800])
def test_marks_and_market_fills_follow_the_path(synthetic: DataProvider, path_file: Path, emu: HyperliquidEmulator,
                                                offset_s: int) -> None:
    clock = ReplayClock(START, speed=0)
    emu.attach_replay(load_replay(path_file), clock=clock)
    t = to_ns(START) + offset_s * 1_000_000_000
    clock.seek(t)
    c = make_hyperliquid_client(MASTER, KEY, base_url=emu.base_url, enable_rate_limit=False)
    c.load_markets()
    px = mark(synthetic, t)
    assert D(str(c.fetch_ticker(PERP)["info"]["markPx"])) == px
    fr = c.fetch_funding_rate(PERP)
    funding = synthetic.series(FUNDING)
    nxt = next(i for i, ft in enumerate(funding.times) if ft > t)
    assert D(str(fr["fundingRate"])) == funding.columns["rate"][nxt]  # the next settlement's rate
    perp = c.create_order(PERP, "market", "buy", 0.01, float(px))
    spot = c.create_order(SPOT, "market", "buy", 0.01, float(px))  # UETH trades at the ETH mark
    assert D(str(perp["average"])) == px and D(str(spot["average"])) == px
    assert emu.position("ETH") == (D("0.01"), px)


def test_accelerated_hourly_funding_is_booked_at_the_schedule_through_the_manager(
        synthetic: DataProvider, path_file: Path, emu: HyperliquidEmulator, tmp_path: Path) -> None:
    funding = synthetic.series(FUNDING)
    start = funding.times[2] - 30 * 1_000_000_000  # half a minute before a settlement
    clock = ReplayClock(start, speed=3600 / 0.25)  # an hour of the path every 0.25 s
    clock.pause()
    emu.attach_replay(load_replay(path_file), clock=clock)
    cfg = {"venues": ["hyperliquid"], "retry_delay_seconds": 0, "journal_path": str(tmp_path / "j.sqlite"),
           "venue_config": {"hyperliquid": {"private_key": KEY, "wallet_address": MASTER,
                                            "base_url": emu.base_url, "enable_rate_limit": False}}}
    m = ExecutionInterfaceManager(config=cfg, execution_mode="live")
    ts = "2025-06-01T00:00:00Z"
    opened = m.execute(ts, {"venue": "hyperliquid", "operation": "perp_trade", "symbol": PERP, "side": "buy",
                            "amount": "0.2", "client_id": "long-1"})
    assert opened.fill_price == mark(synthetic, start)
    usdc0 = emu.perp_usdc()
    booked = book_funding_until(m, emu, clock, ts)  # each request moves the market on
    settled = emu.funding_settlements
    k = len(settled)
    assert k >= 3 and [s["market_time_ns"] for s in settled] == list(funding.times[2:2 + k])
    expected = []
    for s, ft in zip(settled, funding.times[2:2 + k], strict=True):
        assert (s["rate"], s["mark"]) == (funding.value("rate", ft), mark(synthetic, ft))
        expected.append(-D("0.2") * mark(synthetic, ft) * funding.value("rate", ft))  # the long pays
    assert emu.perp_usdc() - usdc0 == sum(expected)
    assert sum((d.positions["hyperliquid:perp-margin:USDC"] for d in booked), D(0)) == sum(expected)
    c = make_hyperliquid_client(MASTER, KEY, base_url=emu.base_url, enable_rate_limit=False)
    c.load_markets()
    rows = c.fetch_funding_rate_history(PERP, since=0)
    assert [D(str(r["fundingRate"])) for r in rows] == [funding.value("rate", ft) for ft in funding.times[2:2 + k]]
