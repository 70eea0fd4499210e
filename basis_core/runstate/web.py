"""``basis status STATE_DIR --serve PORT``: the status of a run as a read-only local web page.

:class:`StatusServer` (stdlib ``http.server``, one thread per request) binds to 127.0.0.1 only and answers
``GET`` / ``HEAD`` of four routes, each reading the state folder read-only at the time of the request:

- ``/``: the page: the run, equity and PnL since start split by component, positions by venue valued in USD,
  health factor and margin ratios, open orders, intents in doubt, recent failures, and the charts of equity /
  drawdown, cumulative PnL by component and risk over time (plotly, the backtest report's own figures,
  :mod:`basis_core.backtest.html_report`). It refreshes itself every ``refresh`` seconds without reloading: its
  script fetches ``/api/view`` and redraws the tables and charts in place;
- ``/api/status``: :meth:`basis_core.runstate.view.RunStatus.to_dict` as JSON (what ``basis status --json`` prints);
- ``/api/view``: the page's tables (HTML) and figures (plotly JSON), for the refresh;
- ``/plotly.min.js``: plotly's bundle, served from the installed package (the page needs no internet).

Nothing changes anything: every other method is refused (405) and no route writes. Needs plotly (the ``report``
extra).
"""

from __future__ import annotations

import html
import json
import logging
import math
import threading
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from basis_core.errors import BasisError
from basis_core.runstate.view import RECENT, RunStatus, read_history, read_risk_history, read_status

log = logging.getLogger(__name__)

#: seconds between the page's refreshes
REFRESH_SECONDS = 5.0

_PAGE_CSS = """
.unhedged { color: #fff; background: #d62728; padding: 6px 10px; }
.state { color: #555; } .running { color: #2ca02c; font-weight: 600; } .stopped { color: #d62728; }
.num { text-align: right; } .venue-total th { background: #f0f4f8; } .grid { display: flex; gap: 24px;
flex-wrap: wrap; align-items: flex-start; } #updated { color: #777; font-size: 0.85em; }
"""


def _usd(v: Any) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return html.escape(str(v))
    if math.isnan(x) or math.isinf(x):
        return "n/a"
    return f"{x:,.2f}"


def _num(v: Any) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return html.escape(str(v))
    return f"{x:,.6g}" if abs(x) < 1e6 else f"{x:,.2f}"


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    """An HTML table; cells are given already escaped."""
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table class='{cls}'><tr>{h}</tr>{body}</table>"


def _esc(v: Any) -> str:
    return "" if v is None else html.escape(str(v))


def render_tables(st: RunStatus) -> str:
    """The page's tables for ``st`` (HTML fragment; every value escaped)."""
    from basis_core.backtest.report import COMPONENT_LABELS

    state = ("<span class='running'>running</span>" if st.running else
             f"<span class='stopped'>stopped</span> ({_esc((st.stopped or {}).get('reason'))})")
    run = [("scenario", _esc(st.scenario)), ("mode", _esc(st.mode)), ("state", state),
           ("started", _esc(st.started.isoformat() if st.started else "")),
           ("last step", _esc(st.last_step.isoformat() if st.last_step else "none yet")),
           ("steps / runs", f"{st.steps} / {st.runs}"),
           ("start equity (USD)", _usd(st.start_equity)), ("equity (USD)", _usd(st.equity)),
           ("PnL since start (USD)", _usd(st.pnl_total))]
    run_t = "<table class='summary' id='run'>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in run) + \
        "</table>"
    pnl_t = _table(["component", "USD"], [(html.escape(COMPONENT_LABELS.get(c, c)), _usd(v))
                                           for c, v in st.pnl.items() if v or c in ("price", "funding")], "pnl")
    pos_rows: list[list[str]] = []
    for book in st.venues:
        pos_rows.append([f"<strong>{_esc(book.venue)}</strong>", "", "", f"<strong>{_usd(book.value_usd)}</strong>",
                         ""])
        for p in book.positions:
            pos_rows.append(["", _esc(p.key), _num(p.amount), _usd(p.value_usd), _usd(p.exposure_usd)])
    positions = _table(["venue", "position", "amount", "value (USD)", "exposure (USD)"], pos_rows, "positions") \
        if pos_rows else "<p>No positions.</p>"
    risk = _table(["metric", "value"], [(_esc(k), _num(v)) for k, v in sorted(st.risk.items())], "risk") \
        if st.risk else "<p>No health factor or margin ratio reported (no debt, no perp margin).</p>"
    orders = _table(["venue", "order id", "client id", "symbol", "side", "amount", "price", "filled"],
                    [[_esc(o.get(k)) for k in ("venue", "order_id", "client_id", "symbol", "side", "amount",
                                               "price", "filled")] for o in st.open_orders], "orders") \
        if st.open_orders else "<p>No open order.</p>"
    doubt = _table(["venue", "operation", "client id", "status", "since"],
                   [[_esc(d.get(k)) for k in ("venue", "operation", "client_id", "status", "since")]
                    for d in st.in_doubt], "in-doubt") if st.in_doubt else "<p>None.</p>"
    fails = _table(["time", "venue", "operation", "client id", "error", "source"],
                   [[_esc(f.get(k)) for k in ("timestamp", "venue", "operation", "client_id", "error", "source")]
                    for f in st.failures], "failures") if st.failures else "<p>No failure.</p>"
    errors = "".join(f"<p class='stopped'>{_esc(v)}: {_esc(e)}</p>" for v, e in sorted(st.errors.items()))
    unhedged = "".join(f"<p class='unhedged'><strong>UNHEDGED:</strong> {_esc(u)}</p>" for u in st.unhedged)
    events = _table(["time", "kind", "message"], [[_esc(e.get(k)) for k in ("at", "kind", "message")]
                                                  for e in st.events], "events") if st.events else "<p>None.</p>"
    return (f"{unhedged}<div class='grid'><div><h2>Run</h2>{run_t}</div><div><h2>PnL since start</h2>{pnl_t}</div>"
            f"<div><h2>Health factor and margin ratio</h2>{risk}</div></div>"
            f"<h2>Positions by venue</h2>{errors}{positions}<h2>Open orders</h2>{orders}"
            f"<h2>Intents in doubt (journal)</h2>{doubt}<h2>Recent failures</h2>{fails}"
            f"<h2>Runner events</h2>{events}")


