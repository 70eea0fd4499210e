"""Step-by-step PnL attribution of a book in USD: one code path for the backtest runner and the run-state store
of paper / live runs (:mod:`basis_core.runstate`).

At every step the book is valued (:class:`~basis_core.backtest.valuation.Valuer`) and the equity change since the
previous step is split into components (exact Decimals, USD): every successful execution-history record since the
previous step carries ``pnl`` by component (trading fees, slippage, price impact, gas, funding, lending / borrowing
interest, staking yield, liquidation, flash-loan fee); the growth of non-rebasing LST exchange rates (wstETH, weETH)
held over the step is staking yield; ``price`` is the equity change minus all of those, so the components add up
exactly to the equity change, and their running sums (:attr:`PnlAttribution.cum`) to the equity change since the
start.

:meth:`PnlAttribution.state` / :meth:`PnlAttribution.restore` carry the attribution across a process restart
(JSON-ready: cumulative components, the last equity, perp cost bases, the LST rates and balances of the last step).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from basis_core.backtest.valuation import Valuation, Valuer, _PerpBook, lst_rate_gain, rate_token
from basis_core.data.prices import token_prices_of
from basis_core.deltas import PNL_COMPONENTS, ExecutionDeltas
from basis_core.errors import MarketDataError

log = logging.getLogger(__name__)

_ZERO = Decimal(0)
#: reported components, in report order; "price" is the residual
COMPONENTS: tuple[str, ...] = ("price", *PNL_COMPONENTS)
COMPONENT_INDEX: dict[str, int] = {c: i for i, c in enumerate(COMPONENTS)}
_LST_J = COMPONENT_INDEX["staking_yield"]
_NCOMP = len(COMPONENTS)


@dataclass(frozen=True, slots=True)
class StepPnl:
    """One step's valuation and PnL: ``components`` (in :data:`COMPONENTS` order, ``price`` first) is None when
    the step has nothing but price (``price`` is then the whole equity change)."""

    valuation: Valuation
    price: Decimal
    components: tuple[Decimal, ...] | None

    @property
    def equity(self) -> Decimal:
        return self.valuation.equity


def items(m: Any) -> Iterable[tuple[str, Any]]:
    """Pairs of a history record's map (a Mapping, or a tuple of pairs in older records)."""
    if type(m) is dict:  # most maps: no ABC check (about 0.3 us)
        return m.items()
    return m.items() if isinstance(m, Mapping) else m  # type: ignore[no-any-return]


class _Rates:
    """The exchange rates of a past step by series, answering ``get(series, "rate")`` like a snapshot (restored
    state: the previous step's snapshot is not kept across processes)."""

    __slots__ = ("rates",)

    def __init__(self, rates: Mapping[str, Decimal]) -> None:
        self.rates = rates

    def get(self, series: str, column: str = "close") -> Decimal:
        if column != "rate" or series not in self.rates:
            raise MarketDataError(f"{series}.{column}: not kept across a restart")
        return self.rates[series]


