"""The conformance kit itself: the positive controls (KitVenue, KitDex) pass every check, and each venue
that breaks one rule fails exactly the matching check, with a message naming the problem.

The kit's test methods are called directly (they raise pytest's Failed / Skipped outcomes).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from basis_core.hookspecs import OPERATION_HOOKS
from basis_core.testing import conformance
from basis_core.testing.conformance import Case, ConformanceSuite
from basis_core.testing.conformance_checks import invalid_variants, value_fill
from basis_core.testing.conformance_harness import Harness, resolve_target
from basis_core.testing.conformance_protocol import ConformanceExample, read_protocol


def _load_kit_venues() -> Any:
    name = "kit_venues"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("kit_venues.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


kv = _load_kit_venues()
Failed = pytest.fail.Exception
Skipped = pytest.skip.Exception
VENUE_TESTS = ("test_venue_info", "test_operations_match_hooks", "test_every_operation_has_an_example",
               "test_resting_order_cancel", "test_accruals_well_formed", "test_balances_well_formed",
               "test_quote_changes_nothing")
CASE_TESTS = ("test_example_executes", "test_fill_value_equals_costs", "test_invalid_variants_rejected",
              "test_client_id_idempotent")


def harness(cls: type) -> Harness:
    return conformance._harness(resolve_target(cls))


def cases(cls: type) -> list[Case]:
    h = harness(cls)
    return [Case(h.target, op, i, ex) for op, i, ex in h.cases()]


def run_venue_test(test: str, cls: type, **kw: Any) -> None:
    getattr(ConformanceSuite(), test)(resolve_target(cls), **kw)


def run_case_tests(test: str, cls: type) -> list[str]:
    """Run ``test`` on every example of ``cls``; return the failure messages."""
    out = []
    for c in cases(cls):
        try:
            getattr(ConformanceSuite(), test)(c)
        except Failed as e:
            out.append(str(e))
        except Skipped:
            pass
    return out


# -- positive controls ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("test", VENUE_TESTS)
def test_kit_venue_passes_venue_level_checks(test: str) -> None:
    run_venue_test(test, kv.KitVenue) if test != "test_quote_changes_nothing" else run_venue_test(test, kv.KitDex)


@pytest.mark.parametrize("test", CASE_TESTS)
@pytest.mark.parametrize("cls_name", ["KitVenue", "KitDex"])
def test_kit_venues_pass_example_checks(test: str, cls_name: str) -> None:
    assert run_case_tests(test, getattr(kv, cls_name)) == []


def test_kit_venue_passes_credentials_check(caplog: pytest.LogCaptureFixture) -> None:
    run_venue_test("test_credentials_never_leak", kv.KitVenue, caplog=caplog)


def test_kit_venue_passes_import_probe() -> None:
    run_venue_test("test_no_live_imports_in_backtest", kv.KitVenue)


def test_kit_venue_rests_and_its_resting_order_is_not_a_fill() -> None:
    """The third spot example rests: check_deltas-level facts the resting test relies on."""
    h = harness(kv.KitVenue)
    m = h.manager()
    d = h.run(m, h.protocol.examples["spot_trade"][2])
    assert d.status == "open" and d.positions == {}
    assert len(m.ledger.table("kitvenue.orders")) == 1


# -- capabilities not declared are skipped, not failed ------------------------------------------------------------
@pytest.mark.parametrize("test", ["test_resting_order_cancel", "test_credentials_never_leak"])
def test_undeclared_capability_is_skipped(test: str, caplog: pytest.LogCaptureFixture) -> None:
    kw = {"caplog": caplog} if test == "test_credentials_never_leak" else {}
    with pytest.raises(Skipped, match="does not declare"):
        run_venue_test(test, kv.KitDex, **kw)


def test_fill_check_skipped_without_fills_capability() -> None:
    class NoFills(kv.KitVenue):
        name = "nofills"
        capabilities = frozenset()

    c = cases(NoFills)[0]
    with pytest.raises(Skipped, match="'fills'"):
        ConformanceSuite().test_fill_value_equals_costs(c)


def test_hooks_without_implementation_are_skipped() -> None:
    with pytest.raises(Skipped, match="no quote_swap"):
        run_venue_test("test_quote_changes_nothing", kv.KitVenue)
    with pytest.raises(Skipped, match="no accrue"):
        run_venue_test("test_accruals_well_formed", kv.KitDex)


# -- negative controls: one broken rule, one failing check ---------------------------------------------------------
def test_missing_examples_fail() -> None:
    with pytest.raises(Failed, match="define conformance_examples"):
        run_venue_test("test_every_operation_has_an_example", kv.BadNoExamples)
    with pytest.raises(Failed, match="declares no conformance examples"):
        ConformanceSuite().test_example_executes(resolve_target(kv.BadNoExamples))  # type: ignore[arg-type]


def test_operations_not_matching_hooks_fail() -> None:
    with pytest.raises(Failed) as e:
        run_venue_test("test_operations_match_hooks", kv.BadUndeclared)
    msg = str(e.value)
    assert "'swap' is declared in venue_info but no hook 'execute_swap'" in msg
    assert "hook 'cancel_order' is implemented but 'cancel_order' is not declared" in msg


def test_example_for_undeclared_operation_fails() -> None:
    with pytest.raises(Failed, match="no example for declared operation 'swap'"):
        run_venue_test("test_every_operation_has_an_example", kv.BadUndeclared)


def test_key_outside_namespace_fails() -> None:
    fails = run_case_tests("test_example_executes", kv.BadNamespace)
    assert "positions key 'elsewhere:spot:ETH' is outside the venue's key namespaces" in fails[0]


def test_venue_applying_its_own_deltas_fails() -> None:
    fails = run_case_tests("test_example_executes", kv.BadSelfApply)
    assert fails and all("never write your own result to the ledger" in f for f in fails)


def test_unreported_fee_fails_the_value_check() -> None:
    fails = run_case_tests("test_fill_value_equals_costs", kv.BadHiddenFee)
    assert len(fails) == 2 and all("not its fees and costs" in f for f in fails)


def test_untyped_error_fails() -> None:
    fails = run_case_tests("test_invalid_variants_rejected", kv.BadUntypedError)
    assert fails and all("symbol=unknown: raised untyped KeyError" in f for f in fails)


def test_state_left_behind_by_a_failure_fails() -> None:
    fails = run_case_tests("test_invalid_variants_rejected", kv.BadDirtyFailure)
    assert fails and all("current_orders changed although it failed" in f for f in fails)


def test_accepting_an_unknown_symbol_fails() -> None:
    fails = run_case_tests("test_invalid_variants_rejected", kv.BadAcceptsUnknown)
    assert fails and all("symbol=unknown: accepted" in f for f in fails)


@pytest.mark.parametrize("cls_name", ["BadLeakyRepr", "BadLeakyLog", "BadLeakyError"])
def test_credential_leaks_fail(cls_name: str, caplog: pytest.LogCaptureFixture) -> None:
    where = {"BadLeakyRepr": "repr(venue)", "BadLeakyLog": "logs", "BadLeakyError": "error"}[cls_name]
    with pytest.raises(Failed, match="credentials leak") as e:
        run_venue_test("test_credentials_never_leak", getattr(kv, cls_name), caplog=caplog)
    assert where in str(e.value)
    assert "conf-secret-" not in str(e.value) and "conf-key-" not in str(e.value)  # the report repeats no secret


def test_live_import_in_backtest_fails() -> None:
    with pytest.raises(Failed, match=r"imported \['ccxt"):
        run_venue_test("test_no_live_imports_in_backtest", kv.BadLiveImport)


def test_declared_resting_orders_that_never_rest_fail() -> None:
    with pytest.raises(Failed, match="no example rests"):
        run_venue_test("test_resting_order_cancel", kv.BadNeverRests)


def test_malformed_accruals_fail() -> None:
    with pytest.raises(Failed) as e:
        run_venue_test("test_accruals_well_formed", kv.BadAccrual)
    assert "outside the venue's key namespaces" in str(e.value) and "not a finite Decimal" in str(e.value)


def test_malformed_balances_fail() -> None:
    with pytest.raises(Failed) as e:
        run_venue_test("test_balances_well_formed", kv.BadBalances)
    msg = str(e.value)
    assert "is negative" in msg and "outside the venue's namespaces" in msg and "not a finite Decimal" in msg


def test_quote_that_writes_fails() -> None:
    with pytest.raises(Failed, match="quoting changed the ledger"):
        run_venue_test("test_quote_changes_nothing", kv.BadQuoteWrites)


def test_idempotency_check_fails_when_the_core_executes_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The idempotency check can fail: with the manager's client-id memory disabled it must."""
    from basis_core.manager import ExecutionInterfaceManager

    class Forgetful(dict):  # type: ignore[type-arg]
        def __setitem__(self, k: Any, v: Any) -> None:
            pass

    orig = ExecutionInterfaceManager.__init__

    def init(self: Any, *a: Any, **kw: Any) -> None:
        orig(self, *a, **kw)
        self._done = Forgetful()

    monkeypatch.setattr(ExecutionInterfaceManager, "__init__", init)
    fails = run_case_tests("test_client_id_idempotent", kv.KitVenue)
    assert fails and any("changed the ledger" in f for f in fails)


