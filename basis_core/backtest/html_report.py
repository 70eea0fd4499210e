"""The self-contained interactive HTML report (``report.html``) of a backtest.

One file, no network: plotly's JavaScript bundle is inlined once (``include_plotlyjs=True``), so the report
opens offline, from a mail attachment or a CI artefact. Plotly (the ``report`` extra) was chosen over
hand-written SVG for what a quant expects of an interactive chart: zoom, pan, hover values, legend toggles,
with a well-kept library instead of our own charting code; the price is about 4.5 MB per file.

Charts are SVG traces (no WebGL, which headless and GPU-less browsers lack), every series downsampled to at
most :data:`MAX_POINTS` points (bucket min / max kept for equity and drawdown), so a report takes about the
same time and size whatever the run length:
equity with trade markers and drawdown; cumulative PnL by component; PnL by venue and by strategy;
leverage and net delta as shares of equity; health factor, LTV and margin ratios; funding rates beside the
funding PnL of each venue. Tables: the summary metrics and the first failures with their reasons.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from basis_core.backtest.metrics import downsample, downsample_extremes

if TYPE_CHECKING:
    from basis_core.backtest.runner import BacktestResult

#: most points drawn per series; most trade markers drawn
MAX_POINTS = 2000
MAX_MARKERS = 2000

_TRADES = ("spot_trade", "perp_trade", "swap")


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 100 else f"{v:,.2f}"
    return html.escape(str(v))


def _pct(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * 100:.2f}%"


def _summary_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("period", f"{s['start']} .. {s['end']} ({s['steps']} steps of {s['step']})"),
            ("start equity (USD)", _fmt(s["start_equity"])), ("end equity (USD)", _fmt(s["end_equity"])),
            ("PnL (USD)", _fmt(s["pnl"])), ("return", _pct(s["return"])),
            ("annualised return", _pct(s["annualised_return"])), ("max drawdown", _pct(s["max_drawdown"])),
            ("volatility (annualised)", _pct(s.get("volatility"))), ("Sharpe", _fmt(s.get("sharpe"))),
            ("Sortino", _fmt(s.get("sortino"))), ("Calmar", _fmt(s.get("calmar")))]
    for k, v in s.get("components", {}).items():
        if v:
            rows.append((f"PnL: {k.replace('_', ' ')} (USD)", _fmt(v)))
    for k, v in s.get("pnl_by_venue", {}).items():
        rows.append((f"PnL by venue: {k} (USD)", _fmt(v)))
    for k, v in s.get("pnl_by_strategy", {}).items():
        rows.append((f"PnL by strategy: {k} (USD)", _fmt(v)))
    for k, v in s.get("risk", {}).items():
        rows.append((k.replace("_", " "), _fmt(v)))
    rows.append(("executions / accruals / failed", f"{s['executions']} / {s['accruals']} / {s['failed']}"))
    ann = s.get("annualisation", {})
    if ann:
        rows.append(("annualisation", f"{ann.get('method')}; {ann.get('periods_per_year', 0):,.0f} periods per "
                                      "year; risk-free rate 0"))
    for note in s.get("notes", []):
        rows.append(("note", html.escape(note)))
    return rows


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class='summary'>{body}</table>"


def _failures_table(s: dict[str, Any]) -> str:
    f = s.get("failures", {})
    if not f.get("count"):
        return "<p>No failed instruction.</p>"
    head = "<tr><th>time</th><th>venue</th><th>operation</th><th>strategy</th><th>field</th><th>error</th></tr>"
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(r.get(k)) if r.get(k) is not None else ''}</td>"
                         for k in ("timestamp", "venue", "operation", "strategy", "field", "error")) + "</tr>"
        for r in f.get("first", []))
    by = ", ".join(f"{html.escape(k)}: {v}" for k, v in f.get("by_error", {}).items())
    return f"<p>{f['count']} failed ({by}). The first ones:</p><table class='failures'>{head}{body}</table>"


#: the layout every chart shares
LAYOUT: dict[str, Any] = {"template": "plotly_white", "height": 420, "margin": {"l": 60, "r": 30, "t": 50, "b": 40},
                          "hovermode": "x unified", "legend": {"orientation": "h", "y": -0.15}}


def equity_figure(equity: pd.Series, drawdown: pd.Series, executions: pd.DataFrame | None = None) -> Any:
    """Equity (USD) above its drawdown (a fraction below the running peak), with a marker per trade of the
    executions frame (:func:`basis_core.backtest.runner.executions_frame`) when given; series downsampled."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05)
    e = downsample_extremes(equity, MAX_POINTS)
    fig.add_trace(go.Scatter(x=e.index, y=e.values, name="equity (USD)", line={"color": "#1f4e79"}), 1, 1)
    ex = executions if executions is not None else pd.DataFrame()
    trades = ex[ex["success"] & ex["operation"].isin(_TRADES) & ex["side"].notna()] if len(ex) else ex
    if len(trades):
        shown = downsample(trades, MAX_MARKERS)
        at = equity.reindex(pd.DatetimeIndex(shown["timestamp"]), method="ffill")
        for side, symbol, color in (("buy", "triangle-up", "#2ca02c"), ("sell", "triangle-down", "#d62728"),
                                    ("swap", "diamond", "#9467bd")):
            m = (shown["side"] == side).to_numpy()
            if not m.any():
                continue
            sub = shown[m]
            text = [f"{r['venue']} {r['operation']} {r['symbol']} {side} {r['fill_amount']:g} @ {r['fill_price']:g}"
                    f" ({r['strategy'] if isinstance(r['strategy'], str) else 'scheduled'})"
                    for r in sub.to_dict("records")]
            fig.add_trace(go.Scatter(x=sub["timestamp"], y=at.to_numpy()[m], mode="markers", name=f"{side}s",
                                       marker={"symbol": symbol, "color": color, "size": 8}, text=text,
                                       hoverinfo="text"), 1, 1)
    dd = downsample_extremes(-drawdown, MAX_POINTS)
    fig.add_trace(go.Scatter(x=dd.index, y=dd.values, name="drawdown", fill="tozeroy",
                               line={"color": "#d62728"}), 2, 1)
    fig.update_yaxes(title_text="USD", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".2%", row=2, col=1)
    fig.update_layout(title="Equity, trades and drawdown", **{**LAYOUT, "height": 560})
    return fig


