"""The strategy interface of the backtest runner: subclass :class:`Strategy` to write your own.

A strategy is written only against the public manager API (``manager.execute``,
``manager.get_balances``, ``manager.venues()``, ``manager.data_provider``), so it runs unchanged in a
host application. The runner calls, in order:

1. :meth:`Strategy.prepare` once (return a reason to skip, e.g. a venue is not installed);
2. :meth:`Strategy.start` at the first step, then :meth:`Strategy.step` at every step (the first one too),
   after the scheduled instructions due and after the clock advanced (funding and interest accrued);
3. :meth:`Strategy.finish` after the last step (positions stay open: the report marks them to market).

``basis run`` (paper / live, :mod:`basis_core.run`) calls the same hooks on the wall clock, and two more:

- :meth:`Strategy.required_legs` before :meth:`Strategy.start`: every leg the strategy will trade (venue, operations,
  instrument, market data, balances), checked all at once by the pre-flight (:mod:`basis_core.run.preflight`),
  so a strategy never opens a first leg when a later one was impossible from the start;
- :meth:`Strategy.state_dict` after every step and :meth:`Strategy.load_state_dict` on a restart (after
  :meth:`Strategy.prepare`, instead of :meth:`Strategy.start`): the default saves the instance's attributes
  as exact JSON (:mod:`basis_core.backtest.strategies.state`), which covers the built-ins; override both
  when your strategy holds something else. A leg left open without its hedge is reported with
  :meth:`Strategy.report_unhedged` (the runner logs it, saves it in the run's state and exits non-zero).

``ts`` is the step's time (an aware UTC ``pandas.Timestamp``); the market visible at ``ts`` is
``manager.data_provider.get_data(ts)`` (nothing later is ever visible). Helpers for subclasses:

- :meth:`Strategy.history`: the last ``n`` rows (or the rows since a time) of a market series up to ``ts``:
  the lookback window for indicators;
- :meth:`Strategy.rules` / :meth:`Strategy.conform_amount`: the venue's instrument rules (amount step,
  minimum amount, minimum notional, price tick), to size orders the venue accepts;
- :meth:`Strategy.try_execute`: execute and count a refused instruction instead of raising.

Parameters are a pydantic model: set ``Params`` to a subclass of :class:`StrategyParams`; the scenario's
``params`` are validated against it (unknown fields are errors) and reach the strategy as ``self.params``.
A minimal strategy (see ``examples/buy_the_dip.py`` for a complete one)::

    class BuyTheDip(Strategy):
        name = "buy_the_dip"

        class Params(StrategyParams):
            drop: Decimal = Decimal("0.05")

        def step(self, manager, ts):
            closes = self.history(manager, ts, "spot:ETH/USDT", n=24).column("close")
            if len(closes) == 24 and closes[-1] < max(closes) * (1 - self.params.drop):
                self.try_execute(manager, ts, {"venue": "binance", "operation": "spot_trade",
                                               "symbol": "ETH/USDT", "side": "buy", "amount": "0.1"})

Run it with ``basis backtest --strategy path/to/file.py:BuyTheDip``, from a scenario
(``strategies: [{name: "path/to/file.py:BuyTheDip"}]`` or ``package.module:BuyTheDip``), or publish it
from a distribution in the entry-point group ``basis_core.strategies``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from basis_core.errors import BasisError
from basis_core.interfaces import InstrumentRules

if TYPE_CHECKING:
    from basis_core.data.series import Series

log = logging.getLogger(__name__)


class StrategyParams(BaseModel):
    """Base of every strategy's parameter model (unknown fields are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Leg:
    """One leg a strategy will trade, as the pre-flight checks it (:mod:`basis_core.run.preflight`).

    - ``venue`` and the ``operations`` it will send there (the venue must be installed, working, and offer them);
    - ``symbol``: the instrument, checked against the venue's published rules (venues without rules: not checked);
    - ``series``: market data it reads, ``"series"`` or ``"series.column"`` (present and fresh at the start);
    - ``balances``: instrument key -> the amount it needs at the start (human units; summed over legs, read
      from ``manager.get_balances(ts, venue)``).
    """

    venue: str
    operations: tuple[str, ...] = ()
    symbol: str | None = None
    series: tuple[str, ...] = ()
    balances: Mapping[str, Decimal] = field(default_factory=dict)


