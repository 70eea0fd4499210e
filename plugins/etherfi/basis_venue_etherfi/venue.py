"""The EtherFi venue plugin (entry point ``etherfi`` of ``basis_core.venues``): stake ETH (or WETH) for eETH /
weETH, wrap and unwrap, and withdraw through EtherFi's queue (request a WithdrawRequestNFT, claim it once
finalized).

Instructions: ``Stake(asset="ETH"|"WETH", amount, receive="eETH"|"weETH")`` (receive defaults to eETH),
``Stake(asset="eETH", amount, receive="weETH")`` = wrap; ``Unstake(action="unwrap", asset="weETH", amount)``;
``Unstake(action="request", asset="eETH"|"weETH", amount)`` -> status ``requested``, ``details["request_id"]``
(the NFT's id) and ``details["claimable_at"]``; ``Unstake(action="claim", request_id)`` -> status ``claimed``.

Backtest (:mod:`basis_venue_etherfi.sim`): the ``lst:weETH`` rate (``WeETH.getRate``) with the contracts' share
rounding; eETH rebases in ``accrue``; a request becomes claimable ``withdrawal_delay`` after it was made.
Live (:mod:`basis_venue_etherfi.live`, web3 imported lazily): ``LiquidityPool.deposit`` / ``requestWithdraw``,
``WeETH.wrap`` / ``unwrap``, ``WithdrawRequestNFT.claimWithdraw`` through :class:`basis_core.live.evm.EvmClient`.
Market data (:mod:`basis_venue_etherfi.data`): ``lst:weETH`` from ``weETH_ETH_oracle_*.csv`` or synthetic.

Keys: ``ethereum:wallet:ETH`` / ``WETH`` / ``eETH`` / ``weETH``; an open request ``etherfi:withdrawal:<id>``
holds the eETH it locked; ``get_balances`` adds the metrics ``etherfi:metric:claimable:<id>`` (1 once
claimable), ``etherfi:metric:claimable_at:<id>`` (unix seconds), ``etherfi:metric:value_usd:withdrawal:<id>``
and ``etherfi:metric:eeth_per_weeth``. PnL: ``staking_yield`` (eETH rebases), ``gas``.

Settings (``venue_config.etherfi``): ``withdrawal_delay`` (pandas duration or seconds, default ``"7D"``),
``gas_units``, ``charge_gas`` (true); live: ``rpc_url``, ``private_key``, ``deployment`` ("mainnet" | a JSON
path) or option ``deployment_table`` ({"contracts": {"LiquidityPool", "eETH", "weETH", "WithdrawRequestNFT",
"WETH"}} or the flat ``EtherFiWorld.deployment_table()``), ``approval_mode``, ``receipt_poll_interval``,
``receipt_timeout``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from basis_core import ExecutionDeltas, OnChainExecutionInterface, hookimpl
from basis_core.data.contrib import DataModuleHooks
from basis_core.live.onchain import EVM_OPTIONS, approval_mode, live_accrue


class EtherFiVenue(DataModuleHooks, OnChainExecutionInterface):
    """EtherFi liquid restaking on Ethereum."""

    name = "etherfi"
    description = "EtherFi: stake ETH to eETH / weETH, wrap / unwrap, withdrawal queue (request, claim)"
    key_namespaces = ("etherfi:", "ethereum:wallet:")
    settings_options: ClassVar[frozenset[str]] = frozenset({
        "approval_mode", "deployment_table", "charge_gas", "gas_units", "withdrawal_delay"}) | EVM_OPTIONS
    capabilities = frozenset({"fills", "credentials", "live"})

    data_module: ClassVar[str] = "basis_venue_etherfi.data"

    def on_configure(self, context: Any) -> None:
        from basis_venue_etherfi.sim import DEFAULT_WITHDRAWAL_DELAY, parse_delay

        opts = self.settings.options
        parse_delay(opts.get("withdrawal_delay", DEFAULT_WITHDRAWAL_DELAY))
        approval_mode(self.name, opts)

    def instruments(self) -> tuple[str, ...]:
        return ("eETH", "weETH")

    def make_backtest_backend(self) -> Any:
        from basis_venue_etherfi.sim import EtherFiSim
        return EtherFiSim(self)

    def make_live_backend(self) -> Any:
        from basis_venue_etherfi.live import EtherFiLive
        return EtherFiLive(self)

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
        if self.mode != "backtest":  # live: settle journaled intents left pending (a restart, a timeout)
            return live_accrue(self)
        return self.backend.accrue(previous, timestamp)  # type: ignore[no-any-return]

    # -- conformance kit declarations (basis_core.testing.conformance) ----------------------------------------
    def conformance_examples(self) -> dict[str, list[Any]]:
        request = {"operation": "unstake", "action": "request", "asset": "eETH", "amount": "5"}
        return {
            "stake": [
                {"operation": "stake", "asset": "ETH", "amount": "10", "receive": "eETH"},
                {"operation": "stake", "asset": "ETH", "amount": "2.5", "receive": "weETH"},
                {"operation": "stake", "asset": "WETH", "amount": "3", "receive": "weETH"},
                {"operation": "stake", "asset": "eETH", "amount": "4", "receive": "weETH"},
            ],
            "unstake": [
                {"operation": "unstake", "action": "unwrap", "asset": "weETH", "amount": "2"},
                request,
                {"operation": "unstake", "action": "request", "asset": "weETH", "amount": "1.5"},
                {"instruction": {"operation": "unstake", "action": "claim", "asset": "eETH", "request_id": "1"},
                 "setup": [request], "wait": "8D", "label": "claim"},
            ],
        }

    def conformance_balances(self) -> dict[str, str]:
        return {"ethereum:wallet:ETH": "50", "ethereum:wallet:WETH": "10", "ethereum:wallet:eETH": "20",
                "ethereum:wallet:weETH": "20"}

    def conformance_live_target(self) -> Any:
        """Our EtherFi contracts and WETH9 on a local anvil (see :mod:`basis_venue_etherfi.testing.live_target`)."""
        from basis_venue_etherfi.testing.live_target import live_target
        return live_target(self.conformance_balances())
