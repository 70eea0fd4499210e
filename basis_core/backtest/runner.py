"""The scenario runner: ``run(scenario) -> BacktestResult`` with pandas DataFrames.

Each step (``period.step`` apart) the runner
1. executes the scheduled instructions due (at their own timestamps),
2. advances the manager's clock to the step (venues accrue funding, interest ...),
3. lets every active strategy act through the public manager API,
4. values the book in USD (:mod:`basis_core.backtest.valuation`) and attributes the change.

PnL attribution (USD, exact Decimals): every successful execution-history record carries ``pnl`` by
component (trading fees, slippage, price impact, gas, funding, lending / borrowing interest, staking
yield, liquidation, flash-loan fee); the growth of non-rebasing LST exchange rates (wstETH, weETH) held
over a step is staking yield; ``price`` is the equity change minus all of those, so the components add
up exactly to the equity change. Rows are collected in lists and framed once at the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from basis_core.backtest.scenario import Scenario, load_scenario
from basis_core.backtest.strategies import STRATEGIES, Strategy
from basis_core.backtest.valuation import Valuer, lst_rate_gain
from basis_core.data.provider import DataProvider
from basis_core.deltas import PNL_COMPONENTS
from basis_core.errors import BasisError, ScenarioError
from basis_core.instructions import OPERATIONS
from basis_core.manager import ExecutionInterfaceManager
from basis_core.timeutil import from_ns

log = logging.getLogger(__name__)

_ZERO = Decimal(0)
#: reported components, in report order; "price" is the residual
COMPONENTS: tuple[str, ...] = ("price", *PNL_COMPONENTS)
_COMP_INDEX = {c: i for i, c in enumerate(COMPONENTS)}
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
    - ``executions``: one row per execution-history record (instructions and accruals).
    - ``totals``: exact Decimal totals of every component; ``start_equity`` / ``end_equity`` exact.
    """

    scenario: Scenario
    equity: pd.DataFrame
    pnl: pd.DataFrame
    positions: pd.DataFrame
    exposures: pd.DataFrame
    executions: pd.DataFrame
    totals: dict[str, Decimal]
    start_equity: Decimal
    end_equity: Decimal
    strategies: list[StrategyStatus]
    summary: dict[str, Any]
    unpriced: list[str] = field(default_factory=list)
    manager: ExecutionInterfaceManager | None = field(default=None, repr=False)

    @property
    def equity_change(self) -> Decimal:
        return self.end_equity - self.start_equity

    def __getstate__(self) -> dict[str, Any]:
        """Pickling keeps the data and drops ``manager`` (live venue objects, not meant to cross processes):
        a result read back from another process has ``manager`` None."""
        state = dict(self.__dict__)
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
    return ExecutionInterfaceManager(config, data_provider=provider, execution_mode="backtest",
                                     plugins=plugins, autoload=autoload)


def _strategies(scenario: Scenario, manager: ExecutionInterfaceManager) -> tuple[list[Strategy], list[StrategyStatus]]:
    active: list[Strategy] = []
    status: list[StrategyStatus] = []
    for i, spec in enumerate(scenario.strategies):
        cls = STRATEGIES[spec.name]
        strat = cls(cls.Params.model_validate(spec.params))
        reason = strat.prepare(manager)
        if reason:
            if spec.required:
                raise ScenarioError(f"strategies[{i}]: {spec.name} cannot run: {reason}")
            log.info("strategy %s skipped: %s", spec.name, reason)
            status.append(StrategyStatus(spec.name, False, reason))
        else:
            ledger = manager.ledger
            assert ledger is not None
            for key, amount in spec.balances.items():
                if amount:
                    ledger.set_balance(key, ledger.balance(key) + amount)
            active.append(strat)
            status.append(StrategyStatus(spec.name, True))
    return active, status


