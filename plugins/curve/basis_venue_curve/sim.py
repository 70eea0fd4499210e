"""Backtest backend of the Curve venue: virtual StableSwap pools running the contract's exact integer math.

Virtual pools (:data:`DEFAULT_POOLS`, overridable with the ``pools`` option: coins, A, fee, admin_fee,
tvl_usd) are anchored balanced: every coin holds ``tvl_usd / n`` at its USD price (stablecoins at 1), the
market price of a stable pair. Our swaps and liquidity move the pool (:mod:`basis_venue_curve.stableswap_math`).
At the first touch at a new timestamp the pool re-anchors (``reanchor: true``, the arbitrage assumption):
our LP share keeps its invariant value (D units) and is rebalanced, the external depth is reset;
``reanchor: false`` anchors once. State: ledger table ``curve.pools`` (pool name -> :class:`CurveState`),
so a failed instruction rolls it back; quotes never write.

Keys: wallet ``ethereum:wallet:<TOKEN>``, LP tokens ``curve:lp:<pool>`` (18 decimals). The fee of a
swap is charged in the output coin (as the contract does); ``no-impact output`` = dx x the pool's marginal
rate (from the invariant's gradient) x (1 - fee). Backtest approvals are assumed done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

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
from basis_venue_curve.deployment import DEFAULT_ROUTES, load_table
from basis_venue_curve.stableswap_math import A_PRECISION, FEE_DENOMINATOR, StableSwapPool, StableSwapRevert

VENUE = "curve"
POOLS_TABLE = "curve.pools"
LP_DECIMALS = 18
_ZERO = Decimal(0)

#: default virtual pools: coins (pool order), A, fee and admin fee (1e10 denominator), depth in USD
DEFAULT_POOLS: dict[str, dict[str, Any]] = {
    "2pool": {"coins": ["USDC", "USDT"], "A": 200, "fee": 4_000_000, "admin_fee": 5_000_000_000,
              "tvl_usd": "50000000"},
    "3pool": {"coins": ["DAI", "USDC", "USDT"], "A": 2000, "fee": 1_000_000, "admin_fee": 5_000_000_000,
              "tvl_usd": "150000000"},
}


@dataclass(frozen=True, slots=True)
class CurveSpec:
    """One virtual pool: name, coins in pool order, their decimals, A, fees, depth."""

    id: str
    coins: tuple[str, ...]
    decimals: tuple[int, ...]
    A: int
    fee: int
    admin_fee: int
    tvl_usd: Decimal

    def index(self, token: str) -> int:
        return self.coins.index(token)

    def lp_key(self) -> str:
        return f"{VENUE}:lp:{self.id}"


def build_specs(overrides: Mapping[str, Mapping[str, Any]] | None, decimals: Mapping[str, int]) -> dict[str, CurveSpec]:
    """Specs from :data:`DEFAULT_POOLS` updated by the ``pools`` option (new names add pools)."""
    merged = sim_pool_options(DEFAULT_POOLS, overrides, "coins, A, fee, admin_fee, tvl_usd")
    out: dict[str, CurveSpec] = {}
    for name, cfg in merged.items():
        try:
            coins = tuple(str(c) for c in cfg["coins"])
            spec = CurveSpec(name, coins, tuple(decimals[c] for c in coins), int(cfg.get("A", 200)),
                             int(cfg.get("fee", 4_000_000)), int(cfg.get("admin_fee", 5_000_000_000)),
                             Decimal(str(cfg.get("tvl_usd", "10000000"))))
        except KeyError as e:
            raise ConfigError(f"pools.{name}: missing or unknown {e} (coins need decimals: 'tokens' option)") from None
        except (TypeError, ValueError, ArithmeticError):
            raise ConfigError(f"pools.{name}: A / fee / admin_fee / tvl_usd must be numbers") from None
        if len(coins) < 2 or len(set(coins)) != len(coins) or spec.A <= 0 or not spec.tvl_usd > 0:
            raise ConfigError(f"pools.{name}: needs >= 2 distinct coins, A > 0 and tvl_usd > 0")
        out[name] = spec
    return out


@dataclass(frozen=True, slots=True)
class CurveState:
    """A pool's state, the LP held by the virtual market, when it was anchored (a cache of marginal rates)."""

    pool: StableSwapPool
    external_lp: int
    anchored_ns: int
    _rates: dict[tuple[int, int], Decimal] = field(default_factory=dict, compare=False, repr=False)

    def rate(self, i: int, j: int) -> Decimal:
        """Marginal ``dy_j / dx_i`` of the pool (cached): :func:`marginal_rate`."""
        r = self._rates.get((i, j))
        if r is None:
            r = self._rates[(i, j)] = marginal_rate(self.pool, i, j)
        return r


