"""The typed error taxonomy of basis-core.

Every error a user can meet derives from :class:`BasisError`. Errors about an instruction name the
offending ``field`` and the ``reason``; nothing has been applied when one is raised (the ledger,
the venue's orders and the journal are unchanged). Messages never contain secrets.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

#: longest error message kept (longer ones are cut, saying their length)
MAX_MESSAGE_CHARS = 2000
#: longest rendering of one offending value inside a message
MAX_VALUE_CHARS = 200


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was (messages and history stay small)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} chars)"


def short_repr(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """A bounded ``repr`` of an offending value: deep or huge values are cut (never a RecursionError)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother, r.maxlong = 4, limit, limit, limit
    r.maxdict = r.maxlist = r.maxtuple = r.maxset = r.maxfrozenset = r.maxdeque = r.maxarray = 8
    try:
        text = r.repr(value)
    except Exception:  # a value whose own __repr__ fails or recurses
        text = f"<{type(value).__name__}>"
    size = len(value) if isinstance(value, str | bytes) else None
    if size is not None and size > limit:
        return f"{text} ({size} chars)"
    return bounded(text, limit)


class BasisError(Exception):
    """Base class of every basis-core error. A string message is bounded (:func:`bounded`)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(bounded(a) if type(a) is str and len(a) > MAX_MESSAGE_CHARS else a for a in args))


class InstructionError(BasisError, ValueError):
    """An instruction is malformed or impossible; ``field`` names the culprit, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = bounded(field, MAX_VALUE_CHARS)
        self.reason = bounded(reason)
        super().__init__(f"{self.field}: {self.reason}")


