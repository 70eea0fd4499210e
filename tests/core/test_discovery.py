"""Discovery through real entry points: broken plugins isolated, duplicates named, allow-list, block-list."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider
from basis_core.discovery import discover_venues
from basis_core.errors import DuplicateVenueError

GOOD_MODULE = """
from basis_core import CEXExecutionInterface, ExecutionDeltas, hookimpl

class Extra(CEXExecutionInterface):
    name = "extra"

    @hookimpl
    def execute_spot_trade(self, timestamp, instruction):
        return ExecutionDeltas("extra", "spot_trade", timestamp, {"extra:spot:ETH": instruction.amount})
"""


def test_installed_venues_are_discovered_with_distribution_and_version() -> None:
    report = discover_venues()
    paper = {v.name: v for v in report.loaded}["paper"]
    assert paper.distribution == "basis-venue-paper"
    assert paper.version == "0.0.1"


def test_a_broken_plugin_is_reported_and_the_others_still_load(fake_dist: Callable[..., None]) -> None:
    fake_dist("basis-venue-broken", {"broken": "basis_venue_broken_mod:Broken"},
              {"basis_venue_broken_mod": "raise ImportError('needs a library that is not installed')\n"})
    report = discover_venues()
    failed = {f.name: f for f in report.failed}
    assert failed["broken"].distribution == "basis-venue-broken"
    assert "needs a library" in failed["broken"].error
    assert "paper" in {v.name for v in report.loaded}


def test_two_distributions_claiming_one_name_is_an_error_naming_both(fake_dist: Callable[..., None]) -> None:
    fake_dist("basis-venue-impostor", {"paper": "basis_venue_impostor_mod:Extra"},
              {"basis_venue_impostor_mod": GOOD_MODULE})
    with pytest.raises(DuplicateVenueError) as info:
        discover_venues()
    assert "basis-venue-impostor" in str(info.value) and "basis-venue-paper" in str(info.value)


def test_a_newly_installed_distribution_is_routed(fake_dist: Callable[..., None], market: DataProvider) -> None:
    fake_dist("basis-venue-extra", {"extra": "basis_venue_extra_mod:Extra"}, {"basis_venue_extra_mod": GOOD_MODULE})
    m = ExecutionInterfaceManager(data_provider=market)
    assert "extra" in [v["name"] for v in m.venues()]
    d = m.execute("2025-02-01T00:00:00Z", {"operation": "spot_trade", "venue": "extra", "symbol": "ETH/USDT",
                                           "side": "buy", "amount": "2"})
    assert d.venue == "extra"


def test_allow_list_from_the_environment(monkeypatch: pytest.MonkeyPatch, market: DataProvider) -> None:
    monkeypatch.setenv("BASIS_VENUES", "paper2, nosuchvenue")
    m = ExecutionInterfaceManager(data_provider=market)
    assert [v["name"] for v in m.venues()] == ["paper2"]
    assert m.discovery.missing == ["nosuchvenue"]


def test_block_list(market: DataProvider) -> None:
    m = ExecutionInterfaceManager({"blocked_venues": ["paper"]}, market)
    names = [v["name"] for v in m.venues()]
    assert "paper" not in names and "paper2" in names