class PnlAttribution:
    """Values a book step by step and splits each step's equity change (see the module docstring).

    :param provider: the market data (the valuer's; ``manager.data_provider``).
    :param balances_of: ``(timestamp, venue) -> balances and metrics`` (``manager.get_balances``), for venue
        metrics (perp entry prices, LP values).
    :param history: the manager's execution history; records appended after :meth:`start` are attributed.
    :param eth_price: ``market`` or ``oracle`` (:mod:`basis_core.backtest.valuation`).
    :param attribute_lst_yield: book wstETH / weETH exchange-rate growth as staking yield (else price).
    """

    def __init__(self, provider: Any, balances_of: Any, history: Sequence[Any], *, eth_price: str = "market",
                 attribute_lst_yield: bool = True) -> None:
        self.valuer = Valuer(provider, balances_of, eth_price=eth_price)
        self.eth_price = eth_price
        self.attribute_lst_yield = attribute_lst_yield
        self.history = history
        #: ``history.sources`` (:meth:`basis_core.history.HistoryLog.sources`) when the history has it
        self._sources: Any = getattr(history, "sources", None)
        self.hist_i = len(history)
        #: cumulative components since the start (USD, :data:`COMPONENTS` order)
        self.cum: list[Decimal] = [_ZERO] * len(COMPONENTS)
        self.start_equity = _ZERO
        self.prev_equity = _ZERO
        self.prev_snapshot: Any = None
        self.prev_balances: Mapping[str, Decimal] = {}
        self._saved_perps: dict[str, _PerpBook] | None = None
        #: the components (indices, ascending) the last step with components had records or LST yield in; the
        #: others of its ``components`` are exactly zero
        self.touched: list[int] = []

    def start(self, snapshot: Any, balances: Mapping[str, Decimal]) -> Decimal:
        """Value the initial book (nothing attributed); return the start equity. History so far is not attributed."""
        self.hist_i = len(self.history)
        self.start_equity = self.prev_equity = self.valuer.value(snapshot, balances).equity
        self.prev_snapshot = snapshot
        self.prev_balances = balances
        return self.start_equity

    def step(self, snapshot: Any, balances: Mapping[str, Decimal], same_market: bool = False) -> StepPnl:
        """Value ``balances`` at ``snapshot`` and attribute the change since the previous step (or the start).
        A step that raises (a price missing) changes nothing: the next step attributes everything since the last
        step that succeeded. ``same_market``: the caller knows the snapshot reads the same values as the previous
        step's (no series got a new row, none went stale): its prices are reused and no LST rate grew."""
        equity, values, exposures, price, components = self.step_parts(snapshot, balances, same_market)
        return StepPnl(Valuation(equity, values, exposures), price, components)

    def step_parts(self, snapshot: Any, balances: Mapping[str, Decimal],
                   same_market: bool = False) -> tuple[Decimal, dict[str, Decimal], dict[str, Decimal], Decimal,
                                                       tuple[Decimal, ...] | None]:
        """:meth:`step` as the plain tuple ``(equity, values, exposures, price, components)`` (no result objects
        built: the backtest runner's per-step path)."""
        hist_i = self.hist_i
        try:
            return self._step(snapshot, balances, same_market)
        except BaseException:  # nothing of a failed step is kept: the next step attributes its records
            self.hist_i = hist_i
            if self._saved_perps is not None:
                self.valuer.perps = self._saved_perps
            raise
        finally:
            self._saved_perps = None

    def _step(self, snapshot: Any, balances: Mapping[str, Decimal],
              same_market: bool = False) -> tuple[Decimal, dict[str, Decimal], dict[str, Decimal], Decimal,
                                                  tuple[Decimal, ...] | None]:
        comps: list[Decimal] | None = None
        touched: list[int] = []  # the components with records this step (the others stay exactly zero)
        n = len(self.history)
        hist_i = self.hist_i
        valuer = self.valuer
        if hist_i < n:
            sources = self._sources
            if sources is not None:  # the manager's log: the latest records as the deltas they were made from
                new = sources(hist_i, n)
            else:
                history = self.history
                recs = [history[hist_i]] if n - hist_i == 1 else history[hist_i:n]
                new = [(getattr(r, "ts_ns", None), r) for r in recs]
            self.hist_i = n
            perps = valuer.perps
            self._saved_perps = {k: _PerpBook(b.cost, b.size) for k, b in perps.items()} if perps else {}
            valuer.observe_timed(new)
            index = COMPONENT_INDEX
            for _, rec in new:
                pnl = rec.pnl
                if not pnl or (type(rec) is not ExecutionDeltas and not rec.success):
                    continue
                atomic = rec.operation == "atomic"
                for comp, v in (pnl.items() if type(pnl) is dict else items(pnl)):
                    if atomic and comp != "flash_loan_fee":
                        continue  # the bundle's steps are recorded (and counted) one by one
                    j = index.get(comp)
                    if j is None:
                        log.warning("unknown pnl component %r from %s; counted as price", comp, rec.venue)
                        continue
                    if comps is None:
                        comps = [_ZERO] * _NCOMP
                    comps[j] += v
                    if j not in touched:
                        touched.append(j)
        if not same_market and self.attribute_lst_yield:  # the same market: no rate changed, no gain
            gain = lst_rate_gain(self.prev_snapshot, snapshot, self.prev_balances, self.eth_price)
            if gain:
                if comps is None:
                    comps = [_ZERO] * _NCOMP
                comps[_LST_J] += gain
                if _LST_J not in touched:
                    touched.append(_LST_J)
        equity, values, exposures = valuer.value_parts(snapshot, balances, same_market)
        change = equity - self.prev_equity
        cum = self.cum
        if comps is None:
            price = change
            cum[0] += price
            out = None
        else:
            # adding the untouched exact zeros would change nothing: only the touched components, in order
            if len(touched) > 1:
                touched.sort()
            explained = _ZERO
            for j in touched:
                if j:
                    explained += comps[j]
            price = comps[0] = change - explained
            self.touched = touched
            cum[0] += price
            for j in touched:
                if j:
                    cum[j] += comps[j]
            out = tuple(comps)
        self.prev_equity = equity
        self.prev_snapshot = snapshot
        self.prev_balances = balances
        return equity, values, exposures, price, out

    @property
    def totals(self) -> dict[str, Decimal]:
        """Cumulative components by name."""
        return dict(zip(COMPONENTS, self.cum, strict=True))

    # -- across restarts ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What :meth:`restore` needs to continue after a restart (JSON-ready; Decimals as strings)."""
        rates: dict[str, str] = {}
        snap = self.prev_snapshot
        if snap is not None:
            for token in sorted({k.rsplit(":", 1)[-1] for k in self.prev_balances}):
                rule = rate_token(snap, token)
                if rule is None or rule.rate_series is None:
                    continue
                try:
                    rates[token] = str(snap.get(rule.rate_series, "rate"))
                except (MarketDataError, LookupError):
                    continue
        return {
            "cum": {c: str(v) for c, v in zip(COMPONENTS, self.cum, strict=True)},
            "start_equity": str(self.start_equity),
            "equity": str(self.prev_equity),
            "perps": {k: [str(b.cost), str(b.size)] for k, b in self.valuer.perps.items()},
            "lst_rates": rates,
            "balances": {k: str(v) for k, v in self.prev_balances.items() if v},
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state` of an earlier process: the next :meth:`step` attributes the change from that
        state's last equity; history recorded before this call is not attributed."""
        cum = state.get("cum", {})
        self.cum = [Decimal(cum.get(c, "0")) for c in COMPONENTS]
        self.start_equity = Decimal(state.get("start_equity", "0"))
        self.prev_equity = Decimal(state.get("equity", "0"))
        self.valuer.perps = {k: _PerpBook(Decimal(c), Decimal(s)) for k, (c, s) in state.get("perps", {}).items()}
        rules = token_prices_of(self.valuer.provider)
        saved = state.get("lst_rates", {})
        self.prev_snapshot = _Rates({str(rules[k].rate_series): Decimal(v) for k, v in saved.items()
                                     if k in rules and rules[k].rate_series is not None})
        self.prev_balances = {k: Decimal(v) for k, v in state.get("balances", {}).items()}
        self.hist_i = len(self.history)


__all__ = ["COMPONENTS", "COMPONENT_INDEX", "PnlAttribution", "StepPnl", "items"]
