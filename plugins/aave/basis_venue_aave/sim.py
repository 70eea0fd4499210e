"""Backtest backend of the Aave venue: one account on a simulated Aave v3 market, with the protocol's
integer math (:mod:`basis_venue_aave.math`).

Balances. Supplied balances and debt are kept as scaled balances (AToken / VariableDebtToken units):
a supply mints ``amount.rayDiv(liquidityIndex)``, a borrow ``amount.rayDiv(variableBorrowIndex)``, a
withdraw / repay burns the same way, and the balance is ``scaled.rayMul(index)``: exactly the tokens'
``balanceOf``. The ledger keys ``aave:supplied:<asset>`` / ``aave:debt:<asset>`` hold those balances in
token units; deltas carry the underlying change.

Indices. From the daily ``aave:<asset>`` snapshots (liquidity_index and variable_borrow_index
normalised ~1.0 = ray / 1e27; liquidity_rate and variable_borrow_rate APR decimals = ray / 1e27), the
index at ``t`` is the last row at or before ``t`` accrued forward with THAT row's rates: linear for the
liquidity index (``MathUtils.calculateLinearInterest``), compounded per second for the borrow index
(``calculateCompoundedInterest``, Aave's 3-term expansion), over whole seconds. Never toward a later
row. The snapshot's own index replaces the extrapolation when the next row becomes visible.

Risk. Prices are :func:`basis_core.data.usd_price` (ETH / WETH from ``oracle:ETH/USD``, wstETH / weETH
x ``lst:<token>.rate``, stablecoins 1) converted to the oracle's 8-decimal base units (rounded down).
Account data, health factor and borrowing power follow ``GenericLogic.calculateUserAccountData`` with
the per-asset LTV / liquidation threshold of :data:`basis_venue_aave.params.RESERVES` (Aave v3
Ethereum) or the user's e-mode category (``EMODE_CATEGORIES``: ETH-correlated 93 % / 95 % / 1 %).
Validation as the contracts do it (v3.0.2):

- borrow: ``ValidationLogic.validateBorrow``'s collateral checks (errors 34, 57, 35, 36) and the e-mode
  membership of the borrowed asset (58) -> :class:`~basis_core.errors.HealthFactorError` /
  :class:`~basis_core.errors.InstructionError`; reserve liquidity and caps are not modelled;
- withdraw: more than the balance -> :class:`~basis_core.errors.InsufficientFundsError` (error 32);
  a health factor below 1 afterwards -> HealthFactorError (35). Aave limits withdrawals by the health
  factor (liquidation threshold), borrows by the LTV;
- repay: nothing owed -> InstructionError (39); more than owed repays the debt (as Aave does);
- e-mode (``e_mode_category`` on Supply / Borrow): ``setUserEMode`` first when it differs: every
  borrowed asset must be in the category (58), leaving a category must keep the health factor >= 1.

Liquidation. At every accrual point (``accrue``) after interest, if the health factor is below 1 the
position is liquidated as ``LiquidationLogic`` does: the largest debt against the largest collateral,
close factor 50 % (100 % below a health factor of 0.95), collateral seized ``debt x price_debt /
price_coll x (1 + bonus)`` (the e-mode bonus when the collateral is in the user's category), capped at
the balance; repeated (up to 10 times) while the health factor stays below 1.

Gas (when the market has a ``gas`` series and ``charge_gas`` is true): ``DEFAULT_GAS_UNITS`` of the
operation (``supply`` / ``withdraw`` / ``borrow`` / ``repay``, plus ``set_emode``), overridable with the
``gas_units`` option, charged to ``ethereum:wallet:ETH``. Approvals are assumed done (no gas).

State: ledger tables ``aave.positions`` (asset -> (scaled supply, supply balance, scaled debt, debt
balance), base units) and ``aave.account`` (e-mode), so a failed instruction or bundle rolls back.
Balances of ``aave:*`` keys given as initial balances are adopted (scaled at the first call's index).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Context, Decimal
from typing import Any

from basis_core.backtest.gas import DEFAULT_GAS_UNITS, GAS_KEY
from basis_core.data.prices import STABLECOINS, usd_price
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import (
    ConfigError,
    HealthFactorError,
    InstructionError,
    InsufficientFundsError,
    MarketDataError,
)
from basis_core.onchain.venue import backtest_context
from basis_venue_aave.math import (
    COLLATERAL_BALANCE_IS_ZERO,
    COLLATERAL_CANNOT_COVER_NEW_BORROW,
    HALF_RAY,
    HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD,
    LTV_VALIDATION_FAILED,
    RAY,
    SECONDS_PER_YEAR,
    UINT256_MAX,
    WAD,
    AccountData,
    AssetPosition,
    borrow_error,
    calculate_user_account_data,
    max_borrow_amount,
    percent_div,
    percent_mul,
    ray_div,
    ray_mul,
)
from basis_venue_aave.params import (
    EMODE_CATEGORIES,
    FLASHLOAN_PREMIUM_TOTAL,
    RESERVES,
    EModeCategoryParams,
    ReserveParams,
)

log = logging.getLogger(__name__)

VENUE = "aave"
POSITIONS = "aave.positions"
ACCOUNT = "aave.account"
WALLET = "ethereum:wallet:"
#: exact conversions between Decimal human amounts and integer units
CTX = Context(prec=120)
_ZERO = Decimal(0)
_NS = 1_000_000_000
#: HealthFactor below which the whole debt may be liquidated (LiquidationLogic.CLOSE_FACTOR_HF_THRESHOLD)
CLOSE_FACTOR_HF_THRESHOLD = 95 * 10**16
DEFAULT_CLOSE_FACTOR = 5000
MAX_CLOSE_FACTOR = 10000
MAX_LIQUIDATIONS_PER_STEP = 10
INCONSISTENT_EMODE_CATEGORY = "58"
NOT_ENOUGH_AVAILABLE_USER_BALANCE = "32"
NO_DEBT_OF_SELECTED_TYPE = "39"
ERROR_NAMES = {
    COLLATERAL_BALANCE_IS_ZERO: "COLLATERAL_BALANCE_IS_ZERO",
    LTV_VALIDATION_FAILED: "LTV_VALIDATION_FAILED",
    HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD: "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD",
    COLLATERAL_CANNOT_COVER_NEW_BORROW: "COLLATERAL_CANNOT_COVER_NEW_BORROW",
    INCONSISTENT_EMODE_CATEGORY: "INCONSISTENT_EMODE_CATEGORY",
    NOT_ENOUGH_AVAILABLE_USER_BALANCE: "NOT_ENOUGH_AVAILABLE_USER_BALANCE",
    NO_DEBT_OF_SELECTED_TYPE: "NO_DEBT_OF_SELECTED_TYPE",
}

# position tuple fields
_SS, _SW, _DS, _DW = 0, 1, 2, 3
_EMPTY = (0, 0, 0, 0)


def to_units(amount: Decimal, decimals: int, field: str = "amount") -> int:
    """Human ``amount`` -> integer base units, exactly; InstructionError(field) beyond the token's decimals."""
    scaled = amount.scaleb(decimals, CTX)
    units = int(scaled)
    if units != scaled:
        raise InstructionError(field, f"{amount} has more than {decimals} decimals")
    return units


