"""The core's DEX router: a swap with ``venue: "auto"`` is split across every installed AMM venue's pools.

Flow (:func:`plan_route`, used by ``manager.execute`` / ``manager.quote`` for ``venue == "auto"``)

1. Candidates: every venue implementing ``quote_swap`` is asked for the pools of the pair (the ``swap_pools``
   hook; a venue without it offers its default route). A venue that does not know a token offers nothing.
2. Curves: each (venue, pool) becomes an exact quote function through the venue's own ``quote_swap`` (the
   core names no venue and no plugin imports another). Gas: the quote's ``gas_cost_eth`` in the output token at
   the quote's reference prices (else the market data's), so the split maximises the output *net of gas*.
3. Split: :func:`basis_core.best_execution.split.modelled_split` (the search on constant-product models fitted
   to two exact quotes per pool, then one exact quote per chosen leg; never worse than the best single pool,
   exactly), or with ``search: "exact"`` :func:`~basis_core.best_execution.split.best_split` (exact grid
   search, then water-filling, every quote through the hooks).
4. Execution: the legs as ONE atomic bundle of ordinary ``swap`` instructions, all or nothing. Backtest: the
   core runs the bundle on the ledger (a failed leg rolls every leg back). Live: the bundle goes to the executor
   venue named by ``venue_config.auto.executor`` (a venue whose ``execute_atomic`` runs other venues' steps in
   one transaction, through their ``encode_call`` hook); without one, a single leg is an ordinary swap and a
   split is refused before anything is sent.

Settings (``venue_config.auto``, all optional): ``grid`` (chunks of the exact search, default 6), ``rounds``
(Newton rounds of the water-filling, default 4), ``venues`` (the venues to consider; default every venue with
``quote_swap``), ``executor`` (live: the venue running a multi-pool split as one transaction),
``default_slippage_bps`` (50: the legs' on-chain minimum below their quotes when the instruction gives no bound),
``search`` (``"model"``, default, or ``"exact"``: see step 3).

Deltas (venue ``auto``, operation ``swap``): the merged wallet changes of the legs (gas included); ``details``:
``legs`` (venue, pool, amount_in, amount_out, gas_cost_eth, price_impact_bps per pool used), ``amount_out``,
``gas_cost_eth``, ``gas_units``, ``net_amount_out`` (output less the gas valued in the output token),
``best_single`` (the best single pool's quote: venue, pool, amount_out, gas_cost_eth, net_amount_out),
``output_gain`` (net output over the best single pool's), ``price_impact_bps`` (against the best pool's
no-impact output), ``impact_saved_bps`` (the best single pool's impact less the split's), ``quotes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from basis_core.best_execution.split import Curve, Split, best_split, modelled_split
from basis_core.deltas import ExecutionDeltas, merge_positions
from basis_core.errors import (
    ConfigError,
    InstructionError,
    MarketDataError,
    SlippageError,
    UnsupportedOperationError,
)
from basis_core.instructions import Atomic, Swap

__all__ = ["ROUTER_VENUE", "RoutePlan", "RouterSettings", "execute_routed", "plan_route", "prepare_routed",
           "quote_routed", "router_settings"]

#: the venue name that asks the core to route a swap
ROUTER_VENUE = "auto"
_OPTIONS = frozenset({"grid", "rounds", "venues", "executor", "default_slippage_bps", "search"})
_SEARCHES = ("model", "exact")
_BPS = Decimal(10_000)
_ZERO = Decimal(0)
_WALLET = "ethereum:wallet:"


@dataclass(frozen=True)
class RouterSettings:
    """The router's settings (``venue_config.auto``)."""

    grid: int = 6
    rounds: int = 4
    venues: tuple[str, ...] | None = None
    executor: str | None = None
    default_slippage_bps: Decimal = Decimal(50)
    search: str = "model"


