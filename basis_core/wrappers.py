"""The core's hook wrapper: it wraps every routed operation call (one generator per call, for speed).

Three concerns, in this order:
1. validation: the instruction model matches the hook; the result is a well-formed ExecutionDeltas
   of the routed venue with Decimal positions inside the venue's key namespaces, and the venue left the
   instruction as it got it (else VenueContractError; the caller's instruction is restored);
2. risk: the max-notional limit, checked before the venue runs (``estimate_notional`` hook) and on
   the fill (backtest: a violation rolls the fill back);
3. ledger + history: in backtest the result's positions are applied to the ledger atomically; success
   or failure is recorded in the manager's history and the venue's statistics.
"""

from __future__ import annotations

import copy
from collections.abc import Generator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import InstructionValidationError, RiskLimitError, VenueContractError, short_repr
from basis_core.hookspecs import OPERATION_HOOKS, hookimpl
from basis_core.instructions import MODELS, AddLiquidity, Atomic, RemoveLiquidity
from basis_core.isolation import KeySpace

if TYPE_CHECKING:
    from basis_core.manager import ExecutionInterfaceManager

_STABLE_QUOTES = frozenset({"USDT", "USDC", "USD"})


def check_instruction(hook: str, model: type, instruction: Any) -> None:
    """Validation: the hook got the model it is specified for."""
    if type(instruction) is not model:
        raise InstructionValidationError(
            "operation", f"hook {hook} expects a {model.__name__}, got {type(instruction).__name__}")


#: models with mutable containers (dicts, lists): the fields themselves are guarded against ``object.__setattr__``
#: (see ``instructions._FrozenField``), but the containers' contents are checked against a deep snapshot
_DEEP_MODELS = frozenset({AddLiquidity, RemoveLiquidity, Atomic})


