"""Base classes for venue plugins: CEXExecutionInterface, DEXExecutionInterface, OnChainExecutionInterface.

A venue plugin is a class (the entry point of group ``basis_core.venues`` points at it) whose
instances carry the seed's state (``current_orders``, ``execution_history``, ``orders_executed``,
``orders_failed``, ``last_execution_timestamp``) and implement hooks with ``@hookimpl``. The manager
instantiates it once per manager, so two managers never share state.

Mode dispatch: an operation hook calls ``self.dispatch("spot_trade", timestamp, instruction)``,
which calls the same-named method of the backtest backend (``make_backtest_backend``) or the live
backend (``make_live_backend``, created lazily so a backtest never imports ccxt / web3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from basis_core.config import BasisSettings, VenueSettings
from basis_core.hookspecs import OPERATION_HOOKS, hookimpl

if TYPE_CHECKING:
    from basis_core.backtest.clock import Clock
    from basis_core.backtest.ledger import Ledger
    from basis_core.data.provider import DataProvider
    from basis_core.deltas import ExecutionDeltas

VenueKind = Literal["cex", "dex", "onchain", "test"]


@dataclass
class VenueContext:
    """What the manager hands every venue at ``configure`` time.

    ``report(timestamp, deltas)``: record an effect that happened outside an instruction of this
    manager (live: an order sent before a restart and adopted by reconciliation) in the manager's
    ``execution_history``; None when there is no manager to tell.
    """

    mode: Literal["backtest", "live"]
    settings: BasisSettings
    data_provider: DataProvider | None
    ledger: Ledger | None
    clock: Clock
    report: Callable[[Any, ExecutionDeltas], None] | None = None
    #: live: ``encode_call(timestamp, step, recipient)`` -> the step's venue's ``encode_call`` answer (an
    #: :class:`~basis_core.live.bundles.EncodedCall` or None), for executor venues running other venues' steps
    encode_call: Callable[[Any, Any, str], Any] | None = None

    def settings_for(self, venue: str) -> VenueSettings:
        return self.settings.venue(venue)


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    """A venue's filters for one market, in human units (what the venue refuses, a strategy should avoid).

    ``step``: amount increment; ``min_amount``: smallest amount; ``min_notional``: smallest ``amount x price``
    in the quote asset (reduce-only perp orders are exempt); ``tick``: price increment (None: significant-figure
    rules or none); ``max_leverage``: of a perp's first margin tier (1 for spot); ``market_buy_hold``: a spot
    market buy needs ``amount x price x (1 + market_buy_hold)`` of the quote free when placed (size buys by it).
    """

    venue: str
    symbol: str
    market: str
    step: Decimal
    min_amount: Decimal
    min_notional: Decimal
    tick: Decimal | None = None
    max_leverage: Decimal = Decimal(1)
    market_buy_hold: Decimal = Decimal(0)

    def to_dict(self) -> dict[str, str | None]:
        return {"market": self.market, "step": str(self.step), "min_amount": str(self.min_amount),
                "min_notional": str(self.min_notional), "tick": None if self.tick is None else str(self.tick),
                "max_leverage": str(self.max_leverage)}


@dataclass(frozen=True)
class VenueInfo:
    """A venue's self-description (``venue_info`` hook); ``rules``: instrument rules by symbol (CEX markets)."""

    name: str
    kind: VenueKind
    operations: tuple[str, ...]
    instruments: tuple[str, ...] = ()
    key_namespaces: tuple[str, ...] = ()
    description: str = ""
    capabilities: frozenset[str] = frozenset()
    flash_loan_premium: Decimal | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    rules: Mapping[str, InstrumentRules] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "operations": list(self.operations),
            "instruments": list(self.instruments), "key_namespaces": list(self.key_namespaces),
            "description": self.description, "capabilities": sorted(self.capabilities),
            "rules": {sym: r.to_dict() for sym, r in self.rules.items()},
        }


def check_settings_keys(venue: str, options: Mapping[str, Any], known: frozenset[str]) -> None:
    """Raise :class:`ConfigError` for a settings key of ``venue`` that is neither a common
    :class:`~basis_core.config.VenueSettings` field nor one of ``known``, naming it and the closest known key."""
    import difflib

    from basis_core.config import VenueSettings
    from basis_core.errors import ConfigError

    for key in options:
        if key in known:
            continue
        allowed = sorted(known | set(VenueSettings.model_fields))
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"venue_config.{venue}.{key}: unknown setting{hint}; {venue} accepts: {', '.join(allowed)}")


