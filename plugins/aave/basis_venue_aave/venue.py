"""The Aave v3 venue plugin (entry point ``aave`` of ``basis_core.venues``): supply, withdraw, variable-rate
borrow, repay, e-mode, health factor, liquidations, flash loans and (live) atomic flash-loan bundles.

Backtest (:mod:`basis_venue_aave.sim`): scaled balances on the ``aave:<asset>`` index snapshots, Aave's
integer account math and validation, liquidations at accrual points. Live (:mod:`basis_venue_aave.live`,
web3 imported lazily): the stable IPool calls ``supply`` / ``borrow`` / ``repay`` / ``withdraw`` /
``setUserEMode`` / ``getUserAccountData`` through :class:`basis_core.live.evm.EvmClient`, and atomic bundles
as ONE transaction through our own executor contract (``contracts/LoopExecutor.sol``: Aave
``flashLoanSimple``, the steps in its callback, repay; a revert anywhere changes nothing).

Keys: wallet ``ethereum:wallet:<TOKEN>`` (gas in ``ethereum:wallet:ETH``), ``aave:supplied:<asset>`` and
``aave:debt:<asset>`` (positive = owed) in token units, metrics ``aave:metric:health_factor`` (the
contract's wad; with no debt ``type(uint256).max / 1e18``, as ``getUserAccountData`` returns it),
``aave:metric:ltv`` (debt / collateral value now), ``aave:metric:max_ltv`` (``getUserAccountData.ltv``,
the collateral-weighted maximum), ``aave:metric:liquidation_threshold``, ``aave:metric:borrowing_power_usd``
(``availableBorrowsBase``), ``aave:metric:collateral_usd``, ``aave:metric:debt_usd``,
``aave:metric:e_mode_category``. PnL components: ``lending_interest`` (+), ``borrow_interest`` (-),
``liquidation`` (-, the bonus paid), ``gas``; the core adds ``flash_loan_fee`` to bundles.

Settings (``venue_config.aave``): backtest options ``reserves`` ({asset: {ltv, liquidation_threshold,
liquidation_bonus, decimals, e_mode_category, borrowing_enabled}}, fractions), ``e_mode_categories``
({id: {ltv, liquidation_threshold, liquidation_bonus, label}}), ``flash_loan_premium_bps`` (5),
``gas_units`` ({operation: units}), ``charge_gas`` (true), ``liquidations`` (true). Live: ``rpc_url``,
``private_key``, ``deployment`` ("mainnet" | a JSON path) or option ``deployment_table`` (a dict, see
:mod:`basis_venue_aave.deployment`), options ``approval_mode`` ("exact" | "unlimited"),
``receipt_poll_interval`` (s), ``receipt_timeout`` (s).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from basis_core import hookimpl
from basis_core.onchain import AtomicHooks, LendingHooks, OnChainVenue


class AaveVenue(AtomicHooks, LendingHooks, OnChainVenue):
    """Aave v3 on Ethereum."""

    name = "aave"
    description = "Aave v3: supply, borrow (variable), repay, withdraw, e-mode, health factor, flash-loan bundles"
    key_namespaces = ("aave:", "ethereum:wallet:")
    settings_options: ClassVar[frozenset[str]] = OnChainVenue.settings_options | {
        "executor", "e_mode_categories", "flash_loan_premium_bps", "liquidations", "reserves"}
    # market data: FILES and synthetic_series of this module, served on the class (DataModuleHooks)
    data_module: ClassVar[str] = "basis_venue_aave.data"
    backtest_backend: ClassVar[str] = "basis_venue_aave.sim:AaveSim"
    live_backend: ClassVar[str] = "basis_venue_aave.live:AaveLive"

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        """Reserve indices, rates and oracle prices, and gas, from the market's contracts (:mod:`.market_data`)."""
        from basis_venue_aave.market_data import read_market_data

        return read_market_data(keys, context)

    def check_options(self, options: Any) -> None:
        from basis_venue_aave.sim import build_emode, build_reserves, flash_loan_premium_bps

        self._premium_bps = flash_loan_premium_bps(options)
        build_reserves(options)
        build_emode(options)

    def flash_loan_premium(self) -> Decimal:
        """Aave's flash-loan premium as a fraction (default 5 bps = 0.0005)."""
        return Decimal(getattr(self, "_premium_bps", 5)) / 10_000

    def instruments(self) -> tuple[str, ...]:
        from basis_venue_aave.params import RESERVES
        return tuple(RESERVES)

    # -- beyond LendingHooks' supply / withdraw / borrow / repay / risk_state and AtomicHooks' bundle -----------
    @hookimpl
    def estimate_notional(self, timestamp: Any, instruction: Any) -> Decimal | None:
        return self.backend.estimate_notional(timestamp, instruction)  # type: ignore[no-any-return]

    # -- conformance kit declarations (basis_core.testing.conformance) ----------------------------------------
    def conformance_examples(self) -> dict[str, list[Any]]:
        supply = {"operation": "supply", "asset": "wstETH", "amount": "10", "e_mode_category": 1}
        supply_usdc = {"operation": "supply", "asset": "USDC", "amount": "100000"}
        borrow = {"operation": "borrow", "asset": "WETH", "amount": "5"}
        return {
            "supply": [supply, supply_usdc, {"operation": "supply", "asset": "WETH", "amount": "1.5"}],
            "withdraw": [
                {"instruction": {"operation": "withdraw", "asset": "wstETH", "amount": "4"}, "setup": [supply]},
                {"instruction": {"operation": "withdraw", "asset": "wstETH", "amount": "max"}, "setup": [supply],
                 "label": "max"},
            ],
            "borrow": [
                {"instruction": borrow, "setup": [supply]},
                {"instruction": {"operation": "borrow", "asset": "USDT", "amount": "20000"}, "setup": [supply_usdc]},
            ],
            "repay": [
                # Aave repays at most the debt: a repay above it (amount=huge) is valid and repays the debt
                {"instruction": {"operation": "repay", "asset": "WETH", "amount": "2"}, "setup": [supply, borrow],
                 "skip_variants": ("amount=huge",)},
                {"instruction": {"operation": "repay", "asset": "WETH", "amount": "max"},
                 "setup": [supply, borrow], "wait": "1D", "label": "max-after-a-day",
                 "skip_variants": ("amount=huge",)},
            ],
            "atomic": [
                {"instruction": {"operation": "atomic", "venue": "atomic",
                                 "flash_loan": {"venue": "aave", "asset": "WETH", "amount": "10"},
                                 "steps": [{"operation": "supply", "venue": "aave", "asset": "WETH", "amount": "10",
                                            "e_mode_category": 1},
                                           {"operation": "borrow", "venue": "aave", "asset": "WETH",
                                            "amount": "10.005"}],
                                 "min_health_factor": "1.01"},
                 "setup": [supply], "label": "flash-loop"},
            ],
        }

    def conformance_live_target(self) -> Any:
        """A real Aave v3 market on a local anvil (see :mod:`basis_venue_aave.testing.live_target`)."""
        from basis_venue_aave.testing.live_target import live_target
        return live_target(self.conformance_balances())

    def conformance_balances(self) -> dict[str, str]:
        return {"ethereum:wallet:ETH": "10", "ethereum:wallet:WETH": "100", "ethereum:wallet:wstETH": "100",
                "ethereum:wallet:USDC": "1000000", "ethereum:wallet:USDT": "1000000"}
