"""``OnChainVenue``: the hook layer shared by on-chain protocol venues (staking, restaking, lending).

A subclass sets ``name`` / ``description`` / ``key_namespaces``, ``issued_tokens`` (how its tokens are valued: the
``token_prices`` hook), ``data_module`` (its market data, see
:class:`~basis_core.data.contrib.DataModuleHooks`), ``backtest_backend`` and ``live_backend`` (``"module:Class"``,
imported on first use so a backtest never imports web3), adds its own option names to ``settings_options``
and validates them in :meth:`check_options`. It mixes in the operation hooks it has (:class:`StakingHooks`,
:class:`LendingHooks`, :class:`AtomicHooks`, or its own ``@hookimpl`` methods). Each hook calls the same-named
method of the mode's backend: ``stake`` / ``unstake``, ``supply`` / ``withdraw`` / ``borrow`` / ``repay``,
``atomic``, ``balances``, ``accrue`` (backtest), ``estimate_notional``, ``risk_state``.

In live mode ``accrue`` settles the journaled intents left pending (a restart, a timeout):
:func:`basis_core.live.onchain.live_accrue`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, ClassVar

from basis_core.data.contrib import DataModuleHooks
from basis_core.data.prices import TokenPrice
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError
from basis_core.hookspecs import hookimpl
from basis_core.interfaces import OnChainExecutionInterface
from basis_core.live.onchain import EVM_OPTIONS, approval_mode, live_accrue
from basis_core.onchain.liquid import LiquidStaking

__all__ = ["AtomicHooks", "LendingHooks", "LiquidStakingVenue", "OnChainVenue", "StakingHooks", "backend_hook",
           "backtest_context", "load_backend"]


def backtest_context(venue: Any) -> tuple[Any, Any, Mapping[str, Any]]:
    """``(ledger, data provider, options)`` a backtest backend of ``venue`` works with; ConfigError when the venue
    is not configured by a manager with both."""
    ctx = venue.context
    if ctx is None or ctx.ledger is None or ctx.data_provider is None:
        raise ConfigError(f"{venue.name}: the backtest backend needs the manager's ledger and data provider")
    return ctx.ledger, ctx.data_provider, venue.settings.options


def load_backend(path: str) -> Any:
    """The class named by ``"package.module:Class"``; :class:`ConfigError` naming the path when it is not of that
    form or names nothing importable."""
    module, sep, cls = path.partition(":")
    if not (module and sep and cls):
        raise ConfigError(f"backend: expected 'package.module:Class', got {path!r}")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"backend: cannot load {path!r}: {type(e).__name__}: {e}") from None


def backend_hook(method: str, doc: str = "") -> Any:
    """A hook implementation calling ``backend.<method>(timestamp, instruction)`` of the venue (the mode's backend);
    set it as the class attribute named like the hook (``execute_stake = backend_hook("stake")``)."""
    def hook(self: Any, timestamp: Any, instruction: Any) -> Any:
        return getattr(self.backend, method)(timestamp, instruction)

    hook.__doc__ = doc or f"``{method}`` of the mode's backend."
    return hookimpl(hook)


class OnChainVenue(DataModuleHooks, OnChainExecutionInterface):
    """An on-chain protocol venue on Ethereum (wallet keys ``ethereum:wallet:<TOKEN>``); see the module doc."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"fills", "credentials", "live"})
    #: the options every on-chain venue reads (approvals, gas, the live client's); subclasses add theirs
    settings_options: ClassVar[frozenset[str]] = frozenset({
        "approval_mode", "deployment_table", "charge_gas", "gas_units"}) | EVM_OPTIONS
    #: ``"module:Class"`` of the backtest backend (constructed with the venue)
    backtest_backend: ClassVar[str] = ""
    #: ``"module:Class"`` of the live backend (constructed with the venue; imports web3)
    live_backend: ClassVar[str] = ""
    #: how the tokens this venue issues are valued (the ``token_prices`` hook), e.g.
    #: ``{"wstETH": TokenPrice("ETH", "lst:wstETH")}``
    issued_tokens: ClassVar[Mapping[str, TokenPrice]] = {}
    #: set on a class whose ``capabilities`` this base computed (not declared by the class)
    _live_from_backend: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """``live`` is claimed only by a venue that names a live backend (or builds one itself); capabilities a
        class declares itself stay as written."""
        super().__init_subclass__(**kwargs)
        if "capabilities" in cls.__dict__:
            return
        declared = next(k.__dict__["capabilities"] for k in cls.__mro__ if "capabilities" in k.__dict__
                        and not k.__dict__.get("_live_from_backend"))
        if "live" not in declared:
            return
        has_live = bool(cls.live_backend) or cls.make_live_backend is not OnChainVenue.make_live_backend
        cls.capabilities = declared if has_live else declared - {"live"}
        cls._live_from_backend = True

    @classmethod
    @hookimpl
    def token_prices(cls) -> dict[str, TokenPrice] | None:
        return dict(cls.issued_tokens) or None

    def on_configure(self, context: Any) -> None:
        opts = self.settings.options
        self.check_options(opts)
        approval_mode(self.name, opts)

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Validate the venue's own options (raise ConfigError naming ``venue_config.<venue>.<option>``)."""

    def make_backtest_backend(self) -> Any:
        if not self.backtest_backend:
            return super().make_backtest_backend()  # NotImplementedError naming the venue
        return load_backend(self.backtest_backend)(self)

    def make_live_backend(self) -> Any:
        if not self.live_backend:
            return super().make_live_backend()  # NotImplementedError naming the venue
        return load_backend(self.live_backend)(self)

    get_balances = backend_hook("balances")

    @hookimpl
    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        if self.mode != "backtest":  # live: settle journaled intents left pending (a restart, a timeout)
            return live_accrue(self)
        return self.backend.accrue(previous, timestamp)  # type: ignore[no-any-return]


class StakingHooks:
    """``stake`` / ``unstake`` and the USD notional estimate (for the risk limits), by the backend."""

    execute_stake = backend_hook("stake")
    execute_unstake = backend_hook("unstake")
    estimate_notional = backend_hook("estimate_notional")


class AtomicHooks:
    """``atomic``: live, the bundle as one transaction through the venue's executor contract (the backend's
    ``atomic``); backtest bundles are run by the core."""

    dispatch: Any

    @hookimpl
    def execute_atomic(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self.dispatch("atomic", timestamp, instruction)  # type: ignore[no-any-return]


class LendingHooks:
    """``supply`` / ``withdraw`` / ``borrow`` / ``repay`` and the account's ``risk_state``, by the backend."""

    execute_supply = backend_hook("supply")
    execute_withdraw = backend_hook("withdraw")
    execute_borrow = backend_hook("borrow")
    execute_repay = backend_hook("repay")
    risk_state = backend_hook("risk_state", "The account's health under the shock, from the backend (backtest: "
                                            "simulated, live: chain reads).")


class LiquidStakingVenue(StakingHooks, OnChainVenue):
    """A liquid-staking venue (Lido, EtherFi): ``liquid`` names its tokens and queue; the option
    ``withdrawal_delay`` (validated), ``instruments`` (the two tokens) and the ``token_prices`` declaration (the
    rebasing token 1:1 ETH, the wrapped one at its exchange rate) follow from it."""

    liquid: ClassVar[LiquidStaking]
    settings_options: ClassVar[frozenset[str]] = OnChainVenue.settings_options | {"withdrawal_delay"}

    @classmethod
    @hookimpl
    def token_prices(cls) -> dict[str, TokenPrice] | None:
        return cls.liquid.token_prices()

    def check_options(self, options: Mapping[str, Any]) -> None:
        self.liquid.delay_ns(options)

    def instruments(self) -> tuple[str, ...]:
        return (self.liquid.rebasing, self.liquid.wrapped)
