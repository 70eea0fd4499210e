"""The live provider's rules, with small in-process venues that implement the ``live_market_data`` hook the way a
third-party plugin would: what a venue returns becomes the backtest's series; a key several venues serve comes from
the first; rows beyond ``max_rows`` are dropped in place; a venue that breaks the contract or raises is named."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import pandas as pd
import pytest

from basis_core.data.contrib import Contributor
from basis_core.errors import ConfigError, MarketDataError, MarketDataUnavailableError, StaleDataError
from basis_core.hookspecs import hookimpl
from basis_core.live.market_data import LiveMarketData, LiveValue, venues_with_live_data

T0 = pd.Timestamp("2026-01-01T00:00:00Z")
SEC = 10**9


class Counter:
    """A venue serving ``spot:acme:ETH/USDT`` (the call number) and ``gas``, dated ``lag`` seconds before the step."""

    calls: ClassVar[list[Any]] = []
    lag: ClassVar[int] = 0
    broken: ClassVar[str | None] = None

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        Counter.calls.append(timestamp)
        if Counter.broken == "raise":
            raise ConnectionError("connection refused")
        if Counter.broken == "shape":
            return {"spot:acme:ETH/USDT": {"close": Decimal(1)}}
        as_of = timestamp.value - Counter.lag * SEC
        n = Decimal(len(Counter.calls))
        return {"spot:acme:ETH/USDT": LiveValue({"close": n}, as_of),
                "gas": LiveValue({"base_fee_gwei": n, "priority_fee_gwei": Decimal(0), "gas_price_gwei": n}, as_of)}


class Other:
    """A second venue that also serves ``gas`` (like every on-chain venue) and a spot pair Counter has too."""

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        return {"gas": LiveValue({"base_fee_gwei": Decimal(99), "priority_fee_gwei": Decimal(0),
                                  "gas_price_gwei": Decimal(99)}, timestamp.value),
                "spot:other:ETH/USDT": LiveValue({"close": Decimal(7)}, timestamp.value)}


PLUGINS = [(Contributor("acme", "acme-dist"), Counter), (Contributor("other", "other-dist"), Other)]


@pytest.fixture(autouse=True)
def _reset() -> None:
    Counter.calls.clear()
    Counter.lag = 0
    Counter.broken = None


def _data(venues: list[str], **kw: Any) -> LiveMarketData:
    return LiveMarketData({"venue_config": {v: {} for v in venues}}, plugins=PLUGINS, **kw)


def test_a_third_party_venue_serves_the_backtest_series_and_gas_comes_from_the_first_venue() -> None:
    assert venues_with_live_data(PLUGINS) == ["acme", "other"]
    with _data(["acme", "other"]) as data:
        snap = data.get_data(T0)
        assert snap.get("spot:acme:ETH/USDT") == 1
        assert snap.get("gas", "gas_price_gwei") == 1  # acme is named first
        with pytest.raises(MarketDataError, match="ambiguous"):  # two venues quote ETH/USDT: name one
            snap.get("spot:ETH/USDT")
    with _data(["other", "acme"], aliases={"spot:ETH/USDT": "spot:acme:ETH/USDT"}) as data:
        snap = data.get_data(T0)
        assert snap.get("gas", "gas_price_gwei") == 99
        assert snap.get("spot:ETH/USDT") == snap.get("spot:acme:ETH/USDT") == 2  # acme's second read


def test_steps_grow_the_series_and_old_rows_are_dropped_in_place() -> None:
    with _data(["acme"], max_rows=3) as data:
        data.get_data(T0)
        s = data.series("spot:acme:ETH/USDT")
        times, closes = s.times, s.columns["close"]  # what a simulator holds on to
        for i in range(1, 7):
            data.get_data(T0 + pd.Timedelta(seconds=i))
        assert len(Counter.calls) == 7
        assert times is s.times and closes is s.columns["close"]  # the same lists, grown and trimmed
        assert list(closes) == [5, 6, 7]  # the 7th row made 2 x max_rows + 1: the oldest 4 went
        assert s.first_ns == (T0 + pd.Timedelta(seconds=4)).value
        assert s.value("close", (T0 + pd.Timedelta(seconds=6)).value) == 7
        assert data.history("spot:acme:ETH/USDT", n=2, until=T0 + pd.Timedelta(seconds=6)).column("close") == [6, 7]


def test_freshness_is_the_venues_as_of_time_not_the_read_time() -> None:
    Counter.lag = 90
    with _data(["acme"], max_age="60s") as data:
        snap = data.get_data(T0)
        with pytest.raises(StaleDataError) as e:
            snap.get("spot:acme:ETH/USDT")
        assert (e.value.key, e.value.age_seconds) == ("spot:acme:ETH/USDT", 90)
        assert data.as_of("spot:acme:ETH/USDT") == T0 - pd.Timedelta(seconds=90)
    with _data(["acme"], max_age=None) as data:
        assert data.get_data(T0).get("spot:acme:ETH/USDT") == len(Counter.calls)  # no bound: the 90 s old value


def test_a_venue_that_raises_or_breaks_the_contract_is_named() -> None:
    Counter.broken = "raise"
    with _data(["acme", "other"]) as data:
        with pytest.raises(MarketDataUnavailableError, match="ConnectionError: connection refused") as e:
            data.get_data(T0)
        assert e.value.venue == "acme" and e.value.failures == {"acme": "ConnectionError: connection refused"}
        with pytest.raises(MarketDataUnavailableError):
            data.get_data(T0)  # the same step: the same answer, no second read
        assert len(Counter.calls) == 1
        Counter.broken = None
        assert data.get_data(T0 + pd.Timedelta(seconds=1)).get("spot:acme:ETH/USDT") == 2  # the next step reads
    Counter.broken = "shape"
    with _data(["acme"]) as data, pytest.raises(MarketDataUnavailableError, match="not a LiveValue"):
        data.get_data(T0)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="timeout_s"):
        _data(["acme"], timeout_s=0)
    with pytest.raises(ConfigError, match="on_venue_error"):
        _data(["acme"], on_venue_error="ignore")
    with pytest.raises(ConfigError, match="max_age"):
        _data(["acme"], max_age="soon")


class MeetA:
    """Two venues that each wait for the other inside their read: only concurrent reads can both finish."""

    meet: ClassVar[Any] = None

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        MeetA.meet.wait(timeout=20)  # BrokenBarrierError (the venue named) if the other read never starts
        return {f"spot:{context.venue}:ETH/USDT": LiveValue({"close": Decimal(1)}, timestamp.value)}


class MeetB(MeetA):
    pass


def test_the_venues_of_one_step_are_read_concurrently() -> None:
    import threading

    MeetA.meet = threading.Barrier(2)
    plugins = [(Contributor("a", "a-dist"), MeetA), (Contributor("b", "b-dist"), MeetB)]
    with LiveMarketData({"venue_config": {"a": {}, "b": {}}}, plugins=plugins, timeout_s=30) as data:
        snap = data.get_data(T0)
        assert snap.get("spot:a:ETH/USDT") == snap.get("spot:b:ETH/USDT") == 1