def marginal_rate(pool: StableSwapPool, i: int, j: int) -> Decimal:
    """Marginal ``dy_j / dx_i`` in normalised (18-decimal) units before the fee, from the invariant's gradient:
    ``(Ann/A_P + D_P/x_i) / (Ann/A_P + D_P/x_j)`` with ``D_P = D**(n+1) / (n**n prod(x))``."""
    xp = pool.xp()
    n = pool.n
    with localcontext() as ctx:
        ctx.prec = 80
        prod = Decimal(n**n)
        for x in xp:
            prod *= x
        dp = Decimal(pool.D()) ** (n + 1) / prod
        ann = Decimal(pool.amp * n) / A_PRECISION
        r = (ann + dp / xp[i]) / (ann + dp / xp[j])
    return +r  # rounded to the caller's precision


def exchange_quote(pool: StableSwapPool, i: int, j: int) -> Callable[[int], int | None]:
    """``quote(dx)`` -> coin ``j`` out (native units) of ``exchange(i, j, dx)`` on ``pool`` (the contract's
    ``get_dy``), or None where :meth:`CurveSim.swap` refuses (beyond the balance, a revert, nothing out); pure."""
    bal = pool.balances[i]

    def quote(dx: int) -> int | None:
        if not 0 < dx <= bal:
            return None
        try:
            dy = pool.get_dy(i, j, dx)
        except StableSwapRevert:
            return None
        return dy if dy > 0 else None
    return quote


def _beyond(what: str) -> InstructionError:
    return InstructionError("amount_in", f"beyond the pool: {what}")


