"""The kit's offline look at a live backend, for a venue that declares ``live`` but offers no
``conformance_live_target()`` (so the backend cannot be run against an emulator or fake).

:func:`inspect_live_offline` builds a live-mode manager with fake credentials whose ``rpc_url`` / ``base_url``
point at a loopback port nobody listens on (a bound, non-listening socket holds it: connections are refused),
with connections to any non-loopback address refused while it runs, and asks the venue for its live backend.
Then it inspects the backend for every operation the venue declares: the method it dispatches to
(``backend.<operation>``) must exist and must not be a ``raise NotImplementedError`` placeholder; for a
:class:`~basis_core.live.cex.CexLiveBackend`, neither may the venue-adapter methods that operation needs.
A backend that connects while it is built cannot be inspected: that is reported, not failed (live then stays
unverified, as the kit's skip message says).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import ipaddress
import socket
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: the CexLiveBackend adapter methods each CEX operation needs (they raise NotImplementedError in the base)
CEX_ADAPTER_METHODS: dict[str, tuple[str, ...]] = {
    "spot_trade": ("send_order", "fetch_order", "order_view"),
    "perp_trade": ("send_order", "fetch_order", "order_view", "set_leverage"),
    "cancel_order": ("cancel_request", "fetch_order", "order_view"),
    "modify_order": ("edit_request", "fetch_order", "order_view"),
    "transfer": (),
}
_NETWORK_WORDS = ("connection", "network", "timeout", "unreachable", "refused")


@dataclass
class OfflineLiveReport:
    """What the offline look found: ``problems`` (each fails the kit), ``built`` (the backend's class name, or
    None when it could not be built offline) and ``note`` (why not)."""

    problems: list[str] = field(default_factory=list)
    built: str | None = None
    note: str = ""


def is_placeholder(fn: Any) -> bool:
    """Whether ``fn``'s body (after a docstring) is only ``raise NotImplementedError[(...)]``."""
    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Connections to any non-loopback address are refused (ConnectionRefusedError) inside the block."""
    real = socket.socket.connect
    real_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise ConnectionRefusedError(f"the conformance kit is offline: no connection to {address!r}")
        real(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            return 111
        return real_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socket.socket.connect = real  # type: ignore[method-assign]
        socket.socket.connect_ex = real_ex  # type: ignore[method-assign]


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` where PORT is held by a bound socket that never listens (connections refused)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}"
    finally:
        s.close()


def _network_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ConnectionError | TimeoutError):
            return True
        if any(w in type(e).__name__.lower() for w in _NETWORK_WORDS):
            return True
        e = e.__cause__ or e.__context__
    return False


def inspect_live_offline(build_manager: Callable[[dict[str, str]], Any], venue_of: Callable[[Any], Any],
                         operations: list[str], credentials: dict[str, str]) -> OfflineLiveReport:
    """Build the live backend offline and inspect it (see the module docstring).

    :param build_manager: builds a live-mode manager from the venue settings (credentials and endpoints).
    :param venue_of: the venue object of that manager.
    :param operations: the operations the venue declares.
    """
    from basis_core.live.cex import CexLiveBackend

    report = OfflineLiveReport()
    with refused_url() as url, loopback_only():
        try:
            manager = build_manager({**credentials, "rpc_url": url, "base_url": url})
            backend = venue_of(manager).make_live_backend()
        except NotImplementedError as e:
            report.problems.append(f"make_live_backend() is a NotImplementedError placeholder ({e or 'no message'})")
            return report
        except Exception as e:
            if _network_error(e):
                report.note = (f"its live backend connects while it is built, so it could not even be built offline "
                               f"({type(e).__name__})")
            else:
                report.problems.append(f"make_live_backend() fails offline with fake credentials: "
                                       f"{type(e).__name__}: {e}")
            return report
    if backend is None:
        report.problems.append("make_live_backend() returned None")
        return report
    cls = type(backend)
    report.built = cls.__name__
    for op in operations:
        method = getattr(cls, op, None)
        if method is None:
            report.problems.append(f"{op}: the live backend {cls.__name__} has no {op}() method")
        elif is_placeholder(method):
            report.problems.append(f"{op}: {cls.__name__}.{op}() is a NotImplementedError placeholder")
        if isinstance(backend, CexLiveBackend):
            report.problems += [f"{op}: {cls.__name__}.{name}() (a venue adapter {op} needs) is a "
                                f"NotImplementedError placeholder" for name in CEX_ADAPTER_METHODS.get(op, ())
                                if is_placeholder(getattr(cls, name))]
    report.note = (f"its live backend {cls.__name__} was built offline and has the declared operations, "
                   f"but none of them ran")
    return report