def figures(state_dir: str | Path) -> list[tuple[str, Any]]:
    """The page's charts, the backtest report's figures: equity with drawdown, cumulative PnL by component, and
    risk over time (leverage, net delta, health factor, margin ratios)."""
    from basis_core.backtest.html_report import components_figure, equity_figure, risk_figure

    hist = read_history(state_dir)
    eq = hist["equity"]
    peak = eq.cummax()
    drawdown = (1 - eq / peak).where(peak > 0, 0.0)
    return [("equity", equity_figure(eq, drawdown)), ("components", components_figure(hist)),
            ("risk", risk_figure(read_risk_history(state_dir)))]


def render_page(state_dir: str | Path, refresh: float = REFRESH_SECONDS, recent: int = RECENT) -> str:
    """The whole page (its script refreshes it from ``/api/view`` every ``refresh`` seconds)."""
    from basis_core.backtest.html_report import CSS, chart_divs

    st = read_status(state_dir, recent=recent)
    charts = "".join(chart_divs(figures(state_dir), include_plotlyjs=False))
    title = f"basis status: {html.escape(st.scenario or str(state_dir))}"
    script = _SCRIPT.replace("__REFRESH_MS__", str(int(refresh * 1000)))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<link rel='icon' href='data:,'><style>{CSS}{_PAGE_CSS}</style>"
            f"<script src='/plotly.min.js'></script></head><body><h1>{title}</h1>"
            f"<p id='updated' data-refreshes='0'>as of {html.escape(str(st.last_step or ''))}</p>"
            f"<div id='tables'>{render_tables(st)}</div><h2>Charts</h2><div id='charts'>{charts}</div>"
            f"<script>{script}</script></body></html>")


def view_json(state_dir: str | Path, recent: int = RECENT) -> dict[str, Any]:
    """``/api/view``: the tables' HTML and each chart's plotly JSON (``{"data": ..., "layout": ...}``)."""
    st = read_status(state_dir, recent=recent)
    return {"tables": render_tables(st), "as_of": str(st.last_step or ""),
            "figures": {name: json.loads(fig.to_json()) for name, fig in figures(state_dir)}}


_SCRIPT = """
(function () {
  var n = 0;
  function refresh() {
    fetch('/api/view', {cache: 'no-store'}).then(function (r) {
      if (!r.ok) { throw new Error('status ' + r.status); }
      return r.json();
    }).then(function (v) {
      document.getElementById('tables').innerHTML = v.tables;
      Object.keys(v.figures).forEach(function (name) {
        var div = document.getElementById('chart-' + name);
        if (div) { Plotly.react(div, v.figures[name].data, v.figures[name].layout); }
      });
      n += 1;
      var u = document.getElementById('updated');
      u.textContent = 'as of ' + v.as_of + ' (refreshed ' + new Date().toISOString() + ')';
      u.setAttribute('data-refreshes', String(n));
    }).catch(function (e) {
      document.getElementById('updated').textContent = 'refresh failed: ' + e.message;
    });
  }
  setInterval(refresh, __REFRESH_MS__);
})();
"""


class _Handler(BaseHTTPRequestHandler):
    server: StatusServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("status page: " + format, *args)

    def _send(self, code: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        srv = self.server
        path = self.path.split("?", 1)[0]
        try:
            if path == "/":
                body = render_page(srv.state_dir, srv.refresh, srv.recent).encode()
                self._send(200, body, "text/html; charset=utf-8")
            elif path == "/api/status":
                data = read_status(srv.state_dir, recent=srv.recent).to_dict()
                self._send(200, json.dumps(data, indent=1).encode(), "application/json")
            elif path == "/api/view":
                self._send(200, json.dumps(view_json(srv.state_dir, srv.recent)).encode(), "application/json")
            elif path == "/plotly.min.js":
                self._send(200, srv.plotly_js(), "text/javascript; charset=utf-8", cache=True)
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")
        except BasisError as exc:
            self._send(503, f"{type(exc).__name__}: {exc}\n".encode(), "text/plain; charset=utf-8")

    do_HEAD = do_GET

    def _refuse(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse


class StatusServer(ThreadingHTTPServer):
    """The read-only status page of ``state_dir`` on ``http://127.0.0.1:port/`` (``port`` 0: any free port;
    :attr:`url` says which). Serve with :meth:`serve_forever`; stop with :meth:`shutdown` from another thread."""

    daemon_threads = True

    def __init__(self, state_dir: str | Path, port: int = 0, *, refresh: float = REFRESH_SECONDS,
                 recent: int = RECENT) -> None:
        read_status(state_dir)  # a folder that is not a state folder fails here, before anything listens
        self.state_dir = Path(state_dir)
        self.refresh = refresh
        self.recent = recent
        self._js: bytes | None = None
        self._js_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def plotly_js(self) -> bytes:
        """plotly's JavaScript bundle (from the installed plotly package; read once)."""
        with self._js_lock:
            if self._js is None:
                from plotly.offline import get_plotlyjs

                self._js = get_plotlyjs().encode()
            return self._js


__all__ = ["REFRESH_SECONDS", "StatusServer", "figures", "render_page", "render_tables", "view_json"]
