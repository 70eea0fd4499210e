"""The scenario runner: ``run(scenario) -> BacktestResult`` with pandas DataFrames.

Each step (``period.step`` apart) the runner
1. executes the scheduled instructions due (at their own timestamps),
2. advances the manager's clock to the step (venues accrue funding, interest ...),
3. lets every active strategy act through the public manager API,
4. values the book in USD (:mod:`basis_core.backtest.valuation`) and attributes the change
   (:mod:`basis_core.backtest.attribution`, shared with paper / live runs).

PnL attribution (USD, exact Decimals): every successful execution-history record carries ``pnl`` by
component (trading fees, slippage, price impact, gas, funding, lending / borrowing interest, staking
yield, liquidation, flash-loan fee); the growth of non-rebasing LST exchange rates (wstETH, weETH) held
over a step is staking yield; ``price`` is the equity change minus all of those, so the components add
up exactly to the equity change. Rows are collected in lists and framed once at the end.
"""

from __future__ import annotations

import functools
import gc
import logging
import math
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from basis_core.backtest.attribution import COMPONENTS, PnlAttribution
from basis_core.backtest.executions import (
    EXECUTION_COLUMNS,
    AccrualEvent,
    OwnEvent,
    StepPnlFloats,
    executions_frame,
    scan_history,
)
from basis_core.backtest.metrics import ExchangeBlock, risk_metrics
from basis_core.backtest.rows import ChangeRows, FloatColumns
from basis_core.backtest.scenario import Scenario, load_scenario
from basis_core.backtest.strategies import Strategy
from basis_core.backtest.strategies.loader import load_strategy, strategy_name
from basis_core.data.provider import DataProvider
from basis_core.errors import BasisError, ScenarioError
from basis_core.instructions import OPERATIONS
from basis_core.manager import ExecutionInterfaceManager
from basis_core.numeric import library_context
from basis_core.timeutil import from_ns

log = logging.getLogger(__name__)

_ZERO = Decimal(0)
_YEAR_NS = int(365.25 * 24 * 3600 * 1e9)

ProgressCallback = Callable[[int, int], None]


@dataclass
class StrategyStatus:
    name: str
    active: bool
    reason: str = ""


@dataclass
class BacktestResult:
    """What a run produced. Frames are indexed by the step's UTC timestamp.

    - ``equity``: ``equity`` (USD), ``drawdown`` (fraction below the running peak) and the cumulative
      PnL components (USD, one column per :data:`COMPONENTS`) since the start.
    - ``pnl``: the same components per step (not cumulative).
    - ``positions``: balances by instrument key (human units; perps signed).
    - ``exposures``: USD exposure by key (perps: size x mark; liabilities negative).
    - ``executions``: one row per execution-history record (instructions and accruals), built on first access
      (:func:`~basis_core.backtest.executions.executions_frame`; a run that only needs its summary never pays for it).
    - ``totals``: exact Decimal totals of every component; ``start_equity`` / ``end_equity`` exact.
    - ``risk``: ``leverage`` and ``net_delta`` (shares of equity, every step) and the venues' health factor,
      LTV and margin ratios (``<venue>:health_factor``, ``<venue>:ltv``, ``<venue>:margin_ratio:<asset>``,
      sampled at about 1,000 steps).
    - ``interrupted``: the run was stopped (Ctrl-C) and the frames hold the steps done.
    """

    scenario: Scenario
    equity: pd.DataFrame
    pnl: pd.DataFrame
    positions: pd.DataFrame
    exposures: pd.DataFrame
    _executions: pd.DataFrame | Callable[[], pd.DataFrame] = field(repr=False)
    totals: dict[str, Decimal]
    start_equity: Decimal
    end_equity: Decimal
    strategies: list[StrategyStatus]
    summary: dict[str, Any]
    unpriced: list[str] = field(default_factory=list)
    manager: ExecutionInterfaceManager | None = field(default=None, repr=False)
    risk: pd.DataFrame = field(default_factory=pd.DataFrame)
    interrupted: bool = False

    @property
    def equity_change(self) -> Decimal:
        return self.end_equity - self.start_equity

    @property
    def executions(self) -> pd.DataFrame:
        """One row per execution-history record of the run (:data:`EXECUTION_COLUMNS`), built on first access."""
        ex = self._executions
        if not isinstance(ex, pd.DataFrame):
            ex = self._executions = ex()
        return ex

    def __getstate__(self) -> dict[str, Any]:
        """Pickling keeps the data (the executions frame built) and drops ``manager`` (live venue objects, not meant
        to cross processes): a result read back from another process has ``manager`` None."""
        state = dict(self.__dict__)
        state["_executions"] = self.executions
        state["manager"] = None
        return state


