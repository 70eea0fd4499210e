"""Failure isolation of venue plugins: what a venue may write, what it must describe, how a failure reads.

- :class:`KeySpace`: the instrument keys a venue may write, from its ``venue_info().key_namespaces``
  (prefixes such as ``binance:`` or the shared ``ethereum:wallet:``). The verdict is memoised per key,
  so the per-fill check is one set lookup.
- :func:`checked_info`: a ``venue_info()`` result that is a usable :class:`VenueInfo`, or VenueContractError.
- :func:`failure_reason`: a bounded one-line reason (``"configure raised ValueError: ..."``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from basis_core.errors import VenueContractError, bounded, short_repr
from basis_core.interfaces import VenueInfo


class KeySpace:
    """The key namespaces of one venue with a memo of the keys already admitted.

    ``ok`` is the set of admitted keys: callers on a hot path test ``key in space.ok`` and call
    :meth:`admit` only for a key not seen before.
    """

    __slots__ = ("ok", "prefixes", "venue")

    def __init__(self, venue: str, prefixes: Iterable[str]) -> None:
        self.venue = venue
        self.prefixes = tuple(prefixes)
        self.ok: set[str] = set()

    def admit(self, key: Any) -> None:
        """Remember ``key`` as writable, or raise VenueContractError when no namespace covers it."""
        if type(key) is str and key.startswith(self.prefixes):
            self.ok.add(key)
            return
        raise VenueContractError(
            f"venue {self.venue!r}: positions key {short_repr(key)} is outside the venue's key namespaces "
            f"{list(self.prefixes)} (declare shared keys such as 'ethereum:wallet:' in key_namespaces)")

    def check(self, positions: Mapping[str, Any]) -> None:
        """Raise VenueContractError if any key of ``positions`` is outside the venue's namespaces."""
        ok = self.ok
        for k in positions:
            if k not in ok:
                self.admit(k)


def checked_info(venue: str, info: Any) -> VenueInfo:
    """``info`` if it is a VenueInfo naming ``venue`` with well-formed key namespaces (an empty tuple means
    ``"<venue>:"``), else VenueContractError saying what is wrong."""
    if not isinstance(info, VenueInfo):
        raise VenueContractError(f"venue_info() returned {short_repr(info)}, not a VenueInfo")
    if info.name != venue:
        raise VenueContractError(f"venue_info().name is {short_repr(info.name)}, but the venue is {venue!r}")
    ns = info.key_namespaces
    if not isinstance(ns, tuple | list) or not all(type(p) is str and p.endswith(":") and p.count(":") >= 1
                                                   for p in ns):
        raise VenueContractError(f"venue_info().key_namespaces must be prefixes ending in ':', got {short_repr(ns)}")
    if not isinstance(info.operations, tuple | list) or not all(type(o) is str for o in info.operations):
        raise VenueContractError(f"venue_info().operations must be operation names, got {short_repr(info.operations)}")
    return info


def namespaces_of(venue: str, info: VenueInfo) -> tuple[str, ...]:
    """The key prefixes ``venue`` may write (its own ``"<venue>:"`` when the info declares none)."""
    return tuple(info.key_namespaces) or (f"{venue}:",)


def failure_reason(stage: str, exc: BaseException) -> str:
    """A bounded one-line reason: ``"<stage> raised <Type>: <message>"``."""
    try:
        text = str(exc)
    except Exception:  # an exception whose __str__ fails
        text = ""
    return bounded(f"{stage} raised {type(exc).__name__}: {text}" if text else f"{stage} raised {type(exc).__name__}",
                   500)
