"""The venue conformance kit: a pytest plugin and a test-class base that check any venue plugin
against basis-core's contract.

Two ways to run it (see docs/writing-a-venue-plugin.md):

1. In a plugin's tests (the usual way; nothing to register)::

       # tests/test_conformance.py
       from basis_core.testing.conformance import ConformanceSuite

       class TestConformance(ConformanceSuite):
           venue = "myvenue"          # the entry-point name (or the venue class itself)

2. Against any installed venue, without writing a file: enable the plugin and name the venues::

       pytest -p basis_core.testing.conformance --basis-venue binance --basis-venue aave
       pytest -p basis_core.testing.conformance --basis-venue all

   (or put ``pytest_plugins = ["basis_core.testing.conformance"]`` in a project's top-level conftest).

What is checked (each item is a test; ``[capability]`` tests are skipped unless the venue declares it):
venue_info is well formed; declared operations == implemented operation hooks; every declared operation
has an example; each example executes in backtest into a well-formed ``ExecutionDeltas`` whose keys lie in
the venue's namespaces and whose positions are exactly what the ledger gained; invalid variants of each
example raise typed ``InstructionError`` and leave the ledger and the venue's tables unchanged; the same
``client_id`` twice executes once; ``[fills]`` a fill's USD value change equals its pnl (fees and costs);
``[resting_orders]`` rest / cancel / cancel-again; ``[credentials]`` secrets never leak into reprs, logs,
errors, results or history; no ccxt / web3 import in backtest (a fresh interpreter) ``[live]`` nor when
building a live-mode manager; accruals and balances are well formed; quotes change nothing.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from basis_core.data.prices import usd_price
from basis_core.deltas import SIGNED_KINDS, merge_positions, split_key
from basis_core.errors import BasisError, InstructionError, OrderNotFoundError
from basis_core.hookspecs import OPERATION_HOOKS, hookimpl
from basis_core.instructions import instruction_to_dict, parse_instruction
from basis_core.testing.conformance_checks import (
    FILL_STATUSES,
    apply_positions,
    check_deltas,
    check_venue_info,
    diff_balances,
    find_leaks,
    in_namespaces,
    invalid_variants,
    ledger_state,
    value_fill,
)
from basis_core.testing.conformance_harness import (
    Harness,
    VenueTarget,
    fake_credentials,
    has_impl,
    installed_venue_names,
    probe_imports,
    resolve_target,
)
from basis_core.testing.conformance_protocol import CAPABILITIES, ConformanceExample

SUITE_FILE = Path(__file__).with_name("conformance_suite.py")

__all__ = ["CAPABILITIES", "ConformanceExample", "ConformanceSuite", "pytest_addoption", "pytest_configure"]


# -- the pytest plugin (opt-in: -p basis_core.testing.conformance) ------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("basis-conformance", "basis-core venue conformance kit")
    group.addoption("--basis-venue", action="append", default=[], metavar="NAME",
                    help="run the venue conformance suite against this installed venue "
                         "(repeatable; 'all' = every installed venue)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a test of basis-core's venue conformance kit")
    if config.getoption("basis_venue", default=None):
        suite = str(SUITE_FILE)
        if config.args_source == pytest.Config.ArgsSource.ARGS:
            if suite not in config.args:
                config.args.append(suite)
        else:  # no paths given: run only the suite, not the project's testpaths
            config.args[:] = [suite]


# -- parametrization ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Broken:
    """A target that could not be resolved: its tests fail with this message."""

    spec: str
    error: str


@dataclass(frozen=True)
class Case:
    """One example of one venue (a test parameter)."""

    target: VenueTarget
    operation: str
    index: int
    example: ConformanceExample


def _targets(cls: type, config: pytest.Config) -> list[VenueTarget | _Broken]:
    specs: list[Any] = []
    if getattr(cls, "venue", None) is not None:
        specs.append(cls.venue)  # type: ignore[attr-defined]
    else:
        for name in config.getoption("basis_venue", default=None) or []:
            specs.extend(installed_venue_names() if name == "all" else [name])
    out: list[VenueTarget | _Broken] = []
    for spec in specs:
        try:
            out.append(resolve_target(spec))
        except Exception as e:  # shown as a failing test, not a collection crash
            out.append(_Broken(str(getattr(spec, "__name__", spec)), f"{type(e).__name__}: {e}"))
    return out


@lru_cache(maxsize=32)
def _harness(target: VenueTarget) -> Harness:
    return Harness(target)


def _id(t: VenueTarget | _Broken) -> str:
    return t.spec if isinstance(t, _Broken) else t.name


def _harness_or_fail(t: VenueTarget | _Broken) -> Harness:
    if isinstance(t, _Broken):
        pytest.fail(f"venue {t.spec!r} cannot be loaded: {t.error}", pytrace=False)
    h, err = _attempt(lambda: _harness(t), Exception)
    if err is not None:
        pytest.fail(f"venue {t.name!r}: its conformance declarations fail: {_err(err)}", pytrace=False)
    return h  # type: ignore[no-any-return]


def _attempt(fn: Callable[[], Any], catch: type[BaseException] | tuple[type[BaseException], ...] = BasisError
             ) -> tuple[Any, BaseException | None]:
    """``(fn(), None)`` or ``(None, the exception)``, so a failure is reported outside the except block
    (without pytest printing the chained traceback)."""
    try:
        return fn(), None
    except catch as e:
        return None, e


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


def _bullets(problems: list[str]) -> str:
    return "\n".join(f"  - {p}" for p in problems)


def _fail(what: str, problems: list[str]) -> None:
    if problems:
        pytest.fail(f"{what}:\n{_bullets(problems)}", pytrace=False)


# -- the suite ---------------------------------------------------------------------------------------------
def _info_or_skip(h: Any, hook: str) -> Any:
    """The venue's info; the test is skipped when the venue implements no ``hook``."""
    m0 = h.manager()
    if not has_impl(m0, h.name, hook):
        pytest.skip(f"{h.name} implements no {hook} hook")
    return h.venue(m0).venue_info()


