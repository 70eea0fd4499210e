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

State: ledger tables ``etherfi.requests`` (id -> (eETH wei, shares, requested ns)) and ``etherfi.meta``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Context, Decimal
from typing import Any

import pandas as pd

from basis_core.backtest.gas import DEFAULT_GAS_UNITS, GAS_KEY
from basis_core.data.prices import usd_price
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError, InstructionError, InsufficientFundsError, MarketDataError
from basis_core.live.units import from_base_units, to_base_units
from basis_core.timeutil import from_ns
from basis_venue_etherfi.rates import MAX_REQUEST, ONE, PoolState, amount_per_share_ceil, claimable

VENUE = "etherfi"
WALLET = "ethereum:wallet:"
RATE_SERIES = "lst:weETH"
REQUESTS = "etherfi.requests"
META = "etherfi.meta"
_ZERO = Decimal(0)
CTX = Context(prec=120)
DEFAULT_WITHDRAWAL_DELAY = "7D"
#: extra gas units of this venue (on top of DEFAULT_GAS_UNITS)
ETHERFI_GAS_UNITS = {"unwrap_weth": 35_000}
KEYS = {t: WALLET + t for t in ("ETH", "WETH", "eETH", "weETH")}


def to_wei(amount: Decimal, field: str = "amount") -> int:
    """A human amount of an 18-decimal token as wei, exactly (InstructionError naming ``field`` beyond 18 decimals)."""
    return to_base_units(amount, 18, field=field)


def from_wei(w: int) -> Decimal:
    return from_base_units(w, 18)


def withdrawal_key(request_id: str) -> str:
    return f"{VENUE}:withdrawal:{request_id}"


def parse_delay(value: Any) -> int:
    """The withdrawal delay option (a pandas Timedelta string such as ``"7D"`` or seconds) in ns."""
    try:
        td = pd.Timedelta(seconds=float(value)) if isinstance(value, int | float) else pd.Timedelta(str(value))
    except (ValueError, TypeError):
        raise ConfigError(f"venue_config.etherfi.withdrawal_delay: not a duration: {value!r}") from None
    if td < pd.Timedelta(0):
        raise ConfigError("venue_config.etherfi.withdrawal_delay: must not be negative")
    return int(td.value)


