"""The EIP-1559 gas policy is a venue setting: fee-history percentile, base-fee multiplier, priority clamps, a
max-fee cap and the gas-limit margin, checked when read and obeyed by the client against anvil's fee history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from basis_core.config import VenueSettings
from basis_core.errors import ConfigError, LiveExecutionError
from basis_core.live.onchain import client_from_settings, gas_policy
from basis_core.testing.anvil import ANVIL_KEYS, AnvilNode

pytest.importorskip("web3")
GWEI = 10**9


def _settings(url: str = "http://127.0.0.1:1", **options: Any) -> VenueSettings:
    return VenueSettings(rpc_url=url, private_key=ANVIL_KEYS[2], **options)


def test_gas_options_reach_the_client() -> None:
    c = client_from_settings("uniswap", _settings(priority_fee_percentile=90, base_fee_multiplier=3,
                                                  fee_history_blocks=10, min_priority_fee_gwei="0.5",
                                                  max_priority_fee_gwei=4, max_fee_gwei="80.5",
                                                  gas_limit_multiplier="1.5", gas_limit_headroom=100_000))
    assert (c.priority_fee_percentile, c.base_fee_multiplier, c.fee_history_blocks) == (90.0, 3, 10)
    assert (c.min_priority_fee_per_gas, c.max_priority_fee_per_gas, c.max_fee_per_gas_cap) == (
        GWEI // 2, 4 * GWEI, 80_500_000_000)
    assert (c.gas_limit_multiplier, c.gas_limit_headroom) == (1.5, 100_000)
    default = client_from_settings("uniswap", _settings())
    assert default.gas_limit_headroom == 60_000 and default.max_fee_per_gas_cap is None


@pytest.mark.parametrize(("option", "value"), [
    ("priority_fee_percentile", 101), ("priority_fee_percentile", "x"), ("base_fee_multiplier", 0),
    ("fee_history_blocks", "2.5"), ("gas_limit_multiplier", "0.9"), ("max_fee_gwei", -1), ("gas_limit_headroom", "nan"),
])
def test_bad_gas_options_are_refused_naming_them(option: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"venue_config.curve.{option}"):
        gas_policy("curve", {option: value})


def test_fees_follow_the_fee_history_percentile_clamps_and_cap(chain: AnvilNode) -> None:
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(chain.url))
    sender = w3.eth.accounts[3]
    for tip in (1, 2, 3, 4, 5):  # one block each (anvil mines every transaction): rewards of 1..5 gwei
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({
            "from": sender, "to": sender, "value": 1, "maxPriorityFeePerGas": tip * GWEI,
            "maxFeePerGas": 100 * GWEI}))
    hist = w3.eth.fee_history(5, "latest", [50.0])
    base_next = int(hist["baseFeePerGas"][-1])
    assert sorted(int(r[0]) for r in hist["reward"]) == [g * GWEI for g in (1, 2, 3, 4, 5)]

    c = client_from_settings("uniswap", _settings(chain.url, fee_history_blocks=5))
    assert c.fees() == (2 * base_next + 3 * GWEI, 3 * GWEI)  # the median block's reward, twice the base fee
    c = client_from_settings("uniswap", _settings(chain.url, fee_history_blocks=5, max_priority_fee_gwei=2,
                                                  base_fee_multiplier=3))
    assert c.fees() == (3 * base_next + 2 * GWEI, 2 * GWEI)
    cap = base_next + 3 * GWEI + 1
    c = client_from_settings("uniswap", _settings(chain.url, fee_history_blocks=5,
                                                  max_fee_gwei=str(Decimal(cap).scaleb(-9))))
    assert c.fees() == (cap, 3 * GWEI)  # capped, still enough for the next block
    c = client_from_settings("uniswap", _settings(chain.url, fee_history_blocks=5, max_fee_gwei="0.000000001"))
    with pytest.raises(LiveExecutionError, match="max_fee_per_gas_cap"):
        c.fees()