class _AccrualCapture:
    """A host wrapper around ``accrue`` keeping each venue's raw answer (what the manager then checks)."""

    def __init__(self) -> None:
        self.results: list[Any] = []

    @hookimpl(wrapper=True)
    def accrue(self, previous: Any, timestamp: Any) -> Any:
        res = yield
        self.results += [r for r in res if r]
        return res


def _after_each_example(h: Any) -> Iterator[tuple[str, int, Any, Any]]:
    """``(operation, index, manager, timestamp)`` after each example ran on a fresh manager (failed ones skipped)."""
    for op, i, ex in h.cases():
        m = h.manager()
        try:
            ts = h.run(m, ex).timestamp
        except BasisError:
            continue
        yield op, i, m, ts


class ConformanceSuite:
    """Subclass as ``Test...`` and set ``venue`` (entry-point name or class) to run the kit on a venue.

    With ``venue = None`` the venues come from ``--basis-venue`` (plugin enabled with ``-p``).
    """

    venue: ClassVar[str | type | None] = None

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        targets = _targets(type(self), metafunc.config)
        multi = len(targets) > 1
        if "conformance_venue" in metafunc.fixturenames:
            metafunc.parametrize("conformance_venue", targets, ids=[_id(t) for t in targets])
        if "conformance_case" in metafunc.fixturenames:
            params: list[Any] = []
            for t in targets:
                try:
                    h = _harness(t) if isinstance(t, VenueTarget) else None
                except Exception:
                    h = None
                if h is None or not h.cases():
                    params.append(pytest.param(t, id=f"{_id(t)}-no-examples"))
                    continue
                for op, i, ex in h.cases():
                    label = ex.label or str(i)
                    params.append(pytest.param(Case(h.target, op, i, ex),
                                               id=f"{h.name}-{op}-{label}" if multi else f"{op}-{label}"))
            metafunc.parametrize("conformance_case", params)

    # -- helpers --------------------------------------------------------------------------------------------
    @staticmethod
    def _case(case: Case | VenueTarget | _Broken) -> tuple[Harness, Case]:
        if not isinstance(case, Case):
            h = _harness_or_fail(case)
            pytest.fail(f"venue {h.name!r} declares no conformance examples: define conformance_examples() "
                        "(see docs/writing-a-venue-plugin.md)", pytrace=False)
        return _harness_or_fail(case.target), case

    @staticmethod
    def _require(h: Harness, capability: str) -> None:
        if capability not in h.protocol.capabilities:
            pytest.skip(f"venue {h.name!r} does not declare the {capability!r} capability")

    @staticmethod
    def _parse(h: Harness, case: Case, d: Mapping[str, Any], what: str = "example") -> Any:
        res, err = _attempt(lambda: parse_instruction(dict(d)))
        if err is not None:
            pytest.fail(f"{h.name} {case.operation}[{case.index}]: the {what} is not a valid instruction: {err}",
                        pytrace=False)
        return res

    @staticmethod
    def _prepare(h: Harness, case: Case, m: Any) -> pd.Timestamp:
        res, err = _attempt(lambda: h.prepare(m, case.example))
        if err is not None:
            pytest.fail(f"{h.name} {case.operation}[{case.index}]: a setup step failed: {_err(err)}", pytrace=False)
        return res  # type: ignore[no-any-return]

    @staticmethod
    def _execute(h: Harness, case: Case, m: Any, ts: pd.Timestamp, instruction: Any) -> Any:
        res, err = _attempt(lambda: m.execute(ts, instruction))
        if err is not None:
            pytest.fail(f"{h.name} {case.operation}[{case.index}]: the valid example raised {_err(err)} "
                        "(check conformance_balances / setup)", pytrace=False)
        return res

    # -- venue-level tests -------------------------------------------------------------------------------------
    def test_venue_info(self, conformance_venue: VenueTarget | _Broken) -> None:
        """venue_info() is a VenueInfo with the registered name, a known kind, known operations, namespaces."""
        h = _harness_or_fail(conformance_venue)
        m = h.manager()
        info = h.venue(m).venue_info()
        problems = check_venue_info(info, h.target.name)
        if h.name != h.target.name:
            problems.append(f"the class's name {h.name!r} differs from the entry-point name {h.target.name!r}")
        _fail(f"{h.name}: venue_info()", problems)

    def test_unknown_settings_are_refused(self, conformance_venue: VenueTarget | _Broken) -> None:
        """A misspelled settings key (``venue_config.<venue>.slipage``) is a ConfigError naming it, never ignored."""
        from basis_core.errors import ConfigError
        from basis_core.manager import ExecutionInterfaceManager

        h = _harness_or_fail(conformance_venue)
        cfg = h.config()
        cfg["venue_config"][h.name] = {**cfg["venue_config"][h.name], "slipage": "5"}
        try:
            ExecutionInterfaceManager(cfg, data_provider=h.market, execution_mode="backtest", autoload=False,
                                      plugins=[h.target.cls])
        except ConfigError as e:
            if "slipage" not in str(e):
                _fail(f"{h.name}: unknown setting", [f"the ConfigError does not name the key 'slipage': {e}"])
            return
        _fail(f"{h.name}: unknown setting", ["venue_config.<venue>.slipage was accepted silently; declare the keys "
                                             "the venue reads in settings_options"])

    def test_operations_match_hooks(self, conformance_venue: VenueTarget | _Broken) -> None:
        """Every operation declared in venue_info has a hook implementation, and vice versa."""
        h = _harness_or_fail(conformance_venue)
        m = h.manager()
        declared = set(h.venue(m).venue_info().operations)
        implemented = {op for op, hook in OPERATION_HOOKS.items() if has_impl(m, h.name, hook)}
        problems = [f"{op!r} is declared in venue_info but no hook {OPERATION_HOOKS[op]!r} is implemented"
                    for op in sorted(declared - implemented)]
        problems += [f"hook {OPERATION_HOOKS[op]!r} is implemented but {op!r} is not declared in venue_info"
                     for op in sorted(implemented - declared)]
        if not declared:
            problems.append("the venue declares no operation")
        _fail(f"{h.name}: operations vs hook implementations", problems)

    def test_every_operation_has_an_example(self, conformance_venue: VenueTarget | _Broken) -> None:
        """conformance_examples() covers exactly the declared operations."""
        h = _harness_or_fail(conformance_venue)
        if not h.protocol.has_examples:
            pytest.fail(f"{h.name}: define conformance_examples() on the venue class "
                        "(see docs/writing-a-venue-plugin.md)", pytrace=False)
        declared = set(h.venue(h.manager()).venue_info().operations)
        given = {op for op, exs in h.protocol.examples.items() if exs}
        problems = [f"no example for declared operation {op!r}" for op in sorted(declared - given)]
        problems += [f"examples for {op!r}, which the venue does not declare" for op in sorted(given - declared)]
        _fail(f"{h.name}: conformance_examples()", problems)

    # -- example-level tests -----------------------------------------------------------------------------------
    def test_example_executes(self, conformance_case: Case) -> None:
        """The example executes in backtest into well-formed deltas; the ledger gains exactly its positions."""
        h, case = self._case(conformance_case)
        m = h.manager()
        ts = self._prepare(h, case, m)
        instr = self._parse(h, case, case.example.instruction)
        info = h.venue(m).venue_info()
        before, _ = ledger_state(m.ledger)
        n = len(m.execution_history)
        d = self._execute(h, case, m, ts, instr)
        problems = check_deltas(d, venue=instr.venue, operation=case.operation, timestamp=ts,
                                namespaces=info.key_namespaces, client_id=instr.client_id)
        after, _ = ledger_state(m.ledger)
        if after != apply_positions(before, d.positions):
            problems.append(f"the ledger changed by {diff_balances(before, after)}, but the result's positions are "
                            f"{merge_positions(d.positions)} (never write your own result to the ledger; the manager "
                            "applies positions)")
        new = m.execution_history[n:]
        if not new or not new[-1].success or new[-1].operation != case.operation:
            problems.append(f"execution_history did not record the success (new records: {new})")
        _fail(f"{h.name} {case.operation}[{case.index}]", problems)

    def test_fill_value_equals_costs(self, conformance_case: Case) -> None:
        """[fills] The USD value change of a fill equals the sum of its pnl (minus its fees and costs)."""
        h, case = self._case(conformance_case)
        self._require(h, "fills")
        m = h.manager()
        ts = self._prepare(h, case, m)
        instr = self._parse(h, case, case.example.instruction)
        d = self._execute(h, case, m, ts, instr)
        if d.status not in FILL_STATUSES or not d.positions:
            pytest.skip(f"status {d.status!r} with {len(d.positions)} position(s): not a fill")
        snap = h.market.get_data(ts)
        val = value_fill(d, instr, lambda asset: usd_price(snap, asset))
        if not val.ok:
            lines = list(val.problems) + list(val.lines)
            lines.append(f"value change {val.value_change} USD vs sum(pnl) {val.pnl_total} USD "
                         f"(pnl {dict(d.pnl)}); difference {val.value_change - val.pnl_total}, "
                         f"tolerance {val.tolerance}")
            _fail(f"{h.name} {case.operation}[{case.index}]: the fill's value change is not its fees and costs "
                  "(report every cost in pnl, or give details['reference_prices'])", lines)

    def test_invalid_variants_rejected(self, conformance_case: Case) -> None:
        """Invalid variants raise typed InstructionErrors and change nothing (ledger, tables, history)."""
        h, case = self._case(conformance_case)
        if not case.example.mutate:
            pytest.skip("the example opts out of derived invalid variants (mutate=False)")
        m = h.manager()
        ts = self._prepare(h, case, m)
        base = instruction_to_dict(self._parse(h, case, case.example.instruction))
        variants = [v for v in invalid_variants(base) if v.label not in case.example.skip_variants]
        if not variants:
            pytest.skip("no invalid variant derives from this example")
        problems: list[str] = []
        obj = h.venue(m)
        for v in variants:
            before = ledger_state(m.ledger)
            orders = dict(obj.current_orders)
            n = len(m.execution_history)
            try:
                res = m.execute(ts, v.instruction)
            except InstructionError as e:
                if not e.field or not e.reason:
                    problems.append(f"{v.label}: {type(e).__name__} without field / reason")
            except BasisError as e:
                problems.append(f"{v.label}: raised {type(e).__name__} ({e}); an invalid instruction must raise "
                                "an InstructionError naming the field")
            except Exception as e:
                problems.append(f"{v.label}: raised untyped {type(e).__name__}: {e}")
            else:
                problems.append(f"{v.label}: accepted (status {res.status!r}, positions {dict(res.positions)})")
                continue
            if ledger_state(m.ledger) != before:
                problems.append(f"{v.label}: the ledger or the venue's tables changed although it failed")
            if dict(obj.current_orders) != orders:
                problems.append(f"{v.label}: the venue's current_orders changed although it failed")
            new = m.execution_history[n:]
            if len(new) != 1 or new[0].success:
                problems.append(f"{v.label}: expected one failed record in execution_history, got {new}")
        _fail(f"{h.name} {case.operation}[{case.index}]: invalid variants", problems)

    def test_client_id_idempotent(self, conformance_case: Case) -> None:
        """The same client_id twice executes once: same result, no second ledger change or history record."""
        h, case = self._case(conformance_case)
        m = h.manager()
        ts = self._prepare(h, case, m)
        d = dict(case.example.instruction)
        d.setdefault("client_id", f"conf-idem-{case.operation}-{case.index}".replace("_", "-"))
        instr = self._parse(h, case, d)
        obj = h.venue(m)
        first = self._execute(h, case, m, ts, instr)
        state, n, executed = ledger_state(m.ledger), len(m.execution_history), obj.orders_executed
        problems = []
        second, err = _attempt(lambda: m.execute(ts, dict(d)), Exception)
        if err is not None:
            _fail(f"{h.name} {case.operation}[{case.index}]: client_id {d['client_id']!r} twice",
                  [f"the second call executed again and raised {_err(err)}"])
        if second != first:
            problems.append(f"the second call returned a different result: {second} vs {first}")
        if ledger_state(m.ledger) != state:
            problems.append("the second call changed the ledger")
        if len(m.execution_history) != n or obj.orders_executed != executed:
            problems.append("the second call was executed / recorded again")
        _fail(f"{h.name} {case.operation}[{case.index}]: client_id {d['client_id']!r} twice", problems)

    # -- capability tests --------------------------------------------------------------------------------------
    def test_resting_order_cancel(self, conformance_venue: VenueTarget | _Broken) -> None:
        """[resting_orders] A resting order changes no balance; cancel frees it; a second cancel is typed."""
        h = _harness_or_fail(conformance_venue)
        self._require(h, "resting_orders")
        if "cancel_order" not in h.venue(h.manager()).venue_info().operations:
            pytest.fail(f"{h.name}: declares resting_orders but not the cancel_order operation", pytrace=False)
        for op, i, ex in h.cases():
            if op in ("cancel_order", "modify_order"):
                continue
            for by in ("order_id", "client_id"):
                m = h.manager()
                try:
                    ts = h.prepare(m, ex)
                    d = {**ex.instruction, "client_id": f"conf-rest-{i}-{by}".replace("_", "-")}
                    bal_before, _ = ledger_state(m.ledger)
                    res = m.execute(ts, d)
                except BasisError:
                    break
                if res.status != "open":
                    break
                problems: list[str] = []
                if res.positions or ledger_state(m.ledger)[0] != bal_before:
                    problems.append("placing the resting order changed balances")
                oid = res.order_id if by == "order_id" and res.order_id else d["client_id"]
                cancel = {"operation": "cancel_order", "venue": h.name, "order_id": oid}
                if "symbol" in d:
                    cancel["symbol"] = d["symbol"]
                c, err = _attempt(lambda: m.execute(ts, cancel))  # noqa: B023 (called at once)
                if err is not None:
                    _fail(f"{h.name}: cancel_order by {by} {oid!r}", [f"raised {_err(err)}"])
                if c.status != "cancelled":
                    problems.append(f"cancel returned status {c.status!r}, expected 'cancelled'")
                if ledger_state(m.ledger)[0] != bal_before:
                    problems.append("balances after the cancel differ from before the order")
                try:
                    m.execute(ts, cancel)
                except OrderNotFoundError:
                    pass
                except BaseException as e:
                    problems.append(f"a second cancel raised {type(e).__name__}, expected OrderNotFoundError")
                else:
                    problems.append("a second cancel of the same order succeeded")
                _fail(f"{h.name}: resting order from {op}[{i}], cancelled by {by}", problems)
            else:
                return
        pytest.fail(f"{h.name}: declares resting_orders but no example rests (status 'open'); add a limit order "
                    "that does not cross", pytrace=False)

    def test_credentials_never_leak(self, conformance_venue: VenueTarget | _Broken,
                                    caplog: pytest.LogCaptureFixture) -> None:
        """[credentials] Fake credentials never appear in reprs, logs, errors, results, status or history."""
        h = _harness_or_fail(conformance_venue)
        self._require(h, "credentials")
        creds = fake_credentials()
        secrets = [*creds.values(), creds["private_key"][2:]]
        caplog.set_level(logging.DEBUG)
        texts: dict[str, str] = {}

        def look(place: str, m: Any) -> None:
            obj = h.venue(m)
            texts[f"{place}: repr(venue)"] = f"{obj!r} {obj!s}"
            texts[f"{place}: repr(manager)"] = repr(m)
            texts[f"{place}: repr(settings)"] = f"{obj.settings!r} {obj.settings!s}"
            backend = getattr(obj, "_backend", None)
            if backend is not None:
                texts[f"{place}: repr(backend)"] = repr(backend)
            texts[f"{place}: status"] = json.dumps(obj.get_execution_status(), default=str)
            texts[f"{place}: venues()"] = json.dumps(m.venues(), default=str)
            texts[f"{place}: history"] = json.dumps([r.to_dict() for r in m.execution_history], default=str)

        for op, i, ex in h.cases():
            place = f"{op}[{i}]"
            m = h.manager(credentials=creds)
            try:
                res = h.run(m, ex)
                texts[f"{place}: result"] = json.dumps(res.to_dict(), default=str) + repr(res)
            except BaseException as e:
                texts[f"{place}: error"] = f"{e!s} {e!r} {e.args!r}"
            ts = h.protocol.timestamp if m.clock.now_ns is None else pd.Timestamp(m.clock.now_ns, tz="UTC")
            base = dict(ex.instruction)
            for v in invalid_variants(base) if ex.mutate else []:
                try:
                    m.execute(ts, v.instruction)
                except BaseException as e:
                    texts[f"{place} {v.label}: error"] = f"{e!s} {e!r} {e.args!r}"
            look(place, m)
        live_err = None
        if "live" in h.protocol.capabilities:
            live_m, live_err = _attempt(lambda: h.manager(mode="live", credentials=creds), Exception)
            if live_err is not None:
                texts["live mode: error"] = f"{live_err!s} {live_err!r}"
            else:
                look("live mode", live_m)
        texts["logs"] = caplog.text
        _fail(f"{h.name}: credentials leak", find_leaks(secrets, texts))
        if live_err is not None:
            _fail(f"{h.name}: declares 'live' but a live-mode manager cannot be built", [_err(live_err)])

    def test_live_backend_exercised(self, conformance_venue: VenueTarget | _Broken) -> None:
        """[live] Against the venue's ``conformance_live_target()`` (a context manager yielding the venue settings
        of a running emulator or documented fake on 127.0.0.1), a live-mode manager constructs the live backend
        (``make_live_backend``) and every operation's first plain example runs in live mode, returning the
        venue's well-formed deltas. A venue declaring ``live`` without a target is skipped, saying that live is
        unverified (the kit never calls a real venue), after an offline look (:mod:`basis_core.testing.live_offline`):
        the live backend is built with fake credentials and unreachable loopback endpoints, and a declared
        operation without a backend method, or whose method is a NotImplementedError placeholder, fails."""
        from basis_core.deltas import ExecutionDeltas
        from basis_core.manager import ExecutionInterfaceManager

        h = _harness_or_fail(conformance_venue)
        self._require(h, "live")
        target = getattr(h.target.cls(), "conformance_live_target", None)
        if not callable(target):
            from basis_core.testing.live_offline import inspect_live_offline

            report = inspect_live_offline(lambda creds: h.manager(mode="live", credentials=creds), h.venue,
                                          sorted(h.protocol.examples), fake_credentials())
            _fail(f"{h.name}: declares 'live' (no conformance_live_target()) but its live backend, built offline, "
                  "is not implemented", report.problems)
            pytest.skip(f"{h.name}: LIVE IS UNVERIFIED: the venue declares 'live' but offers no "
                        f"conformance_live_target(), so its live backend never runs in the kit; {report.note}. "
                        "Yield the settings of an emulator or documented fake of the venue from "
                        "conformance_live_target() to verify it")
        problems: list[str] = []
        with target() as settings:
            cfg = {"execution_mode": "live", "autoload": False, "retry_delay_seconds": 0,
                   "venue_config": {h.name: {**h.protocol.settings, **dict(settings)}}}
            live, err = _attempt(lambda: ExecutionInterfaceManager(cfg, execution_mode="live", autoload=False,
                                                                   plugins=[h.target.cls]), Exception)
            if err is not None:
                _fail(f"{h.name}: a live-mode manager on the conformance_live_target cannot be built", [_err(err)])
            backend, err = _attempt(lambda: h.venue(live).make_live_backend(), Exception)
            if err is not None or backend is None:
                _fail(f"{h.name}: declares 'live' but make_live_backend() does not build a backend",
                      [_err(err) if err is not None else "it returned None"])
            now = pd.Timestamp.now(tz="UTC")
            for op, examples in sorted(h.protocol.examples.items()):
                ex = next((e for e in examples if not e.setup and not e.wait), None)
                if ex is None:
                    continue
                instruction = dict(ex.instruction)

                def run(instruction: dict[str, Any] = instruction) -> Any:
                    return live.execute(now, instruction)

                d, err = _attempt(run, Exception)
                if err is not None:
                    problems.append(f"{op}: {_err(err)}")
                elif not isinstance(d, ExecutionDeltas) or d.venue != h.name or d.operation != op:
                    problems.append(f"{op}: returned {d!r}, not the venue's ExecutionDeltas for {op!r}")
        _fail(f"{h.name}: the live backend against its conformance_live_target", problems)

    def test_no_live_imports_in_backtest(self, conformance_venue: VenueTarget | _Broken) -> None:
        """A fresh interpreter runs every example in backtest without importing ccxt or web3 ([live]: nor
        when building a live-mode manager)."""
        h = _harness_or_fail(conformance_venue)
        res = probe_imports(h.target, live="live" in h.protocol.capabilities)
        if res.get("crashed"):
            pytest.fail(f"{h.name}: the import probe crashed:\n{_bullets(res['errors'])}", pytrace=False)
        live_errors = [e for e in res["errors"] if e.startswith("live-mode manager")]
        if live_errors:
            pytest.fail(f"{h.name}: declares 'live' but a live-mode manager with fake credentials (and "
                        f"conformance_settings()) cannot be built:\n{_bullets(live_errors)}", pytrace=False)
        if res["modules"]:
            pytest.fail(f"{h.name}: importing the plugin / running it in {res['first_stage']!r} imported "
                        f"{res['modules'][:8]}; import live clients lazily (make_live_backend)", pytrace=False)

    def test_accruals_well_formed(self, conformance_venue: VenueTarget | _Broken) -> None:
        """accrue() (if implemented) returns well-formed deltas in the venue's namespaces, applied exactly."""
        h = _harness_or_fail(conformance_venue)
        info = _info_or_skip(h, "accrue")
        problems: list[str] = []
        for op, i, m, ts in _after_each_example(h):
            before, _ = ledger_state(m.ledger)
            raw = _AccrualCapture()  # what the venue returned, before the manager checks (and may refuse) it
            m.pm.register(raw)
            try:
                effects = m.advance_to(pd.Timestamp(ts) + pd.Timedelta("1D"))
            except Exception as exc:
                problems.append(f"after {op}[{i}]: advancing the clock a day raised {type(exc).__name__}: {exc}")
                continue
            finally:
                m.pm.unregister(raw)
            failed = [f.error for f in m.discovery.failed if f.name == h.name and f.stage == "accrue"]
            if failed:
                problems.append(f"after {op}[{i}]: the manager took the venue out: {failed[0]}")
                effects = [d for res in raw.results for d in (res if isinstance(res, list | tuple) else [res])]
            for eff in effects:
                problems += [f"after {op}[{i}]: {p}" for p in
                             check_deltas(eff, venue=h.name, operation=None, timestamp=None,
                                          namespaces=info.key_namespaces, client_id=None)]
            if failed:
                continue
            after = ledger_state(m.ledger)[0]
            if after != apply_positions(before, *(e.positions for e in effects)):
                gained = diff_balances(before, after)
                problems.append(f"after {op}[{i}]: the ledger changed by {gained}, not by the accruals' positions")
        _fail(f"{h.name}: accruals", problems)

    def test_balances_well_formed(self, conformance_venue: VenueTarget | _Broken) -> None:
        """get_balances() (if implemented) maps keys in the venue's namespaces to finite Decimals."""
        h = _harness_or_fail(conformance_venue)
        info = _info_or_skip(h, "get_balances")
        problems: list[str] = []
        for op, i, m, ts in _after_each_example(h):
            bal = m.get_balances(ts, h.name)
            if not isinstance(bal, Mapping):
                problems.append(f"after {op}[{i}]: get_balances returned {type(bal).__name__}")
                continue
            for k, v in bal.items():
                if not in_namespaces(k, info.key_namespaces):
                    problems.append(f"after {op}[{i}]: key {k!r} is outside the venue's namespaces")
                if type(v) is not Decimal or not v.is_finite():
                    problems.append(f"after {op}[{i}]: {k!r} = {v!r} is not a finite Decimal")
                elif v < 0 and _kind(k) not in SIGNED_KINDS:
                    problems.append(f"after {op}[{i}]: asset balance {k!r} is negative ({v})")
        _fail(f"{h.name}: get_balances", problems)

    def test_quote_changes_nothing(self, conformance_venue: VenueTarget | _Broken) -> None:
        """quote_swap() (if implemented) returns status 'quoted' and changes neither ledger nor tables."""
        h = _harness_or_fail(conformance_venue)
        m0 = h.manager()
        if not has_impl(m0, h.name, "quote_swap"):
            pytest.skip(f"{h.name} implements no quote_swap hook")
        swaps = [(i, ex) for op, i, ex in h.cases() if op == "swap"]
        if not swaps:
            pytest.fail(f"{h.name}: implements quote_swap but gives no swap example", pytrace=False)
        problems: list[str] = []
        for i, ex in swaps:
            m = h.manager()
            ts = h.prepare(m, ex)
            before = ledger_state(m.ledger)
            q = m.quote(ts, ex.instruction)
            if q.status != "quoted" or q.venue != h.name:
                problems.append(f"swap[{i}]: quote has status {q.status!r}, venue {q.venue!r}")
            if ledger_state(m.ledger) != before:
                problems.append(f"swap[{i}]: quoting changed the ledger or the venue's tables")
        _fail(f"{h.name}: quote_swap", problems)


def _kind(key: str) -> str:
    try:
        return split_key(key)[1]
    except ValueError:
        return ""


def run_suite_test(target: VenueTarget, name: str, **fixtures: Any) -> None:
    """Run the kit's test ``name`` on ``target`` outside pytest's collection (a guide's own check of its example
    venue): a per-case test runs on every example case of the target; a skip (of the test or of one case) is passed
    over. ``fixtures``: pytest fixtures by name (e.g. ``caplog``), passed to the tests that ask for them."""
    fn = getattr(ConformanceSuite(), name)
    params = list(inspect.signature(fn).parameters)
    kw = {k: v for k, v in fixtures.items() if k in params}
    try:
        if "conformance_case" in params:
            for op, i, ex in Harness(target).cases():
                try:
                    fn(Case(target, op, i, ex), **kw)
                except pytest.skip.Exception:
                    pass
        else:
            fn(target, **kw)
    except pytest.skip.Exception:
        pass