def components_figure(cumulative: pd.DataFrame) -> Any:
    """Cumulative PnL by component (USD): one line per column of ``cumulative`` that is ever non-zero (columns
    ``equity`` and ``drawdown`` are left out), downsampled."""
    import plotly.graph_objects as go

    comps = [c for c in cumulative.columns if c not in ("equity", "drawdown") and (cumulative[c].abs() > 1e-9).any()]
    fig = go.Figure()
    small = downsample(cumulative[comps], MAX_POINTS) if comps else cumulative[[]]
    for c in comps:
        fig.add_trace(go.Scatter(x=small.index, y=small[c], name=c.replace("_", " ")))
    fig.update_layout(title="Cumulative PnL by component (USD)", **LAYOUT)
    return fig


def risk_figure(risk: pd.DataFrame) -> Any:
    """Risk over time: ``leverage`` and ``net_delta`` (shares of equity) when the frame has them, the venues'
    health factor and LTV (``<venue>:health_factor``, ``<venue>:ltv``) and margin ratios
    (``<venue>:margin_ratio:<asset>``), NaN where not sampled; ``corridor:*`` columns are left out; downsampled."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("leverage and net delta (share of equity)", "health factor and LTV",
                                        "margin ratio (maintenance margin / margin balance)"))
    shares = downsample(risk[[c for c in ("leverage", "net_delta") if c in risk]], MAX_POINTS)
    for c in shares.columns:
        fig.add_trace(go.Scatter(x=shares.index, y=shares[c], name=c.replace("_", " ")), 1, 1)
    for c in risk.columns:
        v = risk[c].dropna()
        if c in ("leverage", "net_delta") or c.startswith("corridor:") or not len(v):
            continue
        v = downsample(v, MAX_POINTS)
        row = 3 if ":margin_ratio:" in c else 2
        fig.add_trace(go.Scatter(x=v.index, y=v.values, name=c), row, 1)
    fig.update_layout(title="Risk over time", **{**LAYOUT, "height": 700})
    return fig


def _figures(result: BacktestResult) -> list[tuple[str, Any]]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figs: list[tuple[str, Any]] = []
    eq = result.equity
    layout = LAYOUT
    figs.append(("equity", equity_figure(eq["equity"], eq["drawdown"], result.executions)))
    figs.append(("components", components_figure(eq)))
    ex = result.executions

    # PnL by venue and by strategy
    s = result.summary
    fig = make_subplots(rows=1, cols=2, subplot_titles=("by venue (USD)", "by strategy (USD)"))
    for col, key in ((1, "pnl_by_venue"), (2, "pnl_by_strategy")):
        d = s.get(key) or {}
        fig.add_trace(go.Bar(x=list(d), y=list(d.values()), name=key.replace("_", " "), showlegend=False,
                             marker={"color": ["#2ca02c" if v >= 0 else "#d62728" for v in d.values()]}), 1, col)
    fig.update_layout(title="PnL attribution", **layout)
    figs.append(("attribution", fig))

    # risk over time
    risk = result.risk
    if len(risk):
        figs.append(("risk", risk_figure(risk)))
        if "corridor:eth_price" in risk:  # the joint liquidation corridor around the ETH price
            band = downsample(risk[[c for c in ("corridor:eth_price", "corridor:eth_down_price",
                                                "corridor:eth_up_price") if c in risk]].dropna(how="all"), MAX_POINTS)
            fig = go.Figure()
            for c, name in (("corridor:eth_up_price", "liquidation above"), ("corridor:eth_price", "ETH (oracle)"),
                            ("corridor:eth_down_price", "liquidation below")):
                if c in band:
                    fig.add_trace(go.Scatter(x=band.index, y=band[c], name=name))
            fig.update_layout(title="Risk corridor: ETH prices that liquidate the first leg", **layout)
            figs.append(("corridor", fig))

    # funding rates beside funding PnL
    provider = getattr(result.manager, "data_provider", None)
    fund_names = [n for n in provider.names() if n.startswith("funding:")] if provider is not None else []
    if provider is not None and fund_names and len(eq):
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                            subplot_titles=("funding rate per settlement", "cumulative funding PnL (USD)"))
        t0, t1 = eq.index[0].value, eq.index[-1].value
        for name in fund_names:
            sr = provider.series(name)
            rng = sr.range_from(t0, t1)
            if not len(rng) or "rate" not in sr.columns:
                continue
            idx = pd.to_datetime([sr.times[i] for i in rng], unit="ns", utc=True)
            rate = pd.Series([float(sr.columns["rate"][i]) for i in rng], index=idx)
            rate = downsample(rate, MAX_POINTS)
            fig.add_trace(go.Scatter(x=rate.index, y=rate.values, name=name.removeprefix("funding:")), 1, 1)
        if len(ex):
            funded = ex[ex["success"] & (ex["pnl_funding"] != 0)]
            for venue, rows in funded.groupby("venue"):
                cum = rows.set_index("timestamp")["pnl_funding"].cumsum()
                cum = downsample(cum, MAX_POINTS)
                fig.add_trace(go.Scatter(x=cum.index, y=cum.values, name=f"{venue} funding PnL",
                                           line={"shape": "hv"}), 2, 1)
        fig.update_yaxes(tickformat=".4%", row=1, col=1)
        fig.update_layout(title="Funding: rates and PnL", **{**layout, "height": 560})
        figs.append(("funding", fig))
    return figs


CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 28px; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
table.summary th { background: #f5f5f5; font-weight: 600; }
td { font-variant-numeric: tabular-nums; }
.chart { margin-top: 12px; }
"""


