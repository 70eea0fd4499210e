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

from typing import Any, ClassVar

from basis_core.onchain import LiquidStaking, LiquidStakingVenue

#: etherfi's tokens and withdrawal queue (shared by the backtest and live backends)
ETHERFI = LiquidStaking("etherfi", "eETH", "weETH", withdrawal_delay="7D")


class EtherFiVenue(LiquidStakingVenue):
    """EtherFi liquid restaking on Ethereum."""

    name = "etherfi"
    description = "EtherFi: stake ETH to eETH / weETH, wrap / unwrap, withdrawal queue (request, claim)"
    key_namespaces = ("etherfi:", "ethereum:wallet:")
    liquid = ETHERFI
    data_module: ClassVar[str] = "basis_venue_etherfi.data"
    backtest_backend: ClassVar[str] = "basis_venue_etherfi.sim:EtherFiSim"
    live_backend: ClassVar[str] = "basis_venue_etherfi.live:EtherFiLive"

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
