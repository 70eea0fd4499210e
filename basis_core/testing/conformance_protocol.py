"""The conformance protocol: what a venue plugin declares so the conformance kit can exercise it.

A venue class opts in by defining (on the class; called on a fresh, unconfigured instance):

- ``conformance_examples(self) -> Mapping[str, Sequence[example]]`` (required): for each operation the
  venue declares, one or more *valid* instructions the venue executes from ``conformance_balances``.
  An example is an instruction dict (``venue`` may be left out), or a :class:`ConformanceExample`
  (or a dict with an ``instruction`` key and the same optional fields) when it needs setup steps
  (e.g. place a resting order, then cancel it) or time to pass (claim a withdrawal).
- ``conformance_balances(self) -> Mapping[str, Decimal | str]`` (optional): the ledger's initial
  balances by instrument key, enough for every example and its setup.
- ``conformance_settings(self) -> Mapping[str, Any]`` (optional): this venue's ``venue_config``
  entry for the kit's managers (fees, options, deployment).
- ``conformance_market(self) -> DataProvider`` (optional): the market data (default: the synthetic market).
- ``conformance_timestamp(self) -> str | datetime`` (optional): when the examples run
  (default :data:`DEFAULT_TIMESTAMP`).
- ``conformance_live_target(self)`` (optional, with ``live``): a context manager that starts an emulator or
  documented fake of the venue on 127.0.0.1 and yields the venue settings pointing at it (credentials,
  ``base_url``); the kit builds the live backend there and runs the examples in live mode. Without it the live
  check is skipped (the kit never calls a real venue).
- ``capabilities`` (class attribute, frozenset): see :data:`CAPABILITIES`; checks of a capability the
  venue does not declare are skipped.
- ``ExecutionDeltas.details["reference_prices"]`` (optional, per result): ``{instrument key or
  asset: USD price}`` the venue measured its ``pnl`` costs against (pool mid, pre-slippage price, LP
  token value); the kit values position changes with them first.

This module imports neither pytest nor any venue: a venue module may import it at runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pandas as pd

from basis_core.errors import BasisError
from basis_core.timeutil import to_utc

#: capability -> what the kit checks when a venue declares it
CAPABILITIES: dict[str, str] = {
    "fills": "every filled example changes the account's USD value by exactly the sum of its pnl "
             "(fees and costs), valued at reference / fill / as-of prices",
    "resting_orders": "a limit order that does not cross rests (status 'open', no positions), "
                      "cancel_order cancels it (status 'cancelled') and a second cancel raises OrderNotFoundError",
    "credentials": "the venue takes credentials (api_key / api_secret / private_key); they never appear in "
                   "reprs, logs, errors, results or history",
    "live": "the venue has a live backend; building a live-mode manager imports no ccxt / web3 "
            "and leaks no credentials before the first call",
}

#: when the kit runs the examples unless the venue says otherwise (inside the synthetic market)
DEFAULT_TIMESTAMP = "2025-06-02T12:00:00Z"

#: modules a backtest must never import
LIVE_ONLY_MODULES = ("ccxt", "web3")

#: name of the optional ``ExecutionDeltas.details`` entry with the venue's reference prices
REFERENCE_PRICES = "reference_prices"


@dataclass(frozen=True)
class ConformanceExample:
    """One valid instruction for the kit, with what must happen before it.

    :param instruction: the instruction dict (``venue`` is filled in when missing).
    :param setup: instruction dicts executed first, in order, at the same timestamp (they must succeed).
    :param wait: a pandas Timedelta string (``"8h"``, ``"5D"``): the clock advances by it after the
        setup, so venues accrue (e.g. a withdrawal request finalises) before ``instruction`` runs.
    :param mutate: derive invalid variants from this example (zero / negative / NaN / huge amounts,
        unknown symbols, tokens, pools and ids) and require typed errors for each.
    :param skip_variants: labels of derived variants that are legitimately valid for this venue,
        e.g. ``("amount=huge",)`` (see :func:`basis_core.testing.conformance_checks.invalid_variants`).
    :param label: a short name for test ids (default: the index).
    """

    instruction: Mapping[str, Any]
    setup: tuple[Mapping[str, Any], ...] = ()
    wait: str | None = None
    mutate: bool = True
    skip_variants: tuple[str, ...] = ()
    label: str = ""

    def with_venue(self, venue: str) -> ConformanceExample:
        """The example with ``venue`` filled into the instruction and setup steps that lack one."""
        def fill(d: Mapping[str, Any]) -> dict[str, Any]:
            return {"venue": venue, **dict(d)}
        return ConformanceExample(fill(self.instruction), tuple(fill(s) for s in self.setup), self.wait,
                                  self.mutate, tuple(self.skip_variants), self.label)


@dataclass(frozen=True)
class VenueProtocol:
    """What a venue class declares for the kit (read with :func:`read_protocol`)."""

    examples: dict[str, list[ConformanceExample]]
    balances: dict[str, Decimal]
    settings: dict[str, Any]
    timestamp: pd.Timestamp
    capabilities: frozenset[str]
    has_examples: bool = True


class ConformanceProtocolError(BasisError):
    """The venue's conformance declarations are malformed (names the method and the reason)."""


