"""The core's DEX router: a swap with ``venue: "auto"`` is split across every installed AMM venue's pools (and,
when the instruction allows it, a CEX's spot book).

Flow (:func:`plan_route`, used by ``manager.execute`` / ``manager.quote`` for ``venue == "auto"``)

1. Candidates: every venue implementing ``quote_swap``. One that also answers ``swap_pool_models`` gives each
   pool of the pair as a pure model (:class:`~basis_core.best_execution.model.PoolModel`: an immutable snapshot
   of the pool at this timestamp and a pure integer ``quote`` equal to its ``quote_swap``); any other is asked
   for its pools (``swap_pools``; without it, its default route) and quoted through ``quote_swap``. A venue that
   does not know a token offers nothing. With ``allow_cex``, each named CEX venue's spot book is a candidate
   too, through its ``quote_spot`` hook (net of its taker fee, at most its spot balance of the input asset;
   wrapped tokens traded as the CEX's asset: ``cex_assets``, default WETH -> ETH, WBTC -> BTC).
2. Curves: each candidate becomes a quote function -- its model's local math, or its venue's hook (the core
   names no venue and no plugin imports another). Gas: the model's / quote's ``gas_cost_eth`` in the output
   token at its reference prices (else the market data's), so the split maximises the output *net of gas*.
3. Split (``search``): ``"auto"`` (default) runs :func:`~basis_core.best_execution.split.best_split` (exact grid
   search, then water-filling) when every candidate has a model -- pure arithmetic, so the decision is the
   exact search's, at a fraction of a millisecond -- and :func:`~basis_core.best_execution.split.modelled_split`
   (the search on constant-product fits to two exact quotes per pool, then one exact quote per chosen leg)
   when some candidate is only reachable through its hooks; ``"exact"`` / ``"model"`` force one. Never worse
   than the best single pool, exactly.
4. Verification: each modelled leg the split uses is quoted once through its venue's ``quote_swap`` (the quote
   it executes with), and so is the best single pool with the whole input (the reference). A quote that
   differs from its model (a model breaking its contract) sets the models aside
   and the decision is made again through the hooks alone (``details["pool_models_note"]`` says why).
5. Execution: the on-chain legs as ONE atomic bundle of ordinary ``swap`` instructions, all or nothing.
   Backtest: the core runs the bundle on the ledger, the CEX legs' market orders (``spot_trade``) in the same
   bundle (a failed leg rolls every leg back). Live: the on-chain bundle goes to the executor venue named by
   ``venue_config.auto.executor`` (a venue whose ``execute_atomic`` runs other venues' steps in one transaction,
   through their ``encode_call`` hook); without one, a single leg is an ordinary swap and a split is refused
   before anything is sent. Then each CEX leg is sent as its own market order (legging: it is NOT atomic with
   the transaction, and its price may have moved while the transaction confirmed; the chain goes first because
   it is all or nothing: if it fails, nothing was sent to the CEX). A CEX order that fails after the
   transaction landed raises :class:`~basis_core.errors.PartialRouteError` carrying the deltas of what executed
   (status ``partially_filled``) and the orders not done.

Settings (``venue_config.auto``, all optional): ``grid`` (chunks of the exact search, default 6), ``rounds``
(Newton rounds of the water-filling, default 4), ``venues`` (the venues to consider; default every venue with
``quote_swap``), ``executor`` (live: the venue running a multi-pool split as one transaction),
``default_slippage_bps`` (50: the legs' on-chain minimum below their quotes when the instruction gives no bound),
``search`` (``"auto"``, ``"model"`` or ``"exact"``: step 3), ``pool_models`` (true: use ``swap_pool_models``
where venues have it; false: hooks only), ``cex_assets`` (token -> CEX asset, for CEX legs).

Deltas (venue ``auto``, operation ``swap``): the merged changes of the legs (wallet, gas, and a CEX leg's spot
balances); ``details``: ``legs`` (venue, pool, amount_in, amount_out, gas_cost_eth, price_impact_bps per pool
used; a CEX leg: ``kind: "cex"``, symbol, side, amount, price, fee, fee_asset and ``spent``), ``amount_out``
(wallet output plus the CEX legs' output asset), ``gas_cost_eth``, ``gas_units``, ``net_amount_out`` (output
less the gas valued in the output token), ``best_single`` (the best single pool's quote: venue, pool, amount_out,
gas_cost_eth, net_amount_out), ``output_gain`` (net output over the best single pool's), ``price_impact_bps``
(against the best pool's no-impact output), ``impact_saved_bps`` (the best single pool's impact less the
split's), ``searched_on`` (``pool_models`` | ``quotes``), ``quotes`` (hook quotes asked), ``model_quotes``
(local model evaluations); with ``allow_cex``: ``cex_amount_in`` / ``cex_amount_out`` (what went to the CEX)
and, executed, ``cex_orders``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from basis_core.best_execution.model import PoolModel
from basis_core.best_execution.split import Curve, Split, best_split, modelled_split
from basis_core.deltas import ExecutionDeltas, merge_positions
from basis_core.errors import (
    BasisError,
    ConfigError,
    InstructionError,
    MarketDataError,
    PartialRouteError,
    SlippageError,
    UnsupportedOperationError,
)
from basis_core.instructions import Atomic, SpotTrade, Swap, instruction_to_dict

__all__ = ["ROUTER_VENUE", "RoutePlan", "RouterSettings", "execute_routed", "plan_route", "prepare_routed",
           "quote_routed", "router_settings"]

#: the venue name that asks the core to route a swap
ROUTER_VENUE = "auto"
_OPTIONS = frozenset({"grid", "rounds", "venues", "executor", "default_slippage_bps", "search", "pool_models",
                      "cex_assets"})
#: a CEX leg trades a wrapped token as the venue's native asset (1:1 claims)
DEFAULT_CEX_ASSETS: Mapping[str, str] = {"WETH": "ETH", "WBTC": "BTC"}
_SEARCHES = ("auto", "model", "exact")
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
    search: str = "auto"
    pool_models: bool = True
    cex_assets: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CEX_ASSETS))


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
    search = opts.get("search", "auto")
    if search not in _SEARCHES:
        raise ConfigError(f"venue_config.{ROUTER_VENUE}.search: expected one of {', '.join(_SEARCHES)}, "
                          f"got {search!r}")
    pool_models = opts.get("pool_models", True)
    if not isinstance(pool_models, bool):
        raise ConfigError(f"venue_config.{ROUTER_VENUE}.pool_models: expected true or false, got {pool_models!r}")
    cex_assets = opts.get("cex_assets", DEFAULT_CEX_ASSETS)
    if not isinstance(cex_assets, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in cex_assets.items()):
        raise ConfigError(f"venue_config.{ROUTER_VENUE}.cex_assets: expected {{token: CEX asset}}, e.g. "
                          '{"WETH": "ETH"}')
    return RouterSettings(grid, rounds, None if venues is None else tuple(venues),
                          None if executor is None else str(executor), slip, str(search), pool_models,
                          dict(cex_assets))


@dataclass
class _Pool:
    """One candidate pool and its quotes (input base units -> the venue's quote deltas)."""

    venue: str
    pool: str | None
    decimals_in: int
    decimals_out: int
    caller: Any
    quotes: dict[int, ExecutionDeltas]
    model: PoolModel | None = None
    assets: tuple[str, str] | None = None  # a CEX leg: the venue's (input, output) assets (its quote_spot hook)
    balances: Mapping[str, Decimal] | None = None  # a CEX leg: the venue's balances (its leg spends at most these)

    @property
    def key(self) -> str:
        return f"{self.venue}:{self.pool}" if self.pool else self.venue

    @property
    def is_cex(self) -> bool:
        return self.assets is not None


@dataclass(frozen=True)
class RoutePlan:
    """A planned split: the candidate pools, the :class:`Split` over them, the legs' quotes."""

    instruction: Swap
    pools: tuple[_Pool, ...]
    split: Split
    unit_decimals: int
    gas_out: tuple[int, ...]  # per pool, gas in output base units
    searched_on: str = "quotes"  # "pool_models" (local math, legs verified through quote_swap) or "quotes"
    model_note: str | None = None  # why pool models were set aside (a leg's verified quote differed), if so

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


_NOT_TRADED: Any = object()


def _optional_hook(manager: Any, venue: str, hook: str, ts: Any, probe: Swap) -> Any:
    """``venue``'s answer to an optional query hook: None when it has no such hook, ``_NOT_TRADED`` when it does
    not trade a token of the pair (InstructionError)."""
    try:
        return manager._caller(venue, hook)(timestamp=ts, instruction=probe)
    except UnsupportedOperationError:
        return None
    except InstructionError:
        return _NOT_TRADED


def _candidates(manager: Any, ts: Any, ins: Swap, rs: RouterSettings, models: bool) -> list[_Pool]:
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
        if models:  # pure pool models, when the venue has them (else: swap_pools + quote_swap below)
            got = _optional_hook(manager, name, "swap_pool_models", ts, probe)
            if got is _NOT_TRADED:
                continue
            if got is not None:
                out.extend(_Pool(name, mdl.pool, mdl.decimals_in, mdl.decimals_out, caller, {}, mdl) for mdl in got)
                continue
        entries = _optional_hook(manager, name, "swap_pools", ts, probe)
        if entries is _NOT_TRADED:
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


def _cex_candidates(manager: Any, ts: Any, ins: Swap, rs: RouterSettings, pools: list[_Pool]) -> list[_Pool]:
    """The CEX legs the instruction allows (``allow_cex``): each venue's spot book through its ``quote_spot``
    hook, in the venue's assets (``venue_config.auto.cex_assets`` maps wrapped tokens: WETH -> ETH), spending
    at most the venue's balance of the input asset (``get_balances``)."""
    out: list[_Pool] = []
    dec_in, dec_out = min(p.decimals_in for p in pools), max(p.decimals_out for p in pools)
    assets = (rs.cex_assets.get(ins.token_in, ins.token_in), rs.cex_assets.get(ins.token_out, ins.token_out))
    for name in ins.allow_cex or ():
        try:
            caller = manager._caller(name, "quote_spot")
        except InstructionError:  # not installed, or no spot book to quote
            raise InstructionError("allow_cex", f"{name!r} is not an installed CEX venue with a quote_spot "
                                                "hook") from None
        try:
            balances = manager._caller(name, "get_balances")(timestamp=ts, instruction=None) or {}
        except InstructionError:
            balances = None
        out.append(_Pool(name, None, dec_in, dec_out, caller, {}, None, assets, balances))
    return out


def _quoter(pool: _Pool, ts: Any, ins: Swap, unit_dec: int) -> Any:
    """``quote(units) -> output base units`` of one pool through its venue's quote hook (None: it refuses); a
    CEX leg through ``quote_spot`` (its output rounded down to the output token's base units)."""
    scale = 10 ** (pool.decimals_in - unit_dec)
    t_in, t_out = pool.assets or (ins.token_in, ins.token_out)

    def quote(units: int) -> int | None:
        s = Swap(venue=pool.venue, token_in=t_in, token_out=t_out,
                 amount_in=_human(units * scale, pool.decimals_in), pool=pool.pool, quote_only=True)
        try:
            d = pool.caller(timestamp=ts, instruction=s)
        except InstructionError:
            return None
        if d is None:
            return None
        if pool.balances is not None and Decimal(d.details["amount_in"]) > pool.balances.get(d.details["key_in"],
                                                                                              _ZERO):
            return None  # a CEX leg beyond the venue's balance of the input asset
        pool.quotes[units] = d
        return int(Decimal(d.details["amount_out"]).scaleb(pool.decimals_out))
    return quote


def _gas_in_output(manager: Any, ts: Any, pool: _Pool, gas_eth: Decimal, refs: Mapping[str, Decimal] | None,
                   token_out: str) -> int:
    """Gas (ETH) in output base units (rounded up), at the quote's / model's reference prices or the market's; 0
    when neither prices it (the split then ignores gas)."""
    if not gas_eth:
        return 0
    refs = refs or {}
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
    plan = _plan(manager, ts, ins, rs, models=rs.pool_models)
    if plan.searched_on == "pool_models":
        mismatch = _verify(plan, ts, ins)
        if mismatch is not None:  # a model is not exact: plan again through the venues' quotes alone
            again = _plan(manager, ts, ins, rs, models=False)
            return RoutePlan(again.instruction, again.pools, again.split, again.unit_decimals, again.gas_out,
                             again.searched_on, mismatch)
    return plan


def _plan(manager: Any, ts: Any, ins: Swap, rs: RouterSettings, models: bool) -> RoutePlan:
    """The split over the candidate pools: on the pools' pure models where every venue has them (or, mixed,
    models and hook quotes), else on hook quotes only."""
    pools = _candidates(manager, ts, ins, rs, models)
    if not pools:
        raise InstructionError("token_out", f"no installed venue has a pool for {ins.token_in}/{ins.token_out}")
    if ins.allow_cex:
        pools += _cex_candidates(manager, ts, ins, rs, pools)
    unit_dec = min(p.decimals_in for p in pools)
    total = _units(ins.amount_in, unit_dec)
    gas: list[int] = []
    curves: list[Curve] = []
    for p in pools:
        mdl = p.model
        if mdl is not None:
            g = _gas_in_output(manager, ts, p, mdl.gas_cost_eth, mdl.reference_prices, ins.token_out)
            curves.append(Curve(p.key, _model_quote(mdl, 10 ** (p.decimals_in - unit_dec)), g))
        else:  # gas: from a quote of the whole amount (the grid asks it anyway)
            q = _quoter(p, ts, ins, unit_dec)
            got = q(total)
            d = p.quotes.get(total)
            g = 0 if got is None or d is None else _gas_in_output(
                manager, ts, p, Decimal(d.details.get("gas_cost_eth") or 0), d.details.get("reference_prices"),
                ins.token_out)
            curves.append(Curve(p.key, _memo_first(q, total, p), g))
        gas.append(g)
    modelled = all(p.model is not None for p in pools)
    search = rs.search if rs.search != "auto" else ("exact" if modelled else "model")
    split = (modelled_split if search == "model" else best_split)(total, curves, rs.grid, rs.rounds)
    if split is None:
        raise InstructionError("amount_in", f"beyond every pool: no split of {ins.amount_in} {ins.token_in} "
                                            f"over {', '.join(p.key for p in pools)} is feasible")
    on = "pool_models" if any(p.model is not None for p in pools) else "quotes"
    return RoutePlan(ins, tuple(pools), split, unit_dec, tuple(gas), on)


def _model_quote(model: PoolModel, scale: int) -> Any:
    """A model's pure quote in the router's input unit (``scale``: 10 ** (its decimals - the unit's))."""
    if scale == 1:
        return model.quote
    q = model.quote
    return lambda units: q(units * scale)


def _verify(plan: RoutePlan, ts: Any, ins: Swap) -> str | None:
    """Quote every modelled leg of ``plan`` once through its venue's ``quote_swap`` (the quotes the legs execute
    with), and the best single pool with the whole input (the reference the split must beat); None when each
    equals its model's output, else what differed."""
    s = plan.split
    total = sum(s.amounts)
    checks: list[tuple[int, int, int | None]] = [(i, s.amounts[i], s.outputs[i]) for i in s.used]
    if s.single is not None and s.amounts[s.single] != total:
        single = plan.pools[s.single]
        if single.model is not None:
            scale = 10 ** (single.decimals_in - plan.unit_decimals)
            checks.append((s.single, total, single.model.quote(total * scale)))
    for i, units, expected in checks:
        p = plan.pools[i]
        if p.model is None:
            continue  # already an exact hook quote
        got = _quoter(p, ts, ins, plan.unit_decimals)(units)
        if got != expected:
            return (f"{p.key}: quote_swap of {units} base units gave {got}, its pool model {expected}; "
                    "planned through quote_swap instead")
    return None


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
        elif p.model is not None:
            units = total * 10 ** (p.decimals_in - plan.unit_decimals)
            best = max(best, (p.model.no_impact_rate * units).scaleb(-p.decimals_out))
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


def _bundle(plan: RoutePlan, venue: str, default_slippage_bps: Decimal) -> Atomic | None:
    """The split's on-chain legs as an atomic bundle of ordinary swaps (each with its minimum output) run by
    ``venue``; None when every leg is on a CEX."""
    ins = plan.instruction
    steps = []
    for (p, units, _), lo in zip(plan.legs(), _leg_bounds(plan, default_slippage_bps), strict=True):
        if p.is_cex:
            continue
        amount = _human(units * 10 ** (p.decimals_in - plan.unit_decimals), p.decimals_in)
        steps.append(Swap(venue=p.venue, token_in=ins.token_in, token_out=ins.token_out, amount_in=amount,
                          pool=p.pool, min_amount_out=lo, deadline=ins.deadline))
    if not steps:
        return None
    return Atomic(venue=venue, steps=steps, client_id=ins.client_id)  # type: ignore[arg-type]


def _cex_orders(plan: RoutePlan) -> list[SpotTrade]:
    """The split's CEX legs as the market orders their quotes name (client id ``<routed client id>.cex<i>``; a
    routed client id too long for that is replaced by its SHA-256 prefix)."""
    cid = plan.instruction.client_id
    if cid is not None and len(cid) > 58:
        cid = hashlib.sha256(cid.encode()).hexdigest()[:40]
    return [SpotTrade.model_validate({**d.details["spot_trade"],
                                      **({"client_id": f"{cid}.cex{k}"} if cid else {})})
            for k, (_, _, d) in enumerate(leg for leg in plan.legs() if leg[0].is_cex)]


def _details(plan: RoutePlan, amount_out: Decimal, gas_eth: Decimal, gas_units: int) -> dict[str, Any]:
    ins = plan.instruction
    s = plan.split
    dec_out = plan.pools[s.used[0]].decimals_out
    ni = _no_impact(plan)
    legs = []
    cex_in, cex_out = _ZERO, _ZERO
    for p, units, d in plan.legs():
        leg: dict[str, Any] = {"venue": p.venue, "pool": p.pool or d.details.get("pool"),
               "amount_in": _human(units * 10 ** (p.decimals_in - plan.unit_decimals), p.decimals_in),
               "amount_out": Decimal(d.details["amount_out"]), "gas_cost_eth": d.details.get("gas_cost_eth"),
               "price_impact_bps": d.details.get("price_impact_bps")}
        if p.is_cex:  # a spot order on the venue's book: what it spends (<= its share, on the step) and its fee
            leg.update({"kind": "cex", "symbol": d.details["symbol"], "side": d.details["side"],
                        "amount": d.details["amount"], "price": d.details["price"], "fee": d.details["fee"],
                        "fee_asset": d.details["fee_asset"], "spent": d.details["amount_in"]})
            cex_in += leg["amount_in"]
            cex_out += leg["amount_out"]
        legs.append(leg)
    gas_out = sum(plan.gas_out[i] for i in s.used)
    # the net output values the gas paid at the split's rate (exact plan figure when nothing else is known)
    net = amount_out - _human(gas_out, dec_out)
    details: dict[str, Any] = {
        "router": ROUTER_VENUE, "token_in": ins.token_in, "token_out": ins.token_out, "amount_in": ins.amount_in,
        "amount_out": amount_out, "execution_price": amount_out / ins.amount_in, "legs": legs,
        "gas_cost_eth": gas_eth, "gas_units": gas_units, "net_amount_out": net,
        "no_impact_amount_out": ni, "searched_on": plan.searched_on,
        "quotes": sum(len(p.quotes) for p in plan.pools) if plan.searched_on == "pool_models" else s.quotes,
        "model_quotes": s.quotes if plan.searched_on == "pool_models" else 0,
        "price_impact_bps": ((ni - amount_out) / ni * _BPS).quantize(Decimal("0.0001")) if ni else _ZERO,
    }
    if plan.model_note is not None:
        details["pool_models_note"] = plan.model_note
    if ins.allow_cex:
        details["cex_amount_in"], details["cex_amount_out"] = cex_in, cex_out
    if s.single is not None and s.single_net is not None:
        p = plan.pools[s.single]
        total = sum(s.amounts)
        sq = p.quotes.get(total)
        if sq is not None:
            single_out = Decimal(sq.details["amount_out"])
            pool, single_gas = p.pool or sq.details.get("pool"), sq.details.get("gas_cost_eth")
        else:  # from its pool model (exact by the model's contract)
            assert p.model is not None
            single_out = _human(s.outputs[s.single] if s.amounts[s.single] == total
                                else int(p.model.quote(total * 10 ** (p.decimals_in - plan.unit_decimals)) or 0),
                                p.decimals_out)
            pool, single_gas = p.pool, p.model.gas_cost_eth
        single_net = _human(s.single_net, p.decimals_out)
        details["best_single"] = {"venue": p.venue, "pool": pool,
                                  "amount_out": single_out, "gas_cost_eth": single_gas,
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
    executes it and returns the routed deltas (see the module docstring).

    Backtest: the on-chain legs and the CEX orders run as one atomic bundle on the ledger. Live: the on-chain legs
    as one transaction (or one swap), then each CEX leg as its own market order (not atomic with the chain): a
    CEX order that fails after the transaction landed raises :class:`~basis_core.errors.PartialRouteError`
    carrying the deltas of what did execute."""
    if ins.quote_only:
        quoted = quote_routed(manager, ts, ins)
        return lambda: quoted
    plan = plan_route(manager, ts, ins)
    _check_total(plan)
    rs = router_settings(manager.settings)
    chain_legs = [leg for leg in plan.legs() if not leg[0].is_cex]
    if manager.ledger is None and len(chain_legs) > 1 and rs.executor is None:
        raise ConfigError(f"venue_config.{ROUTER_VENUE}.executor: a live split over {len(chain_legs)} pools runs as "
                          "one transaction through an executor venue; name one (or route to a single venue)")
    orders = _cex_orders(plan)

    def run() -> ExecutionDeltas:
        if manager.ledger is not None:
            bundle = _bundle(plan, ROUTER_VENUE, rs.default_slippage_bps)
            steps = [*(bundle.steps if bundle is not None else ()), *orders]
            result = manager._execute_atomic(ts, Atomic(venue=ROUTER_VENUE, steps=steps,  # type: ignore[arg-type]
                                                        client_id=ins.client_id))
            return _routed_deltas(plan, ts, [result])
        results: list[ExecutionDeltas] = []
        bundle = _bundle(plan, rs.executor or ROUTER_VENUE, rs.default_slippage_bps)
        if bundle is not None:  # live: the chain first (all or nothing), then the CEX orders
            results.append(manager._route(ts, bundle.steps[0] if rs.executor is None else bundle))
        for k, order in enumerate(orders):
            try:
                results.append(manager._route(ts, order))
            except BasisError as exc:
                if not results:
                    raise  # nothing executed: the error as it is
                done = _routed_deltas(plan, ts, results, partial=True)
                raise PartialRouteError(
                    f"allow_cex.{k}", f"the routed swap's CEX leg on {order.venue} ({order.side} {order.amount} "
                    f"{order.symbol}) failed after the other legs executed: {exc}", deltas=done,
                    failed_legs=[instruction_to_dict(o) for o in orders[k:]]) from exc
        return _routed_deltas(plan, ts, results)
    return run


def _routed_deltas(plan: RoutePlan, ts: Any, results: list[ExecutionDeltas], partial: bool = False
                   ) -> ExecutionDeltas:
    """The routed swap's deltas from the executed parts' (positions, fees, pnl) and the plan (details):
    ``amount_out`` counts the output token in the wallet and the CEX legs' output asset."""
    ins = plan.instruction
    positions = merge_positions(*(r.positions for r in results))
    fees = merge_positions(*(r.fees for r in results))
    pnl = merge_positions(*(r.pnl for r in results))
    out_keys = {_WALLET + ins.token_out} | {d.details["key_out"] for p, _, d in plan.legs() if p.is_cex}
    amount_out = sum((Decimal(positions.get(k, _ZERO)) for k in out_keys), _ZERO)
    gas_eth = -Decimal(fees.get(_WALLET + "ETH", _ZERO))
    chain = [r for r in results if r.operation != "spot_trade"]
    gas_units = sum(int(r.details.get("gas_used") or 0) for r in chain) \
        or sum(int(d.details.get("gas_units") or 0) for p, _, d in plan.legs() if not p.is_cex)
    details = _details(plan, amount_out, gas_eth, gas_units)
    for r in chain:
        for k in ("tx_hash", "tx_hashes", "approval_tx_hashes", "block_number", "gas_used"):
            if k in r.details:
                details[k] = r.details[k]
    cex = [r for r in results if r.operation == "spot_trade"]
    if cex:
        details["cex_orders"] = [{"venue": r.venue, "order_id": r.order_id, "status": r.status,
                                  "price": r.fill_price, "amount": r.fill_amount} for r in cex]
    status = "partially_filled" if partial else results[-1].status if len(results) == 1 else "filled"
    return ExecutionDeltas(ROUTER_VENUE, "swap", ts, positions, fees, status,
                           ins.client_id, results[0].order_id, amount_out / ins.amount_in if amount_out else None,
                           ins.amount_in, pnl, details)


def execute_routed(manager: Any, ts: Any, ins: Swap) -> ExecutionDeltas:
    """:func:`prepare_routed` then run it."""
    return prepare_routed(manager, ts, ins)()  # type: ignore[no-any-return]
