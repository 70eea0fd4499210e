"""Backtest backend of the EtherFi venue: staking, wrapping and the withdraw-request queue at the rate of the data.

Rate. ``lst:weETH.rate`` is ``WeETH.getRate()`` (ETH per weETH = per eETH share), taken as wei per 1e18 shares
(rounded down). The integer share math of :mod:`basis_venue_etherfi.rates` runs on
``PoolState.at_rate(rate)`` (pooled = rate, shares = 1e18), so every amount rounds as the contracts do:

- stake ETH -> eETH (``LiquidityPool.deposit``): shares ``= eth x 1e18 // rate``, eETH ``= shares x rate // 1e18``;
  ETH -> weETH: deposit, then ``WeETH.wrap`` of the eETH received (weETH ``= eETH x 1e18 // rate``);
  ``asset="WETH"`` unwraps WETH first; ``asset="eETH", receive="weETH"`` wraps;
- unwrap (``Unstake(action="unwrap", asset="weETH")``): eETH ``= weETH x rate // 1e18``;
- request (``Unstake(action="request")``, eETH, or weETH = unwrap then request): the eETH amount is locked in
  ``etherfi:withdrawal:<id>`` with its shares (``sharesForAmount``); ``details["request_id"]`` is the id
  (``"1"``, ``"2"`` ... like the NFT's ``nextRequestId``) and ``claimable_at`` the time it may be claimed;
- claim (``Unstake(action="claim", request_id=...)``): allowed from ``requested + withdrawal_delay`` (option,
  default ``"7D"``: EtherFi's queue is finalised by its oracle, usually within a few days to two weeks), else an
  InstructionError naming ``request_id`` and nothing changes; pays ``min(eETH requested, shares x the rate
  frozen at finalisation, rounded up)`` ETH (``WithdrawRequestNFT.getClaimableAmount``).

Rebase. eETH rebases: each accrual multiplies the wallet's eETH by ``rate_now / rate_before`` (rounded down),
booked as ``staking_yield``. weETH does not rebase (its value grows with ``lst:weETH``; the runner books that).

Gas (with a ``gas`` series and ``charge_gas``): ``stake`` (+ ``approve`` + ``wrap`` for weETH, + ``unwrap_weth``
35,000 for WETH), ``approve`` + ``wrap``, ``unwrap``, ``approve`` + ``unstake_request`` (+ ``unwrap`` for weETH),
``unstake_claim`` units of :data:`basis_core.backtest.gas.DEFAULT_GAS_UNITS`, overridable with ``gas_units``.

State: ledger tables ``etherfi.requests`` (id -> (eETH wei, shares, requested ns)) and ``etherfi.meta``. The
ledger, gas, rate, queue and rebase mechanics are :class:`basis_core.onchain.staking.StakingSim`'s.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import InstructionError
from basis_core.onchain.staking import WALLET, StakingSim, from_wei, to_wei
from basis_venue_etherfi.rates import MAX_REQUEST, ONE, PoolState, amount_per_share_ceil, claimable
from basis_venue_etherfi.venue import ETHERFI

VENUE = "etherfi"
#: extra gas units of this venue (on top of DEFAULT_GAS_UNITS)
ETHERFI_GAS_UNITS = {"unwrap_weth": 35_000}
KEYS = {t: WALLET + t for t in ("ETH", "WETH", "eETH", "weETH")}


class EtherFiSim(StakingSim):
    """The backtest backend (one per venue instance); see the module docstring."""

    liquid = ETHERFI
    extra_gas_units = ETHERFI_GAS_UNITS
    not_finalised = "finalized yet (RequestNotFinalized)"

    def deltas(self, op: str, ts: Any, ins: Any, positions: dict[str, Decimal], gas_ops: tuple[str, ...],
               status: str = "filled", details: dict[str, Any] | None = None,
               amount: Decimal | None = None) -> ExecutionDeltas:
        details = dict(details or {})
        details.setdefault("reference_prices", {})["eETH"] = self.price(ts.value)  # 1:1 ETH claims
        return super().deltas(op, ts, ins, positions, gas_ops, status, details, amount)

    # -- stake / wrap -----------------------------------------------------------------------------
    def stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset, receive = ins.asset, ins.receive
        wrap = self.liquid.check_stake(ins)
        pool = PoolState.at_rate(self.rate(ts.value))
        if wrap:
            return self.convert("stake", ts, ins, "eETH", "weETH", pool.wrap(to_wei(ins.amount)), ("approve", "wrap"),
                                pool.rate())
        eth = to_wei(ins.amount)
        try:
            shares, after = pool.deposit(eth)
        except ValueError:
            raise InstructionError("amount", f"{ins.amount} {asset} buys no eETH share at the rate "
                                             f"{from_wei(pool.rate())}") from None
        self.have(KEYS[asset], ins.amount)
        positions = {KEYS[asset]: -ins.amount}
        ops: tuple[str, ...] = ("stake",) if asset == "ETH" else ("unwrap_weth", "stake")
        eeth = after.balance_of(shares)
        if receive == "weETH":
            positions[KEYS["weETH"]] = from_wei(after.wrap(eeth))
            ops += ("approve", "wrap")
        else:
            positions[KEYS["eETH"]] = from_wei(eeth)
        return self.deltas("stake", ts, ins, positions, ops,
                           details={"shares": from_wei(shares), "rate": from_wei(pool.rate())}, amount=ins.amount)

    # -- unstake ----------------------------------------------------------------------------------
    def _unwrap(self, ts: Any, ins: Any) -> ExecutionDeltas:
        self.liquid.check_unwrap(ins)
        pool = PoolState.at_rate(self.rate(ts.value))
        return self.convert("unstake", ts, ins, "weETH", "eETH", pool.unwrap(to_wei(ins.amount)), ("unwrap",),
                            pool.rate())

    def _request(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        self.liquid.check_request(ins)
        assert ins.amount is not None
        units = to_wei(ins.amount)
        pool = PoolState.at_rate(self.rate(ts.value))
        eeth = units if asset == "eETH" else pool.unwrap(units)
        shares = pool.wrap(eeth)  # sharesForAmount
        if eeth == 0 or shares == 0:
            raise InstructionError("amount", f"{ins.amount} {asset} is too small to request (InvalidShareAmount)")
        if eeth > MAX_REQUEST:
            raise InstructionError("amount", "a withdrawal request takes at most 2**96-1 wei of eETH; split it")
        ops: tuple[str, ...] = ("approve", "unstake_request") if asset == "eETH" else (
            "unwrap", "approve", "unstake_request")
        return self.queue_request(ts, ins, eeth, shares, ops, "amount_of_eeth")

    def claimable_eth(self, request: tuple[int, int, int]) -> int:
        """ETH (wei) a request pays: min(eETH locked, shares x the rate frozen at finalisation, rounded up)."""
        eeth, shares, at = request
        frozen = amount_per_share_ceil(self.rate(at + self.delay_ns), ONE)
        return claimable(eeth, shares, frozen)

    def _claim(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.asset not in ("eETH", "weETH", "stETH"):  # "stETH" is Unstake's default asset
            raise InstructionError("asset", f"etherfi withdrawals are in eETH or weETH, not {ins.asset!r}")
        req = self.finalised_request(ts, ins.request_id)
        return self.paid_claim(ts, ins, ins.request_id, req[0], self.claimable_eth(req))

    # -- time and queries ---------------------------------------------------------------------------
    def accrue(self, previous: Any, ts: Any) -> list[ExecutionDeltas] | None:
        """eETH rebase of the wallet from ``previous`` to ``ts``."""
        return self.rebase("eETH", previous, ts)

    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet balances, the open withdrawal requests (``etherfi:withdrawal:<id>``: eETH locked) with their
        metrics: ``claimable:<id>`` (1 / 0), ``claimable_at:<id>`` (unix seconds), ``value_usd:withdrawal:<id>``,
        and the rate ``eeth_per_weeth``."""
        return self.queue_balances(ts, "eeth_per_weeth", lambda req, ready, r: self.claimable_eth(req) if ready
                                   else claimable(req[0], req[1], amount_per_share_ceil(r, ONE)))


__all__ = ["EtherFiSim", "from_wei", "to_wei"]
