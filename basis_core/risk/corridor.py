"""The joint risk corridor: for every leg of every venue, the market move that liquidates it.

The core asks each venue (``risk_state`` hook, its own liquidation math) for its legs' health under a
:class:`~basis_core.risk.shocks.Shock` and searches, per leg, by bisection on the shock's size:

- ``eth_down`` / ``eth_up``: the ETH price factor (e.g. 0.74 = a 26 % drop) at which the leg's health reaches 1,
  and the leg's liquidation price (its own reference: the perp's mark, Aave's ETH oracle) there;
- ``depeg``: per LST held, the exchange-rate factor that liquidates;
- ``funding_apr``: the adverse funding rate (annualised) that liquidates within ``horizon_hours``;
- ``borrow_apr``: the borrow rate (annualised, on every debt) that liquidates within ``horizon_hours``.

The joint corridor is the tightest of the legs: ``eth_down`` the highest factor below 1, ``eth_up`` the lowest above
it (None when no move within the searched range liquidates anything). Nothing changes while it is computed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from basis_core.errors import BasisError, UnsupportedOperationError
from basis_core.risk.shocks import NO_SHOCK, LegRisk, Shock

_ONE = Decimal(1)
ETH_RANGE = (Decimal("0.01"), Decimal(10))
RATE_MAX = Decimal(50)  # 5,000 % a year
DEFAULT_TOL = Decimal("1e-10")
DEFAULT_HORIZON_HOURS = Decimal(24 * 30)
DRIVERS = ("eth", "depeg", "funding", "borrow")


def leg_states(manager: Any, ts: Any, shock: Shock = NO_SHOCK, venues: Iterable[str] | None = None) -> list[LegRisk]:
    """Every leg of the venues that report risk (``risk_state``), under ``shock``."""
    out: list[LegRisk] = []
    names = list(venues) if venues is not None else [v["name"] for v in manager.venues()]
    for v in names:
        try:
            got = manager.risk_state(ts, v, shock)
        except UnsupportedOperationError:
            continue
        if got:
            out.extend(got)
    return out


@dataclass
class LegCorridor:
    """One leg's corridor (see the module docstring); factors are multiplicative moves."""

    venue: str
    leg: str
    kind: str
    health: Decimal | None
    reference: Mapping[str, Decimal] = field(default_factory=dict)
    eth_down: Decimal | None = None
    eth_up: Decimal | None = None
    liquidation_down: Mapping[str, Decimal] = field(default_factory=dict)
    liquidation_up: Mapping[str, Decimal] = field(default_factory=dict)
    depeg: dict[str, Decimal] = field(default_factory=dict)
    funding_apr: Decimal | None = None
    borrow_apr: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        def s(v: Any) -> Any:
            return None if v is None else str(v)
        return {"venue": self.venue, "leg": self.leg, "kind": self.kind, "health": s(self.health),
                "reference": {k: str(v) for k, v in self.reference.items()},
                "eth_down": s(self.eth_down), "eth_up": s(self.eth_up),
                "liquidation_down": {k: str(v) for k, v in self.liquidation_down.items()},
                "liquidation_up": {k: str(v) for k, v in self.liquidation_up.items()},
                "depeg": {k: str(v) for k, v in self.depeg.items()}, "funding_apr": s(self.funding_apr),
                "borrow_apr": s(self.borrow_apr)}