def from_units(units: int, decimals: int) -> Decimal:
    """Integer base units -> human Decimal (exact)."""
    return Decimal(units).scaleb(-decimals, CTX)


def ray(value: Decimal) -> int:
    """A normalised index / APR decimal as a ray integer (rounded down beyond 27 decimals)."""
    return int(value.scaleb(27, CTX))


def price_units(price_usd: Decimal) -> int:
    """A USD price as oracle base units (8 decimals, rounded down)."""
    return int(price_usd.scaleb(8, CTX))


def error_text(code: str) -> str:
    return f"Aave error {code} {ERROR_NAMES.get(code, '')}".rstrip()


def account_metrics(acc: AccountData, emode: int) -> dict[str, Decimal]:
    """``aave:metric:*`` of account data (both backends): health_factor (wad, as ``getUserAccountData``;
    ``type(uint256).max / 1e18`` with no debt), ltv (debt / collateral value, 18 decimals), max_ltv,
    liquidation_threshold, borrowing_power_usd, collateral_usd, debt_usd, e_mode_category."""
    coll = from_units(acc.total_collateral_base, 8)
    debt = from_units(acc.total_debt_base, 8)
    ltv = (acc.total_debt_base * 10**18 // acc.total_collateral_base) if acc.total_collateral_base else 0
    return {
        f"{VENUE}:metric:health_factor": from_units(acc.health_factor, 18),
        f"{VENUE}:metric:ltv": from_units(ltv, 18),
        f"{VENUE}:metric:max_ltv": from_units(acc.ltv, 4),
        f"{VENUE}:metric:liquidation_threshold": from_units(acc.current_liquidation_threshold, 4),
        f"{VENUE}:metric:borrowing_power_usd": from_units(acc.available_borrows_base, 8),
        f"{VENUE}:metric:collateral_usd": coll,
        f"{VENUE}:metric:debt_usd": debt,
        f"{VENUE}:metric:e_mode_category": Decimal(emode),
    }


# ------------------------------------------------------------------------------------------- config
def _fraction_bps(v: Any, name: str) -> int:
    try:
        d = Decimal(str(v))
    except ArithmeticError:
        raise ConfigError(f"{name}: expected a number") from None
    if not d.is_finite() or d < 0 or d > 1:
        raise ConfigError(f"{name}: expected a fraction between 0 and 1, got {v!r}")
    bps = d * 10_000
    if bps != bps.to_integral_value():
        raise ConfigError(f"{name}: at most 4 decimals (whole basis points), got {v!r}")
    return int(bps)


def build_reserves(options: Mapping[str, Any]) -> dict[str, ReserveParams]:
    """:data:`RESERVES` updated by the ``reserves`` option: ``{asset: {ltv, liquidation_threshold,
    liquidation_bonus, decimals, e_mode_category, borrowing_enabled}}`` (fractions: ``0.805``, bonus ``0.05``)."""
    out = dict(RESERVES)
    raw = options.get("reserves") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("venue_config.aave.reserves: expected a mapping asset -> parameters")
    for sym, cfg in raw.items():
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"venue_config.aave.reserves.{sym}: expected a mapping")
        base = out.get(sym) or ReserveParams(str(sym), 18, 0, 0, 10_000, 0)
        w = f"venue_config.aave.reserves.{sym}"
        ltv = _fraction_bps(cfg["ltv"], f"{w}.ltv") if "ltv" in cfg else base.ltv
        lt = (_fraction_bps(cfg["liquidation_threshold"], f"{w}.liquidation_threshold")
              if "liquidation_threshold" in cfg else base.liquidation_threshold)
        bonus = (10_000 + _fraction_bps(cfg["liquidation_bonus"], f"{w}.liquidation_bonus")
                 if "liquidation_bonus" in cfg else base.liquidation_bonus)
        if ltv > lt:
            raise ConfigError(f"{w}: ltv must not exceed liquidation_threshold")
        out[str(sym)] = ReserveParams(
            str(sym), int(cfg.get("decimals", base.decimals)), ltv, lt, bonus, base.reserve_factor,
            int(cfg.get("e_mode_category", base.emode_category)), bool(cfg.get("borrowing_enabled",
                                                                                base.borrowing_enabled)))
    return out


