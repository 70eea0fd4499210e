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

from typing import Any, ClassVar

from basis_core.onchain import OnChainVenue, StakingHooks


class EigenLayerVenue(StakingHooks, OnChainVenue):
    """EigenLayer restaking on Ethereum."""

    name = "eigenlayer"
    description = "EigenLayer: deposit LSTs into strategies, delegate to an operator, queue / complete withdrawals"
    key_namespaces = ("eigenlayer:", "ethereum:wallet:")
    settings_options: ClassVar[frozenset[str]] = OnChainVenue.settings_options | {
        "strategies", "operator", "withdrawal_delay_blocks", "block_time", "rewards"}
    data_module: ClassVar[str] = "basis_venue_eigenlayer.data"
    backtest_backend: ClassVar[str] = "basis_venue_eigenlayer.sim:EigenLayerSim"
    live_backend: ClassVar[str] = "basis_venue_eigenlayer.live:EigenLayerLive"

    def check_options(self, options: Any) -> None:
        from basis_venue_eigenlayer.sim import parse_options

        parse_options(options)

    def instruments(self) -> tuple[str, ...]:
        from basis_venue_eigenlayer.sim import parse_options

        return parse_options(self.settings.options)[0] if self.settings is not None else ("stETH",)

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