class CurveSim:
    """The backtest backend (one per venue instance)."""

    def __init__(self, venue: Any) -> None:
        ctx = venue.context
        if ctx is None or ctx.ledger is None or ctx.data_provider is None:
            raise ConfigError("curve backtest needs the manager's ledger and data provider")
        self.ledger = ctx.ledger
        self.data = ctx.data_provider
        opts = venue.settings.options
        self.decimals = sim_decimals(load_table("mainnet")["decimals"], opts.get("tokens"))
        self.specs = build_specs(opts.get("pools"), self.decimals)
        self.routes = sim_routes(DEFAULT_ROUTES, opts.get("routes"))
        self.reanchor = bool(opts.get("reanchor", True))
        self.gas_units = sim_gas_units(DEFAULT_GAS_UNITS, opts.get("gas_units"))
        self.pools = self.ledger.table(POOLS_TABLE)
        self._memo = StepMemo(self.data, self.gas_units)
        self._models = ModelCache()

    # --------------------------------------------------------------------------------- lookups
    def spec(self, pool: str, field: str = "pool") -> CurveSpec:
        s = self.specs.get(pool)
        if s is None:
            raise InstructionError(field, f"unknown pool {pool!r}; known: {', '.join(sorted(self.specs))}")
        return s

    def _token(self, token: str, field: str) -> None:
        if token not in self.decimals:
            raise InstructionError(field, f"unknown token {token!r}; known: {', '.join(sorted(self.decimals))}")

    def swap_spec(self, ins: Any) -> CurveSpec:
        return resolve_swap_pool(ins, self._token, self.routes, self.spec, lambda s: s.coins)

    def prices(self, ts: Any, spec: CurveSpec) -> dict[str, Decimal]:
        """USD prices of the pool's coins and ETH as of ``ts`` (cached per timestamp)."""
        c = self._memo.at(ts)
        p: dict[str, Decimal] | None = c.pools.get(spec.id)
        if p is None:
            snap = c.snapshot
            p = {t: usd_price(snap, t) for t in spec.coins}
            p["ETH"] = usd_price(snap, "ETH")
            c.pools[spec.id] = p
        return p

    def gas(self, ts: Any, op: str) -> GasCost:
        return self._memo.gas(ts, op)

    # --------------------------------------------------------------------------------- anchoring
    def state(self, ts: Any, spec: CurveSpec, prices: Mapping[str, Decimal]) -> CurveState:
        """The pool's state at ``ts``: stored, or (re-)anchored (not stored)."""
        st = self.pools.get(spec.id)
        return self._memo.state(ts, spec.id, st, self.reanchor, self._anchor, spec, st, prices, ts.value)

    def _anchor(self, spec: CurveSpec, st: CurveState | None, prices: Mapping[str, Decimal], ts_ns: int) -> CurveState:
        n = len(spec.coins)
        share = spec.tvl_usd / n
        mul = [10 ** (18 - d) for d in spec.decimals]
        ext = [int((share / prices[c]).scaleb(d)) for c, d in zip(spec.coins, spec.decimals, strict=True)]
        ours = 0 if st is None else st.pool.lp_supply - st.external_lp
        if st is None or ours <= 0:
            pool = StableSwapPool.from_decimals(ext, spec.decimals, spec.A, spec.fee, spec.admin_fee, 0)
            d = pool.D()
            return CurveState(StableSwapPool(pool.balances, pool.precision_mul, pool.A, pool.fee, pool.admin_fee, d),
                              d, ts_ns)
        our_d = st.pool.D() * ours // st.pool.lp_supply
        bal = [(e * m + our_d // n) // m for e, m in zip(ext, mul, strict=True)]
        tmp = StableSwapPool.from_decimals(bal, spec.decimals, spec.A, spec.fee, spec.admin_fee, 0)
        d = tmp.D()
        supply = ours * d // our_d if our_d else d + ours
        pool = StableSwapPool(tmp.balances, tmp.precision_mul, tmp.A, tmp.fee, tmp.admin_fee, supply)
        return CurveState(pool, supply - ours, ts_ns)

    # --------------------------------------------------------------------------------- swaps
    @staticmethod
    def swap_math(st: CurveState, i: int, j: int, dx: int, want_state: bool
                  ) -> tuple[int, int, Decimal, StableSwapPool | None]:
        """(dy, fee, no-impact output, new pool) in coin j's native units: ``exchange`` without the state
        when ``want_state`` is False (the quote path). Raises StableSwapRevert where the contract reverts."""
        pool = st.pool
        if want_state:
            res = pool.exchange(i, j, dx)
            dy, fee, new = res.dy, res.fee, res.pool
        else:
            dy_n, fee_n = pool._dy_parts(i, j, dx)
            mul_j = pool.precision_mul[j]
            dy, fee, new = (dy_n - fee_n) // mul_j, fee_n // mul_j, None
        no_impact = (Decimal(dx * pool.precision_mul[i]) * st.rate(i, j) * (FEE_DENOMINATOR - pool.fee)
                     / (FEE_DENOMINATOR * pool.precision_mul[j]))
        return dy, fee, no_impact, new

    def swap(self, ts: Any, ins: Any, quote: bool = False) -> ExecutionDeltas:
        """Execute (or quote) ``exchange(i, j, dx)``; see the module docstring."""
        spec = self.swap_spec(ins)
        if ins.deadline is not None:
            check_deadline(ins.deadline, ts)
        t_in, t_out = ins.token_in, ins.token_out
        i, j = spec.index(t_in), spec.index(t_out)
        d_in, d_out = spec.decimals[i], spec.decimals[j]
        dx = to_units(ins.amount_in, d_in, "amount_in")
        prices = self.prices(ts, spec)
        st = self.state(ts, spec, prices)
        pool = st.pool
        if dx > pool.balances[i]:
            raise _beyond(f"{ins.amount_in} {t_in} exceeds the pool's balance of {from_units(pool.balances[i], d_in)}")
        quote = quote or ins.quote_only
        try:
            dy, fee, no_impact, new = self.swap_math(st, i, j, dx, not quote)
        except StableSwapRevert as e:
            raise _beyond(str(e)) from None
        if dy <= 0:
            raise InstructionError("amount_in", f"too small: {ins.amount_in} {t_in} buys nothing in {spec.id}")
        fill = SwapFill(spec.id, t_in, t_out, ins.amount_in, from_units(dy, d_out), from_units(fee, d_out),
                        t_out, no_impact.scaleb(-d_out))
        return settle_swap(VENUE, ts, ins, fill, prices, self.gas(ts, "swap_curve"), self.ledger, self.pools, spec.id,
                           None if new is None else CurveState(new, st.external_lp, st.anchored_ns), quote)

    # --------------------------------------------------------------------------------- liquidity
    def _lp_price(self, pool: StableSwapPool, spec: CurveSpec, prices: Mapping[str, Decimal]) -> Decimal:
        value = sum((from_units(b, d) * prices[c] for b, d, c in zip(pool.balances, spec.decimals, spec.coins,
                                                                      strict=True)), _ZERO)
        return value / from_units(pool.lp_supply, LP_DECIMALS)

    def add_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """``add_liquidity(amounts)``: LP minted net of the imbalance fee (reported as ``trading_fees``)."""
        spec = self.spec(ins.pool)
        if ins.tick_lower is not None:
            raise InstructionError("tick_lower", f"{spec.id} is a Curve pool: no tick range")
        for tok in ins.amounts:
            if tok not in spec.coins:
                raise InstructionError("amounts", f"pool {spec.id} holds {', '.join(spec.coins)}, not {tok}")
        amounts = [to_units(ins.amounts.get(c, _ZERO), d, "amounts") for c, d in zip(spec.coins, spec.decimals,
                                                                                      strict=True)]
        prices = self.prices(ts, spec)
        st = self.state(ts, spec, prices)
        try:
            res = st.pool.add_liquidity(amounts)
        except StableSwapRevert as e:
            raise InstructionError("amounts", f"the pool refuses the deposit: {e}") from None
        lp = from_units(res.lp_amount, LP_DECIMALS)
        if lp <= 0:
            raise InstructionError("amounts", "too small: mints no LP tokens")
        if ins.min_lp_out is not None and lp < ins.min_lp_out:
            raise SlippageError("min_lp_out", f"would mint {lp} LP tokens, below min_lp_out {ins.min_lp_out}")
        gas = self.gas(ts, "add_liquidity")
        tokens = {c: -from_units(a, d) for c, a, d in zip(spec.coins, amounts, spec.decimals, strict=True) if a}
        need = {wallet_key(c): v for c, v in tokens.items()}
        need[wallet_key("ETH")] = need.get(wallet_key("ETH"), _ZERO) - gas.eth
        self.ledger.check(need, "amounts")
        self.pools[spec.id] = CurveState(res.pool, st.external_lp, st.anchored_ns)
        fees_usd = -sum((from_units(f, d) * prices[c] for f, d, c in zip(res.fees, spec.decimals, spec.coins,
                                                                           strict=True)), _ZERO)
        return liquidity_deltas(VENUE, "add_liquidity", ts, tokens, spec.lp_key(), lp,
                                self._lp_price(res.pool, spec, prices), prices, gas, fees_usd=fees_usd,
                                client_id=ins.client_id,
                                details={"pool": spec.id, "imbalance_fees": {
                                    c: from_units(f, d) for c, f, d in zip(spec.coins, res.fees, spec.decimals,
                                                                           strict=True) if f}})

    def remove_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """``remove_liquidity(lp, min_amounts)``: a pro-rata share of every coin, no fee."""
        spec = self.spec(ins.pool)
        if ins.position_id is not None:
            raise InstructionError("position_id", f"{spec.id} is a Curve pool: it has LP tokens, not positions")
        key = spec.lp_key()
        held = self.ledger.balance(key)
        lp = held if ins.lp_amount in (None, "max") else ins.lp_amount
        if held <= 0:
            raise InstructionError("lp_amount", f"no {key} to remove")
        if lp > held:
            raise InsufficientFundsError(key, lp, held, "lp_amount")
        burn = to_units(lp, LP_DECIMALS, "lp_amount")
        prices = self.prices(ts, spec)
        st = self.state(ts, spec, prices)
        for tok in ins.min_amounts or {}:
            if tok not in spec.coins:
                raise InstructionError("min_amounts", f"pool {spec.id} holds {', '.join(spec.coins)}, not {tok}")
        try:
            res = st.pool.remove_liquidity(burn)
        except StableSwapRevert as e:
            raise InstructionError("lp_amount", f"the pool refuses the withdrawal: {e}") from None
        got = {c: from_units(a, d) for c, a, d in zip(spec.coins, res.amounts, spec.decimals, strict=True)}
        for tok, lo in (ins.min_amounts or {}).items():
            if got[tok] < lo:
                raise SlippageError("min_amounts", f"would return {got[tok]} {tok}, below the minimum {lo}")
        gas = self.gas(ts, "remove_liquidity")
        self.ledger.check({wallet_key("ETH"): -gas.eth}, "lp_amount")
        lp_price = self._lp_price(st.pool, spec, prices)
        self.pools[spec.id] = CurveState(res.pool, st.external_lp, st.anchored_ns)
        return liquidity_deltas(VENUE, "remove_liquidity", ts, {c: v for c, v in got.items() if v}, key, -lp,
                                lp_price, prices, gas, client_id=ins.client_id, details={"pool": spec.id})

    # --------------------------------------------------------------------------------- queries
    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet tokens, Curve LP keys and their ``value_usd`` metrics (:meth:`lp_value_usd`)."""
        return amm_balances(self.ledger, VENUE, lambda key, amount: self.lp_value_usd(ts, key, amount))

    def lp_value_usd(self, ts: Any, key: str, amount: Decimal) -> Decimal:
        """USD value at ``ts`` of ``amount`` LP tokens of ``key``: the coins a balanced ``remove_liquidity``
        would return now, at the market's USD prices, before gas."""
        spec = self.spec(key[len(f"{VENUE}:lp:"):])
        prices = self.prices(ts, spec)
        res = self.state(ts, spec, prices).pool.remove_liquidity(to_units(amount, LP_DECIMALS, "lp_amount"))
        return sum((from_units(a, d) * prices[c] for c, a, d in zip(spec.coins, res.amounts, spec.decimals,
                                                                     strict=True)), _ZERO)

    def swap_pools(self, ts: Any, ins: Any) -> list[dict[str, Any]]:
        """The configured pools trading ``ins``'s pair (the ``swap_pools`` hook)."""
        return swap_pool_entries(((s.id, s.coins) for s in self.specs.values()), ins, self.decimals)

    def swap_models(self, ts: Any, ins: Any) -> list[PoolModel]:
        """Pure models of the pair's pools at ``ts`` (the ``swap_pool_models`` hook): each closes over the pool's
        immutable anchored state and quotes exactly as :meth:`swap` does with ``quote`` (``get_dy``)."""
        pools = []
        for e in self.swap_pools(ts, ins):
            spec = self.spec(e["pool"])
            prices = self.prices(ts, spec)
            pools.append((e, spec, prices, self.state(ts, spec, prices)))
        key, states = (ins.token_in, ins.token_out), tuple(p[3] for p in pools)
        hit = self._models.get(key, ts.value, states)
        if hit is not None:  # same time, same pool states: the same models
            return hit
        out = []
        for e, spec, prices, st in pools:
            i, j = spec.index(ins.token_in), spec.index(ins.token_out)
            pool = st.pool
            rate = (Decimal(pool.precision_mul[i]) * st.rate(i, j) * (FEE_DENOMINATOR - pool.fee)
                    / (FEE_DENOMINATOR * pool.precision_mul[j]))
            out.append(PoolModel(spec.id, e["decimals_in"], e["decimals_out"], exchange_quote(pool, i, j), rate,
                                 self.gas(ts, "swap_curve").eth, prices, st))
        return self._models.put(key, ts.value, states, out)

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        """USD notional of a swap (amount in) or a deposit; None for removals."""
        if ins.operation == "swap":
            spec = self.swap_spec(ins)
            return ins.amount_in * self.prices(ts, spec)[ins.token_in]  # type: ignore[no-any-return]
        if ins.operation == "add_liquidity":
            prices = self.prices(ts, self.spec(ins.pool))
            return sum((v * prices[t] for t, v in ins.amounts.items() if t in prices), _ZERO)
        return None

    def pool_state(self, ts: Any, pool: str) -> CurveState:
        """The (anchored) state of ``pool`` at ``ts``, for inspection; nothing is stored."""
        spec = self.spec(pool)
        return self.state(ts, spec, self.prices(ts, spec))


__all__ = ["DEFAULT_POOLS", "POOLS_TABLE", "CurveSim", "CurveSpec", "CurveState", "build_specs", "exchange_quote",
           "marginal_rate"]
