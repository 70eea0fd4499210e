"""Backtest backend of the Morpho venue: one account on simulated Morpho Blue markets, with the contract's
integer math (:mod:`basis_venue_morpho.math`).

Market state. Each market's state (``IMorpho.Market`` plus the IRM's ``rateAtTarget``) comes from its
``morpho:<alias>`` series (:mod:`basis_venue_morpho.data`): the last row at or before ``t`` is the market at the
row's time (the other users' totals), every position this backtest holds in the market is added to it at the
row's share prices, and the result is accrued to ``t`` exactly as ``Morpho._accrueInterest`` does with the
Adaptive Curve IRM. Operations then change it as the contract does (shares with virtual shares, rounding in
the protocol's favour). When a later row becomes visible the market is re-anchored on it.

Oracle. ``oracle_price`` of the row when the series has that column (``IOracle.price()``, scaled 1e36), else
``usd(collateral) / usd(loan)`` scaled to 1e36 x 10^(loan decimals - collateral decimals), rounded down
(wstETH / weETH priced at ETH x ``lst:<token>.rate``, as Morpho's exchange-rate oracles do).

Keys (token units): ``morpho:supplied:<loan>`` (lending side, ``toAssetsDown`` of the supply shares),
``morpho:collateral:<token>``, ``morpho:debt:<loan>`` (``toAssetsUp`` of the borrow shares), summed over the
markets; wallet ``ethereum:wallet:<token>``, gas ``ethereum:wallet:ETH``. Per market in ``get_balances``:
``morpho:metric:health_factor:<alias>`` (max borrow / debt, < 1 liquidatable), ``ltv:<alias>``,
``borrow_apr:<alias>``, ``utilization:<alias>``; ``morpho:metric:health_factor`` is the lowest of them
(``type(uint256).max / 1e18`` without debt, as Aave reports it).

Liquidation. At every accrual point, an unhealthy position of this account is liquidated by a liquidator as
``Morpho.liquidate`` computes it: the whole debt repaid when the collateral covers it with the incentive
``min(1.15, 1/(1 - 0.3 (1 - LLTV)))``, else all the collateral seized and the rest realised as bad debt.
As the liquidator (``liquidate``), this account repays another account's debt; backtest borrowers are set up
by the ``accounts`` option (``{name: {market, collateral, borrow}}``, token units), opened at their market's
state the first time the market is used.

State: ledger tables ``morpho.markets`` (alias -> (Market, anchor row ns, booked, position): booked is this
account's (supplied, collateral, debt) in base units as the keys hold them, position its Position in the market or
None before its first operation there; one value, so an operation writes the market, its position and what it
booked at once) and ``morpho.positions`` ((alias, account) -> Position of the ``accounts`` option's borrowers), so a
failed instruction or bundle rolls back everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Context, Decimal
from typing import Any

from basis_core.backtest.dex import StepMemo
from basis_core.backtest.gas import DEFAULT_GAS_UNITS, GAS_KEY
from basis_core.data.prices import usd_price
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError, HealthFactorError, InstructionError, InsufficientFundsError
from basis_core.onchain.venue import backtest_context
from basis_venue_morpho import math as mm
from basis_venue_morpho.markets import DECIMALS, MarketSpec, build_markets, resolve_market

VENUE = "morpho"
SELF = "self"
WALLET = "ethereum:wallet:"
CTX = Context(prec=120)
_NS = 1_000_000_000
_ZERO = Decimal(0)
#: health factor reported without debt (``type(uint256).max / 1e18``, Aave's convention)
NO_DEBT_HF = Decimal(2**256 - 1).scaleb(-18, CTX)
GAS_UNITS = {"supply": DEFAULT_GAS_UNITS["supply"], "withdraw": DEFAULT_GAS_UNITS["withdraw"],
             "borrow": DEFAULT_GAS_UNITS["borrow"], "repay": DEFAULT_GAS_UNITS["repay"],
             "supply_collateral": 120_000, "withdraw_collateral": 150_000, "liquidate": 350_000}
_EMPTY = mm.Position()
_NOTHING = (0, 0, 0)
#: a ``morpho.markets`` value: (market, anchor row ns, booked (supplied, collateral, debt) base units, this
#: account's position or None)
Stored = tuple[mm.Market, int, tuple[int, int, int], "mm.Position | None"]
_VS, _VA = mm.VIRTUAL_SHARES, mm.VIRTUAL_ASSETS
_LST = frozenset({"wstETH", "weETH"})
_ETH_LIKE = frozenset({"ETH", "WETH", "stETH", "eETH"})
_PRICE_SCALE, _WAD = mm.ORACLE_PRICE_SCALE, mm.WAD
_LST_KEY = {t: "lst:" + t for t in _LST}
_FIELDS = ("total_supply_assets", "total_supply_shares", "total_borrow_assets", "total_borrow_shares", "fee",
           "rate_at_target")


#: (amount, decimals) -> base units of amounts already converted (a backtest repeats its amounts); bounded
_UNITS: dict[tuple[Decimal, int], int] = {}


def to_units(amount: Decimal, decimals: int, field: str = "amount") -> int:
    """Human ``amount`` -> integer base units, exactly; InstructionError(field) beyond the token's decimals."""
    finite = amount.is_finite()
    if finite:
        hit = _UNITS.get((amount, decimals))
        if hit is not None:
            return hit
    scaled = amount.scaleb(decimals, CTX)
    units = int(scaled)
    if units != scaled:
        raise InstructionError(field, f"{amount} has more than {decimals} decimals")
    if finite:
        if len(_UNITS) >= 4096:
            _UNITS.clear()
        _UNITS[(amount, decimals)] = units
    return units


