"""``StakingSim``: the backtest base of staking, wrapping and withdrawal-queue venues (Lido, EtherFi, EigenLayer).

What it holds for a subclass: the manager's ledger and data provider, the gas units (the core's
:data:`~basis_core.backtest.gas.DEFAULT_GAS_UNITS`, the venue's ``extra_gas_units``, the ``gas_units`` option),
``charge_gas`` (the option, and only with a ``gas`` series), the ledger table ``<venue>.meta``, and the exchange
rate of ``rate_series`` (``lst:<TOKEN>.rate``, ETH per token) as wei per 1e18 (rounded down, as the contracts
read it). What it does for it: gas in ETH booked on ``ethereum:wallet:ETH`` with its USD cost as ``gas`` PnL
(:meth:`deltas`), wallet checks (:meth:`have`), request ids (:meth:`next_id`), the rebase of a rebasing token
(:meth:`rebase`), the ``unstake`` dispatch by action and the USD notional estimate.

Amounts are Decimals in token units at the edges and ints in wei inside (:func:`to_wei` / :func:`from_wei`,
exact). The subclass implements ``stake`` and the ``_unwrap`` / ``_request`` / ``_claim`` actions, ``accrue``
and ``balances``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Context, Decimal
from typing import Any, ClassVar

from basis_core.backtest.gas import DEFAULT_GAS_UNITS, GAS_KEY
from basis_core.data.prices import usd_price
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import InstructionError, InsufficientFundsError, MarketDataError
from basis_core.live.units import from_base_units, to_base_units
from basis_core.onchain.liquid import LiquidStaking, UnstakeActions, parse_delay
from basis_core.onchain.venue import backtest_context
from basis_core.timeutil import from_ns

__all__ = ["WALLET", "LiquidStaking", "StakingSim", "from_wei", "parse_delay", "rate_wei", "to_wei"]

WALLET = "ethereum:wallet:"
_CTX = Context(prec=120)
_ZERO = Decimal(0)
_GWEI = Decimal("1e-9")


def to_wei(amount: Decimal, field: str = "amount") -> int:
    """A human amount of an 18-decimal token as wei, exactly (InstructionError naming ``field`` beyond 18 decimals)."""
    return to_base_units(amount, 18, field=field)


def from_wei(w: int) -> Decimal:
    """Wei as token units of an 18-decimal token, exactly."""
    return from_base_units(w, 18)


def rate_wei(rate: Decimal) -> int:
    """An exchange rate (ETH per token) as wei per 1e18 (rounded down)."""
    return int(rate.scaleb(18, _CTX))


class StakingSim(UnstakeActions):
    """The backtest backend base (one per venue instance); see the module docstring."""

    #: the venue's name (instrument keys ``<venue>:...``, ledger tables ``<venue>.*``)
    venue_name: ClassVar[str] = ""
    #: the series whose ``rate`` column is the venue's exchange rate (ETH per token), if it has one
    rate_series: ClassVar[str] = ""
    #: a liquid-staking venue's tokens and queue: sets ``venue_name``, ``rate_series`` (the wrapped token's rate) and
    #: ``default_withdrawal_delay``
    liquid: ClassVar[LiquidStaking | None] = None
    #: gas units of this venue's steps on top of :data:`~basis_core.backtest.gas.DEFAULT_GAS_UNITS`
    extra_gas_units: ClassVar[Mapping[str, int]] = {}
    #: a withdrawal queue finalised a fixed time after each request: the default of the ``withdrawal_delay``
    #: option ("" for none); requests live in the ledger table ``<venue>.requests`` (id -> (locked wei, shares,
    #: requested ns)) under the keys ``<venue>:withdrawal:<id>``
    default_withdrawal_delay: ClassVar[str] = ""
    #: the wording of a claim refused before finalisation ("not <this>: claimable from ...")
    not_finalised: ClassVar[str] = "finalised yet"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        liquid = cls.__dict__.get("liquid")
        if liquid is not None:
            cls.venue_name, cls.rate_series = liquid.venue, liquid.rate_series
            cls.default_withdrawal_delay = liquid.withdrawal_delay

    def __init__(self, venue: Any) -> None:
        self.ledger, self.data, self.options = backtest_context(venue)
        units = {**DEFAULT_GAS_UNITS, **self.extra_gas_units}
        units.update({str(k): int(v) for k, v in (self.options.get("gas_units") or {}).items()})
        self.gas_units = units
        self.charge_gas = bool(self.options.get("charge_gas", True)) and self.data.has("gas")
        self.meta = self.ledger.table(f"{self.venue_name}.meta")
        self._rate_series: Any = None
        if self.default_withdrawal_delay:
            self.delay_ns = parse_delay(self.venue_name,
                                        self.options.get("withdrawal_delay", self.default_withdrawal_delay))
            self.requests = self.ledger.table(f"{self.venue_name}.requests")

    # -- data -------------------------------------------------------------------------------------
    def rate(self, ts_ns: int) -> int:
        """The ``rate_series`` rate (wei per 1e18) as of ``ts_ns``; MarketDataError without it."""
        s = self._rate_series
        if s is None:
            s = self._rate_series = self.data.series(self.rate_series)
        return rate_wei(s.value("rate", ts_ns))

    def price(self, ts_ns: int, token: str = "ETH") -> Decimal:
        """USD price of ``token`` as of ``ts_ns`` (:func:`basis_core.data.prices.usd_price`)."""
        return usd_price(self.data.get_data(ts_ns), token)

    def key(self, kind: str, name: str) -> str:
        """This venue's instrument key ``<venue>:<kind>:<name>``."""
        return f"{self.venue_name}:{kind}:{name}"

    # -- deltas -----------------------------------------------------------------------------------
    def gas(self, ts_ns: int, ops: tuple[str, ...], positions: dict[str, Decimal]
            ) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        """(fees, pnl) of the gas of ``ops`` at ``ts_ns``, added to ``positions`` (nothing without ``charge_gas``)."""
        if not self.charge_gas:
            return {}, {}
        snap = self.data.get_data(ts_ns)
        eth = Decimal(sum(self.gas_units[o] for o in ops)) * snap.get("gas", "gas_price_gwei") * _GWEI
        positions[GAS_KEY] = positions.get(GAS_KEY, _ZERO) - eth
        return {GAS_KEY: -eth}, {"gas": -eth * usd_price(snap, "ETH")}

    def deltas(self, op: str, ts: Any, ins: Any, positions: dict[str, Decimal], gas_ops: tuple[str, ...],
               status: str = "filled", details: dict[str, Any] | None = None,
               amount: Decimal | None = None) -> ExecutionDeltas:
        """The deltas of an executed step: ``positions`` plus the gas of ``gas_ops``."""
        fees, pnl = self.gas(ts.value, gas_ops, positions)
        return ExecutionDeltas(self.venue_name, op, ts, positions, fees, status, ins.client_id, None, None, amount,
                               pnl, details or {})

    def have(self, key: str, amount: Decimal) -> None:
        """InsufficientFundsError naming ``key`` when the ledger holds less than ``amount`` of it."""
        have = self.ledger.balance(key)
        if have < amount:
            raise InsufficientFundsError(key, amount, have)

    def convert(self, op: str, ts: Any, ins: Any, src: str, dst: str, out: int, gas_ops: tuple[str, ...],
                rate: int) -> ExecutionDeltas:
        """A wrap or unwrap: ``ins.amount`` of ``src`` leaves the wallet, ``out`` wei of ``dst`` arrive (details: the
        ``rate``); InstructionError naming ``amount`` when ``out`` is 0."""
        amount = ins.amount
        if out == 0:
            verb = "unwraps" if op == "unstake" else "wraps"
            raise InstructionError("amount", f"{amount} {src} {verb} into no {dst}")
        self.have(WALLET + src, amount)
        return self.deltas(op, ts, ins, {WALLET + src: -amount, WALLET + dst: from_wei(out)}, gas_ops,
                           details={"rate": from_wei(rate)}, amount=amount)

    def next_id(self, counter: str = "last_id", first: int = 1) -> str:
        """The next request id of the ``meta`` counter ``counter`` (``first``, then +1 each call)."""
        nxt = int(self.meta.get(counter, first - 1)) + 1
        self.meta[counter] = nxt
        return str(nxt)

    def rebase(self, token: str, previous: Any, ts: Any) -> list[ExecutionDeltas] | None:
        """The wallet's rebasing ``token`` multiplied by ``rate_now / rate_before`` (rounded down to a wei), booked as
        ``staking_yield``; None when there is nothing to rebase or no rate is known."""
        key = WALLET + token
        bal = self.ledger.balance(key)
        if bal <= 0:
            return None
        try:
            r0, r1 = self.rate(previous.value), self.rate(ts.value)
        except MarketDataError:  # no rate (yet): nothing known to rebase by
            return None
        if r0 == r1:
            return None
        w = to_wei(bal, key)
        d = from_wei(w * r1 // r0 - w)
        if d == 0:
            return None
        usd = d * self.price(ts.value)
        return [ExecutionDeltas(self.venue_name, "rebase", ts, {key: d}, {}, "accrued", pnl={"staking_yield": usd},
                                details={"rate": from_wei(r1)})]

    # -- operations -------------------------------------------------------------------------------
    def unstake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """``Unstake`` by its action: ``_unwrap``, ``_request`` or ``_claim`` of the subclass."""
        return self.unstake_action(ts, ins)  # type: ignore[no-any-return]

    def queue_request(self, ts: Any, ins: Any, locked: int, shares: int, gas_ops: tuple[str, ...],
                      locked_detail: str) -> ExecutionDeltas:
        """Open a withdrawal request (after the subclass validated it): ``ins.amount`` of ``ins.asset`` leaves the
        wallet, ``locked`` wei of the rebasing token (``details[locked_detail]``) with its ``shares`` are held in
        ``<venue>:withdrawal:<id>`` until the claim; status ``requested``, ``details["request_id"]``."""
        amount = ins.amount
        self.have(WALLET + ins.asset, amount)
        rid = self.next_id()
        self.requests[rid] = (locked, shares, ts.value)
        key = self.key("withdrawal", rid)
        human = from_wei(locked)
        details = {"request_id": rid, locked_detail: human, "shares": from_wei(shares),
                   "claimable_at": from_ns(ts.value + self.delay_ns).isoformat(),
                   "reference_prices": {key: self.price(ts.value)}}
        return self.deltas("unstake", ts, ins, {WALLET + ins.asset: -amount, key: human}, gas_ops, "requested",
                           details, amount)

    def finalised_request(self, ts: Any, request_id: str) -> tuple[int, int, int]:
        """The open request ``request_id``, claimable at ``ts``; InstructionError naming ``request_id`` when it is
        unknown or not finalised yet (nothing changes)."""
        req = self.requests.get(request_id)
        if req is None:
            known = ", ".join(self.requests.keys()) or "none"
            raise InstructionError("request_id", f"no open withdrawal request {request_id!r} (open: {known})")
        ready = req[2] + self.delay_ns
        if ts.value < ready:
            raise InstructionError("request_id", f"withdrawal request {request_id} is not {self.not_finalised}: "
                                                 f"claimable from {from_ns(ready).isoformat()}")
        return req  # type: ignore[no-any-return]

    def paid_claim(self, ts: Any, ins: Any, request_id: str, locked: int, eth: int) -> ExecutionDeltas:
        """Close request ``request_id`` (``locked`` wei) paying ``eth`` wei of ETH; status ``claimed``."""
        del self.requests[request_id]
        key = self.key("withdrawal", request_id)
        held, paid = from_wei(locked), from_wei(eth)
        eth_usd = self.price(ts.value)
        details = {"request_id": request_id, "amount_of_eth": paid,
                   "reference_prices": {key: paid * eth_usd / held if held else eth_usd}}
        return self.deltas("unstake", ts, ins, {key: -held, WALLET + "ETH": paid}, ("unstake_claim",), "claimed",
                           details, paid)

    def queue_balances(self, ts: Any, rate_metric: str, value_wei: Callable[[tuple[int, int, int], bool, int], int]
                       ) -> dict[str, Decimal]:
        """Wallet and venue balances with the queue's metrics: per request ``claimable:<id>`` (1 / 0),
        ``claimable_at:<id>`` (unix seconds) and, with a rate and an ETH price, ``value_usd:withdrawal:<id>``
        (``value_wei(request, ready, rate)`` wei of ETH); the rate as the metric ``rate_metric``."""
        out = self.ledger.balances_with((WALLET, f"{self.venue_name}:"))
        ts_ns = ts.value
        m = f"{self.venue_name}:metric:"
        for rid, req in self.requests.items():
            ready_ns = req[2] + self.delay_ns
            out[f"{m}claimable:{rid}"] = Decimal(1 if ts_ns >= ready_ns else 0)
            # when the queue lets it be claimed (UTC seconds): basis_core.transit.in_transit lists queued withdrawals
            out[f"{m}claimable_at:{rid}"] = Decimal(ready_ns) / Decimal(10**9)
        try:
            r = self.rate(ts_ns)
            eth_usd = self.price(ts_ns)
        except LookupError:
            return out
        out[f"{m}{rate_metric}"] = from_wei(r)
        for rid, req in self.requests.items():
            out[f"{m}value_usd:withdrawal:{rid}"] = from_wei(value_wei(req, ts_ns >= req[2] + self.delay_ns, r)
                                                             ) * eth_usd
        return out

    def notional_token(self, ins: Any) -> str:
        """The token whose USD price values an instruction's amount (ETH; a venue of other tokens overrides it)."""
        return "ETH"

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        """``amount x`` the USD price of :meth:`notional_token`; None without an amount or a price."""
        amount = getattr(ins, "amount", None)
        if amount is None or amount == "max":
            return None
        try:
            return amount * self.price(ts.value, self.notional_token(ins))  # type: ignore[no-any-return]
        except LookupError:
            return None
