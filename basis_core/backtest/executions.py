"""A run's execution history as the tidy executions frame, and as the events PnL-by-strategy values, in one pass.

Each history record is read once at the end of a run (:func:`scan_history`): its frame row (time, venue, operation,
symbol and side derived from its position changes, fill, fee, strategy, status, error, ids, bundle, PnL components,
positions as JSON) and, for the records a strategy made, the position changes that strategy's PnL is valued from
(:func:`basis_core.backtest.metrics.pnl_by_strategy`); funding and interest accruals count for every strategy
holding the venue's accruing positions.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from basis_core.backtest.attribution import items as _items
from basis_core.backtest.metrics import ExchangeBlock
from basis_core.deltas import PNL_COMPONENTS
from basis_core.history import EXECUTION_HEAD
from basis_core.instructions import OPERATIONS

_ZERO = Decimal(0)
_ACCRUING = ("funding", "lending_interest", "borrow_interest")

#: columns of :func:`executions_frame`, in order, with their dtypes
EXECUTION_COLUMNS: dict[str, str] = {
    "timestamp": "datetime64[ns, UTC]", "venue": "string", "operation": "string", "symbol": "string",
    "side": "string", "fill_price": "float64", "fill_amount": "float64", "notional": "float64", "fee": "float64",
    "strategy": "string", "success": "bool", "status": "string", "error": "string", "error_field": "string",
    "client_id": "string", "order_id": "string", "bundle": "Int64",
    **{f"pnl_{c}": "float64" for c in PNL_COMPONENTS},
    "positions": "string",
}

#: the columns of :func:`summary_frame` (what a run's summary reads), a subset of :data:`EXECUTION_COLUMNS`
SUMMARY_COLUMNS: dict[str, str] = {
    c: EXECUTION_COLUMNS[c] for c in ("timestamp", "venue", "operation", "strategy", "success", "error", "error_field",
                                      *(f"pnl_{c}" for c in PNL_COMPONENTS))}

#: a strategy's event for :func:`basis_core.backtest.metrics.pnl_by_strategy`: (step, strategy, position changes,
#: the prices to value some of them at)
OwnEvent = tuple[int, str, Mapping[str, Any], Mapping[str, float] | None]
#: an accrual for it: (step, USD value, the keys it touched)
AccrualEvent = tuple[int, float, list[str]]


def _indexed(history: Iterable[Any]) -> Iterable[tuple[int, Any]]:
    """``(index, record)`` pairs of a history: its own indices when it tells them (``indexed()``), else positions."""
    indexed = getattr(history, "indexed", None)
    return indexed() if indexed is not None else enumerate(history)  # type: ignore[no-any-return]


def _key_info(key: str) -> tuple[int, str]:
    """``(what, asset)`` of a position key for :func:`symbol_side`: what 0 = a metric (not a position), 1 = a perp
    (asset: its symbol), 2 = anything else."""
    if ":metric:" in key:
        return 0, ""
    parts = key.split(":", 2)
    if len(parts) == 3 and parts[1] == "perp":
        return 1, parts[2]
    return 2, parts[2] if len(parts) == 3 else ""


def symbol_side(rec: Any, memo: dict[str, tuple[int, str]] | None = None) -> tuple[str | None, str | None]:
    """The market and side of a record, read from its position changes (history records keep no instruction):
    perps from the ``perp`` key; spot from the base (the key whose change is the fill amount) and the quote;
    swaps as ``IN->OUT``; other operations: the asset they moved. ``memo``: :func:`_key_info` by key, shared
    across records."""
    if memo is None:
        memo = {}
    items = []
    for k, v in _items(rec.positions):
        info = memo.get(k)
        if info is None:
            info = memo[k] = _key_info(k)
        what = info[0]
        if what == 1:  # the first perp key
            return info[1], ("buy" if v > 0 else "sell")
        if what:
            items.append((k, v, info))
    if not items:
        return None, None
    op = rec.operation
    if op == "spot_trade" and rec.fill_amount is not None and len(items) >= 2:
        amt = abs(rec.fill_amount)
        base = items[0]
        best = abs(abs(base[1]) - amt)
        for it in items[1:]:
            d = abs(abs(it[1]) - amt)
            if d < best:
                base, best = it, d
        base_k, base_v = base[0], base[1]
        if len(items) == 2:  # the other key is the quote, whatever its sign
            quote = items[1] if items[0][0] == base_k else items[0]
        else:
            rest = [it for it in items if it[0] != base_k and (it[1] > 0) != (base_v > 0)] or \
                [it for it in items if it[0] != base_k]
            quote = max(rest, key=lambda it: abs(it[1]))
        return f"{base[2][1]}/{quote[2][1]}", ("buy" if base_v > 0 else "sell")
    if op == "swap":
        sold = [it[2][1] for it in items if it[1] < 0]
        bought = [it[2][1] for it in items if it[1] > 0]
        if sold and bought:
            return f"{sold[0]}->{bought[0]}", "swap"
    return items[0][2][1], None


def trade_value_deltas(rec: Any, kinds: dict[str, str] | None = None) -> tuple[Mapping[str, Any],
                                                                               Mapping[str, float] | None]:
    """The position changes of a record for valuing them, and the prices to value some of them at. A perp trade
    counts its perp change at its fill price (slippage is in the entry price, not in a balance) and its fees:
    the realised PnL it credits to the margin account is already the perp change marked to market. ``kinds``:
    a memo of each key's kind (shared across records)."""
    if kinds is None:
        kinds = {}
    pos = dict(_items(rec.positions))
    perps = {}
    for k, v in pos.items():
        kind = kinds.get(k)
        if kind is None:
            kind = kinds[k] = "".join(k.split(":", 2)[1:2])
        if kind == "perp":
            perps[k] = v
    if not perps:
        return pos, {}  # an exchange within the strategy's book: no cost of its own
    for k, v in _items(rec.fees):
        perps[k] = perps.get(k, _ZERO) + v
    entry = float(rec.fill_price) if rec.fill_price else math.nan
    return perps, {k: entry for k in perps if ":perp:" in k}


