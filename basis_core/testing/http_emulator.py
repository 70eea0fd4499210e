"""A small threaded HTTP server base for protocol-faithful venue emulators, with fault injection.

A venue emulator subclasses :class:`EmulatorServer` and implements two methods:

- ``route_key(method, path, body, query) -> str``: the key faults are injected under, e.g.
  ``"POST /api/v3/order"`` (Binance) or ``"POST /exchange:order"`` (Hyperliquid);
- ``handle(method, path, query, headers, body) -> (status, headers, body)``: answer one request.
  The base calls ``handle`` while holding ``self.lock`` (an ``RLock``), so emulator state needs no
  locking of its own; tests may take ``self.lock`` too to read state consistently. Inside
  ``handle``, :meth:`EmulatorServer.raw_query` gives the undecoded query string (for signatures).

Faults (:class:`Fault`, injected through ``server.faults``) are applied by the base around ``handle``:

===========================  ==========================================================================
``drop_after_accept``        ``handle`` runs (state changes: the order exists), then the connection is
                             closed without an answer. A client sees a dropped connection.
``delay``                    sleep ``delay_s`` (outside the lock), then handle and answer normally. A
                             client with a shorter timeout sees a timeout; the request still takes
                             effect.
``http_429``                 answer 429 without calling ``handle`` (body from :meth:`fault_response`,
                             Binance-like ``{"code": -1003, ...}`` by default, header ``Retry-After``).
``http_418``                 answer 418 (IP ban) without calling ``handle``; same body shape.
``http_5xx``                 answer ``status`` (default 503) without calling ``handle``, body
                             ``{"code": -1001, ...}`` by default.
``venue_error``              answer ``payload`` as JSON with ``status`` without calling ``handle``.
``clock_skew``               ``handle`` runs with :meth:`now_ms` shifted by ``skew_ms`` for that
                             request.
``http_5xx_after_place``     ``handle`` runs (the order exists), then the ``http_5xx`` answer: Binance
                             documents 5xx as "execution status unknown" (it may have happened).
``venue_error_after_place``  ``handle`` runs, then ``payload`` is answered with ``status`` (e.g.
                             Binance -1007 "... execution status unknown" after the order was placed).
``reset_before_place``       the connection is reset (RST: ``SO_LINGER`` 0, then close) without calling
                             ``handle``. A client sees ``ECONNRESET``; nothing happened.
``reset_after_place``        ``handle`` runs (the order exists), then the connection is reset (RST).
===========================  ==========================================================================

``http_5xx`` / ``venue_error`` / ``reset_before_place`` never change state; ``drop_after_accept``,
``*_after_place`` and ``delay`` always do: a client cannot tell the two families apart by the answer.

Each fault applies to ``times`` matching requests, in injection order per route. The route ``"*"``
matches every request; a fault injected for the exact route is taken before a ``"*"`` one.
A persistent clock offset for all requests is :attr:`EmulatorServer.clock_skew_ms`.

Ordering late requests without racing the clock: a ``delay`` fault with ``until`` (a ``threading.Event``) holds
its request until the event is set (``delay_s`` is then only a safety cap, default 60 s); any fault with
``handled`` sets that event once ``handle`` has run for its request and ``request_log`` holds it. Injecting
``Fault("delay", until=ev)`` and then ``Fault("delay", handled=ev)`` on one route makes the first request take
effect right after the second, however loaded the machine (a fixed ``delay_s`` only makes that likely).

A replayed market (:mod:`basis_core.testing.replay`): a subclass names the series it follows
(:meth:`EmulatorServer.replay_wanted`) and applies each event (:meth:`EmulatorServer.on_replay_event`);
:meth:`EmulatorServer.attach_replay` starts following a market and ``handle`` calls
:meth:`EmulatorServer.replay_step` (under the lock) before it answers. An emulator with a replay also answers
``GET`` / ``POST /_emulator/replay`` to read and steer its clock (pause, resume, speed, seek) from another process.

The server listens on 127.0.0.1 and an ephemeral port (or a fixed ``port``), serves in a daemon
thread, speaks HTTP/1.1 keep-alive with Nagle's algorithm disabled (otherwise each call stalls
~40 ms), and logs through :mod:`logging`. It never logs request bodies or headers (they may carry
keys); subclasses choose what goes into :attr:`EmulatorServer.request_log` via
:meth:`EmulatorServer.loggable_params`.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from basis_core.data.provider import DataProvider
    from basis_core.testing.replay import FundingPrediction, MarketReplay, ReplayClock, ReplayEvent

log = logging.getLogger(__name__)

FaultKind = Literal[
    "drop_after_accept", "delay", "http_429", "http_418", "http_5xx", "venue_error", "clock_skew",
    "http_5xx_after_place", "venue_error_after_place", "reset_before_place", "reset_after_place",
]

FAULT_KINDS: tuple[str, ...] = (
    "drop_after_accept",
    "delay",
    "http_429",
    "http_418",
    "http_5xx",
    "venue_error",
    "clock_skew",
    "http_5xx_after_place",
    "venue_error_after_place",
    "reset_before_place",
    "reset_after_place",
)

#: Faults answered without calling ``handle`` (nothing happens at the venue).
_ANSWER_ONLY = frozenset({"http_429", "http_418", "http_5xx", "venue_error"})
#: Faults that call ``handle`` and then answer as the fault kind named here.
_ANSWER_AFTER = {"http_5xx_after_place": "http_5xx", "venue_error_after_place": "venue_error"}

ANY_ROUTE = "*"
#: Emulator control of a replayed market (see :meth:`EmulatorServer._replay_control`); not a venue path.
REPLAY_CONTROL_PATH = "/_emulator/replay"


@dataclass
class Fault:
    """One injected fault; see the module docstring for what each kind does."""

    kind: FaultKind
    times: int = 1  # how many matching requests it applies to
    delay_s: float = 0.0  # "delay": seconds slept before answering
    status: int = 503  # "http_5xx*" and "venue_error*": the HTTP status answered
    payload: dict[str, Any] | None = None  # "venue_error*": the JSON body answered
    skew_ms: int = 0  # "clock_skew": offset of now_ms() while handling the request
    until: threading.Event | None = None  # "delay": hold the request until set (delay_s: a cap, 60 s if 0)
    handled: threading.Event | None = None  # set once handle() has run (and request_log has it) for its request

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.times < 1:
            raise ValueError("times must be >= 1")


class FaultPlan:
    """Faults waiting per route key; thread-safe. ``take`` consumes one application of a fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, deque[Fault]] = {}
        self._left: dict[int, int] = {}

    def inject(self, route: str, fault: Fault) -> None:
        """Queue ``fault`` for the next ``fault.times`` requests on ``route`` (``"*"``: any route)."""
        with self._lock:
            self._faults.setdefault(route, deque()).append(fault)
            self._left[id(fault)] = fault.times

    def take(self, route: str) -> Fault | None:
        """The fault to apply to a request on ``route`` (exact route first, then ``"*"``), or None."""
        with self._lock:
            for key in (route, ANY_ROUTE):
                q = self._faults.get(key)
                if not q:
                    continue
                fault = q[0]
                left = self._left[id(fault)] - 1
                if left <= 0:
                    q.popleft()
                    del self._left[id(fault)]
                else:
                    self._left[id(fault)] = left
                return fault
            return None

    def pending(self) -> dict[str, list[tuple[str, int]]]:
        """Snapshot: route -> [(kind, applications left)]."""
        with self._lock:
            return {r: [(f.kind, self._left[id(f)]) for f in q] for r, q in self._faults.items() if q}

    def clear(self) -> None:
        """Drop every waiting fault."""
        with self._lock:
            self._faults.clear()
            self._left.clear()