def _as_example(obj: Any, where: str) -> ConformanceExample:
    if isinstance(obj, ConformanceExample):
        return obj
    if isinstance(obj, Mapping):
        if "instruction" in obj:
            extra = set(obj) - {"instruction", "setup", "wait", "mutate", "skip_variants", "label"}
            if extra:
                raise ConformanceProtocolError(f"{where}: unknown example keys {sorted(extra)}")
            return ConformanceExample(
                instruction=obj["instruction"], setup=tuple(obj.get("setup", ())), wait=obj.get("wait"),
                mutate=bool(obj.get("mutate", True)), skip_variants=tuple(obj.get("skip_variants", ())),
                label=str(obj.get("label", "")))
        return ConformanceExample(instruction=obj)
    raise ConformanceProtocolError(f"{where}: expected an instruction dict or ConformanceExample, "
                                   f"got {type(obj).__name__}")


def read_protocol(venue_cls: type) -> VenueProtocol:
    """Read the conformance declarations of ``venue_cls`` (on a fresh instance).

    Raises :class:`ConformanceProtocolError` when a declaration is malformed.
    """
    obj = venue_cls()
    name = getattr(obj, "name", "") or venue_cls.__name__
    raw = getattr(obj, "conformance_examples", None)
    has = callable(raw)
    examples: dict[str, list[ConformanceExample]] = {}
    if has:
        declared = raw()  # type: ignore[misc]
        if not isinstance(declared, Mapping):
            raise ConformanceProtocolError("conformance_examples: must return a mapping operation -> examples")
        for op, items in declared.items():
            if isinstance(items, Mapping | ConformanceExample):
                items = [items]
            examples[str(op)] = [_as_example(it, f"conformance_examples[{op!r}][{i}]").with_venue(name)
                                 for i, it in enumerate(items)]
    bal_fn = getattr(obj, "conformance_balances", None)
    balances = {str(k): Decimal(str(v)) for k, v in (bal_fn() if callable(bal_fn) else {}).items()}
    set_fn = getattr(obj, "conformance_settings", None)
    settings = dict(set_fn()) if callable(set_fn) else {}
    ts_fn = getattr(obj, "conformance_timestamp", None)
    ts = to_utc(ts_fn() if callable(ts_fn) else DEFAULT_TIMESTAMP)
    caps = frozenset(getattr(venue_cls, "capabilities", frozenset()) or ())
    return VenueProtocol(examples, balances, settings, ts, caps, has)


@lru_cache(maxsize=1)
def _synthetic() -> Any:
    from basis_core.data.synthetic import synthetic_market
    return synthetic_market()


def market_for(venue_cls: type) -> Any:
    """The venue's ``conformance_market()`` or the (shared, read-only) synthetic market."""
    fn = getattr(venue_cls, "conformance_market", None)
    if callable(fn):
        return venue_cls().conformance_market()
    return _synthetic()


__all__ = [
    "CAPABILITIES", "DEFAULT_TIMESTAMP", "LIVE_ONLY_MODULES", "REFERENCE_PRICES", "ConformanceExample",
    "ConformanceProtocolError", "VenueProtocol", "market_for", "read_protocol",
]