def scan_history(history: Iterable[Any], strategy_of: Mapping[int, str] | None = None,
                 step_ns: list[int] | None = None, *, full: bool = True, end: int | None = None,
                 exchanges: list[ExchangeBlock] | None = None,
                 step_pnl: StepPnlFloats | None = None) -> tuple[pd.DataFrame, list[OwnEvent], list[AccrualEvent]]:
    """One pass over ``history`` (its records before index ``end``; None: all): the executions frame
    (:func:`executions_frame`; with ``full`` False only its :data:`SUMMARY_COLUMNS`, a third of the work) and, with
    ``step_ns`` (the run's step times, UTC ns, ascending), the strategies' events and the accruals for
    :func:`basis_core.backtest.metrics.pnl_by_strategy` (a record belongs to the first step at or after it).
    ``exchanges``: a list to take the strategies' exchanges within their book (spot trades: position changes with no
    price of their own) as :class:`~basis_core.backtest.metrics.ExchangeBlock` columns instead of events, where the
    history is a :class:`~basis_core.history.HistoryLog` and ``full`` False (``pnl_by_strategy(..., exchanges=)``
    takes both: the same result). ``step_pnl``: the PnL floats of the run's steps that attributed one record each
    (:class:`StepPnlFloats`), read for those records instead of their Decimals (the same values)."""
    owner = strategy_of or {}
    comp_index = {c: j for j, c in enumerate(PNL_COMPONENTS)}
    zeros = [0.0] * len(PNL_COMPONENTS)
    memo: dict[str, tuple[int, str]] = {}
    kinds: dict[str, str] = {}
    rows: list[tuple[Any, ...]] = []
    own: list[OwnEvent] = []
    accruals: list[AccrualEvent] = []
    if not full and callable(getattr(history, "block", None)):  # the manager's log: decoded from its stored records
        return _scan_columns(history, owner, step_ns, end, comp_index, zeros, memo, kinds, exchanges, step_pnl)
    for i, r in _indexed(history):
        if end is not None and i >= end:
            break
        _scan_record(i, r, owner, comp_index, zeros, memo, kinds, rows, own, accruals, step_ns, full)
    return _frame(rows, EXECUTION_COLUMNS if full else SUMMARY_COLUMNS), own, accruals


_STAKING = PNL_COMPONENTS.index("staking_yield")