def build_emode(options: Mapping[str, Any]) -> dict[int, EModeCategoryParams]:
    """:data:`EMODE_CATEGORIES` updated by the ``e_mode_categories`` option ``{id: {ltv,
    liquidation_threshold, liquidation_bonus, label}}`` (fractions)."""
    out = dict(EMODE_CATEGORIES)
    raw = options.get("e_mode_categories") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("venue_config.aave.e_mode_categories: expected a mapping id -> parameters")
    for key, cfg in raw.items():
        cid = int(key)
        w = f"venue_config.aave.e_mode_categories.{cid}"
        if cid <= 0 or cid > 255 or not isinstance(cfg, Mapping):
            raise ConfigError(f"{w}: ids are 1..255 with a mapping of parameters")
        base = out.get(cid) or EModeCategoryParams(cid, 0, 0, 10_000, f"category {cid}")
        out[cid] = EModeCategoryParams(
            cid,
            _fraction_bps(cfg["ltv"], f"{w}.ltv") if "ltv" in cfg else base.ltv,
            _fraction_bps(cfg["liquidation_threshold"], f"{w}.liquidation_threshold")
            if "liquidation_threshold" in cfg else base.liquidation_threshold,
            10_000 + _fraction_bps(cfg["liquidation_bonus"], f"{w}.liquidation_bonus")
            if "liquidation_bonus" in cfg else base.liquidation_bonus,
            str(cfg.get("label", base.label)))
    return out


def flash_loan_premium_bps(options: Mapping[str, Any]) -> int:
    """The flash-loan premium in bps (option ``flash_loan_premium_bps``, default Aave's 5)."""
    try:
        bps = int(options.get("flash_loan_premium_bps", FLASHLOAN_PREMIUM_TOTAL))
    except (TypeError, ValueError):
        raise ConfigError("venue_config.aave.flash_loan_premium_bps: expected an integer") from None
    if not 0 <= bps <= 10_000:
        raise ConfigError("venue_config.aave.flash_loan_premium_bps: expected 0..10000")
    return bps


