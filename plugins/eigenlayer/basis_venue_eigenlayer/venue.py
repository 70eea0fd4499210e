"""The EigenLayer venue plugin (entry point ``eigenlayer`` of ``basis_core.venues``): deposit a liquid staking
token into its strategy, delegate to an operator, queue a withdrawal and complete it after the escrow delay.

Instructions: ``Stake(asset=TOKEN, amount)`` = ``StrategyManager.depositIntoStrategy`` (with the option
``operator`` set, the first deposit delegates to it: ``DelegationManager.delegateTo``);
``Unstake(action="request", asset=TOKEN, amount=SHARES)`` = ``queueWithdrawals`` -> status ``requested``,
``details["request_id"]`` = the withdrawal's nonce; ``Unstake(action="claim", request_id=NONCE)`` =
``completeQueuedWithdrawal`` (as tokens) -> status ``claimed``; before the delay: an InstructionError naming
``request_id``, nothing changes.

Backtest (:mod:`basis_venue_eigenlayer.sim`): StrategyBase's share math (virtual offsets 1e3), the delay in blocks,
rebasing strategy balances (stETH / eETH), restaking rewards from ``eigenlayer:rewards:<TOKEN>``. Live
(:mod:`basis_venue_eigenlayer.live`, web3 imported lazily). Market data (:mod:`basis_venue_eigenlayer.data`):
``eigenlayer:rewards:<TOKEN>`` from ``eigenlayer_<TOKEN>_rewards_*.csv`` or synthetic.

Keys: ``ethereum:wallet:<TOKEN>``, ``ethereum:wallet:ETH`` (gas); ``eigenlayer:position:<TOKEN>`` (deposit shares),
``eigenlayer:withdrawal:<nonce>`` (queued shares), ``eigenlayer:rewards:ETH`` (backtest rewards); ``get_balances``
adds metrics (``underlying:<TOKEN>``, ``value_usd:position:<TOKEN>``, ``claimable:<nonce>``,
``claimable_at:<nonce>`` (backtest, unix seconds) or ``completable_block:<nonce>`` (live), ``delegated``).

Settings (``venue_config.eigenlayer``): ``strategies`` (backtest tokens, default ``["stETH"]``), ``operator``,
``withdrawal_delay_blocks`` (default 100800), ``block_time`` (12), ``rewards`` (true), ``gas_units``,
``charge_gas``; live: ``rpc_url``, ``private_key``, ``deployment`` / option ``deployment_table`` (see
:mod:`basis_venue_eigenlayer.live`), ``approval_mode``, ``receipt_poll_interval``, ``receipt_timeout``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from basis_core import ExecutionDeltas, OnChainExecutionInterface, hookimpl
from basis_core.data.contrib import DataModuleHooks
from basis_core.live.onchain import EVM_OPTIONS, approval_mode, live_accrue


class EigenLayerVenue(DataModuleHooks, OnChainExecutionInterface):
    """EigenLayer restaking on Ethereum."""

    name = "eigenlayer"
    description = "EigenLayer: deposit LSTs into strategies, delegate to an operator, queue / complete withdrawals"
    key_namespaces = ("eigenlayer:", "ethereum:wallet:")
    settings_options: ClassVar[frozenset[str]] = frozenset({
        "approval_mode", "deployment_table", "charge_gas", "gas_units", "strategies", "operator",
        "withdrawal_delay_blocks", "block_time", "rewards"}) | EVM_OPTIONS
    capabilities = frozenset({"fills", "credentials", "live"})

    data_module: ClassVar[str] = "basis_venue_eigenlayer.data"

    def on_configure(self, context: Any) -> None:
        from basis_venue_eigenlayer.sim import parse_options

        opts = self.settings.options
        parse_options(opts)
        approval_mode(self.name, opts)

    def instruments(self) -> tuple[str, ...]:
        from basis_venue_eigenlayer.sim import parse_options

        return parse_options(self.settings.options)[0] if self.settings is not None else ("stETH",)

    def make_backtest_backend(self) -> Any:
        from basis_venue_eigenlayer.sim import EigenLayerSim
        return EigenLayerSim(self)

    def make_live_backend(self) -> Any:
        from basis_venue_eigenlayer.live import EigenLayerLive
        return EigenLayerLive(self)

    @hookimpl
    def execute_stake(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self.backend.stake(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def execute_unstake(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self.backend.unstake(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Decimal]:
        return self.backend.balances(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def estimate_notional(self, timestamp: Any, instruction: Any) -> Decimal | None:
        return self.backend.estimate_notional(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        if self.mode != "backtest":
            return live_accrue(self)
        return self.backend.accrue(previous, timestamp)  # type: ignore[no-any-return]

    # -- conformance kit declarations (basis_core.testing.conformance) ----------------------------------------
    def conformance_examples(self) -> dict[str, list[Any]]:
        deposit = {"operation": "stake", "asset": "stETH", "amount": "10"}
        request = {"operation": "unstake", "action": "request", "asset": "stETH", "amount": "4"}
        return {
            "stake": [deposit, {"operation": "stake", "asset": "stETH", "amount": "2.5"}],
            "unstake": [
                {"instruction": request, "setup": [deposit], "label": "request"},
                {"instruction": {"operation": "unstake", "action": "claim", "asset": "stETH", "request_id": "0"},
                 "setup": [deposit, request], "wait": "15D", "label": "claim"},
            ],
        }

    def conformance_balances(self) -> dict[str, str]:
        return {"ethereum:wallet:ETH": "5", "ethereum:wallet:stETH": "50"}

    def conformance_live_target(self) -> Any:
        """Our EigenLayer contracts on a local anvil (see :mod:`basis_venue_eigenlayer.testing.live_target`)."""
        from basis_venue_eigenlayer.testing.live_target import live_target
        return live_target(self.conformance_balances())
