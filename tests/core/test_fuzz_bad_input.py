"""Fuzzed bad input at every public entry point: only BasisError subclasses escape, nothing changes, and what is
kept (error messages, history records) stays small.

The manager gets dicts, JSON texts and models with random field types, values, sizes and nesting, at timestamps
of every kind (aware, naive, out of pandas' nanosecond range, not timestamps at all). Scenario loading gets
random YAML texts and mappings. The example count is modest here; ``BASIS_FUZZ_EXAMPLES=5000`` runs the
issue's 5,000.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from basis_venue_paper import PaperVenue, PaperVenueTwo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basis_core import ExecutionInterfaceManager
from basis_core.backtest.scenario import load_scenario
from basis_core.data import DataProvider
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import MAX_MESSAGE_CHARS, BasisError
from basis_core.instructions import MODELS, OPERATIONS, SpotTrade

EXAMPLES = int(os.environ.get("BASIS_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
FUZZ_LESS = settings(FUZZ, max_examples=max(EXAMPLES // 3, 10))
GOOD = {"operation": "spot_trade", "venue": "paper", "symbol": "ETH/USDT", "side": "buy", "amount": "1"}
#: a history record's text fields stay below this (message limit plus the type name and the cut marker)
RECORD_LIMIT = MAX_MESSAGE_CHARS + 200

FIELDS = sorted({f for m in MODELS.values() for f in m.model_fields} | {"operation", "nonsense", ""})

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**300, max_value=10**320),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["max", "NaN", "-Infinity", "sNaN", "1e999999", "0", "-1", "1e-40", "ETH/USDT",
                     "ETH/USDT:USDT", "paper", "buy", "limit", "2025-02-01T00:00:00Z", "0001-01-01T00:00:00Z",
                     "9999-12-31T23:59:59+14:00", "\x00", "\ud800x"]),
    st.sampled_from(OPERATIONS),
    st.decimals(allow_nan=True, allow_infinity=True),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)


@st.composite
def big_values(draw: st.DrawFn) -> Any:
    """Oversized fields: long strings, long lists, deep nesting."""
    n = draw(st.sampled_from([1_000, 100_000, 1_000_000 if EXAMPLES > 1000 else 200_000]))
    kind = draw(st.sampled_from(["str", "list", "deep_list", "deep_dict"]))
    if kind == "str":
        return draw(st.sampled_from("x9/:é")) * n
    if kind == "list":
        return ["1"] * (n // 100)
    depth = draw(st.sampled_from([50, 2_000, 20_000]))
    v: Any = "1"
    for _ in range(depth):
        v = [v] if kind == "deep_list" else {"a": v}
    return v


def _depth(value: Any) -> int:
    """Nesting depth of lists / dicts, counted without recursion. Nothing in these tests may run into the recursion
    limit: a garbage collection that happens there runs finalizers with no stack left, and pytest reports the
    "exception ignored" that follows as an unraisable-exception failure of whichever test is running."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, list | dict):
            deepest = max(deepest, d)
            todo.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


@st.composite
def instructions(draw: st.DrawFn) -> Any:
    """A good instruction with random fields changed, added or removed; as a dict, a JSON text or bytes."""
    d: dict[Any, Any] = dict(GOOD) if draw(st.booleans()) else {"operation": draw(st.sampled_from(OPERATIONS))}
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(FIELDS) | st.text(max_size=8))
        if draw(st.integers(0, 9)) == 0:
            d.pop(key, None)
        else:
            d[key] = draw(json_values | big_values() if draw(st.integers(0, 5)) == 0 else json_values)
    if draw(st.integers(0, 9)) == 0:
        d[draw(st.sampled_from(["x" * 100_000, "steps"]))] = draw(big_values())
    form = draw(st.sampled_from(["dict", "dict", "json", "bytes", "junk"]))
    if form == "junk":
        return draw(st.one_of(json_values, big_values(), st.just("{" * 100_000), st.just("[" * 5000 + "]" * 5000),
                              st.just(b"\xff\xfe"), st.just("1" * 5000), st.just(SpotTrade)))
    if form == "dict":
        return d
    if _depth(d) > 200:  # json.dumps would recurse to the interpreter's limit: not a safe place to be (see below)
        return d
    try:
        text = json.dumps(d, default=str)
    except ValueError:
        return d
    return text.encode("utf-8", "surrogatepass") if form == "bytes" else text


