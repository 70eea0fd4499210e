"""Backtest backend of the Lido venue: staking, wrapping and the withdrawal queue at the rate of the data.

Rate. ``lst:wstETH.rate`` is ``stEthPerToken`` (ETH per share: one wstETH is one stETH share), taken as
wei per 1e18 shares (rounded down). The integer share math of :mod:`basis_venue_lido.rates` runs with
``StEthState(total_pooled_ether=rate, total_shares=1e18)``, so every amount rounds exactly as the
contracts do:

- stake ETH -> stETH (``submit``): shares ``= eth * 1e18 // rate``, stETH balance ``= shares * rate // 1e18``
  (1:1 up to a wei); ETH -> wstETH (``WstETH.receive``): wstETH ``= shares``. ``asset="WETH"`` unwraps
  WETH first (same amounts). ``asset="stETH", receive="wstETH"`` wraps: wstETH ``= stETH * 1e18 // rate``;
- unwrap (``Unstake(action="unwrap")``): stETH ``= wstETH * rate // 1e18``;
- request (``Unstake(action="request")``, stETH or wstETH): the stETH amount (for wstETH: its unwrapped
  value) is locked in ``lido:withdrawal:<id>`` with its shares; 100 wei .. 1000 stETH per request (the
  queue's bounds); ``details["request_id"]`` is the id (``"1"``, ``"2"`` ... per account);
- claim (``Unstake(action="claim", request_id=...)``): allowed from ``requested + withdrawal_delay``
  (option, default 3 days; Lido's queue usually finalises in 1-5 days), else an InstructionError naming
  ``request_id``; pays ``min(requested stETH, shares x the rate at finalisation)`` ETH (Lido's discount
  rule: a request stops earning rewards but bears losses until it is finalised).

Rebase. stETH rebases: each accrual multiplies the wallet's stETH by ``rate_now / rate_before`` (rounded
down to a wei), booked as ``staking_yield``. wstETH does not rebase: its balance is constant and its value
grows with ``usd_price(wstETH) = ETH x lst:wstETH.rate`` (the runner books that growth as staking yield),
so no wstETH deltas are emitted.

Gas (when the market has a ``gas`` series and ``charge_gas`` is true): ``stake`` (+ ``wrap`` for wstETH,
+ ``unwrap_weth`` 35,000 for WETH), ``wrap``, ``unwrap``, ``unstake_request``, ``unstake_claim`` units of
:data:`basis_core.backtest.gas.DEFAULT_GAS_UNITS`, overridable with ``gas_units``.

State: ledger tables ``lido.requests`` (id -> (stETH wei, shares, requested ns)) and ``lido.meta``. The ledger,
gas, rate and rebase mechanics are :class:`basis_core.onchain.staking.StakingSim`'s.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import InstructionError
from basis_core.onchain.staking import WALLET, StakingSim, from_wei, rate_wei, to_wei
from basis_venue_lido.rates import MAX_STETH_WITHDRAWAL_AMOUNT, MIN_STETH_WITHDRAWAL_AMOUNT, ONE
from basis_venue_lido.venue import LIDO

VENUE = "lido"
#: extra gas units of this venue (on top of DEFAULT_GAS_UNITS)
LIDO_GAS_UNITS = {"unwrap_weth": 35_000}
KEYS = {t: WALLET + t for t in ("ETH", "WETH", "stETH", "wstETH")}


class LidoSim(StakingSim):
    """The backtest backend (one per venue instance); see the module docstring."""

    liquid = LIDO
    extra_gas_units = LIDO_GAS_UNITS

    # -- stake / wrap -----------------------------------------------------------------------------
    def stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset, receive = ins.asset, ins.receive
        if self.liquid.check_stake(ins):
            r = self.rate(ts.value)  # WstETH.wrap: getSharesByPooledEth(_stETHAmount)
            return self.convert("stake", ts, ins, "stETH", "wstETH", to_wei(ins.amount) * ONE // r, ("wrap",), r)
        amount = ins.amount
        eth = to_wei(amount)
        r = self.rate(ts.value)
        shares = eth * ONE // r  # getSharesByPooledEth(msg.value)
        if shares == 0:
            raise InstructionError("amount", f"{amount} {asset} buys no stETH share at the rate {from_wei(r)}")
        self.have(KEYS[asset], amount)
        positions = {KEYS[asset]: -amount}
        ops: tuple[str, ...] = ("stake",) if asset == "ETH" else ("unwrap_weth", "stake")
        if receive == "wstETH":
            positions[KEYS["wstETH"]] = from_wei(shares)
            ops += ("wrap",)
        else:
            positions[KEYS["stETH"]] = from_wei(shares * r // ONE)  # getPooledEthByShares(shares)
        return self.deltas("stake", ts, ins, positions, ops, details={"shares": from_wei(shares),
                                                                       "rate": from_wei(r)}, amount=amount)

    # -- unstake ----------------------------------------------------------------------------------
    def _unwrap(self, ts: Any, ins: Any) -> ExecutionDeltas:
        self.liquid.check_unwrap(ins)
        r = self.rate(ts.value)  # WstETH.unwrap: getPooledEthByShares(_wstETHAmount)
        return self.convert("unstake", ts, ins, "wstETH", "stETH", to_wei(ins.amount) * r // ONE, ("unwrap",), r)

    def _request(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        self.liquid.check_request(ins)
        amount = ins.amount
        units = to_wei(amount)
        r = self.rate(ts.value)
        if asset == "stETH":
            steth, shares = units, units * ONE // r
        else:
            steth, shares = units * r // ONE, units
        if steth < MIN_STETH_WITHDRAWAL_AMOUNT:
            raise InstructionError("amount", f"a withdrawal request needs at least {MIN_STETH_WITHDRAWAL_AMOUNT} wei "
                                             "of stETH (RequestAmountTooSmall)")
        if steth > MAX_STETH_WITHDRAWAL_AMOUNT:
            raise InstructionError("amount", "a withdrawal request takes at most 1000 stETH (RequestAmountTooLarge); "
                                             "split it into several requests")
        return self.queue_request(ts, ins, steth, shares, ("unstake_request",), "amount_of_steth")

    def claimable_eth(self, request: tuple[int, int, int]) -> int:
        """ETH (wei) a request pays: min(stETH locked, shares x the rate at finalisation)."""
        steth, shares, at = request
        return min(steth, shares * self.rate(at + self.delay_ns) // ONE)

    def _claim(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.asset not in ("stETH", "wstETH"):
            raise InstructionError("asset", f"withdrawals are in stETH or wstETH, not {ins.asset!r}")
        req = self.finalised_request(ts, ins.request_id)
        return self.paid_claim(ts, ins, ins.request_id, req[0], self.claimable_eth(req))

    # -- time and queries ---------------------------------------------------------------------------
    def accrue(self, previous: Any, ts: Any) -> list[ExecutionDeltas] | None:
        """stETH rebase of the wallet from ``previous`` to ``ts``."""
        return self.rebase("stETH", previous, ts)

    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet balances, open withdrawal requests and their metrics (value, claimable flag), the rate."""
        return self.queue_balances(ts, "steth_per_wsteth", lambda req, ready, r: self.claimable_eth(req) if ready
                                   else min(req[0], req[1] * r // ONE))


__all__ = ["LidoSim", "from_wei", "rate_wei", "to_wei"]