class StepPnlFloats:
    """The PnL components (floats, :data:`~basis_core.deltas.PNL_COMPONENTS` order) of the run's steps that
    attributed exactly one record: that record's own components (a step's component is ``0 + v`` of the record's
    value ``v``: the same value, so the same float), for :func:`scan_history` to read instead of the record's
    Decimals (a long run's Decimals are read from memory again at its end, a cache miss or more each). Not for
    ``staking_yield`` (the step adds LST rate growth to it), an atomic bundle (only its flash-loan fee is a step
    component) or a zero (``Decimal("-0")`` has its own float, the step's is ``0.0``): those are read from the record.

    :param records: absolute index of each such step's record (ascending).
    :param values: one row of component floats per record.
    """

    __slots__ = ("records", "values")

    def __init__(self, records: Any, values: Any) -> None:
        self.records = np.asarray(records, dtype=np.int64)
        self.values = np.asarray(values, dtype=float).reshape(len(self.records), len(PNL_COMPONENTS))

    def components(self, at: Any, comps: list[int]) -> dict[int, Any]:
        """The components ``comps`` of the records ``at`` (absolute indices): each one the steps have, nonzero, for
        every record of ``at``; the others are left out."""
        records = self.records
        if not len(records) or not comps or not len(at):
            return {}
        where = np.minimum(np.searchsorted(records, at), len(records) - 1)
        if not (records[where] == at).all():
            return {}
        rows = self.values[where]
        return {cj: col for cj in comps if (col := rows[:, cj]).all()}