# ------------------------------------------------------------------------------------------- indices
class ReserveHistory:
    """The ``aave:<asset>`` series as ray integers, converted row by row on first use.

    Per row: liquidity index and rate, variable borrow index and rate (rays), and the rate's second and
    third powers per second as ``MathUtils.calculateCompoundedInterest`` computes them, so an index at any
    time costs a few integer operations (a cursor remembers the last row: O(1) for a clock moving forward).
    """

    __slots__ = ("_end", "_i", "_start", "rows", "series", "times_s")

    def __init__(self, series: Any) -> None:
        self.series = series
        self.times_s = [t // _NS for t in series.times]
        self.rows: list[tuple[int, int, int, int, int, int] | None] = [None] * len(series.times)
        self._i = -1
        self._start = 0
        self._end = -1

    def _row(self, i: int) -> tuple[int, int, int, int, int, int]:
        c = self.series.columns
        vr = ray(c["variable_borrow_rate"][i])
        bp2 = ray_mul(vr, vr) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
        bp3 = ray_mul(bp2, vr) // SECONDS_PER_YEAR
        row = (ray(c["liquidity_index"][i]), ray(c["liquidity_rate"][i]), ray(c["variable_borrow_index"][i]),
               vr, bp2, bp3)
        self.rows[i] = row
        return row

    def _resync(self) -> None:
        """Follow a series that grew (live market data appends a row per step) or dropped its oldest rows."""
        times = self.series.times
        n = len(self.rows)
        if n and times[0] // _NS == self.times_s[0] and len(times) > n:
            self.times_s.extend(t // _NS for t in times[n:])
            self.rows.extend([None] * (len(times) - n))
        else:
            self.times_s = [t // _NS for t in times]
            self.rows = [None] * len(times)
        self._start, self._end = 0, -1

    def indices(self, ts_ns: int) -> tuple[int, int]:
        """(normalised income, normalised variable debt) at ``ts_ns`` as rays (see the module doc)."""
        if len(self.rows) != len(self.series.times):
            self._resync()
        if self._start <= ts_ns < self._end:
            i = self._i
        else:
            i = self.series.index_at(ts_ns)
            times = self.series.times
            self._i, self._start = i, times[i]
            # past the last row only this exact time is remembered: a later one is looked up (staleness checked)
            self._end = times[i + 1] if i + 1 < len(times) else ts_ns + 1
        row = self.rows[i] or self._row(i)
        li, lr, vi, vr, bp2, bp3 = row
        dt = ts_ns // _NS - self.times_s[i]
        if dt <= 0:
            return li, vi
        # getNormalizedIncome: calculateLinearInterest(rate, t0).rayMul(index)
        li = ((RAY + lr * dt // SECONDS_PER_YEAR) * li + HALF_RAY) // RAY
        # getNormalizedDebt: calculateCompoundedInterest(rate, t0).rayMul(index) (3-term expansion)
        e1 = dt - 1
        e2 = dt - 2 if dt > 2 else 0
        factor = RAY + vr * dt // SECONDS_PER_YEAR + dt * e1 * bp2 // 2 + dt * e1 * e2 * bp3 // 6
        vi = (factor * vi + HALF_RAY) // RAY
        return li, vi


# ------------------------------------------------------------------------------------------- the sim
class AaveSim:
    """The backtest backend (one per venue instance); see the module docstring."""

    def __init__(self, venue: Any) -> None:
        self.ledger, self.data, opts = backtest_context(venue)
        self.reserves = build_reserves(opts)
        self.emodes = build_emode(opts)
        units = dict(DEFAULT_GAS_UNITS)
        units.update({str(k): int(v) for k, v in (opts.get("gas_units") or {}).items()})
        self.gas_units = units
        self.charge_gas = bool(opts.get("charge_gas", True)) and self.data.has("gas")
        self.liquidations = bool(opts.get("liquidations", True))
        self.positions = self.ledger.table(POSITIONS)
        self.account = self.ledger.table(ACCOUNT)
        self._hist: dict[str, ReserveHistory] = {}
        self._keys = {s: (WALLET + s, f"{VENUE}:supplied:{s}", f"{VENUE}:debt:{s}") for s in self.reserves}
        self._units = {s: 10**r.decimals for s, r in self.reserves.items()}
        self._info = {s: (r, r.decimals, *self._keys[s]) for s, r in self.reserves.items()}
        #: asset -> (position tuple it was computed from, e-mode, contribution): see :meth:`summary`
        self._contrib: dict[str, tuple[Any, int, tuple[int, int, int, int, bool]]] = {}
        #: (write version, e-mode, raw sums) of the last summary; the version lives in the account table
        self._sum: tuple[Any, int, tuple[int, int, int, int, bool]] | None = None
        self._seq = 0
        self._ts = -1
        self._snap: Any = None
        self._idx: dict[str, tuple[int, int]] = {}
        self._px: dict[str, int] = {}
        self._usd: dict[str, Decimal] = {}
        self._gas: dict[Any, tuple[Decimal, Decimal]] = {}

    # -- per-timestamp caches ------------------------------------------------------------------
    def _at(self, ts_ns: int) -> None:
        if ts_ns != self._ts:
            self._ts = ts_ns
            self._snap = self.data.get_data(ts_ns)
            self._idx = {}
            self._px = {}
            self._usd = {}
            self._gas = {}
            self._contrib = {}
            self._sum = None
            if "adopted" not in self.account:
                self._adopt()

    def _touch(self) -> None:
        """Record a write to the positions / e-mode (a version the summary cache is keyed on; a rollback
        restores the previous version, which no cached summary of a later write carries)."""
        self._seq += 1
        self.account["v"] = self._seq

    def index(self, asset: str) -> tuple[int, int]:
        """(liquidity index, variable borrow index) of ``asset`` at the current timestamp (rays)."""
        v = self._idx.get(asset)
        if v is None:
            h = self._hist.get(asset)
            if h is None:
                h = self._hist[asset] = ReserveHistory(self.data.series(f"aave:{asset}"))
            v = self._idx[asset] = h.indices(self._ts)
        return v

    def usd(self, asset: str) -> Decimal:
        """:func:`basis_core.data.usd_price` of ``asset`` now (cached per timestamp; the ETH price is looked up
        once for WETH / stETH and the rate tokens, with usd_price's own rules: ETH x ``lst:<token>.rate``);
        a stablecoin at the reserve's oracle ``price`` (``aave:<asset>.price``) when the data has it."""
        p = self._usd.get(asset)
        if p is None:
            if asset in ("WETH", "stETH"):
                p = self.usd("ETH")
            elif asset in ("wstETH", "weETH"):
                p = self.usd("ETH") * self._snap.get(f"lst:{asset}", "rate")
            elif asset in STABLECOINS and self._snap.has(f"aave:{asset}"):
                # the Aave oracle's price of the stablecoin when the reserve data carries it (0.998 .. 1.002 in
                # the real files), else usd_price's 1
                try:
                    p = self._snap.get(f"aave:{asset}", "price")
                except MarketDataError:
                    p = usd_price(self._snap, asset)
            else:
                p = usd_price(self._snap, asset)
            self._usd[asset] = p
        return p

    def price(self, asset: str) -> int:
        """Oracle price of ``asset`` in 8-decimal USD units at the current timestamp."""
        p = self._px.get(asset)
        if p is None:
            p = self._px[asset] = price_units(self.usd(asset))
        return p

    def _gas_for(self, units: int) -> tuple[Decimal, Decimal]:
        """(ETH cost, USD cost) of ``units`` gas at the current timestamp."""
        g = self._gas.get(units)
        if g is None:
            gwei = self._snap.get("gas", "gas_price_gwei")
            eth = Decimal(units) * gwei * Decimal("1e-9")
            g = self._gas[units] = (eth, eth * self.usd("ETH"))
        return g

    def _adopt(self) -> None:
        """Scale ``aave:supplied:*`` / ``aave:debt:*`` balances that exist in the ledger but not in the table."""
        self.account["adopted"] = True
        for key, bal in self.ledger.balances.items():
            venue, _, rest = key.partition(":")
            kind, _, asset = rest.partition(":")
            if venue != VENUE or kind not in ("supplied", "debt") or asset not in self.reserves or bal <= 0:
                continue
            try:
                li, vi = self.index(asset)
            except MarketDataError:
                log.warning("aave: no index data for %s at the first call; %s stays %s (no interest)", asset, key, bal)
                continue
            w = to_units(bal, self.reserves[asset].decimals, key)
            p = list(self.positions.get(asset, _EMPTY))
            if kind == "supplied":
                p[_SS] = ray_div(w, li)
                p[_SW] = w
            else:
                p[_DS] = ray_div(w, vi)
                p[_DW] = w
            self.positions[asset] = tuple(p)
            self._touch()

    # -- helpers --------------------------------------------------------------------------------
    def reserve(self, asset: str, field: str = "asset") -> ReserveParams:
        r = self.reserves.get(asset)
        if r is None:
            raise InstructionError(field, f"unknown Aave reserve {asset!r}; known: {', '.join(sorted(self.reserves))}")
        return r

    @property
    def emode(self) -> int:
        return int(self.account.get("emode", 0))

    def current(self, asset: str) -> tuple[int, int]:
        """(supply balance, debt balance) of ``asset`` now, base units."""
        p = self.positions.get(asset)
        if p is None:
            return 0, 0
        li, vi = self.index(asset)
        return (ray_mul(p[_SS], li) if p[_SS] else 0), (ray_mul(p[_DS], vi) if p[_DS] else 0)

    def account_data(self, overrides: Mapping[str, tuple[int, int]] | None = None,
                     emode: int | None = None) -> AccountData:
        """``getUserAccountData`` of the account now; ``overrides``: asset -> (supply, debt) balances to use."""
        cat = self.emode if emode is None else emode
        em = self.emodes.get(cat) if cat else None
        out: list[AssetPosition] = []
        assets = set(self.positions.keys())
        if overrides:
            assets.update(overrides)
        for asset in assets:
            coll, debt = overrides[asset] if overrides and asset in overrides else self.current(asset)
            if coll == 0 and debt == 0:
                continue
            r = self.reserves[asset]
            out.append(AssetPosition(self.price(asset), r.decimals, r.ltv, r.liquidation_threshold, coll, debt,
                                     coll > 0, r.emode_category))
        return calculate_user_account_data(out, em)

    def _set_emode(self, category: int | None) -> str | None:
        """Apply ``setUserEMode(category)`` if it changes the category; returns 'set_emode' when it did."""
        if category is None:
            return None
        prev = self.emode
        if category == prev:
            return None
        if category != 0:
            if category not in self.emodes:
                raise InstructionError("e_mode_category", f"unknown e-mode category {category} "
                                                          f"({error_text(INCONSISTENT_EMODE_CATEGORY)})")
            for asset, p in self.positions.items():
                if p[_DS] and self.reserves[asset].emode_category != category:
                    raise InstructionError("e_mode_category", f"cannot enter e-mode {category}: {asset} is "
                                                              f"borrowed and not in the category "
                                                              f"({error_text(INCONSISTENT_EMODE_CATEGORY)})")
        if prev != 0:
            acc = self.account_data(emode=category)
            if acc.health_factor < WAD:
                raise HealthFactorError("e_mode_category", f"leaving e-mode {prev} would put the health factor at "
                                                           f"{from_units(acc.health_factor, 18):.6f} < 1 "
                                                           f"({error_text(HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD)})")
        self.account["emode"] = category
        self._touch()
        return "set_emode"

    def summary(self, cat: int | None = None) -> tuple[int, int, int, int, bool]:
        """Account totals now: (collateral base, debt base, avg LTV, avg liquidation threshold, zero-LTV
        collateral), as ``GenericLogic.calculateUserAccountData`` sums them (same integers as
        :meth:`account_data`). Each asset's contribution is cached per timestamp and e-mode and recomputed
        when its position tuple changes (identity check, so a rolled-back write is never used)."""
        acct = self.account
        if cat is None:
            cat = acct.get("emode", 0)
        v = acct.get("v")
        cached = self._sum
        if cached is not None and cached[0] == v and cached[1] == cat:
            tc, td, sl, st, zero = cached[2]
            return (tc, td, sl // tc, st // tc, zero) if tc else (tc, td, 0, 0, zero)
        cache = self._contrib
        tc = td = sl = st = 0
        zero = False
        for asset, p in self.positions.items():
            c = cache.get(asset)
            if c is None or c[0] is not p or c[1] != cat:
                r = self.reserves[asset]
                li, vi = self.index(asset)
                coll = ray_mul(p[_SS], li) if p[_SS] else 0
                debt = ray_mul(p[_DS], vi) if p[_DS] else 0
                price = self.price(asset)
                unit = self._units[asset]
                cb, lw, tw, zl = self._collateral_part(r, coll, price, unit, cat)
                c = cache[asset] = (p, cat, (cb, debt * price // unit if debt else 0, lw, tw, zl))
            cb, db, lw, tw, zl = c[2]
            tc += cb
            td += db
            sl += lw
            st += tw
            zero = zero or zl
        self._sum = (v, cat, (tc, td, sl, st, zero))
        if tc:
            return tc, td, sl // tc, st // tc, zero
        return tc, td, 0, 0, zero

    def _collateral_part(self, r: ReserveParams, coll: int, price: int, unit: int, cat: int
                         ) -> tuple[int, int, int, bool]:
        """(collateral base, LTV-weighted, threshold-weighted, zero-LTV flag) of one reserve's balance."""
        if not coll or not r.liquidation_threshold:
            return 0, 0, 0, False
        cb = coll * price // unit
        em = self.emodes.get(cat) if cat and r.emode_category == cat else None
        tw = cb * (em.liquidation_threshold if em is not None else r.liquidation_threshold)
        if not r.ltv:
            return cb, 0, tw, True
        return cb, cb * (em.ltv if em is not None else r.ltv), tw, False

    def _keep_summary(self, asset: str, old: Any, new: Any, coll: int | None, debt_base: int | None) -> None:
        """After ``positions[asset]`` went from ``old`` to ``new`` (new collateral balance ``coll`` or new debt
        value ``debt_base``): bump the version and update the cached contribution and sums in place of a
        recomputation, when they were computed from ``old``."""
        acct = self.account
        prev = acct.get("v")
        self._seq += 1
        acct["v"] = self._seq
        c = self._contrib.get(asset)
        cached = self._sum
        if c is None or c[0] is not old:
            return
        k = c[2]
        if coll is not None:
            cb, lw, tw, zl = self._collateral_part(self.reserves[asset], coll, self.price(asset),
                                                   self._units[asset], c[1])
            nk = (cb, k[1], lw, tw, zl)
        else:
            nk = (k[0], debt_base or 0, k[2], k[3], k[4])
        self._contrib[asset] = (new, c[1], nk)
        if cached is not None and cached[0] == prev and cached[1] == c[1] and not (k[4] or nk[4]):
            t = cached[2]
            self._sum = (self._seq, c[1], (t[0] - k[0] + nk[0], t[1] - k[1] + nk[1], t[2] - k[2] + nk[2],
                                           t[3] - k[3] + nk[3], t[4]))

    # -- operations -------------------------------------------------------------------------------
    def supply(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        info = self._info.get(asset)
        if info is None:
            self.reserve(asset)
        _, dec, wallet, supplied, _ = info  # type: ignore[misc]
        ts_ns = ts.value
        if ts_ns != self._ts:
            self._at(ts_ns)
        cat = ins.e_mode_category
        extra = None if cat is None or cat == self.account.get("emode", 0) else self._set_emode(cat)
        amount = ins.amount
        scaled_amount = amount.scaleb(dec, CTX)
        w = int(scaled_amount)
        if w != scaled_amount:
            raise InstructionError("amount", f"{amount} has more than {dec} decimals")
        li = (self._idx.get(asset) or self.index(asset))[0]
        positions = self.positions
        p = positions.get(asset, _EMPTY)
        ss = p[_SS] + (w * RAY + li // 2) // li  # AToken._mintScaled: amount.rayDiv(index)
        sw = (ss * li + HALF_RAY) // RAY  # balanceOf: scaled.rayMul(index)
        new = positions[asset] = (ss, sw, p[_DS], p[_DW])
        self._keep_summary(asset, p, new, sw, None)
        return self._filled("supply", ts, ins, {wallet: -amount, supplied: Decimal(sw - p[_SW]).scaleb(-dec, CTX)},
                            extra, amount)

    def _filled(self, op: str, ts: Any, ins: Any, positions: dict[str, Decimal], extra: str | None,
                amount: Decimal) -> ExecutionDeltas:
        """The deltas of a filled operation, with its gas (cached per timestamp and operation)."""
        if not self.charge_gas:
            return ExecutionDeltas(VENUE, op, ts, positions, {}, "filled", ins.client_id, None, None, amount, {})
        key = op if extra is None else f"{op}+{extra}"
        g = self._gas.get(key)  # type: ignore[call-overload]
        if g is None:
            units = self.gas_units[op] + (self.gas_units[extra] if extra else 0)
            eth, usd = self._gas_for(units)
            g = self._gas[key] = (-eth, -usd)  # type: ignore[index]
        positions[GAS_KEY] = g[0]
        return ExecutionDeltas(VENUE, op, ts, positions, {GAS_KEY: g[0]}, "filled", ins.client_id, None, None,
                               amount, {"gas": g[1]})

    def withdraw(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        r = self.reserve(asset)
        self._at(ts.value)
        li = self.index(asset)[0]
        p = self.positions.get(asset, _EMPTY)
        bal = ray_mul(p[_SS], li) if p[_SS] else 0
        wallet, supplied, _ = self._keys[asset]
        if ins.amount == "max":
            w = bal
            if w == 0:
                raise InstructionError("amount", f"nothing supplied in {asset} to withdraw")
        else:
            w = to_units(ins.amount, r.decimals)
            if w > bal:
                raise InsufficientFundsError(supplied, ins.amount, from_units(bal, r.decimals))
        ss = 0 if w == bal else p[_SS] - ray_div(w, li)
        sw = ray_mul(ss, li) if ss else 0
        if any(q[_DS] for q in self.positions.values()):
            acc = self.account_data({asset: (sw, self.current(asset)[1])})
            if acc.health_factor < WAD:
                raise HealthFactorError("amount", f"withdrawing would put the health factor at "
                                                  f"{from_units(acc.health_factor, 18):.6f} < 1 "
                                                  f"({error_text(HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD)})")
        self._put(asset, (ss, sw, p[_DS], p[_DW]))
        amount = from_units(w, r.decimals)
        positions = {wallet: amount, supplied: from_units(sw - p[_SW], r.decimals)}
        return self._filled("withdraw", ts, ins, positions, None, amount)

    def borrow(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        info = self._info.get(asset)
        if info is None:
            self.reserve(asset)
        r, dec, wallet, _, debt_key = info  # type: ignore[misc]
        if not r.borrowing_enabled:
            raise InstructionError("asset", f"borrowing {asset} is not enabled on this market")
        ts_ns = ts.value
        if ts_ns != self._ts:
            self._at(ts_ns)
        cat = ins.e_mode_category
        cur = self.account.get("emode", 0)
        extra = None
        if cat is not None and cat != cur:
            extra = self._set_emode(cat)
            cur = cat
        cat = cur
        if cat and r.emode_category != cat:
            raise InstructionError("asset", f"{asset} is not in e-mode category {cat}: it cannot be borrowed in it "
                                            f"({error_text(INCONSISTENT_EMODE_CATEGORY)})")
        amount = ins.amount
        scaled_amount = amount.scaleb(dec, CTX)
        w = int(scaled_amount)
        if w != scaled_amount:
            raise InstructionError("amount", f"{amount} has more than {dec} decimals")
        # ValidationLogic.validateBorrow, collateral part (the integers of math.borrow_error)
        tc, td, ltv, lt, _ = self.summary(cat)
        price = self._px.get(asset) or self.price(asset)
        unit = self._units[asset]
        if (not tc or not ltv or (td and ((tc * lt + 5000) // 10_000 * WAD + td // 2) // td <= WAD)
                or ((td + w * price // unit) * 10_000 + ltv // 2) // ltv > tc):
            acc = self.account_data()
            err = borrow_error(acc, w, price, dec) or COLLATERAL_CANNOT_COVER_NEW_BORROW
            room = from_units(max_borrow_amount(acc, price, dec), dec)
            raise HealthFactorError("amount", f"borrowing {amount} {asset} is refused ({error_text(err)}): at most "
                                              f"{room} {asset} can be borrowed (LTV {from_units(acc.ltv, 4)})")
        vi = (self._idx.get(asset) or self.index(asset))[1]
        positions = self.positions
        p = positions.get(asset, _EMPTY)
        ds = p[_DS] + (w * RAY + vi // 2) // vi  # VariableDebtToken mint: amount.rayDiv(index)
        dw = (ds * vi + HALF_RAY) // RAY
        new = positions[asset] = (p[_SS], p[_SW], ds, dw)
        self._keep_summary(asset, p, new, None, dw * price // unit)
        return self._filled("borrow", ts, ins, {wallet: amount, debt_key: Decimal(dw - p[_DW]).scaleb(-dec, CTX)},
                            extra, amount)

    def repay(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        r = self.reserve(asset)
        self._at(ts.value)
        vi = self.index(asset)[1]
        p = self.positions.get(asset, _EMPTY)
        owed = ray_mul(p[_DS], vi) if p[_DS] else 0
        if owed == 0:
            raise InstructionError("asset", f"no {asset} debt to repay ({error_text(NO_DEBT_OF_SELECTED_TYPE)})")
        w = owed if ins.amount == "max" else min(to_units(ins.amount, r.decimals), owed)
        ds = 0 if w == owed else p[_DS] - ray_div(w, vi)
        dw = ray_mul(ds, vi) if ds else 0
        self._put(asset, (p[_SS], p[_SW], ds, dw))
        wallet, _, debt = self._keys[asset]
        amount = from_units(w, r.decimals)
        have = self.ledger.balance(wallet)
        if have < amount:
            raise InsufficientFundsError(wallet, amount, have)
        positions = {wallet: -amount, debt: from_units(dw - p[_DW], r.decimals)}
        return self._filled("repay", ts, ins, positions, None, amount)

    def _put(self, asset: str, p: tuple[int, int, int, int]) -> None:
        if p[_SS] == 0 and p[_DS] == 0:
            if asset in self.positions:
                del self.positions[asset]
        else:
            self.positions[asset] = p
        self._touch()

    # -- time -------------------------------------------------------------------------------------
    def accrue(self, previous: Any, ts: Any) -> list[ExecutionDeltas] | None:
        """Interest since the last accrual (one deltas), then liquidations while the health factor is below 1."""
        positions = self.positions
        if "adopted" not in self.account:
            if not any(k.startswith(f"{VENUE}:") for k in self.ledger.balances):
                self.account["adopted"] = True  # nothing to adopt: no data needed
            else:
                self._at(previous.value)  # initial balances are as of the clock's first time
        if not len(positions):
            return None
        self._at(ts.value)
        out: list[ExecutionDeltas] = []
        pos: dict[str, Decimal] = {}
        lending = borrowing = _ZERO
        cat = self.account.get("emode", 0)
        contrib = self._contrib
        tc = td = sl = st = 0
        for asset, p in positions.items():
            li, vi = self._idx.get(asset) or self.index(asset)
            ss, sw, ds, dw = p
            nsw = (ss * li + HALF_RAY) // RAY if ss else 0
            ndw = (ds * vi + HALF_RAY) // RAY if ds else 0
            new = p
            if nsw != sw or ndw != dw:
                dec = self.reserves[asset].decimals
                _, supplied, debt = self._keys[asset]
                usd = self._usd.get(asset) or self.usd(asset)
                if nsw != sw:
                    d = Decimal(nsw - sw).scaleb(-dec, CTX)
                    pos[supplied] = d
                    lending += d * usd
                if ndw != dw:
                    d = Decimal(ndw - dw).scaleb(-dec, CTX)
                    pos[debt] = d
                    borrowing -= d * usd
                new = positions[asset] = (ss, nsw, ds, ndw)
            # the account totals at the new balances (GenericLogic, as summary() computes them)
            price = self._px.get(asset) or self.price(asset)
            unit = self._units[asset]
            cb, lw, tw, zl = self._collateral_part(self.reserves[asset], nsw, price, unit, cat)
            db = ndw * price // unit
            contrib[asset] = (new, cat, (cb, db, lw, tw, zl))
            tc += cb
            td += db
            sl += lw
            st += tw
        if pos:
            self._touch()
            pnl = {}
            if lending:
                pnl["lending_interest"] = lending
            if borrowing:
                pnl["borrow_interest"] = borrowing
            out.append(ExecutionDeltas(VENUE, "interest", ts, pos, {}, "accrued", pnl=pnl))
        self._sum = None
        if td and self.liquidations and tc and ((tc * (st // tc) + 5000) // 10_000 * WAD + td // 2) // td < WAD:
            for _ in range(MAX_LIQUIDATIONS_PER_STEP):
                liq = self._liquidate(ts)
                if liq is None:
                    break
                out.append(liq)
        return out or None

    def _liquidate(self, ts: Any) -> ExecutionDeltas | None:
        """One ``liquidationCall`` (max debt to cover) if the health factor is below 1, else None."""
        acc = self.account_data()
        if acc.health_factor >= WAD or acc.total_collateral_base == 0:
            return None
        best_c = best_d = None
        vc = vd = -1
        for asset, p in self.positions.items():
            r = self.reserves[asset]
            if p[_SW] and r.liquidation_threshold:
                v = p[_SW] * self.price(asset) // self._units[asset]
                if v > vc:
                    best_c, vc = asset, v
            if p[_DW]:
                v = p[_DW] * self.price(asset) // self._units[asset]
                if v > vd:
                    best_d, vd = asset, v
        if best_c is None or best_d is None:
            return None
        rc, rd = self.reserves[best_c], self.reserves[best_d]
        pc, pd_ = self.positions[best_c], self.positions[best_d]
        close = DEFAULT_CLOSE_FACTOR if acc.health_factor > CLOSE_FACTOR_HF_THRESHOLD else MAX_CLOSE_FACTOR
        debt_to_cover = percent_mul(pd_[_DW], close)
        cat = self.emode
        bonus = (self.emodes[cat].liquidation_bonus if cat and rc.emode_category == cat and cat in self.emodes
                 else rc.liquidation_bonus)
        price_c, price_d = self.price(best_c), self.price(best_d)
        unit_c, unit_d = self._units[best_c], self._units[best_d]
        coll_bal = pc[_SW]
        base_coll = price_d * debt_to_cover * unit_c // (price_c * unit_d)
        max_coll = percent_mul(base_coll, bonus)
        if max_coll > coll_bal:
            coll_amt = coll_bal
            debt_amt = percent_div(price_c * coll_amt * unit_d // (price_d * unit_c), bonus)
        else:
            coll_amt, debt_amt = max_coll, debt_to_cover
        if coll_amt == 0 or debt_amt == 0:
            return None
        li = self.index(best_c)[0]
        vi = self.index(best_d)[1]
        # debt first (the same asset may be both collateral and debt)
        ds = 0 if debt_amt >= pd_[_DW] else pd_[_DS] - ray_div(debt_amt, vi)
        ndw = ray_mul(ds, vi) if ds else 0
        self._put(best_d, (pd_[_SS], pd_[_SW], ds, ndw))
        pc = self.positions.get(best_c, _EMPTY)
        ss = 0 if coll_amt >= pc[_SW] else pc[_SS] - ray_div(coll_amt, li)
        nsw = ray_mul(ss, li) if ss else 0
        self._put(best_c, (ss, nsw, pc[_DS], pc[_DW]))
        _, supplied, _ = self._keys[best_c]
        _, _, debt = self._keys[best_d]
        d_coll = from_units(nsw - pc[_SW], rc.decimals)
        d_debt = from_units(ndw - pd_[_DW], rd.decimals)
        positions: dict[str, Decimal] = {}
        positions[supplied] = positions.get(supplied, _ZERO) + d_coll
        positions[debt] = positions.get(debt, _ZERO) + d_debt
        loss = -d_coll * self.usd(best_c) + d_debt * self.usd(best_d)
        return ExecutionDeltas(VENUE, "liquidation", ts, positions, {}, "liquidated", pnl={"liquidation": -loss},
                               details={"collateral_asset": best_c, "debt_asset": best_d,
                                        "collateral_seized": -d_coll, "debt_repaid": -d_debt,
                                        "health_factor_before": from_units(acc.health_factor, 18),
                                        "liquidation_bonus": from_units(bonus - 10_000, 4)})

    # -- queries ----------------------------------------------------------------------------------
    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet balances, supplied / debt balances at ``ts`` and the account metrics (see the venue doc)."""
        self._at(ts.value)
        out = self.ledger.balances_with(WALLET)
        for asset in self.positions.keys():
            coll, debt = self.current(asset)
            dec = self.reserves[asset].decimals
            _, supplied, debt_key = self._keys[asset]
            if coll:
                out[supplied] = from_units(coll, dec)
            if debt:
                out[debt_key] = from_units(debt, dec)
        out.update(self.metrics(self.account_data()))
        return out

    def risk_state(self, ts: Any, shock: Any) -> list[Any] | None:
        """The account's health factor under a :class:`basis_core.risk.Shock`: ``getUserAccountData`` (the
        contract's integer math, :func:`calculate_user_account_data`) at the oracle prices moved by the shock's
        factors, with each debt grown by the shock's borrow rate over its horizon. None without a position."""
        from basis_core.risk import NO_SHOCK, LegRisk

        shock = shock or NO_SHOCK
        self._at(ts.value)
        if not len(self.positions):
            return None
        cat = self.emode
        em = self.emodes.get(cat) if cat else None
        out: list[AssetPosition] = []
        for asset in self.positions.keys():
            coll, debt = self.current(asset)
            if coll == 0 and debt == 0:
                continue
            r = self.reserves[asset]
            price = price_units(self.usd(asset) * shock.price_factor(asset))
            if debt:
                debt = int(Decimal(debt) * shock.debt_growth(asset))
            out.append(AssetPosition(price, r.decimals, r.ltv, r.liquidation_threshold, coll, debt, coll > 0,
                                     r.emode_category))
        acc = calculate_user_account_data(out, em)
        hf = from_units(acc.health_factor, 18) if acc.total_debt_base else None
        return [LegRisk(VENUE, f"{VENUE}:account", "lending", hf, {"oracle:ETH/USD": self.usd("ETH") * shock.eth},
                        {"collateral_usd": from_units(acc.total_collateral_base, 8),
                         "debt_usd": from_units(acc.total_debt_base, 8),
                         "liquidation_threshold": from_units(acc.current_liquidation_threshold, 4)})]

    def metrics(self, acc: AccountData) -> dict[str, Decimal]:
        """``aave:metric:*`` of the account (see :func:`account_metrics`)."""
        return account_metrics(acc, self.emode)

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        asset = getattr(ins, "asset", None)
        amount = getattr(ins, "amount", None)
        if asset not in self.reserves or amount is None:
            return None
        self._at(ts.value)
        try:
            if amount == "max":
                coll, debt = self.current(asset)
                units = coll if ins.operation == "withdraw" else debt
                amount = from_units(units, self.reserves[asset].decimals)
            return amount * self.usd(asset)  # type: ignore[no-any-return]
        except LookupError:
            return None


__all__ = [
    "UINT256_MAX",
    "AaveSim",
    "ReserveHistory",
    "build_emode",
    "build_reserves",
    "flash_loan_premium_bps",
    "from_units",
    "to_units",
]