@dataclass
class Corridor:
    """The book's corridor at one time: per leg and joint (the tightest leg)."""

    timestamp: Any
    legs: list[LegCorridor]
    horizon_hours: Decimal = DEFAULT_HORIZON_HOURS

    def _pick(self, attr: str, best: Callable[[Iterable[Decimal]], Decimal]) -> tuple[Decimal | None, str | None]:
        got = [(getattr(leg, attr), leg.leg) for leg in self.legs if getattr(leg, attr) is not None]
        if not got:
            return None, None
        value = best(v for v, _ in got)
        return value, next(n for v, n in got if v == value)

    @property
    def eth_down(self) -> Decimal | None:
        """The highest ETH factor below 1 that liquidates a leg (None: none down to 0.01)."""
        return self._pick("eth_down", max)[0]

    @property
    def eth_up(self) -> Decimal | None:
        """The lowest ETH factor above 1 that liquidates a leg (None: none up to 10)."""
        return self._pick("eth_up", min)[0]

    @property
    def nearest_leg_down(self) -> str | None:
        return self._pick("eth_down", max)[1]

    @property
    def nearest_leg_up(self) -> str | None:
        return self._pick("eth_up", min)[1]

    @property
    def eth_move(self) -> Decimal | None:
        """The smallest ETH move (a fraction, either way) that liquidates any leg; None when none does."""
        moves = [_ONE - self.eth_down] if self.eth_down is not None else []
        if self.eth_up is not None:
            moves.append(self.eth_up - _ONE)
        return min(moves) if moves else None

    @property
    def min_health(self) -> Decimal | None:
        hs = [leg.health for leg in self.legs if leg.health is not None]
        return min(hs) if hs else None

    def to_dict(self) -> dict[str, Any]:
        def s(v: Any) -> Any:
            return None if v is None else str(v)
        return {"timestamp": str(self.timestamp), "eth_down": s(self.eth_down), "eth_up": s(self.eth_up),
                "eth_move": s(self.eth_move), "nearest_leg_down": self.nearest_leg_down,
                "nearest_leg_up": self.nearest_leg_up, "min_health": s(self.min_health),
                "horizon_hours": str(self.horizon_hours), "legs": [leg.to_dict() for leg in self.legs]}


def _bisect(health: Callable[[Decimal], Decimal | None], safe: Decimal, bad: Decimal, tol: Decimal) -> Decimal:
    """The boundary between ``safe`` (health >= 1) and ``bad`` (health < 1), to ``tol``; returns the first value on
    the liquidating side (so walking the market there liquidates)."""
    while abs(bad - safe) > tol:
        mid = (safe + bad) / 2
        h = health(mid)
        if h is not None and h < 1:
            bad = mid
        else:
            safe = mid
    return bad


def _leg_health(states: list[LegRisk], venue: str, leg: str) -> LegRisk | None:
    for s in states:
        if s.venue == venue and s.leg == leg:
            return s
    return None