class Strategy:
    """Base class: subclasses set ``name`` (default: the class name), ``Params`` and override the hooks they
    need (:meth:`prepare`, :meth:`start`, :meth:`step`, :meth:`finish`).

    ``self.errors`` counts instructions refused through :meth:`try_execute`; append to ``self.notes`` what the
    report should mention.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(self, params: StrategyParams | dict[str, Any] | None = None) -> None:
        if params is None or isinstance(params, dict):
            params = self.Params.model_validate(params or {})
        self.params: Any = params
        self.errors = 0
        #: things the report should mention (e.g. a leg given up); the runner adds them to the summary
        self.notes: list[str] = []
        #: open exposures left without their hedge (see :meth:`report_unhedged`)
        self.unhedged: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    def prepare(self, manager: Any) -> str | None:
        """Check the installed venues; return a reason to skip this strategy, or None to run it."""
        return None

    def start(self, manager: Any, ts: Any) -> None:
        """Open the positions (first step)."""

    def step(self, manager: Any, ts: Any) -> None:
        """Rebalance (every step)."""

    def finish(self, manager: Any, ts: Any) -> None:
        """After the last step (positions are left open: the report marks them to market)."""

    # -- paper / live: pre-flight and persisted state ---------------------------------------------------
    def required_legs(self, manager: Any) -> list[Leg]:
        """Every leg :meth:`start` will open (called after :meth:`prepare`); the default declares none."""
        return []

    def state_dict(self) -> dict[str, Any]:
        """What a restarted run needs to continue without re-opening legs: JSON-ready data. The default saves
        every instance attribute but ``params`` (:func:`basis_core.backtest.strategies.state.attributes`)."""
        from basis_core.backtest.strategies.state import attributes

        return attributes(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output onto a strategy built with the same parameters and prepared with
        :meth:`prepare` (objects it built there are updated in place)."""
        from basis_core.backtest.strategies.state import restore_attributes

        restore_attributes(self, dict(state))

    def report_unhedged(self, ts: Any, what: str) -> None:
        """Record an exposure left open without its hedge (a later leg failed and could not be unwound): it is
        logged at error level, kept in :attr:`unhedged` and :attr:`notes`, and ``basis run`` reports it in
        the run's state and exit status."""
        when = ts.isoformat() if hasattr(ts, "isoformat") else str(ts)
        msg = f"UNHEDGED at {when}: {what}"
        self.unhedged.append(msg)
        self.notes.append(msg)
        log.error("%s: %s", self.name or type(self).__name__, msg)

    @staticmethod
    def market(manager: Any, ts: Any) -> Any:
        """The market snapshot at ``ts``; :class:`~basis_core.errors.MarketDataError` when the manager has no
        market data (a live manager built without a ``data_provider``)."""
        provider = manager.data_provider
        if provider is None:
            from basis_core.errors import MarketDataError

            raise MarketDataError("the manager has no data_provider: strategies need market data (pass the live "
                                  "data provider, or run them with basis run)")
        return provider.get_data(ts)

    # -- helpers for subclasses (public manager API only) ---------------------------------------------
    @staticmethod
    def installed(manager: Any) -> dict[str, set[str]]:
        """Installed venues and their operations."""
        return {v["name"]: set(v["operations"]) for v in manager.venues()}

    @classmethod
    def missing_ops(cls, manager: Any, needs: Mapping[str, Iterable[str]]) -> str | None:
        """A reason string if a needed venue or operation is missing, else None."""
        have = cls.installed(manager)
        for venue, ops in needs.items():
            if venue not in have:
                return f"venue {venue!r} is not installed (pip install basis-venue-{venue})"
            lacking = sorted(set(ops) - have[venue])
            if lacking:
                return f"venue {venue!r} does not support {', '.join(lacking)}"
        return None

    @staticmethod
    def history(manager: Any, ts: Any, series: str, n: int | None = None, since: Any = None) -> Series:
        """The lookback window of a market series visible at ``ts``: its last ``n`` rows and / or the rows since
        ``since``, never a row later than ``ts`` (fewer than ``n`` near the start of the data). Exact Decimals:
        ``.column("close")`` is the sequence of closes, ``.to_frame()`` a pandas frame.

        This is :meth:`basis_core.data.provider.DataProvider.history` with ``until=ts``.
        """
        return manager.data_provider.history(series, n, since, until=ts)  # type: ignore[no-any-return]

    @staticmethod
    def rules(manager: Any, venue: str, symbol: str) -> InstrumentRules | None:
        """The instrument rules of ``symbol`` on ``venue`` (None when the venue publishes none, e.g. a DEX)."""
        return manager.venue(venue).venue_info().rules.get(symbol)  # type: ignore[no-any-return]

    @classmethod
    def size_unit(cls, manager: Any, size_decimals: int, *markets: tuple[str, str]) -> Decimal:
        """The order-size unit for trading ``markets`` (``(venue, symbol)`` pairs) together: the coarsest of
        ``10**-size_decimals`` and each market's amount step from ``venue_info`` (a hedged pair trades equal
        sizes, so both legs use the coarser step)."""
        unit = Decimal(1).scaleb(-size_decimals)
        for venue, symbol in markets:
            r = cls.rules(manager, venue, symbol)
            if r is not None and r.step > unit:
                unit = r.step
        return unit

    @staticmethod
    def conform_amount(rules: InstrumentRules | None, amount: Decimal, price: Decimal | None = None) -> Decimal:
        """``amount`` rounded down to the rules' step; 0 when below the minimum amount or (given ``price``) the
        minimum notional. Without rules the amount is returned unchanged."""
        if rules is None:
            return amount
        steps = (amount / rules.step).to_integral_value(rounding=ROUND_DOWN)
        out = steps * rules.step
        if out < rules.min_amount or (price is not None and out * price < rules.min_notional):
            return Decimal(0)
        return out

    def try_execute(self, manager: Any, ts: Any, instruction: dict[str, Any]) -> Any:
        """Execute; on a typed error log it, count it and return None (the ledger is unchanged)."""
        try:
            return manager.execute(ts, instruction)
        except BasisError as exc:
            self.errors += 1
            log.info("%s: %s %s failed at %s: %s", self.name, instruction.get("venue"),
                     instruction.get("operation"), ts, exc)
            return None