def router_settings(settings: Any) -> RouterSettings:
    """:class:`RouterSettings` from a manager's settings; ConfigError naming ``venue_config.auto.<key>``."""
    vs = (getattr(settings, "venue_config", None) or {}).get(ROUTER_VENUE)
    opts: Mapping[str, Any] = vs.options if vs is not None else {}
    for key in opts:
        if key not in _OPTIONS:
            raise ConfigError(f"venue_config.{ROUTER_VENUE}.{key}: unknown router setting; known: "
                              f"{', '.join(sorted(_OPTIONS))}")
    try:
        grid = int(opts.get("grid", 6))
        rounds = int(opts.get("rounds", 4))
        slip = Decimal(str(opts.get("default_slippage_bps", 50)))
    except (TypeError, ValueError, ArithmeticError):
        raise ConfigError(f"venue_config.{ROUTER_VENUE}: grid and rounds must be integers, "
                          "default_slippage_bps a number") from None
    if not 1 <= grid <= 200 or not 0 <= rounds <= 30 or not 0 <= slip < _BPS:
        raise ConfigError(f"venue_config.{ROUTER_VENUE}: grid must be in [1, 200], rounds in [0, 30], "
                          "default_slippage_bps in [0, 10000)")
    venues = opts.get("venues")
    if venues is not None and (isinstance(venues, str) or not all(isinstance(v, str) for v in venues)):
        raise ConfigError(f"venue_config.{ROUTER_VENUE}.venues: expected a list of venue names")
    executor = opts.get("executor")
    search = opts.get("search", "model")
    if search not in _SEARCHES:
        raise ConfigError(f"venue_config.{ROUTER_VENUE}.search: expected one of {', '.join(_SEARCHES)}, "
                          f"got {search!r}")
    return RouterSettings(grid, rounds, None if venues is None else tuple(venues),
                          None if executor is None else str(executor), slip, str(search))


@dataclass
class _Pool:
    """One candidate pool and its quotes (input base units -> the venue's quote deltas)."""

    venue: str
    pool: str | None
    decimals_in: int
    decimals_out: int
    caller: Any
    quotes: dict[int, ExecutionDeltas]

    @property
    def key(self) -> str:
        return f"{self.venue}:{self.pool}" if self.pool else self.venue


@dataclass(frozen=True)
class RoutePlan:
    """A planned split: the candidate pools, the :class:`Split` over them, the legs' quotes."""

    instruction: Swap
    pools: tuple[_Pool, ...]
    split: Split
    unit_decimals: int
    gas_out: tuple[int, ...]  # per pool, gas in output base units

    def legs(self) -> list[tuple[_Pool, int, ExecutionDeltas]]:
        """(pool, input base units, its quote) of every pool the split uses."""
        return [(self.pools[i], self.split.amounts[i], self.pools[i].quotes[self.split.amounts[i]])
                for i in self.split.used]


def _units(amount: Decimal, decimals: int) -> int:
    v = amount.scaleb(decimals)
    if v != v.to_integral_value():
        raise InstructionError("amount_in", f"{amount} has more fractional digits than the token's {decimals}")
    return int(v)


def _human(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)


def _candidates(manager: Any, ts: Any, ins: Swap, rs: RouterSettings) -> list[_Pool]:
    names = rs.venues if rs.venues is not None else tuple(sorted(manager._venues))
    probe = ins.model_copy(update={"pool": None, "quote_only": True})
    out: list[_Pool] = []
    for name in names:
        try:
            caller = manager._caller(name, "quote_swap")
        except UnsupportedOperationError:
            if rs.venues is not None:
                raise ConfigError(f"venue_config.{ROUTER_VENUE}.venues: {name!r} has no quote_swap hook") from None
            continue
        try:
            entries = manager._caller(name, "swap_pools")(timestamp=ts, instruction=probe)
        except UnsupportedOperationError:
            entries = None
        except InstructionError:  # the venue does not trade a token of the pair
            continue
        if entries is None:  # no swap_pools hook: the venue's default route, decimals from one quote
            try:
                q = caller(timestamp=ts, instruction=probe)
            except InstructionError:
                continue
            d_in, d_out = -q.details["amount_in"].as_tuple().exponent, -q.details["amount_out"].as_tuple().exponent
            entries = [{"pool": None, "decimals_in": max(d_in, 0), "decimals_out": max(d_out, 0)}]
        for e in entries:
            out.append(_Pool(name, e["pool"], int(e["decimals_in"]), int(e["decimals_out"]), caller, {}))
    return out


