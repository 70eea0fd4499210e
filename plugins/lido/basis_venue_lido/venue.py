"""The Lido venue plugin (entry point ``lido`` of ``basis_core.venues``): stake ETH (or WETH) into stETH /
wstETH, wrap and unwrap, and withdraw through the queue (request, then claim once finalised).

Instructions: ``Stake(asset="ETH"|"WETH", amount, receive="stETH"|"wstETH")`` (receive defaults to
stETH), ``Stake(asset="stETH", amount, receive="wstETH")`` = wrap; ``Unstake(action="unwrap",
asset="wstETH", amount)``; ``Unstake(action="request", asset="stETH"|"wstETH", amount)`` -> status
``requested``, ``details["request_id"]``; ``Unstake(action="claim", request_id)`` -> status ``claimed``.

Backtest (:mod:`basis_venue_lido.sim`): the ``lst:wstETH`` rate (stEthPerToken) with the contracts' share
rounding; stETH rebases in ``accrue``; a request becomes claimable ``withdrawal_delay`` after it was made.
Live (:mod:`basis_venue_lido.live`, web3 imported lazily): ``stETH.submit``, ``WstETH`` receive / ``wrap`` /
``unwrap``, ``WithdrawalQueue.requestWithdrawals`` / ``requestWithdrawalsWstETH`` / ``claimWithdrawal``
through :class:`basis_core.live.evm.EvmClient`.

Keys: ``ethereum:wallet:ETH`` / ``WETH`` / ``stETH`` / ``wstETH``; an open withdrawal request
``lido:withdrawal:<id>`` holds the stETH amount it locked (valued through the metric
``lido:metric:value_usd:withdrawal:<id>``: the ETH it will pay x the ETH price); metrics
``lido:metric:claimable:<id>`` (1 once claimable) and ``lido:metric:steth_per_wsteth``. PnL:
``staking_yield`` (stETH rebases; wstETH's rate growth is booked by the runner), ``gas``.

Settings (``venue_config.lido``): ``withdrawal_delay`` (pandas duration or seconds, default ``"3D"``),
``gas_units``, ``charge_gas`` (true); live: ``rpc_url``, ``private_key``, ``deployment`` ("mainnet" | a
JSON path) or option ``deployment_table`` ({"contracts": {"stETH", "wstETH", "WithdrawalQueue", "WETH"}}
or the flat ``LidoWorld.deployment_table()``), ``approval_mode``, ``receipt_poll_interval``,
``receipt_timeout``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from basis_core import hookimpl
from basis_core.onchain import LiquidStaking, LiquidStakingVenue

#: lido's tokens and withdrawal queue (shared by the backtest and live backends)
LIDO = LiquidStaking("lido", "stETH", "wstETH", withdrawal_delay="3D")


class LidoVenue(LiquidStakingVenue):
    """Lido liquid staking on Ethereum."""

    name = "lido"
    description = "Lido: stake ETH to stETH / wstETH, wrap / unwrap, withdrawal queue (request, claim)"
    key_namespaces = ("lido:", "ethereum:wallet:")
    liquid = LIDO
    # market data: FILES and synthetic_series of this module, served on the class (DataModuleHooks)
    data_module: ClassVar[str] = "basis_venue_lido.data"
    backtest_backend: ClassVar[str] = "basis_venue_lido.sim:LidoSim"
    live_backend: ClassVar[str] = "basis_venue_lido.live:LidoLive"

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        """The wstETH exchange rate (``lst:wstETH``) and gas, from the contracts (:mod:`.market_data`)."""
        from basis_venue_lido.market_data import read_market_data

        return read_market_data(keys, context)

    # -- conformance kit declarations (basis_core.testing.conformance) ----------------------------------------
    def conformance_examples(self) -> dict[str, list[Any]]:
        request = {"operation": "unstake", "action": "request", "asset": "stETH", "amount": "5"}
        return {
            "stake": [
                {"operation": "stake", "asset": "ETH", "amount": "10", "receive": "stETH"},
                {"operation": "stake", "asset": "ETH", "amount": "2.5", "receive": "wstETH"},
                {"operation": "stake", "asset": "WETH", "amount": "3", "receive": "wstETH"},
                {"operation": "stake", "asset": "stETH", "amount": "4", "receive": "wstETH"},
            ],
            "unstake": [
                {"operation": "unstake", "action": "unwrap", "asset": "wstETH", "amount": "2"},
                request,
                {"operation": "unstake", "action": "request", "asset": "wstETH", "amount": "1.5"},
                {"instruction": {"operation": "unstake", "action": "claim", "request_id": "1"},
                 "setup": [request], "wait": "4D", "label": "claim"},
            ],
        }

    def conformance_live_target(self) -> Any:
        """Our Lido contracts and WETH9 on a local anvil (see :mod:`basis_venue_lido.testing.live_target`)."""
        from basis_venue_lido.testing.live_target import live_target
        return live_target(self.conformance_balances())

    def conformance_balances(self) -> dict[str, str]:
        return {"ethereum:wallet:ETH": "50", "ethereum:wallet:WETH": "10", "ethereum:wallet:stETH": "20",
                "ethereum:wallet:wstETH": "20"}