def round_to(x: Decimal, unit: Decimal) -> Decimal:
    """``x`` rounded toward zero to a multiple of ``unit`` (an order-size step, e.g. ``0.01``)."""
    return (x / unit).to_integral_value(rounding=ROUND_DOWN) * unit


def round_down(x: Decimal, places: int) -> Decimal:
    """``x`` rounded toward zero to ``places`` decimals (order sizes)."""
    return x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)




class LendingBook:
    """This strategy's own part of a shared lending account (one Aave account per wallet: other
    strategies may supply or borrow the same assets).

    Amounts are kept scaled by the reserve's index from the market data (``aave:<asset>``:
    ``liquidity_index`` for supplied, ``variable_borrow_index`` for debt), as Aave scales balances, so
    they grow with interest: ``amount(ts) = scaled x index(ts)``. Feed every own deltas to :meth:`record`.
    """

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.scaled: dict[tuple[str, str], Decimal] = {}

    @staticmethod
    def index(manager: Any, ts: Any, kind: str, asset: str) -> Decimal:
        col = "liquidity_index" if kind == "supplied" else "variable_borrow_index"
        try:
            value: Decimal = manager.data_provider.get_data(ts).get(f"aave:{asset}", col)
        except BasisError:
            return Decimal(1)
        return value if value > 0 else Decimal(1)

    def record(self, manager: Any, ts: Any, positions: Mapping[str, Decimal]) -> None:
        prefix = f"{self.venue}:"
        for key, delta in positions.items():
            if not key.startswith(prefix) or not delta:
                continue
            _, kind, asset = key.split(":", 2)
            if kind in ("supplied", "debt"):
                k = (kind, asset)
                new = self.scaled.get(k, Decimal(0)) + delta / self.index(manager, ts, kind, asset)
                self.scaled[k] = max(new, Decimal(0))

    def amount(self, manager: Any, ts: Any, kind: str, asset: str) -> Decimal:
        s = self.scaled.get((kind, asset), Decimal(0))
        return s * self.index(manager, ts, kind, asset) if s else Decimal(0)


__all__ = ["InstrumentRules", "Leg", "LendingBook", "Strategy", "StrategyParams", "round_down", "round_to"]
