"""A client-side timeout on one chosen request: the timeout path of a live plugin tested without a race.

Live tests give their ccxt client a generous timeout, so that no ordinary request times out on a loaded machine
(a timed-out lookup or order would take the "unknown outcome" path and change what the test counts).
:func:`time_out_next` sends the next matching request with a short timeout instead; paired with an emulator
``Fault("delay", until=event)`` that holds that very request until the test sets ``event``, the client is sure
to time out (the request is held, however loaded the machine), and the test decides when the request takes effect
at the venue::

    held = threading.Event()
    emu.faults.inject("POST /exchange:order", Fault("delay", until=held))
    time_out_next(client, lambda method, url, body: '"type":"order"' in body)
    m.execute(...)  # times out after 0.1 s, looks the order up, ...; set ``held`` from another fault's ``handled``
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def time_out_next(client: Any, matches: Callable[[str, str, str], bool], timeout_ms: int = 100) -> None:
    """Send the next request of ccxt ``client`` for which ``matches(method, url, body)`` holds (``body``:
    ``""`` when none) with a ``timeout_ms`` timeout (milliseconds); every other request keeps the client's own timeout.

    It wraps the instance's ``fetch`` (ccxt reads ``self.timeout`` when it sends) and applies once."""
    real = client.fetch
    armed = [True]

    def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        if armed[0] and matches(method, url, body if isinstance(body, str) else ""):
            armed[0] = False
            own, client.timeout = client.timeout, timeout_ms
            try:
                return real(url, method, headers, body)
            finally:
                client.timeout = own
        return real(url, method, headers, body)

    client.fetch = fetch