timestamps = st.one_of(
    st.just("2025-02-01T00:00:00Z"), st.just("2025-02-01T01:00:00Z"),
    st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(timezone(timedelta(hours=-14)))),
    st.datetimes(), st.just(datetime(1, 1, 1, tzinfo=UTC)), st.just(datetime(9999, 12, 31, 23, 59, tzinfo=UTC)),
    st.just(pd.Timestamp(datetime(1, 1, 1, tzinfo=UTC))), st.just(pd.Timestamp("2262-04-11T23:47:16Z")),
    st.just(pd.Timestamp("2025-02-01", tz="Asia/Tokyo")), st.just(pd.NaT), st.just(date(2025, 2, 1)),
    st.text(max_size=30), st.just("9" * 100_000), st.integers(), st.floats(), st.none(), st.just(b"2025"),
)


@pytest.fixture
def make(market: DataProvider) -> Any:
    def make() -> ExecutionInterfaceManager:
        return ExecutionInterfaceManager({"initial_balances": {"paper:spot:USDT": "100000"}}, market, "backtest",
                                         autoload=False, plugins=[PaperVenue, PaperVenueTwo])
    return make


def _assert_only_typed_and_nothing_changed(m: ExecutionInterfaceManager, call: Any) -> None:
    before = m.ledger.balances  # type: ignore[union-attr]
    n = len(m.execution_history)
    try:
        result = call()
    except BasisError as exc:
        assert len(str(exc)) <= MAX_MESSAGE_CHARS + 100
        assert m.ledger.balances == before  # type: ignore[union-attr]
    else:
        assert type(result) in (ExecutionDeltas, list)
    assert len(m.execution_history) - n <= 1
    for rec in m.execution_history[n:]:
        assert len(rec.error or "") <= RECORD_LIMIT and len(rec.error_field or "") <= RECORD_LIMIT
        assert all(len(str(x)) <= 200 for x in (rec.venue, rec.operation, rec.client_id))


@FUZZ
@given(ts=timestamps, instruction=instructions())
def test_the_manager_raises_only_typed_errors_and_changes_nothing(make: Any, ts: Any, instruction: Any) -> None:
    m = make()
    _assert_only_typed_and_nothing_changed(m, lambda: m.execute(ts, instruction))
    _assert_only_typed_and_nothing_changed(m, lambda: m.execute(ts, GOOD))  # a good one after a bad one


@FUZZ_LESS
@given(ts=timestamps)
def test_advance_to_and_queries_raise_only_typed_errors(make: Any, ts: Any) -> None:
    m = make()
    _assert_only_typed_and_nothing_changed(m, lambda: m.advance_to(ts))
    try:
        m.get_balances(ts, "paper")
    except BasisError:
        pass


@pytest.mark.parametrize("ts", [datetime(1, 1, 1, tzinfo=UTC), "9999-12-31T00:00:00Z",
                                pd.Timestamp(datetime(1, 1, 1, tzinfo=UTC))])
def test_a_timestamp_outside_the_range_is_a_clock_error_naming_the_year(make: Any, ts: Any) -> None:
    m = make()
    from basis_core.errors import ClockError
    with pytest.raises(ClockError, match=r"timestamp: year (1|9999) is outside the supported range"):
        m.execute(ts, GOOD)
    assert m.execution_history[-1].success is False


def test_an_out_of_range_timestamp_does_not_hide_the_instruction_error(make: Any) -> None:
    """The timestamp is checked first and named; the error is typed, not an OverflowError."""
    m = make()
    from basis_core.errors import ClockError
    with pytest.raises(ClockError):
        m.execute(datetime(1, 1, 1, tzinfo=UTC), {**GOOD, "amount": "-1"})


