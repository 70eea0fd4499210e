"""``CexVenue``: the hook implementations every simulated CEX plugin shares.

A plugin subclasses it, sets ``name`` / ``description`` / ``default_spec`` and, for live mode, names its backend
class in ``live_backend`` (or implements ``make_live_backend``). Backtest mode runs
:class:`~basis_core.backtest.cex.engine.CexSimulator`; a live backend must expose the same methods
(``spot_trade``, ``perp_trade``, ``transfer``, ``cancel_order``, ``modify_order``, ``get_balances``,
``estimate_notional``) and should reuse :mod:`.validation` and :mod:`.fills` so both modes refuse and account for
orders the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from basis_core.backtest.cex.engine import CexSimulator
from basis_core.backtest.cex.market import Market, build_markets
from basis_core.backtest.cex.spec import CexSpec
from basis_core.backtest.ledger import TxTable
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError
from basis_core.hookspecs import hookimpl
from basis_core.interfaces import CEXExecutionInterface, InstrumentRules, VenueContext


class OrdersView(Mapping[str, Any]):
    """Read-only ``current_orders``: order id -> :class:`RestingOrder`, backed by the ledger table (so a
    rolled-back instruction never leaves a phantom order)."""

    __slots__ = ("_table",)

    def __init__(self, table: TxTable) -> None:
        self._table = table

    def __getitem__(self, key: str) -> Any:
        return self._table[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"OrdersView({dict(self._table.snapshot())!r})"


class LiveOrdersView(Mapping[str, Any]):
    """``current_orders`` in live mode: venue order id -> the live backend's ``OrderView`` of every open
    order on the venue's listed markets. Every read asks the venue, so it is never stale; :meth:`snapshot`
    reads them all with one round of venue calls (``dict(view)`` would ask once per order)."""

    __slots__ = ("_venue",)

    def __init__(self, venue: CexVenue) -> None:
        self._venue = venue

    def snapshot(self) -> dict[str, Any]:
        """The open orders now, by order id (one round of venue calls)."""
        return self._venue.backend.open_orders_now()  # type: ignore[no-any-return]

    def __getitem__(self, key: str) -> Any:
        return self.snapshot()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        return len(self.snapshot())

    def __repr__(self) -> str:
        return f"LiveOrdersView({self._venue.name})"


class CexVenue(CEXExecutionInterface):
    """Generic CEX venue plugin (spot, linear perps, transfers, order management) over a :class:`CexSpec`."""

    default_spec: ClassVar[CexSpec]
    capabilities: ClassVar[frozenset[str]] = frozenset({"fills", "resting_orders", "credentials", "live"})
    #: CexSpec.with_settings options and the ccxt live backend's
    settings_options: ClassVar[frozenset[str]] = frozenset({
        "slippage", "slippage_model", "margin_tiers", "default_leverage", "require_funding_data", "rate_limit_ms",
        "clock_margin_ms"})
    #: the live backend class, ``"module:Class"`` (a :class:`~basis_core.live.cex.CexLiveBackend` subclass), imported
    #: in live mode only; its ``check_configuration`` runs at configure. None: the plugin implements
    #: ``make_live_backend`` itself (or has no live mode)
    live_backend: ClassVar[str | None] = None

    def __init__(self, spec: CexSpec | None = None) -> None:
        super().__init__()
        self._base_spec: CexSpec = spec or type(self).default_spec
        if self._base_spec.venue != self.name:
            raise ConfigError(f"spec: venue {self._base_spec.venue!r} does not match plugin {self.name!r}")
        self.spec: CexSpec = self._base_spec
        self.markets: dict[str, Market] = build_markets(self.spec)

    def on_configure(self, context: VenueContext) -> None:
        self.spec = self._base_spec.with_settings(self.settings.fees, self.settings.options)
        self.markets = build_markets(self.spec)
        if context.ledger is not None:
            self.current_orders = OrdersView(context.ledger.table(f"{self.name}.orders"))  # type: ignore[assignment]
        elif context.mode == "live":
            self.current_orders = LiveOrdersView(self)  # type: ignore[assignment]
        if context.mode == "live" and self.live_backend is not None:  # credentials checked now (no ccxt import)
            self.live_backend_class().check_configuration(self.name, self.settings, context.settings)

    @classmethod
    def live_backend_class(cls) -> Any:
        """The class :attr:`live_backend` names (imported now)."""
        if cls.live_backend is None:
            raise NotImplementedError(f"{cls.name} has no live backend")
        module, _, name = cls.live_backend.partition(":")
        return getattr(importlib.import_module(module), name)

    def make_live_backend(self) -> Any:
        if self.live_backend is None:
            return super().make_live_backend()
        return self.live_backend_class()(self)

    def open_order_count(self) -> int:
        """Live: the orders this manager placed that may still fill (no venue call; ``current_orders`` asks
        the venue); backtest: the resting orders."""
        if isinstance(self.current_orders, LiveOrdersView):
            return 0 if self._backend is None else len(self._backend.open_orders)
        return len(self.current_orders)

    def instruments(self) -> tuple[str, ...]:
        return tuple(s.symbol for s in self.spec.symbols)

    def instrument_rules(self) -> dict[str, InstrumentRules]:
        """The spec's filters per symbol (after the run's settings)."""
        hold = self.spec.market_slippage
        return {s.symbol: InstrumentRules(self.name, s.symbol, s.market, s.step, s.min_amount, s.min_notional, s.tick,
                                          s.max_leverage, hold if s.market == "spot" else Decimal(0))
                for s in self.spec.symbols}

    def make_backtest_backend(self) -> CexSimulator:
        ctx = self.context
        if ctx is None or ctx.ledger is None or ctx.data_provider is None:
            raise ConfigError(f"{self.name}: backtest mode needs a ledger and a data provider")
        return CexSimulator(self.spec, ctx.ledger, ctx.data_provider)

    def _b(self) -> Any:
        b = self._backend
        return b if b is not None else self.backend

    # -- hooks --------------------------------------------------------------------------------------
    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return (self._backend or self.backend).spot_trade(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def execute_perp_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return (self._backend or self.backend).perp_trade(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def execute_transfer(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self._b().transfer(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def cancel_order(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self._b().cancel_order(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def modify_order(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self._b().modify_order(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def quote_spot(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        """A spot market order quoted in swap terms (:mod:`basis_core.backtest.cex.spot_quote`): the simulator's
        price and slippage model in backtest, the order book live."""
        return self._b().quote_spot(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Any]:
        return self._b().get_balances(timestamp, instruction)  # type: ignore[no-any-return]

    @hookimpl
    def estimate_notional(self, timestamp: Any, instruction: Any) -> Any:
        return self._b().estimate_notional(timestamp, instruction)

    @hookimpl
    def risk_state(self, timestamp: Any, instruction: Any) -> Any:
        """Each margin wallet's health under the shock (:mod:`basis_core.backtest.cex.risk`), from this venue's own
        balances and margin tiers (backtest and live alike); with the shock's pending instructions for this venue
        projected onto them (:func:`basis_core.backtest.cex.risk.project_pending`)."""
        from basis_core.backtest.cex.risk import cex_risk, project_pending
        from basis_core.risk.guard import pending_for
        from basis_core.risk.shocks import NO_SHOCK

        shock = instruction or NO_SHOCK
        bal = self._b().get_balances(timestamp, None)
        markets = {s: m for s, m in self.markets.items() if m.is_perp}
        for pending in pending_for(getattr(shock, "pending", None), self.name):
            bal = project_pending(self.name, bal, pending, markets, self.spec,
                                  lambda p: self._b().estimate_notional(timestamp, p))
        return cex_risk(self.name, bal, {s: m.tiers for s, m in markets.items()},
                        {s: m.margin_key for s, m in markets.items()}, shock)

    # -- live moves (basis_core.transit.live): the live backend's withdrawals and deposits --------------------
    @hookimpl
    def transfer_networks(self, timestamp: Any, instruction: Any) -> Any:
        return self._live_backend("move").transfer_networks(timestamp, instruction)

    @hookimpl
    def transfer_address(self, timestamp: Any, instruction: Any) -> Any:
        return self._live_backend("move").transfer_address(timestamp, instruction)

    @hookimpl
    def transfer_send(self, timestamp: Any, instruction: Any) -> Any:
        return self._live_backend("move").transfer_send(timestamp, instruction)

    @hookimpl
    def transfer_status(self, timestamp: Any, instruction: Any) -> Any:
        return self._live_backend("move").transfer_status(timestamp, instruction)

    @hookimpl
    def transfer_arrival(self, timestamp: Any, instruction: Any) -> Any:
        return self._live_backend("move").transfer_arrival(timestamp, instruction)

    def _live_backend(self, operation: str) -> Any:
        if self.mode != "live":
            from basis_core.errors import UnsupportedOperationError

            raise UnsupportedOperationError(self.name, operation)
        return self._b()

    @hookimpl
    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        b = self._backend
        if b is None:
            if self.mode != "backtest" and not self._configured():
                return None  # live: an auto-discovered venue nobody configured is never connected
            b = self.backend
        return b.accrue(previous, timestamp)  # type: ignore[no-any-return]

    def _configured(self) -> bool:
        """Whether the run names this venue (a ``venue_config`` entry or the ``venues`` allow-list)."""
        return self.context is not None and self.context.settings.names_venue(self.name)

    # -- conformance kit declarations (basis_core.testing.conformance_protocol) ------------------------------
    def conformance_examples(self) -> dict[str, Any]:
        """Valid examples for every operation, derived from the spec's first spot and perp symbols."""
        from basis_core.testing.conformance_protocol import ConformanceExample

        spec = self._base_spec
        spot = next(s for s in spec.symbols if s.market == "spot")
        perp = next(s for s in spec.symbols if s.market == "perp")
        amount = str(max(Decimal("0.05"), spot.min_amount, perp.min_amount))
        spot_account = next(a for a, k in spec.accounts.items() if k == "spot")
        margin_account = next(a for a, k in spec.accounts.items() if k == "margin")
        rest = {"operation": "spot_trade", "symbol": spot.symbol, "side": "buy", "amount": amount,
                "order_type": "limit", "price": "1000"}  # far below the market: rests
        return {
            "spot_trade": [
                {"operation": "spot_trade", "symbol": spot.symbol, "side": "buy", "amount": amount},
                {"operation": "spot_trade", "symbol": spot.symbol, "side": "sell", "amount": amount},
                ConformanceExample(rest, label="resting"),
            ],
            "perp_trade": [
                {"operation": "perp_trade", "symbol": perp.symbol, "side": "sell", "amount": amount},
                ConformanceExample({"operation": "perp_trade", "symbol": perp.symbol, "side": "sell",
                                    "amount": amount, "reduce_only": True},
                                   setup=({"operation": "perp_trade", "symbol": perp.symbol, "side": "buy",
                                           "amount": amount},), label="reduce",
                                   # a venue that clamps reduce-only orders accepts any size
                                   skip_variants=("amount=huge",) if spec.reduce_only_clamp else ()),
            ],
            "transfer": [{"operation": "transfer", "asset": spec.margin_assets[0], "amount": "100",
                          "from_account": spot_account, "to_account": margin_account}],
            "cancel_order": [ConformanceExample({"operation": "cancel_order", "order_id": "conf-rest"},
                                                setup=({**rest, "client_id": "conf-rest"},))],
            "modify_order": [ConformanceExample({"operation": "modify_order", "order_id": "conf-mod", "price": "1100"},
                                                setup=({**rest, "client_id": "conf-mod"},))],
        }

    def conformance_balances(self) -> dict[str, str]:
        spec = self._base_spec
        out = {f"{spec.venue}:{spec.margin_kind}:{a}": "1000000" for a in spec.margin_assets}
        for s in spec.symbols:
            if s.market == "spot":
                out[f"{spec.venue}:{spec.spot_kind}:{s.quote}"] = "1000000"
                out[f"{spec.venue}:{spec.spot_kind}:{s.base}"] = "100"
        return out