def _quoter(pool: _Pool, ts: Any, ins: Swap, unit_dec: int) -> Any:
    """``quote(units) -> output base units`` of one pool through its venue's quote hook (None: it refuses)."""
    scale = 10 ** (pool.decimals_in - unit_dec)

    def quote(units: int) -> int | None:
        s = Swap(venue=pool.venue, token_in=ins.token_in, token_out=ins.token_out,
                 amount_in=_human(units * scale, pool.decimals_in), pool=pool.pool, quote_only=True)
        try:
            d = pool.caller(timestamp=ts, instruction=s)
        except InstructionError:
            return None
        if d is None:
            return None
        pool.quotes[units] = d
        return int(Decimal(d.details["amount_out"]).scaleb(pool.decimals_out))
    return quote


def _gas_in_output(manager: Any, ts: Any, pool: _Pool, d: ExecutionDeltas, token_out: str) -> int:
    """A quote's gas (ETH) in output base units (rounded up), at its reference prices or the market's; 0 when
    neither prices it (the split then ignores gas)."""
    gas_eth = Decimal(d.details.get("gas_cost_eth") or 0)
    if not gas_eth:
        return 0
    refs = d.details.get("reference_prices") or {}
    eth, out = refs.get("ETH"), refs.get(token_out)
    if not eth or not out:
        try:
            from basis_core.data.prices import usd_price

            snap = manager.data_provider.get_data(ts)
            eth, out = usd_price(snap, "ETH"), usd_price(snap, token_out)
        except (AttributeError, MarketDataError, KeyError):
            return 0
    value = (gas_eth * Decimal(eth) / Decimal(out)).scaleb(pool.decimals_out)
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def plan_route(manager: Any, ts: Any, ins: Swap) -> RoutePlan:
    """Quote every candidate pool and choose the split (nothing changes). InstructionError naming ``token_out``
    when no venue trades the pair, ``amount_in`` when no allocation is feasible."""
    if ins.pool is not None:
        raise InstructionError("pool", f"a routed swap (venue {ROUTER_VENUE!r}) chooses its pools; omit 'pool' "
                                       "or name a venue")
    rs = router_settings(manager.settings)
    pools = _candidates(manager, ts, ins, rs)
    if not pools:
        raise InstructionError("token_out", f"no installed venue has a pool for {ins.token_in}/{ins.token_out}")
    unit_dec = min(p.decimals_in for p in pools)
    total = _units(ins.amount_in, unit_dec)
    quoters = [_quoter(p, ts, ins, unit_dec) for p in pools]
    gas: list[int] = []
    for p, q in zip(pools, quoters, strict=True):  # gas: from a quote of the whole amount (the grid asks it anyway)
        got = q(total)
        gas.append(0 if got is None else _gas_in_output(manager, ts, p, p.quotes[total], ins.token_out))
    curves = [Curve(p.key, _memo_first(q, total, p), g) for p, q, g in zip(pools, quoters, gas, strict=True)]
    split = (modelled_split if rs.search == "model" else best_split)(total, curves, rs.grid, rs.rounds)
    if split is None:
        raise InstructionError("amount_in", f"beyond every pool: no split of {ins.amount_in} {ins.token_in} "
                                            f"over {', '.join(p.key for p in pools)} is feasible")
    return RoutePlan(ins, tuple(pools), split, unit_dec, tuple(gas))


def _memo_first(q: Any, total: int, pool: _Pool) -> Any:
    """``q`` that reuses the quote of ``total`` already asked (for the gas)."""
    def quote(units: int) -> int | None:
        d = pool.quotes.get(units)
        if d is not None:
            return int(Decimal(d.details["amount_out"]).scaleb(pool.decimals_out))
        return q(units)  # type: ignore[no-any-return]
    return quote


def _no_impact(plan: RoutePlan) -> Decimal:
    """The best no-impact output for the whole input among the pools (the reference of the impacts)."""
    total = sum(plan.split.amounts)
    best = _ZERO
    for p in plan.pools:
        d = p.quotes.get(total)
        if d is not None:
            best = max(best, Decimal(d.details.get("no_impact_amount_out") or 0))
    return best