def test_a_megabyte_junk_field_gives_a_short_error_saying_its_length(make: Any) -> None:
    m = make()
    with pytest.raises(BasisError) as info:
        m.execute("2025-02-01T00:00:00Z", {**GOOD, "symbol": "x" * 1_000_000})
    assert len(str(info.value)) < 1000 and "(1000000 chars)" in str(info.value)
    assert len(m.execution_history[-1].error or "") < 1000


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000,
                                  json.dumps({**GOOD, "pad": "x" * 2_000_000})])
def test_json_too_deep_or_too_large_is_typed(make: Any, text: str) -> None:
    """Refused before the JSON decoder runs: it recurses in C, so under a host's high recursion limit a deep text
    would crash the process instead of raising."""
    m = make()
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)
    try:
        with pytest.raises(BasisError, match=r"instruction: JSON (nested too deeply|text too large)"):
            m.execute("2025-02-01T00:00:00Z", text)
    finally:
        sys.setrecursionlimit(old)


# ------------------------------------------------------------------------------------------------ scenarios
yaml_texts = st.one_of(
    st.text(max_size=200), st.just("a: " + "[" * 5_000), st.just("- " * 5_000 + "x"),
    st.just("period: {start: 0001-01-01, end: 9999-12-31}"), st.just("period: {step: 100000000000D}"),
    st.just("period: {start: '2025-01-01T00:00:00+99:00'}"), st.just("\x00\x01"),
    st.builds(lambda v: json.dumps({"period": {"start": v}, "schedule": [{"at": v, "instruction": GOOD}]},
                                   default=str), json_values | timestamps.map(str)),
)


@FUZZ_LESS
@given(text=yaml_texts)
def test_scenario_loading_raises_only_typed_errors(text: str) -> None:
    try:
        load_scenario("fuzz.yaml", text=text)
    except BasisError as exc:
        assert len(str(exc)) <= MAX_MESSAGE_CHARS + 100


@FUZZ_LESS
@given(data=st.dictionaries(st.sampled_from(["period", "market", "schedule", "strategies", "initial_balances"]),
                            json_values | big_values(), max_size=3))
def test_scenario_mappings_raise_only_typed_errors(data: dict[str, Any]) -> None:
    try:
        load_scenario(data)
    except BasisError as exc:
        assert len(str(exc)) <= MAX_MESSAGE_CHARS + 100


@pytest.mark.parametrize("period", [{"start": "0001-01-01", "end": "2025-01-02"}, {"start": "2025-01-01",
                                                                                   "end": "9999-01-01"}])
def test_backtest_run_refuses_an_out_of_range_period_with_a_typed_error(period: dict[str, str]) -> None:
    from basis_core.backtest import run
    with pytest.raises(BasisError, match="supported range"):
        run({"period": period})


