"""Backtest reports: a rich summary table, ``summary.json``, ``history`` / ``executions`` (parquet or
csv; executions as a tidy frame of typed columns), ``equity.png`` (equity with the PnL components stacked
beneath), ``positions.png`` and the interactive ``report.html`` (:mod:`basis_core.backtest.html_report`,
needs plotly: ``pip install 'basis-execution[report]'``).

Charts use matplotlib's Agg canvas directly (no pyplot, no global backend change in host apps) and are
downsampled (at most a few thousand points per series), so writing a report takes seconds whatever the
run length. Charts, parquet and ``report.html`` need the ``report`` extra: without it the report is
``summary.json`` and csv history, and :func:`report_extra_note` says what was left out.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from basis_core.backtest.metrics import downsample

if TYPE_CHECKING:
    from rich.table import Table

    from basis_core.backtest.runner import BacktestResult

log = logging.getLogger(__name__)

#: display names of the PnL components (report order)
COMPONENT_LABELS: dict[str, str] = {
    "price": "price",
    "funding": "funding",
    "staking_yield": "staking yield",
    "lending_interest": "lending interest earned",
    "borrow_interest": "borrowing interest paid",
    "trading_fees": "trading fees",
    "slippage": "slippage",
    "price_impact": "price impact",
    "gas": "gas",
    "liquidation": "liquidation",
    "flash_loan_fee": "flash-loan fees",
}

_STABLE = ("USDT", "USDC", "DAI", "USD", "USDS", "FDUSD")
#: most points per series in the PNG charts
_MAX_POINTS = 4000

#: import name -> what needs it: the modules the ``report`` extra installs (the one place for report dependencies)
REPORT_EXTRA_MODULES: dict[str, str] = {"matplotlib": "charts", "pyarrow": "parquet history", "plotly": "report.html"}


def missing_report_modules() -> list[str]:
    """Import names of :data:`REPORT_EXTRA_MODULES` that are not installed (empty with ``[report]``)."""
    import importlib.util

    return [name for name in REPORT_EXTRA_MODULES if importlib.util.find_spec(name) is None]


def report_extra_note(parquet: bool = True, html: bool = True) -> str | None:
    """One line telling how to get what the report left out (charts; parquet history and ``report.html`` when
    asked for), or None when nothing was left out."""
    missing = [m for m in missing_report_modules() if (parquet or m != "pyarrow") and (html or m != "plotly")]
    if not missing:
        return None
    what = ", ".join(REPORT_EXTRA_MODULES[m] for m in missing)
    return (f"{what} not written ({', '.join(missing)} not installed): "
            "pip install 'basis-execution[report]'")


def _usd(x: float) -> str:
    return f"{x:,.2f}"


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x * 100:.2f}%"


def summary_table(summary: dict[str, Any]) -> Table:
    """A rich table of the summary: equity, return, annualised return, max drawdown, PnL components."""
    from rich.table import Table

    t = Table(title=f"backtest: {summary['scenario']}  ({summary['start']} .. {summary['end']}, "
                    f"{summary['steps']} steps)", title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("start equity (USD)", _usd(summary["start_equity"]))
    t.add_row("end equity (USD)", _usd(summary["end_equity"]))
    t.add_row("PnL (USD)", _usd(summary["pnl"]))
    t.add_row("return", _pct(summary["return"]))
    t.add_row("annualised return", _pct(summary["annualised_return"]))
    t.add_row("max drawdown", _pct(summary["max_drawdown"]))
    if "sharpe" in summary:
        t.add_row("volatility (annualised)", _pct(summary["volatility"]))
        for k in ("sharpe", "sortino", "calmar"):
            v = summary[k]
            t.add_row(k.capitalize(), "n/a" if v is None else f"{v:.2f}")
    t.add_section()
    comps = summary["components"]
    for c, label in COMPONENT_LABELS.items():
        if c in comps and (c in ("price", "funding", "trading_fees") or comps[c] != 0):
            t.add_row(f"  {label} (USD)", _usd(comps[c]))
    t.add_section()
    active = [s["name"] for s in summary["strategies"] if s["active"]]
    skipped = [f"{s['name']} ({s['reason']})" for s in summary["strategies"] if not s["active"]]
    t.add_row("strategies", ", ".join(active) or "none")
    if skipped:
        t.add_row("skipped", "; ".join(skipped))
    t.add_row("venues", ", ".join(summary["venues"]) or "none")
    t.add_row("executions / accruals / failed",
              f"{summary['executions']} / {summary['accruals']} / {summary['failed']}")
    for f in summary.get("failures", {}).get("first", [])[:3]:
        who = f" ({f['strategy']})" if f.get("strategy") else ""
        t.add_row("failed", f"{f['timestamp']} {f['venue']} {f['operation']}{who}: {f['error']}")
    for note in summary.get("notes", []):
        t.add_row("note", note)
    if summary.get("unpriced_keys"):
        t.add_row("not valued (0)", ", ".join(summary["unpriced_keys"]))
    rt = summary.get("runtime", {})
    if rt.get("wall_seconds") is not None:
        t.add_row("wall time", f"{rt['wall_seconds']:.2f} s ({rt.get('steps_per_second')} steps/s)")
    return t


def history_frame(result: BacktestResult) -> pd.DataFrame:
    """Per-step history: equity, drawdown, cumulative components, ``pos:<key>`` balances, ``usd:<key>``."""
    pos = result.positions.add_prefix("pos:")
    usd = result.exposures.add_prefix("usd:")
    return pd.concat([result.equity, pos, usd], axis=1)


def write_report(result: BacktestResult, out_dir: str | Path, fmt: str | None = None,
                 charts: bool = True, html: bool = True) -> dict[str, Path]:
    """Write the report files into ``out_dir`` (created); return name -> path.

    ``html``: also ``report.html``. Without the ``report`` extra, history is written as csv and the charts /
    ``report.html`` are left out (:func:`report_extra_note` says what and how to get them)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fmt = fmt or result.scenario.report.history_format
    files: dict[str, Path] = {}
    files["summary"] = out / "summary.json"
    files["summary"].write_text(json.dumps(result.summary, indent=2, default=str) + "\n", encoding="utf-8")
    hist = history_frame(result)
    ex = result.executions
    if fmt == "parquet":
        try:
            files["history"] = out / "history.parquet"
            hist.to_parquet(files["history"])
            files["executions"] = out / "executions.parquet"
            ex.to_parquet(files["executions"])
        except ImportError:  # no pyarrow / fastparquet: fall back to csv
            log.info("parquet support is not installed; writing csv")
            fmt = "csv"
    if fmt == "csv":
        files["history"] = out / "history.csv"
        hist.to_csv(files["history"])
        files["executions"] = out / "executions.csv"
        ex.to_csv(files["executions"], index=False)
    if charts and "matplotlib" in missing_report_modules():
        log.info("matplotlib is not installed; no charts")
        charts = False
    if charts:
        files["equity"] = out / "equity.png"
        plot_equity(result, files["equity"])
        files["positions"] = out / "positions.png"
        plot_positions(result, files["positions"])
    if html:
        try:
            import plotly  # noqa: F401
        except ImportError:
            log.info("plotly is not installed: no report.html (pip install 'basis-execution[report]')")
        else:
            from basis_core.backtest.html_report import write_html

            files["html"] = write_html(result, out / "report.html")
    return files


