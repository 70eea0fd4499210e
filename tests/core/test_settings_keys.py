"""Misspelled venue settings are errors naming the key (``slipage``, ``fess``), never silently ignored."""

from __future__ import annotations

from typing import Any

import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.data import synthetic_market
from basis_core.errors import ConfigError

MARKET = synthetic_market(hours=48)


def _manager(venue: str, settings: dict[str, Any]) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"venues": [venue], "venue_config": {venue: settings}}, MARKET, "backtest")


@pytest.mark.parametrize(("venue", "key", "hint"), [
    ("binance", "slipage", "slippage"), ("hyperliquid", "defualt_leverage", "default_leverage"),
    ("uniswap", "pool", "pools"), ("aave", "reserve", "reserves"), ("lido", "withdrawl_delay", "withdrawal_delay"),
    ("curve", "fess", "fees"),
])
def test_an_unknown_key_names_itself_and_the_closest_known_key(venue: str, key: str, hint: str) -> None:
    pytest.importorskip(f"basis_venue_{venue}")
    want = rf"venue_config\.{venue}\.{key}: unknown setting \(did you mean '{hint}'\?\)"
    with pytest.raises(ConfigError, match=want):
        _manager(venue, {key: "1"})


def test_known_keys_are_accepted() -> None:
    pytest.importorskip("basis_venue_binance")
    m = _manager("binance", {"fees": {"spot_taker": "0.0005"}, "default_leverage": "5", "recv_window_ms": 3000})
    assert "binance" in {v["name"] for v in m.venues()}