class InstructionValidationError(InstructionError):
    """The instruction does not parse (missing / mistyped field, bad symbol, bad amount)."""

    def __init__(self, field: str, reason: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(field, reason)
        self.errors = errors or []


class UnknownOperationError(InstructionError):
    """``operation`` is not one basis-core knows."""


class UnknownVenueError(InstructionError):
    """No installed venue plugin has this name."""

    def __init__(self, venue: str, installed: Iterable[str]) -> None:
        self.venue = venue
        self.installed = sorted(installed)
        listed = ", ".join(self.installed) or "none"
        super().__init__(
            "venue",
            f"unknown venue {venue!r}; installed venues: {listed}; "
            f"to add it: pip install basis-venue-{venue}",
        )


class UnsupportedOperationError(InstructionError):
    """The venue exists but does not implement this operation."""

    def __init__(self, venue: str, operation: str, supported: Iterable[str] = ()) -> None:
        self.venue = venue
        self.operation = operation
        sup = ", ".join(sorted(supported)) or "none"
        super().__init__("operation", f"venue {venue!r} does not support {operation!r} (supports: {sup})")


class InsufficientFundsError(InstructionError):
    """Applying the instruction would overdraw a balance (as the venue would refuse it)."""

    def __init__(self, key: str, required: Decimal, available: Decimal, field: str = "amount",
                 note: str = "") -> None:
        self.key = key
        self.required = required
        self.available = available
        why = f": {note}" if note else ""
        super().__init__(field, f"insufficient {key}: needs {required}, has {available}{why}")


class RiskLimitError(InstructionError):
    """A core risk limit (e.g. ``max_notional``) refuses the instruction."""


class CorridorError(RiskLimitError):
    """The pre-trade risk-corridor check (``min_corridor_move``) refuses the instruction: after it, an ETH move
    smaller than the bound would liquidate a leg; ``field`` names that leg (e.g. ``aave:account``)."""


class MarginError(InstructionError):
    """Not enough margin for a perpetual order (initial margin or leverage limits)."""


class HealthFactorError(InstructionError):
    """A lending action would break the LTV / health-factor limit."""


class SlippageError(InstructionError):
    """The quoted output is below ``min_amount_out`` / ``max_slippage_bps``."""


class OrderNotFoundError(InstructionError):
    """``order_id`` names no open order on the venue."""


class DuplicateClientIdError(InstructionError):
    """``client_id`` is already used by an open order on the venue."""


class PairedExecutionError(InstructionError):
    """A paired (saga) instruction could not unwind a filled leg after another failed: ``open_legs`` names the legs
    left open (client id, venue, operation, why) and ``fills`` lists every send of the saga. Act on it by hand."""

    def __init__(self, field: str, reason: str, open_legs: list[str] | None = None,
                 fills: list[dict[str, object]] | None = None) -> None:
        super().__init__(field, reason)
        self.open_legs = list(open_legs or [])
        self.fills = list(fills or [])


class PartialRouteError(InstructionError):
    """A routed swap (venue ``auto``) executed only in part, live: its on-chain legs landed but a CEX leg -- a
    separate order, never atomic with the chain -- failed. ``deltas`` are the routed deltas of what did execute
    (status ``partially_filled``); ``failed_legs`` the CEX orders not done (instruction dicts). Act on them."""

    def __init__(self, field: str, reason: str, deltas: object = None,
                 failed_legs: list[dict[str, object]] | None = None) -> None:
        super().__init__(field, reason)
        self.deltas = deltas
        self.failed_legs = list(failed_legs or [])


class VenueContractError(BasisError):
    """A venue plugin broke the plugin contract (returned None or a malformed result, wrote keys outside its
    ``key_namespaces``, changed the instruction it was given)."""


class FrozenInstructionError(VenueContractError, AttributeError):
    """Code (a venue plugin) tried to change a field of a frozen instruction with ``object.__setattr__``; the
    instruction is unchanged. Also an AttributeError, as for any read-only attribute."""


class VenueUnavailableError(InstructionError):
    """The venue is installed but failed (to import, construct, configure, describe itself or accrue):
    ``venue`` and ``reason`` say which and why; the other venues keep working."""

    def __init__(self, venue: str, reason: str) -> None:
        self.venue = venue
        super().__init__("venue", f"venue {venue!r} is installed but unavailable: {reason}")


class DiscoveryError(BasisError):
    """Venue discovery failed as a whole (e.g. two distributions claim one venue name)."""


class DuplicateVenueError(DiscoveryError):
    """Two distributions claim the same venue name."""

    def __init__(self, venue: str, distributions: Iterable[str]) -> None:
        self.venue = venue
        self.distributions = sorted(distributions)
        super().__init__(
            f"venue name {venue!r} is claimed by more than one distribution: {', '.join(self.distributions)}"
        )


class MarketDataError(BasisError, LookupError):
    """Market data is missing: an unknown series or a timestamp before the first row."""


class StaleMarketDataError(MarketDataError):
    """A timestamp is past the end of a series by more than the provider's ``max_staleness``: the last row
    is too old to stand for the market (instead of silently reusing a years-old price). Live market data
    raises it for a value older than the provider's ``max_age``: ``key`` names the series and
    ``age_seconds`` says how old its value was (both None when not known). Also exported as
    :data:`StaleDataError`."""

    def __init__(self, message: str, key: str | None = None, age_seconds: float | None = None) -> None:
        self.key = key
        self.age_seconds = age_seconds
        super().__init__(message)


#: the name issue 15 gives the stale-data error (one class: a backtest and a live provider raise the same)
StaleDataError = StaleMarketDataError


class MarketDataUnavailableError(MarketDataError):
    """A venue's live market data could not be read (down, no answer within the timeout, a malformed
    answer): ``venue`` names it and ``reason`` says why; nothing was traded on it."""

    def __init__(self, venue: str, reason: str) -> None:
        self.venue = venue
        self.reason = reason
        super().__init__(f"live market data of venue {venue!r} is unavailable: {reason}")


class ClockError(BasisError, ValueError):
    """The run's clock would go backwards, or a timestamp has no timezone."""


class ConfigError(BasisError, ValueError):
    """The configuration is invalid (names the setting)."""


class RunStateError(BasisError, ValueError):
    """A run-state folder (``basis run`` / ``basis status``) is missing, is not a state folder, or its store is
    unreadable or of another format; or the store was used out of order (a step before the run started)."""


class HistoryTrimmedError(BasisError):
    """An execution-history record was read after the history dropped it (a bounded history, ``history_limit``:
    ``basis run`` keeps the recent records only, once the run-state store has taken them). ``index`` is the
    absolute index asked for, ``start`` the first one still kept, ``venue`` the venue's view it was read through
    (None: the manager's history)."""

    def __init__(self, index: int, start: int, venue: str | None = None) -> None:
        self.index, self.start, self.venue = index, start, venue
        where = f"venue {venue!r}'s" if venue else "the"
        super().__init__(f"history index {index}: {where} execution history dropped records 0..{start - 1} "
                         f"(history_limit); the first kept is {start}")


class LiveExecutionError(BasisError):
    """A live venue call failed definitively (rejected) or could not be confirmed."""


class AuthenticationError(LiveExecutionError):
    """The venue rejected the credentials or the signature."""


class AmbiguousOutcomeError(LiveExecutionError):
    """A request may or may not have reached the venue (timeout, dropped response, 5xx)."""


class RetryableError(AmbiguousOutcomeError):
    """A transient failure that is safe to retry (rate limit, unavailable)."""


class TransactionRevertedError(LiveExecutionError):
    """An on-chain transaction was mined and reverted (no state change, gas spent)."""


class TransactionTimeoutError(AmbiguousOutcomeError):
    """A sent transaction has no receipt yet; it is tracked by hash and nonce, never re-sent."""

    def __init__(self, message: str, tx_hash: str | None = None, nonce: int | None = None) -> None:
        self.tx_hash = tx_hash
        self.nonce = nonce
        super().__init__(message)


class ScenarioError(BasisError, ValueError):
    """A scenario file is invalid (names the line and field)."""


class StrategyLoadError(ScenarioError):
    """A strategy reference (``file.py:Class``, ``module:Class``, an entry-point or built-in name) cannot be
    loaded: no such file / module / class / entry point, an import error inside it, or not a Strategy subclass."""


class PreflightError(BasisError):
    """A strategy cannot start: some of the legs it needs are not ready (venue missing or failed, operation
    unsupported, market data missing or stale, balance short, unknown instrument). ``problems`` lists every
    missing piece at once (each with ``strategy``, ``venue``, ``check``, ``reason``); nothing was sent."""

    def __init__(self, problems: list[Any]) -> None:
        self.problems = list(problems)
        lines = "; ".join(str(p) for p in self.problems[:20])
        more = f" (+{len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        super().__init__(f"pre-flight failed, {len(self.problems)} problem(s): {lines}{more}")


class RunResumeError(BasisError):
    """``basis run`` cannot resume from its state folder: the folder belongs to another scenario or mode, its
    files are unreadable, or a resumed step asked for something other than what the interrupted step had sent."""


class SweepError(BasisError, ValueError):
    """A parameter sweep is mis-specified (a ``--grid`` / ``--random`` / backend argument); ``field`` names the
    argument, ``reason`` says why. Raised before any variant runs."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class SweepKeyError(SweepError):
    """A sweep key (a dotted path into the scenario such as ``strategies.cash_and_carry.params.capital``) does
    not lead anywhere: ``key`` is the whole path, ``segment`` the part that failed, ``choices`` what exists there."""

    def __init__(self, key: str, segment: str, reason: str, choices: list[str] | None = None) -> None:
        self.key = key
        self.segment = segment
        self.choices = list(choices or [])
        super().__init__(key, reason)


class ContractRevertError(TransactionRevertedError):
    """An on-chain transaction reverted, with details: mined with status 0 (``tx_hash`` and ``gas_used``
    set, gas spent), or refused by the node's simulation before sending (``tx_hash`` None, nothing sent,
    nonce not consumed). ``reason`` is the decoded revert reason when the node gives one."""

    def __init__(self, message: str, reason: str | None = None, tx_hash: str | None = None,
                 nonce: int | None = None, gas_used: int | None = None) -> None:
        self.reason = reason
        self.tx_hash = tx_hash
        self.nonce = nonce
        self.gas_used = gas_used
        super().__init__(message)
