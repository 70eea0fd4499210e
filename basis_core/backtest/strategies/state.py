"""A strategy's persisted state: plain JSON for what a strategy holds in its attributes.

:func:`encode` turns an object's attributes into JSON-ready data; :func:`restore` writes such data back onto an
object of the same shape (one built by the strategy's ``prepare`` with the same parameters). Values:

- ``None``, ``bool``, ``int``, ``float``, ``str`` as JSON; ``Decimal`` exactly (``{"$dec": "1.50"}``);
- lists and tuples (``{"$tuple": [...]}``); dicts with string keys as objects, other keys as
  ``{"$map": [[key, value], ...]}`` (e.g. ``{("supplied", "wstETH"): Decimal}``);
- other objects with a ``__dict__`` (a strategy's legs, hedges, books) as ``{"$obj": {attribute: value}}``,
  restored attribute by attribute into the object already there (they are never constructed here).

Left out: ``params`` (they come from the scenario), attributes whose names start with ``__``, references back to
the owner (a hedge's ``owner``), and values of any other type (managers, callables), which are logged at debug
level. The output never holds code: restoring data cannot run anything.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

log = logging.getLogger(__name__)

#: attributes never saved (configuration, not state)
SKIPPED = frozenset({"params"})
_SKIP: Any = object()


def encode(value: Any, owner: Any = None, depth: int = 0) -> Any:
    """JSON-ready encoding of ``value`` (see the module docstring); :data:`_SKIP` for what is left out."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if depth > 12 or value is owner:
        return _SKIP
    if isinstance(value, list | tuple):
        items = [encode(v, owner, depth + 1) for v in value]
        items = [None if v is _SKIP else v for v in items]
        return items if isinstance(value, list) else {"$tuple": items}
    if isinstance(value, dict):
        if all(type(k) is str and not k.startswith("$") for k in value):
            out = {k: encode(v, owner, depth + 1) for k, v in value.items()}
            return {k: v for k, v in out.items() if v is not _SKIP}
        pairs = [[encode(k, owner, depth + 1), encode(v, owner, depth + 1)] for k, v in value.items()]
        return {"$map": [p for p in pairs if _SKIP not in p]}
    if hasattr(value, "__dict__") and not isinstance(value, type) and not callable(value):
        return {"$obj": attributes(value, owner, depth + 1)}
    log.debug("strategy state: %s not saved", type(value).__name__)
    return _SKIP


def attributes(obj: Any, owner: Any = None, depth: int = 0) -> dict[str, Any]:
    """The encoded attributes of ``obj`` (``owner``: the object references back to which are left out)."""
    owner = obj if owner is None else owner
    out: dict[str, Any] = {}
    for name, value in vars(obj).items():
        if name in SKIPPED or name.startswith("__"):
            continue
        enc = encode(value, owner, depth)
        if enc is not _SKIP:
            out[name] = enc
    return out


def decode(data: Any) -> Any:
    """Plain values of encoded data (objects become dicts of their attributes)."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        if "$dec" in data:
            return Decimal(data["$dec"])
        if "$tuple" in data:
            return tuple(decode(v) for v in data["$tuple"])
        if "$map" in data:
            return {_hashable(decode(k)): decode(v) for k, v in data["$map"]}
        if "$obj" in data:
            return {k: decode(v) for k, v in data["$obj"].items()}
        return {k: decode(v) for k, v in data.items()}
    return data


def _hashable(v: Any) -> Any:
    return tuple(_hashable(x) for x in v) if isinstance(v, list | tuple) else v


def restore(current: Any, data: Any) -> Any:
    """The value to hold after restoring ``data`` over ``current``: objects are updated in place (attribute by
    attribute), lists of objects element by element; anything else is decoded."""
    if isinstance(data, dict) and "$obj" in data:
        if current is not None and hasattr(current, "__dict__") and not isinstance(current, type):
            restore_attributes(current, data["$obj"])
            return current
        return decode(data)
    if isinstance(data, list) and isinstance(current, list) and len(current) == len(data) and any(
            hasattr(c, "__dict__") for c in current):
        return [restore(c, d) for c, d in zip(current, data, strict=True)]
    return decode(data)


def restore_attributes(obj: Any, data: dict[str, Any]) -> None:
    """Set every saved attribute of ``obj`` from ``data`` (an :func:`attributes` result)."""
    for name, enc in data.items():
        if name in SKIPPED or name.startswith("__"):
            continue
        setattr(obj, name, restore(getattr(obj, name, None), enc))


__all__ = ["attributes", "decode", "encode", "restore", "restore_attributes"]