def from_units(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals, CTX)


#: decimals -> (base units -> token units) of amounts already converted (a backtest repeats its sizes, and share
#: rounding repeats its few wei); bounded
_AMOUNTS: dict[int, dict[int, Decimal]] = {}


def amount_of(units: int, decimals: int) -> Decimal:
    """:func:`from_units` (the same Decimal), memoised."""
    memo = _AMOUNTS.get(decimals)
    if memo is None:
        memo = _AMOUNTS[decimals] = {}
    v = memo.get(units)
    if v is None:
        if len(memo) >= 4096:
            memo.clear()
        v = memo[units] = Decimal(units).scaleb(-decimals, CTX)
    return v


def _amounts(decimals: int) -> dict[int, Decimal]:
    memo = _AMOUNTS.get(decimals)
    if memo is None:
        memo = _AMOUNTS[decimals] = {}
    return memo


def revert_error(exc: mm.MorphoRevert, field: str = "amount") -> InstructionError:
    """The typed error of a contract revert."""
    if exc.reason in (mm.INSUFFICIENT_COLLATERAL, mm.HEALTHY_POSITION):
        return HealthFactorError(field, f"Morpho: {exc.reason}")
    return InstructionError(field, f"Morpho: {exc.reason}")


def build_accounts(options: Mapping[str, Any], markets: Mapping[str, MarketSpec]) -> dict[str, tuple[str, int, int]]:
    """The ``accounts`` option: borrower name -> (market alias, collateral units, borrow units)."""
    raw = options.get("accounts") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("venue_config.morpho.accounts: expected a mapping name -> {market, collateral, borrow}")
    out: dict[str, tuple[str, int, int]] = {}
    for name, p in raw.items():
        where = f"venue_config.morpho.accounts.{name}"
        if not isinstance(p, Mapping) or set(p) != {"market", "collateral", "borrow"}:
            raise ConfigError(f"{where}: expected exactly market, collateral, borrow")
        spec = markets.get(str(p["market"]))
        if spec is None:
            raise ConfigError(f"{where}.market: unknown market {p['market']!r}")
        try:
            coll = to_units(Decimal(str(p["collateral"])), DECIMALS[spec.collateral], "collateral")
            debt = to_units(Decimal(str(p["borrow"])), DECIMALS[spec.loan], "borrow")
        except (InstructionError, ArithmeticError) as e:
            raise ConfigError(f"{where}: {e}") from None
        if coll <= 0 or debt < 0:
            raise ConfigError(f"{where}: collateral must be positive, borrow not negative")
        out[str(name)] = (spec.alias, coll, debt)
    return out