# -- pieces ------------------------------------------------------------------------------------------------
def test_invalid_variants_cover_amounts_symbols_and_ids() -> None:
    labels = {v.label: v for v in invalid_variants(
        {"operation": "spot_trade", "venue": "x", "symbol": "ETH/USDT:USDT", "side": "buy", "amount": "1",
         "order_type": "limit", "price": "10"})}
    assert {"amount=zero", "amount=negative", "amount=nan", "amount=inf", "amount=too_large", "amount=huge",
            "price=zero", "symbol=unknown"} <= set(labels)
    assert labels["symbol=unknown"].instruction["symbol"] == "ZZZ/USDT:USDT"
    assert labels["amount=huge"].stage == "venue" and labels["amount=zero"].stage == "parse"
    assert "price=huge" not in labels  # a huge limit price may legitimately rest
    ids = {v.label for v in invalid_variants({"operation": "cancel_order", "venue": "x", "order_id": "a"})}
    assert ids == {"order_id=unknown"}
    assert invalid_variants({"operation": "atomic", "steps": []}) == []


def test_value_of_a_fill_by_hand() -> None:
    """A 2 ETH buy at 2000 with a 4 USDT fee valued at the fill price: -4 USD, matching pnl."""
    import pandas as pd

    from basis_core.deltas import ExecutionDeltas
    from basis_core.instructions import parse_instruction
    from basis_core.testing.conformance_checks import ABS_TOL

    ins = parse_instruction({"operation": "spot_trade", "venue": "v", "symbol": "ETH/USDT", "side": "buy",
                             "amount": "2"})
    ts = pd.Timestamp("2025-01-01", tz="UTC")
    from decimal import Decimal as D
    d = ExecutionDeltas("v", "spot_trade", ts, {"v:spot:ETH": D(2), "v:spot:USDT": D(-4004),
                                                "v:perp:ETH/USDT:USDT": D(3)},
                        fill_price=D(2000), fill_amount=D(2), pnl={"trading_fees": D(-4)})
    prices = {"USDT": D(1), "ETH": D(9999)}  # as-of ETH differs from the fill: the fill price wins
    val = value_fill(d, ins, prices.__getitem__)
    assert val.value_change == D(-4) and val.pnl_total == D(-4) and val.ok
    debt = ExecutionDeltas("v", "borrow", ts, {"v:debt:ETH": D(1), "v:wallet:ETH": D(1)}, pnl={})
    assert value_fill(debt, None, prices.__getitem__).value_change == 0
    off = ExecutionDeltas("v", "spot_trade", ts, d.positions, fill_price=D(2000), fill_amount=D(2),
                          pnl={"trading_fees": D(-4) + 1000 * ABS_TOL})
    assert not value_fill(off, ins, prices.__getitem__).ok