def chart_divs(figures: list[tuple[str, Any]], include_plotlyjs: bool = True) -> list[str]:
    """One ``<div class='chart' data-chart=NAME>`` per ``(name, figure)``, the plot's div id ``chart-NAME``;
    plotly's JavaScript inlined once, in the first (``include_plotlyjs``; else the page loads it itself)."""
    import plotly.io as pio

    parts = []
    for i, (name, fig) in enumerate(figures):
        div = pio.to_html(fig, include_plotlyjs=include_plotlyjs and i == 0, full_html=False, div_id=f"chart-{name}",
                          config={"displaylogo": False, "responsive": True})
        parts.append(f"<div class='chart' data-chart='{name}'>{div}</div>")
    return parts


def render_html(result: BacktestResult) -> str:
    """The report as one HTML document (plotly's JavaScript inlined; no network access needed)."""

    s = result.summary
    parts = chart_divs(_figures(result), include_plotlyjs=True)
    title = f"backtest: {html.escape(str(s['scenario']))}"
    warn = "<p><strong>Partial report: the run was interrupted.</strong></p>" if s.get("interrupted") else ""
    data = html.escape(json.dumps({"scenario": s["scenario"], "charts": len(parts)}))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{CSS}</style></head><body data-report='{data}'><h1>{title}</h1>{warn}"
            f"<h2>Summary</h2>{_table(_summary_rows(s))}<h2>Failures</h2>{_failures_table(s)}"
            f"<h2>Charts</h2>{''.join(parts)}</body></html>")


def write_html(result: BacktestResult, path: str | Path) -> Path:
    """Write :func:`render_html` to ``path``; return the path."""
    p = Path(path)
    p.write_text(render_html(result), encoding="utf-8")
    return p


__all__ = ["CSS", "LAYOUT", "MAX_MARKERS", "MAX_POINTS", "chart_divs", "components_figure", "equity_figure",
           "render_html", "risk_figure", "write_html"]