def _scan_columns(history: Any, owner: Mapping[int, str], step_ns: list[int] | None, end: int | None,
                  comp_index: Mapping[str, int], zeros: list[float], memo: dict[str, tuple[int, str]],
                  kinds: dict[str, str], blocks: list[ExchangeBlock] | None = None,
                  step_pnl: StepPnlFloats | None = None) -> tuple[pd.DataFrame, list[OwnEvent], list[AccrualEvent]]:
    """:func:`scan_history` with ``full`` False over a :class:`~basis_core.history.HistoryLog`: its stored records
    (:meth:`~basis_core.history.HistoryLog.block`) grouped by shape and decoded a shape at a time (the records of one
    execution shape keep their values at the same offsets: a column is one comprehension over the group, not a pass
    per record); any other record is decoded one by one as :func:`_scan_record` does. The same frame and events,
    in record order, as the record-by-record scan."""
    start, recs, stamps, shapes = history.block(end)
    size = len(recs)
    comp_cols = np.zeros((len(zeros), size))
    venues = np.empty(size, dtype=object)
    ops = np.empty(size, dtype=object)
    oks = np.ones(size, dtype=bool)
    errors = np.empty(size, dtype=object)  # None unless a record has one
    fields = np.empty(size, dtype=object)
    labels: list[Any] = [owner.get(i) for i in range(start, start + size)] if owner else [None] * size
    times = np.frombuffer(stamps, dtype=np.int64) if size else np.zeros(0, dtype=np.int64)
    # the step of each record: the first at or after its time
    ats = np.searchsorted(np.asarray(step_ns, dtype=np.int64), times, side="left").tolist() \
        if step_ns is not None else None
    own: list[tuple[int, OwnEvent]] = []  # (position in the block, event): sorted into record order at the end
    accruals: list[tuple[int, AccrualEvent]] = []
    # executions by shape id (any other record: -1), grouped in record order
    sid_of = {sid: sid for sid, shape in enumerate(shapes) if shape.head == EXECUTION_HEAD}
    ids = np.fromiter(map(sid_of.get, [r[0] for r in recs], repeat(-1, size)), dtype=np.int64, count=size)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    bounds = [0, *(np.flatnonzero(np.diff(sorted_ids)) + 1).tolist(), size] if size else [0]
    one: list[tuple[Any, ...]] = []
    one_own: list[OwnEvent] = []
    one_acc: list[AccrualEvent] = []
    # the exchange blocks' rows: (their positions in the block, block fields but the positions among all events)
    block_rows: list[tuple[list[int], list[int], list[str], tuple[str, ...], list[list[float]]]] = []
    for g0, g1 in itertools.pairwise(bounds):
        idx = order[g0:g1]
        js: list[int] = idx.tolist()
        sid = int(sorted_ids[g0])
        if sid < 0:  # any other record: its row as the record-by-record scan makes it
            for j in js:
                _scan_record(start + j, history._make(stamps[j], recs[j]), owner, comp_index, zeros, memo, kinds,
                             one, one_own, one_acc, step_ns, False)
                row = one.pop()
                venues[j], ops[j], oks[j], errors[j], fields[j] = row[1], row[2], row[4], row[5], row[6]
                comp_cols[:, j] = row[7:]
                if one_own:
                    own.append((j, one_own.pop()))
                if one_acc:
                    accruals.append((j, one_acc.pop()))
            continue
        shape = shapes[sid]
        op = shape.operation
        venues[idx] = shape.venue
        ops[idx] = op
        oks[idx] = shape.success
        pos_keys = shape.pos_keys
        events = ats is not None and shape.success and op != "atomic"
        perp = any("".join(key.split(":", 2)[1:2]) == "perp" for key in pos_keys)
        flat = events and not perp and blocks is not None  # exchanges within the strategies' books, as columns
        # every float of the group read in one pass, record by record (a record's values lie together in memory; a
        # long run's records do not stay in the CPU's caches between passes)
        c = shape.c
        comp_at = [(cj, c + n) for n, name in enumerate(shape.pnl_keys) if (cj := comp_index.get(name)) is not None]
        if comp_at and step_pnl is not None and op != "atomic":  # components the run's steps converted already
            got = step_pnl.components(start + idx, [cj for cj, _ in comp_at if cj != _STAKING])
            for cj, vals in got.items():
                comp_cols[cj, idx] = vals
            comp_at = [(cj, off) for cj, off in comp_at if cj not in got]
        offsets = [off for _, off in comp_at] + (list(range(shape.a, shape.b)) if flat else [])
        width = len(offsets)
        cols: list[list[float]] = []
        if width:
            # converted one by one: a memo by value costs more than it saves (hashing a Decimal and comparing it to
            # an equal one cost about what float() does, and float() is a function of the value: the same floats)
            read = list(map(float, chain.from_iterable(map(_getter(offsets), map(recs.__getitem__, js)))))
            cols = [read[t::width] for t in range(width)]
            for t, (cj, _) in enumerate(comp_at):
                comp_cols[cj, idx] = cols[t]
        if not events or ats is None:
            continue
        group = [] if flat else [recs[j] for j in js]
        if perp:  # perps valued from the fill price
            own.extend((j, (ats[j], labels[j], *trade_value_deltas(history._make(stamps[j], rec), kinds)))
                       for j, rec in zip(js, group, strict=True) if labels[j] is not None)
        elif flat:
            mine = [x for x, j in enumerate(js) if labels[j] is not None]
            if mine:
                pos_cols = cols[len(comp_at):]
                if len(mine) < len(js):
                    pos_cols = [[col[x] for x in mine] for col in pos_cols]
                mine_js = [js[x] for x in mine]
                block_rows.append((mine_js, [ats[j] for j in mine_js], [labels[j] for j in mine_js], pos_keys,
                                   pos_cols))
        elif len(pos_keys) == 2:  # an exchange within the strategy's book (a spot trade: two keys)
            k0, k1 = pos_keys
            a0 = shape.a
            a1 = a0 + 1
            own.extend((j, (ats[j], labels[j], {k0: rec[a0], k1: rec[a1]}, {}))
                       for j, rec in zip(js, group, strict=True) if labels[j] is not None)
        else:  # an exchange within the strategy's book: its position changes, no prices of its own
            a0, b0 = shape.a, shape.b
            own.extend((j, (ats[j], labels[j], dict(zip(pos_keys, rec[a0:b0], strict=False)), {}))
                       for j, rec in zip(js, group, strict=True) if labels[j] is not None)
        if op not in OPERATIONS and shape.pnl_keys:
            accruing = [c + n for n, name in enumerate(shape.pnl_keys) if name in _ACCRUING]
            for j in js:
                rec = recs[j]
                if labels[j] is None:
                    usd = float(sum((rec[off] for off in accruing), _ZERO))
                    if usd:
                        accruals.append((j, (ats[j], usd, list(pos_keys))))
    data: dict[str, Any] = {
        "timestamp": pd.to_datetime(times, unit="ns", utc=True),
        "venue": venues, "operation": ops, "strategy": labels, "success": oks, "error": errors, "error_field": fields,
    }
    for j, name in enumerate(PNL_COMPONENTS):
        data[f"pnl_{name}"] = comp_cols[j]
    for name, dtype in SUMMARY_COLUMNS.items():
        if dtype == "string":
            data[name] = pd.Series(data[name], dtype=object).astype(dtype).array  # type: ignore[call-overload]
    own.sort(key=itemgetter(0))
    accruals.sort(key=itemgetter(0))
    if block_rows and blocks is not None:  # each row's position among all strategy events (record order)
        every = np.sort(np.concatenate([np.array([j for j, _ in own], dtype=np.int64),
                                        *(np.asarray(r[0], dtype=np.int64) for r in block_rows)]))
        for at_j, steps, labs, keys, values in block_rows:
            blocks.append(ExchangeBlock(steps, np.searchsorted(every, at_j).tolist(), labs, keys, values))
    return (pd.DataFrame(data, columns=list(SUMMARY_COLUMNS)), [e for _, e in own], [e for _, e in accruals])


