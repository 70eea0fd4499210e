"""The on-chain kit's venue base (``basis_core.onchain.OnChainVenue``) as a third party meets it: a venue that names
no live backend does not claim ``live``, and a backend path that names nothing is a typed error saying which."""

from __future__ import annotations

import pytest

from basis_core.errors import ConfigError
from basis_core.onchain.venue import OnChainVenue, load_backend


class BacktestOnly(OnChainVenue):
    name = "backtestonly"
    backtest_backend = "collections:OrderedDict"


class WithLive(OnChainVenue):
    name = "withlive"
    live_backend = "collections:OrderedDict"


def test_a_venue_without_a_live_backend_does_not_claim_live() -> None:
    assert "live" not in BacktestOnly.capabilities
    assert {"fills", "credentials"} <= BacktestOnly.capabilities
    assert "live" in WithLive.capabilities


def test_building_a_missing_backend_names_the_venue() -> None:
    venue = BacktestOnly.__new__(BacktestOnly)
    with pytest.raises(NotImplementedError, match="backtestonly has no live backend"):
        venue.make_live_backend()


@pytest.mark.parametrize(("path", "reason"), [
    ("", r"expected 'package.module:Class', got ''"),
    ("collections", r"expected 'package.module:Class'"),
    ("no_such_module_xyz:Backend", r"cannot load 'no_such_module_xyz:Backend': ModuleNotFoundError"),
    ("collections:NoSuchClass", r"cannot load 'collections:NoSuchClass': AttributeError"),
])
def test_a_backend_path_that_names_nothing_is_a_config_error(path: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        load_backend(path)


class Intermediate(OnChainVenue):
    """A shared base of several venues (like the kit's LiquidStakingVenue): no backend of its own."""


class LeafWithLive(Intermediate):
    name = "leafwithlive"
    live_backend = "collections:OrderedDict"


class Declared(OnChainVenue):
    name = "declared"
    capabilities = frozenset({"fills", "live"})


def test_live_follows_the_backend_through_an_intermediate_base() -> None:
    assert "live" not in Intermediate.capabilities
    assert "live" in LeafWithLive.capabilities


def test_capabilities_a_class_declares_stay_as_written() -> None:
    assert Declared.capabilities == frozenset({"fills", "live"})