def snapshot(model: type, instruction: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(the instruction's fields, a deep copy of them) for a model with mutable containers, else None."""
    if model not in _DEEP_MODELS:
        return None
    fields = instruction.__dict__
    return fields, copy.deepcopy(fields)


def restore_instruction(venue: str, fields: dict[str, Any], snap: dict[str, Any]) -> VenueContractError:
    """The venue changed the instruction it was given (``object.__setattr__`` on the frozen model): put the
    caller's fields back and return the error to raise."""
    changed = sorted({*fields, *snap} - {k for k in fields.keys() & snap.keys() if fields[k] == snap[k]})
    fields.clear()
    fields.update(snap)
    return VenueContractError(f"venue {venue!r} changed the instruction it was given (fields {short_repr(changed)}); "
                              "the caller's instruction is restored and nothing was applied")


class _AnyKey:
    """Contains every key (no namespace check: a result checked outside a route)."""

    def __contains__(self, key: object) -> bool:
        return True


_ANY_KEY: Any = _AnyKey()


def check_result(hook: str, instruction: Any, result: Any, keys: KeySpace | None = None) -> ExecutionDeltas:
    """Validation: the venue returned well-formed deltas of its own, with Decimal positions inside its key
    namespaces (``keys``)."""
    if type(result) is not ExecutionDeltas:
        if result is None:
            raise VenueContractError(f"venue {instruction.venue!r} returned None from {hook}")
        raise VenueContractError(f"venue {instruction.venue!r} returned {type(result).__name__} from {hook}, "
                                 "not ExecutionDeltas")
    if result.venue != instruction.venue:
        raise VenueContractError(f"venue {instruction.venue!r} returned deltas labelled {short_repr(result.venue)}")
    ok = keys.ok if keys is not None else _ANY_KEY
    try:
        for k, v in result.positions.items():
            if type(v) is not Decimal or k not in ok:  # a key seen before: one set lookup
                if type(v) is not Decimal:
                    raise VenueContractError(
                        f"venue {instruction.venue!r}: position {short_repr(k)} is {type(v).__name__}, not Decimal")
                keys.admit(k)  # type: ignore[union-attr]
    except (AttributeError, TypeError):
        raise VenueContractError(f"venue {instruction.venue!r}: positions is {type(result.positions).__name__}, "
                                 "not a mapping of instrument keys to Decimal") from None
    return result


def check_accrual(result: Any) -> ExecutionDeltas:
    """Validation of an ``accrue`` result: well-formed deltas with finite Decimal positions."""
    if type(result) is not ExecutionDeltas:
        raise VenueContractError(f"accrue returned {type(result).__name__}, not ExecutionDeltas")
    try:
        for k, v in result.positions.items():
            if type(v) is not Decimal or not v.is_finite():
                raise VenueContractError(
                    f"venue {short_repr(result.venue)}: accrued position {short_repr(k)} is {short_repr(v)}, "
                    "not a finite Decimal")
    except (AttributeError, TypeError):
        raise VenueContractError(f"accrue: positions is {type(result.positions).__name__}, not a mapping") from None
    return result


def check_risk_before(m: ExecutionInterfaceManager, limit: Decimal, timestamp: Any, instruction: Any) -> None:
    """Risk: refuse an instruction whose estimated USD notional exceeds ``limit``."""
    notional = m._estimate_notional(timestamp, instruction)
    if notional is not None and notional > limit:
        raise RiskLimitError("amount", f"notional {notional:.2f} USD exceeds max_notional {limit} USD")


def check_risk_after(limit: Decimal, instruction: Any, result: ExecutionDeltas) -> None:
    """Risk: refuse a fill whose USD notional exceeds ``limit`` (stable-quoted symbols)."""
    if result.fill_price is None or result.fill_amount is None:
        return
    symbol = getattr(instruction, "symbol", None)
    if symbol is None or symbol.split("/")[1].split(":")[0] not in _STABLE_QUOTES:
        return
    filled = abs(result.fill_price * result.fill_amount)
    if filled > limit:
        raise RiskLimitError("amount", f"filled notional {filled:.2f} USD exceeds max_notional {limit} USD")


def before_call(m: ExecutionInterfaceManager, hook: str, model: type, timestamp: Any, instruction: Any) -> None:
    """The wrapper's work before the venue runs: validation and the pre-trade risk limit."""
    if type(instruction) is not model:
        check_instruction(hook, model, instruction)
    limit = m._max_notional
    if limit is not None:
        check_risk_before(m, limit, timestamp, instruction)


def after_call(m: ExecutionInterfaceManager, hook: str, instruction: Any, outcome: Any,
               keys: KeySpace | None = None) -> ExecutionDeltas:
    """The wrapper's work after the venue returned: result validation, post-fill risk, ledger."""
    result = check_result(hook, instruction, outcome, keys)
    ledger = m.ledger
    if ledger is not None:
        if m._max_notional is not None:  # backtest: a refused fill rolls back
            check_risk_after(m._max_notional, instruction, result)
        if result.positions:
            try:
                ledger.apply(result.positions)
            except ArithmeticError:  # a NaN position (decimal.InvalidOperation)
                raise _not_a_number(instruction, result) from None
    return result


def _not_a_number(instruction: Any, result: ExecutionDeltas) -> VenueContractError:
    return VenueContractError(f"venue {instruction.venue!r} returned a position that is not a number: "
                              f"{short_repr(dict(result.positions))}")


def run_direct(m: ExecutionInterfaceManager, hook: str, model: type, venue_fn: Any, keys: KeySpace | None,
               timestamp: Any, instruction: Any) -> ExecutionDeltas:
    """The core wrapper around one venue implementation, in the instruction's own ledger transaction,
    called without pluggy's generator machinery.

    Used by the manager's routes when the core wrapper is the only wrapper of the hook: same steps,
    same order, same errors as :func:`_make_wrapper`'s generator inside the manager's transaction.
    """
    ledger = m.ledger
    try:
        if type(instruction) is not model:  # before_call, inlined (the hot path of every backtest)
            check_instruction(hook, model, instruction)
        limit = m._max_notional
        if limit is not None:
            check_risk_before(m, limit, timestamp, instruction)
        snap = snapshot(model, instruction) if model in _DEEP_MODELS else None
        if ledger is None:
            outcome = venue_fn(timestamp, instruction)
            if snap is not None and snap[0] != snap[1]:
                raise restore_instruction(instruction.venue, *snap)
            result = after_call(m, hook, instruction, outcome, keys)
        else:
            ledger.begin()
            try:
                outcome = venue_fn(timestamp, instruction)
                if snap is not None and snap[0] != snap[1]:
                    raise restore_instruction(instruction.venue, *snap)
                # after_call, inlined: result validation, post-fill risk, ledger
                result = check_result(hook, instruction, outcome, keys)
                if limit is not None:
                    check_risk_after(limit, instruction, result)
                positions = result.positions
                if positions:
                    try:
                        ledger.apply(positions)
                    except ArithmeticError:  # a NaN position (decimal.InvalidOperation)
                        raise _not_a_number(instruction, result) from None
            except BaseException:
                ledger.rollback()
                raise
            ledger.commit()
    except BaseException as exc:
        m._record_failure(timestamp, instruction, exc)
        raise
    m._record_success(timestamp, result)
    return result


def _make_wrapper(hook: str, model: type) -> Any:
    def wrapper(self: CoreWrapper, timestamp: Any, instruction: Any) -> Generator[None, Any, Any]:
        m = self.manager
        try:
            before_call(m, hook, model, timestamp, instruction)
            snap = snapshot(model, instruction)
            outcome = yield
            if snap is not None and snap[0] != snap[1]:
                raise restore_instruction(instruction.venue, *snap)
            result = after_call(m, hook, instruction, outcome, m._keys.get(instruction.venue))
        except BaseException as exc:
            m._record_failure(timestamp, instruction, exc)
            raise
        m._record_success(timestamp, result)
        return result

    wrapper.__name__ = hook
    wrapper.__doc__ = f"Core wrapper of {hook}: validation, risk limit, ledger, history."
    return hookimpl(wrapper=True, tryfirst=True)(wrapper)


class CoreWrapper:
    """The core plugin whose wrappers surround every venue call (registered by the manager)."""

    def __init__(self, manager: ExecutionInterfaceManager) -> None:
        self.manager = manager


for _op, _hook in OPERATION_HOOKS.items():
    setattr(CoreWrapper, _hook, _make_wrapper(_hook, MODELS[_op]))