def _getter(offsets: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """The values of a stored tuple at ``offsets`` (one or more), as a tuple."""
    if len(offsets) > 1:
        return itemgetter(*offsets)
    off = offsets[0]

    def get(rec: tuple[Any, ...]) -> tuple[Any, ...]:
        return (rec[off],)
    return get


def _scan_record(i: int, r: Any, owner: Mapping[int, str], comp_index: Mapping[str, int], zeros: list[float],
                 memo: dict[str, tuple[int, str]], kinds: dict[str, str], rows: list[tuple[Any, ...]],
                 own: list[OwnEvent], accruals: list[AccrualEvent], step_ns: list[int] | None, full: bool) -> None:
    """:func:`scan_history` of one record ``r`` (index ``i``): its row, and its strategy event or accrual."""
    pnl = r.pnl
    comps = zeros.copy()
    for c, v in _items(pnl):
        j = comp_index.get(c)
        if j is not None:
            comps[j] = float(v)
    ok = r.success
    label = owner.get(i)
    op = r.operation
    positions = r.positions
    if not full:
        rows.append((r.ts_ns, r.venue, op, label, ok, r.error, r.error_field, *comps))
    else:
        fee_a, fee_b = comp_index["trading_fees"], comp_index["gas"]
        symbol, side = symbol_side(r, memo) if ok else (None, None)
        price = None if r.fill_price is None else float(r.fill_price)
        amount = None if r.fill_amount is None else float(r.fill_amount)
        rows.append((
            r.ts_ns, r.venue, op, symbol, side, price, amount,
            None if price is None or amount is None else price * amount,
            -(comps[fee_a] + comps[fee_b]), label, ok, r.status,
            r.error, r.error_field, r.client_id, r.order_id, r.bundle, *comps,
            "{" + ", ".join(f'"{k}": "{v}"' for k, v in sorted(_items(positions))) + "}",
        ))
    if step_ns is None or not ok or op == "atomic":
        return
    if label is not None:
        own.append((bisect_left(step_ns, r.ts_ns), label, *trade_value_deltas(r, kinds)))
    elif op not in OPERATIONS and pnl:
        usd = float(sum((v for c, v in _items(pnl) if c in _ACCRUING), _ZERO))
        if usd:
            accruals.append((bisect_left(step_ns, r.ts_ns), usd, [k for k, _ in _items(positions)]))


def _frame(rows: list[tuple[Any, ...]], dtypes: Mapping[str, str]) -> pd.DataFrame:
    """The frame of :func:`scan_history`'s rows, column by column straight into each column's dtype (framing the
    rows as objects first costs about three times as much)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(dtypes)
    data: dict[str, Any] = {}
    for (name, dtype), col in zip(dtypes.items(), columns, strict=True):
        if name == "timestamp":
            data[name] = pd.to_datetime(np.asarray(col, dtype="int64"), unit="ns", utc=True)
        elif dtype == "float64":
            data[name] = np.array(col, dtype=float)  # None: NaN
        elif dtype == "bool":
            data[name] = np.array(col, dtype=bool)
        else:
            data[name] = pd.Series(col, dtype=object).astype(dtype).array  # type: ignore[call-overload]
    return pd.DataFrame(data, columns=list(dtypes))


def executions_frame(history: Iterable[Any], strategy_of: Mapping[int, str] | None = None) -> pd.DataFrame:
    """A tidy frame, one row per history record (instructions, accruals, fills of resting orders, liquidations)
    with typed columns (:data:`EXECUTION_COLUMNS`): time, venue, operation, symbol and side (derived from the
    position changes), fill price and amount, notional (price x amount, quote units), ``fee`` (USD paid in
    trading fees and gas, positive = cost), the strategy that made it (None: scheduled instructions and accruals),
    success, status, error and its field, ids, the atomic bundle, ``pnl_<component>`` (USD) and the position
    changes as JSON."""
    return scan_history(history, strategy_of)[0]


__all__ = ["EXECUTION_COLUMNS", "SUMMARY_COLUMNS", "executions_frame", "scan_history", "symbol_side",
           "trade_value_deltas"]