class MorphoSim:
    """The backtest backend (one per venue instance); see the module docstring."""

    def __init__(self, venue: Any) -> None:
        self.ledger, self.data, opts = backtest_context(venue)
        self.markets = build_markets(opts)
        self.accounts = build_accounts(opts, self.markets)
        units = dict(GAS_UNITS)
        units.update({str(k): int(v) for k, v in (opts.get("gas_units") or {}).items()})
        self.charge_gas = bool(opts.get("charge_gas", True)) and self.data.has("gas")
        self.liquidations = bool(opts.get("liquidations", True))
        self.memo = StepMemo(self.data, units)
        self.state = self.ledger.table("morpho.markets")
        self.positions = self.ledger.table("morpho.positions")
        self._series: dict[str, Any] = {}
        # the tables' live dicts (read-only by contract; writes go through the tables, which undo-log them)
        self._state_get = self.state.data.get
        #: alias -> the ``morpho.markets`` value known accrued to ``_current_ns`` (identity memo of ``market``)
        self._current: dict[str, Stored] = {}
        self._current_ns = -1
        self._resolved: dict[tuple[str | None, str, str], tuple[MarketSpec, ...]] = {}
        self._dec = {a: (DECIMALS[s.loan], DECIMALS[s.collateral]) for a, s in self.markets.items()}
        #: alias -> (supplied, collateral, debt, wallet loan, wallet collateral) keys
        self._keys = {a: (f"{VENUE}:supplied:{s.loan}", f"{VENUE}:collateral:{s.collateral}", f"{VENUE}:debt:{s.loan}",
                          WALLET + s.loan, WALLET + s.collateral) for a, s in self.markets.items()}
        #: alias -> what booking an operation reads: decimals, keys, the loan and collateral tokens, the memos of
        #: their amounts (:func:`amount_of`'s dicts, created here: only ever cleared, never replaced)
        self._info = {a: (*self._dec[a], *self._keys[a], s.loan, s.collateral, _amounts(self._dec[a][0]),
                          _amounts(self._dec[a][1])) for a, s in self.markets.items()}
        #: the per-step memo (prices are pure functions of the market data at the step's time): its time (ns),
        #: token -> USD price, alias -> oracle price, gas operation -> (-ETH, -USD)
        self._step_ns = -1
        self._usd: dict[str, Decimal] = {}
        self._oracle: dict[str, int] = {}
        self._gas_memo: dict[str, tuple[Decimal, Decimal]] = {}
        #: (series, column) -> (Series, its column) of the as-of reads behind the USD prices, found once
        self._sources: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._eth_oracle: tuple[Any] | None = None  # (the ``oracle:ETH/USD`` series or None,), found once

    # -- market state --------------------------------------------------------------------------------------
    def series(self, spec: MarketSpec) -> Any:
        s = self._series.get(spec.alias)
        if s is None:
            s = self._series[spec.alias] = self.data.series(spec.series)
        return s

    def _anchor(self, spec: MarketSpec, series: Any, i: int, me: mm.Position | None) -> mm.Market:
        """The row's market with every position of this backtest in the market (this account's ``me`` and the
        ``accounts`` option's) added at the row's share prices."""
        c = series.columns
        row = [int(c[f][i]) for f in _FIELDS]
        tsa, tss, tba, tbs, fee, rat = row
        base = mm.Market(tsa, tss, tba, tbs, series.times[i] // _NS, fee or spec.fee, rat)
        alias = spec.alias
        held = [p for (a, _who), p in self.positions.items() if a == alias]
        if me is not None:
            held.insert(0, me)
        for p in held:
            tsa += mm.to_assets_down(p.supply_shares, base.total_supply_assets, base.total_supply_shares)
            tss += p.supply_shares
            tba += mm.to_assets_up(p.borrow_shares, base.total_borrow_assets, base.total_borrow_shares)
            tbs += p.borrow_shares
        return base._replace(total_supply_assets=tsa, total_supply_shares=tss, total_borrow_assets=tba,
                             total_borrow_shares=tbs)

    def market(self, spec: MarketSpec, ts: Any) -> mm.Market:
        """The market accrued to ``ts`` (stored: the contract accrues before every operation)."""
        return self._stored(spec, ts)[0]

    def _stored(self, spec: MarketSpec, ts: Any) -> Stored:
        """The ``morpho.markets`` value with the market accrued to ``ts`` (see :meth:`market`), stored."""
        alias = spec.alias
        stored: Stored | None = self._state_get(alias)
        ts_ns = ts.value
        if ts_ns == self._current_ns:
            if stored is not None and stored is self._current.get(alias):
                return stored  # already current at ts (a pure function of the stored value and the time)
        else:
            self._current_ns = ts_ns
            self._current.clear()
        new = self._advanced(spec, stored, ts_ns)
        if stored is None or stored[0] is not new[0]:
            stored = self.state[alias] = new
        self._current[alias] = stored  # (unchanged: same row, nothing elapsed, no write)
        return stored

    def _advanced(self, spec: MarketSpec, stored: Stored | None, ts_ns: int) -> Stored:
        """The ``morpho.markets`` value at ``ts_ns`` from the ``stored`` one (not written): re-anchored when a later
        row of the series is visible (the accounts option's borrowers opened on the first), accrued to ``ts_ns``;
        ``stored`` itself when nothing changed."""
        series = self._series.get(spec.alias) or self.series(spec)
        i = series.index_at(ts_ns)
        row_ns = series.times[i]
        if stored is None:
            m = self._open_accounts(spec, self._anchor(spec, series, i, None))
            booked, me = _NOTHING, None
        elif stored[1] != row_ns:
            me = stored[3]
            m = self._open_accounts(spec, self._anchor(spec, series, i, me))
            booked = stored[2]
        else:
            m, _, booked, me = stored
        now = ts_ns // _NS
        if now > m.last_update:
            m = mm.accrued_market(m, now)
        elif stored is not None and stored[0] is m:
            return stored
        return m, row_ns, booked, me

    def _mark_current(self, alias: str, stored: Stored, ts_ns: int) -> None:
        """Remember that ``stored`` (the state table's value) is the market accrued to ``ts_ns``."""
        if ts_ns != self._current_ns:
            self._current_ns = ts_ns
            self._current.clear()
        self._current[alias] = stored

    def _open_accounts(self, spec: MarketSpec, m: mm.Market) -> mm.Market:
        """Open the ``accounts`` option's borrowers of this market not opened yet, at market ``m``."""
        for name, (alias, coll, debt) in self.accounts.items():
            if alias != spec.alias or (alias, name) in self.positions:
                continue
            shares = mm.to_shares_up(debt, m.total_borrow_assets, m.total_borrow_shares)
            self.positions[(alias, name)] = mm.Position(0, shares, coll)
            m = m._replace(total_borrow_assets=m.total_borrow_assets + debt,
                           total_borrow_shares=m.total_borrow_shares + shares,
                           total_supply_assets=max(m.total_supply_assets, m.total_borrow_assets + debt))
        return m

    def _step(self, ts_ns: int) -> None:
        """Start the per-step memo of ``ts_ns`` (the dicts are emptied: no reference to them outlives a call)."""
        self._step_ns = ts_ns
        self._usd.clear()
        self._oracle.clear()
        self._gas_memo.clear()

    def price(self, spec: MarketSpec, ts: Any) -> int:
        """IOracle.price() of the market at ``ts`` (see the module docstring); memoised per step."""
        if ts.value != self._step_ns:
            self._step(ts.value)
        px = self._oracle.get(spec.alias)
        if px is None:
            series = self._series.get(spec.alias) or self.series(spec)
            if "oracle_price" in series.columns:
                px = int(series.columns["oracle_price"][series.index_at(ts.value)])
            else:
                loan_dec, coll_dec = self._dec[spec.alias]
                ratio = self.usd(ts, spec.collateral) / self.usd(ts, spec.loan)
                px = int(ratio.scaleb(36 + loan_dec - coll_dec, CTX))
            self._oracle[spec.alias] = px
        return px

    def usd(self, ts: Any, token: str) -> Decimal:
        """The USD price of ``token`` at ``ts`` (:func:`usd_price`'s rules: WETH is ETH, wstETH / weETH are ETH x
        ``lst:<token>.rate``), memoised per step."""
        if ts.value != self._step_ns:
            self._step(ts.value)
        v = self._usd.get(token)
        return self._usd_miss(ts, token) if v is None else v

    def _usd_miss(self, ts: Any, token: str) -> Decimal:
        usd = self._usd
        if token in _LST or token in _ETH_LIKE:
            eth = usd.get("ETH")
            if eth is None:
                eth = usd["ETH"] = self._eth_usd(ts)
            v = eth * self._as_of(ts, _LST_KEY[token], "rate") if token in _LST else eth
        else:
            v = usd_price(self.memo.at(ts).snapshot, token)
        usd[token] = v
        return v

    def _eth_usd(self, ts: Any) -> Decimal:
        """``usd_price(snapshot, "ETH")``: ``oracle:ETH/USD.price`` when the data has it, else ``spot:ETH/USDT``."""
        src = self._eth_oracle
        if src is None:
            src = self._eth_oracle = (self.data.find("oracle:ETH/USD"),)
        if src[0] is not None and src[0].first_ns <= ts.value:  # MarketSnapshot.has: a row at or before ts
            return self._as_of(ts, "oracle:ETH/USD", "price")
        return self._as_of(ts, "spot:ETH/USDT", "close")

    def _as_of(self, ts: Any, name: str, column: str) -> Decimal:
        """``snapshot.get(name, column)`` at ``ts`` (the same value, the same errors), through the series and
        column found once (the provider's series are fixed for a backtest, as :meth:`series` assumes)."""
        src = self._sources.get((name, column))
        if src is None:
            s = self.data.find(name)
            col = None if s is None else s.columns.get(column)
            if col is None:  # the snapshot's own error
                return self.memo.at(ts).snapshot.get(name, column)  # type: ignore[no-any-return]
            src = self._sources[(name, column)] = (s, col)
        s, col = src
        return col[s.index_at(ts.value)]  # type: ignore[no-any-return]

    # -- helpers ----------------------------------------------------------------------------------------
    def position(self, alias: str, who: str = SELF) -> mm.Position:
        """The position of ``who`` (this account by default) in market ``alias`` (empty when none)."""
        if who == SELF:
            stored = self._state_get(alias)
            return (stored[3] if stored is not None else None) or _EMPTY
        return self.positions.data.get((alias, who)) or _EMPTY

    def _own(self) -> list[tuple[str, Stored, mm.Position]]:
        """(alias, ``morpho.markets`` value, position) of each market where this account has a position."""
        return [(a, st, st[3]) for a, st in self.state.data.items() if st[3] is not None]

    def _resolve(self, market: str | None, asset: str, role: str, holding_attr: str | None = None) -> MarketSpec:
        """:func:`resolve_market` (same answers and errors), memoised: the candidate markets of (market, asset,
        role) are found once; when several fit, the one where the account holds ``holding_attr`` is taken."""
        key = (market, asset, role)
        hit = self._resolved.get(key)
        if hit is None:
            try:
                hit = (resolve_market(self.markets, market, asset, role),)
            except InstructionError:
                if market is not None or holding_attr is None:
                    raise
                hit = tuple(s for s in self.markets.values()
                            if (role in ("loan", "either") and s.loan == asset)
                            or (role in ("collateral", "either") and s.collateral == asset))
            self._resolved[key] = hit
        if len(hit) == 1:
            return hit[0]
        if hit and holding_attr is not None:
            get = self._state_get
            held: MarketSpec | None = None
            for s in hit:
                st = get(s.alias)
                q = None if st is None else st[3]
                if q is not None and getattr(q, holding_attr):
                    if held is not None:
                        break  # several: resolve_market says which (or why none)
                    held = s
            else:
                if held is not None:
                    return held
        return resolve_market(self.markets, market, asset, role, self._holding(holding_attr or "collateral"))

    def _holding(self, attr: str) -> dict[str, bool]:
        return {a: bool(getattr(p, attr)) for a, _, p in self._own()}

    @staticmethod
    def _values(alias: str, m: mm.Market, p: mm.Position) -> tuple[int, int, int]:
        """(supplied, collateral, debt) base units: ``supplied_assets``, ``collateral``, ``borrowed_assets``
        (SharesMathLib's ``toAssetsDown`` / ``toAssetsUp``, inlined on this hot path)."""
        tbs = m.total_borrow_shares + mm.VIRTUAL_SHARES
        return ((p.supply_shares * (m.total_supply_assets + mm.VIRTUAL_ASSETS)) // (m.total_supply_shares
                                                                                   + mm.VIRTUAL_SHARES),
                p.collateral, (p.borrow_shares * (m.total_borrow_assets + mm.VIRTUAL_ASSETS) + tbs - 1) // tbs)

    def _gas(self, ts: Any, op: str) -> tuple[dict[str, Decimal], dict[str, Decimal], dict[str, Decimal]]:
        """Gas of ``op`` at ``ts``: (position deltas, fees, pnl), fresh dicts (the negated costs memoised per step)."""
        if not self.charge_gas:
            return {}, {}, {}
        eth, usd = self._gas_neg(ts, op)
        return {GAS_KEY: eth}, {GAS_KEY: eth}, {"gas": usd}

    def _gas_neg(self, ts: Any, op: str) -> tuple[Decimal, Decimal]:
        """(-ETH, -USD) gas of ``op`` at ``ts``, memoised per step."""
        if ts.value != self._step_ns:
            self._step(ts.value)
        neg = self._gas_memo.get(op)
        if neg is None:
            g = self.memo.gas(ts, op)
            neg = self._gas_memo[op] = (-g.eth, -g.usd)
        return neg

    def _check_wallet(self, token: str, units: int, decimals: int) -> None:
        key = WALLET + token
        need = from_units(units, decimals)
        have = self.ledger.balance(key)
        if have < need:
            raise InsufficientFundsError(key, need, have)

    def _book(self, ts: Any, spec: MarketSpec, m: mm.Market, p: mm.Position, op: str, gas_op: str, loan_side: bool,
              units: int, client_id: str | None, details: dict[str, Any], debt: int | None = None) -> ExecutionDeltas:
        """Store the new market / position and return the deltas: the wallet transfer (``units`` signed base units
        of the loan token when ``loan_side``, else of the collateral token), the change of the market's booked
        values, gas; ``details`` are the operation's (the market first). ``debt``: the position's debt in ``m``
        when the operation computed it (``borrowed_assets``)."""
        alias = spec.alias
        loan_dec, coll_dec, ks, kc, kd, wl, wc, loan, coll, loan_amt, coll_amt = self._info[alias]
        stored = self._state_get(alias)
        old = stored[2]
        # (supplied, collateral, debt): SharesMathLib's toAssetsDown / toAssetsUp inlined (see _values)
        tsa, tss, tba, tbs, _, _, _ = m
        ss, bs, coll_now = p
        sup = (ss * (tsa + _VA)) // (tss + _VS)
        if debt is None:
            tbs += _VS
            debt = (bs * (tba + _VA) + tbs - 1) // tbs
        stored = self.state[alias] = (m, stored[1], (sup, coll_now, debt), p)
        ts_ns = ts.value
        if ts_ns == self._current_ns:  # m is the market at ts after the operation (see _mark_current)
            self._current[alias] = stored
        else:
            self._mark_current(alias, stored, ts_ns)
        ds, dc, dd = sup - old[0], coll_now - old[1], debt - old[2]
        # the wallet transfer, then the booked keys that moved, then gas (the keys' order is the deltas')
        if loan_side:
            pos: dict[str, Decimal] = {wl: loan_amt.get(units) or amount_of(units, loan_dec)} if units else {}
            loan_units, coll_units = units + ds - dd, dc
        else:
            pos = {wc: coll_amt.get(units) or amount_of(units, coll_dec)} if units else {}
            loan_units, coll_units = ds - dd, units + dc
        if ds:
            pos[ks] = loan_amt.get(ds) or amount_of(ds, loan_dec)
        if dc:
            pos[kc] = coll_amt.get(dc) or amount_of(dc, coll_dec)
        if dd:
            pos[kd] = loan_amt.get(dd) or amount_of(dd, loan_dec)
        if ts_ns != self._step_ns:
            self._step(ts_ns)
        gf: dict[str, Decimal]
        pnl: dict[str, Decimal]
        if self.charge_gas:
            eth, usd = self._gas_memo.get(gas_op) or self._gas_neg(ts, gas_op)
            gf = {GAS_KEY: eth}
            pnl = {"gas": usd}
            pos[GAS_KEY] = pos[GAS_KEY] + eth if GAS_KEY in pos else eth
        else:
            gf = {}
            pnl = {}
        # rounding of shares (a few wei): what the account's value moved beyond the transfers, in USD
        if loan_units or coll_units:
            rounding = _ZERO
            if loan_units:
                rounding += (loan_amt.get(loan_units) or amount_of(loan_units, loan_dec)) * (
                    self._usd.get(loan) or self.usd(ts, loan))
            if coll_units:
                rounding += (coll_amt.get(coll_units) or amount_of(coll_units, coll_dec)) * (
                    self._usd.get(coll) or self.usd(ts, coll))
            if rounding:
                pnl["trading_fees"] = rounding
        return ExecutionDeltas(VENUE, op, ts, pos, gf, "filled", client_id, None, None, details.get("amount"), pnl,
                               details)

    # -- operations -------------------------------------------------------------------------------------
    def supply(self, ts: Any, ins: Any) -> ExecutionDeltas:
        hit = self._resolved.get((ins.market, ins.asset, "either"))  # _resolve's memo, its one-market answer inline
        spec = hit[0] if hit is not None and len(hit) == 1 else self._resolve(ins.market, ins.asset, "either")
        alias = spec.alias
        m, _, _, p = self._stored(spec, ts)
        p = p or _EMPTY
        loan = ins.asset == spec.loan
        units = to_units(ins.amount, DECIMALS[ins.asset])
        key = self._keys[alias][3 if loan else 4]
        if self.ledger.balance(key) < ins.amount:  # the wallet pays it (the amount is exactly ``units``)
            self._check_wallet(ins.asset, units, DECIMALS[ins.asset])
        try:
            if loan:
                m, p, assets, shares = mm.supply(m, p, units, 0)
                return self._book(ts, spec, m, p, "supply", "supply", True, -assets, ins.client_id,
                                  {"market": alias, "side": "lend", "assets": assets, "shares": shares,
                                   "amount": ins.amount})
            p = mm.supply_collateral(p, units)
        except mm.MorphoRevert as e:
            raise revert_error(e) from None
        return self._book(ts, spec, m, p, "supply", "supply_collateral", False, -units, ins.client_id,
                          {"market": alias, "side": "collateral", "assets": units, "amount": ins.amount})

    def withdraw(self, ts: Any, ins: Any) -> ExecutionDeltas:
        is_coll = any(sp.collateral == ins.asset for sp in self.markets.values())
        spec = resolve_market(self.markets, ins.market, ins.asset, "collateral" if is_coll else "loan",
                              self._holding("collateral" if is_coll else "supply_shares"))
        if ins.market is not None:
            spec = resolve_market(self.markets, ins.market, ins.asset, "either")
        alias = spec.alias
        m = self.market(spec, ts)
        p = self.position(alias)
        try:
            if ins.asset == spec.loan:
                if ins.amount == "max":
                    if p.supply_shares == 0:
                        raise InstructionError("amount", f"nothing supplied to {alias}")
                    m, p, assets, shares = mm.withdraw(m, p, 0, p.supply_shares)
                else:
                    units = to_units(ins.amount, DECIMALS[spec.loan])
                    have = mm.supplied_assets(m, p)
                    if units > have:
                        raise InsufficientFundsError(self._keys[alias][0], ins.amount,
                                                     from_units(have, DECIMALS[spec.loan]))
                    m, p, assets, shares = mm.withdraw(m, p, units, 0)
                return self._book(ts, spec, m, p, "withdraw", "withdraw", True, assets, ins.client_id,
                                  {"market": alias, "side": "lend", "assets": assets, "shares": shares,
                                   "amount": from_units(assets, DECIMALS[spec.loan])})
            units = p.collateral if ins.amount == "max" else to_units(ins.amount, DECIMALS[spec.collateral])
            if units > p.collateral:
                raise InsufficientFundsError(self._keys[alias][1], ins.amount,
                                             from_units(p.collateral, DECIMALS[spec.collateral]))
            if units == 0:
                raise InstructionError("amount", f"no {spec.collateral} collateral in {alias}")
            p = mm.withdraw_collateral(m, p, units, self.price(spec, ts), spec.lltv)
        except mm.MorphoRevert as e:
            raise revert_error(e) from None
        return self._book(ts, spec, m, p, "withdraw", "withdraw_collateral", False, units, ins.client_id,
                          {"market": alias, "side": "collateral", "assets": units,
                           "amount": from_units(units, DECIMALS[spec.collateral])})

    def borrow(self, ts: Any, ins: Any) -> ExecutionDeltas:
        hit = self._resolved.get((ins.market, ins.asset, "loan"))  # _resolve's memo, its one-market answer inline
        spec = hit[0] if hit is not None and len(hit) == 1 else self._resolve(ins.market, ins.asset, "loan",
                                                                              "collateral")
        m, _, _, p = self._stored(spec, ts)
        p = p or _EMPTY
        units = to_units(ins.amount, DECIMALS[spec.loan])
        try:
            m, p, assets, shares, debt = mm.borrow_and_debt(m, p, units, 0, self.price(spec, ts), spec.lltv)
        except mm.MorphoRevert as e:
            raise revert_error(e) from None
        return self._book(ts, spec, m, p, "borrow", "borrow", True, assets, ins.client_id,
                          {"market": spec.alias, "assets": assets, "shares": shares, "amount": ins.amount}, debt)

    def repay(self, ts: Any, ins: Any) -> ExecutionDeltas:
        spec = self._resolve(ins.market, ins.asset, "loan", "borrow_shares")
        m = self.market(spec, ts)
        p = self.position(spec.alias)
        if p.borrow_shares == 0:
            raise InstructionError("amount", f"no {spec.loan} debt in {spec.alias}")
        debt = mm.borrowed_assets(m, p)
        try:
            if ins.amount == "max" or to_units(ins.amount, DECIMALS[spec.loan]) >= debt:
                # all the shares (what a repay of at least the debt means; the contract would underflow)
                need = mm.to_assets_up(p.borrow_shares, m.total_borrow_assets, m.total_borrow_shares)
                self._check_wallet(spec.loan, need, DECIMALS[spec.loan])
                m, p, assets, shares = mm.repay(m, p, 0, p.borrow_shares)
            else:
                units = to_units(ins.amount, DECIMALS[spec.loan])
                self._check_wallet(spec.loan, units, DECIMALS[spec.loan])
                m, p, assets, shares = mm.repay(m, p, units, 0)
        except mm.MorphoRevert as e:
            raise revert_error(e) from None
        return self._book(ts, spec, m, p, "repay", "repay", True, -assets, ins.client_id,
                          {"market": spec.alias, "assets": assets, "shares": shares,
                           "amount": from_units(assets, DECIMALS[spec.loan])})

    def liquidate(self, ts: Any, ins: Any) -> ExecutionDeltas:
        spec = self.markets.get(ins.market)
        if spec is None:
            raise InstructionError("market", f"unknown Morpho market {ins.market!r}; known: {', '.join(self.markets)}")
        m = self.market(spec, ts)
        key = (spec.alias, ins.borrower)
        bp = self.positions.get(key)
        if bp is None or ins.borrower == SELF:
            raise InstructionError("borrower", f"no borrower {ins.borrower!r} in {spec.alias}")
        if bp.borrow_shares == 0:
            raise InstructionError("borrower", f"{ins.borrower!r} has no debt in {spec.alias}")
        price = self.price(spec, ts)
        loan_dec, coll_dec = self._dec[spec.alias]
        try:
            liq = self._liquidation(m, bp, price, spec.lltv, ins.amount, loan_dec)
        except mm.MorphoRevert as e:
            raise revert_error(e, "borrower") from None
        self._check_wallet(spec.loan, liq.repaid_assets, loan_dec)
        self.positions[key] = liq.borrower
        st = self.state[spec.alias]
        self.state[spec.alias] = (liq.market, st[1], st[2], st[3])
        # the market moved (bad debt lowers supply assets): our own booked values follow at the next accrual
        pos = {WALLET + spec.loan: -from_units(liq.repaid_assets, loan_dec),
               WALLET + spec.collateral: from_units(liq.seized_assets, coll_dec)}
        gp, gf, gpnl = self._gas(ts, "liquidate")
        for k, v in gp.items():
            pos[k] = pos.get(k, _ZERO) + v
        pnl = {**gpnl, "liquidation": from_units(liq.seized_assets, coll_dec) * self.usd(ts, spec.collateral)
               - from_units(liq.repaid_assets, loan_dec) * self.usd(ts, spec.loan)}
        return ExecutionDeltas(VENUE, "liquidate", ts, pos, gf, "liquidated", ins.client_id,
                               fill_amount=from_units(liq.repaid_assets, loan_dec), pnl=pnl,
                               details={"market": spec.alias, "borrower": ins.borrower,
                                        "seized_assets": liq.seized_assets, "repaid_assets": liq.repaid_assets,
                                        "repaid_shares": liq.repaid_shares, "bad_debt_assets": liq.bad_debt_assets})

    @staticmethod
    def _liquidation(m: mm.Market, p: mm.Position, price: int, lltv: int, amount: Any, loan_dec: int
                     ) -> mm.Liquidation:
        """``liquidate`` of ``amount`` of debt ("max": all the shares, or all the collateral when it covers less)."""
        if amount == "max":
            shares = p.borrow_shares
        else:
            units = to_units(amount, loan_dec)
            shares = min(p.borrow_shares, mm.to_shares_down(units, m.total_borrow_assets, m.total_borrow_shares))
            if shares == 0:
                raise InstructionError("amount", "repays less than one borrow share")
        seized = mm.mul_div_down(mm.w_mul_down(mm.to_assets_down(shares, m.total_borrow_assets, m.total_borrow_shares),
                                               mm.liquidation_incentive_factor(lltv)), mm.ORACLE_PRICE_SCALE, price)
        if seized > p.collateral:
            return mm.liquidate(m, p, p.collateral, 0, price, lltv)
        return mm.liquidate(m, p, 0, shares, price, lltv)

    # -- time ----------------------------------------------------------------------------------------------
    def accrue(self, previous: Any, ts: Any) -> list[ExecutionDeltas]:
        """Interest on this account's positions over (previous, ts], then liquidation of unhealthy ones."""
        out: list[ExecutionDeltas] = []
        ts_ns = ts.value
        if ts_ns != self._current_ns:
            self._current_ns = ts_ns
            self._current.clear()
        current = self._current
        stored: Stored
        for alias, stored in list(self.state.data.items()):  # (the markets where this account has a position)
            p = stored[3]
            if p is None:
                continue
            ss, bs, coll = p
            if ss == 0 and bs == 0:
                continue
            spec = self.markets[alias]
            # the market at ts (as ``market``), written once with what this step books
            m, row_ns, old, _p = stored if stored is current.get(alias) else self._advanced(spec, stored, ts_ns)
            # (supplied, debt) as _values computes them (SharesMathLib inlined on this per-step path)
            tsa, tss, tba, tbs, _, _, _ = m
            tbs += _VS
            sup = (ss * (tsa + _VA)) // (tss + _VS)
            debt = (bs * (tba + _VA) + tbs - 1) // tbs
            ds, dd = sup - old[0], debt - old[2]
            if ds or dd:
                loan_dec, _, ks, _, kd, _, _, loan, _, _, _ = self._info[alias]
                px = self.usd(ts, loan)
                pos: dict[str, Decimal] = {}
                pnl: dict[str, Decimal] = {}
                if ds:
                    d = Decimal(ds).scaleb(-loan_dec, CTX)
                    pos[ks] = d
                    pnl["lending_interest"] = d * px
                if dd:
                    d = Decimal(dd).scaleb(-loan_dec, CTX)
                    pos[kd] = d
                    pnl["borrow_interest"] = -d * px
                stored = self.state[alias] = (m, row_ns, (sup, coll, debt), p)
                out.append(ExecutionDeltas(VENUE, "accrue", ts, pos, {}, "accrued", None, None, None, None, pnl,
                                           {"market": alias}))
            elif stored[0] is not m:
                stored = self.state[alias] = (m, row_ns, old, p)
            current[alias] = stored
            if bs and self.liquidations:
                price = self.price(spec, ts)
                # _isHealthy: maxBorrow >= toAssetsUp(borrowShares), the debt above (MathLib inlined)
                if (coll * price) // _PRICE_SCALE * spec.lltv // _WAD < debt:
                    out.append(self._liquidate_self(ts, spec, m, p, price))
        return out

    def _liquidate_self(self, ts: Any, spec: MarketSpec, m: mm.Market, p: mm.Position, price: int) -> ExecutionDeltas:
        liq = self._liquidation(m, p, price, spec.lltv, "max", self._dec[spec.alias][0])
        alias = spec.alias
        loan_dec, coll_dec = self._dec[alias]
        st = self.state[alias]
        old = st[2]
        new = self._values(alias, liq.market, liq.borrower)
        self.state[alias] = (liq.market, st[1], new, liq.borrower)
        ks, kc, kd = self._keys[alias][:3]
        pos = {k: from_units(b - a, dec) for k, a, b, dec in ((ks, old[0], new[0], loan_dec),
                                                              (kc, old[1], new[1], coll_dec),
                                                              (kd, old[2], new[2], loan_dec)) if a != b}
        value = sum((v * self.usd(ts, spec.collateral if k == kc else spec.loan) * (-1 if k == kd else 1)
                     for k, v in pos.items()), _ZERO)
        return ExecutionDeltas(VENUE, "liquidation", ts, pos, status="liquidated", pnl={"liquidation": value},
                               details={"market": alias, "seized_assets": liq.seized_assets,
                                        "repaid_assets": liq.repaid_assets, "bad_debt_assets": liq.bad_debt_assets})

    # -- queries --------------------------------------------------------------------------------------------
    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        lowest: Decimal | None = None
        for alias, _, p in self._own():
            spec = self.markets[alias]
            hf = position_balances(out, spec, self._peek(spec, ts), p, self.price(spec, ts))
            if hf is not None:
                lowest = hf if lowest is None else min(lowest, hf)
        out[f"{VENUE}:metric:health_factor"] = NO_DEBT_HF if lowest is None else lowest
        return out

    def risk_state(self, ts: Any, shock: Any) -> list[Any] | None:
        """Each market this account borrows in, under a :class:`basis_core.risk.Shock`: ``_isHealthy``'s max borrow
        (collateral x oracle price x LLTV, rounded as the contract does) over the debt, with the oracle price moved
        by the collateral's factor over the loan's and the debt grown by the shock's borrow rate. Isolated markets:
        one leg per market (``morpho:<alias>``)."""
        from basis_core.risk import NO_SHOCK

        shock = shock or NO_SHOCK
        out = []
        for alias, _, p in self._own():
            if not p.borrow_shares:
                continue
            spec = self.markets[alias]
            loan_dec, coll_dec = self._dec[alias]
            leg = market_risk(spec, self._peek(spec, ts), p, self.price(spec, ts), loan_dec, coll_dec, shock)
            if leg is not None:
                out.append(leg)
        return out or None

    def _peek(self, spec: MarketSpec, ts: Any) -> mm.Market:
        """The market accrued to ``ts`` without storing it (a query changes nothing)."""
        stored = self.state.get(spec.alias)
        series = self.series(spec)
        i = series.index_at(ts.value)
        if stored is not None and stored[1] == series.times[i]:
            m = stored[0]
        else:
            m = self._anchor(spec, series, i, None if stored is None else stored[3])
        now = ts.value // _NS
        return mm.accrued_market(m, now) if now > m.last_update else m


def market_risk(spec: MarketSpec, m: mm.Market, p: mm.Position, price: int, loan_dec: int, coll_dec: int,
                shock: Any) -> Any:
    """One borrowing market's :class:`basis_core.risk.LegRisk` under ``shock`` (None without debt): ``_isHealthy``'s
    max borrow (collateral x oracle price x LLTV, the contract's rounding) over the debt, the oracle ``price``
    (1e36 scale) moved by the collateral's factor over the loan's, the debt grown by the shock's borrow rate.
    Shared by the backtest and the live backend (same numbers from the same market state)."""
    from basis_core.risk import LegRisk

    debt = mm.borrowed_assets(m, p)
    if debt == 0:
        return None
    factor = shock.price_factor(spec.collateral) / shock.price_factor(spec.loan)
    price = int(Decimal(price) * factor)
    debt = int(Decimal(debt) * shock.debt_growth(spec.loan))
    hf = from_units(mm.w_div_down(mm.max_borrow(p, price, spec.lltv), debt), 18)
    alias = spec.alias
    return LegRisk(VENUE, f"{VENUE}:{alias}", "lending", hf,
                   {f"oracle:{alias}": Decimal(price).scaleb(-(36 + loan_dec - coll_dec), CTX)},
                   {"debt": from_units(debt, loan_dec), "collateral": from_units(p.collateral, coll_dec)})


def position_balances(out: dict[str, Decimal], spec: MarketSpec, m: mm.Market, p: mm.Position, price: int,
                      decimals: Mapping[str, int] = DECIMALS) -> Decimal | None:
    """Add one market position's keys to ``out`` (supplied / collateral / debt summed over markets; the market's
    metrics ``health_factor``, ``ltv``, ``borrow_apr``, ``utilization``); its health factor (None without debt).
    Shared by the backtest and the live backend (same numbers from the same market state)."""
    alias = spec.alias
    loan_dec, coll_dec = decimals[spec.loan], decimals[spec.collateral]
    s, c, d = mm.supplied_assets(m, p), p.collateral, mm.borrowed_assets(m, p)
    for key, units, dec in ((f"{VENUE}:supplied:{spec.loan}", s, loan_dec),
                            (f"{VENUE}:collateral:{spec.collateral}", c, coll_dec),
                            (f"{VENUE}:debt:{spec.loan}", d, loan_dec)):
        out[key] = out.get(key, _ZERO) + from_units(units, dec)
    hf = mm.health_factor(m, p, price, spec.lltv)
    out[f"{VENUE}:metric:health_factor:{alias}"] = NO_DEBT_HF if hf is None else from_units(hf, 18)
    coll_value = mm.mul_div_down(c, price, mm.ORACLE_PRICE_SCALE)
    out[f"{VENUE}:metric:ltv:{alias}"] = from_units(mm.w_div_down(d, coll_value), 18) if coll_value else _ZERO
    rate, _ = mm.adaptive_curve_borrow_rate(m.rate_at_target, m.total_supply_assets, m.total_borrow_assets, 0)
    out[f"{VENUE}:metric:borrow_apr:{alias}"] = from_units(rate * mm.SECONDS_PER_YEAR, 18)
    out[f"{VENUE}:metric:utilization:{alias}"] = from_units(
        mm.utilization(m.total_borrow_assets, m.total_supply_assets), 18)
    return None if hf is None else from_units(hf, 18)
