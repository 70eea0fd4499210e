"""Shared DEX mechanics of the AMM venue plugins (Uniswap, Curve): units, slippage bounds, deltas, anchoring.

Plugins never import each other, so what both need lives here: pure functions, no web3.

Conventions
- Human amounts are ``Decimal``; pool math works on integer base units (:func:`to_units`,
  :func:`from_units` convert exactly, never rounding).
- Wallet keys are ``ethereum:wallet:<TOKEN>``; gas is charged in ETH to ``ethereum:wallet:ETH``
  (:mod:`basis_core.backtest.gas`).
- The *no-impact output* of a swap is what the pool would pay at its marginal (mid) price after its
  fee: ``amount_in x (1 - fee) x mid``. ``price_impact_bps = (no_impact_out - amount_out) / no_impact_out
  x 10,000`` (the fee is not impact). ``max_slippage_bps`` bounds that impact; ``min_amount_out`` bounds
  the output itself. A violated bound raises :class:`~basis_core.errors.SlippageError` naming the field.
- PnL of a swap or a liquidity change, valued at the as-of market prices (``reference_prices``):
  ``trading_fees`` = -(fee x its token's price), ``gas`` = -(gas ETH x ETH price), and ``price_impact``
  = the rest of the value change, so that ``sum(pnl) == sum(delta x price)`` over the positions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal
from math import isqrt
from typing import Any, NamedTuple, TypeVar

from basis_core.backtest.gas import gas_cost_eth
from basis_core.data.prices import usd_price
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError, InstructionError, SlippageError

WALLET_PREFIX = "ethereum:wallet:"
GAS_TOKEN = "ETH"
_GAS_KEY = WALLET_PREFIX + GAS_TOKEN
_EXACT = Context(prec=120)  # wide enough for any amount <= 1e15 with 36 decimals: scaleb never rounds
_ZERO = Decimal(0)
_BPS = Decimal(10_000)
_BPS_PLACES = Decimal("0.0001")
P = TypeVar("P")
S = TypeVar("S")

__all__ = [
    "GAS_TOKEN",
    "WALLET_PREFIX",
    "GasCost",
    "StepCache",
    "StepMemo",
    "SwapFill",
    "amm_balances",
    "check_deadline",
    "check_slippage",
    "from_units",
    "impact_bps",
    "liquidity_deltas",
    "min_out_units",
    "quote_deltas",
    "ratio_units",
    "reserves_for_value",
    "resolve_swap_pool",
    "settle_swap",
    "sim_decimals",
    "sim_gas_units",
    "sim_routes",
    "sqrt_price_x96",
    "swap_deltas",
    "swap_pool_entries",
    "to_units",
    "value_of",
    "wallet_key",
    "without_valuation",
]


def sim_pool_options(defaults: Mapping[str, Mapping[str, Any]], overrides: Mapping[str, Any] | None,
                     expected: str) -> dict[str, dict[str, Any]]:
    """The default pools updated by the ``pools`` option (new ids add pools); ConfigError naming
    ``pools.<id>`` when an entry is not a mapping (``expected`` lists its keys)."""
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in defaults.items()}
    for pid, cfg in (overrides or {}).items():
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"pools.{pid}: expected a mapping ({expected})")
        merged.setdefault(pid, {}).update(cfg)
    return merged


def sim_decimals(table_decimals: Mapping[str, Any], tokens_option: Mapping[str, Any] | None) -> dict[str, int]:
    """Token decimals of a DEX backtest: the deployment table's, updated by the ``tokens`` option
    ({symbol: decimals} or {symbol: {"decimals": n}})."""
    out: dict[str, int] = dict(table_decimals)
    for sym, info in (tokens_option or {}).items():
        out[sym] = int(info["decimals"] if isinstance(info, Mapping) else info)
    return out


def sim_routes(default: Mapping[frozenset[str], str], routes_option: Mapping[str, Any] | None
               ) -> dict[frozenset[str], str]:
    """Default pool per unordered token pair: ``default`` updated by the ``routes`` option ({"A/B": pool})."""
    out: dict[frozenset[str], str] = dict(default)
    for pair, pool in (routes_option or {}).items():
        a, _, b = str(pair).partition("/")
        out[frozenset((a, b))] = str(pool)
    return out


def sim_gas_units(default: Mapping[str, int], gas_units_option: Mapping[str, Any] | None) -> dict[str, int]:
    """Gas units per operation: ``default`` updated by the ``gas_units`` option."""
    return {**default, **{k: int(v) for k, v in (gas_units_option or {}).items()}}


def resolve_swap_pool(ins: Any, check_token: Callable[[str, str], Any], routes: Mapping[frozenset[str], str],
                      pool: Callable[[str], P], coins: Callable[[P], Collection[str]]) -> P:
    """The pool a swap instruction trades in, for the backtest and live backends alike.

    ``check_token(token, field)`` raises for an unknown token; the pool is ``pool(ins.pool)``, or
    ``pool(routes[{token_in, token_out}])`` (the default route) when the instruction names none.
    Raises InstructionError naming ``token_out`` when no route exists and ``token_in`` / ``token_out``
    when the pool does not hold that token.
    """
    check_token(ins.token_in, "token_in")
    check_token(ins.token_out, "token_out")
    if ins.pool is None:
        name = routes.get(frozenset((ins.token_in, ins.token_out)))
        if name is None:
            raise InstructionError("token_out", f"no default pool for {ins.token_in}/{ins.token_out}; "
                                                "name one with 'pool'")
        p = pool(name)
    else:
        p = pool(ins.pool)
    held = coins(p)
    for token, name in ((ins.token_in, "token_in"), (ins.token_out, "token_out")):
        if token not in held:
            raise InstructionError(name, f"pool {getattr(p, 'id', p)} does not hold {token}")
    return p


def swap_pool_entries(pools: Iterable[tuple[str, Collection[str]]], ins: Any, decimals: Mapping[str, int]
                      ) -> list[dict[str, Any]]:
    """An AMM venue's ``swap_pools`` answer: every ``(pool id, tokens it holds)`` of ``pools`` holding both
    ``ins.token_in`` and ``ins.token_out``, as ``{"pool", "decimals_in", "decimals_out"}``. InstructionError
    naming ``token_in`` / ``token_out`` for a token ``decimals`` does not know."""
    for token, name in ((ins.token_in, "token_in"), (ins.token_out, "token_out")):
        if token not in decimals:
            raise InstructionError(name, f"unknown token {token!r}; known: {', '.join(sorted(decimals))}")
    return [{"pool": pid, "decimals_in": decimals[ins.token_in], "decimals_out": decimals[ins.token_out]}
            for pid, held in pools if ins.token_in in held and ins.token_out in held]


def amm_balances(ledger: Any, venue: str, lp_value_usd: Callable[[str, Decimal], Decimal]) -> dict[str, Decimal]:
    """An AMM venue's ``get_balances``: wallet tokens and ``<venue>:`` keys from the ledger, plus
    ``<venue>:metric:value_usd:lp:<id>`` = ``lp_value_usd(key, amount)`` for each held LP key (the backtest
    report values LP positions by it)."""
    out = ledger.balances_with((WALLET_PREFIX, f"{venue}:"))
    prefix = f"{venue}:lp:"
    for key, amount in list(out.items()):
        if key.startswith(prefix) and amount > 0:
            out[f"{venue}:metric:value_usd:lp:{key[len(prefix):]}"] = lp_value_usd(key, amount)
    return out


def wallet_key(token: str) -> str:
    """``ethereum:wallet:<token>``."""
    return WALLET_PREFIX + token


def to_units(amount: Decimal, decimals: int, field: str = "amount") -> int:
    """``amount x 10**decimals`` as an exact int; InstructionError(field) if it has more decimals than the token."""
    v = amount.scaleb(decimals, _EXACT)
    i = int(v)
    if i != v:
        raise InstructionError(field, f"{amount} has more fractional digits than the token's {decimals} decimals")
    return i


def from_units(value: int, decimals: int) -> Decimal:
    """``value / 10**decimals`` as an exact Decimal."""
    return Decimal(value).scaleb(-decimals, _EXACT)


def ratio_units(price: Decimal, dec_base: int, dec_quote: int) -> tuple[int, int]:
    """A human price (quote per base) as an exact fraction ``(num, den)`` of quote base units per base unit."""
    n, d = price.as_integer_ratio()
    return n * 10**dec_quote, d * 10**dec_base


def sqrt_price_x96(num: int, den: int) -> int:
    """``floor(sqrt(num / den) x 2**96)``: a Uniswap v3 Q64.96 square-root price from a base-unit ratio."""
    return isqrt((num << 192) // den)


def reserves_for_value(value_usd: Decimal, usd: tuple[Decimal, ...], decimals: tuple[int, ...]) -> tuple[int, ...]:
    """Base-unit balances holding ``value_usd`` split equally in USD across the tokens (pool depth at a price)."""
    share = value_usd / len(usd)
    return tuple(int((share / p).scaleb(d, _EXACT)) for p, d in zip(usd, decimals, strict=True))


def value_of(amounts: Mapping[str, Decimal], prices: Mapping[str, Decimal]) -> Decimal:
    """USD value of token amounts at ``prices`` (token -> USD)."""
    total = _ZERO
    for tok, amt in amounts.items():
        total += amt * prices[tok]
    return total


def impact_bps(no_impact_out: Decimal, amount_out: Decimal) -> Decimal:
    """``(no_impact_out - amount_out) / no_impact_out x 10,000`` (0 when ``no_impact_out`` is 0)."""
    if not no_impact_out:
        return _ZERO
    return (no_impact_out - amount_out) / no_impact_out * _BPS


def check_slippage(instruction: Any, amount_out: Decimal, impact: Decimal, token_out: str) -> None:
    """Raise SlippageError naming ``min_amount_out`` or ``max_slippage_bps`` when the quote violates it
    (``impact``: the quote's price impact in bps)."""
    lo = instruction.min_amount_out
    if lo is not None and amount_out < lo:
        raise SlippageError("min_amount_out",
                            f"the swap would pay {amount_out} {token_out}, below min_amount_out {lo}")
    cap = instruction.max_slippage_bps
    if cap is not None and impact > cap:
        raise SlippageError("max_slippage_bps",
                            f"price impact {impact.quantize(_BPS_PLACES)} bps exceeds max_slippage_bps {cap}")


def min_out_units(instruction: Any, no_impact_out_units: Decimal, quoted_out_units: int, decimals: int,
                  default_bps: Decimal) -> int:
    """The on-chain minimum output (base units) for a live swap: the tightest of ``min_amount_out`` and
    ``no_impact_out x (1 - max_slippage_bps)``; with neither, ``quoted_out x (1 - default_bps)``."""
    bounds: list[int] = []
    if instruction.min_amount_out is not None:
        v = instruction.min_amount_out.scaleb(decimals, _EXACT)
        bounds.append(int(v.to_integral_value(rounding="ROUND_CEILING")))
    if instruction.max_slippage_bps is not None:
        keep = (_BPS - instruction.max_slippage_bps) / _BPS
        bounds.append(int((no_impact_out_units * keep).to_integral_value(rounding="ROUND_CEILING")))
    if not bounds:
        keep = (_BPS - default_bps) / _BPS
        bounds.append(int((Decimal(quoted_out_units) * keep).to_integral_value(rounding="ROUND_FLOOR")))
    return max(0, *bounds)


def check_deadline(deadline: datetime | None, now: datetime) -> None:
    """InstructionError('deadline') when ``deadline`` is at or before ``now``."""
    if deadline is not None and deadline <= now:
        raise InstructionError("deadline", f"expired: {deadline.isoformat()} is not after {now.isoformat()}")


@dataclass(frozen=True, slots=True)
class GasCost:
    """Gas of one operation: ``units`` x gas price, ``eth`` paid, ETH's USD price (for the pnl)."""

    units: int
    eth: Decimal
    eth_usd: Decimal

    @property
    def usd(self) -> Decimal:
        return self.eth * self.eth_usd


@dataclass(slots=True)
class StepCache:
    """What an AMM simulator memoises for one timestamp: the market snapshot, per-pool prices (whatever
    the simulator keeps per pool id), gas costs by gas units, and anchored pool states (pool id ->
    (the stored state it was derived from, the anchored state))."""

    ts_ns: int = -1
    snapshot: Any = None
    pools: dict[str, Any] = field(default_factory=dict)
    gas: dict[int, GasCost] = field(default_factory=dict)
    anchored: dict[str, tuple[Any, Any]] = field(default_factory=dict)


class StepMemo:
    """Per-timestamp memo of an AMM simulator (one :class:`StepCache`, replaced when the time changes).

    A backtest asks for the same snapshot, prices, gas and anchored pools many times per step; all of
    them are pure functions of the market at ``ts`` (and of the stored pool state), so they are built once.
    """

    def __init__(self, data: Any, gas_units: Mapping[str, int]) -> None:
        self.data = data
        self.gas_units = gas_units
        self._c = StepCache()

    def at(self, ts: Any) -> StepCache:
        """The cache of ``ts`` (a fresh one, with the as-of snapshot, when ``ts`` is not the last time asked)."""
        c = self._c
        if c.ts_ns != ts.value:
            c = self._c = StepCache(ts.value, self.data.get_data(ts))
        return c

    def gas(self, ts: Any, op: str) -> GasCost:
        """Gas of operation ``op`` (its configured units) at the as-of gas and ETH prices."""
        units = self.gas_units[op]
        c = self.at(ts)
        g = c.gas.get(units)
        if g is None:
            g = c.gas[units] = GasCost(units, gas_cost_eth(c.snapshot, units), usd_price(c.snapshot, "ETH"))
        return g

    def state(self, ts: Any, pool_id: str, stored: Any, reanchor: bool, anchor: Callable[..., S], *args: Any) -> S:
        """A pool's state for an operation at ``ts``: the stored one when it was anchored at ``ts`` (or
        re-anchoring is off), else ``anchor(*args)`` (not stored), memoised per (stored state, time)."""
        if stored is not None and (stored.anchored_ns == ts.value or not reanchor):
            return stored  # type: ignore[no-any-return]
        cache = self.at(ts).anchored
        hit = cache.get(pool_id)
        if hit is not None and hit[0] is stored:
            return hit[1]  # type: ignore[no-any-return]
        new = anchor(*args)
        cache[pool_id] = (stored, new)
        return new


class SwapFill(NamedTuple):
    """A swap's outcome in human units: the fee is in ``fee_token`` (the input for Uniswap, the output for Curve).
    (A NamedTuple: immutable and cheap to build on the per-swap path.)"""

    pool: str
    token_in: str
    token_out: str
    amount_in: Decimal
    amount_out: Decimal
    fee: Decimal
    fee_token: str
    no_impact_out: Decimal

    @property
    def execution_price(self) -> Decimal:
        """``amount_out / amount_in`` (token_out per token_in)."""
        return self.amount_out / self.amount_in

    @property
    def impact_bps(self) -> Decimal:
        return impact_bps(self.no_impact_out, self.amount_out)


def swap_deltas(venue: str, timestamp: datetime, fill: SwapFill, prices: Mapping[str, Decimal],
                gas: GasCost | None, client_id: str | None = None,
                extra: Mapping[str, Any] | None = None, order_id: str | None = None,
                impact: Decimal | None = None) -> ExecutionDeltas:
    """Deltas of a filled swap: wallet -amount_in / +amount_out, gas in ETH; pnl trading_fees, gas, price_impact.

    ``prices``: token -> USD (both swap tokens, and ``ETH`` when gas is charged); they are put in
    ``details['reference_prices']`` and the pnl is exact against them. ``order_id``: e.g. a transaction hash;
    ``impact``: the fill's price impact in bps when the caller has computed it already.
    """
    pool, t_in, t_out, a_in, a_out, fee, fee_token, no_impact = fill
    positions: dict[str, Decimal] = {WALLET_PREFIX + t_in: -a_in, WALLET_PREFIX + t_out: a_out}
    value = a_out * prices[t_out] - a_in * prices[t_in]
    fee_usd = -(fee * prices[fee_token])
    fees: dict[str, Decimal] = {}
    pnl: dict[str, Decimal] = {"trading_fees": fee_usd}
    gas_eth = _ZERO if gas is None else gas.eth
    if gas_eth:
        positions[_GAS_KEY] = positions.get(_GAS_KEY, _ZERO) - gas_eth
        fees[_GAS_KEY] = -gas_eth
        gas_usd = -(gas_eth * prices[GAS_TOKEN])
        value += gas_usd
        pnl["gas"] = gas_usd
    else:
        gas_usd = _ZERO
    pnl["price_impact"] = value - fee_usd - gas_usd
    price = a_out / a_in
    if impact is None:
        impact = impact_bps(no_impact, a_out)
    details: dict[str, Any] = {
        "pool": pool, "token_in": t_in, "token_out": t_out, "amount_in": a_in, "amount_out": a_out,
        "execution_price": price, "no_impact_amount_out": no_impact, "price_impact_bps": impact.quantize(_BPS_PLACES),
        "fee": fee, "fee_token": fee_token, "gas_units": 0 if gas is None else gas.units, "gas_cost_eth": gas_eth,
        "reference_prices": dict(prices),
    }
    if extra:
        details.update(extra)
    return ExecutionDeltas(venue, "swap", timestamp, positions, fees, "filled", client_id, order_id, price, a_in, pnl,
                           details)


def settle_swap(venue: str, timestamp: datetime, instruction: Any, fill: SwapFill, prices: Mapping[str, Decimal],
                gas: GasCost, ledger: Any, pools: Any, pool_id: str, new_state: Any, quote: bool) -> ExecutionDeltas:
    """The end of an AMM simulator's swap ``instruction`` filled as ``fill``: with ``quote``, the quote's deltas
    (nothing written); else the instruction's bounds (SlippageError naming ``min_amount_out`` /
    ``max_slippage_bps``) and the wallet's funds for the input and the gas (InsufficientFundsError naming
    ``amount_in``) are checked, ``pools[pool_id] = new_state`` is written (a ledger table) and the fill's deltas
    are returned."""
    if quote:
        return quote_deltas(venue, timestamp, fill, prices, gas, instruction.client_id)
    impact = impact_bps(fill.no_impact_out, fill.amount_out)
    if instruction.min_amount_out is not None or instruction.max_slippage_bps is not None:
        check_slippage(instruction, fill.amount_out, impact, fill.token_out)
    ledger.check({WALLET_PREFIX + fill.token_in: -instruction.amount_in, _GAS_KEY: -gas.eth}, "amount_in")
    pools[pool_id] = new_state
    return swap_deltas(venue, timestamp, fill, prices, gas, instruction.client_id, impact=impact)


def quote_deltas(venue: str, timestamp: datetime, fill: SwapFill, prices: Mapping[str, Decimal],
                 gas: GasCost | None, client_id: str | None = None,
                 extra: Mapping[str, Any] | None = None) -> ExecutionDeltas:
    """A quote: status ``quoted``, no positions; ``details`` as for a fill plus the would-be ``positions``
    and ``pnl``."""
    would = swap_deltas(venue, timestamp, fill, prices, gas, client_id, extra)
    details = dict(would.details)
    details["positions"] = dict(would.positions)
    details["pnl"] = dict(would.pnl)
    return ExecutionDeltas(venue, "swap", timestamp, {}, {}, "quoted", client_id, None,
                           fill.execution_price, fill.amount_in, {}, details)


def liquidity_deltas(venue: str, operation: str, timestamp: datetime, tokens: Mapping[str, Decimal],
                     lp_key: str, lp_delta: Decimal, lp_price: Decimal, prices: Mapping[str, Decimal],
                     gas: GasCost | None, *, fees_usd: Decimal = _ZERO, client_id: str | None = None,
                     details: Mapping[str, Any] | None = None, order_id: str | None = None) -> ExecutionDeltas:
    """Deltas of adding (``lp_delta`` > 0) or removing liquidity: wallet token changes, the LP key, gas.

    ``lp_price``: USD per LP unit (the pool's value at the market prices / its supply); ``fees_usd``: the
    signed ``trading_fees`` (imbalance fees paid < 0, v3 fees collected > 0). ``price_impact`` takes the
    rest of the value change (rounding, a pool off the market price).
    """
    positions: dict[str, Decimal] = {WALLET_PREFIX + t: v for t, v in tokens.items() if v}
    positions[lp_key] = lp_delta
    value = lp_delta * lp_price + value_of(tokens, prices)
    fees: dict[str, Decimal] = {}
    pnl: dict[str, Decimal] = {"trading_fees": fees_usd}
    gas_usd = _ZERO
    if gas is not None and gas.eth:
        gk = WALLET_PREFIX + GAS_TOKEN
        positions[gk] = positions.get(gk, _ZERO) - gas.eth
        fees[gk] = -gas.eth
        gas_usd = -(gas.eth * prices[GAS_TOKEN])
        value += gas_usd
        pnl["gas"] = gas_usd
    pnl["price_impact"] = value - fees_usd - gas_usd
    refs = dict(prices)
    refs[lp_key] = lp_price
    info: dict[str, Any] = {"amounts": dict(tokens), "lp_key": lp_key, "lp_amount": lp_delta,
                            "gas_units": gas.units if gas else 0, "gas_cost_eth": gas.eth if gas else _ZERO,
                            "reference_prices": refs}
    if details:
        info.update(details)
    return ExecutionDeltas(venue, operation, timestamp, positions, fees, "filled", client_id, order_id, pnl=pnl,
                           details=info)


def without_valuation(d: ExecutionDeltas) -> ExecutionDeltas:
    """``d`` without pnl and reference prices (when the tokens could not be priced)."""
    details = {k: v for k, v in d.details.items() if k != "reference_prices"}
    return ExecutionDeltas(d.venue, d.operation, d.timestamp, d.positions, d.fees, d.status, d.client_id,
                           d.order_id, d.fill_price, d.fill_amount, {}, details)