class EtherFiSim:
    """The backtest backend (one per venue instance); see the module docstring."""

    def __init__(self, venue: Any) -> None:
        ctx = venue.context
        if ctx is None or ctx.ledger is None or ctx.data_provider is None:
            raise ConfigError("etherfi: the backtest backend needs the manager's ledger and data provider")
        opts: Mapping[str, Any] = venue.settings.options
        self.ledger = ctx.ledger
        self.data = ctx.data_provider
        self.delay_ns = parse_delay(opts.get("withdrawal_delay", DEFAULT_WITHDRAWAL_DELAY))
        units = {**DEFAULT_GAS_UNITS, **ETHERFI_GAS_UNITS}
        units.update({str(k): int(v) for k, v in (opts.get("gas_units") or {}).items()})
        self.gas_units = units
        self.charge_gas = bool(opts.get("charge_gas", True)) and self.data.has("gas")
        self.requests = self.ledger.table(REQUESTS)
        self.meta = self.ledger.table(META)
        self._rate_series: Any = None

    # -- data -------------------------------------------------------------------------------------
    def rate(self, ts_ns: int) -> int:
        """``WeETH.getRate()`` (wei per 1e18 shares) as of ``ts_ns``."""
        s = self._rate_series
        if s is None:
            s = self._rate_series = self.data.series(RATE_SERIES)
        return int(s.value("rate", ts_ns).scaleb(18, CTX))

    def _eth_usd(self, ts_ns: int) -> Decimal:
        return usd_price(self.data.get_data(ts_ns), "ETH")

    def _done(self, op: str, ts: Any, ins: Any, positions: dict[str, Decimal], gas_ops: tuple[str, ...],
              status: str = "filled", details: dict[str, Any] | None = None,
              amount: Decimal | None = None) -> ExecutionDeltas:
        fees: dict[str, Decimal] = {}
        pnl: dict[str, Decimal] = {}
        eth_usd = self._eth_usd(ts.value)
        if self.charge_gas:
            units = sum(self.gas_units[o] for o in gas_ops)
            eth = Decimal(units) * self.data.get_data(ts.value).get("gas", "gas_price_gwei") * Decimal("1e-9")
            positions[GAS_KEY] = positions.get(GAS_KEY, _ZERO) - eth
            fees, pnl = {GAS_KEY: -eth}, {"gas": -eth * eth_usd}
        details = dict(details or {})
        details.setdefault("reference_prices", {})["eETH"] = eth_usd  # 1:1 ETH claims
        return ExecutionDeltas(VENUE, op, ts, positions, fees, status, ins.client_id, None, None, amount, pnl, details)

    def _have(self, key: str, amount: Decimal) -> None:
        have = self.ledger.balance(key)
        if have < amount:
            raise InsufficientFundsError(key, amount, have)

    # -- stake / wrap -----------------------------------------------------------------------------
    def stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset, receive = ins.asset, ins.receive
        if asset not in ("ETH", "WETH", "eETH"):
            raise InstructionError("asset", f"etherfi stakes ETH or WETH (or wraps eETH), not {asset!r}")
        if receive not in (None, "eETH", "weETH"):
            raise InstructionError("receive", f"etherfi gives eETH or weETH, not {receive!r}")
        pool = PoolState.at_rate(self.rate(ts.value))
        if asset == "eETH":
            if receive != "weETH":
                raise InstructionError("receive", "staking eETH means wrapping it: give receive='weETH'")
            ee = to_wei(ins.amount)
            we = pool.wrap(ee)
            if we == 0:
                raise InstructionError("amount", f"{ins.amount} eETH wraps into no weETH")
            self._have(KEYS["eETH"], ins.amount)
            return self._done("stake", ts, ins, {KEYS["eETH"]: -ins.amount, KEYS["weETH"]: from_wei(we)},
                              ("approve", "wrap"), details={"rate": from_wei(pool.rate())}, amount=ins.amount)
        eth = to_wei(ins.amount)
        try:
            shares, after = pool.deposit(eth)
        except ValueError:
            raise InstructionError("amount", f"{ins.amount} {asset} buys no eETH share at the rate "
                                             f"{from_wei(pool.rate())}") from None
        self._have(KEYS[asset], ins.amount)
        positions = {KEYS[asset]: -ins.amount}
        ops: tuple[str, ...] = ("stake",) if asset == "ETH" else ("unwrap_weth", "stake")
        eeth = after.balance_of(shares)
        if receive == "weETH":
            positions[KEYS["weETH"]] = from_wei(after.wrap(eeth))
            ops += ("approve", "wrap")
        else:
            positions[KEYS["eETH"]] = from_wei(eeth)
        return self._done("stake", ts, ins, positions, ops, details={"shares": from_wei(shares),
                                                                      "rate": from_wei(pool.rate())},
                          amount=ins.amount)

    # -- unstake ----------------------------------------------------------------------------------
    def unstake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.action == "unwrap":
            return self._unwrap(ts, ins)
        if ins.action == "request":
            return self._request(ts, ins)
        return self._claim(ts, ins)

    def _unwrap(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.asset != "weETH":
            raise InstructionError("asset", f"only weETH unwraps (into eETH), not {ins.asset!r}")
        assert ins.amount is not None
        pool = PoolState.at_rate(self.rate(ts.value))
        ee = pool.unwrap(to_wei(ins.amount))
        if ee == 0:
            raise InstructionError("amount", f"{ins.amount} weETH unwraps into no eETH")
        self._have(KEYS["weETH"], ins.amount)
        return self._done("unstake", ts, ins, {KEYS["weETH"]: -ins.amount, KEYS["eETH"]: from_wei(ee)}, ("unwrap",),
                          details={"rate": from_wei(pool.rate())}, amount=ins.amount)

    def _request(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        if asset not in ("eETH", "weETH"):
            raise InstructionError("asset", f"withdrawals are requested in eETH or weETH, not {asset!r}")
        assert ins.amount is not None
        units = to_wei(ins.amount)
        pool = PoolState.at_rate(self.rate(ts.value))
        eeth = units if asset == "eETH" else pool.unwrap(units)
        shares = pool.wrap(eeth)  # sharesForAmount
        if eeth == 0 or shares == 0:
            raise InstructionError("amount", f"{ins.amount} {asset} is too small to request (InvalidShareAmount)")
        if eeth > MAX_REQUEST:
            raise InstructionError("amount", "a withdrawal request takes at most 2**96-1 wei of eETH; split it")
        self._have(KEYS[asset], ins.amount)
        rid = str(int(self.meta.get("last_id", 0)) + 1)
        self.meta["last_id"] = int(rid)
        self.requests[rid] = (eeth, shares, ts.value)
        locked = from_wei(eeth)
        positions = {KEYS[asset]: -ins.amount, withdrawal_key(rid): locked}
        ops: tuple[str, ...] = ("approve", "unstake_request") if asset == "eETH" else (
            "unwrap", "approve", "unstake_request")
        details = {"request_id": rid, "amount_of_eeth": locked, "shares": from_wei(shares),
                   "claimable_at": from_ns(ts.value + self.delay_ns).isoformat(),
                   "reference_prices": {withdrawal_key(rid): self._eth_usd(ts.value)}}
        return self._done("unstake", ts, ins, positions, ops, "requested", details, ins.amount)

    def claimable_eth(self, request: tuple[int, int, int]) -> int:
        """ETH (wei) a request pays: min(eETH locked, shares x the rate frozen at finalisation, rounded up)."""
        eeth, shares, at = request
        frozen = amount_per_share_ceil(self.rate(at + self.delay_ns), ONE)
        return claimable(eeth, shares, frozen)

    def _claim(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.asset not in ("eETH", "weETH", "stETH"):  # "stETH" is Unstake's default asset
            raise InstructionError("asset", f"etherfi withdrawals are in eETH or weETH, not {ins.asset!r}")
        rid = ins.request_id
        req = self.requests.get(rid)
        if req is None:
            known = ", ".join(self.requests.keys()) or "none"
            raise InstructionError("request_id", f"no open withdrawal request {rid!r} (open: {known})")
        ready = req[2] + self.delay_ns
        if ts.value < ready:
            raise InstructionError("request_id", f"withdrawal request {rid} is not finalized yet "
                                                 f"(RequestNotFinalized): claimable from {from_ns(ready).isoformat()}")
        eth = self.claimable_eth(req)
        del self.requests[rid]
        key = withdrawal_key(rid)
        locked = from_wei(req[0])
        paid = from_wei(eth)
        eth_usd = self._eth_usd(ts.value)
        details = {"request_id": rid, "amount_of_eth": paid,
                   "reference_prices": {key: paid * eth_usd / locked if locked else eth_usd}}
        return self._done("unstake", ts, ins, {key: -locked, KEYS["ETH"]: paid}, ("unstake_claim",), "claimed",
                          details, paid)

    # -- time and queries ---------------------------------------------------------------------------
    def accrue(self, previous: Any, ts: Any) -> list[ExecutionDeltas] | None:
        """eETH rebase of the wallet from ``previous`` to ``ts``."""
        bal = self.ledger.balance(KEYS["eETH"])
        if bal <= 0:
            return None
        try:
            r0, r1 = self.rate(previous.value), self.rate(ts.value)
        except MarketDataError:  # no lst:weETH rate (yet): nothing known to rebase by
            return None
        if r0 == r1:
            return None
        w = to_wei(bal, KEYS["eETH"])
        d = from_wei(w * r1 // r0 - w)
        if d == 0:
            return None
        usd = d * self._eth_usd(ts.value)
        return [ExecutionDeltas(VENUE, "rebase", ts, {KEYS["eETH"]: d}, {}, "accrued", pnl={"staking_yield": usd},
                                details={"rate": from_wei(r1)})]

    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet balances, the open withdrawal requests (``etherfi:withdrawal:<id>``: eETH locked) with their
        metrics: ``claimable:<id>`` (1 / 0), ``claimable_at:<id>`` (unix seconds), ``value_usd:withdrawal:<id>``,
        and the rate ``eeth_per_weeth``."""
        out = {k: v for k, v in self.ledger.balances.items() if k.startswith((WALLET, f"{VENUE}:"))}
        ts_ns = ts.value
        m = f"{VENUE}:metric:"
        for rid, req in self.requests.items():
            ready_ns = req[2] + self.delay_ns
            out[f"{m}claimable:{rid}"] = Decimal(1 if ts_ns >= ready_ns else 0)
            out[f"{m}claimable_at:{rid}"] = Decimal(ready_ns) / Decimal(10**9)
        try:
            r = self.rate(ts_ns)
            eth_usd = self._eth_usd(ts_ns)
        except LookupError:
            return out
        out[f"{m}eeth_per_weeth"] = from_wei(r)
        for rid, req in self.requests.items():
            ready = ts_ns >= req[2] + self.delay_ns
            eth = self.claimable_eth(req) if ready else claimable(req[0], req[1], amount_per_share_ceil(r, ONE))
            out[f"{m}value_usd:withdrawal:{rid}"] = from_wei(eth) * eth_usd
        return out

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        amount = getattr(ins, "amount", None)
        if amount is None or amount == "max":
            return None
        try:
            return amount * self._eth_usd(ts.value)  # type: ignore[no-any-return]
        except LookupError:
            return None


__all__ = ["DEFAULT_WITHDRAWAL_DELAY", "EtherFiSim", "from_wei", "parse_delay", "to_wei", "withdrawal_key"]
