"""The core's hook wrapper: it wraps every routed operation call (one generator per call, for speed).

Three concerns, in this order:
1. validation: the instruction model matches the hook; the result is a well-formed ExecutionDeltas
   of the routed venue with Decimal positions (else VenueContractError);
2. risk: the max-notional limit, checked before the venue runs (``estimate_notional`` hook) and on
   the fill (backtest: a violation rolls the fill back);
3. ledger + history: in backtest the result's positions are applied to the ledger atomically; success
   or failure is recorded in the manager's history and the venue's statistics.
"""

from __future__ import annotations

from collections.abc import Generator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import InstructionValidationError, RiskLimitError, VenueContractError
from basis_core.hookspecs import OPERATION_HOOKS, hookimpl
from basis_core.instructions import MODELS

if TYPE_CHECKING:
    from basis_core.manager import ExecutionInterfaceManager

_STABLE_QUOTES = frozenset({"USDT", "USDC", "USD"})


def check_instruction(hook: str, model: type, instruction: Any) -> None:
    """Validation: the hook got the model it is specified for."""
    if type(instruction) is not model:
        raise InstructionValidationError(
            "operation", f"hook {hook} expects a {model.__name__}, got {type(instruction).__name__}")


def check_result(hook: str, instruction: Any, result: Any) -> ExecutionDeltas:
    """Validation: the venue returned well-formed deltas of its own."""
    if type(result) is not ExecutionDeltas:
        if result is None:
            raise VenueContractError(f"venue {instruction.venue!r} returned None from {hook}")
        raise VenueContractError(f"venue {instruction.venue!r} returned {type(result).__name__} from {hook}, "
                                 "not ExecutionDeltas")
    if result.venue != instruction.venue:
        raise VenueContractError(f"venue {instruction.venue!r} returned deltas labelled {result.venue!r}")
    for k, v in result.positions.items():
        if type(v) is not Decimal:
            raise VenueContractError(f"venue {instruction.venue!r}: position {k!r} is {type(v).__name__}, not Decimal")
    return result


def check_accrual(result: Any) -> ExecutionDeltas:
    """Validation of an ``accrue`` result: well-formed deltas with Decimal positions."""
    if type(result) is not ExecutionDeltas:
        raise VenueContractError(f"accrue returned {type(result).__name__}, not ExecutionDeltas")
    for k, v in result.positions.items():
        if type(v) is not Decimal:
            raise VenueContractError(
                f"venue {result.venue!r}: accrued position {k!r} is {type(v).__name__}, not Decimal")
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


def after_call(m: ExecutionInterfaceManager, hook: str, instruction: Any, outcome: Any) -> ExecutionDeltas:
    """The wrapper's work after the venue returned: result validation, post-fill risk, ledger."""
    result = check_result(hook, instruction, outcome)
    ledger = m.ledger
    if ledger is not None:
        if m._max_notional is not None:  # backtest: a refused fill rolls back
            check_risk_after(m._max_notional, instruction, result)
        if result.positions:
            ledger.apply(result.positions)
    return result


def run_direct(m: ExecutionInterfaceManager, hook: str, model: type, venue_fn: Any,
               timestamp: Any, instruction: Any) -> ExecutionDeltas:
    """The core wrapper around one venue implementation, in the instruction's own ledger transaction,
    called without pluggy's generator machinery.

    Used by the manager's routes when the core wrapper is the only wrapper of the hook: same steps,
    same order, same errors as :func:`_make_wrapper`'s generator inside the manager's transaction.
    """
    ledger = m.ledger
    try:
        before_call(m, hook, model, timestamp, instruction)
        if ledger is None:
            result = after_call(m, hook, instruction, venue_fn(timestamp, instruction))
        else:
            ledger.begin()
            try:
                result = after_call(m, hook, instruction, venue_fn(timestamp, instruction))
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
            result = after_call(m, hook, instruction, (yield))
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