# -- market and period ----------------------------------------------------------------------------
def build_market(scenario: Scenario, data_dir: str | Path | None = None) -> DataProvider:
    """The scenario's market: real files from ``data_dir`` (argument or scenario), else synthetic."""
    from basis_core.data.loaders import load_data_dir
    from basis_core.data.synthetic import HOUR_NS, YEAR_HOURS, synthetic_market

    directory = data_dir if data_dir is not None else scenario.market.data_dir
    if directory is not None and (data_dir is not None or scenario.market.source == "data_dir"):
        return load_data_dir(directory)
    start = scenario.period.start
    overrides: dict[str, Any] = {"seed": scenario.market.seed}
    if start is not None:
        hour0 = start.floor("h")
        overrides["start"] = hour0.isoformat()
        end = scenario.period.end
        hours = YEAR_HOURS + 1 if end is None else int((end.value - hour0.value) // HOUR_NS) + 2
        overrides["hours"] = max(hours, 49)  # two days at least: the daily series need a second row
    elif scenario.period.end is not None:
        default_start = pd.Timestamp("2025-01-01T00:00:00Z")
        overrides["hours"] = max(int((scenario.period.end.value - default_start.value) // HOUR_NS) + 2, 2)
    return synthetic_market(**overrides)


def step_times(scenario: Scenario, provider: DataProvider, notes: list[str] | None = None) -> list[int]:
    """UTC-ns times of the steps: ``start`` .. ``end`` inclusive, ``step`` apart.

    Defaults: from the latest first row to the earliest last row over all series (every series is
    live for the whole run). An explicit end beyond the data (a series' last row plus its average
    spacing) is clipped there, so no step sees stale data; the clip is logged and noted in ``notes``.
    """
    names = provider.names()
    if not names:
        raise ScenarioError("market: the market has no series")
    series = [provider.series(n) for n in names]
    firsts = [sr.first_ns for sr in series]
    lasts = [sr.last_ns for sr in series]
    spaced = [sr for sr in series if len(sr) > 1]  # a one-row series has no known spacing: not checked
    fresh = min((sr.last_ns + (sr.last_ns - sr.first_ns) // (len(sr) - 1) for sr in spaced), default=2**63 - 1)
    start = scenario.period.start.value if scenario.period.start is not None else max(firsts)
    end = scenario.period.end.value if scenario.period.end is not None else min(lasts)
    if end > fresh:
        msg = (f"period.end {from_ns(end).isoformat()} is beyond the market data; the run ends at "
               f"{from_ns(fresh).isoformat()}")
        log.warning(msg)
        if notes is not None:
            notes.append(msg)
        end = fresh
    if start < provider.start_ns:
        raise ScenarioError(f"period.start: {from_ns(start).isoformat()} is before the market's first row "
                            f"{from_ns(provider.start_ns).isoformat()}")
    if end <= start:
        raise ScenarioError(f"period.end: {from_ns(end).isoformat()} is not after the start "
                            f"{from_ns(start).isoformat()}")
    step = int(scenario.period.step.value)
    return list(range(start, end + 1, step))


# -- the run -------------------------------------------------------------------------------------------
def make_manager(scenario: Scenario, provider: DataProvider, *, plugins: Iterable[Any] = (),
                 autoload: bool | None = None) -> ExecutionInterfaceManager:
    """A backtest manager for the scenario (its balances, allow-list, venue settings, risk limit)."""
    config: dict[str, Any] = {
        "execution_mode": "backtest",
        "initial_balances": dict(scenario.initial_balances),
        "venue_config": dict(scenario.venue_config),
    }
    if scenario.venues is not None:
        config["venues"] = list(scenario.venues)
    if scenario.max_notional is not None:
        config["max_notional"] = scenario.max_notional
    config.update(scenario.settings)
    return ExecutionInterfaceManager(config, data_provider=provider, execution_mode="backtest",
                                     plugins=plugins, autoload=autoload)


def _strategies(scenario: Scenario, manager: ExecutionInterfaceManager,
                capital: list[dict[str, Decimal]]) -> tuple[list[Strategy], list[StrategyStatus]]:
    """The scenario's strategies that can run (their ``balances`` added to the ledger and to ``capital``)."""
    active: list[Strategy] = []
    status: list[StrategyStatus] = []
    base_dir = scenario.source_path.parent if scenario.source_path is not None else None
    for i, spec in enumerate(scenario.strategies):
        cls = load_strategy(spec.name, base_dir=base_dir)
        strat = cls(cls.Params.model_validate(spec.params))
        reason = strat.prepare(manager)
        if reason:
            if spec.required:
                raise ScenarioError(f"strategies[{i}]: {spec.name} cannot run: {reason}")
            log.info("strategy %s skipped: %s", spec.name, reason)
            status.append(StrategyStatus(strategy_name(cls), False, reason))
        else:
            ledger = manager.ledger  # live: the venues hold the capital
            for key, amount in spec.balances.items():
                if amount and ledger is not None:
                    ledger.set_balance(key, ledger.balance(key) + amount)
            active.append(strat)
            capital.append({k: v for k, v in spec.balances.items() if v})
            status.append(StrategyStatus(strategy_name(cls), True))
    return active, status


def _labels(active: list[Strategy]) -> list[str]:
    """Unique display names of the active strategies (a second instance of a class gets ``#2``)."""
    seen: dict[str, int] = {}
    out = []
    for s in active:
        base = s.name or type(s).__name__
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return out


@contextmanager
def frozen_heap() -> Iterator[None]:
    """While inside, the objects that existed before (market data, modules, the host's own) are left out of garbage
    collections (:func:`gc.freeze`): a full collection, which a long run's allocations trigger now and then, walks
    only the objects made since instead of the whole process (tens of ms each on a large heap). Nothing is kept
    alive longer than refcounting allows; only cyclic garbage among the older objects waits until the end. Does
    nothing when the collector is off or objects are frozen already (the host's own ``gc.freeze``)."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """While inside, no automatic garbage collection (re-enabled on the way out, whatever happens): for a bounded
    phase that allocates many acyclic containers kept until its end (the end-of-run scan of the history makes a few
    tuples and dicts per record), where the collector would walk them repeatedly and find nothing. Cyclic garbage
    made meanwhile is collected by the next collection after it. Does nothing when the collector is off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _with_frozen_heap(fn: Callable[..., BacktestResult]) -> Callable[..., BacktestResult]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> BacktestResult:
        with frozen_heap():
            return fn(*args, **kwargs)
    return wrapper


@library_context
@_with_frozen_heap
def run(scenario: Scenario | str | Path | Mapping[str, Any], *, data_dir: str | Path | None = None,
        data_provider: DataProvider | None = None, progress: ProgressCallback | None = None,
        plugins: Iterable[Any] = (), autoload: bool | None = None, strategies: Iterable[Strategy] = (),
        attribute_lst_yield: bool = True, eth_price: str = "market", corridor: bool = False) -> BacktestResult:
    """Run a backtest scenario and return its :class:`BacktestResult`.

    :param scenario: a :class:`Scenario`, a path to a YAML file, the name of a bundled scenario
        (``"default"``, ``"cash_and_carry"``, ``"staked_basis"``), a YAML text, or a dict.
    :param data_dir: real data files to use instead of the scenario's market.
    :param data_provider: a ready market (overrides both).
    :param progress: ``callback(done_steps, total_steps)``, called about 200 times per run.
    :param plugins: extra venue plugin objects / classes to register (host apps, tests).
    :param autoload: discover installed venues (default: yes).
    :param strategies: your own :class:`~basis_core.backtest.strategies.Strategy` objects, run after the
        scenario's built-in ones (host apps).
    :param attribute_lst_yield: book wstETH / weETH exchange-rate growth as staking yield (else price).
    :param eth_price: value ETH-family tokens at the ETH ``market`` (spot:ETH/USDT close, the default) or
        by the ``oracle`` (:mod:`basis_core.backtest.valuation`).
    :param corridor: record the joint risk corridor (:mod:`basis_core.risk.corridor`, ETH moves) at the risk
        samples: ``risk`` columns ``corridor:eth_down`` / ``corridor:eth_up`` (factors), ``corridor:eth_move``,
        ``corridor:eth_down_price`` / ``corridor:eth_up_price`` (the ETH oracle there) and ``corridor:eth_price``.
    :raises ScenarioError: invalid scenario or period; strategy / instruction errors propagate when
        ``on_error: stop`` (a strategy's own unexpected error always propagates).
    """
    t_wall = time.perf_counter()
    if isinstance(scenario, str | Path) and not isinstance(scenario, Scenario):
        scenario = _scenario_source(scenario)
    sc = load_scenario(scenario) if not isinstance(scenario, Scenario) else scenario
    provider = data_provider if data_provider is not None else build_market(sc, data_dir)
    notes: list[str] = []
    times = step_times(sc, provider, notes)
    for item in sc.schedule:
        if not times[0] <= item.at.value <= times[-1]:
            raise ScenarioError(f"schedule: instruction at {item.at.isoformat()} is outside the period "
                                f"{from_ns(times[0]).isoformat()} .. {from_ns(times[-1]).isoformat()}")
    manager = make_manager(sc, provider, plugins=plugins, autoload=autoload)
    ledger = manager.ledger
    assert ledger is not None
    capital: list[dict[str, Decimal]] = []
    active, status = _strategies(sc, manager, capital)
    for strat in strategies:
        reason = strat.prepare(manager)
        name = strat.name or type(strat).__name__
        status.append(StrategyStatus(name, not reason, reason or ""))
        if not reason:
            active.append(strat)
            capital.append({})
    labels = _labels(active)
    acting = list(zip(active, labels, strict=True))  # (strategy, label) pairs, not zipped again every step
    owners: list[tuple[int, int, str]] = []  # history [start, end) made by a strategy
    risk_venues = [v["name"] for v in manager.venues() if v.get("kind") == "cex" or "borrow" in v["operations"]]
    risk_rows: list[dict[str, float]] = []
    risk_index: list[int] = []
    history = manager.execution_history
    attribution = PnlAttribution(provider, manager.get_balances, history, eth_price=eth_price,
                                 attribute_lst_yield=attribute_lst_yield)
    # the whole history is kept (the executions frame and per-strategy PnL read it) unless history_limit is set
    trim = history.trim if history.limit is not None else None
    schedule = list(sc.schedule)
    n_sched = len(schedule)
    si = 0
    failures = 0

    total = len(times)
    every = max(1, total // 200)
    risk_every = max(1, total // 1000)
    ncomp = len(COMPONENTS)
    zero_row = [0.0] * ncomp

    # start: value the initial balances at the first step, before anything happens
    t0 = times[0]
    manager.advance_to(from_ns(t0))
    snap0 = provider.get_data(t0)
    start_equity = attribution.start(snap0, ledger.balances)

    # per step, as floats in flat arrays: equity, the price component, USD exposures; the other components only
    # at steps that have any (sparse); balances only when the ledger changed. Exact Decimal totals: the attribution.
    eq_rows: array[float] = array("d")
    price_rows: array[float] = array("d")
    comp_steps: array[int] = array("q")
    comp_vals: array[float] = array("d")
    one_record: array[int] = array("q")  # the record of each step that attributed exactly one, and its comp row
    one_row: array[int] = array("q")
    pos_rows = ChangeRows()
    exp_rows = FloatColumns()
    last_eq = start_equity
    bal = ledger.balances
    pos_rows.add(0, bal)
    bal_version = ledger.version
    started = False
    interrupted = False
    stamps = pd.DatetimeIndex(pd.to_datetime(times, unit="ns", utc=True))  # boxed in chunks: cheaper than from_ns
    # a provider that can tell when no series got a new row lets unchanged steps reuse the last valuation
    row_epoch = getattr(provider, "row_epoch", None)
    row_epochs = getattr(provider, "row_epochs", None) if row_epoch is not None else None
    epochs: Sequence[int] = (row_epochs(times) if row_epochs is not None
                         else [row_epoch(t) for t in times] if row_epoch is not None else times)
    fresh_until: int = getattr(provider, "fresh_until_ns", -1)
    val_epoch, val_version = -1, -1
    eq_float_now = float(start_equity)
    advance = manager._advance_locked
    step_parts = attribution.step_parts
    try:
        for n, (ts_ns, ts) in enumerate(zip(times, stamps, strict=True)):
            while si < n_sched and schedule[si].at.value <= ts_ns:
                item = schedule[si]
                si += 1
                try:
                    manager.execute(item.at, item.parsed)
                except BasisError as exc:
                    failures += 1
                    log.warning("scheduled instruction at %s failed: %s", item.at.isoformat(), exc)
                    if sc.on_error == "stop":
                        raise
            advance(ts, ts_ns)  # manager.advance_to(ts): ts is UTC, we are in the library's context
            h0 = len(history)
            for s, label in acting:
                if not started:
                    s.start(manager, ts)
                s.step(manager, ts)
                h1 = len(history)
                if h1 > h0:
                    last = owners[-1] if owners else None
                    if last is not None and last[1] == h0 and last[2] == label:
                        owners[-1] = (last[0], h1, label)  # one range per run of records of one strategy
                    else:
                        owners.append((h0, h1, label))
                    h0 = h1
            started = True
            epoch = epochs[n]
            same_market = epoch == val_epoch and ts_ns <= fresh_until
            if same_market and attribution.hist_i == h0 and ledger.version == val_version:
                # no new row in any series, no ledger write, no record: the book is worth what it was and nothing is
                # attributed (minute steps over hourly data: most steps)
                price_rows.append(0.0)
                exp_rows.repeat()
                eq_rows.append(eq_float_now)
            else:
                snap = provider.get_data(ts_ns)
                if ledger.version != bal_version:
                    new_bal = ledger.balances
                    bal_version = ledger.version
                    if new_bal != bal:
                        bal = new_bal
                        pos_rows.add(n, bal)
                # the same market: its prices are reused; plain tuples, no result objects per step
                hist_from = attribution.hist_i
                step_eq, _, step_exp, step_price, step_comps = step_parts(snap, bal, same_market)
                price_f = float(step_price)
                if step_comps is not None:  # its first component is step_price: converted once
                    comp_steps.append(len(eq_rows))
                    comp_row = zero_row.copy()  # the components without records are exactly zero
                    comp_row[0] = price_f if step_price else 0.0
                    for j in attribution.touched:
                        x = step_comps[j]
                        if x and j:
                            comp_row[j] = float(x)
                    comp_vals.extend(comp_row)
                    if attribution.hist_i == hist_from + 1:  # one record: its own components (see StepPnlFloats)
                        one_record.append(hist_from)
                        one_row.append(len(comp_steps) - 1)
                price_rows.append(price_f)
                exp_rows.add(step_exp)
                eq_float_now = float(step_eq)
                eq_rows.append(eq_float_now)  # last: a step counts once everything of it is recorded
                last_eq = step_eq
                val_epoch, val_version = epoch, ledger.version
            if risk_venues and (n % risk_every == 0 or n == total - 1):
                risk_rows.append(_risk_sample(manager, ts, risk_venues, provider.get_data(ts_ns) if corridor else None))
                risk_index.append(ts_ns)
            if progress is not None and (n % every == 0 or n == total - 1):
                progress(n + 1, total)
            if trim is not None:
                trim(before=attribution.hist_i)  # attributed records past the limit go
    except KeyboardInterrupt:
        if not eq_rows:
            raise
        interrupted = True
        msg = (f"interrupted after {len(eq_rows)} of {total} steps (at {from_ns(times[len(eq_rows) - 1]).isoformat()}):"
               " this report is partial")
        log.warning(msg)
        notes.append(msg)
        times = times[:len(eq_rows)]
    if not interrupted:
        for s, label in zip(active, labels, strict=True):
            h0 = len(history)
            s.finish(manager, from_ns(times[-1]))
            if len(history) > h0:
                owners.append((h0, len(history), label))
    for s in active:
        notes.extend(f"{s.name}: {note}" for note in getattr(s, "notes", ()))

    with collector_paused():  # the analysis below allocates one container per record, none cyclic
        end_equity = last_eq
        totals = attribution.totals
        index = pd.DatetimeIndex(stamps[:len(times)], name="timestamp")
        n_steps = len(eq_rows)
        per_step = np.zeros((n_steps, ncomp))
        per_step[:, 0] = np.frombuffer(price_rows, dtype=float)[:n_steps]
        if comp_steps:
            rows_at = np.frombuffer(comp_steps, dtype=np.int64)
            vals = np.frombuffer(comp_vals, dtype=float).reshape(-1, ncomp)
            keep = rows_at < n_steps
            per_step[rows_at[keep]] = vals[keep]
        pnl = pd.DataFrame(per_step, index=index, columns=list(COMPONENTS))
        equity = pd.DataFrame(np.cumsum(per_step, axis=0), index=index, columns=list(COMPONENTS))
        eq_float = pd.Series(np.frombuffer(eq_rows, dtype=float)[:n_steps].copy(), index=index)
        equity.insert(0, "equity", eq_float)
        peak = eq_float.cummax().clip(lower=float(start_equity))
        equity.insert(1, "drawdown", (1 - eq_float / peak).where(peak > 0, 0.0))
        positions = pos_rows.frame(index)
        exposures = exp_rows.frame(index)
        strategy_of = _owner_map(owners, len(history))
        capital_of = dict(zip(labels, capital, strict=True))
        dropped = history.start
        if dropped:
            notes.append(f"history_limit {history.limit}: {dropped} of {len(history)} execution-history records were "
                         "dropped during the run; the executions frame holds the rest, per-strategy PnL is left out")
        by_strategy_wanted = not dropped and (bool(strategy_of) or any(capital_of.values()))
        # one pass now for the summary and the strategies' PnL; the full executions frame when first asked for
        n_records = len(history)
        blocks: list[ExchangeBlock] = []
        comp_rows = np.frombuffer(comp_vals, dtype=float).reshape(-1, ncomp)
        n_one = min(len(one_record), len(one_row))  # (an interrupted step may have appended one of them)
        step_pnl = StepPnlFloats(np.frombuffer(one_record, dtype=np.int64)[:n_one],
                                 comp_rows[np.frombuffer(one_row, dtype=np.int64)[:n_one], 1:])
        light, own_events, accruals = scan_history(history, strategy_of, times if by_strategy_wanted else None,
                                                   full=False, end=n_records, exchanges=blocks, step_pnl=step_pnl)
        risk = _risk_frame(risk_rows, risk_index, exposures, equity["equity"])
        result = BacktestResult(
            scenario=sc, equity=equity, pnl=pnl, positions=positions, exposures=exposures,
            _executions=lambda: scan_history(history, strategy_of, end=n_records)[0],
            totals=totals, start_equity=start_equity, end_equity=end_equity, strategies=status, summary={},
            unpriced=sorted(attribution.valuer.unpriced), manager=manager, risk=risk, interrupted=interrupted,
        )
        by_strategy = _strategy_pnl(result, own_events, accruals, capital_of, blocks) if by_strategy_wanted else {}
        wall = time.perf_counter() - t_wall
        result.summary = summarize(result, provider_name=provider.name, failures=failures, wall_seconds=wall,
                                   venues=[v["name"] for v in manager.venues()], notes=notes,
                                   pnl_by_strategy=by_strategy, executions=light)
        return result


def _scenario_source(arg: str | Path) -> Any:
    """A scenario argument of :func:`run`: an existing file, a bundled scenario's name (``"default"``), or a
    YAML text (several lines)."""
    from basis_core.backtest.scenario import bundled_scenarios

    text = str(arg)
    if isinstance(arg, str) and "\n" in text:
        return load_scenario("scenario", text=text)
    path = Path(arg)
    if path.exists():
        return path
    bundled = bundled_scenarios()
    if text in bundled:
        return bundled[text]
    raise ScenarioError(f"{text}: no such scenario file and no bundled scenario of that name "
                        f"(bundled: {', '.join(bundled)})")


def _risk_sample(manager: ExecutionInterfaceManager, ts: Any, venues: list[str],
                 corridor_snap: Any = None) -> dict[str, float]:
    """Health factor, LTV and margin ratio(s) the venues report (``<venue>:metric:...`` balances); with a
    ``corridor_snap`` (the step's market) also the risk corridor's columns (see :func:`run`)."""
    out: dict[str, float] = {}
    if corridor_snap is not None:
        from basis_core.risk.corridor import corridor_columns
        out.update(corridor_columns(manager, ts, corridor_snap))
    for v in venues:
        try:
            bal = manager.get_balances(ts, v)
        except BasisError:
            continue
        out.update(risk_metrics(bal))
    return out


def _risk_frame(rows: list[dict[str, float]], index_ns: list[int], exposures: pd.DataFrame,
                equity: pd.Series) -> pd.DataFrame:
    """Risk over time: ``leverage`` and ``net_delta`` (shares of equity) every step, and the venues' health
    factor / LTV / margin ratios at about 1,000 sampled steps (NaN between samples)."""
    from basis_core.backtest.metrics import exposure_shares

    shares = exposure_shares(exposures, equity)
    if not any(rows):  # no sample reported a metric (a spot-only book): no column to join
        return shares
    idx = pd.DatetimeIndex(pd.to_datetime(index_ns, unit="ns", utc=True), name="timestamp")
    sampled = pd.DataFrame(rows, index=idx)
    sampled = sampled[~sampled.index.duplicated(keep="last")]
    return shares.join(sampled, how="left")


def _owner_map(owners: list[tuple[int, int, str]], n: int) -> dict[int, str]:
    """History index -> the strategy whose step made it."""
    out: dict[int, str] = {}
    for a, b, label in owners:
        out.update(dict.fromkeys(range(a, min(b, n)), label))
    return out


def _strategy_pnl(result: BacktestResult, own: list[OwnEvent], accruals: list[AccrualEvent],
                  capital: Mapping[str, Mapping[str, Decimal]],
                  blocks: list[ExchangeBlock] | None = None) -> dict[str, float]:
    """PnL by strategy (:func:`basis_core.backtest.metrics.pnl_by_strategy`) from the strategies' events, their
    exchange blocks and the accruals (:func:`~basis_core.backtest.executions.scan_history`); a strategy's own
    ``balances`` count as held from the first step (before every other event)."""
    from basis_core.backtest.metrics import pnl_by_strategy, unit_prices

    events: list[OwnEvent] = [(0, label, bal, None) for label, bal in capital.items() if bal]
    first = len(events)
    events.extend(own)
    blocks = [b._replace(seqs=[q + first for q in b.seqs]) for b in blocks or ()] if first else list(blocks or ())
    px = unit_prices(result.positions, result.exposures, {k for o in events for k in o[2]} | {
        k for b in blocks for k in b.keys})
    return pnl_by_strategy(px, events, accruals, float(result.end_equity - result.start_equity), blocks)


def _fmt_step(td: pd.Timedelta) -> str:
    secs = int(td.total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if secs and secs % n == 0:
            return f"{secs // n}{unit}"
    return str(td)


def _failures(hist: pd.DataFrame, limit: int = 5) -> dict[str, Any]:
    """Failed records: how many, counts by error type, and the first ``limit`` with their reasons."""
    failed = ~hist["success"] if len(hist) else None
    if failed is None or not failed.any():  # none failed (most runs): no frame of them to build
        return {"count": 0, "by_error": {}, "first": []}
    bad = hist[failed]
    kinds = pd.Series([str(e).partition(":")[0] for e in bad["error"].fillna("")], dtype=object)
    def text(v: Any) -> str | None:
        return None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)

    first = [{"timestamp": r["timestamp"].isoformat(), "venue": r["venue"], "operation": r["operation"],
              "strategy": text(r["strategy"]), "field": text(r["error_field"]), "error": text(r["error"])}
             for r in bad.head(limit).to_dict("records")]
    return {"count": len(bad), "by_error": {str(k): int(v) for k, v in kinds.value_counts().items()},
            "first": first}


def summarize(result: BacktestResult, *, provider_name: str = "", failures: int = 0, wall_seconds: float = 0.0,
              venues: list[str] | None = None, notes: list[str] | None = None,
              pnl_by_strategy: Mapping[str, float] | None = None,
              executions: pd.DataFrame | None = None) -> dict[str, Any]:
    """The run's summary (JSON-ready; every metric the report shows is here): equity, return, annualised return,
    max drawdown, volatility, Sharpe, Sortino, Calmar (annualised from the step, see
    :mod:`basis_core.backtest.metrics`), PnL components, PnL by venue and by strategy, risk extremes, failures
    with their first reasons. ``executions``: the frame to read them from (at least
    :data:`~basis_core.backtest.executions.SUMMARY_COLUMNS`; default ``result.executions``)."""
    from basis_core.backtest.metrics import performance, pnl_by_venue
    eq = result.equity
    start, end = result.start_equity, result.end_equity
    span_ns = int(eq.index[-1].value - eq.index[0].value) if len(eq) > 1 else 0
    ret = float(end / start - 1) if start > 0 else float("nan")
    if start > 0 and span_ns > 0 and end > 0:
        annual = (float(end / start)) ** (_YEAR_NS / span_ns) - 1
    else:
        annual = float("nan")
    max_dd = float(eq["drawdown"].max()) if len(eq) else 0.0
    hist = result.executions if executions is None else executions
    n_instr = int(hist["operation"].isin(OPERATIONS).sum()) if len(hist) else 0  # counted, not copied out
    steps = len(eq)
    perf = performance(eq["equity"], result.scenario.period.step, annual, max_dd)
    total_pnl = float(end - start)
    risk = result.risk
    risk_extremes: dict[str, float | None] = {}
    for col in risk.columns:
        v = risk[col].dropna()
        if not len(v):
            continue
        worst = v.min() if col.endswith(("health_factor", "margin_ratio")) or ":margin_ratio:" in col else None
        if ":margin_ratio:" in col or col.endswith(":ltv") or col == "leverage":
            risk_extremes[f"max_{col}"] = float(v.max())
        elif col.endswith(":health_factor"):
            risk_extremes[f"min_{col}"] = float(worst) if worst is not None else None
        elif col == "net_delta":
            risk_extremes["max_abs_net_delta"] = float(v.abs().max())
        elif col == "corridor:eth_move":
            risk_extremes["min_corridor_eth_move"] = float(v.min())
    return {
        "scenario": result.scenario.name,
        "market": provider_name,
        "venues": venues or [],
        "strategies": [{"name": s.name, "active": s.active, "reason": s.reason} for s in result.strategies],
        "start": eq.index[0].isoformat() if steps else None,
        "end": eq.index[-1].isoformat() if steps else None,
        "steps": steps,
        "step": _fmt_step(result.scenario.period.step),
        "start_equity": float(start),
        "end_equity": float(end),
        "pnl": float(end - start),
        "return": ret,
        "annualised_return": annual,
        "max_drawdown": max_dd,
        "volatility": perf["volatility"],
        "sharpe": perf["sharpe"],
        "sortino": perf["sortino"],
        "calmar": perf["calmar"],
        "annualisation": {"periods_per_year": perf["periods_per_year"], "risk_free_rate": 0.0,
                          "method": "step returns of equity scaled by periods per year (365.25 days / step)"},
        "components": {c: float(v) for c, v in result.totals.items()},
        "pnl_by_venue": pnl_by_venue(result.positions, result.exposures, hist, total_pnl),
        "pnl_by_strategy": dict(pnl_by_strategy or {}),
        "risk": risk_extremes,
        "components_exact": {c: str(v) for c, v in result.totals.items()},
        "start_equity_exact": str(start),
        "end_equity_exact": str(end),
        "executions": n_instr,
        "accruals": int(len(hist) - n_instr),
        "failed": int((~hist["success"]).sum()) if len(hist) else 0,
        "failed_scheduled": failures,
        "failures": _failures(hist),
        "interrupted": result.interrupted,
        "unpriced_keys": list(result.unpriced),
        "notes": list(notes or []),
        "runtime": {"wall_seconds": round(wall_seconds, 3),
                    "steps_per_second": round(steps / wall_seconds, 1) if wall_seconds > 0 else None},
    }


__all__ = ["COMPONENTS", "EXECUTION_COLUMNS", "BacktestResult", "StrategyStatus", "build_market", "executions_frame",
           "make_manager", "run", "step_times", "summarize"]
