"""sim_pool_options: the AMM venues' ``pools`` option merged over their default pools."""

from __future__ import annotations

import pytest

from basis_core.backtest.dex import sim_pool_options
from basis_core.errors import ConfigError

DEFAULTS = {"a": {"tvl_usd": 1, "fee": 30}}


def test_overrides_update_a_default_pool_and_add_new_ones() -> None:
    merged = sim_pool_options(DEFAULTS, {"a": {"tvl_usd": 5}, "b": {"tvl_usd": 2}}, "tvl_usd")
    assert merged == {"a": {"tvl_usd": 5, "fee": 30}, "b": {"tvl_usd": 2}}
    assert DEFAULTS == {"a": {"tvl_usd": 1, "fee": 30}}  # the defaults are not mutated


def test_a_pool_that_is_not_a_mapping_names_it() -> None:
    with pytest.raises(ConfigError, match=r"pools\.a: expected a mapping \(tvl_usd, fee\)"):
        sim_pool_options(DEFAULTS, {"a": 3}, "tvl_usd, fee")
