"""Backtest backend of the Uniswap venue: virtual v2 / v3 pools running the contracts' exact integer math.

Virtual pools
- Each pool (:data:`DEFAULT_POOLS`, overridable with the ``pools`` option) is anchored to the as-of
  market price of its pair: ``price_series`` (``spot:ETH/USDC`` for WETH/USDC, ``spot:ETH/USDT`` for
  WETH/USDT) or, without one, the ratio of the tokens' USD prices (stablecoins at 1, WETH at the ETH
  oracle). Depth: v2 holds ``tvl_usd`` split 50/50; v3 holds one external position of ``tvl_usd`` over
  ``+/- range_pct`` around the price (or an explicit ``liquidity``).
- Our own swaps and liquidity move the pool (exact ``v2_math`` / ``v3_math``). At the first touch at a
  new timestamp the pool re-anchors (``reanchor: true``, the arbitrage assumption): v2 arbitrages our LP
  share to the market price at constant k and resets the external depth; v3 removes the external
  position, swaps the pool to the market price (fees of that arbitrage accrue to our in-range
  positions) and re-centres the external position. ``reanchor: false`` anchors once, at first use.
- State lives in the ledger tables ``uniswap.pools`` (pool id -> V2State / V3State), ``uniswap.positions``
  (v3 position id -> (pool id, tick_lower, tick_upper)) and ``uniswap.meta`` (position id counter), so a
  failed instruction rolls it back. Quotes never write.

Keys: wallet ``ethereum:wallet:<TOKEN>``; v2 LP tokens ``uniswap:lp:v2:WETH/USDC`` (18 decimals); a v3
position ``uniswap:lp:v3:WETH/USDC:500#<id>`` whose balance is its liquidity ``L`` (integer units).
Backtest approvals are assumed done (no approval gas).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from math import isqrt
from typing import Any, NamedTuple

from basis_core.backtest.dex import (
    GasCost,
    StepMemo,
    SwapFill,
    amm_balances,
    check_deadline,
    from_units,
    liquidity_deltas,
    resolve_swap_pool,
    settle_swap,
    sim_decimals,
    sim_gas_units,
    sim_pool_options,
    sim_routes,
    swap_pool_entries,
    to_units,
    wallet_key,
)
from basis_core.backtest.gas import DEFAULT_GAS_UNITS
from basis_core.best_execution.model import ModelCache, PoolModel
from basis_core.data.prices import usd_price
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError, InstructionError, InsufficientFundsError, SlippageError
from basis_venue_uniswap import v2_math
from basis_venue_uniswap.deployment import (
    DEFAULT_ROUTES,
    V2_FEE_BPS,
    load_table,
    mainnet_token_order,
    parse_pool_id,
)
from basis_venue_uniswap.v3_math import (
    FEE_TIERS,
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    Q96,
    V3Pool,
    get_amounts_for_liquidity,
    get_liquidity_for_amounts,
    get_sqrt_ratio_at_tick,
)

VENUE = "uniswap"
POOLS_TABLE = "uniswap.pools"
POSITIONS_TABLE = "uniswap.positions"
META_TABLE = "uniswap.meta"
EXTERNAL = "market"  # owner of the virtual external liquidity of a v3 pool
LP_DECIMALS = 18
_HUGE = 1 << 200  # an exact input no pool can absorb: the anchoring swap stops at its price limit
_LOG_TICK = math.log(1.0001)
_ZERO = Decimal(0)
_MILLION = 1_000_000
_SCALE = 10**12  # no-impact outputs are kept to 1e-12 base units

#: default virtual depth per pool: tvl_usd, range_pct (v3: the external position spans +/- range_pct)
DEFAULT_POOLS: dict[str, dict[str, Any]] = {
    "v2:WETH/USDC": {"tvl_usd": "40000000", "price_series": "spot:ETH/USDC"},
    "v2:WETH/USDT": {"tvl_usd": "20000000", "price_series": "spot:ETH/USDT"},
    "v2:WETH/DAI": {"tvl_usd": "10000000"},
    "v3:WETH/USDC:500": {"tvl_usd": "100000000", "range_pct": "0.10", "price_series": "spot:ETH/USDC"},
    "v3:WETH/USDC:3000": {"tvl_usd": "50000000", "range_pct": "0.30", "price_series": "spot:ETH/USDC"},
    "v3:WETH/USDT:500": {"tvl_usd": "50000000", "range_pct": "0.10", "price_series": "spot:ETH/USDT"},
    "v3:WETH/USDT:3000": {"tvl_usd": "30000000", "range_pct": "0.30", "price_series": "spot:ETH/USDT"},
    "v3:WETH/DAI:3000": {"tvl_usd": "10000000", "range_pct": "0.30"},
    "v3:USDC/USDT:100": {"tvl_usd": "50000000", "range_pct": "0.005"},
    "v3:DAI/USDC:100": {"tvl_usd": "20000000", "range_pct": "0.005"},
}
#: a v3 position added without ticks spans +/- this fraction around the pool price
DEFAULT_POSITION_RANGE_PCT = Decimal("0.10")


# ------------------------------------------------------------------------------------------------ specs
@dataclass(frozen=True, slots=True)
class PoolSpec:
    """One virtual pool: id, tokens (token0 < token1 as on mainnet), fee, depth and price source."""

    id: str
    kind: str
    base: str
    quote: str
    token0: str
    token1: str
    dec0: int
    dec1: int
    fee: int  # v2: bps; v3: pips (1e-6)
    tvl_usd: Decimal
    range_pct: Decimal
    liquidity: int | None
    price_series: str | None

    @property
    def tick_spacing(self) -> int:
        return FEE_TIERS[self.fee]

    def decimals(self, token: str) -> int:
        return self.dec0 if token == self.token0 else self.dec1

    def lp_key(self) -> str:
        return f"{VENUE}:lp:{self.id}"


def build_specs(overrides: Mapping[str, Mapping[str, Any]] | None, decimals: Mapping[str, int]) -> dict[str, PoolSpec]:
    """Pool specs from :data:`DEFAULT_POOLS` updated by the ``pools`` option (new ids add pools)."""
    merged = sim_pool_options(DEFAULT_POOLS, overrides, "tvl_usd, range_pct, liquidity, price_series")
    out: dict[str, PoolSpec] = {}
    for pid, cfg in merged.items():
        try:
            p = parse_pool_id(pid)
        except InstructionError as e:
            raise ConfigError(f"pools.{pid}: {e.reason}") from None
        for t in (p.a, p.b):
            if t not in decimals:
                raise ConfigError(f"pools.{pid}: unknown token {t!r} (add it to the 'tokens' option)")
        if p.kind == "v3" and p.fee not in FEE_TIERS:
            raise ConfigError(f"pools.{pid}: fee {p.fee} is not a v3 fee tier {sorted(FEE_TIERS)}")
        t0, t1 = mainnet_token_order((p.a, p.b))
        try:
            tvl = Decimal(str(cfg.get("tvl_usd", "10000000")))
            rng = Decimal(str(cfg.get("range_pct", "0.10")))
            liq = None if cfg.get("liquidity") is None else int(cfg["liquidity"])
        except Exception:
            raise ConfigError(f"pools.{pid}: tvl_usd / range_pct / liquidity must be numbers") from None
        if not tvl > 0 or not rng > 0 or (liq is not None and liq <= 0):
            raise ConfigError(f"pools.{pid}: tvl_usd, range_pct and liquidity must be > 0")
        fee = int(cfg.get("fee_bps", V2_FEE_BPS)) if p.kind == "v2" else int(p.fee or 0)
        out[p.canonical] = PoolSpec(p.canonical, p.kind, p.a, p.b, t0, t1, decimals[t0], decimals[t1], fee,
                                    tvl, rng, liq, cfg.get("price_series"))
    return out


# ------------------------------------------------------------------------------------------------ state
class V2State(NamedTuple):
    """A v2 pair: reserves (base units), LP supply, the part of it held by the virtual market (immutable)."""

    reserve0: int
    reserve1: int
    supply: int
    external_lp: int
    anchored_ns: int


class V3State(NamedTuple):
    """A v3 pool (:class:`V3Pool`, never mutated) and its external position ``(lower, upper, L)`` (immutable)."""

    pool: V3Pool
    external: tuple[int, int, int] | None
    anchored_ns: int


@dataclass(frozen=True, slots=True)
class PoolMarket:
    """As-of market of one pool: USD prices (both tokens and ETH) and token1 per token0 in base units."""

    prices: dict[str, Decimal]
    num: int
    den: int


def _clamp_sqrt(s: int) -> int:
    return min(max(s, MIN_SQRT_RATIO + 1), MAX_SQRT_RATIO - 1)


def _drop_owner(pool: V3Pool, owner: str) -> V3Pool:
    new = pool.copy()
    new.positions = {k: v for k, v in pool.positions.items() if k[0] != owner}
    return new


def _drop_position(pool: V3Pool, key: tuple[str, int, int]) -> V3Pool:
    new = pool.copy()
    new.positions = {k: v for k, v in pool.positions.items() if k != key}
    return new


def _beyond(what: str) -> InstructionError:
    return InstructionError("amount_in", f"beyond the pool: {what}")


class UniswapSim:
    """The backtest backend (one per venue instance). Methods mirror the venue's operations."""

    def __init__(self, venue: Any) -> None:
        ctx = venue.context
        if ctx is None or ctx.ledger is None or ctx.data_provider is None:
            raise ConfigError("uniswap backtest needs the manager's ledger and data provider")
        self.venue = venue
        self.ledger = ctx.ledger
        self.data = ctx.data_provider
        opts = venue.settings.options
        self.decimals = sim_decimals(load_table("mainnet")["decimals"], opts.get("tokens"))
        self.specs = build_specs(opts.get("pools"), self.decimals)
        self.routes = sim_routes(DEFAULT_ROUTES, opts.get("routes"))
        self.reanchor = bool(opts.get("reanchor", True))
        self.gas_units = sim_gas_units(DEFAULT_GAS_UNITS, opts.get("gas_units"))
        self.position_range = Decimal(str(opts.get("position_range_pct", DEFAULT_POSITION_RANGE_PCT)))
        self.pools = self.ledger.table(POOLS_TABLE)
        self.positions = self.ledger.table(POSITIONS_TABLE)
        self.meta = self.ledger.table(META_TABLE)
        self._memo = StepMemo(self.data, self.gas_units)
        self._routes_cache: dict[tuple[str, str, str | None], PoolSpec] = {}
        self._models = ModelCache()

    # --------------------------------------------------------------------------------- lookups
    def spec(self, pool: str, field: str = "pool") -> PoolSpec:
        s = self.specs.get(pool)
        if s is not None:
            return s
        pid = parse_pool_id(pool, field)
        s = self.specs.get(pid.canonical) or self.specs.get(pid.swapped().canonical)
        if s is None:
            raise InstructionError(field, f"unknown pool {pool!r}; known: {', '.join(sorted(self.specs))}")
        return s

    def _token(self, token: str, field: str) -> None:
        if token not in self.decimals:
            hint = " (pools trade WETH, not native ETH)" if token == "ETH" else ""
            raise InstructionError(field, f"unknown token {token!r}{hint}; known: {', '.join(sorted(self.decimals))}")

    def swap_spec(self, ins: Any) -> PoolSpec:
        """The pool of a swap (named or the default route), checked to trade both tokens (cached)."""
        key = (ins.token_in, ins.token_out, ins.pool)
        spec = self._routes_cache.get(key)
        if spec is None:
            spec = self._routes_cache[key] = self._swap_spec(ins)
        return spec

    def _swap_spec(self, ins: Any) -> PoolSpec:
        return resolve_swap_pool(ins, self._token, self.routes, self.spec, lambda s: (s.token0, s.token1))

    def market(self, ts: Any, spec: PoolSpec) -> PoolMarket:
        """USD prices of the pool's tokens and ETH, and the pool price, as of ``ts`` (cached per timestamp)."""
        c = self._memo.at(ts)
        m = c.pools.get(spec.id)
        if m is not None:
            return m  # type: ignore[no-any-return]
        snap = c.snapshot
        if spec.price_series and snap.has(spec.price_series):
            usd_q = usd_price(snap, spec.quote)
            usd_b = snap.get(spec.price_series) * usd_q
        else:
            usd_b, usd_q = usd_price(snap, spec.base), usd_price(snap, spec.quote)
        prices = {spec.base: usd_b, spec.quote: usd_q, "ETH": usd_price(snap, "ETH")}
        usd0, usd1 = prices[spec.token0], prices[spec.token1]
        n0, d0 = usd0.as_integer_ratio()
        n1, d1 = usd1.as_integer_ratio()
        m = PoolMarket(prices, n0 * d1 * 10**spec.dec1, d0 * n1 * 10**spec.dec0)
        c.pools[spec.id] = m
        return m

    def gas(self, ts: Any, op: str) -> GasCost:
        return self._memo.gas(ts, op)

    # --------------------------------------------------------------------------------- anchoring
    def state(self, ts: Any, spec: PoolSpec, m: PoolMarket) -> V2State | V3State:
        """The pool's state for an operation at ``ts``: stored, or (re-)anchored to the market (not stored)."""
        st = self.pools.get(spec.id)
        if st is not None and st.anchored_ns == ts.value:  # already anchored at ts (StepMemo.state's first case)
            return st  # type: ignore[no-any-return]
        anchor: Callable[..., V2State | V3State] = self._anchor_v2 if spec.kind == "v2" else self._anchor_v3
        return self._memo.state(ts, spec.id, st, self.reanchor, anchor, spec, st, m, ts.value)

    def _external_reserves(self, spec: PoolSpec, m: PoolMarket) -> tuple[int, int]:
        half = spec.tvl_usd / 2
        return (int((half / m.prices[spec.token0]).scaleb(spec.dec0)),
                int((half / m.prices[spec.token1]).scaleb(spec.dec1)))

    def _anchor_v2(self, spec: PoolSpec, st: V2State | None, m: PoolMarket, ts_ns: int) -> V2State:
        x, y = self._external_reserves(spec, m)
        ours = 0 if st is None else st.supply - st.external_lp
        if st is None or ours <= 0:
            supply = isqrt(x * y)
            return V2State(x, y, supply, supply, ts_ns)
        k = st.reserve0 * st.reserve1
        r0 = isqrt(k * m.den // m.num)
        r1 = isqrt(k * m.num // m.den)
        o0, o1 = r0 * ours // st.supply, r1 * ours // st.supply
        R0, R1 = x + o0, y + o1
        supply = ours * R0 // o0 if o0 else isqrt(R0 * R1) + ours
        return V2State(R0, R1, supply, supply - ours, ts_ns)

    def _external_position(self, spec: PoolSpec, pool: V3Pool, m: PoolMarket) -> tuple[int, int, int]:
        spacing = spec.tick_spacing
        lo, hi = self._range(pool.tick, spec.range_pct, spacing)
        if spec.liquidity is not None:
            return lo, hi, spec.liquidity
        sa, sb = get_sqrt_ratio_at_tick(lo), get_sqrt_ratio_at_tick(hi)
        ref = 10**24
        a0, a1 = get_amounts_for_liquidity(pool.sqrt_price_x96, sa, sb, ref)
        value = (from_units(a0, spec.dec0) * m.prices[spec.token0] + from_units(a1, spec.dec1) * m.prices[spec.token1])
        return lo, hi, max(int(spec.tvl_usd * ref / value), 1)

    @staticmethod
    def _range(tick: int, pct: Decimal, spacing: int) -> tuple[int, int]:
        width = max(math.ceil(math.log1p(float(pct)) / _LOG_TICK), spacing)
        lo = max((tick - width) // spacing * spacing, -(-MIN_TICK // spacing) * spacing)
        hi = min(-(-(tick + width) // spacing) * spacing, MAX_TICK // spacing * spacing)
        return lo, hi

    def _anchor_v3(self, spec: PoolSpec, st: V3State | None, m: PoolMarket, ts_ns: int) -> V3State:
        target = _clamp_sqrt(isqrt((m.num << 192) // m.den))
        if st is None:
            pool = V3Pool.initialize(spec.fee, target)
        else:
            pool = st.pool
            if st.external is not None:
                lo, hi, liq = st.external
                _, _, pool = pool.burn(EXTERNAL, lo, hi, liq)
                pool = _drop_owner(pool, EXTERNAL)
            if pool.sqrt_price_x96 != target:
                _, _, pool = pool.swap(target < pool.sqrt_price_x96, _HUGE, target)
        lo, hi, liq = self._external_position(spec, pool, m)
        _, _, pool = pool.mint(EXTERNAL, lo, hi, liq)
        return V3State(pool, (lo, hi, liq), ts_ns)

    # --------------------------------------------------------------------------------- swaps
    def _swap_math(self, spec: PoolSpec, st: V2State | V3State, token_in: str, amt: int, want_state: bool
                   ) -> tuple[int, Decimal, Decimal, V2State | V3State | None]:
        """(amount_out in base units, fee in ``token_in``, no-impact output in the output token, new state);
        the fee and the no-impact output in human units.

        The fee is the nominal rate on the input (v3's per-step fees round up by a few base units); the
        no-impact output is ``amt x (1 - fee) x mid`` to 1e-12 base units."""
        zero_for_one = token_in == spec.token0
        if type(st) is V2State:
            if zero_for_one:
                r_in, r_out, d_in, d_out = st.reserve0, st.reserve1, spec.dec0, spec.dec1
            else:
                r_in, r_out, d_in, d_out = st.reserve1, st.reserve0, spec.dec1, spec.dec0
            if amt > r_in:
                raise _beyond(f"{amt} base units in exceed the pool's reserve of {r_in}")
            kept = amt * (10_000 - spec.fee)
            kept_out, r_in_bps = kept * r_out, r_in * 10_000
            out = kept_out // (r_in_bps + kept)  # getAmountOut
            fee = Decimal(amt * spec.fee).scaleb(-4 - d_in)
            no_impact = Decimal(kept_out * _SCALE // r_in_bps).scaleb(-12 - d_out)
            new: V2State | V3State | None = None
            if want_state:
                if zero_for_one:
                    new = V2State(st.reserve0 + amt, st.reserve1 - out, st.supply, st.external_lp, st.anchored_ns)
                else:
                    new = V2State(st.reserve0 - out, st.reserve1 + amt, st.supply, st.external_lp, st.anchored_ns)
            return out, fee, no_impact, new
        assert type(st) is V3State
        d_in, d_out = (spec.dec0, spec.dec1) if zero_for_one else (spec.dec1, spec.dec0)
        pool = st.pool
        if want_state:
            a0, a1, newpool = pool.swap(zero_for_one, amt)
        else:
            a0, a1 = pool.quote(zero_for_one, amt)
            newpool = None
        used, out = (a0, -a1) if zero_for_one else (a1, -a0)
        if used != amt:
            raise _beyond(f"the pool's liquidity absorbs only {used} of {amt} base units in")
        keep = _MILLION - spec.fee
        s2 = pool.sqrt_price_x96 * pool.sqrt_price_x96
        if zero_for_one:
            no_impact = Decimal(amt * keep * s2 * _SCALE // (_MILLION << 192)).scaleb(-12 - d_out)
        else:
            no_impact = Decimal(((amt * keep * _SCALE) << 192) // (_MILLION * s2)).scaleb(-12 - d_out)
        fee = Decimal(amt * spec.fee).scaleb(-6 - d_in)
        return out, fee, no_impact, (V3State(newpool, st.external, st.anchored_ns) if newpool is not None else None)

    def swap(self, ts: Any, ins: Any, quote: bool = False) -> ExecutionDeltas:
        """Execute (or, with ``quote`` / ``ins.quote_only``, quote) a swap; see the module docstring."""
        spec = self.swap_spec(ins)
        if ins.deadline is not None:
            check_deadline(ins.deadline, ts)
        t_in, t_out = ins.token_in, ins.token_out
        d_in, d_out = (spec.dec0, spec.dec1) if t_in == spec.token0 else (spec.dec1, spec.dec0)
        amt = to_units(ins.amount_in, d_in, "amount_in")
        m = self.market(ts, spec)
        st = self.state(ts, spec, m)
        quote = quote or ins.quote_only
        try:
            out, fee, no_impact, new = self._swap_math(spec, st, t_in, amt, not quote)
        except InstructionError:
            raise
        except ValueError as e:  # the contract would revert
            raise _beyond(str(e)) from None
        if out <= 0:
            raise InstructionError("amount_in", f"too small: {ins.amount_in} {t_in} buys nothing in {spec.id}")
        fill = SwapFill(spec.id, t_in, t_out, ins.amount_in, from_units(out, d_out), fee, t_in, no_impact)
        gas = self._memo.gas(ts, "swap_v2" if spec.kind == "v2" else "swap")
        return settle_swap(VENUE, ts, ins, fill, m.prices, gas, self.ledger, self.pools, spec.id, new, quote)

    # --------------------------------------------------------------------------------- liquidity
    def _amounts(self, spec: PoolSpec, amounts: Mapping[str, Decimal]) -> tuple[int, int]:
        for tok in amounts:
            if tok not in (spec.token0, spec.token1):
                raise InstructionError("amounts", f"pool {spec.id} holds {spec.token0} and {spec.token1}, not {tok}")
        a0 = to_units(amounts.get(spec.token0, _ZERO), spec.dec0, "amounts")
        a1 = to_units(amounts.get(spec.token1, _ZERO), spec.dec1, "amounts")
        return a0, a1

    def _value(self, spec: PoolSpec, m: PoolMarket, a0: int, a1: int) -> Decimal:
        return from_units(a0, spec.dec0) * m.prices[spec.token0] + from_units(a1, spec.dec1) * m.prices[spec.token1]

    def _check_funds(self, spec: PoolSpec, a0: int, a1: int, gas: GasCost) -> None:
        need = {wallet_key(spec.token0): -from_units(a0, spec.dec0),
                wallet_key(spec.token1): -from_units(a1, spec.dec1)}
        gk = wallet_key("ETH")
        need[gk] = need.get(gk, _ZERO) - gas.eth
        self.ledger.check(need, "amounts")

    def add_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """v2: LP tokens at the router's optimal amounts; v3: a new position (ticks, or +/- position_range_pct)."""
        spec = self.spec(ins.pool)
        a0d, a1d = self._amounts(spec, ins.amounts)
        m = self.market(ts, spec)
        st = self.state(ts, spec, m)
        gas = self.gas(ts, "add_liquidity")
        if type(st) is V2State:
            if ins.tick_lower is not None:
                raise InstructionError("tick_lower", f"{spec.id} is a v2 pool: no tick range")
            if a0d <= 0 or a1d <= 0:
                raise InstructionError("amounts", f"a v2 pool takes both {spec.token0} and {spec.token1}")
            try:
                a0, a1 = v2_math.optimal_add_amounts(a0d, a1d, st.reserve0, st.reserve1)
                minted = v2_math.mint_liquidity(a0, a1, st.reserve0, st.reserve1, st.supply)
            except ValueError as e:
                raise InstructionError("amounts", f"too small for {spec.id}: {e}") from None
            lp = from_units(minted, LP_DECIMALS)
            if ins.min_lp_out is not None and lp < ins.min_lp_out:
                raise SlippageError("min_lp_out", f"would mint {lp} LP tokens, below min_lp_out {ins.min_lp_out}")
            self._check_funds(spec, a0, a1, gas)
            new = V2State(st.reserve0 + a0, st.reserve1 + a1, st.supply + minted, st.external_lp, st.anchored_ns)
            self.pools[spec.id] = new
            lp_price = self._value(spec, m, new.reserve0, new.reserve1) / from_units(new.supply, LP_DECIMALS)
            tokens = {spec.token0: -from_units(a0, spec.dec0), spec.token1: -from_units(a1, spec.dec1)}
            return liquidity_deltas(VENUE, "add_liquidity", ts, tokens, spec.lp_key(), lp, lp_price, m.prices, gas,
                                    client_id=ins.client_id, details={"pool": spec.id})
        assert type(st) is V3State
        pool = st.pool
        spacing = spec.tick_spacing
        if ins.tick_lower is None:
            lo, hi = self._range(pool.tick, self.position_range, spacing)
        else:
            lo, hi = ins.tick_lower, ins.tick_upper
            for name, t in (("tick_lower", lo), ("tick_upper", hi)):
                if t % spacing or not MIN_TICK <= t <= MAX_TICK:
                    raise InstructionError(name, f"{t} is not a multiple of {spec.id}'s tick spacing {spacing} "
                                                 f"within [{MIN_TICK}, {MAX_TICK}]")
        sa, sb = get_sqrt_ratio_at_tick(lo), get_sqrt_ratio_at_tick(hi)
        liq = get_liquidity_for_amounts(pool.sqrt_price_x96, sa, sb, a0d, a1d)
        if liq <= 0:
            raise InstructionError("amounts", f"buys no liquidity in [{lo}, {hi}] at the pool's price "
                                              f"(tick {pool.tick}): give the token(s) that range needs")
        if ins.min_lp_out is not None and Decimal(liq) < ins.min_lp_out:
            raise SlippageError("min_lp_out", f"would add liquidity {liq}, below min_lp_out {ins.min_lp_out}")
        pid = str(self.meta.get("next_position_id", 1))
        try:
            a0, a1, newpool = pool.mint(f"#{pid}", lo, hi, liq)
        except ValueError as e:
            raise InstructionError("amounts", f"the pool refuses the position: {e}") from None
        self._check_funds(spec, a0, a1, gas)
        self.meta["next_position_id"] = int(pid) + 1
        self.positions[pid] = (spec.id, lo, hi)
        self.pools[spec.id] = V3State(newpool, st.external, st.anchored_ns)
        p0, p1 = get_amounts_for_liquidity(newpool.sqrt_price_x96, sa, sb, liq)
        lp_price = self._value(spec, m, p0, p1) / liq
        key = f"{spec.lp_key()}#{pid}"
        tokens = {spec.token0: -from_units(a0, spec.dec0), spec.token1: -from_units(a1, spec.dec1)}
        return liquidity_deltas(VENUE, "add_liquidity", ts, tokens, key, Decimal(liq), lp_price, m.prices, gas,
                                client_id=ins.client_id,
                                details={"pool": spec.id, "position_id": pid, "tick_lower": lo, "tick_upper": hi,
                                         "liquidity": liq})

    def _check_min_amounts(self, spec: PoolSpec, ins: Any, got: Mapping[str, Decimal]) -> None:
        for tok, lo in (ins.min_amounts or {}).items():
            if tok not in got:
                raise InstructionError("min_amounts",
                                       f"pool {spec.id} holds {spec.token0} and {spec.token1}, not {tok}")
            if got[tok] < lo:
                raise SlippageError("min_amounts", f"would return {got[tok]} {tok}, below the minimum {lo}")

    def remove_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """v2: burn LP tokens pro rata; v3: burn a position's liquidity (all, or ``lp_amount`` units) and
        collect its principal plus accrued fees (fees reported as a ``trading_fees`` gain)."""
        spec = self.spec(ins.pool)
        m = self.market(ts, spec)
        st = self.state(ts, spec, m)
        gas = self.gas(ts, "remove_liquidity")
        if type(st) is V2State:
            if ins.position_id is not None:
                raise InstructionError("position_id", f"{spec.id} is a v2 pool: it has LP tokens, not positions")
            key = spec.lp_key()
            held = self.ledger.balance(key)
            lp = held if ins.lp_amount == "max" else ins.lp_amount
            if held <= 0:
                raise InstructionError("lp_amount", f"no {key} to remove")
            if lp > held:
                raise InsufficientFundsError(key, lp, held, "lp_amount")
            liq = to_units(lp, LP_DECIMALS, "lp_amount")
            try:
                a0, a1 = v2_math.burn_amounts(liq, st.reserve0, st.reserve1, st.supply)
            except ValueError as e:
                raise InstructionError("lp_amount", f"too small: {e}") from None
            got = {spec.token0: from_units(a0, spec.dec0), spec.token1: from_units(a1, spec.dec1)}
            self._check_min_amounts(spec, ins, got)
            self.ledger.check({wallet_key("ETH"): -gas.eth}, "lp_amount")
            lp_price = self._value(spec, m, st.reserve0, st.reserve1) / from_units(st.supply, LP_DECIMALS)
            self.pools[spec.id] = V2State(st.reserve0 - a0, st.reserve1 - a1, st.supply - liq, st.external_lp,
                                          st.anchored_ns)
            return liquidity_deltas(VENUE, "remove_liquidity", ts, got, key, -lp, lp_price, m.prices, gas,
                                    client_id=ins.client_id, details={"pool": spec.id})
        assert type(st) is V3State
        if ins.position_id is None:
            raise InstructionError("position_id", f"{spec.id} is a v3 pool: name the position to remove")
        pos = self.positions.get(ins.position_id)
        if pos is None:
            raise InstructionError("position_id", f"unknown position {ins.position_id!r}")
        if pos[0] != spec.id:
            raise InstructionError("pool", f"position {ins.position_id} is in {pos[0]}, not {spec.id}")
        _, lo, hi = pos
        owner = f"#{ins.position_id}"
        pool = st.pool
        held = pool.position(owner, lo, hi)[0]
        if ins.lp_amount is None or ins.lp_amount == "max":
            liq = held
        else:
            if ins.lp_amount != ins.lp_amount.to_integral_value():
                raise InstructionError("lp_amount", "a v3 position's lp_amount is its liquidity, an integer")
            liq = int(ins.lp_amount)
            if liq > held:
                raise InsufficientFundsError(f"{spec.lp_key()}#{ins.position_id}", Decimal(liq), Decimal(held),
                                             "lp_amount")
        sa, sb = get_sqrt_ratio_at_tick(lo), get_sqrt_ratio_at_tick(hi)
        v0, v1 = get_amounts_for_liquidity(pool.sqrt_price_x96, sa, sb, liq)
        lp_price = self._value(spec, m, v0, v1) / liq
        p0, p1, pool = pool.burn(owner, lo, hi, liq)
        c0, c1, pool = pool.collect(owner, lo, hi)
        f0, f1 = c0 - p0, c1 - p1
        got = {spec.token0: from_units(c0, spec.dec0), spec.token1: from_units(c1, spec.dec1)}
        self._check_min_amounts(spec, ins, got)
        self.ledger.check({wallet_key("ETH"): -gas.eth}, "lp_amount")
        if liq == held:
            pool = _drop_position(pool, (owner, lo, hi))
            del self.positions[ins.position_id]
        self.pools[spec.id] = V3State(pool, st.external, st.anchored_ns)
        fees_usd = self._value(spec, m, f0, f1)
        key = f"{spec.lp_key()}#{ins.position_id}"
        return liquidity_deltas(VENUE, "remove_liquidity", ts, got, key, -Decimal(liq), lp_price, m.prices, gas,
                                fees_usd=fees_usd, client_id=ins.client_id,
                                details={"pool": spec.id, "position_id": ins.position_id, "liquidity": liq,
                                         "fees_collected": {spec.token0: from_units(f0, spec.dec0),
                                                            spec.token1: from_units(f1, spec.dec1)}})

    # --------------------------------------------------------------------------------- queries
    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet tokens, Uniswap LP keys and their ``value_usd`` metrics (:meth:`lp_value_usd`)."""
        return amm_balances(self.ledger, VENUE, lambda key, amount: self.lp_value_usd(ts, key, amount))

    def lp_value_usd(self, ts: Any, key: str, amount: Decimal) -> Decimal:
        """USD value at ``ts`` of ``amount`` of LP key ``key``: the tokens burning it would return now (v2:
        the pair's ``burn`` amounts; v3: the position's principal at the current price plus its uncollected
        fees, as ``burn`` + ``collect`` pay them), at the market's USD prices, before gas."""
        pool_id, _, pid = key[len(f"{VENUE}:lp:"):].partition("#")
        spec = self.spec(pool_id)
        m = self.market(ts, spec)
        st = self.state(ts, spec, m)
        if type(st) is V2State:
            a0, a1 = v2_math.burn_amounts(to_units(amount, LP_DECIMALS, "lp_amount"), st.reserve0, st.reserve1,
                                          st.supply)
            return self._value(spec, m, a0, a1)
        assert type(st) is V3State
        _, lo, hi = self.positions[pid]
        owner = f"#{pid}"
        _, _, burnt = st.pool.burn(owner, lo, hi, int(amount))
        c0, c1, _ = burnt.collect(owner, lo, hi)
        return self._value(spec, m, c0, c1)

    def swap_pools(self, ts: Any, ins: Any) -> list[dict[str, Any]]:
        """The configured pools trading ``ins``'s pair (the ``swap_pools`` hook)."""
        return swap_pool_entries(((s.id, (s.token0, s.token1)) for s in self.specs.values()), ins, self.decimals)

    def swap_models(self, ts: Any, ins: Any) -> list[PoolModel]:
        """Pure models of the pair's pools at ``ts`` (the ``swap_pool_models`` hook): each closes over the pool's
        immutable anchored state (per-timestamp memo) and quotes exactly as :meth:`swap` does with ``quote``."""
        pools = []
        for e in self.swap_pools(ts, ins):
            spec = self.spec(e["pool"])
            m = self.market(ts, spec)
            pools.append((e, spec, m, self.state(ts, spec, m)))
        key, states = (ins.token_in, ins.token_out), tuple(p[3] for p in pools)
        hit = self._models.get(key, ts.value, states)
        if hit is not None:  # same time, same pool states: the same models (and their grown quote ladders)
            return hit
        out = []
        for e, spec, m, st in pools:
            quote, rate = pool_quote(spec, st, ins.token_in == spec.token0)
            gas = self.gas(ts, "swap_v2" if spec.kind == "v2" else "swap")
            out.append(PoolModel(spec.id, e["decimals_in"], e["decimals_out"], quote, rate, gas.eth, m.prices, st))
        return self._models.put(key, ts.value, states, out)

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        """USD notional of a swap (amount in) or a liquidity deposit; None for removals."""
        if ins.operation == "swap":
            spec = self.swap_spec(ins)
            return ins.amount_in * self.market(ts, spec).prices[ins.token_in]  # type: ignore[no-any-return]
        if ins.operation == "add_liquidity":
            spec = self.spec(ins.pool)
            prices = self.market(ts, spec).prices
            return sum((v * prices[t] for t, v in ins.amounts.items() if t in prices), _ZERO)
        return None

    def pool_state(self, ts: Any, pool: str) -> V2State | V3State:
        """The (anchored) state of ``pool`` at ``ts``, for inspection; nothing is stored."""
        spec = self.spec(pool)
        return self.state(ts, spec, self.market(ts, spec))


def pool_quote(spec: PoolSpec, st: V2State | V3State, zero_for_one: bool
               ) -> tuple[Callable[[int], int | None], Decimal]:
    """``(quote, no_impact_rate)`` of a pool state: ``quote(amount_in base units)`` -> output base units (None
    where :meth:`UniswapSim.swap` refuses: beyond the reserve or the liquidity, nothing out), pure (the state
    is immutable); the rate: output per input base unit at zero size, after the fee."""
    if type(st) is V2State:
        r_in, r_out = (st.reserve0, st.reserve1) if zero_for_one else (st.reserve1, st.reserve0)
        fee = spec.fee

        def v2(amt: int) -> int | None:
            if not 0 < amt <= r_in:
                return None
            out = v2_math.get_amount_out(amt, r_in, r_out, fee)
            return out if out > 0 else None
        return v2, Decimal((10_000 - fee) * r_out) / Decimal(r_in * 10_000)
    assert type(st) is V3State
    pool = st.pool
    keep3 = _MILLION - spec.fee
    s2 = pool.sqrt_price_x96 * pool.sqrt_price_x96

    quoter = pool.exact_input_quoter(zero_for_one)  # = pool.quote, its tick walk done once for all amounts

    def v3(amt: int) -> int | None:
        if amt <= 0:
            return None
        try:
            used, out = quoter(amt)
        except ValueError:  # the contract would revert
            return None
        return out if used == amt and out > 0 else None
    rate = (Decimal(keep3 * s2) / Decimal(_MILLION << 192) if zero_for_one
            else Decimal(keep3 << 192) / Decimal(_MILLION * s2))
    return v3, rate


def mid_price(spec: PoolSpec, st: V2State | V3State) -> Decimal:
    """The pool's marginal price of ``spec.base`` in ``spec.quote`` (human units, no fee)."""
    if isinstance(st, V2State):
        p1per0 = Decimal(st.reserve1) / Decimal(st.reserve0)
    else:
        s = st.pool.sqrt_price_x96
        p1per0 = Decimal(s * s) / Decimal(Q96 * Q96)
    p1per0 = p1per0.scaleb(spec.dec0 - spec.dec1)
    return p1per0 if spec.base == spec.token0 else 1 / p1per0


__all__ = ["DEFAULT_POOLS", "POOLS_TABLE", "POSITIONS_TABLE", "PoolSpec", "UniswapSim", "V2State", "V3State",
           "build_specs", "mid_price", "pool_quote"]
