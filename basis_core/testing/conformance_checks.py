"""Pure checks of the conformance kit: well-formed results, valuation of a fill, invalid variants,
credential leaks. Each check returns a list of human-readable problems (empty = conforming)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from basis_core.deltas import PNL_COMPONENTS, SIGNED_KINDS, ExecutionDeltas, split_key
from basis_core.errors import MarketDataError
from basis_core.hookspecs import OPERATION_HOOKS
from basis_core.interfaces import VenueInfo
from basis_core.numeric import library_context
from basis_core.testing.conformance_protocol import REFERENCE_PRICES

#: statuses an ExecutionDeltas may carry (see basis_core.deltas)
STATUSES = frozenset({"filled", "partially_filled", "open", "cancelled", "modified", "settled", "accrued",
                      "liquidated", "quoted", "requested", "claimed"})
#: statuses for which the value check applies (something traded)
FILL_STATUSES = frozenset({"filled", "partially_filled"})
VENUE_KINDS = frozenset({"cex", "dex", "onchain", "test"})
#: kinds whose balance is a liability (valued negatively)
LIABILITY_KINDS = frozenset({"debt"})
#: value-check tolerance: |value change - sum(pnl)| <= max(ABS_TOL, REL_TOL * gross value moved)
ABS_TOL = Decimal("0.000001")
REL_TOL = Decimal("1e-9")


def _is_decimal(v: Any) -> bool:
    return type(v) is Decimal and v.is_finite()


def in_namespaces(key: str, namespaces: Iterable[str]) -> bool:
    """True if ``key`` starts with one of the venue's key namespaces."""
    return any(key.startswith(ns) for ns in namespaces)


def check_venue_info(info: Any, expected_name: str) -> list[str]:
    """``venue_info()`` is a VenueInfo with the venue's name, a known kind and operations, and namespaces."""
    if not isinstance(info, VenueInfo):
        return [f"venue_info() returned {type(info).__name__}, not VenueInfo"]
    out = []
    if info.name != expected_name:
        out.append(f"venue_info().name is {info.name!r}, but the venue is registered as {expected_name!r} "
                   "(the entry-point name and the class's `name` must agree)")
    if info.kind not in VENUE_KINDS:
        out.append(f"venue_info().kind {info.kind!r} is not one of {sorted(VENUE_KINDS)}")
    unknown = [op for op in info.operations if op not in OPERATION_HOOKS]
    if unknown:
        out.append(f"venue_info().operations lists unknown operations {unknown}")
    if len(set(info.operations)) != len(info.operations):
        out.append("venue_info().operations has duplicates")
    if not info.key_namespaces:
        out.append("venue_info().key_namespaces is empty: declare the key prefixes the venue writes")
    for ns in info.key_namespaces:
        if not ns.endswith(":") or ns.count(":") > 2:
            out.append(f"key namespace {ns!r} must be 'venue:' or 'venue:kind:'")
    return out


def check_deltas(d: Any, *, venue: str, operation: str | None, timestamp: Any, namespaces: Iterable[str],
                 client_id: str | None) -> list[str]:
    """A well-formed ExecutionDeltas of this venue, operation, time and client id (None: not checked)."""
    if not isinstance(d, ExecutionDeltas):
        return [f"returned {type(d).__name__}, not ExecutionDeltas"]
    ns = tuple(namespaces)
    out: list[str] = []
    if d.venue != venue:
        out.append(f"deltas.venue is {d.venue!r}, expected {venue!r}")
    if operation is not None and d.operation != operation:
        out.append(f"deltas.operation is {d.operation!r}, expected {operation!r}")
    if timestamp is not None and d.timestamp != timestamp:
        out.append(f"deltas.timestamp is {d.timestamp!r}, expected the instruction's {timestamp!r}")
    if d.status not in STATUSES:
        out.append(f"deltas.status {d.status!r} is not one of {sorted(STATUSES)}")
    if client_id is not None and d.client_id != client_id:
        out.append(f"deltas.client_id is {d.client_id!r}, expected the instruction's {client_id!r}")
    for label, mapping in (("positions", d.positions), ("fees", d.fees)):
        for k, v in mapping.items():
            try:
                split_key(k)
            except ValueError:
                out.append(f"{label} key {k!r} is not venue:kind:asset")
                continue
            if not in_namespaces(k, ns):
                out.append(f"{label} key {k!r} is outside the venue's key namespaces {list(ns)}")
            if not _is_decimal(v):
                out.append(f"{label}[{k!r}] = {v!r} is not a finite Decimal")
    for k, v in d.pnl.items():
        if k not in PNL_COMPONENTS:
            out.append(f"pnl component {k!r} is not one of {list(PNL_COMPONENTS)}")
        if not _is_decimal(v):
            out.append(f"pnl[{k!r}] = {v!r} is not a finite Decimal")
    for name in ("fill_price", "fill_amount"):
        v = getattr(d, name)
        if v is not None and not (_is_decimal(v) and v > 0):
            out.append(f"deltas.{name} = {v!r} must be a positive finite Decimal or None")
    if d.status == "open" and d.positions:
        out.append("a resting order (status 'open') must not change positions")
    refs = d.details.get(REFERENCE_PRICES) if isinstance(d.details, Mapping) else None
    if refs is not None and not (isinstance(refs, Mapping) and all(_is_decimal(p) for p in refs.values())):
        out.append(f"details[{REFERENCE_PRICES!r}] must map keys / assets to Decimal USD prices")
    return out