def _leg_bounds(plan: RoutePlan, default_slippage_bps: Decimal) -> list[Decimal]:
    """Each leg's minimum output: its share of the instruction's bound on the total (``min_amount_out``, and
    ``max_slippage_bps`` against the best no-impact output), else its quote less ``default_slippage_bps``."""
    ins = plan.instruction
    legs = plan.legs()
    outs = [Decimal(d.details["amount_out"]) for _, _, d in legs]
    gross = sum(outs, _ZERO)
    bound: Decimal | None = ins.min_amount_out
    if ins.max_slippage_bps is not None:
        b = _no_impact(plan) * (_BPS - ins.max_slippage_bps) / _BPS
        bound = b if bound is None else max(bound, b)
    if bound is None:
        keep = (_BPS - default_slippage_bps) / _BPS
        return [(o * keep).quantize(Decimal(1).scaleb(-p.decimals_out), rounding="ROUND_FLOOR")
                for o, (p, _, _) in zip(outs, legs, strict=True)]
    return [(bound * o / gross).quantize(Decimal(1).scaleb(-p.decimals_out), rounding=ROUND_CEILING)
            for o, (p, _, _) in zip(outs, legs, strict=True)]


def _check_total(plan: RoutePlan) -> None:
    """SlippageError when the planned total breaks the instruction's bounds (nothing is sent)."""
    ins = plan.instruction
    out = sum((Decimal(d.details["amount_out"]) for _, _, d in plan.legs()), _ZERO)
    if ins.min_amount_out is not None and out < ins.min_amount_out:
        raise SlippageError("min_amount_out", f"the best split pays {out} {ins.token_out}, below min_amount_out "
                                              f"{ins.min_amount_out}")
    ni = _no_impact(plan)
    if ins.max_slippage_bps is not None and ni > 0:
        impact = (ni - out) / ni * _BPS
        if impact > ins.max_slippage_bps:
            raise SlippageError("max_slippage_bps", f"price impact of the best split "
                                                    f"{impact.quantize(Decimal('0.0001'))} bps exceeds "
                                                    f"max_slippage_bps {ins.max_slippage_bps}")


def _bundle(plan: RoutePlan, venue: str, default_slippage_bps: Decimal) -> Atomic:
    """The split as an atomic bundle of ordinary swaps (each with its minimum output) run by ``venue``."""
    ins = plan.instruction
    steps = []
    for (p, units, _), lo in zip(plan.legs(), _leg_bounds(plan, default_slippage_bps), strict=True):
        amount = _human(units * 10 ** (p.decimals_in - plan.unit_decimals), p.decimals_in)
        steps.append(Swap(venue=p.venue, token_in=ins.token_in, token_out=ins.token_out, amount_in=amount,
                          pool=p.pool, min_amount_out=lo, deadline=ins.deadline))
    return Atomic(venue=venue, steps=steps, client_id=ins.client_id)  # type: ignore[arg-type]


def _details(plan: RoutePlan, amount_out: Decimal, gas_eth: Decimal, gas_units: int) -> dict[str, Any]:
    ins = plan.instruction
    s = plan.split
    dec_out = plan.pools[s.used[0]].decimals_out
    ni = _no_impact(plan)
    legs = []
    for p, units, d in plan.legs():
        legs.append({"venue": p.venue, "pool": p.pool or d.details.get("pool"),
                     "amount_in": _human(units * 10 ** (p.decimals_in - plan.unit_decimals), p.decimals_in),
                     "amount_out": Decimal(d.details["amount_out"]), "gas_cost_eth": d.details.get("gas_cost_eth"),
                     "price_impact_bps": d.details.get("price_impact_bps")})
    gas_out = sum(plan.gas_out[i] for i in s.used)
    # the net output values the gas paid at the split's rate (exact plan figure when nothing else is known)
    net = amount_out - _human(gas_out, dec_out)
    details: dict[str, Any] = {
        "router": ROUTER_VENUE, "token_in": ins.token_in, "token_out": ins.token_out, "amount_in": ins.amount_in,
        "amount_out": amount_out, "execution_price": amount_out / ins.amount_in, "legs": legs,
        "gas_cost_eth": gas_eth, "gas_units": gas_units, "net_amount_out": net,
        "no_impact_amount_out": ni, "quotes": s.quotes,
        "price_impact_bps": ((ni - amount_out) / ni * _BPS).quantize(Decimal("0.0001")) if ni else _ZERO,
    }
    if s.single is not None and s.single_net is not None:
        p = plan.pools[s.single]
        total = sum(s.amounts)
        d = p.quotes[total]
        single_out = Decimal(d.details["amount_out"])
        single_net = _human(s.single_net, p.decimals_out)
        details["best_single"] = {"venue": p.venue, "pool": p.pool or d.details.get("pool"),
                                  "amount_out": single_out, "gas_cost_eth": d.details.get("gas_cost_eth"),
                                  "net_amount_out": single_net}
        details["output_gain"] = net - single_net
        details["impact_saved_bps"] = ((amount_out - single_out) / ni * _BPS).quantize(Decimal("0.0001")) \
            if ni else _ZERO
    else:
        details["best_single"] = None
        details["output_gain"] = None
        details["impact_saved_bps"] = None
    return details