class VenueInterface:
    """Common base of every venue plugin (state, status, mode dispatch)."""

    name: ClassVar[str] = ""
    kind: ClassVar[VenueKind] = "cex"
    description: ClassVar[str] = ""
    #: instrument-key namespaces this venue writes (``binance:spot``, ``ethereum:wallet`` ...)
    key_namespaces: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: venue-specific settings keys this venue reads (``venue_config.<venue>.<key>`` beyond the common fields of
    #: :class:`~basis_core.config.VenueSettings`); any other key is a ConfigError naming it, never ignored
    settings_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        self.current_orders: dict[str, Any] = {}
        #: this venue's records of the manager's history (a VenueHistory once registered with a manager)
        self.execution_history: Sequence[Any] = []
        #: "healthy", or "degraded" / "failed" with ``status_reason`` (set by the manager)
        self.status: str = "healthy"
        self.status_reason: str | None = None
        self.orders_executed = 0
        self.orders_failed = 0
        self.last_execution_timestamp: Any = None
        self.context: VenueContext | None = None
        self.settings: VenueSettings = VenueSettings()
        self.mode: str = "backtest"
        self._backend: Any = None

    # -- hooks every venue has -------------------------------------------------------------
    @hookimpl
    def configure(self, context: VenueContext) -> None:
        self.context = context
        self.mode = context.mode
        self.settings = context.settings_for(self.name)
        check_settings_keys(self.name, self.settings.options, type(self).settings_options)
        self._backend = None
        self.on_configure(context)

    @hookimpl
    def venue_info(self) -> VenueInfo:
        return VenueInfo(
            name=self.name, kind=self.kind, operations=self.operations(), instruments=self.instruments(),
            key_namespaces=self.key_namespaces or (f"{self.name}:",), description=self.description,
            capabilities=self.capabilities, flash_loan_premium=self.flash_loan_premium(),
            rules=self.instrument_rules(),
        )

    # -- for subclasses ----------------------------------------------------------------------
    def on_configure(self, context: VenueContext) -> None:
        """Called after ``configure``; validate settings here (raise ConfigError)."""

    @classmethod
    def operations(cls) -> tuple[str, ...]:
        """Operations this class implements a hook for (derived from its hookimpls)."""
        ops = []
        for op, hook in OPERATION_HOOKS.items():
            fn = getattr(cls, hook, None)
            if fn is not None and hasattr(fn, "basis_core_impl"):
                ops.append(op)
        return tuple(ops)

    def instruments(self) -> tuple[str, ...]:
        return ()

    def instrument_rules(self) -> dict[str, InstrumentRules]:
        """Amount step, minimums and tick by symbol (published in ``venue_info``); none by default."""
        return {}

    def flash_loan_premium(self) -> Decimal | None:
        return None

    def make_backtest_backend(self) -> Any:
        raise NotImplementedError(f"{self.name} has no backtest backend")

    def make_live_backend(self) -> Any:
        raise NotImplementedError(f"{self.name} has no live backend")

    @property
    def backend(self) -> Any:
        """The backend for the configured mode (created on first use)."""
        if self._backend is None:
            self._backend = self.make_live_backend() if self.mode == "live" else self.make_backtest_backend()
        return self._backend

    def dispatch(self, operation: str, timestamp: Any, instruction: Any) -> Any:
        """Call ``backend.<operation>(timestamp, instruction)``."""
        method: Callable[[Any, Any], Any] = getattr(self.backend, operation)
        return method(timestamp, instruction)

    def open_order_count(self) -> int:
        """How many orders are open (``len(current_orders)``; a venue whose count needs a call overrides it)."""
        return len(self.current_orders)

    def get_execution_status(self) -> dict[str, Any]:
        """The seed's status dict: ``status`` ("healthy", or "degraded" / "failed" with the ``reason``),
        ``execution_mode``, ``active_orders`` (the open orders), the counts and the last execution time.
        ``mode`` and ``open_orders`` repeat ``execution_mode`` and ``active_orders`` (earlier names)."""
        open_orders = self.open_order_count()
        return {
            "venue": self.name,
            "status": self.status,
            "reason": self.status_reason,
            "execution_mode": self.mode,
            "active_orders": open_orders,
            "mode": self.mode,
            "orders_executed": self.orders_executed,
            "orders_failed": self.orders_failed,
            "open_orders": open_orders,
            "last_execution_timestamp": None if self.last_execution_timestamp is None
            else str(self.last_execution_timestamp),
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} venue={self.name!r} mode={self.mode!r}>"


class CEXExecutionInterface(VenueInterface):
    """Base of centralised-exchange venues (spot, perpetuals, transfers, order management)."""

    kind: ClassVar[VenueKind] = "cex"


class DEXExecutionInterface(VenueInterface):
    """Base of DEX venues (swaps, liquidity, price-impact quotes, gas)."""

    kind: ClassVar[VenueKind] = "dex"


class OnChainExecutionInterface(VenueInterface):
    """Base of on-chain protocol venues (lending, staking)."""

    kind: ClassVar[VenueKind] = "onchain"