@dataclass(frozen=True)
class RequestRecord:
    """One request as seen by the emulator (no secrets: ``params`` comes from ``loggable_params``)."""

    method: str
    path: str
    route: str
    params: Mapping[str, str] = field(default_factory=dict)
    fault: str | None = None
    status: int | None = None  # None when the connection was dropped


Response = tuple[int, dict[str, str], bytes]


def json_response(status: int, obj: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer: ``(status, headers, body)``."""
    h = {"Content-Type": "application/json;charset=UTF-8"}
    if headers:
        h.update(headers)
    return status, h, json.dumps(obj, separators=(",", ":")).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def _serve(self) -> None:
        self.server.owner._dispatch(self)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
    do_PATCH = _serve
    do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], owner: EmulatorServer) -> None:
        self.owner = owner
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class EmulatorServer:
    """Base of the venue emulators: serving, fault injection, a request log and a skewable clock.

    Subclasses implement :meth:`route_key` and :meth:`handle` (and, to follow a replayed market,
    :meth:`replay_wanted` and :meth:`on_replay_event`). Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    #: what a market without any followed series lacks, for :meth:`attach_replay`'s error ("no <this> (looked for ...)")
    replay_subject = "price series for any symbol"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.faults = FaultPlan()
        self.lock = threading.RLock()
        self.request_log: list[RequestRecord] = []
        self.clock_skew_ms: int = 0  # persistent offset of now_ms(), on top of clock_skew faults
        self._host = host
        self._port = port
        self._local = threading.local()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.replay: MarketReplay | None = None  # the price path followed (attach_replay), if any
        #: every funding settlement of a replay, oldest first (rows of the subclass: market time (ns), wall time (ms),
        #: rate, mark, ...)
        self.funding_settlements: list[dict[str, Any]] = []

    # -- to implement ------------------------------------------------------------------------
    def route_key(self, method: str, path: str, body: bytes, query: dict[str, str]) -> str:
        """The fault-injection key of a request; default ``"METHOD /path"``."""
        return f"{method} {path}"

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> Response:
        """Answer one request: ``(status, headers, body)``. Called with ``self.lock`` held."""
        raise NotImplementedError

    def loggable_params(self, method: str, path: str, query: dict[str, str], body: bytes) -> dict[str, str]:
        """What of a request goes into :attr:`request_log` (must exclude secrets); default nothing."""
        return {}

    def fault_response(self, fault: Fault) -> Response:
        """The answer of a status fault (429 / 418 / 5xx / venue_error); Binance-like by default."""
        if fault.kind == "http_429":
            return json_response(
                429,
                {"code": -1003, "msg": "Too many requests; current limit is exceeded. (emulated)"},
                {"Retry-After": "1"},
            )
        if fault.kind == "http_418":
            banned_until = self.now_ms() + 120_000
            return json_response(
                418,
                {"code": -1003, "msg": f"Way too many requests; IP banned until {banned_until}. (emulated)"},
                {"Retry-After": "120"},
            )
        if fault.kind == "http_5xx":
            return json_response(
                fault.status,
                {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
            )
        if fault.kind == "venue_error":
            return json_response(fault.status, fault.payload or {})
        raise ValueError(f"{fault.kind} has no fixed response")

    def replay_wanted(self) -> dict[str, tuple[Literal["price", "funding"], list[str]]]:
        """The feeds a replay follows: ``{event key: (kind, candidate series names)}``
        (:func:`~basis_core.testing.replay.feeds_for`)."""
        raise NotImplementedError

    def on_replay_event(self, ev: ReplayEvent) -> None:
        """Apply one replay event (a new price, a funding settlement). Called with ``self.lock`` held."""
        raise NotImplementedError

    def raw_query(self) -> str:
        """The undecoded query string of the request being handled (for signature checks), else ``""``."""
        return str(getattr(self._local, "raw_query", ""))

    # -- clock --------------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Wall clock in ms since the epoch, plus :attr:`clock_skew_ms` and any active clock_skew fault."""
        return int(time.time() * 1000) + self.clock_skew_ms + getattr(self._local, "skew_ms", 0)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        """Bind, serve in a daemon thread and return the base URL ``http://127.0.0.1:PORT``."""
        if self._server is not None:
            return self.base_url
        self._server = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self._server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        log.info("%s listening on %s", type(self).__name__, self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving, close the listening socket and any open keep-alive connections."""
        srv, self._server = self._server, None
        if srv is None:
            return
        srv.shutdown()
        srv.server_close()
        srv.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        log.info("%s stopped", type(self).__name__)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        return f"http://{self._host}:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- replayed market ----------------------------------------------------------------------
    def attach_replay(self, market: DataProvider, *, speed: float = 1.0, start: int | str | None = None,
                      clock: ReplayClock | None = None,
                      funding_prediction: FundingPrediction = "exact") -> MarketReplay:
        """Follow the price path of ``market`` from now on (see :mod:`basis_core.testing.replay`): the series of
        :meth:`replay_wanted`. The clock starts at ``start`` (default: when every followed price series has begun)
        and runs ``speed`` times the wall clock, unless a ``clock`` is given. Raises MarketDataError when
        ``market`` has none of the price series. ``funding_prediction``: the rate the venue announces for the next
        settlement (:class:`~basis_core.testing.replay.MarketReplay`)."""
        from basis_core.errors import MarketDataError
        from basis_core.testing.replay import MarketReplay, ReplayClock, feeds_for

        wanted = self.replay_wanted()
        feeds = feeds_for(market, wanted)
        prices = [f for f in feeds if f.kind == "price"]
        if not prices:
            raise MarketDataError(f"{market.name}: no {self.replay_subject} (looked for "
                                  f"{', '.join(n for _k, (_kind, names) in wanted.items() for n in names)})")
        if clock is None:
            clock = ReplayClock(start if start is not None else max(f.series.first_ns for f in prices), speed)
        with self.lock:
            self.replay = MarketReplay(feeds, clock, funding_prediction)
            self.replay_step()
        log.info("%s replaying %r", type(self).__name__, self.replay)
        return self.replay

    def replay_step(self) -> None:
        """Apply the replay's events up to now, in order (``handle`` calls it under the lock before answering)."""
        if self.replay is None:
            return
        for ev in self.replay.advance():
            self.on_replay_event(ev)

    def replay_wall_ms(self, market_ns: int) -> int:
        """The wall time (ms) at which the replay clock reaches market time ``market_ns``."""
        assert self.replay is not None
        return int(self.replay.clock.wall_at(market_ns) * 1000)

    # -- request dispatch ---------------------------------------------------------------------
    def _dispatch(self, h: _Handler) -> None:
        method = h.command
        parts = urlsplit(h.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        if path == REPLAY_CONTROL_PATH and getattr(self, "replay", None) is not None:
            self._write(h, self._replay_control(method, body))
            return
        try:
            route = self.route_key(method, path, body, query)
        except Exception:
            log.exception("route_key failed for %s %s", method, path)
            route = f"{method} {path}"
        try:
            params = self.loggable_params(method, path, query, body)
        except Exception:
            params = {}
        fault = self.faults.take(route)
        kind = fault.kind if fault else None
        if fault is not None:
            log.info("fault %s on %s", fault.kind, route)

        if fault is not None and fault.kind in _ANSWER_ONLY:
            resp = self.fault_response(fault)
            self._record(method, path, route, params, kind, resp[0])
            self._write(h, resp)
            return
        if fault is not None and fault.kind == "reset_before_place":
            self._record(method, path, route, params, kind, None)
            self._reset(h)
            return
        if fault is not None and fault.kind == "delay":
            if fault.until is not None:
                if not fault.until.wait(fault.delay_s or 60.0):
                    log.warning("delay fault on %s: released by its %.1f s cap, not by its event", route,
                                fault.delay_s or 60.0)
            else:
                time.sleep(fault.delay_s)

        skew = fault.skew_ms if fault is not None and fault.kind == "clock_skew" else 0
        self._local.skew_ms = skew
        self._local.raw_query = parts.query
        try:
            with self.lock:
                resp = self.handle(method, path, query, headers, body)
        except Exception:
            log.exception("%s failed on %s %s", type(self).__name__, method, path)
            resp = json_response(500, {"code": -1000, "msg": "An unknown error occurred (emulator bug)."})
        finally:
            self._local.skew_ms = 0
            self._local.raw_query = ""

        try:
            if fault is not None and fault.kind == "drop_after_accept":
                self._record(method, path, route, params, kind, None)
                h.close_connection = True
                try:
                    h.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault is not None and fault.kind == "reset_after_place":
                self._record(method, path, route, params, kind, None)
                self._reset(h)
                return
            if fault is not None and fault.kind in _ANSWER_AFTER:
                resp = self.fault_response(replace(fault, kind=_ANSWER_AFTER[fault.kind]))  # type: ignore[arg-type]
            self._record(method, path, route, params, kind, resp[0])
        finally:  # handled and logged: a test woken by the event sees the request in request_log
            if fault is not None and fault.handled is not None:
                fault.handled.set()
        self._write(h, resp)

    def _record(
        self,
        method: str,
        path: str,
        route: str,
        params: dict[str, str],
        fault: str | None,
        status: int | None,
    ) -> None:
        with self.lock:
            self.request_log.append(RequestRecord(method, path, route, params, fault, status))

    def _replay_control(self, method: str, body: bytes) -> Response:
        """``GET /_emulator/replay``: the replay clock (market time, speed, paused, end); ``POST`` with a JSON object
        of ``pause`` / ``resume`` (true), ``speed`` (number >= 0), ``seek`` (ISO UTC market time) changes it, then
        answers the same. For test harnesses driving an emulator in another process; no venue has this path."""
        from basis_core.timeutil import from_ns

        replay: Any = getattr(self, "replay", None)
        clock = replay.clock
        if method == "POST":
            try:
                req = json.loads(body or b"{}")
                if not isinstance(req, dict):
                    raise ValueError("expected a JSON object")
                if req.get("pause"):
                    clock.pause()
                if "seek" in req:
                    clock.seek(str(req["seek"]))
                if "speed" in req:
                    clock.set_speed(float(req["speed"]))
                if req.get("resume"):
                    clock.resume()
            except Exception as e:  # a bad control request changes nothing it did not get to
                return json_response(400, {"error": f"{type(e).__name__}: {e}"[:300]})
        elif method != "GET":
            return json_response(405, {"error": "GET or POST"})
        return json_response(200, {"market_time": from_ns(clock.now_ns()).isoformat(), "speed": clock.speed,
                                   "paused": clock.paused, "end": from_ns(replay.end_ns).isoformat()})

    @staticmethod
    def _reset(h: _Handler) -> None:
        """Abort the connection with a TCP RST (``SO_LINGER`` on with a zero timeout, then close)."""
        h.close_connection = True
        conn = h.connection
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for f in (h.rfile, h.wfile):  # the socket really closes once its file objects are closed
            try:
                f.close()
            except OSError:
                pass
        h.rfile, h.wfile = io.BytesIO(), io.BytesIO()  # the handler flushes / closes these afterwards
        try:
            conn.close()
        except OSError:
            pass

    @staticmethod
    def _write(h: _Handler, resp: Response) -> None:
        status, headers, body = resp
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(body)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError) as e:  # the client gave up (timeout)
            log.info("client went away before the answer: %s", e)
            h.close_connection = True


def serve_forever_cli(server: EmulatorServer) -> None:
    """Run ``server`` in the foreground until Ctrl-C (for ``basis emulate <venue> --port N``)."""
    url = server.start()
    log.warning("%s serving on %s (Ctrl-C to stop)", type(server).__name__, url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
