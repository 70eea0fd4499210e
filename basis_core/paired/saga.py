"""The paired-execution saga: legs on several venues, hedged within a legging-risk budget, or unwound.

:func:`execute_paired` (``manager.execute`` calls it for an instruction of operation ``paired``) runs a
:class:`~basis_core.paired.model.Paired` through the manager's ordinary instructions only (every leg is an
ordinary ``manager.execute`` of its venue: the same risk limits, journal, history and statistics):

1. **Check** every leg before anything is sent: venue installed, operation supported, a USD notional known
   (``estimate_notional``) to size slices; a bad one raises a typed error naming ``legs.<i>.<field>``.
2. **Order** the legs by rank (least liquid first, see :data:`~basis_core.paired.model.DEFAULT_RANK`). The
   first is the *lead*; the others *follow* it at ``their amount / lead amount``.
3. **Slice**: a lead whose notional exceeds ``budget.max_unhedged_notional`` is cut into equal slices below it
   (rounded to the venue's amount step).
4. For each slice: the lead is sent; its **fill sizes** each follower (``filled x ratio``, rounded down to the
   follower's step; a partial fill of a follower is topped up). Before each send the saga checks the budget: the
   unhedged notional at the lead's fill price and the seconds since the lead filled. A retryable venue error
   (rate limit, an unresolved ambiguous outcome) is retried with the same client id (never a duplicate order)
   while the time budget lasts and ``max_attempts`` allows.
5. **Compensate**: when a leg fails definitively, or the budget would be exceeded, the filled legs are unwound
   in reverse order (:mod:`basis_core.paired.compensate`) -- the slice in flight (``on_failure: keep_hedged``)
   or everything (``flatten``, the default). The result has status ``unwound`` (flat) or ``partially_filled``
   (the hedged slices kept) and ``details["unwind_cost_usd"]``: what the round trips cost (fees, slippage, the
   price moved in between). If a compensation itself cannot be done, :class:`~basis_core.errors.PairedExecutionError`
   says which legs are left open.

Time. Backtest: the saga keeps its own clock, starting at the instruction's timestamp; before each send it moves
by the :class:`~basis_core.paired.model.LatencyModel` delay between the previous venue and this one, so the leg
fills at the market of that later time (deterministic). Live: seconds are wall-clock seconds.

Crash safety (live, with ``journal_path``): every leg's client id is ``<paired client_id>.<slice>.<leg>``
(compensations ``...u``, top-ups ``...t<n>``) and is journaled (venue ``paired``) before the leg is sent. Running
the same paired instruction again (same ``client_id``) after a crash resumes it: legs already done come back from
the venues' own journal by client id (nothing is sent twice), a leg whose outcome was lost is looked up at the
venue by its client id before anything is re-sent, and the time budget counts from the journaled fill of the lead.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pandas as pd

from basis_core.data.prices import STABLECOINS
from basis_core.deltas import ExecutionDeltas, merge_positions, split_key
from basis_core.errors import (
    AmbiguousOutcomeError,
    BasisError,
    InstructionError,
    InstructionValidationError,
    PairedExecutionError,
    RetryableError,
)
from basis_core.instructions import instruction_to_dict
from basis_core.paired.compensate import compensation, filled_quantity
from basis_core.paired.model import Paired, leg_amount

log = logging.getLogger(__name__)

_ZERO = Decimal(0)
#: slices are sized this much below the budget, for the difference between the estimate and the fill price
SLICE_HEADROOM = Decimal("0.98")
JOURNAL_VENUE = "paired"
_ETH_FAMILY = frozenset({"ETH", "WETH", "stETH"})


@dataclass
class LegFill:
    """One send of the saga: which leg, of which slice, in which role, and what came back."""

    leg: int
    slice: int
    role: str  # lead | hedge | top_up | unwind
    client_id: str
    instruction: dict[str, Any]
    deltas: ExecutionDeltas | None = None
    error: str | None = None
    at: str = ""
    unwound: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = self.deltas
        return {"leg": self.leg, "slice": self.slice, "role": self.role, "client_id": self.client_id,
                "venue": self.instruction.get("venue"), "operation": self.instruction.get("operation"),
                "amount": self.instruction.get("amount") or self.instruction.get("amount_in"),
                "status": d.status if d is not None else "failed", "error": self.error,
                "fill_amount": None if d is None or d.fill_amount is None else str(d.fill_amount),
                "fill_price": None if d is None or d.fill_price is None else str(d.fill_price), "at": self.at}


class _Abort(Exception):
    """A leg failed or the budget would be exceeded: unwind (internal). ``error``: the venue's typed error."""

    def __init__(self, reason: str, error: BasisError | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


@dataclass
class _Clock:
    """The saga's time: a simulated clock (backtest) or the wall clock (live)."""

    start: pd.Timestamp
    simulated: bool
    t: pd.Timestamp = field(init=False)
    wall0: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.t = self.start

    def wait_ms(self, ms: int) -> None:
        if self.simulated and ms:
            self.t = self.t + pd.Timedelta(milliseconds=ms)

    @property
    def ts(self) -> pd.Timestamp:
        return self.t if self.simulated else self.start

    def seconds(self) -> Decimal:
        """Seconds since the saga's start."""
        if self.simulated:
            return Decimal(int(self.t.value - self.start.value)) / Decimal(10**9)
        return Decimal(str(round(time.monotonic() - self.wall0, 6)))


class Saga:
    """One run of a paired instruction (see the module docstring)."""

    def __init__(self, manager: Any, paired: Paired, ts: pd.Timestamp) -> None:
        self.m = manager
        self.p = paired
        self.cid = paired.client_id or f"pr-{uuid.uuid4().hex[:12]}"
        self.clock = _Clock(ts, manager.execution_mode == "backtest")
        self.fills: list[LegFill] = []
        self.last_venue: str | None = None
        self.max_unhedged_usd = _ZERO
        self.max_unhedged_s = _ZERO
        self.journal = None
        self.resume_offset = Decimal(0)
        if manager.execution_mode == "live" and manager.settings.journal_path is not None:
            from basis_core.live.journal import ExecutionJournal

            self.journal = ExecutionJournal.shared(manager.settings.journal_path)

    # -- checks -------------------------------------------------------------------------------------
    def check(self) -> tuple[list[int], Decimal]:
        """Every leg routable, and the lead's USD price per unit; typed errors name ``legs.<i>.<field>``."""
        for i, leg in enumerate(self.p.legs):
            try:
                info = self.m.venue_info(leg.venue)
            except InstructionError as exc:
                raise InstructionValidationError(f"legs.{i}.venue", exc.reason) from None
            if leg.operation not in info.operations:
                raise InstructionValidationError(
                    f"legs.{i}.operation", f"venue {leg.venue!r} does not support {leg.operation!r} "
                                           f"(supports: {', '.join(sorted(info.operations)) or 'none'})")
            sym = getattr(leg, "symbol", None)
            if sym is not None and info.rules and sym not in info.rules:
                raise InstructionValidationError(f"legs.{i}.symbol", f"venue {leg.venue!r} has no market {sym!r} "
                                                                     f"(markets: {', '.join(sorted(info.rules))})")
        order = self.p.order()
        lead = self.p.legs[order[0]]
        unit = self._unit_price(order[0])
        if unit is None:
            for j in order[1:]:  # the lead's venue gives no notional: a follower's, scaled back by the ratio
                u = self._unit_price(j)
                if u is not None:
                    unit = u * leg_amount(self.p.legs[j]) / leg_amount(lead)
                    break
        if unit is None or unit <= 0:
            raise InstructionValidationError(f"legs.{order[0]}", "no venue of the legs estimates a USD notional: "
                                                                 "the legging budget cannot be applied")
        return order, unit

    def _unit_price(self, i: int) -> Decimal | None:
        leg = self.p.legs[i]
        try:
            n = self.m.estimate_notional(self.clock.ts, leg)
        except (BasisError, LookupError):
            return None
        return None if n is None else Decimal(n) / leg_amount(leg)

    def _step(self, i: int) -> Decimal | None:
        leg = self.p.legs[i]
        sym = getattr(leg, "symbol", None)
        if sym is None:
            return None
        r = self.m.venue_info(leg.venue).rules.get(sym)
        return None if r is None else r.step  # type: ignore[no-any-return]

    @staticmethod
    def _round(x: Decimal, step: Decimal | None) -> Decimal:
        if step is None or step <= 0:
            return x
        return (x / step).to_integral_value(rounding=ROUND_DOWN) * step

    # -- sending --------------------------------------------------------------------------------------
    def _instruction(self, i: int, amount: Decimal, client_id: str) -> dict[str, Any]:
        d = instruction_to_dict(self.p.legs[i])
        d["amount_in" if d["operation"] == "swap" else "amount"] = str(amount)
        if d["operation"] == "swap":
            d.pop("min_amount_out", None)  # set for the planned size, not this one
        d["client_id"] = client_id
        return d

    def _journal_intent(self, f: LegFill) -> Any:
        if self.journal is None:
            return None
        from basis_core.live.journal import fingerprint

        return self.journal.record_intent(JOURNAL_VENUE, f.client_id, f.client_id, str(f.instruction["operation"]),
                                          {"saga": self.cid, "role": f.role, "leg": f.leg, "slice": f.slice,
                                           "instruction": f.instruction}, fingerprint(f.instruction))

    def _send(self, f: LegFill, deadline: Decimal | None) -> ExecutionDeltas:
        """Send one leg (retrying retryable errors with the same client id while ``deadline`` -- saga seconds --
        and ``max_attempts`` allow); the deltas, or _Abort with the reason."""
        venue = str(f.instruction["venue"])
        self.fills.append(f)
        last: BaseException | None = None
        for attempt in range(self.p.max_attempts):
            self.clock.wait_ms(self.p.latency.ms(self.last_venue, venue))
            self.last_venue = venue
            if deadline is not None and self.clock.seconds() > deadline:
                f.error = f"legging budget: {self.clock.seconds()} s would pass before this leg is sent"
                raise _Abort(f.error)
            f.at = self.clock.ts.isoformat() if self.clock.simulated else pd.Timestamp.now(tz="UTC").isoformat()
            intent = self._journal_intent(f) if attempt == 0 else None
            try:
                d = self.m.execute(self.clock.ts, f.instruction)
            except (RetryableError, AmbiguousOutcomeError) as exc:
                last = exc
                log.info("paired %s: %s leg %s attempt %d: %s", self.cid, f.role, f.client_id, attempt + 1, exc)
                continue
            except BasisError as exc:
                f.error = f"{type(exc).__name__}: {exc}"
                if intent is not None:
                    self.journal.record_outcome(intent, "rejected", {"error": f.error})  # type: ignore[union-attr]
                raise _Abort(f"{f.role} leg {f.leg} ({venue} {f.instruction['operation']}) failed: {f.error}",
                             exc) from exc
            if intent is not None:
                from basis_core.live.orders import deltas_to_json

                self.journal.record_outcome(intent, "done", {"deltas": deltas_to_json(d)})  # type: ignore[union-attr]
            f.deltas = d
            return d
        f.error = f"{type(last).__name__}: {last}" if last is not None else "no attempt"
        raise _Abort(f"{f.role} leg {f.leg} ({venue}) failed after {self.p.max_attempts} attempts: {f.error}")

    # -- the saga -------------------------------------------------------------------------------------
    def run(self) -> ExecutionDeltas:
        order, unit = self.check()
        lead_i, followers = order[0], order[1:]
        lead = self.p.legs[lead_i]
        total = leg_amount(lead)
        ratios = {j: leg_amount(self.p.legs[j]) / total for j in followers}
        budget = self.p.budget
        lead_step = self._step(lead_i)
        max_slice = budget.max_unhedged_notional * SLICE_HEADROOM / unit
        n = max(1, math.ceil(total / max_slice)) if max_slice < total else 1
        size = self._round(total / n, lead_step) if n > 1 else total
        if size <= 0:
            raise InstructionValidationError("budget.max_unhedged_notional",
                                             f"{budget.max_unhedged_notional} USD is below one amount step of leg "
                                             f"{lead_i} ({lead_step} at about {unit:.2f} USD)")
        self.resume_offset = self._resumed_seconds()
        done = _ZERO
        hedged = _ZERO
        reason: str | None = None
        k = 0
        first_of_slice = 0
        try:
            while done < total:
                first_of_slice = len(self.fills)
                qty = min(size, total - done) if k < n - 1 else total - done
                qty = self._round(qty, lead_step)
                if qty <= 0:
                    break
                self._slice(k, lead_i, qty, followers, ratios, unit)
                done += qty
                hedged += filled_quantity(lead, self.fills[first_of_slice].deltas)  # type: ignore[arg-type]
                k += 1
        except _Abort as exc:
            if exc.error is not None and not any(f.deltas is not None for f in self.fills):
                raise exc.error from None  # nothing filled anywhere: the lead's own refusal, nothing changed
            reason = exc.reason
            log.warning("paired %s: %s; unwinding", self.cid, reason)
            scope = self.fills if self.p.on_failure == "flatten" else self.fills[first_of_slice:]
            self._unwind([f for f in scope if f.deltas is not None and f.role != "unwind"])
            if self.p.on_failure == "flatten":
                hedged = _ZERO
        return self._result(reason, hedged, k)

    def _resumed_seconds(self) -> Decimal:
        """Seconds already spent on this saga by an earlier (crashed) process: from its first journaled leg."""
        if self.journal is None:
            return Decimal(0)
        rows = [r for r in self.journal.rows(JOURNAL_VENUE) if r.intent_id.startswith(f"{self.cid}.")]
        if not rows:
            return Decimal(0)
        return Decimal(max(time.time_ns() - rows[0].written_ns, 0)) / Decimal(10**9)

    def _slice(self, k: int, lead_i: int, qty: Decimal, followers: list[int], ratios: Mapping[int, Decimal],
               unit: Decimal) -> None:
        budget = self.p.budget
        lead = self.p.legs[lead_i]
        f = LegFill(lead_i, k, "lead", f"{self.cid}.{k}.{lead_i}", self._instruction(lead_i, qty,
                                                                                     f"{self.cid}.{k}.{lead_i}"))
        d = self._send(f, None)
        got = filled_quantity(lead, d)
        if got <= 0:
            raise _Abort(f"lead leg {lead_i} filled nothing (status {d.status})")
        px = d.fill_price if d.fill_price is not None and lead.operation in ("spot_trade", "perp_trade") else None
        unhedged_usd = got * (px if px is not None else unit)
        self.max_unhedged_usd = max(self.max_unhedged_usd, unhedged_usd)
        if unhedged_usd > budget.max_unhedged_notional:
            raise _Abort(f"legging budget: the lead filled {unhedged_usd:.2f} USD, above max_unhedged_notional "
                         f"{budget.max_unhedged_notional}")
        filled_at = self.clock.seconds() - (self.resume_offset if k == 0 else 0)
        deadline = filled_at + budget.max_unhedged_seconds
        for j in followers:
            step = self._step(j)
            need = self._round(got * ratios[j], step)
            t = 0
            while need > 0:
                cid = f"{self.cid}.{k}.{j}" if t == 0 else f"{self.cid}.{k}.{j}t{t}"
                hf = LegFill(j, k, "hedge" if t == 0 else "top_up", cid, self._instruction(j, need, cid))
                hd = self._send(hf, deadline)
                filled = filled_quantity(self.p.legs[j], hd)
                if filled <= 0 and hd.status not in ("filled", "partially_filled"):
                    hf.error = f"status {hd.status}: nothing filled"
                need = self._round(need - filled, step)
                t += 1
                if need > 0 and t >= self.p.max_attempts:
                    raise _Abort(f"hedge leg {j} filled only part after {t} orders; {need} left")
        self.max_unhedged_s = max(self.max_unhedged_s, self.clock.seconds() - filled_at)

    def _unwind(self, filled: list[LegFill]) -> None:
        """Compensate the filled legs, newest first; PairedExecutionError names what stays open."""
        open_legs: list[str] = []
        for f in reversed(filled):
            leg = self.p.legs[f.leg]
            assert f.deltas is not None
            cid = f"{f.client_id}u"
            comp = compensation(leg, f.deltas, cid)
            if comp is None:
                continue
            uf = LegFill(f.leg, f.slice, "unwind", cid, comp)
            try:
                self._send(uf, None)
            except _Abort as exc:
                open_legs.append(f"{f.client_id} ({leg.venue} {leg.operation}): {exc.reason}")
                continue
            f.unwound = True
        if open_legs:
            raise PairedExecutionError(
                "legs", f"paired {self.cid}: the unwind failed for {len(open_legs)} leg(s), which stay open: "
                        + "; ".join(open_legs), open_legs=open_legs, fills=[x.to_dict() for x in self.fills])

    # -- the result -----------------------------------------------------------------------------------
    def _result(self, reason: str | None, hedged: Decimal, slices: int) -> ExecutionDeltas:
        done = [f for f in self.fills if f.deltas is not None]
        positions = merge_positions(*(f.deltas.positions for f in done))  # type: ignore[union-attr]
        fees = merge_positions(*(f.deltas.fees for f in done))  # type: ignore[union-attr]
        pnl: dict[str, Decimal] = {}
        for f in done:
            for c, v in f.deltas.pnl.items():  # type: ignore[union-attr]
                pnl[c] = pnl.get(c, _ZERO) + v
        unwound = [f for f in done if f.unwound or f.role == "unwind"]
        cost, unpriced = unwind_cost(unwound, self.p)
        if reason is None:
            status = "filled"
        elif hedged > 0:
            status = "partially_filled"
        else:
            status = "unwound"
        lead_px = [f.deltas.fill_price for f in done if f.role == "lead" and f.deltas.fill_price is not None]  # type: ignore[union-attr]
        details: dict[str, Any] = {
            "legs": [f.to_dict() for f in self.fills], "slices": slices, "reason": reason,
            "unwind_cost_usd": cost, "unpriced": unpriced, "hedged_amount": hedged,
            "max_unhedged_notional_usd": self.max_unhedged_usd, "max_unhedged_seconds": self.max_unhedged_s,
            "seconds": self.clock.seconds(),
        }
        return ExecutionDeltas(
            venue="paired", operation="paired", timestamp=self.clock.ts, positions=positions, fees=fees,
            status=status, client_id=self.p.client_id, fill_amount=hedged,
            fill_price=lead_px[-1] if lead_px else None, pnl=pnl, details=details)


def _asset_of(key: str) -> tuple[str, str]:
    _, kind, asset = split_key(key)
    if kind == "perp":
        return kind, asset.split("/")[0]
    return kind, asset


def unwind_cost(unwound: list[LegFill], paired: Paired) -> tuple[Decimal, list[str]]:
    """USD cost of the unwound legs with their compensations: minus the value of what is left of them (fees, the
    price moved between leg and unwind), stablecoins at 1 and other assets at the last fill price seen for
    them (the ETH family at the ETH fill). Keys with no price are listed (counted as 0)."""
    if not unwound:
        return _ZERO, []
    prices: dict[str, Decimal] = {}
    for f in unwound:
        d = f.deltas
        if d is None or d.fill_price is None:
            continue
        leg = paired.legs[f.leg]
        base = getattr(leg, "base", None) or getattr(leg, "asset", None)
        if base is not None:
            prices[base] = d.fill_price
            if base in _ETH_FAMILY:
                for a in _ETH_FAMILY:
                    prices.setdefault(a, d.fill_price)
    left = merge_positions(*(f.deltas.positions for f in unwound))  # type: ignore[union-attr]
    value = _ZERO
    unpriced: list[str] = []
    for key, amount in left.items():
        kind, asset = _asset_of(key)
        if kind == "metric":
            continue
        px = Decimal(1) if asset in STABLECOINS else prices.get(asset)
        if px is None:
            unpriced.append(key)
            continue
        sign = -1 if kind in ("debt", "borrow") else 1
        value += sign * amount * px
    return -value, unpriced


def execute_paired(manager: Any, timestamp: Any, instruction: Any) -> ExecutionDeltas:
    """Run a paired instruction (a :class:`Paired`, dict or JSON) on ``manager`` at ``timestamp``."""
    from basis_core.paired.model import parse_paired
    from basis_core.timeutil import to_utc

    paired = parse_paired(instruction)
    ts = to_utc(timestamp)
    if manager._min_corridor is not None and manager.ledger is None:  # live: every leg projected, before any is sent
        manager._check_corridor_live(ts, paired)
    return Saga(manager, paired, ts).run()


__all__ = ["LegFill", "Saga", "execute_paired", "unwind_cost"]