def quote_routed(manager: Any, ts: Any, ins: Swap) -> ExecutionDeltas:
    """The routed swap quoted (status ``quoted``, no positions; ``details`` as for a fill plus ``positions``)."""
    plan = plan_route(manager, ts, ins)
    parts = [d.details.get("positions", {}) for _, _, d in plan.legs()]
    positions = merge_positions(*parts)
    amount_out = sum((Decimal(d.details["amount_out"]) for _, _, d in plan.legs()), _ZERO)
    gas_eth = sum((Decimal(d.details.get("gas_cost_eth") or 0) for _, _, d in plan.legs()), _ZERO)
    gas_units = sum(int(d.details.get("gas_units") or 0) for _, _, d in plan.legs())
    details = _details(plan, amount_out, gas_eth, gas_units)
    details["positions"] = positions
    return ExecutionDeltas(ROUTER_VENUE, "swap", ts, {}, {}, "quoted", ins.client_id, None,
                           amount_out / ins.amount_in, ins.amount_in, {}, details)


def prepare_routed(manager: Any, ts: Any, ins: Swap) -> Any:
    """Plan the split and check its bounds (nothing changes; errors raise here), and return ``run()`` that
    executes it as one atomic bundle and returns the routed deltas (see the module docstring)."""
    if ins.quote_only:
        quoted = quote_routed(manager, ts, ins)
        return lambda: quoted
    plan = plan_route(manager, ts, ins)
    _check_total(plan)
    rs = router_settings(manager.settings)
    legs = plan.legs()
    if manager.ledger is None and len(legs) > 1 and rs.executor is None:
        raise ConfigError(f"venue_config.{ROUTER_VENUE}.executor: a live split over {len(legs)} pools runs as one "
                          "transaction through an executor venue; name one (or route to a single venue)")

    def run() -> ExecutionDeltas:
        if manager.ledger is not None:
            result = manager._execute_atomic(ts, _bundle(plan, ROUTER_VENUE, rs.default_slippage_bps))
        elif rs.executor is None:  # live, one leg, no executor: an ordinary swap on that venue
            result = manager._route(ts, _bundle(plan, ROUTER_VENUE, rs.default_slippage_bps).steps[0])
        else:
            result = manager._route(ts, _bundle(plan, rs.executor, rs.default_slippage_bps))
        return _routed_deltas(plan, ts, result)
    return run


def _routed_deltas(plan: RoutePlan, ts: Any, result: ExecutionDeltas) -> ExecutionDeltas:
    """The routed swap's deltas from the executed bundle's (positions, fees, pnl) and the plan (details)."""
    ins = plan.instruction
    amount_out = Decimal(result.positions.get(_WALLET + ins.token_out, _ZERO))
    gas_eth = -Decimal(result.fees.get(_WALLET + "ETH", _ZERO))
    gas_units = int(result.details.get("gas_used") or 0) \
        or sum(int(d.details.get("gas_units") or 0) for _, _, d in plan.legs())
    details = _details(plan, amount_out, gas_eth, gas_units)
    for k in ("tx_hash", "tx_hashes", "approval_tx_hashes", "block_number", "gas_used"):
        if k in result.details:
            details[k] = result.details[k]
    return ExecutionDeltas(ROUTER_VENUE, "swap", ts, dict(result.positions), dict(result.fees), result.status,
                           ins.client_id, result.order_id, amount_out / ins.amount_in if amount_out else None,
                           ins.amount_in, dict(result.pnl), details)


def execute_routed(manager: Any, ts: Any, ins: Swap) -> ExecutionDeltas:
    """:func:`prepare_routed` then run it."""
    return prepare_routed(manager, ts, ins)()  # type: ignore[no-any-return]
