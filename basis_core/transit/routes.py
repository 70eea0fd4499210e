"""Transfer routes between venues: how long a move takes and what it costs (plain data).

A :class:`Route` joins a source account kind (``binance:spot``) to a destination (``ethereum:wallet``): the move
is credited ``processing_seconds + confirmations x block_seconds`` after it is sent, less ``fee`` (per asset, in
the asset) and ``fee_rate`` x amount. The defaults are round numbers from the venues' public pages, to be
overridden per deployment (setting ``transit_routes``):

=====================================  ==========================================================================
route                                  model
=====================================  ==========================================================================
``binance:spot -> ethereum:wallet``    withdrawal: 10 min processing + 12 confirmations x 12 s; fee 1 USDT / USDC,
                                       0.0008 ETH
``ethereum:wallet -> binance:spot``    deposit: credited after 6 confirmations x 12 s + 60 s; no fee
``ethereum:wallet -> binance:futures`` the same deposit, then an internal transfer
``binance:futures -> ethereum:wallet`` withdrawal from the futures wallet (via spot): as spot
``hyperliquid:perp-margin ->           withdrawal (bridge to the chain): 5 min + 1 USDC
ethereum:wallet``
``ethereum:wallet ->                   deposit through the bridge: 3 min after 12 confirmations x 12 s; no fee
hyperliquid:perp-margin``
``hyperliquid:perp-margin ->           withdrawal over the bridge to Binance's Arbitrum deposit address: 5 min +
binance:spot``                         12 confirmations x 1 s; 1 USDC
=====================================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from basis_core.errors import ConfigError

_ZERO = Decimal(0)


@dataclass(frozen=True)
class Route:
    """One way between two account kinds (see the module docstring)."""

    source: str  # "<venue>:<kind>"
    destination: str
    processing_seconds: int = 0
    confirmations: int = 0
    block_seconds: int = 12
    fee: Mapping[str, Decimal] = field(default_factory=dict)
    fee_rate: Decimal = _ZERO

    @property
    def seconds(self) -> int:
        """Seconds from sending to the credit at the destination."""
        return self.processing_seconds + self.confirmations * self.block_seconds

    def cost(self, asset: str, amount: Decimal) -> Decimal:
        """The fee of moving ``amount`` of ``asset`` (asset units)."""
        return self.fee.get(asset, _ZERO) + amount * self.fee_rate

    @property
    def name(self) -> str:
        return f"{self.source}->{self.destination}"


def _r(src: str, dst: str, processing: int, confirmations: int, fee: Mapping[str, str] | None = None) -> Route:
    return Route(src, dst, processing, confirmations, 12, {k: Decimal(v) for k, v in (fee or {}).items()})


_WITHDRAW_FEES = {"USDT": "1", "USDC": "1", "ETH": "0.0008", "WETH": "0.0008"}
DEFAULT_ROUTES: dict[str, Route] = {r.name: r for r in (
    _r("binance:spot", "ethereum:wallet", 600, 12, _WITHDRAW_FEES),
    _r("binance:futures", "ethereum:wallet", 600, 12, _WITHDRAW_FEES),
    _r("ethereum:wallet", "binance:spot", 60, 6),
    _r("ethereum:wallet", "binance:futures", 60, 6),
    _r("hyperliquid:perp-margin", "ethereum:wallet", 300, 0, {"USDC": "1"}),
    _r("ethereum:wallet", "hyperliquid:perp-margin", 180, 12),
    Route("hyperliquid:perp-margin", "binance:spot", 300, 12, 1, {"USDC": Decimal(1)}),
)}


def build_routes(overrides: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Route]:
    """The default routes updated by ``overrides`` (``"a:kind->b:kind": {processing_seconds, confirmations,
    block_seconds, fee: {asset: amount}, fee_rate}``); ConfigError names a bad entry."""
    routes = dict(DEFAULT_ROUTES)
    for name, spec in (overrides or {}).items():
        src, sep, dst = name.partition("->")
        if not sep or src.count(":") != 1 or dst.count(":") != 1:
            raise ConfigError(f"transit_routes.{name}: expected 'venue:kind->venue:kind'")
        unknown = set(spec) - {"processing_seconds", "confirmations", "block_seconds", "fee", "fee_rate"}
        if unknown:
            raise ConfigError(f"transit_routes.{name}: unknown {', '.join(sorted(unknown))}")
        try:
            base = routes.get(name, Route(src, dst))
            routes[name] = Route(src, dst, int(spec.get("processing_seconds", base.processing_seconds)),
                                 int(spec.get("confirmations", base.confirmations)),
                                 int(spec.get("block_seconds", base.block_seconds)),
                                 {k: Decimal(str(v)) for k, v in spec.get("fee", base.fee).items()},
                                 Decimal(str(spec.get("fee_rate", base.fee_rate))))
        except (ValueError, ArithmeticError, AttributeError) as e:
            raise ConfigError(f"transit_routes.{name}: {e}") from None
        r = routes[name]
        if r.processing_seconds < 0 or r.confirmations < 0 or r.block_seconds < 0 or r.fee_rate < 0 or \
                any(v < 0 for v in r.fee.values()):
            raise ConfigError(f"transit_routes.{name}: times and fees must not be negative")
    return routes


__all__ = ["DEFAULT_ROUTES", "Route", "build_routes"]
