"""The Morpho Blue venue plugin (entry point ``morpho`` of ``basis_core.venues``): isolated markets identified by
(loan token, collateral token, oracle, IRM, LLTV) with aliases such as ``wstETH/WETH-94.5``.

Operations: ``supply`` (the market's loan token lends; its collateral token is posted as collateral),
``withdraw`` (either side; ``"max"``), ``borrow``, ``repay`` (``"max"``: every borrow share), ``liquidate``
(as the liquidator), and Morpho's fee-free flash loan as the ``flash_loan`` of an atomic bundle
(``flash_loan_premium`` 0; live, a bundle with ``venue: "morpho"`` runs as one transaction through our
executor contract, :mod:`basis_venue_morpho.executor`, with other venues' steps such as swaps encoded by them).
Instructions name the market in ``market`` (alias); without it the venue takes the one market the asset fits,
preferring the one where the account holds the position acted on.

Backtest: :mod:`basis_venue_morpho.sim` on the contract's integer math (:mod:`basis_venue_morpho.math`) and the
market states of :mod:`basis_venue_morpho.data`. Settings (``venue_config.morpho``): ``markets`` (see
:mod:`basis_venue_morpho.markets`), ``accounts`` (backtest borrowers a liquidator can act on), ``gas_units``,
``charge_gas`` (true), ``liquidations`` (true: this account's unhealthy positions are liquidated at accrual).

Live (:mod:`basis_venue_morpho.live`, web3 imported lazily): ``rpc_url``, ``private_key``, ``deployment``
("mainnet" | a JSON path) or option ``deployment_table`` (a dict, see :mod:`basis_venue_morpho.deployment`),
options ``approval_mode`` ("exact" | "unlimited"), ``receipt_poll_interval`` / ``receipt_timeout`` (s), ``executor``
(our MorphoBundleExecutor's address for atomic bundles, or the table's ``contracts.MorphoBundleExecutor``). Live
market data (:mod:`basis_venue_morpho.market_data`): ``morpho:<alias>`` of every table market, read from the chain.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from basis_core import ExecutionDeltas, hookimpl
from basis_core.onchain import AtomicHooks, LendingHooks, OnChainVenue

MARKET = "wstETH/WETH-94.5"


class MorphoVenue(AtomicHooks, LendingHooks, OnChainVenue):
    """Morpho Blue on Ethereum."""

    name = "morpho"
    description = "Morpho Blue: isolated markets, supply / collateral / borrow / repay / liquidate, free flash loans"
    key_namespaces = ("morpho:", "ethereum:wallet:")
    settings_options: ClassVar[frozenset[str]] = OnChainVenue.settings_options | {
        "markets", "accounts", "liquidations", "executor"}
    data_module: ClassVar[str] = "basis_venue_morpho.data"
    backtest_backend: ClassVar[str] = "basis_venue_morpho.sim:MorphoSim"
    live_backend: ClassVar[str] = "basis_venue_morpho.live:MorphoLive"

    def check_options(self, options: Any) -> None:
        from basis_venue_morpho.markets import build_markets
        from basis_venue_morpho.sim import build_accounts

        build_accounts(options, build_markets(options))

    def flash_loan_premium(self) -> Decimal:
        """Morpho's flash loans are free."""
        return Decimal(0)

    def instruments(self) -> tuple[str, ...]:
        from basis_venue_morpho.markets import build_markets
        return tuple(build_markets(self.settings.options))

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        from basis_venue_morpho.market_data import read_market_data
        return read_market_data(timestamp, keys, context)

    # -- operations beyond LendingHooks' supply / withdraw / borrow / repay / risk_state and the atomic bundle ----
    @hookimpl
    def execute_liquidate(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self.backend.liquidate(timestamp, instruction)  # type: ignore[no-any-return]

    # -- conformance kit declarations (basis_core.testing.conformance) ----------------------------------------
    def conformance_examples(self) -> dict[str, list[Any]]:
        coll = {"operation": "supply", "asset": "wstETH", "amount": "10", "market": MARKET}
        lend = {"operation": "supply", "asset": "WETH", "amount": "3", "market": MARKET}
        borrow = {"operation": "borrow", "asset": "WETH", "amount": "5"}
        return {
            "supply": [coll, lend, {"operation": "supply", "asset": "USDC", "amount": "5000"}],
            "withdraw": [
                {"instruction": {"operation": "withdraw", "asset": "wstETH", "amount": "4", "market": MARKET},
                 "setup": [coll]},
                {"instruction": {"operation": "withdraw", "asset": "WETH", "amount": "max", "market": MARKET},
                 "setup": [lend], "wait": "1D", "label": "max-lend-after-a-day"},
            ],
            "borrow": [{"instruction": borrow, "setup": [coll]}],
            "repay": [
                # a repay above the debt repays every share (amount=huge is valid then)
                {"instruction": {"operation": "repay", "asset": "WETH", "amount": "2"}, "setup": [coll, borrow],
                 "skip_variants": ("amount=huge",)},
                {"instruction": {"operation": "repay", "asset": "WETH", "amount": "max", "market": MARKET},
                 "setup": [coll, borrow], "wait": "1D", "label": "max-after-a-day", "skip_variants": ("amount=huge",)},
            ],
            "atomic": [
                # flash-borrow 5 WETH (free), post 10 wstETH, borrow the 5 WETH back to repay: one transaction live
                {"instruction": {"operation": "atomic", "venue": "morpho",
                                 "flash_loan": {"venue": "morpho", "asset": "WETH", "amount": "5"},
                                 "steps": [{**coll, "venue": "morpho"}, {**borrow, "venue": "morpho"}]},
                 "label": "flash-collateral-borrow"},
            ],
            "liquidate": [
                {"instruction": {"operation": "liquidate", "market": MARKET, "borrower": "bob", "amount": "2"},
                 "skip_variants": ("amount=huge",)},
                {"instruction": {"operation": "liquidate", "market": MARKET, "borrower": "bob"}, "label": "max",
                 "skip_variants": ("amount=huge",)},
            ],
        }

    def conformance_settings(self) -> dict[str, Any]:
        # bob's position is unhealthy: 10 wstETH (~11.9 WETH) x 0.945 < 12 WETH of debt
        return {"accounts": {"bob": {"market": MARKET, "collateral": "10", "borrow": "12"}}}

    def conformance_live_target(self) -> Any:
        """A local Morpho Blue on anvil (the real contract, see :mod:`basis_venue_morpho.testing.live_target`)."""
        from basis_venue_morpho.testing.live_target import live_target
        return live_target(self.conformance_balances())

    def conformance_balances(self) -> dict[str, str]:
        return {"ethereum:wallet:ETH": "10", "ethereum:wallet:WETH": "100", "ethereum:wallet:wstETH": "100",
                "ethereum:wallet:weETH": "100", "ethereum:wallet:USDC": "1000000"}
