"""Market data as a plugin surface: venues contribute file loaders (``market_data_files``), synthetic series
(``synthetic_series``) and live reads (``live_market_data``, every venue its own keys); the core reads a
directory with what the installed venues contribute, never letting one venue's file silently stand for another's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pluggy
import pytest

from basis_core import hookimpl, hookspecs
from basis_core.data import synthetic_market
from basis_core.data.contrib import Contributor, MarketDataFiles
from basis_core.data.files import funding, klines
from basis_core.data.loaders import load_data_dir
from basis_core.data.series import Series
from basis_core.errors import MarketDataError

MIN_NS = 60 * 10**9


def write_klines(path: Path, start: str, closes: list[str]) -> None:
    t = pd.date_range(start, periods=len(closes), freq="1min", tz="UTC")
    rows = ["timestamp,open,high,low,close,volume"]
    prev = closes[0]
    for ts, c in zip(t, closes, strict=True):
        rows.append(f"{ts.isoformat()},{prev},{max(prev, c)},{min(prev, c)},{c},1.5")
        prev = c
    path.write_text("\n".join(rows) + "\n")


def test_generic_convention_reads_an_unknown_venues_one_minute_klines(tmp_path: Path) -> None:
    write_klines(tmp_path / "okx_ETHUSDT_perp_1m_2025-01-01_2025-01-02.csv", "2025-01-01", ["3000.1", "3001.2", "3002"])
    (tmp_path / "okx_ETHUSDT_funding_rates_2025.csv").write_text(
        "funding_timestamp,funding_rate\n2025-01-01T00:00:00Z,0.0001\n")
    p = load_data_dir(tmp_path)
    assert set(p.names()) == {"perp:okx:ETH/USDT:USDT", "funding:okx:ETH/USDT:USDT"}
    t0 = pd.Timestamp("2025-01-01T00:00:00Z").value
    s = p.series("perp:okx:ETH/USDT:USDT")
    assert s.value("close", t0) == Decimal("3000.1")           # the first bar's open, at its open
    assert s.value("close", t0 + MIN_NS - 1) == Decimal("3000.1")
    assert s.value("close", t0 + MIN_NS) == Decimal("3000.1")  # the first bar closes one minute later
    assert s.value("close", t0 + 2 * MIN_NS) == Decimal("3001.2")


def test_a_spot_pair_from_two_venues_is_ambiguous_until_chosen(tmp_path: Path) -> None:
    write_klines(tmp_path / "okx_ETHUSDT_spot_1m_2025.csv", "2025-01-01", ["3000", "3001"])
    write_klines(tmp_path / "kraken_ETHUSDT_spot_1m_2025.csv", "2025-01-01", ["2990", "2991"])
    p = load_data_dir(tmp_path)
    snap = p.get_data("2025-01-01T00:02:00Z")
    assert snap.get("spot:okx:ETH/USDT") == Decimal("3001")
    with pytest.raises(MarketDataError, match=r"ambiguous.*spot:kraken:ETH/USDT.*spot:okx:ETH/USDT"):
        snap.get("spot:ETH/USDT")
    chosen = load_data_dir(tmp_path, aliases={"spot:ETH/USDT": "spot:kraken:ETH/USDT"})
    assert chosen.get_data("2025-01-01T00:02:00Z").get("spot:ETH/USDT") == Decimal("2991")


def test_one_venues_spot_answers_as_the_generic_pair(tmp_path: Path) -> None:
    write_klines(tmp_path / "okx_ETHUSDT_spot_1m_2025.csv", "2025-01-01", ["3000", "3001"])
    assert load_data_dir(tmp_path).get_data("2025-01-01T00:02:00Z").get("spot:ETH/USDT") == Decimal("3001")


def test_two_files_for_one_series_are_an_error_naming_both(tmp_path: Path) -> None:
    write_klines(tmp_path / "okx_ETHUSDT_spot_1m_2025a.csv", "2025-01-01", ["3000"])
    write_klines(tmp_path / "okx_ETHUSDT_spot_1m_2025b.csv", "2025-01-02", ["3000"])
    with pytest.raises(MarketDataError, match=r"okx_ETHUSDT_spot_1m_2025a\.csv and okx_ETHUSDT_spot_1m_2025b\.csv"):
        load_data_dir(tmp_path)


def test_unrecognised_files_name_the_accepted_patterns(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_text("a,b\n1,2\n")
    with pytest.raises(MarketDataError) as e:
        load_data_dir(tmp_path)
    msg = str(e.value)
    assert "prices.csv" in msg
    assert "<venue>_ETHUSDT_perp_1m_<from>_<to>.csv -> perp:{venue}:{base}/{quote}:{quote}" in msg  # core
    assert "binance: binance_BTCUSDT_1h_2024-01-01_2025-09-30.csv -> spot:binance:{base}/USDT" in msg  # a venue
    assert "aave: aave_v3_aave-v3-ethereum_WETH_rates" in msg


def test_a_venues_own_pattern_wins_over_the_generic_convention(tmp_path: Path) -> None:
    write_klines(tmp_path / "acme_ETHUSDT_perp_1m_2025.csv", "2025-01-01", ["10", "11"])
    own = MarketDataFiles(loaders=(klines(r"^acme_(?P<base>[A-Z]+)USDT_perp_1m_", "perp:acme:{base}/USDT:USDT-SWAP"),))
    p = load_data_dir(tmp_path, contributions=own)
    assert p.names() == ["perp:acme:ETH/USDT:USDT-SWAP"]


def test_a_bad_column_names_the_file_and_the_columns(tmp_path: Path) -> None:
    (tmp_path / "okx_ETHUSDT_perp_1m_2025.csv").write_text("time,o,c\n2025-01-01T00:00:00Z,1,2\n")
    with pytest.raises(MarketDataError, match=r"'timestamp'.*missing in okx_ETHUSDT_perp_1m_2025\.csv"):
        load_data_dir(tmp_path)


def test_funding_loader_building_block(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("ts,rate\n2025-01-01T08:00:00Z,-0.00012\n2025-01-01T00:00:00Z,0.0001\n")
    fl = funding(r"^f", "funding:x:ETH/USDT:USDT", time_col="ts", rate_col="rate", cadence="8h")
    s = fl.load(tmp_path / "f.csv", "funding:x:ETH/USDT:USDT")
    assert [str(v) for v in s.column("rate")] == ["0.0001", "-0.00012"]


# -- synthetic series --------------------------------------------------------------------------------------------
class Acme:
    """A third-party venue class contributing its perp to the synthetic market."""

    @staticmethod
    @hookimpl
    def synthetic_series(market: Any) -> list[Series]:
        return market.perp("acme", "ETH/USDT:USDT", funding_every_hours=4)


def _installed() -> list[tuple[Contributor, Any]]:
    from basis_core.data.contrib import installed_contributors

    return installed_contributors()


def test_a_new_venue_contributes_synthetic_series_without_changing_anyone_elses() -> None:
    base = synthetic_market(hours=48)
    more = synthetic_market(hours=48, plugins=[*_installed(), (Contributor("acme", "acme-dist"), Acme)])
    assert set(more.names()) - set(base.names()) == {"perp:acme:ETH/USDT:USDT", "funding:acme:ETH/USDT:USDT"}
    ts = "2025-01-02T05:00:00Z"
    for name in base.names():
        assert base.get_data(ts).row(name) == more.get_data(ts).row(name), name
    hours = {pd.Timestamp(t, tz="UTC").hour for t in more.series("funding:acme:ETH/USDT:USDT").times}
    assert hours == {0, 4, 8, 12, 16, 20}


def test_a_synthetic_series_contributed_twice_is_an_error_naming_both() -> None:
    class Clash:
        @staticmethod
        @hookimpl
        def synthetic_series(market: Any) -> list[Series]:
            return market.perp("binance", "ETH/USDT:USDT")

    with pytest.raises(MarketDataError, match=r"perp:binance:ETH/USDT:USDT.*binance and clash"):
        synthetic_market(hours=48, plugins=[*_installed(), (Contributor("clash", "clash-dist"), Clash)])


def test_bundled_venues_use_the_same_surface() -> None:
    from basis_core.data.contrib import collect_files, data_plugin_manager

    pm = data_plugin_manager()
    who = {i.plugin_name for i in pm.hook.synthetic_series.get_hookimpls()}
    assert {"binance", "hyperliquid", "aave", "lido"} <= who
    files = {w for w, _ in collect_files(pm).loaders}
    assert {"binance", "hyperliquid", "aave", "lido", "uniswap", "core"} <= files


def test_live_market_data_is_a_hook_every_venue_contributes_to() -> None:
    from basis_core.live.market_data import LiveValue

    class Acme:
        @staticmethod
        @hookimpl
        def live_market_data(timestamp: Any, keys: Any, context: Any) -> dict[str, LiveValue]:
            return {"perp:acme:ETH/USDT:USDT": LiveValue({"close": Decimal("1")}, timestamp.value)}

    class Other:
        @staticmethod
        @hookimpl
        def live_market_data(timestamp: Any, keys: Any, context: Any) -> dict[str, LiveValue]:
            return {"perp:other:ETH/USDT:USDT": LiveValue({"close": Decimal("2")}, timestamp.value)}

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs.DataHooks)
    pm.register(Acme, name="acme")
    pm.register(Other, name="other")
    ts = pd.Timestamp("2025-01-01", tz="UTC")
    got = pm.hook.live_market_data(timestamp=ts, keys=None, context=None)  # not firstresult: one answer per venue
    assert sorted(k for part in got for k in part) == ["perp:acme:ETH/USDT:USDT", "perp:other:ETH/USDT:USDT"]


def test_the_fast_and_the_general_kline_paths_agree(tmp_path: Path) -> None:
    rows = ["timestamp,open,high,low,close", "2025-01-01T00:02:00Z,3,3,3,3.5", "2025-01-01T00:00:00Z,1,1.25,1,1.5",
            "2025-01-01T00:01:00Z,2,2,2,2", "2025-01-01T00:01:00Z,2,2,2,2.75"]  # unsorted, one duplicate
    (tmp_path / "fast.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "general.csv").write_text("# exported by hand\n" + "\n".join(rows).replace("3.5", "35e-1") + "\n")
    from basis_core.data.loaders import load_klines

    a = load_klines(tmp_path / "fast.csv", "x", MIN_NS)
    b = load_klines(tmp_path / "general.csv", "x", MIN_NS)
    assert list(a.times) == list(b.times)
    for c in ("open", "high", "low", "close"):
        assert list(a.column(c)) == list(b.column(c)), c
    assert [str(v) for v in a.column("close")] == ["1.00", "1.50", "2.75", "3.50"]  # first open, then closes