def corridor(manager: Any, ts: Any, *, drivers: Iterable[str] = DRIVERS, tol: Decimal = DEFAULT_TOL,
             horizon_hours: Decimal = DEFAULT_HORIZON_HOURS, lsts: Iterable[str] = ("wstETH", "weETH"),
             venues: Iterable[str] | None = None, pending: Any = None) -> Corridor:
    """The corridor of every leg of ``manager``'s venues at ``ts`` (see the module docstring). ``drivers``: which
    of ``eth``, ``depeg``, ``funding``, ``borrow`` to search (``eth`` alone is the cheap, recorded one).
    ``pending``: an instruction every shock carries (:attr:`Shock.pending`): the corridor as if it filled now."""
    import functools

    make_shock = functools.partial(Shock, pending=pending)
    names = [v["name"] for v in manager.venues()] if venues is None else list(venues)
    now = leg_states(manager, ts, NO_SHOCK if pending is None else make_shock(), names)
    want = set(drivers)
    unknown = want - set(DRIVERS)
    if unknown:
        raise ValueError(f"drivers: unknown {sorted(unknown)}; known: {', '.join(DRIVERS)}")
    out: list[LegCorridor] = []
    for state in now:
        lc = LegCorridor(state.venue, state.leg, state.kind, state.health, dict(state.reference))
        out.append(lc)
        if state.health is None:
            continue

        def h(shock: Shock, st: LegRisk = state) -> LegRisk | None:
            try:
                got = manager.risk_state(ts, st.venue, shock)
            except BasisError:
                return None
            return _leg_health(got or [], st.venue, st.leg)

        def hv(shock: Shock) -> Decimal | None:
            r = h(shock)
            return None if r is None else r.health

        if state.health < 1:  # liquidatable now: any move in either direction keeps it so
            lc.eth_down = lc.eth_up = _ONE
            continue
        if "eth" in want:
            lo, hi = ETH_RANGE
            hlo = hv(make_shock(eth=lo))
            if hlo is not None and hlo < 1:
                lc.eth_down = _bisect(lambda f: hv(make_shock(eth=f)), _ONE, lo, tol)
                r = h(make_shock(eth=lc.eth_down))
                lc.liquidation_down = dict(r.reference) if r is not None else {}
            hhi = hv(make_shock(eth=hi))
            if hhi is not None and hhi < 1:
                lc.eth_up = _bisect(lambda f: hv(make_shock(eth=f)), _ONE, hi, tol)
                r = h(make_shock(eth=lc.eth_up))
                lc.liquidation_up = dict(r.reference) if r is not None else {}
        if "depeg" in want:
            for token in lsts:
                lo_h = hv(make_shock(lst={token: ETH_RANGE[0]}))
                if lo_h is not None and lo_h < 1:
                    lc.depeg[token] = _bisect(lambda f, t=token: hv(make_shock(lst={t: f})),  # type: ignore[misc]
                                              _ONE, ETH_RANGE[0], max(tol, Decimal("1e-8")))
        if "funding" in want and state.kind == "perp_margin":
            best: Decimal | None = None
            for sign in (1, -1):
                top = RATE_MAX * sign
                hh = hv(make_shock(funding_apr=top, hours=horizon_hours))
                if hh is not None and hh < 1:
                    x = _bisect(lambda r: hv(make_shock(funding_apr=r, hours=horizon_hours)), Decimal(0), top,
                                max(tol, Decimal("1e-8")))
                    if best is None or abs(x) < abs(best):
                        best = x
            lc.funding_apr = best
        if "borrow" in want and state.kind == "lending":
            hh = hv(make_shock(borrow_apr={"*": RATE_MAX}, hours=horizon_hours))
            if hh is not None and hh < 1:
                lc.borrow_apr = _bisect(lambda r: hv(make_shock(borrow_apr={"*": r}, hours=horizon_hours)), Decimal(0),
                                        RATE_MAX, max(tol, Decimal("1e-8")))
    return Corridor(ts, out, horizon_hours)


def corridor_columns(manager: Any, ts: Any, snapshot: Any, tol: Decimal = Decimal("1e-5")) -> dict[str, float]:
    """The recorded corridor of one backtest step (ETH moves only, to ``tol``): factors, the smallest move, and
    the ETH oracle price now and at both edges (NaN where no move liquidates anything)."""
    from basis_core.data.prices import usd_price

    c = corridor(manager, ts, drivers=("eth",), tol=tol)
    eth = usd_price(snapshot, "ETH")
    nan = float("nan")
    down, up, move = c.eth_down, c.eth_up, c.eth_move
    return {"corridor:eth_price": float(eth),
            "corridor:eth_down": nan if down is None else float(down),
            "corridor:eth_up": nan if up is None else float(up),
            "corridor:eth_move": nan if move is None else float(move),
            "corridor:eth_down_price": nan if down is None else float(eth * down),
            "corridor:eth_up_price": nan if up is None else float(eth * up)}


def stress(manager: Any, ts: Any, shocks: Mapping[str, Shock]) -> dict[str, list[LegRisk]]:
    """Every leg's state under each named shock."""
    names = [v["name"] for v in manager.venues()]
    return {name: leg_states(manager, ts, shock, names) for name, shock in shocks.items()}


__all__ = ["Corridor", "LegCorridor", "corridor", "corridor_columns", "leg_states", "stress"]
