"""``AmmVenue``: the hook layer shared by AMM venue plugins (Uniswap, Curve) — swaps, liquidity,
quotes, the pools of a pair (``swap_pools``) and their pure models (``swap_pool_models``, when the backend has
``swap_models``), balances and notional estimates, each dispatched to the mode's backend.

A subclass sets ``name`` / ``description`` and implements ``make_backtest_backend`` /
``make_live_backend``; its backends provide ``swap(ts, instruction, quote=False)``,
``add_liquidity``, ``remove_liquidity``, ``swap_pools``, ``balances`` and ``estimate_notional``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from basis_core.deltas import ExecutionDeltas
from basis_core.hookspecs import hookimpl
from basis_core.interfaces import DEXExecutionInterface
from basis_core.live.onchain import EVM_OPTIONS, approval_mode, live_accrue


class AmmVenue(DEXExecutionInterface):
    """A DEX venue with swaps and pool liquidity on Ethereum (wallet keys ``ethereum:wallet:<TOKEN>``)."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"fills", "credentials", "live"})
    settings_options: ClassVar[frozenset[str]] = frozenset({
        "approval_mode", "deployment_table", "default_slippage_bps", "gas_units", "pools", "reanchor", "routes",
        "tokens"}) | EVM_OPTIONS

    def on_configure(self, context: Any) -> None:
        approval_mode(self.name, self.settings.options)

    @hookimpl
    def execute_swap(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self.backend.swap(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def execute_add_liquidity(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self.dispatch("add_liquidity", timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def execute_remove_liquidity(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self.dispatch("remove_liquidity", timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def quote_swap(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self.backend.swap(timestamp, instruction, quote=True)  # type: ignore[no-any-return]

    @hookimpl
    def swap_pools(self, timestamp: Any, instruction: Any) -> list[dict[str, Any]]:
        """The pools trading the instruction's pair (for the core's router)."""
        return self.backend.swap_pools(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def swap_pool_models(self, timestamp: Any, instruction: Any) -> list[Any] | None:
        """Pure models of the pair's pools (:class:`~basis_core.best_execution.model.PoolModel`), when the
        mode's backend has them (``swap_models``); None: the router quotes through ``quote_swap``."""
        models = getattr(self.backend, "swap_models", None)
        return None if models is None else models(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def encode_call(self, timestamp: Any, instruction: Any, recipient: Any) -> Any:
        """Live: a swap as the contract call an executor contract runs (None in backtest, or for other steps)."""
        if self.mode != "live" or instruction.operation != "swap":
            return None
        return self.backend.encode_call(timestamp, instruction, recipient)

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Decimal]:
        return self.backend.balances(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def estimate_notional(self, timestamp: Any, instruction: Any) -> Decimal | None:
        return self.backend.estimate_notional(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        """Live: settle journaled on-chain intents left pending (a restart, a timeout); backtest: nothing."""
        return None if self.mode != "live" else live_accrue(self)
