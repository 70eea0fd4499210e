"""Leveraged staking loop: wstETH supplied to Aave, WETH borrowed against it and staked again, in one
atomic flash-loan bundle, held at a target LTV with a de-leverage rule.

Lever up (one atomic bundle): flash-borrow ``F`` WETH, turn it into wstETH (``acquire_via``: stake with
Lido, or swap on a DEX), supply the wstETH, borrow ``F + premium`` WETH on Aave; the flash loan is
repaid from that borrow. ``F`` is chosen so that debt / collateral reaches ``target_ltv``.
De-leverage (one atomic bundle): flash-borrow WETH, repay debt, withdraw wstETH, swap it to WETH on
the DEX, repay the flash loan. It runs when the LTV exceeds ``max_ltv`` (back to ``target_ltv``) and
when the WETH borrow rate exceeds the staking yield plus ``min_spread`` (then down to ``unwind_ltv``).
Every bundle must leave the health factor above ``min_health_factor``. Public manager API only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from basis_core.backtest.strategies.base import Leg, LendingBook, Strategy, StrategyParams, log, round_down
from basis_core.backtest.strategies.hedge import PerpHedge
from basis_core.data.prices import usd_price
from basis_core.errors import BasisError

_DAY_NS = 86_400 * 10**9
#: share of the staked amount not supplied inside the bundle (wei rounding of the LST received)
LIDO_BUFFER = Decimal("0.0001")


class LeveragedStakingLoopParams(StrategyParams):
    """Parameters of ``leveraged_staking_loop`` (LTV = debt value / collateral value)."""

    eth_amount: Decimal | None = Field(None, gt=0, description="own ETH (or WETH) to start with (default: the "
                                                               "wallet's)")
    start_asset: Literal["ETH", "WETH"] = Field("ETH", description="own capital: ETH (staked with Lido) or WETH "
                                                                  "(turned into wstETH like the loop: acquire_via)")
    keep_eth: Decimal = Field(Decimal("0.05"), ge=0, description="ETH left in the wallet for gas")
    lido_venue: str = Field("lido", description="staking venue")
    aave_venue: str = Field("aave", description="lending / flash-loan venue")
    acquire_via: str = Field("lido", pattern="^(lido|swap)$", description="WETH -> wstETH: 'lido' stake or 'swap'")
    swap_venue: str | None = Field(None, description="DEX for wstETH <-> WETH (default: uniswap, else curve)")
    swap_pool: str | None = Field(None, description="pool id on the DEX (default: the venue's route; the "
                                                    "DEX needs a wstETH / WETH pool, e.g. in venue_config)")
    max_slippage_bps: Decimal = Field(Decimal(50), ge=0, le=10_000, description="slippage limit of swaps")
    e_mode_category: int | None = Field(1, ge=0, le=255, description="Aave e-mode (1 = ETH-correlated)")
    target_ltv: Decimal = Field(Decimal("0.80"), gt=0, lt=1, description="LTV to lever up to")
    max_ltv: Decimal = Field(Decimal("0.86"), gt=0, lt=1, description="de-leverage to target above this LTV")
    unwind_ltv: Decimal = Field(Decimal("0.0"), ge=0, lt=1,
                                description="LTV to go down to when borrowing costs more than staking earns")
    min_spread: Decimal | None = Field(None, description="unwind when the trailing staking APR minus the WETH "
                                                         "borrow APR falls below this (decimal; null: no such rule)")
    relever_margin: Decimal = Field(Decimal("0.005"), ge=0, description="re-lever after an unwind once the spread "
                                                                       "is back above min_spread + this")
    yield_lookback_days: int = Field(30, ge=1, description="window of the trailing staking APR (the spread rule "
                                                          "waits until this much history exists)")
    hedge_venue: str | None = Field(None, description="perp venue to short the loop's net ETH exposure "
                                                      "(null: unhedged, long ETH)")
    hedge_symbol: str | None = Field(None, description="perp symbol (default: the venue's ETH perp)")
    hedge_band: Decimal = Field(Decimal("0.02"), gt=0, description="re-size the hedge beyond this relative drift")
    min_margin_ratio: Decimal = Field(Decimal("0.15"), gt=0, description="cut the hedge below this collateral ratio")
    min_health_factor: Decimal = Field(Decimal("1.05"), gt=1, description="post-condition of every bundle")
    check_every: int = Field(24, ge=1, description="check the rules every N steps")
    max_failures: int = Field(3, ge=1, description="stop after this many failed bundles in a row (noted)")
    amount_decimals: int = Field(6, ge=0, le=18, description="amounts are rounded down to this many decimals")

    @model_validator(mode="after")
    def _check(self) -> LeveragedStakingLoopParams:
        if self.max_ltv <= self.target_ltv:
            raise ValueError("max_ltv: must be above target_ltv")
        if self.unwind_ltv > self.target_ltv:
            raise ValueError("unwind_ltv: must not exceed target_ltv")
        return self


class LeveragedStakingLoop(Strategy):
    """wstETH / WETH loop on Aave via atomic flash-loan bundles."""

    name = "leveraged_staking_loop"
    Params = LeveragedStakingLoopParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.swap_venue: str | None = None
        self.hedge: PerpHedge | None = None
        self.book: LendingBook | None = None
        self.unwound = False
        self.bundles = 0
        self.failures = 0
        self.stopped = False
        self._n = 0

    def prepare(self, manager: Any) -> str | None:
        p: LeveragedStakingLoopParams = self.params
        have = self.installed(manager)
        if p.hedge_venue is not None:
            reason = self.missing_ops(manager, {p.hedge_venue: {"perp_trade"}})
            if reason:
                return reason
            self.hedge = PerpHedge(self, p.hedge_venue, p.hedge_symbol, max_failures=p.max_failures)
        swap = p.swap_venue or next((v for v in ("uniswap", "curve") if "swap" in have.get(v, set())), None)
        if swap is None:
            return "no DEX installed to swap wstETH back to WETH for de-leveraging (uniswap or curve)"
        needs: dict[str, set[str]] = {p.aave_venue: {"supply", "borrow", "repay", "withdraw"}, swap: {"swap"}}
        if p.acquire_via == "lido" or p.start_asset == "ETH":
            needs.setdefault(p.lido_venue, set()).add("stake")
        reason = self.missing_ops(manager, needs)
        if reason:
            return reason
        if manager.venue(p.aave_venue).venue_info().flash_loan_premium is None:
            return f"venue {p.aave_venue!r} offers no flash loans"
        self.swap_venue = swap
        self.book = LendingBook(p.aave_venue)
        return None

    def required_legs(self, manager: Any) -> list[Leg]:
        """The own capital's conversion (Lido stake or the DEX), Aave (supply / borrow / repay / withdraw, both
        reserves), the DEX for de-leveraging, and the hedge when there is one."""
        p: LeveragedStakingLoopParams = self.params
        own = {f"ethereum:wallet:{p.start_asset}": p.eth_amount} if p.eth_amount is not None else {}
        out: list[Leg] = []
        if p.start_asset == "ETH" or p.acquire_via == "lido":
            out.append(Leg(p.lido_venue, ("stake",), None, ("lst:wstETH.rate",), own))
            own = {}
        out.append(Leg(p.aave_venue, ("supply", "borrow", "repay", "withdraw"), None,
                       ("aave:wstETH.liquidity_index", "aave:WETH.variable_borrow_index"), own))
        if self.swap_venue is not None:
            out.append(Leg(self.swap_venue, ("swap",)))
        if self.hedge is not None:
            out.append(Leg(self.hedge.venue, ("perp_trade",), self.hedge.symbol,
                           (f"perp:{self.hedge.venue}:{self.hedge.symbol}",)))
        return out

    # -- book ------------------------------------------------------------------------------------------
    def _book(self, manager: Any, ts: Any) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(own wstETH supplied, own WETH debt, wstETH price, WETH price); own = what this strategy
        supplied / borrowed, with interest (the Aave account may be shared with other strategies)."""
        book = self.book
        assert book is not None
        snap = self.market(manager, ts)
        coll = book.amount(manager, ts, "supplied", "wstETH")
        debt = book.amount(manager, ts, "debt", "WETH")
        return coll, debt, usd_price(snap, "wstETH"), usd_price(snap, "WETH")

    def _execute(self, manager: Any, ts: Any, instruction: dict[str, Any]) -> Any:
        d = self.try_execute(manager, ts, instruction)
        if d is not None and self.book is not None:
            self.book.record(manager, ts, d.positions)
        return d

    def ltv(self, manager: Any, ts: Any) -> Decimal:
        coll, debt, pc, pd_ = self._book(manager, ts)
        return debt * pd_ / (coll * pc) if coll > 0 else Decimal(0)

    def _premium(self, manager: Any) -> Decimal:
        return manager.venue(self.params.aave_venue).venue_info().flash_loan_premium  # type: ignore[no-any-return]

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self, manager: Any, ts: Any) -> None:
        p: LeveragedStakingLoopParams = self.params
        try:  # the DEX must be able to swap wstETH back to WETH, or de-leveraging would be impossible
            manager.quote(ts, self._swap("wstETH", "WETH", Decimal("0.01")))
        except BasisError as exc:
            self.stopped = True
            self.notes.append(f"not started: {self.swap_venue} cannot swap wstETH -> WETH ({exc}); configure a "
                              "wstETH / WETH pool (venue_config) or set swap_venue / swap_pool")
            log.warning("%s: %s", self.name, self.notes[-1])
            return
        amount = p.eth_amount
        if amount is None:
            wallet = manager.get_balances(ts, p.aave_venue).get(f"ethereum:wallet:{p.start_asset}", Decimal(0))
            amount = wallet - (p.keep_eth if p.start_asset == "ETH" else 0)
        amount = round_down(amount, 18)
        if amount <= 0:
            return
        if p.start_asset == "ETH" or p.acquire_via == "lido":
            instr: dict[str, Any] = {"venue": p.lido_venue, "operation": "stake", "asset": p.start_asset,
                                     "amount": str(amount), "receive": "wstETH"}
        else:
            instr = self._swap("WETH", "wstETH", amount)
        d = self.try_execute(manager, ts, instr)
        if d is None:
            self.stopped = True
            self.notes.append(f"not started: turning the own {p.start_asset} into wstETH failed at {ts.isoformat()}")
            return
        got = round_down(sum((v for k, v in d.positions.items() if k.endswith(":wstETH") and v > 0), Decimal(0)), 18)
        supply: dict[str, Any] = {"venue": p.aave_venue, "operation": "supply", "asset": "wstETH", "amount": str(got)}
        if p.e_mode_category is not None:
            supply["e_mode_category"] = p.e_mode_category
        if self._execute(manager, ts, supply) is None:
            return
        self._lever_to(manager, ts, p.target_ltv)
        if self.hedge is not None and self.hedge.trade(manager, ts, -self.net_eth(manager, ts)) is None:
            self.hedge = None
            self.notes.append(f"the hedge could not be opened at {ts.isoformat()}; the loop runs unhedged")

    def step(self, manager: Any, ts: Any) -> None:
        p: LeveragedStakingLoopParams = self.params
        self._n += 1
        if self.stopped:
            return
        hedge = self.hedge
        if hedge is not None and hedge.qty:
            note = hedge.derisk(manager, ts, p.min_margin_ratio)  # every step: collateral can go fast
            if note is not None:
                self.notes.append(note)
        if (self._n - 1) % p.check_every:
            return
        self._rules(manager, ts)
        if hedge is not None:
            target = hedge.capped(manager, ts, -self.net_eth(manager, ts), p.min_margin_ratio)
            hedge.resize(manager, ts, target, p.hedge_band)
            if hedge.failed_too_often:
                self.hedge = None
                self.notes.append(f"hedge given up at {ts.isoformat()} after {hedge.failures} failed trades in a row "
                                  f"(position left: {hedge.qty})")

    def _rules(self, manager: Any, ts: Any) -> None:
        p: LeveragedStakingLoopParams = self.params
        ltv = self.ltv(manager, ts)
        spread = self._spread(manager, ts) if p.min_spread is not None else None
        if spread is not None and p.min_spread is not None:
            if spread < p.min_spread:
                if ltv > p.unwind_ltv + Decimal("0.01"):
                    self._delever_to(manager, ts, p.unwind_ltv)
                    self.unwound = True
                return
            if self.unwound and spread >= p.min_spread + p.relever_margin:
                self.unwound = False
                self._lever_to(manager, ts, p.target_ltv)
                return
        if ltv > p.max_ltv:
            self._delever_to(manager, ts, p.target_ltv)

    def net_eth(self, manager: Any, ts: Any) -> Decimal:
        """The loop's ETH exposure: wstETH supplied x rate - WETH debt (ETH units)."""
        coll, debt, pc, pw = self._book(manager, ts)
        return (coll * pc - debt * pw) / pw

    def _spread(self, manager: Any, ts: Any) -> Decimal | None:
        """Trailing staking APR (wstETH rate growth) minus the current WETH variable borrow APR."""
        p: LeveragedStakingLoopParams = self.params
        data = manager.data_provider
        snap = data.get_data(ts)
        try:
            series = data.series("lst:wstETH")
            then_ns = snap.ts_ns - p.yield_lookback_days * _DAY_NS
            if then_ns < series.first_ns:
                return None  # not enough history yet
            days = Decimal(p.yield_lookback_days)
            now = series.value("rate", snap.ts_ns)
            then = series.value("rate", then_ns)
            borrow = snap.get("aave:WETH", "variable_borrow_rate")
        except BasisError:
            return None
        staking = (now / then - 1) * Decimal(365) / days
        return staking - borrow  # type: ignore[no-any-return]

    # -- bundles ------------------------------------------------------------------------------------------
    def _lever_to(self, manager: Any, ts: Any, ltv: Decimal) -> None:
        p: LeveragedStakingLoopParams = self.params
        coll, debt, pc, pw = self._book(manager, ts)
        prem = self._premium(manager)
        # the bundle supplies a conservative estimate of the wstETH received (its steps' amounts are fixed
        # in advance): s = 1 - buffer; the rest is swept into Aave right after the bundle
        buffer = LIDO_BUFFER if p.acquire_via == "lido" else p.max_slippage_bps / 10_000
        s = 1 - buffer
        # after: (debt + F(1+prem)) pw = ltv (coll pc + F pw s)
        f = (ltv * coll * pc - debt * pw) / (pw * (1 + prem) - ltv * pw * s)
        f = round_down(f, p.amount_decimals)
        if f <= 0:
            return
        acquire: dict[str, Any]
        if p.acquire_via == "lido":
            acquire = {"venue": p.lido_venue, "operation": "stake", "asset": "WETH", "amount": str(f),
                       "receive": "wstETH"}
        else:
            acquire = self._swap("WETH", "wstETH", f)
        wst = round_down(f * pw / pc * s, p.amount_decimals)
        supply: dict[str, Any] = {"venue": p.aave_venue, "operation": "supply", "asset": "wstETH", "amount": str(wst)}
        borrow: dict[str, Any] = {"venue": p.aave_venue, "operation": "borrow", "asset": "WETH",
                                  "amount": str(f + f * prem)}
        if p.e_mode_category is not None:
            borrow["e_mode_category"] = p.e_mode_category
        d = self._bundle(manager, ts, f, [acquire, supply, borrow])
        if d is not None:
            left = round_down(d.positions.get("ethereum:wallet:wstETH", Decimal(0)), 18)
            if left > 0:
                self._execute(manager, ts, {"venue": p.aave_venue, "operation": "supply", "asset": "wstETH",
                                            "amount": str(left)})

    def _delever_to(self, manager: Any, ts: Any, ltv: Decimal) -> None:
        p: LeveragedStakingLoopParams = self.params
        coll, debt, pc, pw = self._book(manager, ts)
        if debt <= 0:
            return
        account = manager.get_balances(ts, p.aave_venue)
        account_debt = account.get(f"{p.aave_venue}:debt:WETH", Decimal(0))
        account_coll = account.get(f"{p.aave_venue}:supplied:wstETH", Decimal(0))
        only_ours = account_debt <= debt * Decimal("1.001")  # nobody else borrows WETH on this account
        prem = self._premium(manager)
        slip = 1 - p.max_slippage_bps / 10_000
        # repay R WETH, withdraw W wstETH worth R(1+prem)/slip WETH; (debt - R) pw = ltv (coll pc - W pc)
        k = (1 + prem) / slip
        step = Decimal(1).scaleb(-p.amount_decimals)
        full = ltv == 0
        if full:  # repay everything: flash-borrow the debt rounded up to the amount step
            owed = account_debt if only_ours else min(debt, account_debt)
            r = round_down(owed, p.amount_decimals)
            r = r if r == owed else r + step
        else:
            r = (debt * pw - ltv * coll * pc) / (pw - ltv * k * pw)
            r = min(round_down(r, p.amount_decimals), debt, account_debt)
        if r <= 0:
            return
        w = min(round_down(r * k * pw / pc, p.amount_decimals) + step, account_coll)
        amount = "max" if full and only_ours else str(min(r, account_debt))
        repay: dict[str, Any] = {"venue": p.aave_venue, "operation": "repay", "asset": "WETH", "amount": amount}
        withdraw = {"venue": p.aave_venue, "operation": "withdraw", "asset": "wstETH", "amount": str(w)}
        self._bundle(manager, ts, r, [repay, withdraw, self._swap("wstETH", "WETH", w)])

    def _swap(self, token_in: str, token_out: str, amount: Decimal) -> dict[str, Any]:
        p: LeveragedStakingLoopParams = self.params
        s: dict[str, Any] = {"venue": self.swap_venue, "operation": "swap", "token_in": token_in,
                             "token_out": token_out, "amount_in": str(amount),
                             "max_slippage_bps": str(p.max_slippage_bps)}
        if p.swap_pool:
            s["pool"] = p.swap_pool
        return s

    def _bundle(self, manager: Any, ts: Any, flash: Decimal, steps: list[dict[str, Any]]) -> Any:
        p: LeveragedStakingLoopParams = self.params
        d = self._execute(manager, ts, {
            "venue": "atomic", "operation": "atomic", "steps": steps,
            "flash_loan": {"venue": p.aave_venue, "asset": "WETH", "amount": str(flash)},
            "min_health_factor": str(p.min_health_factor), "health_factor_venue": p.aave_venue})
        if d is not None:
            self.bundles += 1
            self.failures = 0
        else:
            self.failures += 1
            if self.failures >= p.max_failures and not self.stopped:
                self.stopped = True
                note = f"stopped at {ts.isoformat()}: {self.failures} bundles in a row failed"
                self.notes.append(note)
                log.warning("%s: %s", self.name, note)
        return d


__all__ = ["LeveragedStakingLoop", "LeveragedStakingLoopParams"]
