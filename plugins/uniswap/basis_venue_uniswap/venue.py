"""The Uniswap venue plugin (entry point ``uniswap`` of ``basis_core.venues``): v2 and v3 swaps, liquidity,
price-impact quotes and gas.

Backtest (:mod:`basis_venue_uniswap.sim`): virtual pools anchored to the as-of market price, running the
contracts' exact integer math. Live (:mod:`basis_venue_uniswap.live`, web3 imported lazily): Router02
``swapExactTokensForTokens``, SwapRouter ``exactInputSingle``, liquidity through Router02 / the
NonfungiblePositionManager, deltas decoded from receipts.

Pool ids: ``v2:WETH/USDC``, ``v3:WETH/USDC:500`` ... (:mod:`basis_venue_uniswap.deployment`); without
``pool`` a swap takes the pair's default route (WETH/USDC and WETH/USDT: the v3 0.05 % pool; WETH/DAI: v3
0.3 %; USDC/USDT and DAI/USDC: v3 0.01 %).

Keys: ``ethereum:wallet:<TOKEN>`` (gas in ``ethereum:wallet:ETH``), v2 LP ``uniswap:lp:v2:WETH/USDC``
(LP tokens), v3 positions ``uniswap:lp:v3:WETH/USDC:500#<position id>`` (balance = liquidity L; live: the
position NFT's token id). PnL components: ``price_impact``, ``trading_fees``, ``gas``.

Settings (``venue_config.uniswap``): backtest options ``pools`` ({pool id: {tvl_usd, range_pct, liquidity,
price_series, fee_bps}}), ``routes`` ({"A/B": pool id}), ``reanchor`` (bool, default true), ``gas_units``
({operation: units}), ``position_range_pct``, ``tokens`` ({symbol: decimals}); live: ``rpc_url``,
``private_key``, ``deployment`` ("mainnet" | "local" | a JSON path; or option ``deployment_table``: a
dict), options ``receipt_poll_interval`` (s, default 0.005), ``receipt_timeout`` (s, 120),
``approval_mode`` ("exact" | "unlimited", default "exact"), ``deadline_seconds`` (300),
``default_slippage_bps`` (50: the on-chain minimum when the instruction gives no bound).
"""

from __future__ import annotations

from typing import Any, ClassVar

from basis_core import hookimpl
from basis_core.backtest.amm_venue import AmmVenue


class UniswapVenue(AmmVenue):
    """Uniswap v2 / v3 on Ethereum."""

    name = "uniswap"
    description = "Uniswap v2 / v3: swaps, liquidity, price-impact quotes, gas (exact pool math)"
    key_namespaces = ("uniswap:", "ethereum:wallet:")
    settings_options: ClassVar[frozenset[str]] = AmmVenue.settings_options | {"position_range_pct", "deadline_seconds"}

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        """Pool states and prices of the deployed pools, and gas (:mod:`.market_data`)."""
        from basis_venue_uniswap.market_data import read_market_data

        return read_market_data(keys, context)

    # -- market data (static: called on the class, before any manager exists; see basis_venue_uniswap.data)
    @staticmethod
    @hookimpl
    def market_data_files() -> Any:
        from basis_venue_uniswap.data import FILES

        return FILES

    def instruments(self) -> tuple[str, ...]:
        from basis_venue_uniswap.sim import DEFAULT_POOLS
        return tuple(DEFAULT_POOLS)

    def make_backtest_backend(self) -> Any:
        from basis_venue_uniswap.sim import UniswapSim
        return UniswapSim(self)

    def make_live_backend(self) -> Any:
        from basis_venue_uniswap.live import UniswapLive
        return UniswapLive(self)

    # operations (swap, liquidity, quote, balances, notional): AmmVenue dispatches them to the backend

    # -- conformance kit declarations (basis_core.testing.conformance) ----------------------------------------
    def conformance_examples(self) -> dict[str, list[Any]]:
        v2_add = {"operation": "add_liquidity", "pool": "v2:WETH/USDC", "amounts": {"WETH": "1", "USDC": "1800"}}
        v3_add = {"operation": "add_liquidity", "pool": "v3:WETH/USDC:500", "amounts": {"WETH": "1", "USDC": "1800"}}
        return {
            "swap": [
                {"operation": "swap", "token_in": "USDC", "token_out": "WETH", "amount_in": "5000"},
                {"operation": "swap", "token_in": "WETH", "token_out": "USDC", "amount_in": "2", "pool": "v2:WETH/USDC",
                 "max_slippage_bps": "50"},
                {"operation": "swap", "token_in": "WETH", "token_out": "USDT", "amount_in": "1.5",
                 "pool": "v3:WETH/USDT:3000", "min_amount_out": "1000"},
                {"operation": "swap", "token_in": "USDC", "token_out": "USDT", "amount_in": "25000"},
            ],
            "add_liquidity": [
                v2_add,
                v3_add,
                {"operation": "add_liquidity", "pool": "v3:WETH/USDC:3000", "amounts": {"WETH": "1"},
                 "tick_lower": 190020, "tick_upper": 201000},
            ],
            "remove_liquidity": [
                {"instruction": {"operation": "remove_liquidity", "pool": "v2:WETH/USDC", "lp_amount": "max"},
                 "setup": [v2_add]},
                {"instruction": {"operation": "remove_liquidity", "pool": "v3:WETH/USDC:500", "position_id": "1"},
                 "setup": [v3_add, {"operation": "swap", "token_in": "WETH", "token_out": "USDC", "amount_in": "20",
                                    "pool": "v3:WETH/USDC:500"}]},
            ],
        }

    def conformance_live_target(self) -> Any:
        """The real Uniswap v2 / v3 on a local anvil (see :mod:`basis_venue_uniswap.testing.live_target`)."""
        from basis_venue_uniswap.testing.live_target import live_target
        return live_target(self.conformance_balances())

    def conformance_balances(self) -> dict[str, str]:
        return {"ethereum:wallet:WETH": "100", "ethereum:wallet:USDC": "1000000", "ethereum:wallet:USDT": "1000000",
                "ethereum:wallet:DAI": "1000000", "ethereum:wallet:ETH": "10"}
