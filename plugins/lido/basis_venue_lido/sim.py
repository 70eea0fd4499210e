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

State: ledger tables ``lido.requests`` (id -> (stETH wei, shares, requested ns)) and ``lido.meta``.
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
from basis_core.timeutil import from_ns
from basis_venue_lido.rates import MAX_STETH_WITHDRAWAL_AMOUNT, MIN_STETH_WITHDRAWAL_AMOUNT, ONE

VENUE = "lido"
WALLET = "ethereum:wallet:"
RATE_SERIES = "lst:wstETH"
REQUESTS = "lido.requests"
META = "lido.meta"
CTX = Context(prec=120)
_ZERO = Decimal(0)
DEFAULT_WITHDRAWAL_DELAY = "3D"
#: extra gas units of this venue (on top of DEFAULT_GAS_UNITS)
LIDO_GAS_UNITS = {"unwrap_weth": 35_000}
KEYS = {t: WALLET + t for t in ("ETH", "WETH", "stETH", "wstETH")}


def to_wei(amount: Decimal, field: str = "amount") -> int:
    """A human amount of an 18-decimal token as wei, exactly (InstructionError beyond 18 decimals)."""
    scaled = amount.scaleb(18, CTX)
    w = int(scaled)
    if w != scaled:
        raise InstructionError(field, f"{amount} has more than 18 decimals")
    return w


def from_wei(w: int) -> Decimal:
    return Decimal(w).scaleb(-18, CTX)


def rate_wei(rate: Decimal) -> int:
    """``stEthPerToken`` as wei per 1e18 shares (rounded down)."""
    return int(rate.scaleb(18, CTX))


def withdrawal_key(request_id: str) -> str:
    return f"{VENUE}:withdrawal:{request_id}"


def parse_delay(value: Any) -> int:
    """The withdrawal delay option (a pandas Timedelta string such as ``"3D"`` or seconds) in ns."""
    try:
        td = pd.Timedelta(seconds=float(value)) if isinstance(value, int | float) else pd.Timedelta(str(value))
    except (ValueError, TypeError):
        raise ConfigError(f"venue_config.lido.withdrawal_delay: not a duration: {value!r}") from None
    if td < pd.Timedelta(0):
        raise ConfigError("venue_config.lido.withdrawal_delay: must not be negative")
    return int(td.value)