def test_protocol_accepts_dicts_and_dataclasses() -> None:
    class V(kv.KitVenue):
        name = "protov"

        def conformance_examples(self) -> dict[str, Any]:
            return {"spot_trade": ConformanceExample({"operation": "spot_trade", "symbol": "ETH/USDT",
                                                      "side": "buy", "amount": "1"}, label="one"),
                    "cancel_order": [{"instruction": {"operation": "cancel_order", "order_id": "a"},
                                      "setup": [], "wait": "1h", "mutate": False}]}

    p = read_protocol(V)
    assert p.examples["spot_trade"][0].label == "one"
    assert p.examples["spot_trade"][0].instruction["venue"] == "protov"
    assert p.examples["cancel_order"][0].wait == "1h" and not p.examples["cancel_order"][0].mutate


def test_every_operation_hook_is_known_to_the_kit() -> None:
    """The kit's hooks-vs-operations check covers every operation hook of hookspecs."""
    assert set(OPERATION_HOOKS) >= {"spot_trade", "perp_trade", "swap", "cancel_order", "atomic"}
    assert "execute_spot_trade" in OPERATION_HOOKS.values() and "cancel_order" in OPERATION_HOOKS.values()


def test_live_import_when_building_a_live_manager_fails() -> None:
    with pytest.raises(Failed, match=r"in 'live manager' imported \['ccxt"):
        run_venue_test("test_no_live_imports_in_backtest", kv.BadLiveConfigure)


def test_declared_live_but_unbuildable_fails(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(Failed, match="live-mode manager cannot be built"):
        run_venue_test("test_credentials_never_leak", kv.BadLiveUnbuildable, caplog=caplog)


# -- live declared without a conformance_live_target: an offline look, and an honest skip ----------------------
def test_a_placeholder_live_backend_fails_the_live_check() -> None:
    """KitVenue declares 'live' but its make_live_backend() is a NotImplementedError placeholder."""
    with pytest.raises(Failed, match=r"make_live_backend\(\) is a NotImplementedError placeholder"):
        run_venue_test("test_live_backend_exercised", kv.KitVenue)


def test_a_placeholder_operation_of_the_live_backend_fails_the_live_check() -> None:
    with pytest.raises(Failed, match=r"cancel_order: KitHalfLiveBackend.cancel_order\(\) is a NotImplementedError "
                                     r"placeholder") as info:
        run_venue_test("test_live_backend_exercised", kv.BadLiveHalf)
    assert "spot_trade" not in str(info.value)


def test_a_live_backend_built_offline_is_skipped_as_unverified() -> None:
    with pytest.raises(Skipped, match=r"LIVE IS UNVERIFIED.*KitLiveBackend was built offline.*none of them ran"):
        run_venue_test("test_live_backend_exercised", kv.KitLiveOffline)


def test_a_live_backend_that_connects_while_built_gets_no_network_and_is_skipped_as_unverified() -> None:
    with pytest.raises(Skipped, match=r"LIVE IS UNVERIFIED.*could not even be built offline"):
        run_venue_test("test_live_backend_exercised", kv.KitLiveConnectsAtBuild)
