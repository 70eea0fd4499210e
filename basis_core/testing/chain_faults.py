"""Fault injection for on-chain exactly-once tests (test support, not used at run time).

:func:`run_with_fault` executes one live on-chain instruction through a manager under a fault and then
through a NEW manager on the same journal file (a restart), and returns what the chain and the managers saw:

- ``kill_after_sign`` / ``kill_after_broadcast``: the process "dies" right after the transaction is journaled
  / broadcast (a :class:`SimulatedCrash` raised at the crash point of :mod:`basis_core.live.chain_intents`;
  the manager is abandoned without any cleanup);
- ``node_stall``: the manager talks to the node through :class:`StallingProxy`, which forwards
  ``eth_sendRawTransaction`` and then answers nothing more (the send and everything after it time out);
- ``dropped``: the transaction waits in the pool (automine off), times out, and is dropped from the pool
  (``anvil_dropAllTransactions``) before the restart;
- ``mined_while_down``: automine off, the transaction is sent, the manager dies, a block is mined, restart.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

FAULTS = ("kill_after_sign", "kill_after_broadcast", "node_stall", "dropped", "mined_while_down")


class SimulatedCrash(BaseException):
    """The process 'dies' here (a BaseException: nothing catches and cleans up after it)."""


class StallingProxy:
    """A loopback JSON-RPC proxy in front of a node: forwards everything until it has forwarded one
    ``eth_sendRawTransaction``; from then on it forwards nothing and never answers (the caller times out)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.sent = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.sent.is_set():
                    proxy.release.wait(60)
                    return
                req = urllib.request.Request(proxy.upstream, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    out = r.read()
                try:
                    method = json.loads(body).get("method")
                except (ValueError, AttributeError):
                    method = None
                if method == "eth_sendRawTransaction":
                    proxy.sent.set()
                    proxy.release.wait(60)  # forwarded; the answer never comes
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _short_timeout_from_the_send(provider: Any, proxy: StallingProxy) -> None:
    """Give ``provider`` (web3's HTTPProvider) a short timeout for ``eth_sendRawTransaction`` and every request
    after it, which the proxy never answers, and a generous one for the reads before it, which it forwards: a
    short timeout on those made a slow read on a loaded machine fail the instruction before anything was sent."""
    make = provider._make_request

    def timed(method: str, request_data: bytes) -> Any:
        stalled = method == "eth_sendRawTransaction" or proxy.sent.is_set()
        provider._request_kwargs["timeout"] = 0.3 if stalled else 30
        return make(method, request_data)

    provider._make_request = timed


@contextmanager
def crash_at(point: str) -> Iterator[None]:
    """Make :mod:`basis_core.live.chain_intents` 'die' at ``point`` (``after_sign`` / ``after_broadcast``)."""
    from basis_core.live import chain_intents

    original = chain_intents._crash_point

    def crash(name: str) -> None:
        if name == point:
            raise SimulatedCrash(name)

    chain_intents._crash_point = crash
    try:
        yield
    finally:
        chain_intents._crash_point = original


@dataclass
class FaultRun:
    """What a fault run saw: transactions the account sent (by nonce), the first call's error, the restarted
    manager and the result of re-issuing the instruction on it."""

    sent: int
    first_error: BaseException | None
    restarted: Any
    reissued: Any
    history: list[Any] = field(default_factory=list)


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        out = json.loads(r.read())
    if "error" in out:
        raise RuntimeError(f"{method}: {out['error']}")
    return out["result"]


def run_with_fault(fault: str, node_url: str, account: str, make_manager: Callable[[str, dict[str, Any]], Any],
                   instruction: dict[str, Any], timestamp: Any) -> FaultRun:
    """Run ``instruction`` under ``fault`` (module docstring) then restart. ``make_manager(rpc_url, options)``
    builds a live manager on the shared journal (``options``: extra venue options)."""
    def nonce() -> int:
        return int(_rpc(node_url, "eth_getTransactionCount", [account, "latest"]), 16)

    n0 = nonce()
    first_error: BaseException | None = None
    if fault in ("kill_after_sign", "kill_after_broadcast"):
        m = make_manager(node_url, {})
        _ = m.venue(instruction["venue"]).backend  # connected before the crash point is armed
        with crash_at(fault.removeprefix("kill_")):
            try:
                m.execute(timestamp, instruction)
            except SimulatedCrash as e:
                first_error = e
        del m
    elif fault == "node_stall":
        proxy = StallingProxy(node_url)
        try:
            m = make_manager(proxy.url, {})
            provider = m.venue(instruction["venue"]).backend.client.w3.provider
            provider.exception_retry_configuration = None  # web3's own retries only lengthen the stall
            _short_timeout_from_the_send(provider, proxy)
            try:
                m.execute(timestamp, instruction)
            except Exception as e:
                first_error = e
        finally:
            proxy.close()
    else:
        m = make_manager(node_url, {"receipt_timeout": 0.2})
        _ = m.venue(instruction["venue"]).backend
        _rpc(node_url, "evm_setAutomine", [False])
        try:
            try:
                m.execute(timestamp, instruction)
            except Exception as e:
                first_error = e
            if fault == "dropped":
                _rpc(node_url, "anvil_dropAllTransactions", [])
            else:
                _rpc(node_url, "evm_mine", [])
        finally:
            _rpc(node_url, "evm_setAutomine", [True])
        del m
    restarted = make_manager(node_url, {})
    _ = restarted.venue(instruction["venue"]).backend  # a restart: pending intents are resumed here
    history = list(restarted.execution_history)
    reissued = restarted.execute(timestamp, instruction)
    return FaultRun(nonce() - n0, first_error, restarted, reissued, history)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