def run(scenario: Scenario | str | Path | Mapping[str, Any], *, data_dir: str | Path | None = None,
        data_provider: DataProvider | None = None, progress: ProgressCallback | None = None,
        plugins: Iterable[Any] = (), autoload: bool | None = None, strategies: Iterable[Strategy] = (),
        attribute_lst_yield: bool = True, eth_price: str = "market") -> BacktestResult:
    """Run a backtest scenario and return its :class:`BacktestResult`.

    :param scenario: a :class:`Scenario`, a path to a YAML file, or a dict.
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
    :raises ScenarioError: invalid scenario or period; strategy / instruction errors propagate when
        ``on_error: stop`` (a strategy's own unexpected error always propagates).
    """
    t_wall = time.perf_counter()
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
    active, status = _strategies(sc, manager)
    for strat in strategies:
        reason = strat.prepare(manager)
        name = strat.name or type(strat).__name__
        status.append(StrategyStatus(name, not reason, reason or ""))
        if not reason:
            active.append(strat)
    valuer = Valuer(provider, manager.get_balances, eth_price=eth_price)
    history = manager.execution_history
    schedule = list(sc.schedule)
    n_sched = len(schedule)
    si = 0
    failures = 0

    total = len(times)
    every = max(1, total // 200)
    ncomp = len(COMPONENTS)
    cum = [_ZERO] * ncomp
    hist_i = 0

    # start: value the initial balances at the first step, before anything happens
    t0 = times[0]
    manager.advance_to(from_ns(t0))
    snap0 = provider.get_data(t0)
    start_equity = valuer.value(snap0, ledger.balances).equity
    prev_snap = snap0
    prev_bal: dict[str, Decimal] = ledger.balances
    hist_i = len(history)

    eq_rows: list[Decimal] = []
    cum_rows: list[tuple[Decimal, ...]] = []
    step_rows: list[tuple[Decimal, ...]] = []
    pos_rows: list[dict[str, Decimal]] = []
    exp_rows: list[dict[str, Decimal]] = []
    started = False
    for n, ts_ns in enumerate(times):
        ts = from_ns(ts_ns)
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
        manager.advance_to(ts)
        if not started:
            for s in active:
                s.start(manager, ts)
            started = True
        for s in active:
            s.step(manager, ts)
        snap = provider.get_data(ts_ns)
        step = [_ZERO] * ncomp
        if hist_i < len(history):
            new = history[hist_i:]
            hist_i = len(history)
            valuer.observe(new)
            for rec in new:
                if not rec.success or not rec.pnl:
                    continue
                atomic = rec.operation == "atomic"
                for comp, v in _items(rec.pnl):
                    if atomic and comp != "flash_loan_fee":
                        continue  # the bundle's steps are recorded (and counted) one by one
                    j = _COMP_INDEX.get(comp)
                    if j is None:
                        log.warning("unknown pnl component %r from %s; counted as price", comp, rec.venue)
                        continue
                    step[j] += v
        if attribute_lst_yield:
            step[_COMP_INDEX["staking_yield"]] += lst_rate_gain(prev_snap, snap, prev_bal, eth_price)
        bal = ledger.balances
        val = valuer.value(snap, bal)
        prev_eq = eq_rows[-1] if eq_rows else start_equity
        step[0] = (val.equity - prev_eq) - sum(step[1:], _ZERO)
        for j in range(ncomp):
            cum[j] += step[j]
        eq_rows.append(val.equity)
        cum_rows.append(tuple(cum))
        step_rows.append(tuple(step))
        pos_rows.append(bal)
        exp_rows.append(val.exposures)
        prev_snap = snap
        prev_bal = bal
        if progress is not None and (n % every == 0 or n == total - 1):
            progress(n + 1, total)
    for s in active:
        s.finish(manager, from_ns(times[-1]))
        notes.extend(f"{s.name}: {note}" for note in getattr(s, "notes", ()))

    end_equity = eq_rows[-1]
    totals = dict(zip(COMPONENTS, cum, strict=True))
    index = pd.DatetimeIndex(pd.to_datetime(times, unit="ns", utc=True), name="timestamp")
    equity = pd.DataFrame([[float(x) for x in r] for r in cum_rows], index=index, columns=list(COMPONENTS))
    eq_float = pd.Series([float(e) for e in eq_rows], index=index)
    equity.insert(0, "equity", eq_float)
    peak = eq_float.cummax().clip(lower=float(start_equity))
    equity.insert(1, "drawdown", (1 - eq_float / peak).where(peak > 0, 0.0))
    pnl = pd.DataFrame([[float(x) for x in r] for r in step_rows], index=index, columns=list(COMPONENTS))
    positions = _frame(pos_rows, index)
    exposures = _frame(exp_rows, index)
    executions = executions_frame(history)
    wall = time.perf_counter() - t_wall
    result = BacktestResult(
        scenario=sc, equity=equity, pnl=pnl, positions=positions, exposures=exposures, executions=executions,
        totals=totals, start_equity=start_equity, end_equity=end_equity, strategies=status, summary={},
        unpriced=sorted(valuer.unpriced), manager=manager,
    )
    result.summary = summarize(result, provider_name=provider.name, failures=failures, wall_seconds=wall,
                               venues=[v["name"] for v in manager.venues()], notes=notes)
    return result


def _items(m: Any) -> Iterable[tuple[str, Any]]:
    """Pairs of a history record's map (a Mapping, or a tuple of pairs in older records)."""
    return m.items() if isinstance(m, Mapping) else m  # type: ignore[no-any-return]


def _frame(rows: list[dict[str, Decimal]], index: pd.DatetimeIndex) -> pd.DataFrame:
    keys: dict[str, None] = {}
    for r in rows:
        for k in r:
            keys.setdefault(k)
    cols = sorted(keys)
    data = [[float(r.get(k, 0)) for k in cols] for r in rows]
    return pd.DataFrame(data, index=index, columns=cols)


def executions_frame(history: Iterable[Any]) -> pd.DataFrame:
    """One row per history record: time, venue, operation, success, status, ids, positions / fees /
    pnl (JSON-ready dicts of strings), error and error field."""
    rows = []
    for r in history:
        rows.append({
            "timestamp": from_ns(r.ts_ns), "venue": r.venue, "operation": r.operation, "success": r.success,
            "status": r.status, "client_id": r.client_id, "order_id": r.order_id,
            "positions": {k: str(v) for k, v in _items(r.positions)},
            "fees": {k: str(v) for k, v in _items(r.fees)},
            "pnl": {k: str(v) for k, v in _items(r.pnl)}, "error": r.error, "error_field": r.error_field,
        })
    cols = ["timestamp", "venue", "operation", "success", "status", "client_id", "order_id", "positions", "fees",
            "pnl", "error", "error_field"]
    return pd.DataFrame(rows, columns=cols)


def _fmt_step(td: pd.Timedelta) -> str:
    secs = int(td.total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if secs and secs % n == 0:
            return f"{secs // n}{unit}"
    return str(td)


def summarize(result: BacktestResult, *, provider_name: str = "", failures: int = 0, wall_seconds: float = 0.0,
              venues: list[str] | None = None, notes: list[str] | None = None) -> dict[str, Any]:
    """The run's summary (JSON-ready): equity, return, annualised return, max drawdown, PnL components."""
    eq = result.equity
    start, end = result.start_equity, result.end_equity
    span_ns = int(eq.index[-1].value - eq.index[0].value) if len(eq) > 1 else 0
    ret = float(end / start - 1) if start > 0 else float("nan")
    if start > 0 and span_ns > 0 and end > 0:
        annual = (float(end / start)) ** (_YEAR_NS / span_ns) - 1
    else:
        annual = float("nan")
    max_dd = float(eq["drawdown"].max()) if len(eq) else 0.0
    hist = result.executions
    instr = hist[hist["operation"].isin(OPERATIONS)] if len(hist) else hist
    steps = len(eq)
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
        "components": {c: float(v) for c, v in result.totals.items()},
        "components_exact": {c: str(v) for c, v in result.totals.items()},
        "start_equity_exact": str(start),
        "end_equity_exact": str(end),
        "executions": len(instr),
        "accruals": int(len(hist) - len(instr)),
        "failed": int((~hist["success"]).sum()) if len(hist) else 0,
        "failed_scheduled": failures,
        "unpriced_keys": list(result.unpriced),
        "notes": list(notes or []),
        "runtime": {"wall_seconds": round(wall_seconds, 3),
                    "steps_per_second": round(steps / wall_seconds, 1) if wall_seconds > 0 else None},
    }


__all__ = ["COMPONENTS", "BacktestResult", "StrategyStatus", "build_market", "executions_frame", "make_manager",
           "run", "step_times", "summarize"]