class LidoSim:
    """The backtest backend (one per venue instance); see the module docstring."""

    def __init__(self, venue: Any) -> None:
        ctx = venue.context
        if ctx is None or ctx.ledger is None or ctx.data_provider is None:
            raise ConfigError("lido: the backtest backend needs the manager's ledger and data provider")
        opts: Mapping[str, Any] = venue.settings.options
        self.ledger = ctx.ledger
        self.data = ctx.data_provider
        self.delay_ns = parse_delay(opts.get("withdrawal_delay", DEFAULT_WITHDRAWAL_DELAY))
        units = {**DEFAULT_GAS_UNITS, **LIDO_GAS_UNITS}
        units.update({str(k): int(v) for k, v in (opts.get("gas_units") or {}).items()})
        self.gas_units = units
        self.charge_gas = bool(opts.get("charge_gas", True)) and self.data.has("gas")
        self.requests = self.ledger.table(REQUESTS)
        self.meta = self.ledger.table(META)
        self._rate_series: Any = None

    # -- data -------------------------------------------------------------------------------------
    def rate(self, ts_ns: int) -> int:
        """``stEthPerToken`` (wei per 1e18 shares) as of ``ts_ns``."""
        s = self._rate_series
        if s is None:
            s = self._rate_series = self.data.series(RATE_SERIES)
        return rate_wei(s.value("rate", ts_ns))

    def _gas(self, ts_ns: int, ops: tuple[str, ...], positions: dict[str, Decimal]
             ) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        if not self.charge_gas:
            return {}, {}
        units = sum(self.gas_units[o] for o in ops)
        snap = self.data.get_data(ts_ns)
        eth = Decimal(units) * snap.get("gas", "gas_price_gwei") * Decimal("1e-9")
        positions[GAS_KEY] = positions.get(GAS_KEY, _ZERO) - eth
        return {GAS_KEY: -eth}, {"gas": -eth * usd_price(snap, "ETH")}

    def _done(self, op: str, ts: Any, ins: Any, positions: dict[str, Decimal], gas_ops: tuple[str, ...],
              status: str = "filled", details: dict[str, Any] | None = None,
              amount: Decimal | None = None) -> ExecutionDeltas:
        fees, pnl = self._gas(ts.value, gas_ops, positions)
        return ExecutionDeltas(VENUE, op, ts, positions, fees, status, ins.client_id, None, None, amount, pnl,
                               details or {})

    @staticmethod
    def _have(ledger: Any, key: str, amount: Decimal) -> None:
        have = ledger.balance(key)
        if have < amount:
            raise InsufficientFundsError(key, amount, have)

    # -- stake / wrap -----------------------------------------------------------------------------
    def stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset, receive = ins.asset, ins.receive
        if asset not in ("ETH", "WETH", "stETH"):
            raise InstructionError("asset", f"lido stakes ETH or WETH (or wraps stETH), not {asset!r}")
        if receive not in (None, "stETH", "wstETH"):
            raise InstructionError("receive", f"lido gives stETH or wstETH, not {receive!r}")
        if asset == "stETH":
            if receive != "wstETH":
                raise InstructionError("receive", "staking stETH means wrapping it: give receive='wstETH'")
            return self._wrap(ts, ins)
        amount = ins.amount
        eth = to_wei(amount)
        r = self.rate(ts.value)
        shares = eth * ONE // r  # getSharesByPooledEth(msg.value)
        if shares == 0:
            raise InstructionError("amount", f"{amount} {asset} buys no stETH share at the rate {from_wei(r)}")
        self._have(self.ledger, KEYS[asset], amount)
        positions = {KEYS[asset]: -amount}
        ops: tuple[str, ...] = ("stake",) if asset == "ETH" else ("unwrap_weth", "stake")
        if receive == "wstETH":
            positions[KEYS["wstETH"]] = from_wei(shares)
            ops += ("wrap",)
        else:
            positions[KEYS["stETH"]] = from_wei(shares * r // ONE)  # getPooledEthByShares(shares)
        return self._done("stake", ts, ins, positions, ops, details={"shares": from_wei(shares),
                                                                      "rate": from_wei(r)}, amount=amount)

    def _wrap(self, ts: Any, ins: Any) -> ExecutionDeltas:
        amount = ins.amount
        st = to_wei(amount)
        r = self.rate(ts.value)
        wst = st * ONE // r  # WstETH.wrap: getSharesByPooledEth(_stETHAmount)
        if wst == 0:
            raise InstructionError("amount", f"{amount} stETH wraps into no wstETH")
        self._have(self.ledger, KEYS["stETH"], amount)
        positions = {KEYS["stETH"]: -amount, KEYS["wstETH"]: from_wei(wst)}
        return self._done("stake", ts, ins, positions, ("wrap",), details={"rate": from_wei(r)}, amount=amount)

    # -- unstake ----------------------------------------------------------------------------------
    def unstake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.action == "unwrap":
            return self._unwrap(ts, ins)
        if ins.action == "request":
            return self._request(ts, ins)
        return self._claim(ts, ins)

    def _unwrap(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.asset != "wstETH":
            raise InstructionError("asset", f"only wstETH unwraps (into stETH), not {ins.asset!r}")
        amount = ins.amount
        wst = to_wei(amount)
        r = self.rate(ts.value)
        st = wst * r // ONE  # WstETH.unwrap: getPooledEthByShares(_wstETHAmount)
        if st == 0:
            raise InstructionError("amount", f"{amount} wstETH unwraps into no stETH")
        self._have(self.ledger, KEYS["wstETH"], amount)
        positions = {KEYS["wstETH"]: -amount, KEYS["stETH"]: from_wei(st)}
        return self._done("unstake", ts, ins, positions, ("unwrap",), details={"rate": from_wei(r)}, amount=amount)

    def _request(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        if asset not in ("stETH", "wstETH"):
            raise InstructionError("asset", f"withdrawals are requested in stETH or wstETH, not {asset!r}")
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
        self._have(self.ledger, KEYS[asset], amount)
        rid = str(int(self.meta.get("last_id", 0)) + 1)
        self.meta["last_id"] = int(rid)
        self.requests[rid] = (steth, shares, ts.value)
        locked = from_wei(steth)
        positions = {KEYS[asset]: -amount, withdrawal_key(rid): locked}
        eth_usd = usd_price(self.data.get_data(ts.value), "ETH")
        details = {"request_id": rid, "amount_of_steth": locked, "shares": from_wei(shares),
                   "claimable_at": from_ns(ts.value + self.delay_ns).isoformat(),
                   "reference_prices": {withdrawal_key(rid): eth_usd}}
        return self._done("unstake", ts, ins, positions, ("unstake_request",), "requested", details, amount)

    def claimable_eth(self, request: tuple[int, int, int]) -> int:
        """ETH (wei) a request pays: min(stETH locked, shares x the rate at finalisation)."""
        steth, shares, at = request
        return min(steth, shares * self.rate(at + self.delay_ns) // ONE)

    def _claim(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.asset not in ("stETH", "wstETH"):
            raise InstructionError("asset", f"withdrawals are in stETH or wstETH, not {ins.asset!r}")
        rid = ins.request_id
        req = self.requests.get(rid)
        if req is None:
            known = ", ".join(self.requests.keys()) or "none"
            raise InstructionError("request_id", f"no open withdrawal request {rid!r} (open: {known})")
        ready = req[2] + self.delay_ns
        if ts.value < ready:
            raise InstructionError("request_id", f"withdrawal request {rid} is not finalised yet: claimable from "
                                                 f"{from_ns(ready).isoformat()}")
        eth = self.claimable_eth(req)
        del self.requests[rid]
        key = withdrawal_key(rid)
        locked = from_wei(req[0])
        paid = from_wei(eth)
        positions = {key: -locked, KEYS["ETH"]: paid}
        eth_usd = usd_price(self.data.get_data(ts.value), "ETH")
        details = {"request_id": rid, "amount_of_eth": paid,
                   "reference_prices": {key: paid * eth_usd / locked if locked else eth_usd}}
        return self._done("unstake", ts, ins, positions, ("unstake_claim",), "claimed", details, paid)

    # -- time and queries ---------------------------------------------------------------------------
    def accrue(self, previous: Any, ts: Any) -> list[ExecutionDeltas] | None:
        """stETH rebase of the wallet from ``previous`` to ``ts``."""
        bal = self.ledger.balance(KEYS["stETH"])
        if bal <= 0:
            return None
        try:
            r0, r1 = self.rate(previous.value), self.rate(ts.value)
        except MarketDataError:  # no lst:wstETH rate (yet): nothing known to rebase by
            return None
        if r0 == r1:
            return None
        w = to_wei(bal, KEYS["stETH"])
        d = from_wei(w * r1 // r0 - w)
        if d == 0:
            return None
        usd = d * usd_price(self.data.get_data(ts.value), "ETH")
        return [ExecutionDeltas(VENUE, "rebase", ts, {KEYS["stETH"]: d}, {}, "accrued", pnl={"staking_yield": usd},
                                details={"rate": from_wei(r1)})]

    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet balances, open withdrawal requests and their metrics (value, claimable flag), the rate."""
        out = {k: v for k, v in self.ledger.balances.items() if k.startswith((WALLET, f"{VENUE}:"))}
        ts_ns = ts.value
        try:
            r = self.rate(ts_ns)
            eth_usd = usd_price(self.data.get_data(ts_ns), "ETH")
        except LookupError:
            return out
        out[f"{VENUE}:metric:steth_per_wsteth"] = from_wei(r)
        for rid, req in self.requests.items():
            ready = ts_ns >= req[2] + self.delay_ns
            eth = self.claimable_eth(req) if ready else min(req[0], req[1] * r // ONE)
            out[f"{VENUE}:metric:value_usd:withdrawal:{rid}"] = from_wei(eth) * eth_usd
            out[f"{VENUE}:metric:claimable:{rid}"] = Decimal(1 if ready else 0)
            # when the queue lets it be claimed (UTC seconds): basis_core.transit.in_transit lists queued withdrawals
            out[f"{VENUE}:metric:claimable_at:{rid}"] = Decimal(req[2] + self.delay_ns) / Decimal(10**9)
        return out

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        amount = getattr(ins, "amount", None)
        if amount is None:
            return None
        try:
            return amount * usd_price(self.data.get_data(ts.value), "ETH")  # type: ignore[no-any-return]
        except LookupError:
            return None


__all__ = ["DEFAULT_WITHDRAWAL_DELAY", "LidoSim", "from_wei", "parse_delay", "rate_wei", "to_wei", "withdrawal_key"]