def test_the_cli_reports_a_bad_scenario_without_a_traceback(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from basis_core.cli import _register, app
    _register()
    bad = tmp_path / "bad.yaml"
    bad.write_text("period: {start: 0001-01-01, end: 2025-01-02}\n" + "# " + "x" * 100_000 + "\n")
    res = CliRunner().invoke(app, ["backtest", str(bad)])
    assert (res.exit_code != 0 and res.exception is None) or isinstance(res.exception, SystemExit)
    assert "supported range" in res.output and "Traceback" not in res.output


def test_decimal_fields_survive_the_frozen_guard() -> None:
    """The field guard costs nothing on reads and refuses writes (models stay usable as before)."""
    ins = SpotTrade(venue="paper", symbol="ETH/USDT", side="buy", amount=Decimal("1.5"))
    assert ins.amount == Decimal("1.5") and ins.model_copy(update={"amount": Decimal(2)}).amount == 2
    with pytest.raises(AttributeError):
        object.__setattr__(ins, "amount", Decimal(9))
    assert ins.amount == Decimal("1.5")


@pytest.mark.parametrize("text", ["a: " + "[" * 5_000, "- " * 5_000 + "x", "a: " + "{a: " * 100 + "1" + "}" * 100])
def test_a_deep_scenario_is_refused_before_it_is_composed(text: str) -> None:
    """Counted from the parser's events: the composer (which recurses per level) never sees it, so the refusal does
    not depend on the interpreter's recursion limit."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(__import__("inspect").stack()) + 200)
    try:
        with pytest.raises(BasisError, match=r"nested too deeply \(limit 64 levels\)"):
            load_scenario("deep.yaml", text=text)
    finally:
        sys.setrecursionlimit(old)


@pytest.fixture
def unraisable_and_eager_gc() -> Any:
    """Collected "exception ignored" events while a garbage collection runs at every allocation: a finalizer that
    fails at the recursion limit shows here every time, not only when a collection happens to fall there."""
    import gc
    seen: list[Any] = []
    old_hook, old_threshold = sys.unraisablehook, gc.get_threshold()
    sys.unraisablehook = lambda u: seen.append((type(u.exc_value).__name__, u.err_msg))
    gc.set_threshold(1, 1, 1)
    try:
        yield seen
    finally:
        gc.set_threshold(*old_threshold)
        sys.unraisablehook = old_hook


def _deep(kind: str, depth: int) -> Any:
    v: Any = "1"
    for _ in range(depth):
        v = [v] if kind == "list" else {"a": v}
    return v


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_a_deep_value_in_any_field_never_reaches_the_recursion_limit(make: Any, kind: str,
                                                                    unraisable_and_eager_gc: list[Any]) -> None:
    """The failure of record: pydantic names a bad union tag with ``str(tag)``, which recursed through a deep
    ``operation`` to the limit. Every field, at the top and inside a bundle step, gives a typed error and no
    "exception ignored"."""
    m, deep = make(), _deep(kind, 3_000)
    fields = sorted({f for model in MODELS.values() for f in model.model_fields} | {"operation", "nonsense"})
    for field in fields:
        for instruction in ({**GOOD, field: deep}, {"operation": "atomic", "steps": [{**GOOD, field: deep}]}):
            with pytest.raises(BasisError):
                m.execute("2025-02-01T00:00:00Z", instruction)
    assert unraisable_and_eager_gc == []
    assert m.ledger.balances == {"paper:spot:USDT": Decimal("100000")}  # type: ignore[union-attr]


def test_a_non_string_operation_is_an_unknown_operation_naming_where(make: Any) -> None:
    m = make()
    with pytest.raises(BasisError, match=r"^operation: unknown operation \[{5}\.{3}\]{5}; known: spot_trade"):
        m.execute("2025-02-01T00:00:00Z", {**GOOD, "operation": _deep("list", 3_000)})
    with pytest.raises(BasisError, match=r"^steps\.1\.operation: unknown operation 7; known"):
        m.execute("2025-02-01T00:00:00Z", {"operation": "atomic", "steps": [GOOD, {**GOOD, "operation": 7}]})


@pytest.mark.parametrize("paired", [
    {"operation": "paired", "legs": [GOOD, {**GOOD, "operation": _deep("dict", 3_000)}], "budget": {}},
    "[" * 100_000 + "]" * 100_000, b"\xff\xfe", "[1]",
])
def test_a_paired_instruction_refuses_deep_tags_and_bad_json_like_any_other(
        paired: Any, unraisable_and_eager_gc: list[Any]) -> None:
    from basis_core.paired import parse_paired
    with pytest.raises(BasisError, match=r"^(legs\.1\.operation: unknown operation|instruction: )"):
        parse_paired(paired)
    assert unraisable_and_eager_gc == []


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_a_deep_value_anywhere_in_a_scenario_mapping_never_reaches_the_recursion_limit(
        kind: str, unraisable_and_eager_gc: list[Any]) -> None:
    deep = _deep(kind, 3_000)
    for key in ["period", "market", "schedule", "strategies", "initial_balances", "venue_config", "nonsense"]:
        for data in ({key: deep}, {key: {"start": deep, "kind": deep}}, {key: [{"at": deep, "instruction": deep}]}):
            with pytest.raises(BasisError):
                load_scenario(data)
    assert unraisable_and_eager_gc == []
