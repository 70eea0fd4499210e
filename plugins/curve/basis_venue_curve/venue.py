"""The Curve venue plugin (entry point ``curve`` of ``basis_core.venues``): StableSwap swaps, liquidity,
price-impact quotes and gas.

Backtest (:mod:`basis_venue_curve.sim`): virtual pools anchored balanced (stablecoins at 1) running the
contract's exact integer math. Live (:mod:`basis_venue_curve.live`, web3 imported lazily): ``exchange``,
``add_liquidity``, ``remove_liquidity`` on the pool, deltas decoded from receipts.

Pools: ``2pool`` (USDC / USDT), ``3pool`` (DAI / USDC / USDT); a swap without ``pool`` uses ``3pool``.
Keys: ``ethereum:wallet:<TOKEN>`` (gas in ``ethereum:wallet:ETH``), LP tokens ``curve:lp:<pool>``.
PnL components: ``price_impact``, ``trading_fees`` (swap fee in the output coin, imbalance fees), ``gas``.

Settings (``venue_config.curve``): backtest options ``pools`` ({name: {coins, A, fee, admin_fee, tvl_usd}}),
``routes`` ({"A/B": pool}), ``reanchor`` (default true), ``gas_units``, ``tokens`` ({symbol: decimals});
live: ``rpc_url``, ``private_key``, ``deployment`` ("mainnet" | "local" | a JSON path; or option
``deployment_table``: a dict),
options ``receipt_poll_interval``, ``receipt_timeout``, ``approval_mode`` ("exact" | "unlimited"),
``default_slippage_bps``, ``eth_usd`` (ETH price for the gas pnl when the manager has no market data).
Curve's ``exchange`` takes no deadline: live mode refuses an expired deadline before sending, and that is
the only check (a transaction mined later than the deadline still executes).
"""

from __future__ import annotations

from typing import Any, ClassVar

from basis_core.backtest.amm_venue import AmmVenue
from basis_core.hookspecs import hookimpl


class CurveVenue(AmmVenue):
    """Curve StableSwap pools on Ethereum."""

    name = "curve"
    description = "Curve StableSwap: swaps, liquidity, price-impact quotes, gas (exact pool math)"
    key_namespaces = ("curve:", "ethereum:wallet:")
    settings_options: ClassVar[frozenset[str]] = AmmVenue.settings_options | {"eth_usd"}

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        """Pool states (balances, A, fee, LP supply) of the deployed pools, and gas (:mod:`.market_data`)."""
        from basis_venue_curve.market_data import read_market_data

        return read_market_data(keys, context)

    def instruments(self) -> tuple[str, ...]:
        from basis_venue_curve.sim import DEFAULT_POOLS
        return tuple(DEFAULT_POOLS)

    def make_backtest_backend(self) -> Any:
        from basis_venue_curve.sim import CurveSim
        return CurveSim(self)

    def make_live_backend(self) -> Any:
        from basis_venue_curve.live import CurveLive
        return CurveLive(self)

    # operations (swap, liquidity, quote, balances, notional): AmmVenue dispatches them to the backend

    # -- conformance kit declarations (basis_core.testing.conformance) ----------------------------------------
    def conformance_examples(self) -> dict[str, list[Any]]:
        add3 = {"operation": "add_liquidity", "pool": "3pool", "amounts": {"USDC": "1000", "DAI": "250"}}
        add2 = {"operation": "add_liquidity", "pool": "2pool", "amounts": {"USDC": "1000", "USDT": "1000"}}
        return {
            "swap": [
                {"operation": "swap", "token_in": "USDC", "token_out": "USDT", "amount_in": "10000"},
                {"operation": "swap", "token_in": "DAI", "token_out": "USDC", "amount_in": "5000.25", "pool": "3pool",
                 "max_slippage_bps": "5"},
                {"operation": "swap", "token_in": "USDT", "token_out": "USDC", "amount_in": "2500.5", "pool": "2pool",
                 "min_amount_out": "2400"},
            ],
            "add_liquidity": [add3, add2],
            "remove_liquidity": [
                {"instruction": {"operation": "remove_liquidity", "pool": "3pool", "lp_amount": "max"},
                 "setup": [add3]},
                {"instruction": {"operation": "remove_liquidity", "pool": "2pool", "lp_amount": "500",
                                 "min_amounts": {"USDC": "240"}},
                 "setup": [add2, {"operation": "swap", "token_in": "USDC", "token_out": "USDT", "amount_in": "200000",
                                  "pool": "2pool"}]},
            ],
        }

    def conformance_live_target(self) -> Any:
        """Our StableSwap pools on a local anvil (see :mod:`basis_venue_curve.testing.live_target`)."""
        from basis_venue_curve.testing.live_target import live_target
        return live_target(self.conformance_balances())

    def conformance_balances(self) -> dict[str, str]:
        return {"ethereum:wallet:USDC": "1000000", "ethereum:wallet:USDT": "1000000",
                "ethereum:wallet:DAI": "1000000", "ethereum:wallet:ETH": "10"}