# -- charts --------------------------------------------------------------------------------------------
def _figure(rows: int, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _usd_axis(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.grid(True, alpha=0.3)


def plot_equity(result: BacktestResult, path: str | Path) -> None:
    """Equity curve (USD) above the cumulative PnL components stacked (gains up, costs down)."""
    eq = downsample(result.equity, _MAX_POINTS)
    fig = _figure(2, 8)
    gs = fig.add_gridspec(2, 1, height_ratios=[1, 1.2])
    ax1 = fig.add_subplot(gs[0])
    ax2 = fig.add_subplot(gs[1], sharex=ax1)
    s = result.summary
    ax1.plot(eq.index, eq["equity"], color="#1f4e79", lw=1.4, label="equity")
    ax1.axhline(float(result.start_equity), color="grey", lw=0.8, ls="--", label="start equity")
    ax1.set_ylabel("equity (USD)")
    ax1.set_title(f"{s['scenario']}: equity {_usd(s['start_equity'])} -> {_usd(s['end_equity'])} USD, "
                  f"return {_pct(s['return'])} (annualised {_pct(s['annualised_return'])}), "
                  f"max drawdown {_pct(s['max_drawdown'])}", fontsize=10)
    ax1.legend(loc="upper left", fontsize=8)
    _usd_axis(ax1)

    comps = [c for c in COMPONENT_LABELS if c in eq.columns and (eq[c].abs() > 1e-9).any()]
    colors = {"price": "#7f7f7f", "funding": "#2ca02c", "staking_yield": "#17becf", "lending_interest": "#bcbd22",
              "borrow_interest": "#d62728", "trading_fees": "#ff7f0e", "slippage": "#9467bd",
              "price_impact": "#8c564b", "gas": "#e377c2", "liquidation": "#000000", "flash_loan_fee": "#aec7e8"}
    x = eq.index
    pos_base = pd.Series(0.0, index=x)
    neg_base = pd.Series(0.0, index=x)
    for c in comps:
        v = eq[c]
        up = v.clip(lower=0)
        dn = v.clip(upper=0)
        label = f"{COMPONENT_LABELS[c]} ({_usd(float(v.iloc[-1]))})"
        if (up > 0).any():
            ax2.fill_between(x, pos_base, pos_base + up, color=colors.get(c), alpha=0.75, lw=0, label=label)
            pos_base = pos_base + up
            label = "_nolegend_"
        if (dn < 0).any():
            ax2.fill_between(x, neg_base, neg_base + dn, color=colors.get(c), alpha=0.75, lw=0, label=label)
            neg_base = neg_base + dn
    ax2.plot(x, eq["equity"] - float(result.start_equity), color="black", lw=1.0, label="total PnL")
    ax2.axhline(0, color="black", lw=0.5)
    ax2.set_ylabel("cumulative PnL by component (USD)")
    ax2.set_xlabel("time (UTC)")
    ax2.legend(loc="upper left", fontsize=8, ncol=2)
    _usd_axis(ax2)
    fig.savefig(path)


def plot_positions(result: BacktestResult, path: str | Path) -> None:
    """USD exposure of every position over time, and the net exposure to non-stable assets (delta)."""
    ex = downsample(result.exposures, _MAX_POINTS)
    fig = _figure(2, 7)
    gs = fig.add_gridspec(2, 1, height_ratios=[1.4, 1])
    ax1 = fig.add_subplot(gs[0])
    ax2 = fig.add_subplot(gs[1], sharex=ax1)
    cols = [c for c in ex.columns if (ex[c].abs() > 1e-6).any()]
    for c in cols:
        ax1.plot(ex.index, ex[c], lw=1.1, label=c)
    ax1.axhline(0, color="black", lw=0.5)
    ax1.set_ylabel("exposure (USD)\nperps: size x mark")
    ax1.set_title(f"{result.summary['scenario']}: positions by instrument key", fontsize=10)
    if cols:
        ax1.legend(loc="upper left", fontsize=7, ncol=2)
    _usd_axis(ax1)
    risky = [c for c in cols if c.split(":")[1] == "perp" or c.split(":", 2)[2] not in _STABLE]
    net = ex[risky].sum(axis=1) if risky else pd.Series(0.0, index=ex.index)
    ax2.plot(ex.index, net, color="#d62728", lw=1.1, label="net exposure to non-stable assets")
    ax2.axhline(0, color="black", lw=0.5)
    ax2.set_ylabel("net delta (USD)")
    ax2.set_xlabel("time (UTC)")
    ax2.legend(loc="upper left", fontsize=8)
    _usd_axis(ax2)
    fig.savefig(path)


__all__ = ["COMPONENT_LABELS", "REPORT_EXTRA_MODULES", "history_frame", "missing_report_modules", "plot_equity",
           "plot_positions", "report_extra_note", "summary_table", "write_report"]
