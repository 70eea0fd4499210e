"""The core's hook wrappers: they wrap every routed operation call.

- ``HistoryWrapper`` (outermost): records success / failure in the manager's history and the venue's
  statistics (``orders_executed``, ``orders_failed``, ``last_execution_timestamp``).
- ``LedgerWrapper`` (backtest): applies the result's positions to the ledger atomically.
- ``GuardWrapper`` (innermost): instruction validation (the model matches the hook, the result is a
  well-formed ExecutionDeltas of that venue) and the max-notional risk limit.
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

_HOOK_MODEL = {hook: MODELS[op] for op, hook in OPERATION_HOOKS.items()}


def _install(cls: type, body: Any, **marker: Any) -> type:
    """Give ``cls`` one wrapper method per operation hook, all running ``body``."""
    for hook in OPERATION_HOOKS.values():
        def make(hook_name: str) -> Any:
            def wrapper(self: Any, timestamp: Any, instruction: Any) -> Generator[None, Any, Any]:
                return (yield from body(self, hook_name, timestamp, instruction))
            wrapper.__name__ = hook_name
            return hookimpl(wrapper=True, **marker)(wrapper)
        setattr(cls, hook, make(hook))
    return cls


class _Base:
    def __init__(self, manager: ExecutionInterfaceManager) -> None:
        self.manager = manager


class HistoryWrapper(_Base):
    """Records every routed call's outcome."""


def _history_body(self: HistoryWrapper, hook: str, timestamp: Any, instruction: Any) -> Generator[None, Any, Any]:
    try:
        result = yield
    except BaseException as exc:
        self.manager._record_failure(timestamp, instruction, exc)
        raise
    self.manager._record_success(timestamp, result)
    return result


class GuardWrapper(_Base):
    """Validation and the max-notional risk limit."""


def _guard_body(self: GuardWrapper, hook: str, timestamp: Any, instruction: Any) -> Generator[None, Any, Any]:
    m = self.manager
    if type(instruction) is not _HOOK_MODEL[hook]:
        raise InstructionValidationError(
            "operation", f"hook {hook} expects a {_HOOK_MODEL[hook].__name__}, got {type(instruction).__name__}")
    limit = m._max_notional
    if limit is not None:
        notional = m._estimate_notional(timestamp, instruction)
        if notional is not None and notional > limit:
            raise RiskLimitError("amount", f"notional {notional:.2f} USD exceeds max_notional {limit} USD")
    result = yield
    if result is None:
        raise VenueContractError(f"venue {instruction.venue!r} returned None from {hook}")
    if not isinstance(result, ExecutionDeltas):
        raise VenueContractError(f"venue {instruction.venue!r} returned {type(result).__name__} from {hook}, "
                                 "not ExecutionDeltas")
    if result.venue != instruction.venue:
        raise VenueContractError(f"venue {instruction.venue!r} returned deltas labelled {result.venue!r}")
    for k, v in result.positions.items():
        if type(v) is not Decimal:
            raise VenueContractError(f"venue {instruction.venue!r}: position {k!r} is {type(v).__name__}, not Decimal")
    if limit is not None and result.fill_price is not None and result.fill_amount is not None:
        filled = abs(result.fill_price * result.fill_amount)
        quote = instruction.symbol.split("/")[1].split(":")[0] if hasattr(instruction, "symbol") else "USD"
        if quote in ("USDT", "USDC", "USD") and filled > limit:
            raise RiskLimitError("amount", f"filled notional {filled:.2f} USD exceeds max_notional {limit} USD")
    return result


class LedgerWrapper(_Base):
    """Applies the venue's deltas to the backtest ledger (all keys or none)."""


def _ledger_body(self: LedgerWrapper, hook: str, timestamp: Any, instruction: Any) -> Generator[None, Any, Any]:
    result = yield
    ledger = self.manager.ledger
    if ledger is not None and result is not None and isinstance(result, ExecutionDeltas) and result.positions:
        ledger.apply(result.positions)
    return result


_install(HistoryWrapper, _history_body, tryfirst=True)
_install(GuardWrapper, _guard_body, trylast=True)
_install(LedgerWrapper, _ledger_body)
