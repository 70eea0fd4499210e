"""The live market data of a scenario (``basis run SCENARIO --mode paper|live --data live``).

:func:`live_data_provider` builds a :class:`~basis_core.live.market_data.LiveMarketData` from what a scenario
already says: its ``venue_config`` (``base_url`` of a CEX or an emulator, ``rpc_url`` and ``deployment`` of an
on-chain venue) and its ``venues`` allow-list. No credentials are read or needed.
"""

from __future__ import annotations

import logging
from typing import Any

from basis_core.errors import ConfigError

log = logging.getLogger(__name__)


def live_data_provider(scenario: Any, *, mode: str = "paper", **options: Any) -> Any:
    """The live market data of ``scenario`` (a :class:`~basis_core.backtest.scenario.Scenario`).

    The venues read: the scenario's ``venues`` (or, without an allow-list, the venues its ``venue_config`` names)
    that contribute live market data; a named venue that contributes none is left out with a warning (its
    instruments then have no data: the run's pre-flight reports it). ``mode`` (``paper`` | ``live``) does not change
    the reads. ``options`` go to :class:`~basis_core.live.market_data.LiveMarketData` (``max_age``, ``timeout_s``,
    ``on_venue_error``, ``keys``, ``aliases``, ``max_rows``, ``plugins``).

    :raises ConfigError: no named venue contributes live market data.
    """
    from basis_core.live.market_data import LiveMarketData, venues_with_live_data

    if mode not in ("paper", "live"):
        raise ConfigError(f"mode: 'paper' or 'live', got {mode!r}")
    named = list(scenario.venues) if scenario.venues is not None else list(scenario.venue_config)
    serving = set(venues_with_live_data(options.get("plugins")))
    venues = [v for v in named if v in serving]
    for v in named:
        if v not in serving:
            log.warning("venue %r contributes no live market data; its instruments will have none", v)
    if not venues:
        raise ConfigError("venues: none of the scenario's venues (" + (", ".join(named) or "none named: set "
                          "'venues' or 'venue_config'") + ") contributes live market data; venues that do: "
                          + (", ".join(sorted(serving)) or "none"))
    config = {"venue_config": {k: dict(v) for k, v in scenario.venue_config.items()}}
    return LiveMarketData(config, venues=venues, **options)