@library_context
def diff_balances(before: Mapping[str, Decimal], after: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Non-zero changes between two balance maps."""
    keys = set(before) | set(after)
    out = {k: after.get(k, Decimal(0)) - before.get(k, Decimal(0)) for k in keys}
    return {k: v for k, v in out.items() if v != 0}


@library_context
def apply_positions(balances: Mapping[str, Decimal], *changes: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``balances`` with each change map added in order (as the ledger adds them), zeros dropped."""
    out = dict(balances)
    for part in changes:
        for k, v in part.items():
            out[k] = out.get(k, Decimal(0)) + v
    return {k: v for k, v in out.items() if v != 0}


def ledger_state(ledger: Any) -> tuple[dict[str, Decimal], dict[str, dict[Any, Any]]]:
    """Balances and every transactional table of a backtest ledger (to compare before / after)."""
    tables = {name: t.snapshot() for name, t in getattr(ledger, "_tables", {}).items()}
    return ledger.balances, {n: t for n, t in tables.items() if t}


@dataclass(frozen=True)
class Valuation:
    """The USD value change of a result's positions and what the venue attributed to costs."""

    value_change: Decimal
    pnl_total: Decimal
    gross: Decimal
    lines: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def tolerance(self) -> Decimal:
        return max(ABS_TOL, REL_TOL * self.gross)

    @property
    def ok(self) -> bool:
        return not self.problems and abs(self.value_change - self.pnl_total) <= self.tolerance


def value_fill(d: ExecutionDeltas, instruction: Any, price_of: Callable[[str], Decimal]) -> Valuation:
    """Value every changed key of a fill and compare with the sum of its ``pnl`` (fees and costs).

    Prices, in order: ``details['reference_prices'][key]``, ``...[asset]``; for a spot trade with a
    ``fill_price``, the base asset at ``fill_price x USD(quote)``; else ``price_of(asset)`` (the as-of
    USD price). ``debt`` keys are liabilities (valued negatively). ``metric`` keys are worth 0. A ``perp``
    key's change is worth ``details['reference_prices'][key]`` USD per unit: the position's value per unit
    at the reference (mark) price, i.e. ``mark - entry`` of the units changed in USD (``mark - fill_price``
    for a position opened by this fill); 0 when not given (the fill happened at the reference price).
    Realised PnL settles into the margin key, so a venue whose fill closes a position gives
    ``mark - entry`` for the perp key and the identity still holds.
    """
    refs: Mapping[str, Decimal] = {}
    if isinstance(d.details, Mapping) and isinstance(d.details.get(REFERENCE_PRICES), Mapping):
        refs = d.details[REFERENCE_PRICES]
    base = quote = None
    if getattr(instruction, "operation", None) == "spot_trade" and d.fill_price is not None:
        base, quote = instruction.symbol.split("/")
    value = Decimal(0)
    gross = Decimal(0)
    lines: list[str] = []
    problems: list[str] = []
    for key, delta in sorted(d.positions.items()):
        try:
            _, kind, asset = split_key(key)
        except ValueError:
            problems.append(f"malformed key {key!r}")
            continue
        if kind in SIGNED_KINDS:
            per_unit = Decimal(refs[key]) if kind == "perp" and key in refs else Decimal(0)
            v = delta * per_unit
            value += v
            gross += abs(v)
            lines.append(f"{key}: {delta} x {per_unit} (signed position: USD value per unit at the reference, "
                         f"mark - entry; 0 unless given) = {v}")
            continue
        try:
            if key in refs:
                price, src = Decimal(refs[key]), "reference"
            elif asset in refs:
                price, src = Decimal(refs[asset]), "reference"
            elif base is not None and asset == base and d.fill_price is not None:
                price, src = d.fill_price * price_of(quote or "USD"), "fill price"
            else:
                price, src = price_of(asset), "as-of"
        except MarketDataError as e:
            problems.append(f"cannot price {key!r}: {e}; put its USD price in details['{REFERENCE_PRICES}']")
            continue
        sign = -1 if kind in LIABILITY_KINDS else 1
        v = sign * delta * price
        value += v
        gross += abs(v)
        lines.append(f"{key}: {delta} x {price} ({src}{', liability' if sign < 0 else ''}) = {v}")
    pnl_total = sum((Decimal(v) for v in d.pnl.values()), Decimal(0))
    return Valuation(value, pnl_total, gross, tuple(lines), tuple(problems))


# -- invalid variants -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """An invalid instruction derived from a valid one; ``stage`` is ``parse`` (the core rejects it)
    or ``venue`` (the venue must)."""

    label: str
    instruction: dict[str, Any]
    stage: str


AMOUNT_FIELDS = ("amount", "amount_in", "lp_amount")
PARSE_BAD_NUMBERS = {"zero": "0", "negative": "-1", "nan": "NaN", "inf": "Infinity", "too_large": "1e16"}
HUGE = "1e14"
UNKNOWN_TOKEN = "ZZZ"
UNKNOWN_IDS = {"pool": "zzz-unknown-pool", "order_id": "zzz-unknown-order", "request_id": "zzz-unknown-request",
               "position_id": "zzz-unknown-position", "market": "zzz-unknown-market",
               "borrower": "zzz-unknown-borrower"}
TOKEN_FIELDS = ("token_in", "token_out", "asset", "receive")


def _unknown_symbol(symbol: str) -> str:
    _, _, rest = symbol.partition("/")
    return f"{UNKNOWN_TOKEN}/{rest}"


def invalid_variants(instruction: Mapping[str, Any]) -> list[Variant]:
    """Invalid instructions derived from a valid one (a JSON-ready dict).

    Labels: ``<field>=zero|negative|nan|inf|too_large`` (parse stage) for amount and price fields;
    ``<field>=huge`` (1e14, venue stage: more than any account holds); ``symbol=unknown``,
    ``<token field>=unknown``, ``pool=unknown``, ``order_id=unknown``, ``request_id=unknown``,
    ``position_id=unknown``, ``market=unknown``, ``borrower=unknown``, ``from_account=unknown``,
    ``to_account=unknown``, ``amounts=unknown_token``.
    Atomic bundles have no derived variants.
    """
    base = dict(instruction)
    if base.get("operation") == "atomic":
        return []
    out: list[Variant] = []

    def add(label: str, stage: str, **changes: Any) -> None:
        v = {**base, **changes}
        if v != base:
            out.append(Variant(label, v, stage))

    numeric = [f for f in (*AMOUNT_FIELDS, "price") if f in base and base[f] not in (None, "max")]
    for f in numeric:
        for label, bad in PARSE_BAD_NUMBERS.items():
            add(f"{f}={label}", "parse", **{f: bad})
    for f in AMOUNT_FIELDS:
        if f in base and base[f] is not None:
            add(f"{f}=huge", "venue", **{f: HUGE})
    if isinstance(base.get("amounts"), Mapping) and base["amounts"]:
        amounts = dict(base["amounts"])
        first = next(iter(amounts.values()))
        add("amounts=unknown_token", "venue", amounts={UNKNOWN_TOKEN: first})
        add("amounts=huge", "venue", amounts={k: HUGE for k in amounts})
        add("amounts=negative", "parse", amounts={k: "-1" for k in amounts})
    if isinstance(base.get("symbol"), str) and "/" in base["symbol"]:
        add("symbol=unknown", "venue", symbol=_unknown_symbol(base["symbol"]))
    for f in TOKEN_FIELDS:
        if isinstance(base.get(f), str) and base[f] != UNKNOWN_TOKEN:
            add(f"{f}=unknown", "venue", **{f: UNKNOWN_TOKEN})
    for f, bad in UNKNOWN_IDS.items():
        if isinstance(base.get(f), str):
            add(f"{f}=unknown", "venue", **{f: bad})
    for f in ("from_account", "to_account"):
        if isinstance(base.get(f), str):
            add(f"{f}=unknown", "venue", **{f: "zzz_unknown"})
    return out


# -- credentials ------------------------------------------------------------------------------------------
def find_leaks(secrets: Iterable[str], texts: Mapping[str, str]) -> list[str]:
    """Places (``texts`` keys) whose text contains one of ``secrets`` (the secrets are not repeated)."""
    out = []
    for place, text in texts.items():
        for i, s in enumerate(secrets):
            if s and s in text:
                out.append(f"secret #{i} appears in {place}")
    return out


__all__ = [
    "ABS_TOL",
    "FILL_STATUSES",
    "REL_TOL",
    "STATUSES",
    "Valuation",
    "Variant",
    "apply_positions",
    "check_deltas",
    "check_venue_info",
    "diff_balances",
    "find_leaks",
    "in_namespaces",
    "invalid_variants",
    "ledger_state",
    "value_fill",
]
