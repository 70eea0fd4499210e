"""Token valuation is a venue's declaration (``token_prices`` hook): the core prices stablecoins, ETH and BTC, and
every token a venue issues through what that venue declares (numeraire x exchange-rate series)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from basis_core import ExecutionInterfaceManager, hookimpl
from basis_core.backtest.valuation import lst_rate_gain, market_usd_price
from basis_core.data.prices import TokenPrice, installed_token_prices, usd_price
from basis_core.data.provider import DataProvider
from basis_core.data.series import Series
from basis_core.errors import MarketDataError
from basis_core.interfaces import OnChainExecutionInterface

D = Decimal
T0 = pd.Timestamp("2025-03-01T00:00:00Z")
H = pd.Timedelta(hours=1)


def market(**extra: Series) -> DataProvider:
    times = [T0.value, (T0 + H).value]
    return DataProvider([
        Series("oracle:ETH/USD", times, {"price": [D("2500"), D("2600")]}),
        Series("spot:ETH/USDT", times, {"close": [D("2501"), D("2601")]}),
        Series("lst:wstETH", times, {"rate": [D("1.2"), D("1.21")]}),
        Series("lst:xETH", times, {"rate": [D("1.5"), D("1.5")]}),
        *extra.values(),
    ])


class XVenue(OnChainExecutionInterface):
    """A third party's venue issuing xETH (worth lst:xETH.rate ETH) and yxETH (1:1 claims on xETH)."""

    name = "xvenue"

    @staticmethod
    @hookimpl
    def token_prices() -> Any:
        return {"xETH": TokenPrice("ETH", "lst:xETH"), "yxETH": TokenPrice("xETH")}


def test_the_installed_venues_declare_their_staking_tokens() -> None:
    """Lido and EtherFi declare their tokens; the core's own pricing names none of them."""
    got = installed_token_prices()
    assert got["stETH"] == TokenPrice("ETH") and got["wstETH"] == TokenPrice("ETH", "lst:wstETH")
    assert got["eETH"] == TokenPrice("ETH") and got["weETH"] == TokenPrice("ETH", "lst:weETH")


def test_declared_tokens_are_priced_by_numeraire_times_rate() -> None:
    snap = market().get_data(T0)
    assert usd_price(snap, "stETH") == D("2500")  # 1:1 claim on ETH at the oracle
    assert usd_price(snap, "wstETH") == D("2500") * D("1.2")
    # valuation prices ETH claims at the hedge market (spot:ETH/USDT)
    assert market_usd_price(snap, "wstETH") == D("2501") * D("1.2")
    assert market_usd_price(snap, "stETH") == D("2501")
    assert market_usd_price(snap, "wstETH", "oracle") == D("2500") * D("1.2")


def test_a_third_party_token_is_priced_once_its_venue_is_registered() -> None:
    provider = market()
    with pytest.raises(MarketDataError, match="xETH"):
        usd_price(provider.get_data(T0), "xETH")
    ExecutionInterfaceManager({"autoload": False}, provider, "backtest", plugins=[XVenue])
    snap = provider.get_data(T0)
    assert usd_price(snap, "xETH") == D("2500") * D("1.5")
    assert usd_price(snap, "yxETH") == D("2500") * D("1.5")  # a chain: yxETH -> xETH -> ETH
    assert market_usd_price(snap, "yxETH") == D("2501") * D("1.5")
    assert usd_price(snap, "wstETH") == D("2500") * D("1.2")  # the installed declarations still hold


def test_staking_yield_is_the_declared_rate_growth() -> None:
    provider = market()
    gain = lst_rate_gain(provider.get_data(T0), provider.get_data(T0 + H),
                         {"ethereum:wallet:wstETH": D(10), "aave:debt:wstETH": D(4), "ethereum:wallet:stETH": D(5)})
    assert gain == (10 - 4) * D("2601") * (D("1.21") - D("1.2"))


def test_a_bad_declaration_is_an_error_naming_the_venue() -> None:
    class Bad(XVenue):
        name = "badvenue"

        @staticmethod
        @hookimpl
        def token_prices() -> Any:
            return {"zETH": "ETH"}

    with pytest.raises(Exception, match="badvenue: token_prices must return a mapping"):
        ExecutionInterfaceManager({"autoload": False}, market(), "backtest", plugins=[Bad])
